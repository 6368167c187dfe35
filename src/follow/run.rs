//! The executor: fetch and parse the listing, identify every entry, read
//! the client, let [`super::diff::plan`] decide, then add and remove. Each
//! decision is printed (and logged with its reason); failures are collected
//! so one bad torrent does not stop the others, and the caller turns them
//! into a non-zero exit.

use std::collections::HashMap;
use std::io::Write;

use super::client::{Added, TorrentClient};
use super::diff::{plan, ListingState};
use super::fetch::{Fetcher, Location, MAX_LISTING_BYTES};
use super::listing::{self, ListedTorrent, TorrentSource};
use crate::http::TlsOptions;
use crate::torrent::{InfoHash, Metainfo, MAX_TORRENT_FILE_SIZE};

#[derive(Debug, Clone)]
pub struct FollowOptions {
    pub listing: String,
    pub tls: TlsOptions,
    pub timeout: std::time::Duration,
    pub allow_empty: bool,
    pub dry_run: bool,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub added: usize,
    pub removed: usize,
    pub kept: usize,
    /// Things that went wrong; any of them makes the exit code non-zero.
    pub failures: Vec<String>,
    /// Why nothing was removed, when removals were withheld.
    pub removals_withheld: Option<String>,
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        self.failures.is_empty() && self.removals_withheld.is_none()
    }
}

