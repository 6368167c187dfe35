//! `lowspace fish`: the metadata-only BitTorrent peer (see `crate::fish`).
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use argh::FromArgs;

use super::{CliError, Context};
use crate::config::{looks_like_host_port, FishSettings};
use crate::fish::dht::rate::{MAX_RATE, MIN_RATE};
use crate::fish::dht::{
    DhtDiscovery, DhtOptions, DEFAULT_BOOTSTRAP, DEFAULT_RATE, DEFAULT_REANNOUNCE,
};
use crate::fish::dial::OwnAddresses;
use crate::fish::discovery::Discovery;
use crate::fish::server::{Server, ServerOptions};
use crate::fish::tracker::{Identity, TrackerDiscovery};
use crate::fish::wire::SessionConfig;
use crate::sys;

#[derive(FromArgs)]
/// keep torrents resolvable: serve the metadata (BEP 9) of every .torrent
/// under a directory to peers that only have a magnet link, never any data
#[argh(
    subcommand,
    name = "fish",
    example = "Serve every torrent under /srv/torrents on port 6881:\n  $ {command_name} --load-path /srv/torrents",
    example = "Also adopt the magnets listed in magnets.txt (one link per line): fetch each torrent's metadata from its swarm, write the .torrent under /srv/torrents and serve it:\n  $ {command_name} --load-path /srv/torrents --magnets magnets.txt",
    example = "On one interface, with fewer connections, no DHT, state in /var/lib/lowspace:\n  $ {command_name} --load-path /srv/torrents --listen-interface 192.168.1.5 --connections-limit 200 --no-dht --state-dir /var/lib/lowspace",
    example = "Every setting from [fish] in the config file (load_path, port, listen_interface, dht, dht_bootstrap, state_dir, ...; options given here win):\n  $ {command_name}",
    example = "With the DHT (UDP, same address and port; id and nodes kept in STATE_DIR/dht.json) joined through one node of yours:\n  $ {command_name} --load-path /srv/torrents --dht-bootstrap dht.example.net:6881",
    note = "Runs until SIGINT or SIGTERM, then tells the trackers it leaves (event=stopped). \
The load path is scanned again every --rescan-interval: new .torrent files join their swarms, removed ones leave. \
A corrupt .torrent is a warning, not a stop. \
--magnets FILE: one magnet link per line (blank lines and # comments skipped; a bad line is a warning naming FILE:LINE); \
each torrent not yet in the load path is fetched from peers found through the link's trackers (tr=) or the DHT, \
checked against its info-hash, written into the load path and served from then on. Every --report-interval a line \"fish: N swarms, ...\" is printed \
and STATE_DIR/fish.json is rewritten. Exit codes: 0 stopped by a signal, 1 failure, 2 usage error."
)]
pub struct FishArgs {
    /// directory holding the .torrent files to serve (searched recursively;
    /// needed here or as load_path in [fish])
    #[argh(option)]
    pub load_path: Option<PathBuf>,

    /// file of magnet links to adopt, one per line: their metadata is
    /// fetched from their swarms and written into the load path
    #[argh(option)]
    pub magnets: Option<PathBuf>,

    /// TCP port peers connect to (default 6881)
    #[argh(option)]
    pub port: Option<u16>,

    /// address to listen on (default: all IPv4 ones, 0.0.0.0); an IPv6 address runs the
    /// DHT node on IPv6 (BEP 32), :: runs an IPv4 and an IPv6 one
    #[argh(option)]
    pub listen_interface: Option<IpAddr>,

    /// address to send from: peer dials, HTTP and UDP trackers (default: the system's
    /// choice; the DHT answers from the listen address)
    #[argh(option)]
    pub outgoing_interface: Option<IpAddr>,

    /// most peer connections at once (default 800)
    #[argh(option)]
    pub connections_limit: Option<usize>,

    /// DHT bootstrap nodes, host:port separated by commas (default: router.bittorrent.com:6881,
    /// router.utorrent.com:6881, dht.transmissionbt.com:6881, dht.libtorrent.org:25401)
    #[argh(option)]
    pub dht_bootstrap: Option<String>,

    /// DHT queries a second, all announces and lookups together (default 50; once each
    /// torrent's closest nodes are known, announcing N torrents takes about N × 6 / rate
    /// seconds; the report line says how long)
    #[argh(option)]
    pub dht_rate: Option<u32>,

