#!/usr/bin/python3
"""A libtorrent seeder for loopback swarms: seeds each TORRENT from its SAVE_PATH and dials the
leecher's port every second until connected (no tracker needed; see TESTBED.md).
usage: lt_seed.py LISTEN_PORT LEECHER_PORT TORRENT SAVE_PATH [TORRENT SAVE_PATH ...]"""
import sys, time
import libtorrent as lt
port, leecher = sys.argv[1], int(sys.argv[2])
pairs = list(zip(sys.argv[3::2], sys.argv[4::2]))
ses = lt.session({"listen_interfaces": "127.0.0.1:%s" % port, "enable_dht": False, "enable_upnp": False,
                  "enable_natpmp": False, "enable_lsd": False, "allow_multiple_connections_per_ip": True,
                  "enable_outgoing_utp": False, "enable_incoming_utp": False,
                  "active_seeds": -1, "active_limit": -1, "active_downloads": -1,
                  "max_failcount": 100000, "min_reconnect_time": 1})
handles = []
for torrent, save_path in pairs:
    atp = lt.add_torrent_params(); atp.ti = lt.torrent_info(torrent); atp.save_path = save_path
    handles.append(ses.add_torrent(atp))
while True:
    time.sleep(1)
    for h in handles:
        if any(pi.ip[1] == leecher for pi in h.get_peer_info()):
            continue  # a second dial would only disturb the first
        try:
            h.connect_peer(("127.0.0.1", leecher), 0, 0)  # flags 0: not marked as a seed
        except Exception:
            pass
