#!/usr/bin/python3
"""Writes N small .torrent files for the fish scale bench, cheaply (100,000 in seconds).

usage: make_scale.py DIR N [--tracker URL ...] [--whitelist FILE]

Files go 1,000 to a subdirectory (DIR/0000/, DIR/0001/, ...), named like an
archive's ("item-000123 some title.torrent"). Each is a single-file torrent with
one random piece hash (so every info-hash differs) and about 100 bytes of info
dictionary: what fish holds per torrent does not depend on the metadata size
(it is read from the file on request), so tiny files measure the holding cost
without writing gigabytes. Every torrent has the same announce-list (one tier per
--tracker), as an archive's torrents mostly do. --whitelist writes the upper-case
hex info-hashes, one a line, for Debian's opentracker (whitelist mode).
"""
import hashlib
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


def main(argv):
    trackers, whitelist, rest = [], None, []
    i = 0
    while i < len(argv):
        if argv[i] == "--tracker" and i + 1 < len(argv):
            trackers.append(argv[i + 1])
            i += 2
        elif argv[i] == "--whitelist" and i + 1 < len(argv):
            whitelist = argv[i + 1]
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    if len(rest) != 2:
        raise SystemExit(__doc__)
    out, count = rest[0], int(rest[1])
    hashes = []
    for n in range(count):
        sub = os.path.join(out, "%04d" % (n // 1000))
        if n % 1000 == 0:
            os.makedirs(sub, exist_ok=True)
        name = "item-%06d some archived title.bin" % n
        info = {
            "length": 1000 + n % 15000,
            "name": name,
            "piece length": 16384,
            "pieces": os.urandom(20),
        }
        meta = {"info": info}
        if trackers:
            meta["announce"] = trackers[0]
            meta["announce-list"] = [[t] for t in trackers]
        info_bytes = bencode(info)
        hashes.append(hashlib.sha1(info_bytes).hexdigest().upper())
        with open(os.path.join(sub, "item-%06d some archived title.torrent" % n), "wb") as f:
            f.write(bencode(meta))
    if whitelist:
        with open(whitelist, "w") as f:
            f.write("".join(h + "\n" for h in hashes))
        os.chmod(whitelist, 0o644)


if __name__ == "__main__":
    main(sys.argv[1:])
