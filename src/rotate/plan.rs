//! The rotation planner: a pure function from what a run sees (snapshot,
//! settings, journal) to what it will do and why. Nothing here touches the
//! disk, the network or the clock, so every branch is table-tested below
//! and `--dry-run` and `status` show exactly what a real run would decide.

use super::batches::unloadable;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::backoff::{self, Retry};
use super::bigfile::{plan_files, reserve, DiskKind, FilePlan, FileState, Layout, Skipped};
use super::journal::{Entry, Journal, Phase};
use super::report::{plural, utc_minute};
use super::snapshot::{Loaded, ManagedTorrent, Snapshot};
use crate::config::RotateSettings;
use crate::size::human_size;
pub use crate::size::short_duration as show_duration;
use crate::torrent::InfoHash;

/// The rules a rotation follows, taken from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub space_limit: u64,
    /// Required ratio × 1000, in rtorrent's unit.
    pub required_ratio_milli: i64,
    pub min_seed_time: Option<Duration>,
    pub max_seed_time: Option<Duration>,
    pub reserve: u64,
}

impl Policy {
    pub fn from_settings(settings: &RotateSettings) -> Policy {
        Policy {
            space_limit: settings.space_limit,
            required_ratio_milli: (settings.required_ratio * 1000.0).round() as i64,
            min_seed_time: settings.min_seed_time,
            max_seed_time: settings.max_seed_time,
            reserve: settings.reserve,
        }
    }
}

/// Where each managed torrent stands, as `status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum TorrentState {
    /// Not loaded; it does not fit yet.
    Waiting { needs: u64, free: u64 },
    /// Not loaded: a torrent bigger than the limit has waited longer and
    /// goes first (file by file).
    WaitingBehind { behind: String },
    /// Bigger than the whole space limit.
    TooBig,
    /// Its .torrent is too big for one request to rtorrent.
    CannotLoad { reason: String },
    /// Will be loaded by this run.
    Loading,
    /// In rtorrent, not complete.
    Downloading { completed: u64, size: u64 },
    /// Complete, not yet seeded enough.
    Seeding {
        ratio_milli: i64,
        waiting_for: String,
    },
    /// Copy to the remote started or about to start.
    Syncing,
    /// On the remote and verified; local copy being removed.
    Synced { phase: Phase },
    /// Ready to sync, but its last sync failed for a reason of its own:
    /// not tried again before `next_try`.
    BackedOff {
        failures: u32,
        reason: String,
        /// Seconds since the epoch.
        next_try: u64,
        /// Seconds from the snapshot to `next_try`.
        wait: u64,
    },
    /// Being downloaded file by file (bigger than what the disk allows).
    FileByFile {
        on_remote: usize,
        files: usize,
        too_big: usize,
    },
    /// Finished file by file except for files bigger than the space limit;
    /// taken up again when the limit changes.
    Partial { too_big: usize },
}

impl fmt::Display for TorrentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TorrentState::Waiting { needs, free } => {
                write!(
                    f,
                    "waiting: needs {}, {} free",
                    human_size(*needs),
                    human_size(*free)
                )
            }
            TorrentState::WaitingBehind { behind } => write!(
                f,
                "waiting behind {behind}, which has waited longer (file by file next)"
            ),
            TorrentState::TooBig => f.write_str("too big for the space limit"),
            TorrentState::CannotLoad { reason } => write!(f, "cannot be loaded: {reason}"),
            TorrentState::Loading => f.write_str("loading"),
            TorrentState::Downloading { completed, size } => {
                let pct = if *size == 0 {
                    100.0
                } else {
                    *completed as f64 * 100.0 / *size as f64
                };
                write!(f, "downloading {pct:.1}%")
            }
            // The ratio is in status's RATIO column, and in `waiting_for`
            // when the ratio is what it waits for.
            TorrentState::Seeding { waiting_for, .. } => write!(f, "seeding until {waiting_for}"),
            TorrentState::Syncing => f.write_str("syncing"),
            TorrentState::Synced { phase } => write!(f, "synced ({phase})"),
            TorrentState::BackedOff {
                failures,
                reason,
                next_try,
                wait,
            } => write!(
                f,
                "sync failed ({}), next try in {} ({}): {reason}",
                plural(u64::from(*failures), "time", "times"),
                show_duration(Duration::from_secs(*wait)),
                utc_minute(*next_try)
            ),
            TorrentState::FileByFile {
                on_remote,
                files,
                too_big,
            } => {
                write!(f, "file by file: {on_remote} of {files} files on the remote")?;
                if *too_big > 0 {
                    write!(f, ", {too_big} too big for the space limit")?;
                }
                Ok(())
            }
            TorrentState::Partial { too_big } => write!(
                f,
                "on the remote except {} too big for the space limit; raise space_limit to fetch them",
                plural(*too_big as u64, "file", "files")
            ),
        }
    }
}

