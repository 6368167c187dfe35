//! Configuration: one typed model, two file syntaxes.
//!
//! New users write TOML (`$XDG_CONFIG_HOME/lowspace/config.toml`); users of
//! the original rtorrent low space driver keep their INI file
//! (`~/.rtorrent_low_space_driver.cf`) unchanged. Both are first read into
//! plain sections of keys and values with their line numbers ([`raw`]), and
//! one set of typed readers ([`read`]) turns those into [`Config`], so every
//! key is checked the same way and every error names the file, the line, the
//! key and what was expected.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::LevelFilter;

use crate::env::Env;

mod command_line;
mod ini;
mod raw;
mod read;

pub use command_line::{split_command_line, CommandLineError};
pub use raw::{RawSection, RawValue};
pub use read::looks_like_host_port;

/// Which syntax a configuration file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    Toml,
    /// The original driver's INI file with a `[main]` section.
    LegacyIni,
}

/// Everything lowspace can be told by a configuration file.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub path: PathBuf,
    pub format: ConfigFormat,
    pub log_level: Option<LevelFilter>,
    pub rtorrent: RtorrentSettings,
    /// `[client]`: which torrent client `rotate`, `status` and `check` use.
    pub client: ClientSettings,
    /// Present when the file configures rotation (`[rotate]`, or a legacy file).
    pub rotate: Option<RotateSettings>,
    /// Where finished torrents are copied to.
    pub remote: Option<RemoteSettings>,
    /// Timeouts and retries for the remote.
    pub sync: SyncSettings,
    /// Defaults for `lowspace tree` (`[tree]`); command-line options win.
    pub tree: TreeSettings,
    /// `[follow]`: the listing `lowspace follow` mirrors into a client.
    pub follow: Option<FollowSettings>,
    /// Defaults for `lowspace fish` (`[fish]`); command-line options win.
    pub fish: FishSettings,
    /// Things worth telling the user once loaded (deprecated keys).
    pub warnings: Vec<String>,
}

/// How to reach rtorrent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RtorrentSettings {
    /// `scgi:///path.sock`, `scgi://host:port`, `/path.sock` or `http(s)://.../RPC2`.
    pub socket_url: Option<String>,
}

/// `[client]`: the torrent client rotation drives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClientSettings {
    /// Through `[rtorrent] socket_url` (the default).
    #[default]
    Rtorrent,
    /// Through its WebUI API v2.
    Qbittorrent {
        url: String,
        username: Option<String>,
        password: Option<String>,
        /// qBittorrent 5.2's API key (`Authorization: Bearer`), instead
        /// of a login.
        api_key: Option<String>,
    },
    /// Through its JSON RPC (3.00 and 4.x).
    Transmission {
        url: String,
        username: Option<String>,
        password: Option<String>,
    },
    /// Through deluge-web's JSON API (its web password; no user name).
    Deluge {
        url: String,
        password: Option<String>,
    },
}

/// The kinds `[client] kind` takes.
pub const CLIENT_KINDS: &[&str] = &["rtorrent", "qbittorrent", "transmission", "deluge"];

/// Where Transmission's RPC listens unless `[client] url` says otherwise.
pub const DEFAULT_TRANSMISSION_URL: &str = "http://127.0.0.1:9091/transmission/rpc";

/// Where qBittorrent's WebUI listens unless `[client] url` says otherwise.
pub const DEFAULT_QBITTORRENT_URL: &str = "http://127.0.0.1:8080";

/// Where deluge-web listens unless `[client] url` says otherwise.
pub const DEFAULT_DELUGE_URL: &str = "http://127.0.0.1:8112";

/// The `rotate` job's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RotateSettings {
    /// The directory of .torrent files lowspace manages.
    pub managed_torrents_directory: PathBuf,
    /// Bytes the managed torrents may take on the small disk.
    pub space_limit: u64,
    /// Upload ratio a torrent must reach before it is moved off the disk.
    pub required_ratio: f64,
    /// Seed at least this long after finishing, whatever the ratio.
    pub min_seed_time: Option<Duration>,
    /// After this long seeding, stop waiting for the ratio.
    pub max_seed_time: Option<Duration>,
    /// Bytes always left free on the download directory's file system.
    pub reserve: u64,
    /// Where finished .torrent files go instead of being deleted.
    pub done_directory: Option<PathBuf>,
    /// Where rtorrent moves finished downloads ("move on completion"), if
    /// anywhere: a second directory rotate may delete a torrent's data from.
    pub completed_directory: Option<PathBuf>,
    /// Where the journal and lock live (default: the managed directory's
    /// `.lowspace` subdirectory).
    pub state_directory: Option<PathBuf>,
}

