//! Words and JSON for what rotation sees and plans: `status`, `--dry-run`
//! and the closing log line. Pure functions of the plan and snapshot.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::bigfile::file_views;
use super::execute::Outcome;
use super::gather::Gathered;
use super::plan::{FileModeStep, Plan, TorrentState};
use super::snapshot::{Loaded, ManagedTorrent};
use crate::size::human_size;
use crate::torrent::InfoHash;

pub use crate::size::plural;

/// A time as people read it in a log or status line:
/// `2026-11-30 07:35 UTC`.
pub fn utc_minute(secs: u64) -> String {
    let stamp = crate::logging::utc_timestamp(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.min(253_402_300_799)),
    );
    // 2026-11-30T07:35:00.000Z
    match (stamp.get(..10), stamp.get(11..16)) {
        (Some(day), Some(minute)) => format!("{day} {minute} UTC"),
        _ => stamp,
    }
}

/// The budget in one line.
pub fn budget_line(plan: &Plan) -> String {
    let b = &plan.budget;
    format!(
        "space: limit {}, {} used by managed torrents ({} still to download), {} free on disk (reserve {}); {} available for new torrents",
        human_size(b.limit),
        human_size(b.used),
        human_size(b.still_to_download),
        human_size(b.disk_free),
        human_size(b.reserve),
        human_size(b.available)
    )
}

type ByHash<'a, T> = HashMap<InfoHash, &'a T>;

/// The managed torrents and rtorrent's downloads, by info-hash.
fn by_hash(gathered: &Gathered) -> (ByHash<'_, ManagedTorrent>, ByHash<'_, Loaded>) {
    let snapshot = &gathered.snapshot;
    (
        snapshot.managed.iter().map(|m| (m.info_hash, m)).collect(),
        snapshot.loaded.iter().map(|l| (l.info_hash, l)).collect(),
    )
}

/// `lowspace status` as text: the budget, one line per managed torrent,
/// then what is not managed or could not be read.
/// `client` names the torrent client the unmanaged torrents are in.
pub fn status_text(gathered: &Gathered, plan: &Plan, client: &str) -> String {
    let mut out = String::new();
    out.push_str(&budget_line(plan));
    out.push('\n');
    let (managed, loaded) = by_hash(gathered);
    if plan.states.is_empty() {
        out.push_str("no managed torrents\n");
    } else {
        out.push_str(&format!(
            "{:<11} {:>7} {:>6}  {:<44} STATE\n",
            "SIZE", "DONE", "RATIO", "NAME"
        ));
    }
    for (hash, name, state) in &plan.states {
        let size = managed.get(hash).map(|m| m.total_size).unwrap_or(0);
        let (done, ratio) = match loaded.get(hash) {
            Some(l) if l.size > 0 => (
                format!("{:.1}%", l.completed as f64 * 100.0 / l.size as f64),
                format!("{:.2}", l.ratio_milli as f64 / 1000.0),
            ),
            Some(_) => ("100.0%".into(), "-".into()),
            None => ("-".into(), "-".into()),
        };
        out.push_str(&format!(
            "{:<11} {:>7} {:>6}  {:<44} {}\n",
            human_size(size),
            done,
            ratio,
            name,
            state
        ));
    }
    if let Some(step) = &plan.file_mode {
        out.push_str(&file_mode_text(step));
    }
    for c in &gathered.snapshot.corrupt {
        out.push_str(&format!("corrupt: {}: {}\n", c.file.display(), c.error));
    }
    let unmanaged_bytes: u64 = gathered.unmanaged.iter().map(|d| d.size).sum();
    out.push_str(&format!(
        "unmanaged: {} in {client} ({}), not counted and never touched\n",
        plural(gathered.unmanaged.len() as u64, "torrent", "torrents"),
        human_size(unmanaged_bytes)
    ));
    out
}

/// One line per file of the torrent in file-by-file mode, with its state.
fn file_mode_rows(step: &FileModeStep) -> Vec<(String, u64, &'static str, &'static str)> {
    match &step.preview {
        Some((files, plan)) => files
            .iter()
            .zip(file_views(files, &step.on_remote, plan))
            .map(|(f, view)| (f.path.join("/"), f.size, view.as_str(), view.key()))
            .collect(),
        // Not in rtorrent yet: only the journal's knowledge.
        None => step
            .files
            .iter()
            .enumerate()
            .map(|(i, (path, size))| {
                let (text, key) = if step.on_remote.contains(&i) {
                    ("on remote", "on_remote")
                } else {
                    ("waiting", "waiting")
                };
                (path.join("/"), *size, text, key)
            })
            .collect(),
    }
}

fn file_mode_text(step: &FileModeStep) -> String {
    let mut out = format!(
        "file by file: {} ({} for its files)\n",
        step.name,
        human_size(step.budget)
    );
    for (path, size, state, _) in file_mode_rows(step) {
        out.push_str(&format!(
            "  {:<11} {:<27} {}\n",
            human_size(size),
            state,
            path
        ));
    }
    out
}