/// A torrent to copy to the remote, verify, then remove locally.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncStep {
    pub info_hash: InfoHash,
    pub name: String,
    pub torrent_file: PathBuf,
    /// The data: the file of a single-file torrent, the directory of a
    /// multi-file one.
    pub base_path: PathBuf,
    /// Files relative to `base_path`'s parent, with the sizes the remote
    /// must show: the first component is `base_path`'s own name.
    pub files: Vec<(Vec<String>, u64)>,
    pub size: u64,
    /// Whether rtorrent still holds it (it must be erased after the copy).
    pub loaded: bool,
    /// What its removal adds to [`Budget::freed`] and
    /// [`Budget::freed_on_disk`]: if the sync fails, the executor takes
    /// them back out before loading.
    pub frees: u64,
    pub frees_on_disk: u64,
}

/// A torrent whose copy is verified: finish removing it locally.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoveStep {
    pub info_hash: InfoHash,
    pub entry: Entry,
    /// Relative file paths under `entry.base_path`'s parent to delete
    /// (from the journal, so they are known even without the .torrent).
    pub files: Vec<Vec<String>>,
    pub loaded: bool,
}

impl RemoveStep {
    /// What finishing it adds to [`Budget::freed_on_disk`]: its data, unless
    /// that is already deleted.
    pub fn frees_on_disk(&self) -> u64 {
        if self.entry.phase < Phase::DataDeleted {
            self.entry.size
        } else {
            0
        }
    }
}

/// A torrent to add to rtorrent.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadStep {
    pub info_hash: InfoHash,
    pub name: String,
    pub torrent_file: PathBuf,
    pub size: u64,
}

/// One run of file-by-file mode (see [`super::bigfile`]): the executor
/// stops the torrent, reads its files afresh and decides with
/// [`plan_files`]; `preview` is that decision on the snapshot, for
/// `status` and `--dry-run`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileModeStep {
    pub info_hash: InfoHash,
    pub name: String,
    pub torrent_file: PathBuf,
    /// Chosen by this run; the journal has no record of it yet.
    pub entering: bool,
    /// rtorrent holds it; if not, it is loaded with every file off.
    pub loaded: bool,
    pub single_file: bool,
    pub piece_length: u64,
    /// The download directory's file system (sparse files or not).
    pub disk: DiskKind,
    /// Where the client writes skipped files' parts of shared pieces.
    pub skipped: Skipped,
    /// The torrent's files relative to its data path, with sizes.
    pub files: Vec<(Vec<String>, u64)>,
    /// Bytes the torrent's files may take on the local disk.
    pub budget: u64,
    /// The space limit of this run (a partial result records it).
    pub space_limit: u64,
    /// Indexes already verified on the remote.
    pub on_remote: BTreeSet<usize>,
    /// The files as seen by the snapshot and what a run would do with them;
    /// None until rtorrent holds the torrent.
    pub preview: Option<(Vec<FileState>, FilePlan)>,
}

/// The space budget of the run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Budget {
    pub limit: u64,
    /// Sizes of the managed torrents in rtorrent.
    pub used: u64,
    /// Bytes those torrents will still download.
    pub still_to_download: u64,
    pub disk_free: u64,
    pub reserve: u64,
    /// Bytes of `used` that this run's syncs take away once verified.
    pub freed: u64,
    /// Bytes on disk this run's syncs and removals delete: also the data of
    /// torrents the journal is finishing, which `used` no longer counts.
    pub freed_on_disk: u64,
    /// What loading may use after this run's removals.
    pub available: u64,
}

impl Budget {
    /// `available` when `lost` of `freed` and `lost_on_disk` of
    /// `freed_on_disk` did not materialise (a sync or removal failed).
    pub fn available_without(&self, lost: u64, lost_on_disk: u64) -> u64 {
        let by_limit = self.limit.saturating_sub(self.used);
        let by_disk = self
            .disk_free
            .saturating_sub(self.reserve)
            .saturating_sub(self.still_to_download);
        by_limit
            .saturating_add(self.freed.saturating_sub(lost))
            .min(by_disk.saturating_add(self.freed_on_disk.saturating_sub(lost_on_disk)))
    }
}

/// What one run will do, and the reasons, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Journal entries whose torrent is entirely gone: drop them.
    pub forget: Vec<InfoHash>,
    pub remove: Vec<RemoveStep>,
    pub sync: Vec<SyncStep>,
    pub load: Vec<LoadStep>,
    /// Torrents that would load but whose .torrent no request to rtorrent
    /// can carry: each is a failure of the run, and takes no space.
    pub cannot_load: Vec<(String, String)>,
    /// The torrent in file-by-file mode, if any.
    pub file_mode: Option<FileModeStep>,
    /// The journal's file-mode torrent is no longer managed: drop the
    /// record, touch nothing.
    pub forget_file_mode: bool,
    pub budget: Budget,
    /// Every managed torrent's state, by name order.
    pub states: Vec<(InfoHash, String, TorrentState)>,
    /// Why, in words, for the log and --dry-run.
    pub reasons: Vec<String>,
    /// Torrents this run sees complete for the first time: the journal
    /// records the snapshot's time as the start of their seeding.
    pub seen_complete: Vec<InfoHash>,
    /// Back-off and seen-complete records (info-hash, hex) of torrents no
    /// longer managed, or no longer complete in rtorrent: dropped.
    pub drop_records: Vec<String>,
    /// When each torrent not in rtorrent was first seen waiting (seconds
    /// since the epoch), by info-hash hex: the journal keeps it so the
    /// oldest big torrent is not starved by newer small ones.
    pub waiting_since: BTreeMap<String, u64>,
}

