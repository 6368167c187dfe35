//! `lowspace status`: what every managed torrent is doing, and why.

use std::io::Write as _;

use argh::FromArgs;

use super::rotate::to_cli;
use super::{CliError, Context};
use crate::rotate::report::{status_json, status_text};
use crate::rotate::run::look;

#[derive(FromArgs)]
/// show every managed torrent's state (waiting, downloading, seeding until
/// ratio or time, syncing, synced, too big, corrupt) and the space budget
#[argh(
    subcommand,
    name = "status",
    example = "What is rotation doing?\n  $ {command_name}",
    example = "For scripts:\n  $ {command_name} --json | jq '.torrents[] | select(.state == \"seeding\") | .name'",
    note = "status changes nothing and takes no lock, so it can run while rotate works."
)]
pub struct StatusArgs {
    /// print one JSON object instead of text
    #[argh(switch)]
    pub json: bool,
}

impl StatusArgs {
    pub fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        let config = ctx.config()?.clone();
        let (gathered, plan, client) = look(&config).map_err(to_cli)?;
        let text = if self.json {
            let mut s = status_json(&gathered, &plan).to_string();
            s.push('\n');
            s
        } else {
            status_text(&gathered, &plan, client.kind())
        };
        ctx.out()
            .write_all(text.as_bytes())
            .map_err(|e| CliError::failure(format!("cannot write to standard output: {e}")))
    }
}
