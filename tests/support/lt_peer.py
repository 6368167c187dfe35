#!/usr/bin/python3
"""A libtorrent peer for loopback swarms in lowspace's tests and demo.

Seeds (or, with --leech, downloads) the torrents given, and every second
dials the listen ports given with --dial for each torrent that has no peer
yet. Dialling ourselves is what makes a loopback swarm reliable: with both
sides on 127.0.0.1, tracker-introduced peers dial each other at once and
drop the pair as duplicates, and rtorrent hangs up on peers of a torrent it
is still setting up (see TESTBED.md).

usage: lt_peer.py --port PORT --data DIR [--dial P1,P2] [--leech] TORRENT...

Runs until killed (SIGTERM). Needs /usr/bin/python3 with python3-libtorrent.
"""
import argparse
import signal
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--dial", default="")
    ap.add_argument("--leech", action="store_true",
                    help="download into --data instead of seeding from it")
    ap.add_argument("torrents", nargs="+")
    args = ap.parse_args()
    dial = [int(p) for p in args.dial.split(",") if p]

    settings = {
        "listen_interfaces": "127.0.0.1:%d" % args.port,
        "enable_dht": False, "enable_upnp": False, "enable_natpmp": False, "enable_lsd": False,
        # Every peer is 127.0.0.1; without this they collapse into one.
        "allow_multiple_connections_per_ip": True,
        # rtorrent has no uTP.
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        # Otherwise only a handful of torrents are active at once.
        "active_seeds": -1, "active_limit": -1, "active_downloads": -1,
        # Keep re-dialling a peer that hung up while it set the torrent up.
        "max_failcount": 100000, "min_reconnect_time": 1,
    }
    session = lt.session(settings)
    handles = []
    for path in args.torrents:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(path)
        params.save_path = args.data
        if not args.leech:
            # The data is there: skip straight to seeding after the check.
            params.flags |= lt.torrent_flags.seed_mode
        handles.append(session.add_torrent(params))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    while True:
        time.sleep(1)
        for handle in handles:
            if handle.get_peer_info():
                continue  # a second dial would disturb the connection it has
            for port in dial:
                try:
                    # Flags 0: not marked as a seed (a seed never dials a seed).
                    handle.connect_peer(("127.0.0.1", port), 0, 0)
                except Exception:  # noqa: BLE001 - a refused dial is retried next second
                    pass


if __name__ == "__main__":
    main()