impl Plan {
    /// The loads that still fit when `lost` and `lost_on_disk` of the
    /// space this run's syncs and removals were to free did not
    /// materialise: the planned loads in order while they fit (the rest
    /// wait, as in the planner, so a big one is not starved), and how many
    /// were dropped.
    pub fn loads_within(&self, lost: u64, lost_on_disk: u64) -> (&[LoadStep], usize) {
        let mut free = self.budget.available_without(lost, lost_on_disk);
        let mut keep = 0;
        for step in &self.load {
            if step.size > free {
                break;
            }
            free -= step.size;
            keep += 1;
        }
        let (fit, rest) = self
            .load
            .split_at_checked(keep)
            .unwrap_or((&self.load, &[]));
        (fit, rest.len())
    }
}

/// Decides one rotation run.
pub fn plan(snapshot: &Snapshot, policy: &Policy, journal: &Journal) -> Plan {
    let mut out = Plan::default();
    let file_mode_hash = match &journal.file_mode {
        Some(fm) => match InfoHash::from_hex(&fm.info_hash) {
            Ok(h) => Some(h),
            Err(_) => {
                out.reasons.push(format!(
                    "the journal's file-by-file record has {:?}, not an info-hash; dropped, nothing deleted",
                    fm.info_hash
                ));
                out.forget_file_mode = true;
                None
            }
        },
        None => None,
    };
    let cx = Context {
        snapshot,
        policy,
        journal,
        loaded: snapshot.loaded.iter().map(|l| (&l.info_hash, l)).collect(),
        managed: snapshot.managed.iter().map(|m| (&m.info_hash, m)).collect(),
        file_mode_hash,
    };
    finishing(&cx, &mut out);
    let usage = in_rtorrent(&cx, &mut out);
    order_syncs(&mut out.sync);
    drop_stale_records(snapshot, journal, &mut out.drop_records);
    budget(&cx, usage, &mut out);
    let loads = loading(&cx, usage, &mut out);
    file_by_file(&cx, usage, &loads, &mut out);
    out.states.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// What every phase of [`plan`] reads.
struct Context<'a> {
    snapshot: &'a Snapshot,
    policy: &'a Policy,
    journal: &'a Journal,
    loaded: HashMap<&'a InfoHash, &'a Loaded>,
    managed: BTreeMap<&'a InfoHash, &'a ManagedTorrent>,
    /// The journal's torrent in file-by-file mode, if its record is sound.
    file_mode_hash: Option<InfoHash>,
}

/// What the torrents in rtorrent take, from phase 2.
#[derive(Clone, Copy)]
struct Usage {
    used: u64,
    still_to_download: u64,
}

/// What phase 4 leaves for phase 5.
struct Loads<'a> {
    /// Waiting torrents, smallest first.
    waiting: Vec<&'a ManagedTorrent>,
    order: LoadOrder<'a>,
    file_mode_torrent: Option<&'a ManagedTorrent>,
    /// What the file-mode torrent may use without this run's removals.
    fm_alone: u64,
    /// ... and with them.
    fm_with_freed: u64,
    /// What this run loads.
    loads_size: u64,
}

/// Phase 1: torrents the journal is finishing: carry on from where it stopped.
fn finishing(cx: &Context, out: &mut Plan) {
    let (loaded, managed, journal) = (&cx.loaded, &cx.managed, cx.journal);
    for (hex, entry) in &journal.torrents {
        let Ok(hash) = InfoHash::from_hex(hex) else {
            out.reasons
                .push(format!("journal entry {hex} is not an info-hash; ignored"));
            continue;
        };
        let in_rtorrent = loaded.contains_key(&hash);
        let torrent = managed.get(&hash);
        match (entry.phase, torrent) {
            (Phase::Syncing, Some(t)) => {
                out.reasons.push(format!(
                    "{}: a sync was interrupted; copying and verifying again",
                    entry.name
                ));
                let mut step = sync_step(t, &entry.base_path, in_rtorrent);
                // Not in `used` (the journal has it); its data is on disk.
                step.frees_on_disk = entry.size;
                out.budget.freed_on_disk += entry.size;
                out.sync.push(step);
                out.states
                    .push((hash, t.name.clone(), TorrentState::Syncing));
            }
            (Phase::Syncing, None) => {
                // The .torrent was taken away by the user mid-sync: it is no
                // longer ours, and nothing was verified, so nothing is deleted.
                out.reasons.push(format!(
                    "{}: its .torrent left the managed directory during a sync; no longer managed, nothing deleted",
                    entry.name
                ));
                out.forget.push(hash);
            }
            (phase, torrent) => {
                // Verified or later: the remote copy is known good.
                let nothing_left = torrent.is_none() && !in_rtorrent && phase >= Phase::DataDeleted;
                if nothing_left {
                    out.forget.push(hash);
                    continue;
                }
                out.reasons
                    .push(format!("{}: {phase}; finishing its removal", entry.name));
                // Not in `used` (the journal has it), so it frees nothing
                // under the limit; its data may still be on disk.
                if phase < Phase::DataDeleted {
                    out.budget.freed_on_disk += entry.size;
                }
                if let Some(t) = torrent {
                    out.states
                        .push((hash, t.name.clone(), TorrentState::Synced { phase }));
                }
                out.remove.push(RemoveStep {
                    info_hash: hash,
                    entry: entry.clone(),
                    files: entry.files.iter().map(|(p, _)| p.clone()).collect(),
                    loaded: in_rtorrent,
                });
            }
        }
    }
}

