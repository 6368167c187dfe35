#!/usr/bin/python3
"""A libtorrent client that starts from a magnet link only, for the metadata peer's tests.
usage: lt_client.py CONFIG_JSON   (keys: magnet, listen_port, listen_ip (default 127.0.0.1;
"::1" for IPv6), connect [ports], dht_bootstrap "host:port" or null, timeout seconds,
torrent_out path or null, info_out path or null (the info dictionary's bytes as received),
save_path)
Prints one JSON line: has_metadata, info_hash, name, recv_payload_bytes, num_pieces, seconds,
peers (the "ip:port" of each peer connected when the metadata arrived)."""
import json, sys, time
import libtorrent as lt
cfg = json.loads(sys.argv[1])
dht = cfg.get("dht_bootstrap")
ip = cfg.get("listen_ip") or "127.0.0.1"
listen = ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, cfg["listen_port"])
settings = {"listen_interfaces": listen,
            "enable_dht": bool(dht), "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
            "allow_multiple_connections_per_ip": True,
            "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
            "dht_block_ratelimit": 1000, "dht_bootstrap_nodes": dht or "",
            "enable_outgoing_utp": False, "enable_incoming_utp": False,
            "alert_mask": lt.alert.category_t.stats_notification | lt.alert.category_t.status_notification}
ses = lt.session(settings)
atp = lt.parse_magnet_uri(cfg["magnet"])
atp.save_path = cfg["save_path"]
h = ses.add_torrent(atp)
start = time.time()
deadline = start + cfg.get("timeout", 60)
last_dial = 0
last_dht = 0
while time.time() < deadline and not h.status().has_metadata:
    # libtorrent announces a new torrent on the DHT once, maybe before its
    # DHT has bootstrapped, and then only every 15 minutes: ask again.
    if dht and time.time() - last_dht > 5:
        last_dht = time.time()
        h.force_dht_announce()
    if time.time() - last_dial > 1:
        last_dial = time.time()
        for p in cfg.get("connect", []):
            try:
                h.connect_peer((ip, p), 0, 0)
            except Exception:
                pass
    time.sleep(0.05)
has = h.status().has_metadata
# Taken at once: the peer that gave the metadata may hang up soon after.
peers = [("[%s]:%d" if ":" in p.ip[0] else "%s:%d") % (p.ip[0], p.ip[1]) for p in h.get_peer_info()]
seconds = time.time() - start
out = {"has_metadata": has, "seconds": seconds, "info_hash": str(h.info_hash()), "name": "", "num_pieces": 0,
       "peers": peers}
if has:
    ti = h.torrent_file()
    out["name"] = ti.name()
    out["num_pieces"] = ti.num_pieces()
    if cfg.get("torrent_out"):
        ct = lt.create_torrent(ti)
        with open(cfg["torrent_out"], "wb") as f:
            f.write(lt.bencode(ct.generate()))
    if cfg.get("info_out"):
        with open(cfg["info_out"], "wb") as f:
            f.write(ti.info_section())
    time.sleep(cfg.get("linger", 2))
idx = lt.find_metric_idx("net.recv_payload_bytes")
ses.post_session_stats()
payload = None
t_end = time.time() + 10
while payload is None and time.time() < t_end:
    for a in ses.pop_alerts():
        if isinstance(a, lt.session_stats_alert):
            v = a.values
            payload = v["net.recv_payload_bytes"] if isinstance(v, dict) else v[idx]
    time.sleep(0.05)
out["recv_payload_bytes"] = payload
print(json.dumps(out))
