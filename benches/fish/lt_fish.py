#!/usr/bin/python3
"""A libtorrent metadata peer set up the way torrent-fish (github.com/tweedge/torrent-fish,
torrent-fish.py) does it, for comparing `lowspace fish` against it.

usage: lt_fish.py --load-path DIR --port PORT [--save-path DIR] [--unpause]

What is kept from torrent-fish: its session settings (connections_limit 800,
announce_to_all_*, auto_manage_interval -1, auto_scrape_*, max_failcount 1,
aio_threads 8, checking_mem_usage 2048, upnp off), every .torrent under the
load path added with storage_mode_sparse, the upload_mode flag, its
`atp.auto_managed = False` line, and every piece priority set to 0; then a
loop that pops alerts every 0.1 s and prints them.

What differs, for a benchmark on loopback: it listens on 127.0.0.1:PORT (not
0.0.0.0), the DHT, LSD and NAT-PMP are off (no outside network here; the
torrents have no trackers either), and `allow_multiple_connections_per_ip`
is on, since all the benchmark's clients come from 127.0.0.1 (libtorrent
would otherwise refuse a second client of the same torrent).

On libtorrent 2.0 `atp.auto_managed = False` sets a Python attribute that
libtorrent never reads (add_torrent_params has `flags`), so torrent-fish's
torrents are added with libtorrent's default flags: paused and auto_managed.
The queue then starts only as many as `active_seeds` allows (default 5: a
torrent in upload mode wanting no piece counts as finished, a seed), and a
paused torrent refuses every incoming peer: with 1,000 torrents, 995 serve
no metadata at all. This script reproduces that faithfully and prints how
many torrents are paused; `--unpause` clears the paused and auto_managed
flags instead (what torrent-fish meant), which is the peer the benchmark
compares against.

torrent-fish leaves `listen_queue_size` at libtorrent's default of 5, so a
burst of clients connecting at once overflows the listen queue; the kernel
then drops their handshake ACKs and they wait for SYN-ACK retransmissions
(1, 3, 7, 15, 31 s). Kept as is: it is part of the setup being compared.

Prints "lt_fish: N torrents added (P paused, U upload_mode)" once all are in.
"""
import os
import sys
import time

import libtorrent as lt


def option(name, default=None):
    if name in sys.argv:
        i = sys.argv.index(name)
        if i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        raise SystemExit("lt_fish.py: %s needs a value" % name)
    if default is None:
        raise SystemExit(__doc__)
    return default


def torrent_files(directory):
    found = []
    for root, _dirs, files in os.walk(os.path.abspath(directory)):
        for name in files:
            if name.endswith(".torrent"):
                found.append(os.path.join(root, name))
    return sorted(found)


def add_torrent(ses, filename, save_path, unpause):
    atp = lt.add_torrent_params()
    info = lt.torrent_info(filename)
    atp.ti = info
    atp.save_path = save_path
    atp.storage_mode = lt.storage_mode_t.storage_mode_sparse
    atp.flags |= lt.torrent_flags.upload_mode
    atp.auto_managed = False  # torrent-fish's line; a no-op on libtorrent 2.0 (see above)
    if unpause:
        atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    handle = ses.add_torrent(atp)
    for i in range(info.num_pieces()):
        handle.piece_priority(i, 0)
    return handle


def main():
    load_path = option("--load-path")
    port = int(option("--port"))
    save_path = option("--save-path", "/nonexistent-lt-fish-save-path")
    unpause = "--unpause" in sys.argv
    settings = {
        "user_agent": "libtorrent/%s (https://torrent.fish/)" % lt.__version__,
        "listen_interfaces": "127.0.0.1:%d" % port,
        "download_rate_limit": -1,
        "upload_rate_limit": -1,
        "connections_limit": 800,
        "dht_bootstrap_nodes": "",
        "outgoing_interfaces": "",
        "announce_to_all_tiers": True,
        "announce_to_all_trackers": True,
        "auto_manage_interval": -1,
        "auto_scrape_interval": 1800,
        "auto_scrape_min_interval": 300,
        "max_failcount": 1,
        "aio_threads": 8,
        "checking_mem_usage": 2048,
        "enable_upnp": False,
        # loopback benchmark only:
        "enable_dht": False,
        "enable_lsd": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
    }
    ses = lt.session(settings)
    handles = [add_torrent(ses, f, save_path, unpause) for f in torrent_files(load_path)]
    time.sleep(1)  # let the session apply the flags before they are read back
    statuses = [h.status() for h in handles]
    paused = sum(1 for s in statuses if s.flags & lt.torrent_flags.paused)
    upload = sum(1 for s in statuses if s.flags & lt.torrent_flags.upload_mode)
    print("lt_fish: %d torrents added (%d paused, %d upload_mode)" % (len(handles), paused, upload), flush=True)
    while True:
        for a in ses.pop_alerts():
            print("[libtorrent] %s" % a, flush=True)
        time.sleep(0.1)


main()
