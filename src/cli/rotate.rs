//! `lowspace rotate`: one rotation run, for cron or a systemd timer.

use std::io::Write as _;

use argh::FromArgs;

use super::{CliError, Context};
use crate::rotate::report::{outcome_line, plan_text};
use crate::rotate::run::{rotate, RotateError};

#[derive(FromArgs)]
/// feed the managed .torrent files through rtorrent within the space limit,
/// smallest first; copy finished, seeded torrents to the remote, verify the
/// copy, then delete them locally
#[argh(
    subcommand,
    name = "rotate",
    example = "One run (from cron every 30 minutes; rotate locks itself, no lckdo needed):\n  */30 * * * *  {command_name} --log-file /home/pi/lowspace.log",
    example = "See what a run would do, changing nothing:\n  $ {command_name} --dry-run",
    note = "A run that finds another one still going exits 0 at once. Nothing local is deleted \
before every file of the torrent is on the remote with its size. Exit codes: 0 done, 1 rtorrent, \
the disk or the remote failed (nothing was deleted that is not verified), 2 configuration error."
)]
pub struct RotateArgs {
    /// print the plan and change nothing
    #[argh(switch)]
    pub dry_run: bool,
}

impl RotateArgs {
    pub fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        let config = ctx.config()?.clone();
        let report = rotate(&config, self.dry_run).map_err(to_cli)?;
        let Some(report) = report else { return Ok(()) };
        if self.dry_run {
            return ctx
                .out()
                .write_all(plan_text(&report.plan).as_bytes())
                .map_err(|e| CliError::failure(format!("cannot write to standard output: {e}")));
        }
        let outcome = report.outcome.unwrap_or_default();
        log::info!(
            "{}",
            outcome_line(&outcome, report.round_trips, report.client_kind)
        );
        // For scripts/bench: how much the run read. rchar counts read(2)
        // on files and pipes; sockets are read with recv(2), which it does
        // not count, so rtorrent's replies are given apart.
        if let Some(io) = crate::sys::self_io() {
            log::debug!(
                "I/O: read {} bytes from files and pipes (rchar), {} bytes from storage (read_bytes); rtorrent's replies: {} bytes",
                io.rchar,
                io.read_bytes,
                report.rpc_bytes_received
            );
        }
        if outcome.failures.is_empty() {
            Ok(())
        } else {
            Err(CliError::failure(format!(
                "rotate: {} failed: {}",
                crate::rotate::report::plural(outcome.failures.len() as u64, "step", "steps"),
                outcome.failures.join("; ")
            )))
        }
    }
}

pub(super) fn to_cli(e: RotateError) -> CliError {
    match e {
        RotateError::Config(m) => CliError::usage(m),
        RotateError::Failed(m) => CliError::failure(m),
    }
}
