//! The executor: fetch and parse the listing, identify every entry, read
//! the client, let [`super::diff::plan`] decide, then add and remove. Each
//! decision is printed (and logged with its reason); failures are collected
//! so one bad torrent does not stop the others, and the caller turns them
//! into a non-zero exit.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::diff::{listing_gap, plan, Allow, Copy, ListingState, Wanted, Withheld};
use super::fetch::{Fetcher, Location, MAX_LISTING_BYTES};
use super::listing::{self, ListedTorrent, TorrentSource};
use crate::client::follow::{Added, FollowClient};
use crate::http::TlsOptions;
use crate::torrent::{InfoHash, Metainfo, MAX_TORRENT_FILE_SIZE};

#[derive(Debug, Clone)]
pub struct FollowOptions {
    pub listing: String,
    pub tls: TlsOptions,
    pub timeout: std::time::Duration,
    pub allow: Allow,
    pub dry_run: bool,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct FollowOutcome {
    pub added: usize,
    pub moved: usize,
    pub copied: usize,
    pub removed: usize,
    pub kept: usize,
    /// Things that went wrong; any of them makes the exit code non-zero.
    pub failures: Vec<String>,
    /// Why nothing was removed, when removals were withheld.
    pub removals_withheld: Option<Withheld>,
}

impl FollowOutcome {
    pub fn is_success(&self) -> bool {
        self.failures.is_empty() && self.removals_withheld.is_none()
    }
}

/// Runs once. Errors writing the report are ignored: the work matters more.
pub fn run(
    options: &FollowOptions,
    client: &dyn FollowClient,
    out: &mut dyn Write,
) -> FollowOutcome {
    let mut outcome = FollowOutcome::default();
    let location = match Location::parse(&options.listing) {
        Ok(l) => l,
        Err(e) => return withheld(outcome, out, e),
    };
    let mut fetcher = Fetcher::new(options.tls.clone(), options.timeout);
    let (bytes, transport_confirmed) = match fetcher.get_checked(&location, MAX_LISTING_BYTES) {
        Ok(b) => b,
        Err(e) => return withheld(outcome, out, format!("cannot fetch the listing: {e}")),
    };
    let parsed = match listing::parse(&bytes) {
        Ok(l) => l,
        Err(e) => {
            return withheld(
                outcome,
                out,
                format!("cannot read the listing {location}: {e}"),
            )
        }
    };
    let listed = parsed.entries;
    log::info!("listing {location}: {} entries", listed.len());

    // Entries given by URL alone are identified by fetching their .torrent.
    let mut fetched: HashMap<InfoHash, Vec<u8>> = HashMap::new();
    let mut by_hash: HashMap<InfoHash, &ListedTorrent> = HashMap::new();
    let mut wanted: Vec<Wanted> = Vec::new();
    let mut unusable = 0usize;
    for entry in &listed {
        let dir = match entry.dir() {
            Ok(d) => d,
            Err(e) => {
                unusable += 1;
                fail(&mut outcome, out, format!("line {}: {e}", entry.line));
                continue;
            }
        };
        let hash = match entry.info_hash {
            Some(h) => h,
            None => match fetch_torrent(&mut fetcher, &location, entry) {
                Ok((hash, bytes)) => {
                    fetched.insert(hash, bytes);
                    hash
                }
                Err(e) => {
                    unusable += 1;
                    fail(&mut outcome, out, format!("line {}: {e}", entry.line));
                    continue;
                }
            },
        };
        by_hash.entry(hash).or_insert(entry);
        match wanted.iter_mut().find(|w| w.info_hash == hash) {
            Some(w) if !w.dirs.contains(&dir) => w.dirs.push(dir),
            Some(_) => {}
            None => wanted.push(Wanted {
                info_hash: hash,
                dirs: vec![dir],
            }),
        }
    }
    let mut gaps = Vec::new();
    if unusable > 0 {
        gaps.push(format!("{unusable} listed entries could not be used"));
    }
    if let Some(gap) = listing_gap(parsed.end, transport_confirmed) {
        gaps.push(gap);
    }
    let state = if gaps.is_empty() {
        ListingState::Complete(wanted)
    } else {
        ListingState::Partial {
            known: wanted,
            why: gaps.join("; "),
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
    let root = match client.download_root() {
        Ok(root) => root,
        Err(e) => {
            fail(
                &mut outcome,
                out,
                format!("cannot tell where {} puts data: {e}", client.kind()),
            );
            return outcome;
        }
    };
    let plan = plan(&state, &torrents, Some(&root), options.allow);
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
    for m in &plan.moves {
        let from = m
            .torrent
            .dir
            .as_deref()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {} {}: {from} -> {} (not at its listed path; moved, not downloaded again)",
            verb("move"),
            m.torrent.info_hash.to_hex(),
            m.torrent.name,
            m.to.display()
        );
        if options.dry_run {
            continue;
        }
        // A client's move renames over whatever is at the target (one of
        // two same-named files mirrored flat, a file of the user's).
        let target = m.to.join(&m.torrent.name);
        if std::fs::symlink_metadata(&target).is_ok() {
            fail(
                &mut outcome,
                out,
                format!(
                    "{}: cannot move to {}: {} already exists; not overwritten",
                    m.torrent.name,
                    m.to.display(),
                    target.display()
                ),
            );
            continue;
        }
        match client.relocate(&m.torrent, &m.to) {
            Ok(()) => {
                log::info!("{}: moved to {}", m.torrent.name, m.to.display());
                outcome.moved += 1;
            }
            Err(e) => fail(
                &mut outcome,
                out,
                format!("{}: cannot move to {}: {e}", m.torrent.name, m.to.display()),
            ),
        }
    }
    for (hash, dir) in &plan.add {
        let Some(entry) = by_hash.get(hash) else {
            continue;
        };
        let target = dir.under(&root);
        let _ = writeln!(
            out,
            "{} {} {} into {} (listed, not in {})",
            verb("add"),
            hash.to_hex(),
            entry.display(),
            target.display(),
            client.kind()
        );
        if options.dry_run {
            continue;
        }
        let result = match &entry.source {
            TorrentSource::Magnet(m) => client.add_magnet(&m.to_uri(), *hash, &target),
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
                    Ok(b) => client.add_metainfo(&b, *hash, &target),
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
                    "{}: added into {}, it is listed and was not in {}",
                    entry.display(),
                    target.display(),
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
    for copy in &plan.copies {
        match place_copy(copy, options.dry_run) {
            Ok(None) => {}
            Ok(Some(how)) => {
                let _ = writeln!(
                    out,
                    "{} {} {} -> {} (identical file listed at several paths)",
                    verb(how),
                    copy.torrent.info_hash.to_hex(),
                    copy.from.display(),
                    copy.to.display()
                );
                if !options.dry_run {
                    outcome.copied += 1;
                }
            }
            Err(e) => fail(&mut outcome, out, e),
        }
    }
    for t in &plan.remove {
        let _ = writeln!(
            out,
            "{} {} {} (labelled, no longer listed; its data is deleted)",
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
    let count = |planned: usize, done: usize| if options.dry_run { planned } else { done };
    let _ = writeln!(
        out,
        "{}{} added, {} removed, {} kept, {} moved, {} copied, {} failed",
        if options.dry_run { "dry run: " } else { "" },
        count(plan.add.len(), outcome.added),
        count(plan.remove.len(), outcome.removed),
        outcome.kept,
        count(plan.moves.len(), outcome.moved),
        outcome.copied,
        outcome.failures.len()
    );
    outcome
}

/// Puts one more copy of a complete torrent's file at a further listed
/// path: a hard link when it can (no space used), else a copy written
/// beside the target and renamed into place. `Ok(None)`: already there.
/// Needs the download directory on this machine; says so when it is not.
fn place_copy(copy: &Copy, dry_run: bool) -> Result<Option<&'static str>, String> {
    let from_meta = std::fs::symlink_metadata(&copy.from).map_err(|e| {
        format!(
            "{}: cannot place the copy {}: {} is not readable here ({e}); is the download directory on another machine? The data is only at its first listed path",
            copy.torrent.name,
            copy.to.display(),
            copy.from.display()
        )
    })?;
    if !from_meta.is_file() {
        return Err(format!(
            "{}: {} is not a plain file; no copy placed at {}",
            copy.torrent.name,
            copy.from.display(),
            copy.to.display()
        ));
    }
    match std::fs::symlink_metadata(&copy.to) {
        Ok(meta) if meta.is_file() && meta.len() == from_meta.len() => return Ok(None),
        Ok(_) => {
            return Err(format!(
                "{}: {} exists and is not the listed file; not overwritten",
                copy.torrent.name,
                copy.to.display()
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", copy.to.display())),
    }
    if dry_run {
        return Ok(Some("copy"));
    }
    let parent = copy.to.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    if std::fs::hard_link(&copy.from, &copy.to).is_ok() {
        return Ok(Some("link"));
    }
    let partial: PathBuf = parent.join(format!(
        ".{}.lowspace-copy",
        copy.to
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::copy(&copy.from, &partial)
        .and_then(|_| std::fs::File::open(&partial)?.sync_all())
        .and_then(|()| std::fs::rename(&partial, &copy.to))
        .map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            format!(
                "cannot copy {} to {}: {e}",
                copy.from.display(),
                copy.to.display()
            )
        })?;
    Ok(Some("copy"))
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

fn fail(outcome: &mut FollowOutcome, out: &mut dyn Write, message: String) {
    log::error!("{message}");
    let _ = writeln!(out, "failed: {message}");
    outcome.failures.push(message);
}

fn withheld(mut outcome: FollowOutcome, out: &mut dyn Write, why: String) -> FollowOutcome {
    let why = Withheld::Unavailable(why);
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
    use crate::client::follow::{ClientTorrent, FollowError};
    use crate::torrent::create::{encode_metainfo, Metadata, SingleFileInfo};
    use std::cell::RefCell;

    #[derive(Default)]
    struct FakeClient {
        torrents: RefCell<Vec<ClientTorrent>>,
    }

    impl FollowClient for FakeClient {
        fn kind(&self) -> &'static str {
            "fake"
        }
        fn torrents(&self) -> Result<Vec<ClientTorrent>, FollowError> {
            Ok(self.torrents.borrow().clone())
        }
        fn download_root(&self) -> Result<PathBuf, FollowError> {
            Ok(PathBuf::from("/srv/follow"))
        }
        fn add_metainfo(
            &self,
            bytes: &[u8],
            hash: InfoHash,
            dir: &Path,
        ) -> Result<Added, FollowError> {
            let meta = Metainfo::from_bytes(bytes).map_err(|e| FollowError(e.to_string()))?;
            assert_eq!(meta.info_hash(), hash);
            self.torrents.borrow_mut().push(ClientTorrent {
                info_hash: hash,
                name: meta.name().to_string(),
                labelled: true,
                dir: Some(dir.to_path_buf()),
                complete: false,
            });
            Ok(Added::Added)
        }
        fn add_magnet(&self, _: &str, hash: InfoHash, dir: &Path) -> Result<Added, FollowError> {
            self.torrents.borrow_mut().push(ClientTorrent {
                info_hash: hash,
                name: "magnet".into(),
                labelled: true,
                dir: Some(dir.to_path_buf()),
                complete: false,
            });
            Ok(Added::Added)
        }
        fn relocate(&self, t: &ClientTorrent, dir: &Path) -> Result<(), FollowError> {
            for held in self.torrents.borrow_mut().iter_mut() {
                if held.info_hash == t.info_hash {
                    held.dir = Some(dir.to_path_buf());
                }
            }
            Ok(())
        }
        fn remove_with_data(&self, t: &ClientTorrent) -> Result<(), FollowError> {
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
            allow: Allow::default(),
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
                "# lowspace tree index v2\nsub/good.bin.torrent {}\nliar.torrent {claimed}\nmagnet:?xt=urn:btih:{magnet}\n# end of index: 3 entries\n",
                good_hash.to_hex()
            ),
        )
        .unwrap();
        let old = ClientTorrent {
            info_hash: InfoHash::from_bytes([1; 20]),
            name: "old".into(),
            labelled: true,
            dir: Some(PathBuf::from("/srv/follow")),
            complete: true,
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
        let dirs: Vec<PathBuf> = client
            .torrents
            .borrow()
            .iter()
            .filter_map(|t| t.dir.clone())
            .collect();
        assert_eq!(
            dirs,
            [PathBuf::from("/srv/follow/sub"), "/srv/follow".into()]
        );

        // A listing that cannot be read removes nothing.
        std::fs::write(dir.join("index.txt"), "garbage line here\n").unwrap();
        let outcome = run(&options(&dir.join("index.txt")), &client, &mut Vec::new());
        assert!(outcome
            .removals_withheld
            .unwrap()
            .to_string()
            .contains("line 1"));

        // Cut before its closing line: the listed one is added, the
        // unlisted labelled ones stay.
        std::fs::write(
            dir.join("index.txt"),
            format!(
                "# lowspace tree index v2\nsub/good.bin.torrent {}\n",
                good_hash.to_hex()
            ),
        )
        .unwrap();
        let client = FakeClient::default();
        client.torrents.borrow_mut().push(old.clone());
        let outcome = run(&options(&dir.join("index.txt")), &client, &mut Vec::new());
        assert_eq!((outcome.added, outcome.removed), (1, 0));
        assert!(matches!(
            outcome.removals_withheld,
            Some(Withheld::Incomplete(ref why)) if why.contains("cut off")
        ));
        assert_eq!(client.torrents.borrow().len(), 2);
        assert_eq!(client.torrents.borrow().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