/// Phase 2: managed torrents in rtorrent: downloading, seeding, or ready to sync.
fn in_rtorrent(cx: &Context, out: &mut Plan) -> Usage {
    let (snapshot, policy, journal) = (cx.snapshot, cx.policy, cx.journal);
    let (loaded, managed, file_mode_hash) = (&cx.loaded, &cx.managed, cx.file_mode_hash);
    let mut used = 0u64;
    let mut still_to_download = 0u64;
    for torrent in managed.values() {
        if journal.torrents.contains_key(&torrent.info_hash.to_hex())
            || Some(torrent.info_hash) == file_mode_hash
        {
            continue;
        }
        let Some(l) = loaded.get(&torrent.info_hash) else {
            continue;
        };
        used += torrent.total_size;
        if !l.is_complete() {
            still_to_download += l.size.saturating_sub(l.completed);
            out.states.push((
                torrent.info_hash,
                torrent.name.clone(),
                TorrentState::Downloading {
                    completed: l.completed,
                    size: l.size,
                },
            ));
            continue;
        }
        let since = seeding_since(l, journal, snapshot.now);
        // Recorded for every torrent, not only those rtorrent gives no
        // finish time: rtorrent can lose it later (a session restored
        // without it), and lowspace's record then still holds.
        if !journal
            .complete_since
            .contains_key(&torrent.info_hash.to_hex())
        {
            out.seen_complete.push(torrent.info_hash);
        }
        let seeded = seeded_enough(l.ratio_milli, since, policy, snapshot.now);
        let failed = journal.failures.get(&torrent.info_hash.to_hex());
        let backed_off = failed.and_then(|f| match backoff::decide(Some(f), snapshot.now) {
            Retry::WaitUntil(at) => Some((at, f)),
            Retry::Now => None,
        });
        match (seeded, backed_off) {
            (Ok(_), _) if l.base_path.as_os_str().is_empty() => {
                out.reasons.push(format!(
                    "{}: the client reports no data path yet; will sync next run",
                    torrent.name
                ));
                out.states.push((
                    torrent.info_hash,
                    torrent.name.clone(),
                    TorrentState::Seeding {
                        ratio_milli: l.ratio_milli,
                        waiting_for: "the client to report where its data is".into(),
                    },
                ));
            }
            (Ok(why), Some((next_try, failed))) => {
                let wait = next_try.saturating_sub(snapshot.now);
                out.reasons.push(format!(
                    "{}: complete and {why}, but its last sync failed ({}); not tried again before {} (in {})",
                    torrent.name,
                    failed.reason,
                    utc_minute(next_try),
                    show_duration(Duration::from_secs(wait))
                ));
                out.states.push((
                    torrent.info_hash,
                    torrent.name.clone(),
                    TorrentState::BackedOff {
                        failures: failed.count,
                        reason: failed.reason.clone(),
                        next_try,
                        wait,
                    },
                ));
            }
            (Ok(why), None) => {
                out.reasons.push(format!(
                    "{}: complete and {why}; syncing to the remote",
                    torrent.name
                ));
                let mut step = sync_step(torrent, &l.base_path, true);
                step.frees = torrent.total_size;
                step.frees_on_disk = l.completed;
                out.budget.freed += step.frees;
                out.budget.freed_on_disk += step.frees_on_disk;
                out.sync.push(step);
                out.states.push((
                    torrent.info_hash,
                    torrent.name.clone(),
                    TorrentState::Syncing,
                ));
            }
            (Err(waiting_for), _) => {
                out.states.push((
                    torrent.info_hash,
                    torrent.name.clone(),
                    TorrentState::Seeding {
                        ratio_milli: l.ratio_milli,
                        waiting_for,
                    },
                ));
            }
        }
    }
    Usage {
        used,
        still_to_download,
    }
}

/// Phase 3: the budget: the space limit and the real disk both have a say.
fn budget(cx: &Context, usage: Usage, out: &mut Plan) {
    let (snapshot, policy) = (cx.snapshot, cx.policy);
    let Usage {
        used,
        still_to_download,
    } = usage;
    let by_limit = policy.space_limit.saturating_sub(used);
    let by_disk = snapshot
        .disk_free
        .saturating_sub(policy.reserve)
        .saturating_sub(still_to_download);
    out.budget.limit = policy.space_limit;
    out.budget.used = used;
    out.budget.still_to_download = still_to_download;
    out.budget.disk_free = snapshot.disk_free;
    out.budget.reserve = policy.reserve;
    // Space from removals counts only for this run's loads, which the
    // executor skips if any removal failed.
    out.budget.available = by_limit
        .saturating_add(out.budget.freed)
        .min(by_disk.saturating_add(out.budget.freed_on_disk));
    if by_disk < by_limit {
        out.reasons.push(format!(
            "the disk is tighter than the space limit: {} free on disk less {} reserve and {} still to download",
            human_size(snapshot.disk_free),
            human_size(policy.reserve),
            human_size(still_to_download)
        ));
    }
}

