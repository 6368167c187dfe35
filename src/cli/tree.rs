//! `lowspace tree`: one .torrent per source file (see `crate::tree`).
use std::io::IsTerminal;
use std::path::PathBuf;

use argh::FromArgs;

use super::{CliError, Context};
use crate::config::TreeSettings;
use crate::torrent::create::Format;
use crate::tree::piece_size::PieceSize;
use crate::tree::{self, Options, RunError};

#[derive(FromArgs)]
/// make one .torrent per file under SOURCE_DIR, mirroring its directories in OUTPUT_DIR
#[argh(
    subcommand,
    name = "tree",
    example = "Torrents for a library, announced to two trackers, also served over HTTP:\n  $ {command_name} /srv/library /srv/www/torrents --tracker http://tr.example:6969/announce --tracker udp://tr2.example:6969 --webseed https://files.example/library",
    example = "Nightly from cron, removing torrents of deleted files:\n  $ {command_name} /srv/library /srv/www/torrents --tracker http://tr.example/announce --prune",
    example = "Options from the [tree] section of the configuration (trackers = [...], webseed, piece_size, private, prune, ...):\n  $ {command_name} /srv/library /srv/www/torrents",
    example = "See what would be hashed, without writing anything:\n  $ {command_name} /srv/library /srv/www/torrents --tracker http://tr.example/announce --dry-run",
    note = "Writes OUTPUT_DIR/<path>.torrent for every regular file (symlinks, special files, empty and hidden files are skipped with a note), \
OUTPUT_DIR/index.txt (\"<percent-encoded path> <info-hash>\" per line, read by `lowspace follow`) and the manifest \
OUTPUT_DIR/.lowspace-tree.json that lets the next run hash only new or changed files. \
Automatic piece size: file size / 1024 rounded up to a power of two, from 16 KiB to 16 MiB. \
Exit 1 when any file could not be read; the others are still done."
)]
pub struct TreeArgs {
    /// directory whose files get torrents
    #[argh(positional)]
    pub source: PathBuf,

    /// directory the .torrent files, index.txt and the manifest go to
    #[argh(positional)]
    pub output: PathBuf,

    /// tracker announce URL (http, https or udp); repeat for several, tried in order
    #[argh(option)]
    pub tracker: Vec<String>,

    /// web seed base URL (BEP 19): each torrent gets BASE_URL/<percent-encoded path>
    #[argh(option)]
    pub webseed: Option<String>,

    /// piece size: "auto" (default) or a power of two from 16 KiB to 64 MiB, e.g. 1MiB
    #[argh(option)]
    pub piece_size: Option<String>,

    /// torrent format: "v1" (default; every client), "v2" (BEP 52, libtorrent 2
    /// clients only) or "hybrid" (both in one torrent; not taken by
    /// Transmission 3, rtorrent or Deluge 2.0.3)
    #[argh(option)]
    pub format: Option<String>,

    /// mark the torrents private (BEP 27: peers from the trackers only)
    #[argh(switch)]
    pub private: bool,

    /// comment written into every torrent
    #[argh(option)]
    pub comment: Option<String>,

    /// write a creation date (the file's modification time, so still reproducible)
    #[argh(switch)]
    pub creation_date: bool,

    /// hashing threads (default: one per core)
    #[argh(option)]
    pub threads: Option<usize>,

    /// include hidden files and directories (names starting with '.')
    #[argh(switch)]
    pub hidden: bool,

    /// remove torrents whose source file is gone
    #[argh(switch)]
    pub prune: bool,

    /// let --prune remove more than 10 % of the torrents at once
    #[argh(switch)]
    pub allow_mass_removal: bool,

    /// print what would be hashed, rewritten and pruned, and write nothing
    #[argh(switch)]
    pub dry_run: bool,

    /// log every file's decision at info level
    #[argh(switch, short = 'v')]
    pub verbose: bool,
}

