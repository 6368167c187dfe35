//! `lowspace config`: prints the configuration as lowspace understood it.
//!
//! A setup that misbehaves is most often a setup that says something else
//! than its author thinks: another file was found first, a key is spelled
//! wrongly, a size meant GiB and was read as bytes. This command answers
//! "what does lowspace see?" the way `git config --list` does: which file,
//! which syntax, every value with its default filled in, and the warnings.
//!
//! The text form is itself a valid TOML configuration, so it is also the way
//! from the original driver's INI file to TOML:
//! `lowspace --config old.cf config > ~/.config/lowspace/config.toml`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use argh::FromArgs;
use serde_json::{json, Value};

use super::{CliError, Context};
use crate::config::{
    Config, ConfigFormat, FishSettings, FollowClient, FollowSettings, RemoteSettings,
    RotateSettings, TreeSettings,
};
use crate::size::human_duration;
use crate::size::human_size;

#[derive(FromArgs)]
/// print the configuration as lowspace reads it: which file, which syntax,
/// every value with its default filled in, and warnings
#[argh(
    subcommand,
    name = "config",
    example = "Check which file is used and what it says:\n  $ {command_name}",
    example = "Turn the original driver's INI file into TOML:\n  $ lowspace --config ~/.rtorrent_low_space_driver.cf config > ~/.config/lowspace/config.toml",
    example = "The same as JSON, for scripts:\n  $ {command_name} --json",
    note = "The text output is valid TOML. Values of RCLONE_* variables whose name contains \
PASS, SECRET or TOKEN are hidden unless --show-secrets is given. Exit code 2 means the \
configuration is missing or wrong; the message names the file, line and key."
)]
pub struct ConfigArgs {
    /// print JSON instead of TOML
    #[argh(switch)]
    pub json: bool,

    /// show the values of RCLONE_* variables that look like passwords or tokens
    #[argh(switch)]
    pub show_secrets: bool,
}

impl ConfigArgs {
    pub fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        // Warnings were already logged by the context; they are repeated
        // in the report itself.
        let config = ctx.config()?;
        let text = if self.json {
            let value = render_json(config, self.show_secrets);
            serde_json::to_string_pretty(&value)
                .map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?
                + "\n"
        } else {
            render_toml(config, self.show_secrets)
        };
        ctx.out()
            .write_all(text.as_bytes())
            .map_err(|e| CliError::failure(format!("cannot write to standard output: {e}")))
    }
}

/// The name of a syntax as the report shows it.
fn format_name(format: ConfigFormat) -> &'static str {
    match format {
        ConfigFormat::Toml => "TOML",
        ConfigFormat::LegacyIni => "legacy INI",
    }
}

/// rclone reads passwords and tokens from RCLONE_* variables; a report that
/// gets pasted into a bug report should not carry them.
fn is_secret(variable: &str) -> bool {
    ["PASS", "SECRET", "TOKEN"]
        .iter()
        .any(|word| variable.contains(word))
}

const HIDDEN: &str = "(hidden; --show-secrets shows it)";

fn env_value<'v>(name: &str, value: &'v str, show_secrets: bool) -> &'v str {
    if show_secrets || !is_secret(name) {
        value
    } else {
        HIDDEN
    }
}

/// A TOML basic string. JSON's string escapes (`\"`, `\\`, `\n`, `\uXXXX`)
/// are all valid in TOML basic strings, so serde_json does the escaping.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{}\"", text.escape_default()))
}

fn quoted_path(path: &Path) -> String {
    quoted(&path.to_string_lossy())
}

