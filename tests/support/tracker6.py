#!/usr/bin/python3
"""A small IPv6-only BitTorrent tracker for tests: Debian's opentracker is
built IPv4-only ("V4 Tracker is V4 only!" when given -i ::1).

usage: tracker6.py PORT LOG

Listens on [::1]:PORT for HTTP (GET /announce: answers compact `peers6`,
BEP 7) and UDP (BEP 15 connect and announce, the IPv6 reply with 18-byte
peers). Every announce is kept (the sender's address, the port it gave) and
written to LOG as one JSON line: {"proto", "info_hash" (hex), "ip", "port",
"event"}. Peers handed out: every other peer of that info-hash.
"""
import json
import os
import socket
import struct
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
LOG = sys.argv[2]
LOCK = threading.Lock()
PEERS = {}  # info_hash bytes -> {(ip, port)}
EVENTS = {0: "none", 1: "completed", 2: "started", 3: "stopped"}


def record(proto, info_hash, ip, port, event):
    with LOCK:
        peers = PEERS.setdefault(info_hash, set())
        others = [p for p in peers if p != (ip, port)]
        if event == "stopped":
            peers.discard((ip, port))
        else:
            peers.add((ip, port))
        with open(LOG, "a") as f:
            f.write(json.dumps({"proto": proto, "info_hash": info_hash.hex(), "ip": ip,
                                "port": port, "event": event}) + "\n")
    return b"".join(socket.inet_pton(socket.AF_INET6, ip) + struct.pack(">H", p) for ip, p in others)


def bencode(x):
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    return b"d" + b"".join(bencode(k) + bencode(x[k]) for k in sorted(x)) + b"e"


class Http(BaseHTTPRequestHandler):
    def do_GET(self):
        query = urllib.parse.urlparse(self.path).query
        fields = urllib.parse.parse_qs(query, encoding="latin-1")
        info_hash = fields["info_hash"][0].encode("latin-1")
        peers6 = record("http", info_hash, self.client_address[0], int(fields["port"][0]),
                        fields.get("event", ["none"])[0])
        body = bencode({b"interval": 1800, b"peers": b"", b"peers6": peers6})
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def udp():
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.bind(("::1", PORT))
    connection_id = struct.unpack(">Q", os.urandom(8))[0]
    while True:
        packet, addr = sock.recvfrom(2048)
        if len(packet) == 16 and packet[:8] == struct.pack(">Q", 0x41727101980):
            transaction = packet[12:16]
            sock.sendto(struct.pack(">I", 0) + transaction + struct.pack(">Q", connection_id), addr)
        elif len(packet) >= 98 and struct.unpack(">Q", packet[:8])[0] == connection_id:
            transaction = packet[12:16]
            info_hash = packet[16:36]
            event = struct.unpack(">I", packet[80:84])[0]
            port = struct.unpack(">H", packet[96:98])[0]
            peers = record("udp", info_hash, addr[0], port, EVENTS.get(event, str(event)))
            sock.sendto(struct.pack(">I", 1) + transaction + struct.pack(">III", 1800, 0, 1) + peers, addr)
        elif len(packet) >= 16:
            sock.sendto(struct.pack(">I", 3) + packet[12:16] + b"unknown connection id", addr)


threading.Thread(target=udp, daemon=True).start()
Server6(("::1", PORT), Http).serve_forever()
