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

#[cfg(test)]
mod tests {
    //! The executor against a listing on the local disk and `FakeClient`, an
    //! in-memory client, for what no real server produces on demand: a
    //! .torrent whose info-hash is not the one listed.
    use super::*;
    use crate::follow::client::{ClientError, ClientTorrent};
    use crate::torrent::create::{encode_metainfo, Metadata, SingleFileInfo};
    use std::cell::RefCell;

    #[derive(Default)]
    struct FakeClient {
        torrents: RefCell<Vec<ClientTorrent>>,
    }

    impl TorrentClient for FakeClient {
        fn kind(&self) -> &'static str {
            "fake"
        }
        fn torrents(&self) -> Result<Vec<ClientTorrent>, ClientError> {
            Ok(self.torrents.borrow().clone())
        }
        fn add_metainfo(&self, bytes: &[u8], hash: InfoHash) -> Result<Added, ClientError> {
            let meta = Metainfo::from_bytes(bytes).map_err(|e| ClientError(e.to_string()))?;
            assert_eq!(meta.info_hash(), hash);
            self.torrents.borrow_mut().push(ClientTorrent {
                info_hash: hash,
                name: meta.name().to_string(),
                labelled: true,
            });
            Ok(Added::Added)
        }
        fn add_magnet(&self, _: &str, hash: InfoHash) -> Result<Added, ClientError> {
            self.torrents.borrow_mut().push(ClientTorrent {
                info_hash: hash,
                name: "magnet".into(),
                labelled: true,
            });
            Ok(Added::Added)
        }
        fn remove_with_data(&self, t: &ClientTorrent) -> Result<(), ClientError> {
            self.torrents
                .borrow_mut()
                .retain(|x| x.info_hash != t.info_hash);
            Ok(())
        }
    }

    fn torrent(name: &str) -> Vec<u8> {
        let info = SingleFileInfo {
            name: name.into(),
            length: 1,
            piece_length: 16384,
            pieces: vec![7; 20],
            private: false,
        };
        encode_metainfo(&info, &Metadata::default()).unwrap()
    }

    fn options(listing: &std::path::Path) -> FollowOptions {
        FollowOptions {
            listing: listing.display().to_string(),
            tls: TlsOptions::default(),
            timeout: std::time::Duration::from_secs(5),
            allow_empty: false,
            dry_run: false,
        }
    }

    #[test]
    fn local_listing_adds_verified_torrents_and_refuses_a_wrong_hash() {
        let dir = std::env::temp_dir().join(format!("lowspace-follow-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let good = torrent("good.bin");
        let good_hash = Metainfo::from_bytes(&good).unwrap().info_hash();
        std::fs::write(dir.join("sub/good.bin.torrent"), &good).unwrap();
        std::fs::write(dir.join("liar.torrent"), torrent("liar.bin")).unwrap();
        let claimed = "ab".repeat(20);
        let magnet = "cd".repeat(20);
        std::fs::write(
            dir.join("index.txt"),
            format!(
                "# lowspace tree index v1\nsub/good.bin.torrent {}\nliar.torrent {claimed}\nmagnet:?xt=urn:btih:{magnet}\n",
                good_hash.to_hex()
            ),
        )
        .unwrap();
        let old = ClientTorrent {
            info_hash: InfoHash::from_bytes([1; 20]),
            name: "old".into(),
            labelled: true,
        };
        let client = FakeClient::default();
        client.torrents.borrow_mut().push(old.clone());
        let mut out = Vec::new();
        let outcome = run(&options(&dir.join("index.txt")), &client, &mut out);
        let report = String::from_utf8(out).unwrap();
        assert_eq!(outcome.added, 2, "{report}");
        assert_eq!(outcome.removed, 1, "{report}");
        assert_eq!(outcome.failures.len(), 1, "{report}");
        assert!(
            outcome.failures[0].contains("but the listing says"),
            "{report}"
        );
        let held: Vec<String> = client
            .torrents
            .borrow()
            .iter()
            .map(|t| t.name.clone())
            .collect();
        assert_eq!(held, ["good.bin", "magnet"]);

        // A listing that cannot be read removes nothing.
        std::fs::write(dir.join("index.txt"), "garbage line here\n").unwrap();
        let outcome = run(&options(&dir.join("index.txt")), &client, &mut Vec::new());
        assert!(outcome.removals_withheld.unwrap().contains("line 1"));
        assert_eq!(client.torrents.borrow().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