    /// how often each torrent is announced on the DHT again (default 15m)
    #[argh(option)]
    pub dht_announce_interval: Option<String>,

    /// do not run a DHT node (find peers through trackers only)
    #[argh(switch)]
    pub no_dht: bool,

    /// directory for fish.json (status) and dht.json, dht6.json (DHT node ids and nodes)
    /// (default: $XDG_STATE_HOME/lowspace, else ~/.local/state/lowspace)
    #[argh(option)]
    pub state_dir: Option<PathBuf>,

    /// how often the load path is scanned again (default 5m)
    #[argh(option)]
    pub rescan_interval: Option<String>,

    /// how often the status line is printed and fish.json written (default 5m)
    #[argh(option)]
    pub report_interval: Option<String>,
}

/// The options once the command line and `[fish]` are merged (the command
/// line wins).
struct Resolved {
    load_path: PathBuf,
    port: u16,
    listen_interface: Option<IpAddr>,
    outgoing_interface: Option<IpAddr>,
    connections_limit: usize,
    dht: bool,
    dht_bootstrap: Vec<String>,
    dht_rate: u32,
    dht_announce_interval: Duration,
    state_dir: Option<PathBuf>,
    magnets: Option<PathBuf>,
    rescan_interval: Duration,
    report_interval: Duration,
}

impl FishArgs {
    /// Fills what the command line left out from `[fish]`, then the
    /// built-in defaults.
    fn resolve(self, defaults: &FishSettings) -> Result<Resolved, CliError> {
        let load_path = self
            .load_path
            .or_else(|| defaults.load_path.clone())
            .ok_or_else(|| {
                CliError::usage("--load-path is needed (or load_path in [fish] of the config file)")
            })?;
        let interval_of =
            |flag: &str, given: Option<String>, configured: Option<Duration>| match given {
                Some(text) => interval(flag, &text),
                None => Ok(configured.unwrap_or(DEFAULT_INTERVAL)),
            };
        let rescan_interval = interval_of(
            "--rescan-interval",
            self.rescan_interval,
            defaults.rescan_interval,
        )?;
        let report_interval = interval_of(
            "--report-interval",
            self.report_interval,
            defaults.report_interval,
        )?;
        let connections_limit = self
            .connections_limit
            .or(defaults.connections_limit.map(|n| n as usize))
            .unwrap_or(800);
        if connections_limit == 0 {
            return Err(CliError::usage("--connections-limit must be at least 1"));
        }
        let dht_rate = self.dht_rate.or(defaults.dht_rate).unwrap_or(DEFAULT_RATE);
        if !(MIN_RATE..=MAX_RATE).contains(&dht_rate) {
            return Err(CliError::usage(format!(
                "--dht-rate: expected {MIN_RATE} to {MAX_RATE} queries a second, found {dht_rate}"
            )));
        }
        let dht_announce_interval = match self.dht_announce_interval {
            Some(text) => interval("--dht-announce-interval", &text)?,
            None => defaults.dht_announce_interval.unwrap_or(DEFAULT_REANNOUNCE),
        };
        let dht_bootstrap = match &self.dht_bootstrap {
            Some(text) => {
                let nodes: Vec<String> = text
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(String::from)
                    .collect();
                if let Some(bad) = nodes.iter().find(|n| !looks_like_host_port(n)) {
                    return Err(CliError::usage(format!(
                        "--dht-bootstrap: expected host:port entries separated by commas, found \"{bad}\""
                    )));
                }
                nodes
            }
            None => defaults.dht_bootstrap.clone(),
        };
        Ok(Resolved {
            load_path,
            port: self.port.or(defaults.port).unwrap_or(6881),
            listen_interface: self.listen_interface.or(defaults.listen_interface),
            outgoing_interface: self.outgoing_interface.or(defaults.outgoing_interface),
            connections_limit,
            dht: !self.no_dht && defaults.dht != Some(false),
            dht_bootstrap,
            dht_rate,
            dht_announce_interval,
            state_dir: self.state_dir.or_else(|| defaults.state_dir.clone()),
            magnets: self.magnets.or_else(|| defaults.magnets.clone()),
            rescan_interval,
            report_interval,
        })
    }

    pub fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        let defaults = ctx
            .config_if_present()?
            .map(|c| c.fish.clone())
            .unwrap_or_default();
        let args = self.resolve(&defaults)?;
        if !args.load_path.is_dir() {
            return Err(CliError::usage(format!(
                "--load-path {}: not a directory",
                args.load_path.display()
            )));
        }
        let magnets = match &args.magnets {
            Some(file) => read_magnets(file)?,
            None => Vec::new(),
        };
        let state_dir = args
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

