//! Adopting magnets (`lowspace fish --magnets FILE`): for each magnet link
//! whose torrent is not in the load path yet, find peers (the trackers in
//! the link, the DHT, any [`Discovery`](super::discovery::Discovery)
//! source), fetch the info dictionary from them (BEP 9), check it hashes
//! to the info-hash, write the .torrent into the load path, and from then
//! on serve it like any other.
//!
//! - [`magnets_file`]: the file of links (pure).
//! - [`fetch`]: one fetch from one peer, bytes in and out (pure).
//! - [`book`]: which peer to ask next for which magnet (pure).
//! - [`incoming`]: what to do with a peer that dialled us about one (pure).
//! - [`worker`]: the blocking threads that run fetches.
//! - [`torrent_file`]: the .torrent bytes and a safe file name.
//!
//! [`Adopter`] ties them together for the event loop, which calls it with
//! peers and on every turn; it never blocks. The event loop itself runs
//! the fetches from peers that dialled us (on their connection, with the
//! same [`fetch::MetadataFetch`]) and hands each outcome to
//! [`Adopter::caller_done`]; it is settled exactly like a dialled one.

pub mod book;
pub mod fetch;
pub mod incoming;
pub mod magnets_file;
pub mod torrent_file;
pub mod worker;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::discovery::Swarm;
use super::wire::SessionConfig;
use crate::size::human_duration;
use crate::torrent::{InfoHash, MagnetLink, Metainfo};
use book::{AttemptOutcome, PeerBook, Standing};
use fetch::FetchError;
use worker::{Attempt, AttemptError, Workers};

/// What we report as `left` while adopting. The true size is unknown until
/// the metadata arrives; any non-zero value makes trackers count us as a
/// leecher, and leechers are the ones handed seeders (some trackers give a
/// seed only leechers). 1 claims as little as possible.
pub const ADOPTING_LEFT: u64 = 1;

/// A torrent adopted and written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    pub info_hash: InfoHash,
    pub path: PathBuf,
}

/// Counters for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AdoptStatus {
    pub pending: usize,
    pub adopted: u64,
    pub bad_peers: u64,
}

/// The magnets being adopted and the threads fetching them.
pub struct Adopter {
    magnets: HashMap<InfoHash, MagnetLink>,
    book: PeerBook,
    workers: Workers,
    adopted: u64,
    bad_peers: u64,
    /// Finished fetches from peers that dialled us, not yet settled.
    from_callers: Vec<Attempt>,
}

/// Who opened the connection an attempt ran over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// A worker dialled a peer from the book.
    Dialled,
    /// The peer dialled us.
    Caller,
}

impl Adopter {
    /// Starts the fetch threads for `magnets` (none is fetched before
    /// peers arrive).
    /// `local`: the outgoing interface peers are dialled from.
    pub fn start(
        magnets: Vec<MagnetLink>,
        config: SessionConfig,
        local: Option<std::net::IpAddr>,
    ) -> std::io::Result<Adopter> {
        let mut book = PeerBook::new();
        let mut by_hash = HashMap::new();
        for magnet in magnets {
            book.add_magnet(magnet.info_hash);
            by_hash.insert(magnet.info_hash, magnet);
        }
        Ok(Adopter {
            magnets: by_hash,
            book,
            workers: Workers::start(config, local)?,
            adopted: 0,
            bad_peers: 0,
            from_callers: Vec::new(),
        })
    }

    pub fn wants(&self, info_hash: &InfoHash) -> bool {
        self.book.wants(info_hash)
    }

    pub fn status(&self) -> AdoptStatus {
        AdoptStatus {
            pending: self.book.pending_count(),
            adopted: self.adopted,
            bad_peers: self.bad_peers,
        }
    }

    /// The pending magnets, as discovery must look for them: trackers from
    /// the link (one tier each, as libtorrent reads magnets), never private
    /// (a magnet cannot say), flagged so the DHT does not announce us.
    pub fn swarms(&self) -> Vec<Swarm> {
        self.book
            .pending()
            .filter_map(|hash| self.magnets.get(hash))
            .map(|magnet| Swarm {
                info_hash: magnet.info_hash,
                tracker_tiers: std::sync::Arc::new(
                    magnet.trackers.iter().map(|t| vec![t.clone()]).collect(),
                ),
                private: false,
                left: ADOPTING_LEFT,
                adopting: true,
            })
            .collect()
    }

    /// Drops the magnets whose torrent is already served (`held` gives its
    /// file); true when any was dropped.
    pub fn drop_held(&mut self, held: &dyn Fn(&InfoHash) -> Option<PathBuf>) -> bool {
        let done: Vec<(InfoHash, PathBuf)> = self
            .book
            .pending()
            .filter_map(|h| held(h).map(|path| (*h, path)))
            .collect();
        for (hash, path) in &done {
            log::info!(
                "magnet {hash}: already in the load path as {}; nothing to adopt",
                path.display()
            );
            self.forget(hash);
        }
        !done.is_empty()
    }