/// Phase 4: load the smallest waiting torrents while they fit, beside the
/// torrent in file-by-file mode (whose space is kept first), and not
/// ahead of a bigger one that has waited longer.
fn loading<'a>(cx: &Context<'a>, usage: Usage, out: &mut Plan) -> Loads<'a> {
    let (snapshot, policy, journal) = (cx.snapshot, cx.policy, cx.journal);
    let (loaded, managed, file_mode_hash) = (&cx.loaded, &cx.managed, cx.file_mode_hash);
    let Usage {
        used,
        still_to_download,
    } = usage;
    // Partial torrents wait for a different space limit.
    let is_partial = |h: &InfoHash| {
        journal
            .partial
            .get(&h.to_hex())
            .is_some_and(|p| p.space_limit == policy.space_limit)
    };

    let mut waiting: Vec<&ManagedTorrent> = managed
        .values()
        .copied()
        .filter(|t| {
            !loaded.contains_key(&t.info_hash)
                && !journal.torrents.contains_key(&t.info_hash.to_hex())
                && Some(t.info_hash) != file_mode_hash
        })
        .collect();
    for t in &waiting {
        if let Some(p) = journal.partial.get(&t.info_hash.to_hex()) {
            if p.space_limit == policy.space_limit {
                out.states.push((
                    t.info_hash,
                    t.name.clone(),
                    TorrentState::Partial {
                        too_big: p.too_big.len(),
                    },
                ));
            }
        }
    }
    waiting.retain(|t| !is_partial(&t.info_hash));
    for t in &waiting {
        let hex = t.info_hash.to_hex();
        let since = journal
            .waiting_since
            .get(&hex)
            .copied()
            .unwrap_or(snapshot.now);
        out.waiting_since.insert(hex, since);
    }
    let since = |t: &ManagedTorrent| {
        out.waiting_since
            .get(&t.info_hash.to_hex())
            .copied()
            .unwrap_or(snapshot.now)
    };
    let file_mode_torrent = file_mode_hash.and_then(|h| managed.get(&h).copied());
    waiting.sort_by(|a, b| {
        a.total_size
            .cmp(&b.total_size)
            .then_with(|| a.name.cmp(&b.name))
    });
    let fresh_skipped = snapshot.skipped.holding(0);
    let order = load_order(
        &waiting,
        policy.space_limit,
        &since,
        (snapshot.download_fs, fresh_skipped),
    );

    // What the file-mode torrent's files take on disk now, and what it
    // keeps for itself before anything else is loaded.
    let fm_on_disk: u64 = snapshot
        .file_mode_files
        .iter()
        .flatten()
        .map(|f| f.on_disk)
        .sum();
    let fm_alone = {
        let by_limit = policy.space_limit.saturating_sub(used);
        let by_disk = snapshot
            .disk_free
            .saturating_add(fm_on_disk)
            .saturating_sub(policy.reserve)
            .saturating_sub(still_to_download);
        by_limit.min(by_disk)
    };
    let fm_with_freed = policy
        .space_limit
        .saturating_sub(used)
        .saturating_add(out.budget.freed)
        .min(
            snapshot
                .disk_free
                .saturating_add(fm_on_disk)
                .saturating_add(out.budget.freed_on_disk)
                .saturating_sub(policy.reserve)
                .saturating_sub(still_to_download),
        );
    let kept_for_file_mode = match (&journal.file_mode, file_mode_torrent) {
        (Some(fm), Some(t)) => match &snapshot.file_mode_files {
            Some(files) => reserve(
                files,
                &fm.on_remote,
                fm_alone,
                Layout {
                    piece_length: t.piece_length,
                    disk: snapshot.download_fs,
                    skipped: snapshot.skipped,
                },
            ),
            // Its files are not known (not loaded yet): it keeps all
            // this run.
            None => fm_alone,
        },
        _ => 0,
    };
    // fm_with_freed is `available` plus what the file-mode torrent's own
    // files hold on disk, which its reserve counts.
    let mut free = fm_with_freed.saturating_sub(kept_for_file_mode);
    if let Some(t) = file_mode_torrent {
        if !waiting.is_empty() {
            out.reasons.push(format!(
                "{}: in file-by-file mode, {} kept for its files; {} left for others",
                t.name,
                human_size(kept_for_file_mode),
                human_size(free)
            ));
        }
    }
    // Smallest first: once one does not fit, the larger ones wait too.
    let mut first_waiting: Option<&ManagedTorrent> = None;
    let mut loads_size = 0u64;
    for torrent in waiting.iter().copied() {
        // Set apart before the space is counted: it never loads, so it
        // must not take the place of the torrents after it.
        let unsendable = snapshot
            .request_limit
            .and_then(|limit| unloadable(torrent.file_bytes, limit));
        if let Some(reason) = unsendable {
            out.reasons.push(format!("{}: {reason}", torrent.name));
            out.cannot_load.push((torrent.name.clone(), reason.clone()));
            out.states.push((
                torrent.info_hash,
                torrent.name.clone(),
                TorrentState::CannotLoad { reason },
            ));
            continue;
        }
        if torrent.total_size > policy.space_limit {
            out.reasons.push(format!(
                "{}: {} is bigger than the space limit {}; it needs file-by-file mode{}",
                torrent.name,
                human_size(torrent.total_size),
                human_size(policy.space_limit),
                match file_mode_torrent {
                    Some(t) => format!(", after {} (one torrent at a time)", t.name),
                    None if order.behind.is_some() =>
                        ", which starts once what is loaded is done".into(),
                    None => String::new(),
                }
            ));
            out.states.push((
                torrent.info_hash,
                torrent.name.clone(),
                TorrentState::TooBig,
            ));
            continue;
        }
        let held_by = order
            .behind
            .filter(|(gate, _)| since(torrent) > *gate)
            .map(|(_, big)| big);
        let why_not = if let Some(big) = held_by {
            Some(format!(
                "waits behind {}, which has waited longer and needs file-by-file mode",
                big.name
            ))
        } else if let Some(smaller) = first_waiting {
            Some(format!("waits: {} is smaller and goes first", smaller.name))
        } else if torrent.total_size > free {
            Some(format!(
                "waits: needs {}, {} free{}",
                human_size(torrent.total_size),
                human_size(free),
                match file_mode_torrent {
                    Some(t) => format!(
                        " ({} kept for {} in file-by-file mode)",
                        human_size(kept_for_file_mode),
                        t.name
                    ),
                    None => String::new(),
                }
            ))
        } else {
            None
        };
        if let Some(why) = why_not {
            if held_by.is_none() && first_waiting.is_none() {
                first_waiting = Some(torrent);
            }
            out.reasons.push(format!("{}: {why}", torrent.name));
            let state = match held_by {
                Some(big) => TorrentState::WaitingBehind {
                    behind: big.name.clone(),
                },
                None => TorrentState::Waiting {
                    needs: torrent.total_size,
                    free,
                },
            };
            out.states
                .push((torrent.info_hash, torrent.name.clone(), state));
            continue;
        }
        free -= torrent.total_size;
        loads_size += torrent.total_size;
        out.reasons.push(format!(
            "{}: loading ({} fits, {} left)",
            torrent.name,
            human_size(torrent.total_size),
            human_size(free)
        ));
        out.load.push(LoadStep {
            info_hash: torrent.info_hash,
            name: torrent.name.clone(),
            torrent_file: torrent.file.clone(),
            size: torrent.total_size,
        });
        out.states.push((
            torrent.info_hash,
            torrent.name.clone(),
            TorrentState::Loading,
        ));
    }
    Loads {
        waiting,
        order,
        file_mode_torrent,
        fm_alone,
        fm_with_freed,
        loads_size,
    }
}