/// Runs once. Errors writing the report are ignored: the work matters more.
pub fn run(options: &FollowOptions, client: &dyn TorrentClient, out: &mut dyn Write) -> Outcome {
    let mut outcome = Outcome::default();
    let location = match Location::parse(&options.listing) {
        Ok(l) => l,
        Err(e) => return withheld(outcome, out, e),
    };
    let mut fetcher = Fetcher::new(options.tls.clone(), options.timeout);
    let bytes = match fetcher.get(&location, MAX_LISTING_BYTES) {
        Ok(b) => b,
        Err(e) => return withheld(outcome, out, format!("cannot fetch the listing: {e}")),
    };
    let listed = match listing::parse(&bytes) {
        Ok(l) => l,
        Err(e) => {
            return withheld(
                outcome,
                out,
                format!("cannot read the listing {location}: {e}"),
            )
        }
    };
    log::info!("listing {location}: {} torrents", listed.len());

    // Entries given by URL alone are identified by fetching their .torrent.
    let mut fetched: HashMap<InfoHash, Vec<u8>> = HashMap::new();
    let mut by_hash: HashMap<InfoHash, &ListedTorrent> = HashMap::new();
    let mut unidentified = 0usize;
    for entry in &listed {
        let hash = match entry.info_hash {
            Some(h) => h,
            None => match fetch_torrent(&mut fetcher, &location, entry) {
                Ok((hash, bytes)) => {
                    fetched.insert(hash, bytes);
                    hash
                }
                Err(e) => {
                    unidentified += 1;
                    fail(&mut outcome, out, format!("line {}: {e}", entry.line));
                    continue;
                }
            },
        };
        by_hash.entry(hash).or_insert(entry);
    }
    let hashes: Vec<InfoHash> = listed
        .iter()
        .filter_map(|e| e.info_hash)
        .chain(fetched.keys().copied())
        .collect();
    let state = if unidentified == 0 {
        ListingState::Complete(hashes)
    } else {
        ListingState::Partial {
            known: hashes,
            why: format!("{unidentified} listed .torrent files could not be loaded"),
        }
    };

    let torrents = match client.torrents() {
        Ok(t) => t,
        Err(e) => {
            fail(
                &mut outcome,
                out,
                format!("cannot list the {} torrents: {e}", client.kind()),
            );
            return outcome;
        }
    };
    let plan = plan(&state, &torrents, options.allow_empty);
    outcome.kept = plan.keep.len();
    if let Some(why) = &plan.removals_withheld {
        log::warn!("removing nothing: {why}");
        let _ = writeln!(out, "removing nothing: {why}");
        outcome.removals_withheld = Some(why.clone());
    }
    for t in &plan.not_ours {
        log::info!(
            "{}: listed, but already in {} without the label; left alone",
            t.name,
            client.kind()
        );
        let _ = writeln!(
            out,
            "not ours {} {} (no label, left alone)",
            t.info_hash.to_hex(),
            t.name
        );
    }
    let verb = |v: &str| {
        if options.dry_run {
            format!("would {v}")
        } else {
            v.to_string()
        }
    };
    for hash in &plan.add {
        let Some(entry) = by_hash.get(hash) else {
            continue;
        };
        let _ = writeln!(out, "{} {} {}", verb("add"), hash.to_hex(), entry.display());
        if options.dry_run {
            continue;
        }
        let result = match &entry.source {
            TorrentSource::Magnet(m) => client.add_magnet(&m.to_uri(), *hash),
            _ => {
                let bytes = match fetched.remove(hash) {
                    Some(b) => Ok(b),
                    None => fetch_torrent(&mut fetcher, &location, entry).and_then(|(got, b)| {
                        if got == *hash {
                            Ok(b)
                        } else {
                            Err(format!(
                                "its .torrent has info-hash {} but the listing says {}; not added",
                                got.to_hex(),
                                hash.to_hex()
                            ))
                        }
                    }),
                };
                match bytes {
                    Ok(b) => client.add_metainfo(&b, *hash),
                    Err(e) => {
                        fail(&mut outcome, out, format!("{}: {e}", entry.display()));
                        continue;
                    }
                }
            }
        };
        match result {
            Ok(Added::Added) => {
                log::info!(
                    "{}: added, it is listed and was not in {}",
                    entry.display(),
                    client.kind()
                );
                outcome.added += 1;
            }
            Ok(Added::AlreadyThere) => {
                log::info!(
                    "{}: appeared in {} meanwhile; left without our label",
                    entry.display(),
                    client.kind()
                );
            }
            Err(e) => fail(
                &mut outcome,
                out,
                format!("{}: cannot add: {e}", entry.display()),
            ),
        }
    }
    for t in &plan.remove {
        let _ = writeln!(
            out,
            "{} {} {}",
            verb("remove"),
            t.info_hash.to_hex(),
            t.name
        );
        if options.dry_run {
            continue;
        }
        match client.remove_with_data(t) {
            Ok(()) => {
                log::info!(
                    "{}: removed with its data, it is labelled and no longer listed",
                    t.name
                );
                outcome.removed += 1;
            }
            Err(e) => fail(&mut outcome, out, format!("{}: cannot remove: {e}", t.name)),
        }
    }
    let _ = writeln!(
        out,
        "{}{} added, {} removed, {} kept, {} failed",
        if options.dry_run { "dry run: " } else { "" },
        if options.dry_run {
            plan.add.len()
        } else {
            outcome.added
        },
        if options.dry_run {
            plan.remove.len()
        } else {
            outcome.removed
        },
        outcome.kept,
        outcome.failures.len()
    );
    outcome
}

/// Downloads a listed .torrent and reads its info-hash.
fn fetch_torrent(
    fetcher: &mut Fetcher,
    listing: &Location,
    entry: &ListedTorrent,
) -> Result<(InfoHash, Vec<u8>), String> {
    let at = listing.resolve(&entry.source)?;
    let bytes = fetcher.get(&at, MAX_TORRENT_FILE_SIZE as usize)?;
    let meta = Metainfo::from_bytes(&bytes).map_err(|e| format!("{at}: {e}"))?;
    Ok((meta.info_hash(), bytes))
}

fn fail(outcome: &mut Outcome, out: &mut dyn Write, message: String) {
    log::error!("{message}");
    let _ = writeln!(out, "failed: {message}");
    outcome.failures.push(message);
}

fn withheld(mut outcome: Outcome, out: &mut dyn Write, why: String) -> Outcome {
    log::error!("{why}; nothing was added or removed");
    let _ = writeln!(out, "removing nothing: {why}");
    outcome.removals_withheld = Some(why);
    outcome
}
