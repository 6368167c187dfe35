//! `lowspace fish`: the metadata-only BitTorrent peer (see `crate::fish`).
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use argh::FromArgs;

use super::{CliError, Context};
use crate::fish::dht::{DhtDiscovery, DhtOptions, DEFAULT_BOOTSTRAP, DEFAULT_REANNOUNCE};
use crate::fish::dial::OwnAddresses;
use crate::fish::discovery::Discovery;
use crate::fish::server::{Server, ServerOptions};
use crate::fish::sys;
use crate::fish::tracker::{Identity, TrackerDiscovery};
use crate::fish::wire::SessionConfig;

#[derive(FromArgs)]
/// keep torrents resolvable: serve the metadata (BEP 9) of every .torrent
/// under a directory to peers that only have a magnet link, never any data
#[argh(
    subcommand,
    name = "fish",
    example = "Serve every torrent under /srv/torrents on port 6881:\n  $ {command_name} --load-path /srv/torrents",
    example = "On one interface, with fewer connections, no DHT, state in /var/lib/lowspace:\n  $ {command_name} --load-path /srv/torrents --listen-interface 192.168.1.5 --connections-limit 200 --no-dht --state-dir /var/lib/lowspace",
    example = "With the DHT (UDP, same address and port; id and nodes kept in STATE_DIR/dht.json) joined through one node of yours:\n  $ {command_name} --load-path /srv/torrents --dht-bootstrap dht.example.net:6881",
    note = "Runs until SIGINT or SIGTERM, then tells the trackers it leaves (event=stopped). \
The load path is scanned again every --rescan-interval: new .torrent files join their swarms, removed ones leave. \
A corrupt .torrent is a warning, not a stop. Every --report-interval a line \"fish: N swarms, ...\" is printed \
and STATE_DIR/fish.json is rewritten. Exit codes: 0 stopped by a signal, 1 failure, 2 usage error."
)]
pub struct FishArgs {
    /// directory holding the .torrent files to serve (searched recursively)
    #[argh(option)]
    pub load_path: PathBuf,

    /// TCP port peers connect to (default 6881)
    #[argh(option, default = "6881")]
    pub port: u16,

    /// address to listen on (default: all, 0.0.0.0)
    #[argh(option)]
    pub listen_interface: Option<IpAddr>,

    /// address to send from (UDP trackers; the DHT uses the listen address, TCP dials the system's choice)
    #[argh(option)]
    pub outgoing_interface: Option<IpAddr>,

    /// most peer connections at once (default 800)
    #[argh(option, default = "800")]
    pub connections_limit: usize,

    /// DHT bootstrap nodes, host:port separated by commas (default: router.bittorrent.com:6881,
    /// router.utorrent.com:6881, dht.transmissionbt.com:6881, dht.libtorrent.org:25401)
    #[argh(option)]
    pub dht_bootstrap: Option<String>,

    /// do not run a DHT node (find peers through trackers only)
    #[argh(switch)]
    pub no_dht: bool,

    /// directory for fish.json (status) and dht.json (DHT node id and nodes)
    /// (default: $XDG_STATE_HOME/lowspace, else ~/.local/state/lowspace)
    #[argh(option)]
    pub state_dir: Option<PathBuf>,

    /// how often the load path is scanned again (default 5m)
    #[argh(option, default = "String::from(\"5m\")")]
    pub rescan_interval: String,

    /// how often the status line is printed and fish.json written (default 5m)
    #[argh(option, default = "String::from(\"5m\")")]
    pub report_interval: String,
}

impl FishArgs {
    pub fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        let rescan_interval = interval("--rescan-interval", &self.rescan_interval)?;
        let report_interval = interval("--report-interval", &self.report_interval)?;
        if !self.load_path.is_dir() {
            return Err(CliError::usage(format!(
                "--load-path {}: not a directory",
                self.load_path.display()
            )));
        }
        if self.connections_limit == 0 {
            return Err(CliError::usage("--connections-limit must be at least 1"));
        }
        let state_dir = self
            .state_dir
            .clone()
            .or_else(|| default_state_dir(ctx))
            .ok_or_else(|| CliError::usage("--state-dir is needed: HOME is not set"))?;
        std::fs::create_dir_all(&state_dir).map_err(|e| {
            CliError::failure(format!(
                "cannot create state directory {}: {e}",
                state_dir.display()
            ))
        })?;