/// Phase 5: file-by-file mode: carry on with the journal's torrent, or enter
/// it when what is loaded has drained: with the big torrent that has
/// waited longest, else the smallest waiting one that nothing would
/// ever free space for.
fn file_by_file(cx: &Context, usage: Usage, loads: &Loads, out: &mut Plan) {
    let (snapshot, policy, journal, loaded) = (cx.snapshot, cx.policy, cx.journal, &cx.loaded);
    let used = usage.used;
    let Loads {
        waiting,
        order,
        file_mode_torrent,
        fm_alone,
        fm_with_freed,
        loads_size,
    } = loads;
    let (file_mode_torrent, fm_alone, fm_with_freed, loads_size) =
        (*file_mode_torrent, *fm_alone, *fm_with_freed, *loads_size);
    // This run's loads come first; the space this run's removals free
    // counts only if they happen (the executor skips the loads if not).
    let fm_budget = fm_with_freed.saturating_sub(loads_size).min(fm_alone);
    if let Some(fm) = &journal.file_mode {
        match file_mode_torrent {
            Some(t) => {
                let step = file_mode_step(
                    t,
                    false,
                    loaded.contains_key(&t.info_hash),
                    (fm_budget, policy.space_limit),
                    fm.on_remote.clone(),
                    snapshot.file_mode_files.as_deref(),
                    (snapshot.download_fs, snapshot.skipped),
                );
                set_state(&mut out.states, t, file_state(&step, fm.too_big.len()));
                out.reasons.push(format!(
                    "{}: file-by-file mode, {} of {} files on the remote, {} for its files",
                    t.name,
                    step.on_remote.len(),
                    t.files.len(),
                    human_size(step.budget)
                ));
                out.file_mode = Some(step);
            }
            None if !out.forget_file_mode => {
                out.reasons.push(format!(
                    "{}: its .torrent left the managed directory during file-by-file mode; no longer managed, nothing deleted",
                    fm.name
                ));
                out.forget_file_mode = true;
            }
            None => {}
        }
    } else if journal.torrents.is_empty()
        && used == 0
        && out.sync.is_empty()
        && out.remove.is_empty()
        && out.load.is_empty()
    {
        // Nothing is downloading, seeding or being finished, and the
        // smallest waiting torrent does not fit (or it would be loading):
        // nothing would ever free space for it. That includes a torrent
        // under the space limit when the disk is tighter than the limit.
        let budget = fm_alone;
        let candidates =
            order
                .behind
                .map(|(_, big)| big)
                .into_iter()
                .chain(waiting.iter().copied().filter(|t| {
                    order
                        .behind
                        .is_none_or(|(_, big)| big.info_hash != t.info_hash)
                }));
        for t in candidates {
            if !some_file_fits(
                t,
                budget,
                (snapshot.download_fs, snapshot.skipped.holding(0)),
            ) {
                out.reasons.push(format!(
                    "{}: not one of its files fits in {} (with what its pieces write into the files beside it); not downloading it file by file",
                    t.name,
                    human_size(budget)
                ));
                continue;
            }
            let on_remote = journal
                .partial
                .get(&t.info_hash.to_hex())
                .map(|p| p.on_remote.clone())
                .unwrap_or_default();
            out.reasons.push(format!(
                "{}: nothing else is loaded, and its {} is more than the {} available; downloading it file by file",
                t.name,
                human_size(t.total_size),
                human_size(budget)
            ));
            let step = file_mode_step(
                t,
                true,
                loaded.contains_key(&t.info_hash),
                (budget, policy.space_limit),
                on_remote,
                None,
                (snapshot.download_fs, snapshot.skipped.holding(0)),
            );
            set_state(&mut out.states, t, file_state(&step, 0));
            out.file_mode = Some(step);
            break;
        }
    }
}