    fn forget(&mut self, info_hash: &InfoHash) {
        self.book.remove_magnet(info_hash);
        self.magnets.remove(info_hash);
    }

    /// A peer discovery found for a pending magnet (the caller has already
    /// refused our own address).
    pub fn add_peer(&mut self, info_hash: &InfoHash, addr: SocketAddr, now: Instant) {
        if self.book.add_peer(info_hash, addr, now) {
            log::trace!("peer {addr} may have the metadata of {info_hash}");
        }
    }

    /// How we stand with `ip`, which dialled us about `info_hash`.
    pub fn caller_standing(&self, info_hash: &InfoHash, ip: IpAddr, now: Instant) -> Standing {
        self.book.caller_standing(info_hash, ip, now)
    }

    /// A fetch from a peer that dialled us ended; settled at the next
    /// [`tick`](Adopter::tick) with the dialled ones.
    pub fn caller_done(&mut self, attempt: Attempt) {
        self.from_callers.push(attempt);
    }

    /// Logs each pending magnet that has no peer to ask yet.
    pub fn log_waiting(&self) {
        for hash in self.book.pending() {
            if self.book.usable_peers(hash) == 0 {
                let trackers = self.magnets.get(hash).map_or(0, |m| m.trackers.len());
                log::info!(
                    "no peers yet for {hash} ({trackers} trackers in its magnet{})",
                    if trackers == 0 {
                        "; waiting for the DHT"
                    } else {
                        ""
                    }
                );
            }
        }
    }

    /// Collects finished fetches (writing the torrents that arrived into
    /// `load_path`) and starts new ones. Returns what was written.
    pub fn tick(&mut self, now: Instant, load_path: &Path) -> Vec<Adopted> {
        let mut written = Vec::new();
        let dialled = self
            .workers
            .finished()
            .into_iter()
            .map(|a| (a, Origin::Dialled));
        let callers = std::mem::take(&mut self.from_callers)
            .into_iter()
            .map(|a| (a, Origin::Caller));
        let attempts: Vec<(Attempt, Origin)> = dialled.chain(callers).collect();
        for (attempt, origin) in attempts {
            if !self.book.wants(&attempt.info_hash) {
                continue;
            }
            match attempt.result {
                Ok(ref info_bytes) => {
                    let Some(magnet) = self.magnets.get(&attempt.info_hash).cloned() else {
                        continue;
                    };
                    match write_torrent(load_path, &magnet, info_bytes) {
                        Ok(path) => {
                            log::info!(
                                "fetched metadata of {} from {}{}, {} bytes in {}, wrote {}",
                                attempt.info_hash,
                                attempt.addr,
                                match origin {
                                    Origin::Dialled => "",
                                    Origin::Caller => " (it dialled us)",
                                },
                                info_bytes.len(),
                                human_duration(attempt.took),
                                path.display()
                            );
                            self.adopted += 1;
                            self.forget(&attempt.info_hash);
                            written.push(Adopted {
                                info_hash: attempt.info_hash,
                                path,
                            });
                        }
                        Err(WriteError::Unusable(why)) => {
                            log::error!(
                                "metadata of {} from {} hashes right but cannot be served: {why}; giving up on this magnet",
                                attempt.info_hash,
                                attempt.addr
                            );
                            self.forget(&attempt.info_hash);
                        }
                        Err(WriteError::Io(why)) => {
                            log::error!(
                                "fetched metadata of {} but cannot write it: {why}; asking again later",
                                attempt.info_hash
                            );
                            self.settle(&attempt, origin, AttemptOutcome::Failed, now);
                        }
                    }
                }
                Err(ref error) => self.failed(&attempt, origin, error, now),
            }
        }
        for (hash, addr) in self.book.next_attempts(now, self.workers.free()) {
            if self.workers.start_attempt(hash, addr) {
                log::debug!("asking {addr} for the metadata of {hash}");
            } else {
                self.book.finished(&hash, addr, AttemptOutcome::Failed, now);
            }
        }
        written
    }

    fn failed(&mut self, attempt: &Attempt, origin: Origin, error: &AttemptError, now: Instant) {
        let (info_hash, addr) = (attempt.info_hash, attempt.addr);
        if error.peer_is_bad() {
            self.bad_peers += 1;
            if let AttemptError::Fetch(FetchError::HashMismatch(_)) = error {
                log::warn!("peer {addr} sent metadata that does not hash to {info_hash}: dropped");
            } else {
                log::warn!("peer {addr} for {info_hash}: {error}; dropped");
            }
            self.settle(attempt, origin, AttemptOutcome::Bad, now);
        } else {
            let next = match origin {
                Origin::Dialled => "will ask again later",
                Origin::Caller => "heard again when it calls after its back-off",
            };
            log::debug!("peer {addr} could not give the metadata of {info_hash}: {error}; {next}");
            self.settle(attempt, origin, AttemptOutcome::Failed, now);
        }
    }

