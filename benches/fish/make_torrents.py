#!/usr/bin/python3
"""Writes N synthetic single-file .torrent files into DIR, for measuring metadata peers at scale.

usage: make_torrents.py DIR N [--size tiny|20k|mixed] [--announce URL]

  tiny   one piece: about 100 bytes of metadata (the info dictionary) per torrent
  20k    1,000 pieces: about 20 KB of metadata per torrent (two BEP 9 pieces of 16 KiB)
  mixed  200 to 2,160 pieces: 4 to 44 KB of metadata (the default)

The torrents have no tracker (no "announce") unless --announce gives one, so a peer with
the DHT off has nothing to do while idle: what is measured is the cost of holding them,
not of announcing them.
Piece hashes are random, so every info-hash differs.
"""
import os
import sys


def bencode(x):
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    if isinstance(x, str):
        return bencode(x.encode())
    if isinstance(x, list):
        return b"l" + b"".join(bencode(i) for i in x) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(x[k]) for k in sorted(x)) + b"e"


def pieces_for(size, index):
    if size == "tiny":
        return 1
    if size == "20k":
        return 1000
    if size == "mixed":
        return 200 + (index % 50) * 40
    raise SystemExit("make_torrents.py: --size must be tiny, 20k or mixed, not %r" % size)


def main(argv):
    announce = None
    if "--announce" in argv:
        i = argv.index("--announce")
        if i + 1 >= len(argv):
            raise SystemExit(__doc__)
        announce = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    args = [a for a in argv if not a.startswith("--size")]
    size = "mixed"
    for i, a in enumerate(argv):
        if a == "--size" and i + 1 < len(argv):
            size = argv[i + 1]
            args.remove(size)
        elif a.startswith("--size="):
            size = a.split("=", 1)[1]
    if len(args) != 2:
        raise SystemExit(__doc__)
    out, count = args[0], int(args[1])
    os.makedirs(out, exist_ok=True)
    for i in range(count):
        n = pieces_for(size, i)
        piece_length = 32768
        info = {
            "name": "fish-bench-%05d.bin" % i,
            "piece length": piece_length,
            "length": n * piece_length - i % piece_length,
            "pieces": os.urandom(20 * n),
        }
        torrent = {"created by": "lowspace benches/fish", "info": info}
        if announce:
            torrent["announce"] = announce
        with open(os.path.join(out, "t%05d.torrent" % i), "wb") as f:
            f.write(bencode(torrent))


if __name__ == "__main__":
    main(sys.argv[1:])
