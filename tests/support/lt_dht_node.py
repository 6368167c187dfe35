#!/usr/bin/python3
"""A bare libtorrent DHT node (no torrents) on 127.0.0.1 (or --ip ::1), for the DHT tests.

usage: lt_dht_node.py --port PORT --status FILE --save DIR [--ip IP] [--bootstrap HOST:PORT,...]
                      [--announce HASH ...] [--get-peers HASH ...] [--torrent FILE ...]

Every half second it rewrites FILE (JSON) with what it sees:
  node_id:   its own node id (hex)
  live_nodes: its routing table, [{"id": hex, "addr": "ip:port"}]
  announces:  announce_peer queries it accepted, [{"info_hash", "addr"}]
  peers:      {hash: ["ip:port", ...]} found by its own get_peers lookups
  dht_replies: DHT announces of its torrents that found peers (dht_reply_alert)
--announce HASH adds the magnet of HASH (which no one can complete) so
libtorrent announces it on the DHT at this node's port (session.dht_announce
cannot be called from the 2.0 Python binding: its flags type is not
exposed); --torrent FILE adds a whole .torrent (no data) that it announces
and whose metadata it serves; every 3 seconds the announce is forced again and dht_get_peers
runs for each --get-peers. Runs until SIGTERM. Settings for a loopback DHT are
the ones TESTBED.md lists. Needs /usr/bin/python3 with python3-libtorrent.
"""
import argparse
import json
import os
import signal
import sys
import time

import libtorrent as lt


def addr_text(ip, port):
    """ip:port, IPv6 in brackets (as Rust prints a SocketAddr)."""
    return ("[%s]:%d" if ":" in str(ip) else "%s:%d") % (ip, port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--status", required=True)
    ap.add_argument("--save", required=True)
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--bootstrap", default="")
    ap.add_argument("--announce", action="append", default=[])
    ap.add_argument("--get-peers", action="append", default=[])
    ap.add_argument("--torrent", action="append", default=[])
    args = ap.parse_args()

    session = lt.session({
        # An explicit 127.0.0.1:PORT, or the DHT never starts on it.
        "listen_interfaces": ("[%s]:%d" if ":" in args.ip else "%s:%d") % (args.ip, args.port),
        "enable_dht": True, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        # Every node is 127.0.0.1: without these a second one is refused or banned.
        "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
        "dht_block_ratelimit": 1000,
        "dht_bootstrap_nodes": args.bootstrap,
        "alert_mask": lt.alert.category_t.all_categories,
    })
    handles = []
    for h in args.announce:
        atp = lt.parse_magnet_uri("magnet:?xt=urn:btih:" + h)
        atp.save_path = args.save
        handles.append(session.add_torrent(atp))
    for path in args.torrent:
        # A whole .torrent without its data: it announces on the DHT and
        # serves the metadata (BEP 9), like a seeder that still has it.
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(path)
        atp.save_path = args.save
        atp.flags = (atp.flags & ~lt.torrent_flags.paused & ~lt.torrent_flags.auto_managed) \
            | lt.torrent_flags.upload_mode
        handles.append(session.add_torrent(atp))
    node_id = None
    live = []
    announces = []
    peers = {}
    replies = 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    last_query = 0.0
    while True:
        if node_id is None:
            ids = session.save_state().get(b"dht state", {}).get(b"node-id", [])
            if ids:
                node_id = lt.sha1_hash(ids[0][:20])
        if node_id is not None:
            session.dht_live_nodes(node_id)
        if time.time() - last_query > 3:
            last_query = time.time()
            for handle in handles:
                handle.force_dht_announce()
            for h in args.get_peers:
                session.dht_get_peers(lt.sha1_hash(bytes.fromhex(h)))
        time.sleep(0.5)
        for a in session.pop_alerts():
            if isinstance(a, lt.dht_live_nodes_alert):
                live = [{"id": str(n["nid"]), "addr": addr_text(*n["endpoint"])}
                        for n in a.nodes]
            elif isinstance(a, lt.dht_announce_alert):
                seen = {"info_hash": str(a.info_hash), "addr": addr_text(a.ip, a.port)}
                if seen not in announces:
                    announces.append(seen)
            elif isinstance(a, lt.dht_reply_alert):
                replies += 1
            elif isinstance(a, lt.dht_get_peers_reply_alert):
                found = peers.setdefault(str(a.info_hash), [])
                for ip, port in a.peers():
                    addr = addr_text(ip, port)
                    if addr not in found:
                        found.append(addr)
        status = {"node_id": str(node_id) if node_id is not None else None,
                  "live_nodes": live, "announces": announces, "peers": peers,
                  "dht_replies": replies}
        tmp = args.status + ".tmp"
        with open(tmp, "w") as f:
            json.dump(status, f)
        os.replace(tmp, args.status)


if __name__ == "__main__":
    main()