    /// Books a failed attempt: a dialled peer by its address, a caller by
    /// its IP (its source port is new with every connection).
    fn settle(&mut self, attempt: &Attempt, origin: Origin, outcome: AttemptOutcome, now: Instant) {
        match origin {
            Origin::Dialled => self
                .book
                .finished(&attempt.info_hash, attempt.addr, outcome, now),
            Origin::Caller => {
                self.book
                    .caller_finished(&attempt.info_hash, attempt.addr.ip(), outcome, now)
            }
        }
    }
}

/// Why an adopted torrent was not written.
#[derive(Debug)]
enum WriteError {
    /// lowspace cannot read it back (every peer would send the same).
    Unusable(String),
    Io(String),
}

/// Writes the .torrent for `magnet` into `dir`, never over another file.
fn write_torrent(
    dir: &Path,
    magnet: &MagnetLink,
    info_bytes: &[u8],
) -> Result<PathBuf, WriteError> {
    let bytes = torrent_file::torrent_bytes(&magnet.trackers, info_bytes);
    // What the load-path scan will do with it, checked before writing.
    let meta = Metainfo::from_bytes(&bytes).map_err(|e| WriteError::Unusable(e.to_string()))?;
    if meta.info_hash() != magnet.info_hash {
        return Err(WriteError::Unusable(
            "the info dictionary is not read back as fetched".into(),
        ));
    }
    // The fetch checked the 20-byte hash; a hybrid magnet also names the
    // full v2 one, and a torrent that contradicts its magnet is not served.
    if magnet
        .info_hash_v2
        .is_some_and(|v2| meta.info_hash_v2() != Some(v2))
    {
        return Err(WriteError::Unusable(
            "its v2 info-hash (SHA-256) is not the one in the magnet's btmh".into(),
        ));
    }
    let stem = torrent_file::safe_stem(info_bytes);
    let path = torrent_file::choose_path(dir, stem.as_deref(), &magnet.info_hash, &|p| {
        p.symlink_metadata().is_ok()
    })
    .ok_or_else(|| {
        WriteError::Io(format!(
            "every file name for it in {} is taken",
            dir.display()
        ))
    })?;
    crate::fsutil::write_atomic(&path, &bytes)
        .map_err(|e| WriteError::Io(format!("{}: {e}", path.display())))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &[u8] =
        b"d6:lengthi5e4:name5:a.bin12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";

    fn temp_dir(label: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lowspace-adopt-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn writes_beside_other_files_never_over_them() {
        let dir = temp_dir("write");
        let mut magnet = MagnetLink::new(InfoHash::of_info_bytes(INFO));
        magnet.add_tracker("http://t/announce");
        std::fs::write(dir.join("a.bin.torrent"), b"someone else's").unwrap();
        let path = write_torrent(&dir, &magnet, INFO).unwrap();
        assert_eq!(
            path,
            dir.join(format!("a.bin.{}.torrent", magnet.info_hash.to_hex()))
        );
        assert_eq!(
            std::fs::read(dir.join("a.bin.torrent")).unwrap(),
            b"someone else's"
        );
        let meta = Metainfo::from_file(&path).unwrap();
        assert_eq!(meta.info_bytes(), INFO);
        assert_eq!(meta.trackers(), vec!["http://t/announce"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn metadata_lowspace_cannot_read_is_not_written() {
        let dir = temp_dir("unusable");
        // Hashes right (we compute the hash from it) but is no info dictionary.
        let info = b"d4:name1:xe";
        let magnet = MagnetLink::new(InfoHash::of_info_bytes(info));
        assert!(matches!(
            write_torrent(&dir, &magnet, info),
            Err(WriteError::Unusable(_))
        ));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pending_magnets_are_adopting_swarms() {
        let mut with_trackers = MagnetLink::new(InfoHash::from_bytes([1; 20]));
        with_trackers.add_tracker("http://a/announce");
        with_trackers.add_tracker("udp://b:1");
        let bare = MagnetLink::new(InfoHash::from_bytes([2; 20]));
        let config = SessionConfig {
            peer_id: [7; 20],
            listen_port: 6881,
            dht_port: None,
        };
        let mut adopter = Adopter::start(vec![with_trackers, bare], config, None).unwrap();
        let swarms = adopter.swarms();
        assert_eq!(swarms.len(), 2);
        assert_eq!(
            *swarms[0].tracker_tiers,
            vec![
                vec!["http://a/announce".to_string()],
                vec!["udp://b:1".to_string()]
            ]
        );
        assert!(swarms
            .iter()
            .all(|s| s.adopting && !s.private && s.left == ADOPTING_LEFT));
        assert!(swarms[1].tracker_tiers.is_empty());
        let held = InfoHash::from_bytes([2; 20]);
        assert!(adopter.drop_held(&|h| (*h == held).then(|| PathBuf::from("x.torrent"))));
        assert!(!adopter.wants(&held));
        assert_eq!(adopter.status().pending, 1);
        assert!(!adopter.drop_held(&|_| None));
    }
}