/// Renders the configuration as TOML, defaults filled in, unset optional
/// keys as comments saying what happens without them.
pub fn render_toml(config: &Config, show_secrets: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# lowspace configuration read from {} ({})",
        config.path.display(),
        format_name(config.format)
    );
    let _ = writeln!(
        out,
        "# Defaults are filled in. This is valid TOML: it can be saved as ~/.config/lowspace/config.toml."
    );
    for warning in &config.warnings {
        let _ = writeln!(out, "# warning: {warning}");
    }
    out.push('\n');
    match config.log_level {
        Some(level) => {
            let _ = writeln!(
                out,
                "log_level = {}",
                quoted(&level.as_str().to_ascii_lowercase())
            );
        }
        None => out.push_str("# log_level: not set (--log-level, else info)\n"),
    }

    out.push_str("\n[rtorrent]\n");
    match &config.rtorrent.socket_url {
        Some(url) => {
            let _ = writeln!(out, "socket_url = {}", quoted(url));
        }
        None => out.push_str("# socket_url: not set\n"),
    }
    print_client(&mut out, &config.client);

    out.push('\n');
    match &config.rotate {
        Some(rotate) => render_rotate(&mut out, rotate),
        None => out.push_str("# [rotate]: not configured, so `lowspace rotate` cannot run\n"),
    }

    out.push('\n');
    match &config.remote {
        Some(remote) => render_remote(&mut out, config, remote, show_secrets),
        None => {
            out.push_str("# [remote]: not configured, so nothing is copied to big storage\n");
        }
    }

    out.push('\n');
    render_tree(&mut out, &config.tree);

    out.push('\n');
    match &config.follow {
        Some(follow) => render_follow(&mut out, follow, show_secrets),
        None => out.push_str("# [follow]: not configured, so `lowspace follow` cannot run\n"),
    }

    out.push('\n');
    render_fish(&mut out, &config.fish);
    out
}

/// `[fish]`: the defaults of `lowspace fish`; its command-line options win.
fn render_fish(out: &mut String, fish: &FishSettings) {
    out.push_str("[fish]\n");
    let path = |key: &str, value: &Option<PathBuf>, without: &str| match value {
        Some(p) => format!("{key} = {}\n", quoted_path(p)),
        None => format!("# {key}: not set ({without})\n"),
    };
    out.push_str(&path("load_path", &fish.load_path, "--load-path is needed"));
    match fish.port {
        Some(port) => {
            let _ = writeln!(out, "port = {port}");
        }
        None => out.push_str("# port: not set (6881)\n"),
    }
    for (key, value, without) in [
        ("listen_interface", fish.listen_interface, "all addresses"),
        (
            "outgoing_interface",
            fish.outgoing_interface,
            "the system's choice",
        ),
    ] {
        match value {
            Some(ip) => {
                let _ = writeln!(out, "{key} = {}", quoted(&ip.to_string()));
            }
            None => {
                let _ = writeln!(out, "# {key}: not set ({without})");
            }
        }
    }
    match fish.connections_limit {
        Some(n) => {
            let _ = writeln!(out, "connections_limit = {n}");
        }
        None => out.push_str("# connections_limit: not set (800)\n"),
    }
    let _ = writeln!(out, "dht = {}", fish.dht.unwrap_or(true));
    if fish.dht_bootstrap.is_empty() {
        out.push_str("# dht_bootstrap: not set (the well-known public routers)\n");
    } else {
        let list: Vec<String> = fish.dht_bootstrap.iter().map(|t| quoted(t)).collect();
        let _ = writeln!(out, "dht_bootstrap = [{}]", list.join(", "));
    }
    match fish.dht_rate {
        Some(n) => {
            let _ = writeln!(out, "dht_rate = {n}");
        }
        None => out.push_str("# dht_rate: not set (50 queries a second)\n"),
    }
    match fish.dht_announce_interval {
        Some(d) => {
            let _ = writeln!(
                out,
                "dht_announce_interval = {}",
                quoted(&human_duration(d))
            );
        }
        None => out.push_str("# dht_announce_interval: not set (15m)\n"),
    }
    out.push_str(&path(
        "state_dir",
        &fish.state_dir,
        "$XDG_STATE_HOME/lowspace, else ~/.local/state/lowspace",
    ));
    out.push_str(&path("magnets", &fish.magnets, "no magnets to adopt"));
    for (key, value) in [
        ("rescan_interval", fish.rescan_interval),
        ("report_interval", fish.report_interval),
    ] {
        match value {
            Some(d) => {
                let _ = writeln!(out, "{key} = {}", quoted(&human_duration(d)));
            }
            None => {
                let _ = writeln!(out, "# {key}: not set (5m)");
            }
        }
    }
}