fn file_mode_step(
    t: &ManagedTorrent,
    entering: bool,
    loaded: bool,
    (budget, space_limit): (u64, u64),
    on_remote: BTreeSet<usize>,
    files: Option<&[FileState]>,
    (disk, skipped): (DiskKind, Skipped),
) -> FileModeStep {
    let layout = Layout {
        piece_length: t.piece_length,
        disk,
        skipped,
    };
    let preview = files.map(|files| {
        (
            files.to_vec(),
            plan_files(files, &on_remote, budget, layout),
        )
    });
    FileModeStep {
        info_hash: t.info_hash,
        name: t.name.clone(),
        torrent_file: t.file.clone(),
        entering,
        loaded,
        single_file: t.single_file,
        piece_length: t.piece_length,
        disk,
        skipped,
        files: t.files.clone(),
        budget,
        space_limit,
        on_remote,
        preview,
    }
}

/// Which waiting torrents may load, for no torrent to starve.
struct LoadOrder<'a> {
    /// The big torrent (over the space limit) that has waited longest,
    /// with the time it was first seen waiting: torrents first seen after
    /// it wait too, so what is loaded drains and it gets file-by-file
    /// mode instead of waiting for ever behind a stream of small ones.
    /// One none of whose files fits even the whole limit holds nobody.
    behind: Option<(u64, &'a ManagedTorrent)>,
}

fn load_order<'a>(
    waiting: &[&'a ManagedTorrent],
    space_limit: u64,
    since: &dyn Fn(&ManagedTorrent) -> u64,
    disk: (DiskKind, Skipped),
) -> LoadOrder<'a> {
    let behind = waiting
        .iter()
        .copied()
        .filter(|t| t.total_size > space_limit && some_file_fits(t, space_limit, disk))
        .min_by(|a, b| since(a).cmp(&since(b)).then_with(|| a.name.cmp(&b.name)))
        .map(|t| (since(t), t));
    LoadOrder { behind }
}

/// Whether file-by-file mode could fetch at least one of its files in
/// `budget`.
fn some_file_fits(t: &ManagedTorrent, budget: u64, (disk, skipped): (DiskKind, Skipped)) -> bool {
    let files = fresh_files(t);
    let layout = Layout {
        piece_length: t.piece_length,
        disk,
        skipped,
    };
    plan_files(&files, &BTreeSet::new(), budget, layout)
        .too_big
        .len()
        < files.len()
}

/// The torrent's files as they are before anything is downloaded.
fn fresh_files(t: &ManagedTorrent) -> Vec<FileState> {
    t.files
        .iter()
        .enumerate()
        .map(|(index, (path, size))| FileState {
            index,
            path: path.clone(),
            size: *size,
            complete: false,
            priority: 0,
            on_disk: 0,
        })
        .collect()
}

fn file_state(step: &FileModeStep, too_big_in_journal: usize) -> TorrentState {
    TorrentState::FileByFile {
        on_remote: step.on_remote.len(),
        files: step.files.len(),
        too_big: step
            .preview
            .as_ref()
            .map(|(_, p)| p.too_big.len())
            .unwrap_or(too_big_in_journal),
    }
}

/// Replaces (or adds) a torrent's state line.
fn set_state(
    states: &mut Vec<(InfoHash, String, TorrentState)>,
    t: &ManagedTorrent,
    state: TorrentState,
) {
    states.retain(|(h, _, _)| *h != t.info_hash);
    states.push((t.info_hash, t.name.clone(), state));
}

/// Syncs smallest first. Each sync frees a torrent's space, and a remote
/// that goes down or fills up ends this run's syncs (or the bigger ones):
/// smallest first gets the most torrents off the disk per attempt, and
/// puts the ones a nearly full remote can still hold before the first one
/// it cannot. Name breaks ties, so the order is the same every run.
fn order_syncs(syncs: &mut [SyncStep]) {
    syncs.sort_by(|a, b| a.size.cmp(&b.size).then_with(|| a.name.cmp(&b.name)));
}

