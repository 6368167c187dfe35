//! The rotation planner: a pure function from what a run sees (snapshot,
//! settings, journal) to what it will do and why. Nothing here touches the
//! disk, the network or the clock, so every branch is table-tested below
//! and `--dry-run` and `status` show exactly what a real run would decide.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::journal::{Entry, Journal, Phase};
use super::snapshot::{Loaded, ManagedTorrent, Snapshot};
use crate::config::RotateSettings;
use crate::size::human_size;
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
    /// Bigger than the whole space limit.
    TooBig,
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
            TorrentState::TooBig => f.write_str("too big for the space limit"),
            TorrentState::Loading => f.write_str("loading"),
            TorrentState::Downloading { completed, size } => {
                let pct = if *size == 0 {
                    100.0
                } else {
                    *completed as f64 * 100.0 / *size as f64
                };
                write!(f, "downloading {pct:.1}%")
            }
            TorrentState::Seeding {
                ratio_milli,
                waiting_for,
            } => {
                write!(
                    f,
                    "seeding (ratio {:.2}) until {waiting_for}",
                    *ratio_milli as f64 / 1000.0
                )
            }
            TorrentState::Syncing => f.write_str("syncing"),
            TorrentState::Synced { phase } => write!(f, "synced ({phase})"),
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

/// A torrent to add to rtorrent.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadStep {
    pub info_hash: InfoHash,
    pub name: String,
    pub torrent_file: PathBuf,
    pub size: u64,
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

/// What one run will do, and the reasons, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Journal entries whose torrent is entirely gone: drop them.
    pub forget: Vec<InfoHash>,
    pub remove: Vec<RemoveStep>,
    pub sync: Vec<SyncStep>,
    pub load: Vec<LoadStep>,
    pub budget: Budget,
    /// Every managed torrent's state, by name order.
    pub states: Vec<(InfoHash, String, TorrentState)>,
    /// Why, in words, for the log and --dry-run.
    pub reasons: Vec<String>,
}

/// Decides one rotation run.
pub fn plan(snapshot: &Snapshot, policy: &Policy, journal: &Journal) -> Plan {
    let mut out = Plan::default();
    let loaded: HashMap<&InfoHash, &Loaded> =
        snapshot.loaded.iter().map(|l| (&l.info_hash, l)).collect();
    let managed: BTreeMap<&InfoHash, &ManagedTorrent> =
        snapshot.managed.iter().map(|m| (&m.info_hash, m)).collect();

    // 1. Torrents the journal is finishing: carry on from where it stopped.
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
                out.sync.push(sync_step(t, &entry.base_path, in_rtorrent));
                out.budget.freed_on_disk += entry.size;
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

    // 2. Managed torrents in rtorrent: downloading, seeding, or ready to sync.
    let mut used = 0u64;
    let mut still_to_download = 0u64;
    for torrent in managed.values() {
        if journal.torrents.contains_key(&torrent.info_hash.to_hex()) {
            continue;
        }
        let Some(l) = loaded.get(&torrent.info_hash) else {
            continue;
        };
        used += torrent.total_size;
        if !l.complete {
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
        match seeded_enough(l, policy, snapshot.now) {
            Ok(_) if l.base_path.as_os_str().is_empty() => {
                out.reasons.push(format!(
                    "{}: rtorrent reports no data path yet; will sync next run",
                    torrent.name
                ));
                out.states.push((
                    torrent.info_hash,
                    torrent.name.clone(),
                    TorrentState::Seeding {
                        ratio_milli: l.ratio_milli,
                        waiting_for: "rtorrent reports where its data is".into(),
                    },
                ));
            }
            Ok(why) => {
                out.reasons.push(format!(
                    "{}: complete and {why}; syncing to the remote",
                    torrent.name
                ));
                out.sync.push(sync_step(torrent, &l.base_path, true));
                out.budget.freed += torrent.total_size;
                out.budget.freed_on_disk += l.completed;
                out.states.push((
                    torrent.info_hash,
                    torrent.name.clone(),
                    TorrentState::Syncing,
                ));
            }
            Err(waiting_for) => {
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

    // 3. The budget: the space limit and the real disk both have a say.
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

    // 4. Load the smallest waiting torrents while they fit.
    let mut waiting: Vec<&ManagedTorrent> = managed
        .values()
        .copied()
        .filter(|t| {
            !loaded.contains_key(&t.info_hash)
                && !journal.torrents.contains_key(&t.info_hash.to_hex())
        })
        .collect();
    waiting.sort_by(|a, b| {
        a.total_size
            .cmp(&b.total_size)
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut free = out.budget.available;
    let mut blocked = false;
    for torrent in waiting {
        if torrent.total_size > policy.space_limit {
            out.reasons.push(format!(
                "{}: {} is bigger than the space limit {}; it needs file-by-file mode",
                torrent.name,
                human_size(torrent.total_size),
                human_size(policy.space_limit)
            ));
            out.states.push((
                torrent.info_hash,
                torrent.name.clone(),
                TorrentState::TooBig,
            ));
            continue;
        }
        if !blocked && torrent.total_size <= free {
            free -= torrent.total_size;
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
        } else {
            // Smallest first: once one does not fit, the larger ones wait
            // too, so a big torrent is not starved by a stream of small ones.
            blocked = true;
            out.states.push((
                torrent.info_hash,
                torrent.name.clone(),
                TorrentState::Waiting {
                    needs: torrent.total_size,
                    free,
                },
            ));
        }
    }
    out.states.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// Ok with the reason it may go, or Err with what it still waits for.
pub fn seeded_enough(l: &Loaded, policy: &Policy, now: u64) -> Result<String, String> {
    let seeded = Duration::from_secs(now.saturating_sub(l.finished_at));
    let ratio = format!("ratio {:.2}", l.ratio_milli as f64 / 1000.0);
    if let Some(min) = policy.min_seed_time {
        if seeded < min {
            return Err(format!(
                "it has seeded {} of min_seed_time {}",
                show_duration(seeded),
                show_duration(min)
            ));
        }
    }
    if l.ratio_milli >= policy.required_ratio_milli {
        return Ok(format!(
            "{ratio} reached {:.2}",
            policy.required_ratio_milli as f64 / 1000.0
        ));
    }
    if let Some(max) = policy.max_seed_time {
        if seeded >= max {
            return Ok(format!(
                "seeded {} (max_seed_time), {ratio}",
                show_duration(seeded)
            ));
        }
        return Err(format!(
            "ratio {:.2} (now {:.2}) or max_seed_time {}",
            policy.required_ratio_milli as f64 / 1000.0,
            l.ratio_milli as f64 / 1000.0,
            show_duration(max)
        ));
    }
    Err(format!(
        "ratio {:.2} (now {:.2})",
        policy.required_ratio_milli as f64 / 1000.0,
        l.ratio_milli as f64 / 1000.0
    ))
}

fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s}s"),
        120..=7199 => format!("{}m", s / 60),
        7200..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
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
