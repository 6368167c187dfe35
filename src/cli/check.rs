//! `lowspace check`: is the setup sane? Each line says OK, or what to fix.

use std::io::Write as _;

use argh::FromArgs;

use super::rotate::to_cli;
use super::{CliError, Context};
use crate::client::{ClientError, ClientState, ROTATE_LABEL};
use crate::config::{ClientSettings, Config};
use crate::rotate::gather::{disk_space, managed_torrents};
use crate::rotate::run::{client as rotate_client, state_directory, RotateError};
use crate::size::human_size;
use crate::size::plural;
use crate::sync::{Remote, Syncer};
use crate::torrent::InfoHash;

#[derive(FromArgs)]
/// check the setup: configuration, the torrent client (its version, the
/// login, the torrents labelled "lowspace"), managed directory, disk space
/// against the limit, and the remote (writes and removes a probe file)
#[argh(
    subcommand,
    name = "check",
    example = "After editing the configuration:\n  $ {command_name}",
    note = "Exit codes: 0 everything OK (warnings allowed), 1 something must be fixed, 2 configuration error."
)]
pub struct CheckArgs {}

/// One line of the report.
enum Verdict {
    Ok(String),
    Warn(String),
    Fail(String),
}

impl CheckArgs {
    pub fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        let config = ctx.config()?.clone();
        let mut lines: Vec<(&str, Verdict)> = vec![(
            "config",
            Verdict::Ok(format!("{} ({:?})", config.path.display(), config.format)),
        )];
        let client = rotate_client(&config).map_err(to_cli)?;
        let rotate = config.rotate.as_ref().ok_or_else(|| {
            to_cli(RotateError::Config(format!(
                "{} has no [rotate] section",
                config.path.display()
            )))
        })?;
        let endpoint = endpoint(&config);
        let kind = client.kind();
        // The version first: it is the login, and a client that cannot be
        // reached or refuses the login is named once, not per line.
        let client_state = match client.about() {
            Ok(about) => {
                lines.push((
                    "client",
                    Verdict::Ok(format!("{kind} {about} at {endpoint}")),
                ));
                match client.state() {
                    Ok(state) => Some(state),
                    Err(e) => {
                        lines.push((
                            "torrents",
                            Verdict::Fail(client_failure(kind, &endpoint, &e)),
                        ));
                        None
                    }
                }
            }
            Err(e) => {
                lines.push(("client", Verdict::Fail(client_failure(kind, &endpoint, &e))));
                None
            }
        };

        let dir = &rotate.managed_torrents_directory;
        let scanned = managed_torrents(dir);
        if let (Some(cs), Ok((managed, _))) = (&client_state, &scanned) {
            let hashes: Vec<InfoHash> = managed.iter().map(|m| m.info_hash).collect();
            lines.push(("torrents", torrents_verdict(cs, &hashes)));
        }
        match scanned {
            Ok((managed, corrupt)) if corrupt.is_empty() => lines.push((
                "managed",
                Verdict::Ok(format!(
                    "{}: {}",
                    dir.display(),
                    plural(managed.len() as u64, "torrent", "torrents")
                )),
            )),
            Ok((managed, corrupt)) => {
                let first = corrupt
                    .first()
                    .map(|c| format!(" (first: {}: {})", c.file.display(), c.error))
                    .unwrap_or_default();
                lines.push((
                    "managed",
                    Verdict::Warn(format!(
                        "{}: {}, {} unreadable{first}",
                        dir.display(),
                        plural(managed.len() as u64, "torrent", "torrents"),
                        corrupt.len(),
                    )),
                ))
            }
            Err(e) => lines.push(("managed", Verdict::Fail(e.to_string()))),
        }

        let state = state_directory(rotate);
        let probe = std::fs::create_dir_all(&state).and_then(|_| {
            let p = state.join(".check-probe");
            std::fs::write(&p, b"probe")?;
            std::fs::remove_file(&p)
        });
        lines.push((
            "state",
            match probe {
                Ok(()) => Verdict::Ok(format!("{} is writable", state.display())),
                Err(e) => Verdict::Fail(format!(
                    "{}: {e}; set state_directory to a writable place",
                    state.display()
                )),
            },
        ));

        if let Some(download_dir) = client_state.map(|s| s.download_dir) {
            match disk_space(&download_dir) {
                Ok(disk) if rotate.space_limit > disk.total => lines.push((
                    "disk",
                    Verdict::Warn(format!(
                        "space_limit {} is more than the whole file system of {} ({}); the real free space will limit instead",
                        human_size(rotate.space_limit),
                        download_dir.display(),
                        human_size(disk.total)
                    )),
                )),
                Ok(disk) => lines.push((
                    "disk",
                    Verdict::Ok(format!(
                        "{}: {} free of {}; space_limit {}, reserve {}",
                        download_dir.display(),
                        human_size(disk.free),
                        human_size(disk.total),
                        human_size(rotate.space_limit),
                        human_size(rotate.reserve)
                    )),
                )),
                Err(e) => lines.push(("disk", Verdict::Fail(e.to_string()))),
            }
        }

        match &config.remote {
            None => lines.push((
                "remote",
                Verdict::Fail(
                    "no remote configured: add [remote] (TOML) or rsync_host/rsync_path (legacy)"
                        .into(),
                ),
            )),
            Some(remote) => {
                let syncer = Syncer::new(remote, &config.sync);
                match syncer.probe() {
                    Ok(()) => lines.push((
                        "remote",
                        Verdict::Ok(format!("{} is reachable and writable", syncer.describe())),
                    )),
                    Err(e) => lines.push(("remote", Verdict::Fail(e.to_string()))),
                }
            }
        }