/// A place with space.
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteSettings {
    /// rsync over SSH (`host` set) to `path`.
    Rsync {
        host: String,
        path: String,
        /// The ssh program and its options, split once into words
        /// ([`split_command_line`]) for both the transfer and the listing.
        ssh_command: Option<Vec<String>>,
    },
    /// rclone to `remote:path`, with RCLONE_* variables from the config.
    Rclone {
        remote: String,
        path: String,
        env: Vec<(String, String)>,
    },
    /// A mounted directory (USB disk, NFS).
    Local { path: PathBuf },
}

/// Bounds on how long and how often a remote is tried.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncSettings {
    /// No progress for this long ends one transfer attempt.
    pub timeout: Duration,
    /// Attempts per run before the run gives up on the remote.
    pub retries: u32,
    /// How a copy is checked before the local data goes.
    pub verify: VerifyMode,
}

/// `[remote] verify`: what proves a remote copy before anything local is
/// deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerifyMode {
    /// Every file listed on the remote with its expected size.
    #[default]
    Size,
    /// The size check, then the SHA-1 of every file on both sides: reads
    /// every byte here and on the remote.
    Hash,
}

impl VerifyMode {
    pub fn name(self) -> &'static str {
        match self {
            VerifyMode::Size => "size",
            VerifyMode::Hash => "hash",
        }
    }
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            timeout: Duration::from_secs(300),
            retries: 3,
            verify: VerifyMode::Size,
        }
    }
}

/// `[tree]`: defaults for the options of `lowspace tree`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TreeSettings {
    pub trackers: Vec<String>,
    pub webseed: Option<String>,
    /// "auto" or a size; checked by the tree command, which knows the rules.
    pub piece_size: Option<String>,
    /// "v1", "v2" or "hybrid"; checked by the tree command.
    pub format: Option<String>,
    pub private: bool,
    pub comment: Option<String>,
    pub creation_date: bool,
    /// Hashing threads; 0 or absent means one per core.
    pub threads: Option<u32>,
    pub hidden: bool,
    pub prune: bool,
}

/// `[fish]`: defaults for the options of `lowspace fish`, so a service
/// unit can say `lowspace fish` and keep the settings in one file. Every
/// field is optional: the command line wins, then this, then the
/// built-in default.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FishSettings {
    pub load_path: Option<PathBuf>,
    pub port: Option<u16>,
    pub listen_interface: Option<IpAddr>,
    pub outgoing_interface: Option<IpAddr>,
    pub connections_limit: Option<u32>,
    /// `dht = false` is `--no-dht`.
    pub dht: Option<bool>,
    /// host:port entries; empty means the built-in public routers.
    pub dht_bootstrap: Vec<String>,
    /// DHT queries a second (`--dht-rate`).
    pub dht_rate: Option<u32>,
    /// How often each torrent is announced on the DHT.
    pub dht_announce_interval: Option<Duration>,
    pub state_dir: Option<PathBuf>,
    /// A file of magnet links to adopt (`--magnets`).
    pub magnets: Option<PathBuf>,
    pub rescan_interval: Option<Duration>,
    pub report_interval: Option<Duration>,
}

/// `[follow]`: where the listing is, how to trust it, and which client
/// to make match it.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowSettings {
    /// `http://`, `https://` URL or absolute path of the listing.
    pub listing: String,
    /// PEM CA certificates trusted instead of the system bundle.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key presented to the listing server.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    pub client: FollowClient,
    /// Where the client puts the data (its default when absent).
    pub download_dir: Option<PathBuf>,
    /// Only torrents carrying this label are ever removed.
    pub label: String,
    /// An empty listing removes every labelled torrent only when this is set.
    pub allow_empty: bool,
    /// A run may remove more than 10 % of the followed torrents.
    pub allow_mass_removal: bool,
    /// Limit on each HTTP exchange and on each client call.
    pub timeout: Duration,
}