/// `[follow]`: what `lowspace follow` mirrors into which client.
fn render_follow(out: &mut String, follow: &FollowSettings, show_secrets: bool) {
    out.push_str("[follow]\n");
    let _ = writeln!(out, "listing = {}", quoted(&follow.listing));
    match &follow.ca_file {
        Some(ca) => {
            let _ = writeln!(out, "ca_file = {}", quoted_path(ca));
        }
        None => out.push_str("# ca_file: not set (the system's CA bundle)\n"),
    }
    match &follow.client_cert {
        Some((cert, key)) => {
            let _ = writeln!(out, "client_cert = {}", quoted_path(cert));
            let _ = writeln!(out, "client_key = {}", quoted_path(key));
        }
        None => out.push_str("# client_cert, client_key: not set (no client certificate)\n"),
    }
    match &follow.client {
        FollowClient::Transmission {
            rpc_url,
            username,
            password,
        } => {
            out.push_str("client = \"transmission\"\n");
            let _ = writeln!(out, "rpc_url = {}", quoted(rpc_url));
            if let Some(user) = username {
                let _ = writeln!(out, "username = {}", quoted(user));
            }
            if let Some(pass) = password {
                let shown = if show_secrets {
                    pass.as_str()
                } else {
                    "(hidden; --show-secrets)"
                };
                let _ = writeln!(out, "password = {}", quoted(shown));
            }
        }
        FollowClient::Rtorrent { socket_url } => {
            out.push_str("client = \"rtorrent\"\n");
            let _ = writeln!(out, "socket_url = {}", quoted(socket_url));
        }
        // Only [client] can name these; its section prints the login.
        FollowClient::Qbittorrent { url, .. } => {
            let _ = writeln!(out, "# client: not set ([client], qBittorrent at {url})");
        }
        FollowClient::Deluge { url, .. } => {
            let _ = writeln!(out, "# client: not set ([client], Deluge at {url})");
        }
    }
    match &follow.download_dir {
        Some(dir) => {
            let _ = writeln!(out, "download_dir = {}", quoted_path(dir));
        }
        None => out.push_str("# download_dir: not set (the client's default)\n"),
    }
    let _ = writeln!(out, "label = {}", quoted(&follow.label));
    let _ = writeln!(out, "allow_empty = {}", follow.allow_empty);
    let _ = writeln!(out, "allow_mass_removal = {}", follow.allow_mass_removal);
    let _ = writeln!(out, "timeout = {}", quoted(&human_duration(follow.timeout)));
}

/// `[tree]`: the defaults of `lowspace tree`; its command-line options win.
fn render_tree(out: &mut String, tree: &TreeSettings) {
    out.push_str("[tree]\n");
    if tree.trackers.is_empty() {
        out.push_str("# trackers: none (torrents without an announce URL)\n");
    } else {
        let list: Vec<String> = tree.trackers.iter().map(|t| quoted(t)).collect();
        let _ = writeln!(out, "trackers = [{}]", list.join(", "));
    }
    let optional = [
        ("webseed", &tree.webseed, "no web seed"),
        ("piece_size", &tree.piece_size, "automatic"),
        ("format", &tree.format, "v1"),
        ("comment", &tree.comment, "no comment"),
    ];
    for (key, value, without) in optional {
        match value {
            Some(v) => {
                let _ = writeln!(out, "{key} = {}", quoted(v));
            }
            None => {
                let _ = writeln!(out, "# {key}: not set ({without})");
            }
        }
    }
    let _ = writeln!(out, "private = {}", tree.private);
    let _ = writeln!(out, "creation_date = {}", tree.creation_date);
    match tree.threads {
        Some(n) => {
            let _ = writeln!(out, "threads = {n}");
        }
        None => out.push_str("# threads: not set (one per core)\n"),
    }
    let _ = writeln!(out, "hidden = {}", tree.hidden);
    let _ = writeln!(out, "prune = {}", tree.prune);
}