/// Records for torrents that are gone: a back-off or seen-complete record
/// whose .torrent left the managed directory, and a seen-complete record of
/// a torrent rtorrent no longer holds complete (it starts afresh when it
/// completes again).
fn drop_stale_records(snapshot: &Snapshot, journal: &Journal, drop: &mut Vec<String>) {
    let managed: BTreeSet<String> = snapshot
        .managed
        .iter()
        .map(|m| m.info_hash.to_hex())
        .collect();
    let complete: BTreeSet<String> = snapshot
        .loaded
        .iter()
        .filter(|l| l.is_complete())
        .map(|l| l.info_hash.to_hex())
        .collect();
    let stale_failures = journal.failures.keys().filter(|h| !managed.contains(*h));
    let stale_seen = journal
        .complete_since
        .keys()
        .filter(|h| !managed.contains(*h) || !complete.contains(*h));
    let stale: BTreeSet<&String> = stale_failures.chain(stale_seen).collect();
    drop.extend(stale.into_iter().cloned());
}

/// When the torrent's seeding began: rtorrent's finish time; when rtorrent
/// says 0 (it lost track, e.g. a session restored without it), the time
/// lowspace first saw it complete; and for one never seen before, now.
pub fn seeding_since(l: &Loaded, journal: &Journal, now: u64) -> Seeding {
    if l.finished_at != 0 {
        return Seeding::Finished(l.finished_at);
    }
    match journal.complete_since.get(&l.info_hash.to_hex()) {
        Some(&t) => Seeding::SeenComplete(t),
        None => Seeding::SeenComplete(now),
    }
}

/// Where a torrent's seeding time is counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeding {
    /// rtorrent's `d.timestamp.finished`.
    Finished(u64),
    /// rtorrent does not say; lowspace's own record.
    SeenComplete(u64),
}

/// "1.00": a ratio as rtorrent keeps it (× 1000), cut (not rounded) to two
/// decimals, so 0.999 never reads as the 1.00 it has not reached.
fn ratio_text(milli: i64) -> String {
    let m = milli.max(0);
    format!("{}.{:02}", m / 1000, m % 1000 / 10)
}

/// Ok with the reason it may go, or Err with what it still waits for, both
/// worded to follow "complete and ..." and "seeding until ...".
pub fn seeded_enough(
    ratio_milli: i64,
    since: Seeding,
    policy: &Policy,
    now: u64,
) -> Result<String, String> {
    let (start, ours) = match since {
        Seeding::Finished(t) => (t, false),
        Seeding::SeenComplete(t) => (t, true),
    };
    let seeded = Duration::from_secs(now.saturating_sub(start));
    let seeded_text = if ours {
        format!("{} (since lowspace saw it complete)", show_duration(seeded))
    } else {
        show_duration(seeded)
    };
    let ratio_met = ratio_milli >= policy.required_ratio_milli;
    let ratio_wait = format!(
        "ratio {}, now {}",
        ratio_text(policy.required_ratio_milli),
        ratio_text(ratio_milli)
    );
    if let Some(min) = policy.min_seed_time {
        if seeded < min {
            let mut why = format!("min_seed_time {}, seeded {seeded_text}", show_duration(min));
            if !ratio_met {
                why.push_str(&format!(", and {ratio_wait}"));
            }
            return Err(why);
        }
    }
    if ratio_met {
        return Ok(format!(
            "ratio {} reached {}",
            ratio_text(ratio_milli),
            ratio_text(policy.required_ratio_milli)
        ));
    }
    if let Some(max) = policy.max_seed_time {
        if seeded >= max {
            return Ok(format!(
                "seeded {seeded_text}, reaching max_seed_time {} (ratio {})",
                show_duration(max),
                ratio_text(ratio_milli)
            ));
        }
        return Err(format!(
            "{ratio_wait}, or max_seed_time {}, seeded {seeded_text}",
            show_duration(max)
        ));
    }
    Err(ratio_wait)
}

fn sync_step(torrent: &ManagedTorrent, base_path: &std::path::Path, loaded: bool) -> SyncStep {
    SyncStep {
        info_hash: torrent.info_hash,
        name: torrent.name.clone(),
        torrent_file: torrent.file.clone(),
        base_path: base_path.to_path_buf(),
        files: relative_files(torrent, base_path),
        size: torrent.total_size,
        loaded,
        frees: 0,
        frees_on_disk: 0,
    }
}

/// The torrent's files relative to the parent of its data path, so that the
/// remote receives the same layout: `name` for a single file,
/// `name/dir/file` for a multi-file torrent (where `name` is the data
/// path's own last component, which rtorrent may have chosen).
fn relative_files(
    torrent: &ManagedTorrent,
    base_path: &std::path::Path,
) -> Vec<(Vec<String>, u64)> {
    let top = base_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| torrent.name.clone());
    torrent
        .files
        .iter()
        .map(|(path, size)| {
            let mut rel = vec![top.clone()];
            if !torrent.single_file {
                rel.extend(path.iter().cloned());
            }
            (rel, *size)
        })
        .collect()
}

#[cfg(test)]
mod tests;