        let mut out = ctx.out();
        let mut failed = 0;
        for (what, verdict) in &lines {
            let (tag, text) = match verdict {
                Verdict::Ok(t) => ("OK  ", t),
                Verdict::Warn(t) => ("WARN", t),
                Verdict::Fail(t) => {
                    failed += 1;
                    ("FAIL", t)
                }
            };
            writeln!(out, "{tag} {what:<9} {text}")
                .map_err(|e| CliError::failure(format!("cannot write: {e}")))?;
        }
        drop(out);
        if failed > 0 {
            return Err(CliError::failure(format!(
                "check: {} to fix",
                plural(failed as u64, "problem", "problems")
            )));
        }
        Ok(())
    }
}

/// Where the client is reached, as the configuration says.
fn endpoint(config: &Config) -> String {
    match &config.client {
        ClientSettings::Rtorrent => config
            .rtorrent
            .socket_url
            .clone()
            .unwrap_or_else(|| "(no socket_url)".into()),
        ClientSettings::Qbittorrent { url, .. }
        | ClientSettings::Transmission { url, .. }
        | ClientSettings::Deluge { url, .. } => url.clone(),
    }
}

/// A client failure worded for the check's line: which client and where,
/// each said once (most errors already name the address they tried).
fn client_failure(kind: &str, endpoint: &str, e: &ClientError) -> String {
    let text = e.to_string();
    let hint = match e {
        ClientError::UnknownTorrent(_) | ClientError::Protocol(_) => {
            "; is that address the kind of client configured?"
        }
        ClientError::Unreachable(_) | ClientError::Refused(_) => "",
    };
    let names_place = text.contains(endpoint.trim_end_matches('/')) || text.contains("://");
    let names_client = text.starts_with(kind) || text.starts_with("deluge-web");
    match (names_place, names_client) {
        (true, true) => format!("{text}{hint}"),
        (true, false) => format!("{kind}: {text}{hint}"),
        (false, _) => format!("{kind} at {endpoint}: {text}{hint}"),
    }
}

/// How many torrents the client has, how many carry rotate's label, and
/// how many of the managed .torrent files it has loaded.
fn torrents_verdict(state: &ClientState, managed: &[InfoHash]) -> Verdict {
    let labelled = state
        .torrents
        .iter()
        .filter(|t| t.label == ROTATE_LABEL)
        .count();
    let loaded = managed
        .iter()
        .filter(|h| {
            let hex = h.to_hex();
            state
                .torrents
                .iter()
                .any(|t| t.hash.eq_ignore_ascii_case(&hex))
        })
        .count();
    Verdict::Ok(format!(
        "{} in the client, {labelled} labelled \"{ROTATE_LABEL}\"; {loaded} of the {} managed loaded",
        plural(state.torrents.len() as u64, "torrent", "torrents"),
        managed.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Message, Torrent};
    use std::path::PathBuf;

    fn torrent(hash: &str, label: &str) -> Torrent {
        Torrent {
            hash: hash.into(),
            name: "n".into(),
            size: 1,
            done: 1,
            complete: true,
            ratio_permille: 0,
            started: true,
            data_path: PathBuf::new(),
            label: label.into(),
            finished_at: None,
        }
    }

    fn text(v: Verdict) -> String {
        match v {
            Verdict::Ok(t) => format!("OK {t}"),
            Verdict::Warn(t) => format!("WARN {t}"),
            Verdict::Fail(t) => format!("FAIL {t}"),
        }
    }

    #[test]
    fn counts_labelled_and_loaded() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let state = ClientState {
            torrents: vec![
                torrent(&a.to_uppercase(), ROTATE_LABEL),
                torrent(&b, ""),
                torrent("not a hash", "lowspace-follow"),
            ],
            download_dir: PathBuf::from("/d"),
            request_limit: 1,
        };
        let managed = [
            InfoHash::from_hex(&a).unwrap(),
            InfoHash::from_hex(&"c".repeat(40)).unwrap(),
        ];
        assert_eq!(
            text(torrents_verdict(&state, &managed)),
            "OK 3 torrents in the client, 1 labelled \"lowspace\"; 1 of the 2 managed loaded"
        );
    }

    #[test]
    fn failures_name_the_client_and_its_url_once() {
        let e = |m: &str| ClientError::Unreachable(Box::new(Message(m.into())));
        assert_eq!(
            client_failure(
                "qBittorrent",
                "http://127.0.0.1:9/",
                &e("connection to http://127.0.0.1:9/api refused")
            ),
            "qBittorrent: connection to http://127.0.0.1:9/api refused"
        );
        assert_eq!(
            client_failure(
                "Transmission",
                "http://h/rpc",
                &e("Transmission at http://u@h/rpc refused the credentials")
            ),
            "Transmission at http://u@h/rpc refused the credentials"
        );
        let e = ClientError::Refused(Box::new(Message("wrong password".into())));
        assert_eq!(
            client_failure("Deluge", "http://h:8112", &e),
            "Deluge at http://h:8112: wrong password"
        );
        let e = ClientError::Protocol(Box::new(Message("not JSON".into())));
        assert_eq!(
            client_failure("rtorrent", "scgi:///s", &e),
            "rtorrent at scgi:///s: not JSON; is that address the kind of client configured?"
        );
    }
}