        let listen_ip = self
            .listen_interface
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let listen = SocketAddr::new(listen_ip, self.port);
        let listener = TcpListener::bind(listen)
            .map_err(|e| CliError::failure(format!("cannot listen on {listen}: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| CliError::failure(format!("cannot read the listen address: {e}")))?
            .port();
        if self.outgoing_interface.is_some() {
            log::info!("--outgoing-interface applies to UDP trackers; the DHT uses the listen address, TCP dials the system's route");
        }
        let mut own = OwnAddresses {
            port,
            ips: Vec::new(),
        };
        if !listen_ip.is_unspecified() {
            own.learn(listen_ip);
        }
        let session = SessionConfig {
            peer_id: peer_id(),
            listen_port: port,
            // The DHT's UDP socket shares the TCP port.
            dht_port: (!self.no_dht).then_some(port),
        };
        let dht = if self.no_dht {
            None
        } else {
            Some(DhtOptions {
                bind: SocketAddr::new(listen_ip, port),
                bootstrap: dht_bootstrap(self.dht_bootstrap.as_deref())?,
                state_dir: state_dir.clone(),
                own: own.clone(),
                reannounce: DEFAULT_REANNOUNCE,
            })
        };
        let options = ServerOptions {
            load_path: self.load_path.clone(),
            connections_limit: self.connections_limit,
            rescan_interval,
            report_interval,
            state_file: Some(state_dir.join("fish.json")),
            session,
            own,
        };
        let mut discovery: Vec<Box<dyn Discovery>> = Vec::new();
        if let Some(dht) = dht {
            let bind = dht.bind;
            let node = DhtDiscovery::start(dht).map_err(|e| {
                CliError::failure(format!("cannot start the DHT node on UDP {bind}: {e}"))
            })?;
            discovery.push(Box::new(node));
        }
        let trackers = TrackerDiscovery::start(Identity {
            peer_id: session.peer_id,
            port,
            key: u32::from_be_bytes([
                session.peer_id[8],
                session.peer_id[9],
                session.peer_id[10],
                session.peer_id[11],
            ]),
            bind: self.outgoing_interface,
        })
        .map_err(|e| CliError::failure(format!("cannot start the tracker thread: {e}")))?;
        discovery.push(Box::new(trackers));
        let server = Server::new(options, listener, discovery)
            .map_err(|e| CliError::failure(format!("cannot start: {e}")))?;
        sys::catch_stop_signals();
        log::info!(
            "metadata peer listening on {listen_ip}:{port}, serving torrents under {}",
            self.load_path.display()
        );
        let mut out = ctx.out();
        server.run(&sys::stop_requested, &mut |line| {
            log::info!("{line}");
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        });
        Ok(())
    }
}

fn interval(flag: &str, text: &str) -> Result<Duration, CliError> {
    let d =
        crate::size::parse_duration(text).map_err(|e| CliError::usage(format!("{flag}: {e}")))?;
    if d.is_zero() {
        return Err(CliError::usage(format!("{flag}: must be more than zero")));
    }
    Ok(d)
}

/// `--dht-bootstrap` as a list of host:port (the public routers when
/// not given); a name that does not resolve is a warning later, not here.
fn dht_bootstrap(flag: Option<&str>) -> Result<Vec<String>, CliError> {
    let Some(text) = flag else {
        return Ok(DEFAULT_BOOTSTRAP.iter().map(|s| s.to_string()).collect());
    };
    let mut nodes = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let port_ok = item.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !port_ok {
            return Err(CliError::usage(format!(
                "--dht-bootstrap: {item:?} is not host:port"
            )));
        }
        nodes.push(item.to_string());
    }
    Ok(nodes)
}

fn default_state_dir(ctx: &Context) -> Option<PathBuf> {
    if let Some(xdg) = ctx.env.var("XDG_STATE_HOME") {
        return Some(Path::new(xdg).join("lowspace"));
    }
    ctx.env
        .var("HOME")
        .map(|home| Path::new(home).join(".local/state/lowspace"))
}

/// Azureus-style peer id: `-LS0100-` and 12 bytes that differ per run
/// (time and PID through SHA-1: unique enough, no randomness crate).
fn peer_id() -> [u8; 20] {
    use sha1::{Digest, Sha1};
    let mut hasher = Sha1::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hasher.update(now.to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    let digest: [u8; 20] = hasher.finalize().into();
    let mut id = *b"-LS0100-000000000000";
    for (slot, byte) in id.iter_mut().skip(8).zip(digest) {
        // Printable, as many trackers log peer ids.
        *slot = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
            [usize::from(byte) % 62];
    }
    id
}