        let listen_ip = args
            .listen_interface
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let listen = SocketAddr::new(listen_ip, args.port);
        let listener = TcpListener::bind(listen)
            .map_err(|e| CliError::failure(format!("cannot listen on {listen}: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| CliError::failure(format!("cannot read the listen address: {e}")))?
            .port();
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
            dht_port: args.dht.then_some(port),
        };
        let dht = if !args.dht {
            None
        } else {
            Some(DhtOptions {
                bind: SocketAddr::new(listen_ip, port),
                bootstrap: if args.dht_bootstrap.is_empty() {
                    DEFAULT_BOOTSTRAP.iter().map(|s| s.to_string()).collect()
                } else {
                    args.dht_bootstrap.clone()
                },
                state_dir: state_dir.clone(),
                own: own.clone(),
                reannounce: args.dht_announce_interval,
                rate: args.dht_rate,
            })
        };
        let options = ServerOptions {
            load_path: args.load_path.clone(),
            connections_limit: args.connections_limit,
            rescan_interval: args.rescan_interval,
            report_interval: args.report_interval,
            state_file: Some(state_dir.join("fish.json")),
            session,
            own,
            outgoing_interface: args.outgoing_interface,
        };
        let mut discovery: Vec<Box<dyn Discovery>> = Vec::new();
        if let Some(dht) = dht {
            let bind = dht.bind;
            let nodes = DhtDiscovery::start(dht).map_err(|e| {
                CliError::failure(format!("cannot start the DHT node on UDP {bind}: {e}"))
            })?;
            for node in nodes {
                discovery.push(Box::new(node));
            }
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
            bind: args.outgoing_interface,
        })
        .map_err(|e| CliError::failure(format!("cannot start the tracker thread: {e}")))?;
        discovery.push(Box::new(trackers));
        let mut server = Server::new(options, listener, discovery)
            .map_err(|e| CliError::failure(format!("cannot start: {e}")))?;
        server
            .adopt(magnets)
            .map_err(|e| CliError::failure(format!("cannot start the magnet fetchers: {e}")))?;
        sys::catch_stop_signals();
        log::info!(
            "metadata peer listening on {}, serving torrents under {}",
            SocketAddr::new(listen_ip, port),
            args.load_path.display()
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

/// How often the load path is rescanned and the report written, unless told.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// Reads `--magnets FILE`: an unreadable file is a usage error, a bad
/// line a warning naming FILE:LINE.
fn read_magnets(file: &Path) -> Result<Vec<crate::torrent::MagnetLink>, CliError> {
    use crate::fish::adopt::magnets_file::{parse_magnets, MAX_MAGNETS_FILE};
    use std::io::Read as _;
    let usage = |why: String| CliError::usage(format!("--magnets {}: {why}", file.display()));
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_MAGNETS_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| usage(e.to_string()))?;
    if bytes.len() as u64 > MAX_MAGNETS_FILE {
        return Err(usage(format!("larger than {MAX_MAGNETS_FILE} bytes")));
    }
    let list = parse_magnets(&bytes);
    for warning in &list.warnings {
        log::warn!("{}:{}: {}", file.display(), warning.line, warning.reason);
    }
    log::info!(
        "{} magnets to adopt from {}",
        list.magnets.len(),
        file.display()
    );
    Ok(list.magnets)
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
fn default_state_dir(ctx: &Context) -> Option<PathBuf> {
    if let Some(xdg) = ctx.env.var("XDG_STATE_HOME") {
        return Some(Path::new(xdg).join("lowspace"));
    }
    ctx.env
        .var("HOME")
        .map(|home| Path::new(home).join(".local/state/lowspace"))
}

/// Azureus-style peer id: `-LS0100-` and 12 random printable bytes.
fn peer_id() -> [u8; 20] {
    let mut id = *b"-LS0100-000000000000";
    for (slot, byte) in id.iter_mut().skip(8).zip(crate::sys::random_bytes()) {
        // Printable, as many trackers log peer ids.
        const PRINTABLE: &[u8; 62] =
            b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        if let Some(&c) = PRINTABLE.get(usize::from(byte) % PRINTABLE.len()) {
            *slot = c;
        }
    }
    id
}
