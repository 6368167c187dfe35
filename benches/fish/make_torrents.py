#!/usr/bin/python3
"""Writes N synthetic single-file .torrent files (4 to 44 KB of metadata each) into DIR,
for measuring `lowspace fish` at scale: make_torrents.py DIR N"""
import os, sys
def b(x):
    if isinstance(x, int): return b"i%de" % x
    if isinstance(x, bytes): return b"%d:%s" % (len(x), x)
    if isinstance(x, str): return b(x.encode())
    if isinstance(x, list): return b"l" + b"".join(b(i) for i in x) + b"e"
    return b"d" + b"".join(b(k) + b(x[k]) for k in sorted(x)) + b"e"
out, count = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
for i in range(count):
    n = 200 + (i % 50) * 40
    info = {"name": "f%04d.bin" % i, "piece length": 32768, "length": n * 32768, "pieces": os.urandom(20 * n)}
    open(os.path.join(out, "t%04d.torrent" % i), "wb").write(b({"announce": "udp://127.0.0.1:9/announce", "info": info}))
