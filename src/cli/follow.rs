//! `lowspace follow`: make a torrent client match a published listing (see
//! `crate::follow`).

use argh::FromArgs;

use super::{CliError, Context};
use crate::follow::diff::Allow;
use crate::follow::{self, FollowOptions};
use crate::http::TlsOptions;

#[derive(FromArgs)]
/// make the torrent client hold exactly the torrents a listing names: add the missing ones, remove (with their data) the ones this command added that are no longer listed
#[argh(
    subcommand,
    name = "follow",
    example = "See what would change, without changing anything:\n  $ {command_name} --dry-run",
    example = "Every 10 minutes from cron, following the main box's `lowspace tree` index over HTTPS with a client certificate:\n  */10 * * * * lowspace --log-systemd follow",
    example = "The main box really emptied its tree: let the followers drop everything too:\n  $ {command_name} --allow-empty",
    example = "The main box dropped a large part of its tree on purpose:\n  $ {command_name} --allow-mass-removal",
    note = "Configured in [follow]: listing (http://, https:// or an absolute path of the index.txt `lowspace tree` writes, \
or of plain lines of torrent URLs and magnet links), ca_file, client_cert, client_key, client = \"transmission\" \
(rpc_url, username, password) or \"rtorrent\" (socket_url, default [rtorrent] socket_url); without client, the client of [client] \
(kind = \"qbittorrent\", \"transmission\", \"deluge\" or rtorrent; Deluge needs its Label plugin on), download_dir, \
label (default \"lowspace-follow\", never rotate's \"lowspace\"), allow_empty, allow_mass_removal, timeout. \
Each torrent's data goes to download_dir/<the directory of its listed path>; one found elsewhere (mirrored flat by an older lowspace) is moved, \
and identical files listed at several paths are downloaded once and hard-linked or copied to the others. \
Only torrents carrying the label are ever removed. When the listing cannot be fetched, fails TLS, cannot be parsed, may be cut off \
(no closing line, or a body whose end the transport did not confirm), is empty (without --allow-empty), or would remove more than 10 % \
of the followed torrents (without --allow-mass-removal), nothing is removed. \
Exit codes: 0 the client matches the listing, 1 something failed or removals were withheld, 2 configuration error."
)]
pub struct FollowArgs {
    /// print what would be added and removed, and change nothing
    #[argh(switch)]
    pub dry_run: bool,

    /// let an empty listing remove every followed torrent
    #[argh(switch)]
    pub allow_empty: bool,

    /// let this run remove more than 10 % of the followed torrents (the main box really dropped them)
    #[argh(switch)]
    pub allow_mass_removal: bool,
}

impl FollowArgs {
    pub fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        let config = ctx.config()?;
        let settings = config.follow.clone().ok_or_else(|| {
            CliError::usage(format!(
                "{}: no [follow] section; it needs at least listing and client",
                config.path.display()
            ))
        })?;
        let client = follow::open_client(&settings).map_err(|e| CliError::usage(e.to_string()))?;
        let options = FollowOptions {
            listing: settings.listing.clone(),
            tls: TlsOptions {
                ca_file: settings.ca_file.clone(),
                client_cert: settings.client_cert.clone(),
            },
            timeout: settings.timeout,
            allow: Allow {
                empty: self.allow_empty || settings.allow_empty,
                mass_removal: self.allow_mass_removal || settings.allow_mass_removal,
            },
            dry_run: self.dry_run,
        };
        let outcome = {
            let mut out = ctx.out();
            follow::run(&options, client.as_ref(), &mut *out)
        };
        if let Some(why) = outcome.removals_withheld {
            return Err(CliError::failure(format!("removed nothing: {why}")));
        }
        if !outcome.failures.is_empty() {
            return Err(CliError::failure(format!(
                "{} problems (first: {})",
                outcome.failures.len(),
                outcome.failures.first().map(String::as_str).unwrap_or("")
            )));
        }
        Ok(())
    }
}