/// The torrent client `follow` drives.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowClient {
    /// Transmission's JSON RPC (`http://host:9091/transmission/rpc`).
    Transmission {
        rpc_url: String,
        username: Option<String>,
        password: Option<String>,
    },
    /// rtorrent's XML-RPC, at `[follow] socket_url` else `[rtorrent] socket_url`.
    Rtorrent { socket_url: String },
    /// qBittorrent's WebUI, as `[client]` names it.
    Qbittorrent {
        url: String,
        username: Option<String>,
        password: Option<String>,
        /// qBittorrent 5.2's API key (`Authorization: Bearer`), instead
        /// of a login.
        api_key: Option<String>,
    },
    /// deluge-web, as `[client]` names it.
    Deluge {
        url: String,
        password: Option<String>,
    },
}

/// The label `follow` puts on the torrents it adds, when none is configured.
pub const DEFAULT_FOLLOW_LABEL: &str = "lowspace-follow";

/// A configuration that cannot be used, with where and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file, when there is one.
    pub path: Option<PathBuf>,
    /// The line in that file, when known.
    pub line: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ConfigError {
    fn in_file(path: &Path, line: Option<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: Some(path.to_path_buf()),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line) {
            (Some(path), Some(line)) => write!(f, "{}:{}: {}", path.display(), line, self.message),
            (Some(path), None) => write!(f, "{}: {}", path.display(), self.message),
            (None, _) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The configuration file to use: the one given, else the first that exists
/// of the TOML locations and the legacy INI file.
pub fn locate(env: &Env, explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let candidates = default_locations(env);
    for candidate in &candidates {
        if candidate.exists() {
            return Ok(candidate.clone());
        }
    }
    let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(ConfigError {
        path: None,
        line: None,
        message: format!(
            "no configuration file found (looked at {}); write one or pass --config FILE",
            if looked.is_empty() {
                "nothing: HOME is not set".to_string()
            } else {
                looked.join(", ")
            }
        ),
    })
}

fn default_locations(env: &Env) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(xdg) = env.var("XDG_CONFIG_HOME") {
        out.push(Path::new(xdg).join("lowspace/config.toml"));
    }
    if let Some(home) = env.var("HOME") {
        let home = Path::new(home);
        let dot_config = home.join(".config/lowspace/config.toml");
        if !out.contains(&dot_config) {
            out.push(dot_config);
        }
        out.push(home.join(".rtorrent_low_space_driver.cf"));
    }
    out
}

/// Reads and checks a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let bytes = std::fs::read(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "file not found".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        ConfigError::in_file(path, None, format!("cannot read configuration: {why}"))
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        ConfigError::in_file(
            path,
            None,
            format!(
                "not UTF-8 text (bad byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    parse(path, &text)
}

/// Parses configuration text; `path` is only used to name the file in
/// errors and to choose the syntax.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let format = detect_format(path, text);
    let sections = match format {
        ConfigFormat::LegacyIni => {
            ini::parse(text).map_err(|(line, msg)| ConfigError::in_file(path, Some(line), msg))?
        }
        ConfigFormat::Toml => {
            raw::from_toml(text).map_err(|(line, msg)| ConfigError::in_file(path, line, msg))?
        }
    };
    read::config(path, format, &sections)
}

/// The original driver's file (`*.cf`, `*.ini`) or any file with a `[main]`
/// section header is INI, unless it is named *.toml; everything else is TOML.
fn detect_format(path: &Path, text: &str) -> ConfigFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => return ConfigFormat::Toml,
        Some("cf") | Some("ini") => return ConfigFormat::LegacyIni,
        _ => {}
    }
    let has_main = text
        .lines()
        .any(|line| line.trim().eq_ignore_ascii_case("[main]"));
    if has_main {
        ConfigFormat::LegacyIni
    } else {
        ConfigFormat::Toml
    }
}

#[cfg(test)]
mod tests;
