//! `lowspace check`: is the setup sane? Each line says OK, or what to fix.

use std::io::Write as _;

use argh::FromArgs;

use super::rotate::to_cli;
use super::{CliError, Context};
use crate::rotate::gather::{disk_space, managed_torrents};
use crate::rotate::run::{settings, state_directory};
use crate::rtorrent::directory::download_directory;
use crate::size::human_size;
use crate::size::plural;
use crate::sync::{Remote, Syncer};

#[derive(FromArgs)]
/// check the setup: configuration, rtorrent, managed directory, disk space
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
        let (rotate, client) = settings(&config).map_err(to_cli)?;

        match client.client_version() {
            Ok(version) => lines.push(("rtorrent", Verdict::Ok(format!("version {version}")))),
            Err(e) => lines.push(("rtorrent", Verdict::Fail(e.to_string()))),
        }

        let dir = &rotate.managed_torrents_directory;
        match managed_torrents(dir) {
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

        if let Ok(download_dir) = download_directory(&client) {
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
