#!/usr/bin/python3
"""Concurrent BEP 9 metadata fetches against a metadata peer on 127.0.0.1:PORT.

usage: clients.py --port PORT --load-path DIR [--clients 100] [--timeout 30]

Each client is one raw TCP connection that does what a client holding only a
magnet link does: BitTorrent handshake with the extension bit (BEP 10), its
extension handshake, waits for the peer's extension handshake to learn the
peer's ut_metadata id and metadata_size, requests every 16 KiB piece (BEP 9),
and checks the SHA-1 of the assembled info dictionary against the info-hash
(computed here from the .torrent file). A client counts as ok only when the
hash matches. Client k asks for torrent k * N / CLIENTS of the N torrents
under DIR (sorted), so 100 clients spread over 1,000 torrents, and share
torrents when there are fewer than 100.

Prints one JSON line: clients, ok, wall_seconds, failures {reason: count}.
"""
import glob
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time

OUR_UT_METADATA = 3
BLOCK = 16384


def option(name, default=None):
    if name in sys.argv:
        i = sys.argv.index(name)
        if i + 1 < len(sys.argv):
            return sys.argv[i + 1]
    if default is None:
        raise SystemExit(__doc__)
    return default


# --- a small bencode reader: values, and the raw span of the top-level "info" value


def decode(data, i=0):
    """Returns (value, end index). Strings stay bytes."""
    c = data[i : i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1 : end]), end + 1
    if c == b"l":
        i += 1
        out = []
        while data[i : i + 1] != b"e":
            v, i = decode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while data[i : i + 1] != b"e":
            k, i = decode(data, i)
            v, i = decode(data, i)
            out[k] = v
        return out, i + 1
    if c.isdigit():
        colon = data.index(b":", i)
        n = int(data[i:colon])
        return data[colon + 1 : colon + 1 + n], colon + 1 + n
    raise ValueError("bad bencode at %d" % i)


def info_bytes(torrent):
    """The exact bytes of the "info" value of a .torrent file."""
    if torrent[:1] != b"d":
        raise ValueError("not a dictionary")
    i = 1
    while torrent[i : i + 1] != b"e":
        key, i = decode(torrent, i)
        _, end = decode(torrent, i)
        if key == b"info":
            return torrent[i:end]
        i = end
    raise ValueError("no info")


# --- one client


class Failure(Exception):
    pass


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise Failure("peer closed the connection")
        buf += chunk
    return buf


def read_message(sock):
    (length,) = struct.unpack(">I", read_exact(sock, 4))
    if length > 1 << 20:
        raise Failure("message too long")
    return read_exact(sock, length)


def send_extended(sock, ext_id, payload):
    sock.sendall(struct.pack(">IBB", len(payload) + 2, 20, ext_id) + payload)


def fetch(port, info, index, timeout):
    info_hash = hashlib.sha1(info).digest()
    deadline = time.time() + timeout
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.settimeout(timeout)
        reserved = bytes([0, 0, 0, 0, 0, 0x10, 0, 0])
        peer_id = b"-PY0001-%012d" % index
        sock.sendall(b"\x13BitTorrent protocol" + reserved + info_hash + peer_id)
        stage = "handshake"
        try:
            hs = read_exact(sock, 68)
        except socket.timeout:
            raise Failure("timed out waiting for the handshake")
        if hs[:20] != b"\x13BitTorrent protocol":
            raise Failure("not a BitTorrent handshake")
        if not hs[25] & 0x10:
            raise Failure("peer has no extension protocol")
        if hs[28:48] != info_hash:
            raise Failure("handshake for another info-hash")
        send_extended(sock, 0, b"d1:md11:ut_metadatai%dee1:v14:lowspace-benche" % OUR_UT_METADATA)
        their_id = None
        size = None
        pieces = {}
        requested = False
        stage = "extension handshake"
        while True:
            if time.time() > deadline:
                raise Failure("timed out waiting for the " + stage)
            try:
                msg = read_message(sock)
            except socket.timeout:
                raise Failure("timed out waiting for the " + stage)
            if len(msg) < 2 or msg[0] != 20:
                continue  # keep-alive, bitfield, have, unchoke...
            ext, body = msg[1], msg[2:]
            if ext == 0:
                hand, _ = decode(body)
                their_id = hand.get(b"m", {}).get(b"ut_metadata")
                size = hand.get(b"metadata_size")
                if not their_id:
                    raise Failure("peer offers no ut_metadata")
                if not isinstance(size, int) or size <= 0:
                    raise Failure("peer gives no metadata_size")
                if size != len(info):
                    raise Failure("wrong metadata_size")
                if not requested:
                    requested = True
                    stage = "metadata pieces"
                    for p in range((size + BLOCK - 1) // BLOCK):
                        send_extended(sock, their_id, b"d8:msg_typei0e5:piecei%dee" % p)
            elif ext == OUR_UT_METADATA:
                head, end = decode(body)
                kind = head.get(b"msg_type")
                if kind == 2:
                    raise Failure("peer rejected the request")
                if kind != 1:
                    continue
                pieces[head.get(b"piece")] = body[end:]
                if size and len(pieces) == (size + BLOCK - 1) // BLOCK:
                    data = b"".join(pieces.get(p, b"") for p in range(len(pieces)))
                    if hashlib.sha1(data).digest() != info_hash:
                        raise Failure("SHA-1 mismatch")
                    return
    finally:
        sock.close()


def main():
    port = int(option("--port"))
    load = option("--load-path")
    count = int(option("--clients", "100"))
    timeout = float(option("--timeout", "30"))
    files = sorted(glob.glob(os.path.join(load, "**", "*.torrent"), recursive=True))
    if not files:
        raise SystemExit("clients.py: no .torrent under %s" % load)
    chosen = [files[k * len(files) // count] for k in range(count)]
    infos = {}
    for path in set(chosen):
        with open(path, "rb") as f:
            infos[path] = info_bytes(f.read())
    results = [None] * count
    gate = threading.Barrier(count)

    def client(k):
        try:
            gate.wait(timeout)
        except threading.BrokenBarrierError:
            pass
        try:
            fetch(port, infos[chosen[k]], k, timeout)
            results[k] = "ok"
        except Failure as e:
            results[k] = str(e)
        except (OSError, ValueError, KeyError, TypeError) as e:
            results[k] = type(e).__name__ + ": " + str(e).split(":")[0]

    threads = [threading.Thread(target=client, args=(k,)) for k in range(count)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 10)
    wall = time.time() - start
    failures = {}
    for r in results:
        if r != "ok":
            failures[r or "no answer"] = failures.get(r or "no answer", 0) + 1
    print(json.dumps({"clients": count, "ok": results.count("ok"), "wall_seconds": round(wall, 2), "failures": failures}))


if __name__ == "__main__":
    main()