fn render_rotate(out: &mut String, rotate: &RotateSettings) {
    out.push_str("[rotate]\n");
    let _ = writeln!(
        out,
        "managed_torrents_directory = {}",
        quoted_path(&rotate.managed_torrents_directory)
    );
    let _ = writeln!(
        out,
        "space_limit = {}  # {}",
        rotate.space_limit,
        human_size(rotate.space_limit)
    );
    let _ = writeln!(out, "required_ratio = {:?}", rotate.required_ratio);
    match rotate.min_seed_time {
        Some(d) => {
            let _ = writeln!(out, "min_seed_time = {}", quoted(&human_duration(d)));
        }
        None => out.push_str("# min_seed_time: not set (no minimum seeding time)\n"),
    }
    match rotate.max_seed_time {
        Some(d) => {
            let _ = writeln!(out, "max_seed_time = {}", quoted(&human_duration(d)));
        }
        None => out.push_str("# max_seed_time: not set (wait for the ratio however long)\n"),
    }
    let _ = writeln!(
        out,
        "reserve = {}  # {}",
        rotate.reserve,
        human_size(rotate.reserve)
    );
    match &rotate.done_directory {
        Some(dir) => {
            let _ = writeln!(out, "done_directory = {}", quoted_path(dir));
        }
        None => out.push_str("# done_directory: not set (finished .torrent files are deleted)\n"),
    }
    match &rotate.completed_directory {
        Some(dir) => {
            let _ = writeln!(out, "completed_directory = {}", quoted_path(dir));
        }
        None => out.push_str(
            "# completed_directory: not set (data is deleted only inside rtorrent's download directory)\n",
        ),
    }
    match &rotate.state_directory {
        Some(dir) => {
            let _ = writeln!(out, "state_directory = {}", quoted_path(dir));
        }
        None => {
            let _ = writeln!(
                out,
                "# state_directory: not set (default: {})",
                rotate
                    .managed_torrents_directory
                    .join(".lowspace")
                    .display()
            );
        }
    }
}

fn render_remote(out: &mut String, config: &Config, remote: &RemoteSettings, show_secrets: bool) {
    out.push_str("[remote]\n");
    let mut env: &[(String, String)] = &[];
    match remote {
        RemoteSettings::Rsync {
            host,
            path,
            ssh_command,
        } => {
            out.push_str("service = \"rsync\"\n");
            let _ = writeln!(out, "host = {}", quoted(host));
            let _ = writeln!(out, "path = {}", quoted(path));
            match ssh_command {
                Some(words) => {
                    let words: Vec<String> = words.iter().map(|w| quoted(w)).collect();
                    let _ = writeln!(out, "ssh_command = [{}]", words.join(", "));
                }
                None => out.push_str("# ssh_command: not set (rsync's default, ssh)\n"),
            }
        }
        RemoteSettings::Rclone {
            remote,
            path,
            env: vars,
        } => {
            out.push_str("service = \"rclone\"\n");
            let _ = writeln!(out, "rclone_remote = {}", quoted(remote));
            let _ = writeln!(out, "path = {}", quoted(path));
            env = vars;
        }
        RemoteSettings::Local { path } => {
            out.push_str("service = \"local\"\n");
            let _ = writeln!(out, "path = {}", quoted_path(path));
        }
    }
    let _ = writeln!(
        out,
        "timeout = {}",
        quoted(&human_duration(config.sync.timeout))
    );
    let _ = writeln!(out, "retries = {}", config.sync.retries);
    let _ = writeln!(out, "verify = {}", quoted(config.sync.verify.name()));
    if !env.is_empty() {
        out.push_str("\n[remote.rclone_env]\n");
        for (name, value) in env {
            let _ = writeln!(
                out,
                "{name} = {}",
                quoted(env_value(name, value, show_secrets))
            );
        }
    }
}