fn state_json(state: &TorrentState) -> Value {
    match state {
        TorrentState::Waiting { needs, free } => {
            json!({"state": "waiting", "needs": needs, "free": free})
        }
        TorrentState::WaitingBehind { behind } => {
            json!({"state": "waiting", "behind": behind})
        }
        TorrentState::TooBig => json!({"state": "too_big"}),
        TorrentState::CannotLoad { reason } => json!({"state": "cannot_load", "reason": reason}),
        TorrentState::Loading => json!({"state": "loading"}),
        TorrentState::Downloading { completed, size } => {
            json!({"state": "downloading", "completed": completed, "size": size})
        }
        TorrentState::Seeding {
            ratio_milli,
            waiting_for,
        } => {
            json!({"state": "seeding", "ratio": *ratio_milli as f64 / 1000.0, "waiting_for": waiting_for})
        }
        TorrentState::Syncing => json!({"state": "syncing"}),
        TorrentState::Synced { phase } => json!({"state": "synced", "phase": phase}),
        TorrentState::BackedOff {
            failures,
            reason,
            next_try,
            ..
        } => {
            json!({"state": "backed_off", "failures": failures, "reason": reason, "next_try": next_try})
        }
        TorrentState::FileByFile {
            on_remote,
            files,
            too_big,
        } => {
            json!({"state": "file_by_file", "files_on_remote": on_remote, "files": files, "files_too_big": too_big})
        }
        TorrentState::Partial { too_big } => {
            json!({"state": "partial", "files_too_big": too_big})
        }
    }
}

/// `lowspace status --json`.
pub fn status_json(gathered: &Gathered, plan: &Plan) -> Value {
    let (managed, loaded) = by_hash(gathered);
    let torrents: Vec<Value> = plan
        .states
        .iter()
        .map(|(hash, name, state)| {
            let mut v = state_json(state);
            // state_json always makes an object.
            if let Some(o) = v.as_object_mut() {
                o.insert("name".into(), json!(name));
                o.insert("info_hash".into(), json!(hash.to_hex()));
                o.insert(
                    "size".into(),
                    json!(managed.get(hash).map(|m| m.total_size)),
                );
                let file = managed.get(hash).map(|m| m.file.display().to_string());
                o.insert("file".into(), json!(file));
                if let Some(l) = loaded.get(hash) {
                    o.insert("completed".into(), json!(l.completed));
                    o.insert("ratio".into(), json!(l.ratio_milli as f64 / 1000.0));
                }
                o.insert("description".into(), json!(state.to_string()));
            }
            v
        })
        .collect();
    let file_mode = plan.file_mode.as_ref().map(|step| {
        json!({
            "name": step.name,
            "info_hash": step.info_hash.to_hex(),
            "budget": step.budget,
            "files": file_mode_rows(step).into_iter().map(|(path, size, _, key)| json!({"path": path, "size": size, "state": key})).collect::<Vec<_>>(),
        })
    });
    let b = &plan.budget;
    json!({
        "file_mode": file_mode,
        "budget": {
            "limit": b.limit, "used": b.used, "still_to_download": b.still_to_download,
            "disk_free": b.disk_free, "disk_total": gathered.disk.total, "reserve": b.reserve,
            "available": b.available,
        },
        "torrents": torrents,
        "corrupt": gathered.snapshot.corrupt.iter().map(|c| json!({"file": c.file.display().to_string(), "error": c.error})).collect::<Vec<_>>(),
        "unmanaged": {
            "count": gathered.unmanaged.len(),
            "bytes": gathered.unmanaged.iter().map(|d| d.size).sum::<u64>(),
        },
    })
}

/// `lowspace rotate --dry-run`: every step the run would take, and why.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    out.push_str(&budget_line(plan));
    out.push('\n');
    let mut any = false;
    for step in &plan.remove {
        any = true;
        out.push_str(&format!(
            "would finish removing {} ({})\n",
            step.entry.name, step.entry.phase
        ));
    }
    for step in &plan.sync {
        any = true;
        out.push_str(&format!(
            "would sync {} ({}, {}), verify it, then delete it locally\n",
            step.name,
            human_size(step.size),
            plural(step.files.len() as u64, "file", "files")
        ));
    }
    for step in &plan.load {
        any = true;
        out.push_str(&format!(
            "would load {} ({})\n",
            step.name,
            human_size(step.size)
        ));
    }
    if let Some(step) = &plan.file_mode {
        any = true;
        if step.entering {
            out.push_str(&format!(
                "would download {} file by file (every file off, then the smallest files that fit {})\n",
                step.name,
                human_size(step.budget)
            ));
        } else {
            out.push_str(&file_mode_text(step));
        }
    }
    if !any {
        out.push_str("nothing to do\n");
    }
    for reason in &plan.reasons {
        out.push_str(&format!("  because {reason}\n"));
    }
    out
}

/// The closing log line of a run.
/// `client` names the client: rtorrent's requests are round trips on its
/// socket, the others' are HTTP requests.
pub fn outcome_line(outcome: &Outcome, round_trips: u64, client: &str) -> String {
    format!(
        "rotate: synced {}, removed {}, loaded {}, freed {}, {}, {}",
        outcome.synced.len(),
        outcome.removed.len(),
        outcome.loaded.len(),
        human_size(outcome.bytes_freed),
        plural(outcome.failures.len() as u64, "failure", "failures"),
        if client == "rtorrent" {
            plural(round_trips, "rtorrent round trip", "rtorrent round trips")
        } else {
            plural(
                round_trips,
                &format!("request to {client}"),
                &format!("requests to {client}"),
            )
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_read_well() {
        assert_eq!(plural(0, "file", "files"), "0 files");
        assert_eq!(plural(1, "file", "files"), "1 file");
        assert_eq!(plural(2, "file", "files"), "2 files");
        assert_eq!(plural(1, "torrent", "torrents"), "1 torrent");
        assert_eq!(plural(21, "entry", "entries"), "21 entries");
    }

    #[test]
    fn times_read_to_the_minute() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_minute(1_800_000_000), "2027-01-15 08:00 UTC");
        assert!(utc_minute(u64::MAX).starts_with("9999-12-31 23:59"));
    }
}