fn check_url(what: &str, url: &str, schemes: &[&str]) -> Result<(), CliError> {
    let ok = schemes.iter().any(|scheme| {
        url.strip_prefix(scheme)
            .and_then(|rest| rest.strip_prefix("://"))
            .is_some_and(|rest| !rest.is_empty())
    });
    if !ok || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CliError::usage(format!(
            "{what} \"{url}\" is not a URL starting with {}",
            schemes
                .iter()
                .map(|s| format!("{s}://"))
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    Ok(())
}

impl TreeArgs {
    /// The options of a run, checked.
    pub fn options(self, progress: bool) -> Result<Options, CliError> {
        for tracker in &self.tracker {
            check_url("--tracker", tracker, &["http", "https", "udp"])?;
        }
        if let Some(base) = &self.webseed {
            check_url("--webseed", base, &["http", "https"])?;
        }
        let piece_size = match &self.piece_size {
            Some(text) => {
                PieceSize::parse(text).map_err(|e| CliError::usage(format!("--piece-size: {e}")))?
            }
            None => PieceSize::Auto,
        };
        let format = match &self.format {
            Some(text) => {
                Format::parse(text).map_err(|e| CliError::usage(format!("--format: {e}")))?
            }
            None => Format::V1,
        };
        if self.threads == Some(0) {
            return Err(CliError::usage("--threads must be at least 1"));
        }
        Ok(Options {
            source: self.source,
            output: self.output,
            trackers: self.tracker,
            webseed: self.webseed,
            piece_size,
            format,
            private: self.private,
            comment: self.comment,
            creation_date: self.creation_date,
            threads: self.threads.unwrap_or(0),
            hidden: self.hidden,
            prune: self.prune,
            allow_mass_removal: self.allow_mass_removal,
            dry_run: self.dry_run,
            verbose: self.verbose,
            progress,
        })
    }

    /// Fills what the command line left out from the `[tree]` section.
    fn with_defaults(mut self, defaults: &TreeSettings) -> TreeArgs {
        if self.tracker.is_empty() {
            self.tracker = defaults.trackers.clone();
        }
        self.webseed = self.webseed.or_else(|| defaults.webseed.clone());
        self.piece_size = self.piece_size.or_else(|| defaults.piece_size.clone());
        self.format = self.format.or_else(|| defaults.format.clone());
        self.comment = self.comment.or_else(|| defaults.comment.clone());
        self.threads = self
            .threads
            .or(defaults.threads.map(|t| t as usize).filter(|t| *t > 0));
        self.private |= defaults.private;
        self.creation_date |= defaults.creation_date;
        self.hidden |= defaults.hidden;
        self.prune |= defaults.prune;
        self
    }

    pub fn run(self, ctx: &mut Context) -> Result<(), CliError> {
        let defaults = ctx
            .config_if_present()?
            .map(|c| c.tree.clone())
            .unwrap_or_default();
        let opts = self
            .with_defaults(&defaults)
            .options(std::io::stderr().is_terminal())?;
        if opts.trackers.is_empty() {
            log::warn!(
                "no --tracker given: the torrents can only find peers through DHT or web seeds"
            );
        }
        let summary = {
            let mut out = ctx.out();
            match tree::run(&opts, &mut **out) {
                Ok(summary) => summary,
                Err(RunError::Busy(why)) => {
                    log::info!("{why}");
                    return Ok(());
                }
                Err(RunError::Usage(m)) => return Err(CliError::usage(m)),
                Err(RunError::Failure(m)) => return Err(CliError::failure(m)),
            }
        };
        if opts.dry_run {
            return Ok(());
        }
        log::info!(
            "tree: {} hashed ({} at {:.1} MiB/s), {} rewritten, {} unchanged, {} pruned, {} skipped, {} failed; index.txt lists {} torrents",
            summary.hashed,
            crate::size::human_size(summary.bytes_hashed),
            crate::tree::progress::mib_per_second(summary.bytes_hashed, summary.hash_time),
            summary.rewritten,
            summary.unchanged,
            summary.pruned,
            summary.skipped,
            summary.failures.len(),
            summary.indexed
        );
        if summary.failures.is_empty() {
            Ok(())
        } else {
            let mut listed: Vec<&str> = summary
                .failures
                .iter()
                .take(5)
                .map(String::as_str)
                .collect();
            if summary.failures.len() > 5 {
                listed.push("...");
            }
            Err(CliError::failure(format!(
                "{} failed, the rest is done: {}",
                crate::size::plural(summary.failures.len() as u64, "file", "files"),
                listed.join("; ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<TreeArgs, String> {
        TreeArgs::from_args(&["tree"], args).map_err(|e| e.output)
    }

    #[test]
    fn options_are_checked() {
        let ok = parse(&[
            "s",
            "o",
            "--tracker",
            "http://t/a",
            "--tracker",
            "udp://t2:1",
            "-v",
        ])
        .unwrap()
        .options(false)
        .unwrap();
        assert_eq!(ok.trackers.len(), 2);
        assert!(ok.verbose);
        for (args, fragment) in [
            (
                vec!["s", "o", "--tracker", "ftp://x"],
                "--tracker \"ftp://x\"",
            ),
            (vec!["s", "o", "--tracker", "http://"], "is not a URL"),
            (vec!["s", "o", "--webseed", "udp://x"], "--webseed"),
            (vec!["s", "o", "--piece-size", "1000"], "--piece-size"),
            (vec!["s", "o", "--threads", "0"], "--threads"),
        ] {
            let err = parse(&args).unwrap().options(false).err().unwrap();
            assert!(err.message.contains(fragment), "{args:?}: {}", err.message);
            assert_eq!(err.code, crate::cli::EXIT_USAGE);
        }
    }
}
