//! Gives meaning to raw sections: the typed readers every key goes through,
//! the TOML layout and the legacy INI layout, and the "did you mean" hint
//! for keys nobody reads.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::command_line::split_command_line;
use super::raw::{RawEntry, RawSection, RawValue};
use super::{
    ClientSettings, Config, ConfigError, ConfigFormat, FishSettings, FollowClient, FollowSettings,
    RemoteSettings, RotateSettings, RtorrentSettings, SyncSettings, TreeSettings, VerifyMode,
    DEFAULT_FOLLOW_LABEL,
};
use crate::logging::parse_level;
use crate::size::{parse_duration, parse_size};

/// Reads one section's keys, all declared up front.
struct SectionReader<'a> {
    path: &'a Path,
    section: &'a RawSection,
    known: BTreeSet<&'static str>,
}

impl<'a> SectionReader<'a> {
    /// Checks the section against the keys it may have before anything is
    /// read, so a misspelt key is reported as such and not as the required
    /// key it was meant to be.
    fn new(
        path: &'a Path,
        section: &'a RawSection,
        keys: &[&'static str],
        also_allowed: impl Fn(&str) -> bool,
    ) -> Result<Self, ConfigError> {
        let reader = SectionReader {
            path,
            section,
            known: keys.iter().copied().collect(),
        };
        reader.reject_unknown(also_allowed)?;
        Ok(reader)
    }

    fn display_name(&self) -> String {
        if self.section.name.is_empty() {
            "the top level".to_string()
        } else {
            format!("[{}]", self.section.name)
        }
    }

    fn entry(&self, key: &'static str) -> Option<&'a RawEntry> {
        debug_assert!(self.known.contains(key), "{key} is read but not declared");
        self.section.entries.iter().rev().find(|e| e.key == key)
    }

    fn error(&self, entry: &RawEntry, expected: impl std::fmt::Display) -> ConfigError {
        ConfigError::in_file(
            self.path,
            Some(entry.line),
            format!("{}: {expected}", entry.key),
        )
    }

    /// An error about `key`, at its line (or the section's, should the key
    /// not be there after all).
    fn error_at(&self, key: &'static str, expected: impl std::fmt::Display) -> ConfigError {
        match self.entry(key) {
            Some(entry) => self.error(entry, expected),
            None => ConfigError::in_file(
                self.path,
                Some(self.section.line),
                format!("{key}: {expected}"),
            ),
        }
    }

    fn missing(&self, key: &str) -> ConfigError {
        ConfigError::in_file(
            self.path,
            Some(self.section.line),
            format!("{} needs {key}", self.display_name()),
        )
    }

    fn string(&mut self, key: &'static str) -> Result<Option<String>, ConfigError> {
        let Some(entry) = self.entry(key) else {
            return Ok(None);
        };
        match &entry.value {
            RawValue::Str(s) if s.trim().is_empty() => {
                Err(self.error(entry, "expected a value, found an empty string"))
            }
            RawValue::Str(s) => Ok(Some(s.trim().to_string())),
            other => Err(self.error(entry, format!("expected a string, found {}", other.kind()))),
        }
    }

    /// A command as its words: a string split like a shell line
    /// ([`split_command_line`]), or a list of words as they are.
    fn command_line(&mut self, key: &'static str) -> Result<Option<Vec<String>>, ConfigError> {
        let Some(entry) = self.entry(key) else {
            return Ok(None);
        };
        match &entry.value {
            RawValue::Str(s) => split_command_line(s)
                .map(Some)
                .map_err(|e| self.error(entry, e)),
            RawValue::List(words) => match words.first() {
                None => Err(self.error(
                    entry,
                    "expected the program and its options, such as [\"ssh\", \"-p\", \"2222\"], found an empty list",
                )),
                Some(program) if program.trim().is_empty() => {
                    Err(self.error(entry, "the program name (the first item) is empty"))
                }
                Some(_) => Ok(Some(words.clone())),
            },
            other => Err(self.error(
                entry,
                format!(
                    "expected a command such as \"ssh -p 2222\" or [\"ssh\", \"-p\", \"2222\"], found {}",
                    other.kind()
                ),
            )),
        }
    }

    fn absolute_path(&mut self, key: &'static str) -> Result<Option<PathBuf>, ConfigError> {
        let Some(text) = self.string(key)? else {
            return Ok(None);
        };
        let path = PathBuf::from(&text);
        if !path.is_absolute() {
            return Err(self.error_at(key, format!("expected an absolute path, found \"{text}\"")));
        }
        Ok(Some(path))
    }

    fn size(&mut self, key: &'static str) -> Result<Option<u64>, ConfigError> {
        let Some(entry) = self.entry(key) else {
            return Ok(None);
        };
        match &entry.value {
            RawValue::Int(n) if *n < 0 => Err(self.error(
                entry,
                format!("expected a size of zero or more bytes, found {n}"),
            )),
            RawValue::Int(n) => Ok(Some(*n as u64)),
            RawValue::Str(s) => parse_size(s).map(Some).map_err(|e| self.error(entry, e)),
            other => Err(self.error(
                entry,
                format!(
                    "expected a size such as 3221225472 or \"3 GiB\", found {}",
                    other.kind()
                ),
            )),
        }
    }

    fn duration(&mut self, key: &'static str) -> Result<Option<Duration>, ConfigError> {
        let Some(entry) = self.entry(key) else {
            return Ok(None);
        };
        match &entry.value {
            RawValue::Int(n) if *n >= 0 => Ok(Some(Duration::from_secs(*n as u64))),
            RawValue::Str(s) => parse_duration(s)
                .map(Some)
                .map_err(|e| self.error(entry, e)),
            other => Err(self.error(
                entry,
                format!(
                    "expected a duration such as \"2h\" or 3600, found {}",
                    other.kind()
                ),
            )),
        }
    }

    fn ratio(&mut self, key: &'static str) -> Result<Option<f64>, ConfigError> {
        let Some(entry) = self.entry(key) else {
            return Ok(None);
        };
        let value = match &entry.value {
            RawValue::Int(n) => *n as f64,
            RawValue::Float(f) => *f,
            RawValue::Str(s) => s.trim().parse::<f64>().map_err(|_| {
                self.error(
                    entry,
                    format!("expected a number such as 1.0, found \"{}\"", s.trim()),
                )
            })?,
            other => {
                return Err(self.error(
                    entry,
                    format!("expected a number such as 1.0, found {}", other.kind()),
                ))
            }
        };
        if !value.is_finite() || value < 0.0 {
            return Err(self.error(
                entry,
                format!("expected a ratio of zero or more, found {value}"),
            ));
        }
        Ok(Some(value))
    }

    fn count(&mut self, key: &'static str) -> Result<Option<u32>, ConfigError> {
        self.whole_number(key, "expected a whole number of zero or more")
    }

    fn port(&mut self, key: &'static str) -> Result<Option<u16>, ConfigError> {
        self.whole_number(key, "expected a port number from 0 to 65535")
    }

    /// An integer (or a string of digits, as INI files have) that fits `T`.
    fn whole_number<T: TryFrom<i64> + std::str::FromStr>(
        &mut self,
        key: &'static str,
        expected: &str,
    ) -> Result<Option<T>, ConfigError> {
        let Some(entry) = self.entry(key) else {
            return Ok(None);
        };
        let parsed = match &entry.value {
            RawValue::Int(n) => T::try_from(*n).ok(),
            RawValue::Str(s) => s.trim().parse::<T>().ok(),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| self.error(entry, expected))
    }

    fn ip_address(&mut self, key: &'static str) -> Result<Option<IpAddr>, ConfigError> {
        let Some(text) = self.string(key)? else {
            return Ok(None);
        };
        text.parse::<IpAddr>().map(Some).map_err(|_| {
            self.error_at(
                key,
                format!("expected an IP address such as \"192.168.1.5\", found \"{text}\""),
            )
        })
    }

    fn boolean(&mut self, key: &'static str) -> Result<Option<bool>, ConfigError> {
        let Some(entry) = self.entry(key) else {
            return Ok(None);
        };
        match &entry.value {
            RawValue::Bool(b) => Ok(Some(*b)),
            other => Err(self.error(
                entry,
                format!("expected true or false, found {}", other.kind()),
            )),
        }
    }

    fn string_list(&mut self, key: &'static str) -> Result<Vec<String>, ConfigError> {
        let Some(entry) = self.entry(key) else {
            return Ok(Vec::new());
        };
        match &entry.value {
            RawValue::List(items) => Ok(items.clone()),
            RawValue::Str(one) => Ok(vec![one.clone()]),
            other => Err(self.error(
                entry,
                format!(
                    "expected a list of strings such as [\"http://a/announce\"], found {}",
                    other.kind()
                ),
            )),
        }
    }

    fn level(&mut self, key: &'static str) -> Result<Option<log::LevelFilter>, ConfigError> {
        let Some(entry) = self.entry(key) else {
            return Ok(None);
        };
        match &entry.value {
            RawValue::Str(s) => parse_level(s).map(Some).map_err(|e| self.error(entry, e)),
            other => Err(self.error(
                entry,
                format!(
                    "expected a level name such as \"info\", found {}",
                    other.kind()
                ),
            )),
        }
    }

    fn env_table(&mut self, key: &'static str) -> Result<Vec<(String, String)>, ConfigError> {
        let Some(entry) = self.entry(key) else {
            return Ok(Vec::new());
        };
        match &entry.value {
            RawValue::Table(pairs) => {
                let mut out = Vec::new();
                for (name, value, line) in pairs {
                    if !name.starts_with("RCLONE_") {
                        return Err(ConfigError::in_file(
                            self.path,
                            Some(*line),
                            format!("{key}.{name}: only RCLONE_* variables are passed to rclone"),
                        ));
                    }
                    out.push((name.clone(), value.clone()));
                }
                Ok(out)
            }
            other => Err(self.error(
                entry,
                format!(
                    "expected a table of RCLONE_* = \"value\", found {}",
                    other.kind()
                ),
            )),
        }
    }

    /// Every key not declared is an error, with the closest known key.
    fn reject_unknown(&self, also_allowed: impl Fn(&str) -> bool) -> Result<(), ConfigError> {
        for entry in &self.section.entries {
            if self.known.contains(entry.key.as_str()) || also_allowed(&entry.key) {
                continue;
            }
            let hint = closest(&entry.key, self.known.iter().copied())
                .map(|k| format!("; did you mean \"{k}\"?"))
                .unwrap_or_else(|| {
                    let list: Vec<&str> = self.known.iter().copied().collect();
                    format!("; known keys here: {}", list.join(", "))
                });
            return Err(ConfigError::in_file(
                self.path,
                Some(entry.line),
                format!(
                    "unknown key \"{}\" in {}{hint}",
                    entry.key,
                    self.display_name()
                ),
            ));
        }
        Ok(())
    }
}

/// The known name nearest to `word` by edit distance, if it is near enough
/// to be a plausible typo.
pub fn closest<'k>(word: &str, known: impl Iterator<Item = &'k str>) -> Option<&'k str> {
    known
        .map(|k| (edit_distance(word, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

// `prev` and `cur` hold b.len() + 1 entries and j < b.len(), so every
// index is in bounds.
#[allow(clippy::indexing_slicing)]
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur.push(substitute.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Builds the typed model from the sections of either syntax.
pub fn config(
    path: &Path,
    format: ConfigFormat,
    sections: &[RawSection],
) -> Result<Config, ConfigError> {
    match format {
        ConfigFormat::Toml => toml_layout(path, sections),
        ConfigFormat::LegacyIni => legacy_layout(path, sections),
    }
}

const ROTATE_KEYS: &[&str] = &[
    "managed_torrents_directory",
    "space_limit",
    "required_ratio",
    "min_seed_time",
    "max_seed_time",
    "reserve",
    "done_directory",
    "completed_directory",
    "state_directory",
];

const REMOTE_KEYS: &[&str] = &[
    "service",
    "host",
    "path",
    "ssh_command",
    "rclone_remote",
    "rclone_env",
    "timeout",
    "retries",
    "verify",
];

/// The `[main]` keys beyond rotation's: both seed versions' and the new ones.
const LEGACY_KEYS: &[&str] = &[
    "log_level",
    "socket_url",
    "remote_sync_service",
    "rsync_host",
    "rsync_path",
    "remote_host",
    "remote_path",
    "rclone_remote",
    "rclone_path",
    "ssh_command",
    "local_path",
    "sync_timeout",
    "sync_retries",
    "sync_verify",
];

const TOML_SECTIONS: &[&str] = &[
    "", "rtorrent", "client", "rotate", "remote", "tree", "follow", "fish",
];

const CLIENT_KEYS: &[&str] = &["kind", "url", "username", "password", "api_key"];

const FISH_KEYS: &[&str] = &[
    "load_path",
    "port",
    "listen_interface",
    "outgoing_interface",
    "connections_limit",
    "dht",
    "dht_bootstrap",
    "dht_rate",
    "dht_announce_interval",
    "state_dir",
    "magnets",
    "rescan_interval",
    "report_interval",
];

const FOLLOW_KEYS: &[&str] = &[
    "listing",
    "ca_file",
    "client_cert",
    "client_key",
    "client",
    "rpc_url",
    "username",
    "password",
    "socket_url",
    "download_dir",
    "label",
    "allow_empty",
    "allow_mass_removal",
    "timeout",
];

const TREE_KEYS: &[&str] = &[
    "trackers",
    "webseed",
    "piece_size",
    "format",
    "private",
    "comment",
    "creation_date",
    "threads",
    "hidden",
    "prune",
];

fn toml_layout(path: &Path, sections: &[RawSection]) -> Result<Config, ConfigError> {
    for section in sections {
        if !TOML_SECTIONS.contains(&section.name.as_str()) {
            let hint = closest(
                &section.name,
                TOML_SECTIONS.iter().copied().filter(|s| !s.is_empty()),
            )
            .map(|s| format!("; did you mean [{s}]?"))
            .unwrap_or_else(|| {
                "; known sections: [rtorrent], [client], [rotate], [remote], [tree], [follow], [fish]"
                    .to_string()
            });
            return Err(ConfigError::in_file(
                path,
                Some(section.line),
                format!("unknown section [{}]{hint}", section.name),
            ));
        }
    }
    let empty = RawSection {
        name: String::new(),
        line: 1,
        entries: Vec::new(),
    };
    let find = |name: &str| sections.iter().find(|s| s.name == name);

    let mut top = SectionReader::new(path, find("").unwrap_or(&empty), &["log_level"], |_| false)?;
    let log_level = top.level("log_level")?;

    let rtorrent = match find("rtorrent") {
        Some(section) => {
            let mut r = SectionReader::new(path, section, &["socket_url"], |_| false)?;
            let socket_url = r.string("socket_url")?;
            RtorrentSettings { socket_url }
        }
        None => RtorrentSettings::default(),
    };

    let client = match find("client") {
        Some(section) => {
            let mut r = SectionReader::new(path, section, CLIENT_KEYS, |_| false)?;
            client_settings(&mut r)?
        }
        None => ClientSettings::default(),
    };

    let rotate = match find("rotate") {
        Some(section) => {
            let mut r = SectionReader::new(path, section, ROTATE_KEYS, |_| false)?;
            let rotate = rotate_settings(&mut r)?;
            Some(rotate)
        }
        None => None,
    };

    let (remote, sync) = match find("remote") {
        Some(section) => {
            let mut r = SectionReader::new(path, section, REMOTE_KEYS, |_| false)?;
            let service = r.string("service")?;
            let host = r.string("host")?;
            let remote_path = r.string("path")?;
            let ssh_command = r.command_line("ssh_command")?;
            let rclone_remote = r.string("rclone_remote")?;
            let env = r.env_table("rclone_env")?;
            let sync = sync_settings(&mut r, "timeout", "retries", "verify")?;
            let service =
                service.ok_or_else(|| r.missing("service = \"rsync\", \"rclone\" or \"local\""))?;
            let need = |value: Option<String>, key: &str| value.ok_or_else(|| r.missing(key));
            let remote = match service.as_str() {
                "rsync" => RemoteSettings::Rsync {
                    host: need(host, "host (the SSH host, such as \"user@nas\")")?,
                    path: need(remote_path, "path (the directory on the host)")?,
                    ssh_command,
                },
                "rclone" => RemoteSettings::Rclone {
                    remote: need(
                        rclone_remote,
                        "rclone_remote (a remote name from rclone.conf)",
                    )?,
                    path: remote_path.unwrap_or_default(),
                    env,
                },
                "local" => {
                    let dir = need(remote_path, "path (the mounted directory)")?;
                    if !Path::new(&dir).is_absolute() {
                        return Err(r.error_at(
                            "path",
                            format!("expected an absolute path, found \"{dir}\""),
                        ));
                    }
                    RemoteSettings::Local {
                        path: PathBuf::from(dir),
                    }
                }
                other => {
                    return Err(r.error_at(
                        "service",
                        format!("expected \"rsync\", \"rclone\" or \"local\", found \"{other}\""),
                    ));
                }
            };
            (Some(remote), sync)
        }
        None => (None, SyncSettings::default()),
    };

    let tree = match find("tree") {
        Some(section) => {
            let mut r = SectionReader::new(path, section, TREE_KEYS, |_| false)?;
            TreeSettings {
                trackers: r.string_list("trackers")?,
                webseed: r.string("webseed")?,
                piece_size: r.string("piece_size")?,
                format: r.string("format")?,
                private: r.boolean("private")?.unwrap_or(false),
                comment: r.string("comment")?,
                creation_date: r.boolean("creation_date")?.unwrap_or(false),
                threads: r.count("threads")?,
                hidden: r.boolean("hidden")?.unwrap_or(false),
                prune: r.boolean("prune")?.unwrap_or(false),
            }
        }
        None => TreeSettings::default(),
    };

    let follow = match find("follow") {
        Some(section) => {
            let mut r = SectionReader::new(path, section, FOLLOW_KEYS, |_| false)?;
            Some(follow_settings(&mut r, &rtorrent, &client)?)
        }
        None => None,
    };

    let fish = match find("fish") {
        Some(section) => {
            let mut r = SectionReader::new(path, section, FISH_KEYS, |_| false)?;
            fish_settings(&mut r)?
        }
        None => FishSettings::default(),
    };

    Ok(Config {
        path: path.to_path_buf(),
        format: ConfigFormat::Toml,
        log_level,
        rtorrent,
        client,
        rotate,
        remote,
        sync,
        tree,
        follow,
        fish,
        warnings: Vec::new(),
    })
}

fn client_settings(r: &mut SectionReader) -> Result<ClientSettings, ConfigError> {
    let kind = r.string("kind")?.unwrap_or_else(|| "rtorrent".to_string());
    let url = r.string("url")?;
    let username = r.string("username")?;
    let password = r.string("password")?;
    let api_key = r.string("api_key")?;
    if api_key.is_some() && kind != "qbittorrent" {
        return Err(r.error_at(
            "api_key",
            "is for kind = \"qbittorrent\" (qBittorrent 5.2's WebUI API key)",
        ));
    }
    match kind.as_str() {
        "rtorrent" => match ["url", "username", "password"]
            .into_iter()
            .find(|k| r.entry(k).is_some())
        {
            Some(key) => Err(r.error_at(
                key,
                "is for kind = \"qbittorrent\"; rtorrent is reached through [rtorrent] socket_url",
            )),
            None => Ok(ClientSettings::Rtorrent),
        },
        "qbittorrent" => {
            let url = url.unwrap_or_else(|| super::DEFAULT_QBITTORRENT_URL.to_string());
            if let Err(e) = crate::http::Url::parse(&url) {
                return Err(r.error_at("url", format!("expected an http(s) URL: {e}")));
            }
            if password.is_some() && username.is_none() {
                return Err(r.error_at("password", "is given without a username"));
            }
            if api_key.is_some() && username.is_some() {
                return Err(r.error_at(
                    "api_key",
                    "is given with a username: an API key replaces the login, give one or the other",
                ));
            }
            Ok(ClientSettings::Qbittorrent {
                url,
                username,
                password,
                api_key,
            })
        }
        "transmission" => {
            let url = url.unwrap_or_else(|| super::DEFAULT_TRANSMISSION_URL.to_string());
            if let Err(e) = crate::http::Url::parse(&url) {
                return Err(r.error_at("url", format!("expected an http(s) URL: {e}")));
            }
            if password.is_some() && username.is_none() {
                return Err(r.error_at("password", "is given without a username"));
            }
            Ok(ClientSettings::Transmission {
                url,
                username,
                password,
            })
        }
        "deluge" => {
            let url = url.unwrap_or_else(|| super::DEFAULT_DELUGE_URL.to_string());
            if let Err(e) = crate::http::Url::parse(&url) {
                return Err(r.error_at("url", format!("expected an http(s) URL: {e}")));
            }
            if username.is_some() {
                return Err(r.error_at("username", "deluge-web has no user name, only a password"));
            }
            Ok(ClientSettings::Deluge { url, password })
        }
        other => Err(r.error_at(
            "kind",
            format!(
                "expected one of {}, found \"{other}\"",
                super::CLIENT_KINDS
                    .iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn rotate_settings(r: &mut SectionReader) -> Result<RotateSettings, ConfigError> {
    let managed = r.absolute_path("managed_torrents_directory")?;
    let space_limit = r.size("space_limit")?;
    let required_ratio = r.ratio("required_ratio")?.unwrap_or(1.0);
    let min_seed_time = r.duration("min_seed_time")?;
    let max_seed_time = r.duration("max_seed_time")?;
    let reserve = r.size("reserve")?.unwrap_or(0);
    let done_directory = r.absolute_path("done_directory")?;
    let completed_directory = r.absolute_path("completed_directory")?;
    let state_directory = r.absolute_path("state_directory")?;
    let managed_torrents_directory =
        managed.ok_or_else(|| r.missing("managed_torrents_directory"))?;
    let space_limit = space_limit.ok_or_else(|| r.missing("space_limit"))?;
    if space_limit == 0 {
        return Err(r.error_at(
            "space_limit",
            "expected a size above zero: nothing could ever be downloaded",
        ));
    }
    if let (Some(min), Some(max)) = (min_seed_time, max_seed_time) {
        if max < min {
            return Err(r.error_at("max_seed_time", "must not be shorter than min_seed_time"));
        }
    }
    Ok(RotateSettings {
        managed_torrents_directory,
        space_limit,
        required_ratio,
        min_seed_time,
        max_seed_time,
        reserve,
        done_directory,
        completed_directory,
        state_directory,
    })
}

fn follow_settings(
    r: &mut SectionReader,
    rtorrent: &RtorrentSettings,
    shared: &ClientSettings,
) -> Result<FollowSettings, ConfigError> {
    let listing = r.string("listing")?;
    let ca_file = r.absolute_path("ca_file")?;
    let client_cert = r.absolute_path("client_cert")?;
    let client_key = r.absolute_path("client_key")?;
    let client = r.string("client")?;
    let rpc_url = r.string("rpc_url")?;
    let username = r.string("username")?;
    let password = r.string("password")?;
    let socket_url = r.string("socket_url")?;
    let download_dir = r.absolute_path("download_dir")?;
    let label = r
        .string("label")?
        .unwrap_or_else(|| DEFAULT_FOLLOW_LABEL.to_string());
    let allow_empty = r.boolean("allow_empty")?.unwrap_or(false);
    let allow_mass_removal = r.boolean("allow_mass_removal")?.unwrap_or(false);
    let timeout = r.duration("timeout")?.unwrap_or(Duration::from_secs(60));
    // rotate erases torrents with its label after their copy is verified
    // elsewhere; follow removes torrents with its own label with their
    // data. One label for both would let each delete the other's.
    if label == crate::client::ROTATE_LABEL {
        return Err(r.error_at(
            "label",
            format!(
                "\"{label}\" is the label rotate puts on the torrents it manages; \
                 choose another (the default is \"{DEFAULT_FOLLOW_LABEL}\")"
            ),
        ));
    }

    let listing = listing.ok_or_else(|| {
        r.missing("listing (an http:// or https:// URL, or an absolute path, of index.txt)")
    })?;
    let is_url = ["http://", "https://"].iter().any(|p| {
        listing
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    });
    if !is_url && !Path::new(&listing).is_absolute() {
        return Err(r.error_at(
            "listing",
            format!("expected an http:// or https:// URL or an absolute path, found \"{listing}\""),
        ));
    }
    let client_cert = match (client_cert, client_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => return Err(r.missing("client_key (the PEM key of client_cert)")),
        (None, Some(_)) => return Err(r.missing("client_cert (the PEM certificate of client_key)")),
    };
    let client = match client.as_deref() {
        Some("transmission") => FollowClient::Transmission {
            rpc_url: rpc_url.ok_or_else(|| {
                r.missing("rpc_url (such as \"http://127.0.0.1:9091/transmission/rpc\")")
            })?,
            username,
            password,
        },
        Some("rtorrent") => FollowClient::Rtorrent {
            socket_url: socket_url
                .or_else(|| rtorrent.socket_url.clone())
                .ok_or_else(|| r.missing("socket_url (or socket_url in [rtorrent])"))?,
        },
        Some(other) => {
            return Err(r.error_at(
                "client",
                format!(
                    "expected \"transmission\" or \"rtorrent\", found \"{other}\" \
                     (or leave client out: follow then drives the client of [client], \
                     which may be qbittorrent or deluge)"
                ),
            ));
        }
        // The one client [client] names (rotate's too).
        None => {
            for (key, given) in [
                ("rpc_url", rpc_url.is_some()),
                ("username", username.is_some()),
                ("password", password.is_some()),
            ] {
                if given {
                    return Err(r.error_at(
                        key,
                        "is for client = \"transmission\"; without client, follow uses \
                         [client] (url, username, password there)",
                    ));
                }
            }
            match shared {
                ClientSettings::Rtorrent => FollowClient::Rtorrent {
                    socket_url: socket_url
                        .or_else(|| rtorrent.socket_url.clone())
                        .ok_or_else(|| {
                            r.missing(
                                "client = \"transmission\" or \"rtorrent\", or a [client] \
                                 section (kind = \"qbittorrent\", \"transmission\" or \
                                 \"deluge\"), or socket_url in [rtorrent]",
                            )
                        })?,
                },
                ClientSettings::Qbittorrent {
                    url,
                    username,
                    password,
                    api_key,
                } => FollowClient::Qbittorrent {
                    url: url.clone(),
                    username: username.clone(),
                    password: password.clone(),
                    api_key: api_key.clone(),
                },
                ClientSettings::Transmission {
                    url,
                    username,
                    password,
                } => FollowClient::Transmission {
                    rpc_url: url.clone(),
                    username: username.clone(),
                    password: password.clone(),
                },
                ClientSettings::Deluge { url, password } => FollowClient::Deluge {
                    url: url.clone(),
                    password: password.clone(),
                },
            }
        }
    };
    Ok(FollowSettings {
        listing,
        ca_file,
        client_cert,
        client,
        download_dir,
        label,
        allow_empty,
        allow_mass_removal,
        timeout,
    })
}

fn fish_settings(r: &mut SectionReader) -> Result<FishSettings, ConfigError> {
    let port = r.port("port")?;
    let connections_limit = r.count("connections_limit")?;
    if connections_limit == Some(0) {
        return Err(r.error_at(
            "connections_limit",
            "expected at least 1: no peer could ever connect",
        ));
    }
    let nonzero = |r: &SectionReader, key: &'static str, d: Option<Duration>| match d {
        Some(d) if d.is_zero() => Err(r.error_at(key, "expected a duration above zero")),
        other => Ok(other),
    };
    let rescan_interval = r.duration("rescan_interval")?;
    let rescan_interval = nonzero(r, "rescan_interval", rescan_interval)?;
    let report_interval = r.duration("report_interval")?;
    let report_interval = nonzero(r, "report_interval", report_interval)?;
    let dht_announce_interval = r.duration("dht_announce_interval")?;
    let dht_announce_interval = nonzero(r, "dht_announce_interval", dht_announce_interval)?;
    let dht_rate = r.count("dht_rate")?;
    if let Some(rate) = dht_rate {
        if !(crate::fish::dht::rate::MIN_RATE..=crate::fish::dht::rate::MAX_RATE).contains(&rate) {
            return Err(r.error_at(
                "dht_rate",
                format!(
                    "expected {} to {} queries a second",
                    crate::fish::dht::rate::MIN_RATE,
                    crate::fish::dht::rate::MAX_RATE
                ),
            ));
        }
    }
    let dht_bootstrap = r.string_list("dht_bootstrap")?;
    if let Some(bad) = dht_bootstrap.iter().find(|b| !looks_like_host_port(b)) {
        return Err(r.error_at(
            "dht_bootstrap",
            format!("expected host:port entries such as \"router.bittorrent.com:6881\", found \"{bad}\""),
        ));
    }
    Ok(FishSettings {
        load_path: r.absolute_path("load_path")?,
        port,
        listen_interface: r.ip_address("listen_interface")?,
        outgoing_interface: r.ip_address("outgoing_interface")?,
        connections_limit,
        dht: r.boolean("dht")?,
        dht_bootstrap,
        dht_rate,
        dht_announce_interval,
        state_dir: r.absolute_path("state_dir")?,
        magnets: r.absolute_path("magnets")?,
        rescan_interval,
        report_interval,
    })
}

/// `host:port` with a port number; IPv6 hosts in brackets (`[::1]:6881`).
pub fn looks_like_host_port(text: &str) -> bool {
    match text.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains(char::is_whitespace)
                && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')))
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        None => false,
    }
}

fn sync_settings(
    r: &mut SectionReader,
    timeout_key: &'static str,
    retries_key: &'static str,
    verify_key: &'static str,
) -> Result<SyncSettings, ConfigError> {
    let defaults = SyncSettings::default();
    let timeout = r.duration(timeout_key)?.unwrap_or(defaults.timeout);
    let retries = r.count(retries_key)?.unwrap_or(defaults.retries);
    let verify = match r.string(verify_key)?.as_deref() {
        None => defaults.verify,
        Some("size") => VerifyMode::Size,
        Some("hash") => VerifyMode::Hash,
        Some(other) => {
            return Err(r.error_at(
                verify_key,
                format!("expected \"size\" or \"hash\", found \"{other}\""),
            ))
        }
    };
    Ok(SyncSettings {
        timeout,
        retries,
        verify,
    })
}

/// The original driver's `[main]` section, every key of both versions.
fn legacy_layout(path: &Path, sections: &[RawSection]) -> Result<Config, ConfigError> {
    let main = sections
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case("main"))
        .ok_or_else(|| {
            ConfigError::in_file(
                path,
                None,
                "no [main] section: the original driver's file keeps every key under [main]",
            )
        })?;
    if let Some(other) = sections
        .iter()
        .find(|s| !s.name.eq_ignore_ascii_case("main"))
    {
        return Err(ConfigError::in_file(
            path,
            Some(other.line),
            format!(
                "unknown section [{}]; this INI file has only [main] (use TOML for more)",
                other.name
            ),
        ));
    }
    let legacy_keys: Vec<&'static str> = ROTATE_KEYS.iter().chain(LEGACY_KEYS).copied().collect();
    let mut r = SectionReader::new(path, main, &legacy_keys, |key| key.starts_with("rclone_"))?;
    let mut warnings = Vec::new();

    let log_level = r.level("log_level")?;
    let socket_url = r.string("socket_url")?;
    let rotate = rotate_settings(&mut r)?;
    let service = r.string("remote_sync_service")?;
    let rsync_host = r.string("rsync_host")?;
    let rsync_path = r.string("rsync_path")?;
    let remote_host = r.string("remote_host")?;
    let remote_path = r.string("remote_path")?;
    let rclone_remote = r.string("rclone_remote")?;
    let rclone_path = r.string("rclone_path")?;
    let ssh_command = r.command_line("ssh_command")?;
    let local_path = r.absolute_path("local_path")?;
    let sync = sync_settings(&mut r, "sync_timeout", "sync_retries", "sync_verify")?;

    // The first version of the driver called the rsync target remote_host
    // and remote_path; they still work, with a nudge.
    for (old, new) in [("remote_host", "rsync_host"), ("remote_path", "rsync_path")] {
        if r.entry(old).is_some() {
            warnings.push(format!(
                "{}: {old} is deprecated; call it {new}",
                path.display()
            ));
        }
    }
    let host = rsync_host.or(remote_host);
    let dest = rsync_path.or(remote_path);

    let rclone_env: Vec<(String, String)> = main
        .entries
        .iter()
        .filter(|e| {
            e.key.starts_with("rclone_") && e.key != "rclone_remote" && e.key != "rclone_path"
        })
        .filter_map(|e| match &e.value {
            RawValue::Str(v) => Some((
                format!("RCLONE_{}", e.key["rclone_".len()..].to_ascii_uppercase()),
                v.clone(),
            )),
            _ => None,
        })
        .collect();

    let service = service.unwrap_or_else(|| "rsync".to_string());
    let remote = match service.to_ascii_lowercase().as_str() {
        "rsync" => match (host, dest) {
            (Some(host), Some(path)) => Some(RemoteSettings::Rsync {
                host,
                path,
                ssh_command,
            }),
            (None, None) => None,
            (None, Some(_)) => return Err(r.missing("rsync_host (the SSH host to copy to)")),
            (Some(_), None) => return Err(r.missing("rsync_path (the directory on the SSH host)")),
        },
        "rclone" => Some(RemoteSettings::Rclone {
            remote: rclone_remote
                .ok_or_else(|| r.missing("rclone_remote (a remote name from rclone.conf)"))?,
            path: rclone_path.unwrap_or_default(),
            env: rclone_env,
        }),
        "local" => Some(RemoteSettings::Local {
            path: local_path.ok_or_else(|| r.missing("local_path"))?,
        }),
        other => {
            return Err(r.error_at(
                "remote_sync_service",
                format!("expected rsync, rclone or local, found \"{other}\""),
            ));
        }
    };

    Ok(Config {
        path: path.to_path_buf(),
        format: ConfigFormat::LegacyIni,
        log_level,
        rtorrent: RtorrentSettings { socket_url },
        client: ClientSettings::default(),
        rotate: Some(rotate),
        remote,
        sync,
        tree: TreeSettings::default(),
        follow: None,
        fish: FishSettings::default(),
        warnings,
    })
}