/// The same report as JSON: sizes in bytes, durations in seconds, unset
/// values as null.
pub fn render_json(config: &Config, show_secrets: bool) -> Value {
    let path_text = |p: &Path| p.to_string_lossy().into_owned();
    let rotate = config.rotate.as_ref().map(|r| {
        json!({
            "managed_torrents_directory": path_text(&r.managed_torrents_directory),
            "space_limit": r.space_limit,
            "required_ratio": r.required_ratio,
            "min_seed_time": r.min_seed_time.map(|d| d.as_secs()),
            "max_seed_time": r.max_seed_time.map(|d| d.as_secs()),
            "reserve": r.reserve,
            "done_directory": r.done_directory.as_deref().map(path_text),
            "completed_directory": r.completed_directory.as_deref().map(path_text),
            "state_directory": path_text(
                &r.state_directory
                    .clone()
                    .unwrap_or_else(|| r.managed_torrents_directory.join(".lowspace"))
            ),
        })
    });
    let remote = config.remote.as_ref().map(|remote| {
        let mut value = match remote {
            RemoteSettings::Rsync {
                host,
                path,
                ssh_command,
            } => json!({
                "service": "rsync",
                "host": host,
                "path": path,
                "ssh_command": ssh_command,
            }),
            RemoteSettings::Rclone { remote, path, env } => {
                let env: serde_json::Map<String, Value> = env
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.clone(),
                            Value::from(env_value(name, value, show_secrets)),
                        )
                    })
                    .collect();
                json!({
                    "service": "rclone",
                    "rclone_remote": remote,
                    "path": path,
                    "rclone_env": env,
                })
            }
            RemoteSettings::Local { path } => json!({
                "service": "local",
                "path": path_text(path),
            }),
        };
        if let Some(map) = value.as_object_mut() {
            map.insert("timeout".into(), config.sync.timeout.as_secs().into());
            map.insert("retries".into(), config.sync.retries.into());
            map.insert("verify".into(), config.sync.verify.name().into());
        }
        value
    });
    json!({
        "file": path_text(&config.path),
        "format": match config.format {
            ConfigFormat::Toml => "toml",
            ConfigFormat::LegacyIni => "legacy-ini",
        },
        "log_level": config.log_level.map(|l| l.as_str().to_ascii_lowercase()),
        "rtorrent": { "socket_url": config.rtorrent.socket_url },
        "rotate": rotate,
        "remote": remote,
        "tree": {
            "trackers": config.tree.trackers,
            "webseed": config.tree.webseed,
            "piece_size": config.tree.piece_size,
            "format": config.tree.format,
            "private": config.tree.private,
            "comment": config.tree.comment,
            "creation_date": config.tree.creation_date,
            "threads": config.tree.threads,
            "hidden": config.tree.hidden,
            "prune": config.tree.prune,
        },
        "follow": config.follow.as_ref().map(|f| json!({
            "listing": f.listing,
            "ca_file": f.ca_file,
            "client_cert": f.client_cert.as_ref().map(|(c, _)| c),
            "client_key": f.client_cert.as_ref().map(|(_, k)| k),
            "client": match &f.client {
                FollowClient::Transmission { rpc_url, username, password } => json!({
                    "kind": "transmission", "rpc_url": rpc_url, "username": username,
                    "password": password.as_ref().map(|p| if show_secrets { p.as_str() } else { "(hidden)" }),
                }),
                FollowClient::Rtorrent { socket_url } => json!({"kind": "rtorrent", "socket_url": socket_url}),
                FollowClient::Qbittorrent { url, username, password, api_key } => json!({
                    "kind": "qbittorrent", "url": url, "username": username,
                    "password": password.as_ref().map(|p| if show_secrets { p.as_str() } else { "(hidden)" }),
                    "api_key": api_key.as_ref().map(|k| if show_secrets { k.as_str() } else { "(hidden)" }),
                }),
                FollowClient::Deluge { url, password } => json!({
                    "kind": "deluge", "url": url,
                    "password": password.as_ref().map(|p| if show_secrets { p.as_str() } else { "(hidden)" }),
                }),
            },
            "download_dir": f.download_dir,
            "label": f.label,
            "allow_empty": f.allow_empty,
            "allow_mass_removal": f.allow_mass_removal,
            "timeout_seconds": f.timeout.as_secs(),
        })),
        "fish": {
            "load_path": config.fish.load_path,
            "port": config.fish.port,
            "listen_interface": config.fish.listen_interface.map(|ip| ip.to_string()),
            "outgoing_interface": config.fish.outgoing_interface.map(|ip| ip.to_string()),
            "connections_limit": config.fish.connections_limit,
            "dht": config.fish.dht.unwrap_or(true),
            "dht_bootstrap": config.fish.dht_bootstrap,
            "dht_rate": config.fish.dht_rate,
            "dht_announce_interval_seconds": config.fish.dht_announce_interval.map(|d| d.as_secs()),
            "state_dir": config.fish.state_dir,
            "magnets": config.fish.magnets,
            "rescan_interval_seconds": config.fish.rescan_interval.map(|d| d.as_secs()),
            "report_interval_seconds": config.fish.report_interval.map(|d| d.as_secs()),
        },
        "warnings": config.warnings,
    })
}

/// `[client]`; the password is never printed (the output ends up in
/// support requests).
fn print_client(out: &mut String, client: &crate::config::ClientSettings) {
    use crate::config::ClientSettings;
    out.push_str("\n[client]\n");
    match client {
        ClientSettings::Rtorrent => out.push_str("kind = \"rtorrent\"\n"),
        ClientSettings::Qbittorrent {
            url,
            username,
            password,
            api_key,
        } => {
            out.push_str("kind = \"qbittorrent\"\n");
            let _ = writeln!(out, "url = {}", quoted(url));
            match (username, api_key) {
                (Some(u), _) => {
                    let _ = writeln!(out, "username = {}", quoted(u));
                }
                (None, Some(_)) => {
                    out.push_str("# username: not set (the API key replaces the login)\n")
                }
                (None, None) => out.push_str("# username: not set (no login)\n"),
            }
            if password.is_some() {
                out.push_str("# password: set, not shown\n");
            }
            if api_key.is_some() {
                out.push_str("# api_key: set, not shown\n");
            }
        }
        ClientSettings::Transmission {
            url,
            username,
            password,
        } => {
            out.push_str("kind = \"transmission\"\n");
            let _ = writeln!(out, "url = {}", quoted(url));
            match username {
                Some(u) => {
                    let _ = writeln!(out, "username = {}", quoted(u));
                }
                None => out.push_str("# username: not set (no authentication)\n"),
            }
            if password.is_some() {
                out.push_str("# password: set, not shown\n");
            }
        }
        ClientSettings::Deluge { url, password } => {
            out.push_str("kind = \"deluge\"\n");
            let _ = writeln!(out, "url = {}", quoted(url));
            match password {
                Some(_) => out.push_str("# password: set, not shown\n"),
                None => out.push_str("# password: not set (deluge-web's default)\n"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use std::path::PathBuf;
    use std::time::Duration;

    /// What the report prints must load back to the same settings: that is
    /// what makes it a migration path from the INI file.
    fn round_trip(path: &str, text: &str) {
        let original = parse(Path::new(path), text).unwrap();
        let printed = render_toml(&original, true);
        let reread = parse(Path::new("/printed.toml"), &printed)
            .unwrap_or_else(|e| panic!("{e}\n--- printed ---\n{printed}"));
        assert_eq!(reread.log_level, original.log_level, "{printed}");
        assert_eq!(reread.rtorrent, original.rtorrent, "{printed}");
        assert_eq!(reread.rotate, original.rotate, "{printed}");
        // Environment variables are a set: TOML tables do not keep order.
        let sorted = |remote: Option<RemoteSettings>| match remote {
            Some(RemoteSettings::Rclone {
                remote,
                path,
                mut env,
            }) => {
                env.sort();
                Some(RemoteSettings::Rclone { remote, path, env })
            }
            other => other,
        };
        assert_eq!(
            sorted(reread.remote.clone()),
            sorted(original.remote.clone()),
            "{printed}"
        );
        assert_eq!(reread.tree, original.tree, "{printed}");
        assert_eq!(reread.follow, original.follow, "{printed}");
        if original.remote.is_some() {
            assert_eq!(reread.sync, original.sync, "{printed}");
        }
    }

    #[test]
    fn printed_toml_reads_back_to_the_same_settings() {
        round_trip(
            "/c.cf",
            "[main]\nmanaged_torrents_directory = /srv/t\nspace_limit = 3 GiB\n\
             required_ratio = 1.5\nremote_host = me@nas\nremote_path = /big \"quoted\"\n\
             min_seed_time = 1d 12h\nsync_timeout = 90s\nsync_retries = 7\nlog_level = warning\n",
        );
        round_trip(
            "/c.cf",
            "[main]\nmanaged_torrents_directory = /srv/t\nspace_limit = 1000\n\
             remote_sync_service = rclone\nrclone_remote = box\nrclone_path = a/b\n\
             rclone_config_pass = s3cret\nrclone_bwlimit = 1M\n",
        );
        round_trip(
            "/c.toml",
            "[rtorrent]\nsocket_url = \"scgi:///run/rt.sock\"\n[rotate]\n\
             managed_torrents_directory = \"/m\"\nspace_limit = \"500MB\"\nreserve = \"1 GiB\"\n\
             done_directory = \"/m/done\"\nstate_directory = \"/var/lib/ls\"\nmax_seed_time = 3600\n\
             [remote]\nservice = \"local\"\npath = \"/mnt/usb\"\n",
        );
        round_trip(
            "/c.toml",
            "[fish]\nload_path = \"/srv/t\"\nport = 7000\nlisten_interface = \"127.0.0.1\"\nconnections_limit = 5\ndht = false\ndht_bootstrap = [\"127.0.0.1:7001\"]\ndht_rate = 200\ndht_announce_interval = \"30m\"\nstate_dir = \"/s\"\nmagnets = \"/m.txt\"\nrescan_interval = \"90s\"\n",
        );
        round_trip("/c.toml", "log_level = \"debug\"\n");
        round_trip(
            "/c.toml",
            "[tree]\ntrackers = [\"http://t/announce\", \"udp://u:6969\"]\nwebseed = \"https://w/\"\n\
             piece_size = \"auto\"\nformat = \"hybrid\"\nprivate = true\ncomment = \"a \\\"b\\\"\"\ncreation_date = true\n\
             threads = 2\nhidden = true\nprune = true\n",
        );
        round_trip(
            "/c.toml",
            "[follow]\nlisting = \"https://main/idx/index.txt\"\nca_file = \"/etc/ca.pem\"\n\
             client_cert = \"/etc/c.pem\"\nclient_key = \"/etc/c.key\"\nclient = \"transmission\"\n\
             rpc_url = \"http://127.0.0.1:9091/transmission/rpc\"\nusername = \"u\"\npassword = \"p\"\n\
             download_dir = \"/srv/m\"\nlabel = \"mine\"\nallow_empty = true\nallow_mass_removal = true\ntimeout = \"90s\"\n",
        );
        round_trip(
            "/c.toml",
            "[rtorrent]\nsocket_url = \"/run/rt.sock\"\n[follow]\nlisting = \"/srv/idx.txt\"\nclient = \"rtorrent\"\n",
        );
    }

    #[test]
    fn secrets_are_hidden_unless_asked_for() {
        let config = parse(
            Path::new("/c.cf"),
            "[main]\nmanaged_torrents_directory = /m\nspace_limit = 1\n\
             remote_sync_service = rclone\nrclone_remote = r\nrclone_config_pass = s3cret\n\
             rclone_bwlimit = 1M\n",
        )
        .unwrap();
        let hidden = render_toml(&config, false);
        assert!(!hidden.contains("s3cret"), "{hidden}");
        assert!(hidden.contains("RCLONE_BWLIMIT = \"1M\""), "{hidden}");
        assert!(render_toml(&config, true).contains("RCLONE_CONFIG_PASS = \"s3cret\""));
        let json = render_json(&config, false).to_string();
        assert!(!json.contains("s3cret"), "{json}");
    }

    #[test]
    fn durations_in_the_shortest_form() {
        for (secs, text) in [
            (0, "0s"),
            (59, "59s"),
            (300, "5m"),
            (5400, "1h 30m"),
            (129_600, "1d 12h"),
            (90_061, "1d 1h 1m 1s"),
        ] {
            assert_eq!(human_duration(Duration::from_secs(secs)), text);
            assert_eq!(
                crate::size::parse_duration(text).unwrap(),
                Duration::from_secs(secs)
            );
        }
    }

    #[test]
    fn json_fills_in_defaults() {
        let config = parse(
            Path::new("/c.toml"),
            "[rotate]\nmanaged_torrents_directory = \"/m\"\nspace_limit = 10\n",
        )
        .unwrap();
        let json = render_json(&config, false);
        assert_eq!(json["format"], "toml");
        assert_eq!(json["rotate"]["required_ratio"], 1.0);
        assert_eq!(json["rotate"]["reserve"], 0);
        assert_eq!(json["rotate"]["state_directory"], "/m/.lowspace");
        assert_eq!(json["remote"], Value::Null);
        assert_eq!(config.path, PathBuf::from("/c.toml"));
    }
}
