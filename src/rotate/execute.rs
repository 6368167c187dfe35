//! The executor: carries out a [`Plan`] one step at a time, writing the
//! journal before and after every step that changes something, so a run
//! killed at any moment is continued by the next one without loss.
//!
//! Order of a torrent's removal, and why:
//! 1. copy to the remote, then verify every file's path and size there;
//! 2. journal `Verified` (from now on the torrent is never loaded again);
//! 3. check that its data may be deleted (inside the download directory or
//!    `[rotate] completed_directory`, no symlink on the way: the deletion's
//!    own guard), then erase it from rtorrent (journal `Erased`), so
//!    rtorrent stops writing. A torrent that fails the check is not erased:
//!    it goes back to seeding and backs off. The same check runs before the
//!    copy, so such a torrent costs no transfer;
//! 4. delete its own files (journal `DataDeleted`);
//! 5. remove or archive its .torrent, then drop its journal entry.

use std::path::{Path, PathBuf};

use std::time::Duration;

use super::backoff;
use super::batches::{load_call_len, pack, too_big_reason};
use super::error::RotateStepError;
use super::journal::{Entry, FailureRecord, Journal, Phase};
use super::plan::{show_duration, LoadStep, Plan, RemoveStep, SyncStep};
use super::report::{plural, utc_minute};
use crate::client::{NewTorrent, SkippedFileWrites, TorrentClient};
use crate::config::VerifyMode;
use crate::fsutil::{create_dir_all_durable, parent_dir, remove_file_durable, sync_dir};
use crate::guard::{check_deletable, delete_torrent_files, DataRoots};
use crate::rtorrent::limit;
use crate::size::human_size;
use crate::sync::{FailureKind, RelPath, RelPathError, Remote, Scope, SyncError};
use crate::torrent::InfoHash;

/// `[remote] verify = "hash"`: the SHA-1 of every file on both sides,
/// after the size check passed. A difference is the torrent's own failure
/// (it backs off, nothing local is deleted) and names the file.
pub(super) fn verify_content(
    remote: &dyn Remote,
    name: &str,
    local_root: &Path,
    expected: &[(RelPath, u64)],
) -> Result<(), SyncError> {
    let v = remote.verify_content(local_root, expected)?;
    let secs = v.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        format!(", {}/s", human_size((v.bytes as f64 / secs) as u64))
    } else {
        String::new()
    };
    log::info!(
        "{name}: content check on {}: {} hashed on each side in {:.2?}{rate}: {v}",
        remote.describe(),
        human_size(v.bytes),
        v.elapsed
    );
    if v.is_complete() {
        return Ok(());
    }
    Err(SyncError::new(
        FailureKind::NotVerified,
        format!(
            "the remote copy on {} differs from the local data: {v}",
            remote.describe()
        ),
    ))
}

pub use crate::client::ROTATE_LABEL;

/// What a run did, for the closing log line and the exit code.
#[derive(Debug, Default)]
pub struct Outcome {
    pub synced: Vec<String>,
    pub removed: Vec<String>,
    pub loaded: Vec<String>,
    pub bytes_freed: u64,
    /// Each failure, in words; any failure makes the run exit non-zero.
    pub failures: Vec<String>,
}

/// A point where a run may be cut short: after a journal save or after a
/// step outside the process. [`Executor::checkpoint`] is called at each, so
/// a test can abort the run there and check that the next run continues
/// without loss (see the crash-point sweep in `rotate::crash_sweep`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    JournalSaved,
    /// A call that changes something in the torrent client.
    Client,
    Pushed,
    Verified,
    Deleted,
    Truncated,
    /// The .torrent file removed or moved.
    Disposed,
}

/// The checkpoint hook of a production run: nothing.
pub fn no_checkpoint(_: Checkpoint) {}

/// Everything the executor acts on.
pub struct Executor<'a> {
    pub client: &'a dyn TorrentClient,
    pub remote: Option<&'a dyn Remote>,
    pub journal: Journal,
    pub journal_path: PathBuf,
    pub download_dir: PathBuf,
    /// Where rtorrent moves finished downloads, if configured: data there
    /// may be deleted too.
    pub completed_directory: Option<PathBuf>,
    pub done_directory: Option<PathBuf>,
    pub now: u64,
    /// The most bytes one request to rtorrent may take (see
    /// [`limit::request_limit`]).
    pub request_limit: usize,
    /// Called after every journal save and every outside step
    /// ([`no_checkpoint`] outside tests).
    pub checkpoint: &'a dyn Fn(Checkpoint),
}

impl Executor<'_> {
    pub(super) fn save(&self) -> Result<(), RotateStepError> {
        self.journal.save(&self.journal_path)?;
        (self.checkpoint)(Checkpoint::JournalSaved);
        Ok(())
    }

    fn data_roots(&self) -> DataRoots {
        DataRoots {
            download_dir: self.download_dir.clone(),
            completed_dir: self.completed_directory.clone(),
        }
    }

    fn set_phase(&mut self, hash: &InfoHash, phase: Phase) -> Result<(), RotateStepError> {
        if let Some(entry) = self.journal.torrents.get_mut(&hash.to_hex()) {
            entry.phase = phase;
            entry.updated = self.now;
        }
        self.save()
    }

    /// Carries out the whole plan. Journal write failures stop the run at
    /// once: continuing without a record could lose track of verified data.
    ///
    /// One torrent's failure never holds the others back: a torrent whose
    /// sync fails for a reason of its own backs off (journal) and the next
    /// one goes; a full remote skips the torrents at least as big; only a
    /// failure of the remote as a whole ends this run's syncs. Loads go
    /// ahead in whatever space the removals that succeeded did free.
    pub fn execute(&mut self, plan: &Plan) -> Result<Outcome, RotateStepError> {
        let mut outcome = Outcome::default();
        self.tidy_records(plan)?;
        let mut lost = Lost::default();
        for step in &plan.remove {
            if let Err(e) = self.finish_removal(step, &mut outcome) {
                if e.stops_run() {
                    return Err(e);
                }
                log::error!("{}: {e}", step.entry.name);
                outcome.failures.push(format!("{}: {e}", step.entry.name));
                lost.on_disk += step.frees_on_disk();
            }
        }
        let mut gate = SyncGate::default();
        for step in &plan.sync {
            if let Some(why) = gate.skip(step) {
                log::warn!("{}: not synced this run: {why}; local data kept", step.name);
                lost.add(step);
                continue;
            }
            match self.sync(step) {
                Ok(()) => {
                    outcome.synced.push(step.name.clone());
                    if self
                        .journal
                        .failures
                        .remove(&step.info_hash.to_hex())
                        .is_some()
                    {
                        self.save()?;
                    }
                    let entry = self.journal.torrents.get(&step.info_hash.to_hex()).cloned();
                    if let Some(entry) = entry {
                        let removal = RemoveStep {
                            info_hash: step.info_hash,
                            files: entry.files.iter().map(|(p, _)| p.clone()).collect(),
                            entry,
                            loaded: step.loaded,
                        };
                        if let Err(e) = self.finish_removal(&removal, &mut outcome) {
                            if e.stops_run() {
                                return Err(e);
                            }
                            log::error!("{}: {e}", step.name);
                            outcome.failures.push(format!("{}: {e}", step.name));
                            lost.add(step);
                        }
                    }
                }
                Err(TorrentSyncError::Journal(e)) => return Err(e),
                Err(TorrentSyncError::Sync(e)) => {
                    lost.add(step);
                    // Nothing was verified, so the torrent goes back to
                    // plain seeding: the next run plans it afresh (and
                    // counts its space again) instead of taking the
                    // failure for an interrupted sync.
                    if self
                        .journal
                        .torrents
                        .remove(&step.info_hash.to_hex())
                        .is_some()
                    {
                        self.save()?;
                    }
                    let then = self.sync_failed(step, &e)?;
                    gate.failed(step, &e);
                    log::error!("{}: {e}; local data kept; {then}", step.name);
                    outcome.failures.push(format!("{}: {e}", step.name));
                }
            }
        }
        let (loads, dropped) = plan.loads_within(lost.freed, lost.on_disk);
        if dropped > 0 {
            log::warn!(
                "not loading {} this run: the space they were planned into was to be freed by syncs or removals that did not happen",
                plural(dropped as u64, "torrent", "torrents")
            );
        }
        self.load(loads, &mut outcome);
        for (name, reason) in &plan.cannot_load {
            log::error!("{name}: {reason}");
            outcome.failures.push(format!("{name}: {reason}"));
        }
        if let Some(step) = &plan.file_mode {
            self.file_mode(step, &mut outcome)?;
        }
        Ok(outcome)
    }

    /// Records the planner's first sightings of complete torrents and drops
    /// stale records, in one journal write.
    fn tidy_records(&mut self, plan: &Plan) -> Result<(), RotateStepError> {
        for hash in &plan.forget {
            self.journal.torrents.remove(&hash.to_hex());
        }
        if plan.forget_file_mode {
            self.journal.file_mode = None;
        }
        for hex in &plan.drop_records {
            self.journal.failures.remove(hex);
            self.journal.complete_since.remove(hex);
        }
        for hash in &plan.seen_complete {
            self.journal.complete_since.insert(hash.to_hex(), self.now);
        }
        let waiting_changed = self.journal.waiting_since != plan.waiting_since;
        if waiting_changed {
            self.journal.waiting_since = plan.waiting_since.clone();
        }
        let changed = !plan.forget.is_empty()
            || plan.forget_file_mode
            || !plan.drop_records.is_empty()
            || !plan.seen_complete.is_empty()
            || waiting_changed;
        if changed {
            self.save()?;
        }
        Ok(())
    }

    /// Journals a failure of the torrent's own (it backs off) and says
    /// what happens next.
    fn sync_failed(&mut self, step: &SyncStep, e: &SyncError) -> Result<String, RotateStepError> {
        match e.kind.scope() {
            Scope::Torrent => self.back_off(&step.info_hash, &step.name, &e.message),
            Scope::Full => Ok(format!(
                "torrents of {} or more are not tried this run, smaller ones are",
                human_size(step.size)
            )),
            Scope::Remote => Ok("no further syncs this run".into()),
        }
    }

    /// Records one more failure in a row of the torrent's own, and says
    /// when it is tried again.
    fn back_off(
        &mut self,
        hash: &InfoHash,
        name: &str,
        reason: &str,
    ) -> Result<String, RotateStepError> {
        let key = hash.to_hex();
        let count = self.journal.failures.get(&key).map_or(0, |r| r.count) + 1;
        let record = FailureRecord {
            name: name.to_string(),
            count,
            reason: reason.to_string(),
            last: self.now,
        };
        let next = backoff::next_try(&record);
        self.journal.failures.insert(key, record);
        self.save()?;
        Ok(format!(
            "{} in a row; not tried again before {} (in {}), the other torrents go on",
            plural(u64::from(count), "failure", "failures"),
            utc_minute(next),
            show_duration(Duration::from_secs(next.saturating_sub(self.now)))
        ))
    }

    /// Copies one torrent and verifies the copy.
    fn sync(&mut self, step: &SyncStep) -> Result<(), TorrentSyncError> {
        let remote = self.remote.ok_or_else(|| {
            TorrentSyncError::Sync(SyncError::new(
                FailureKind::Misconfigured,
                "no remote is configured ([remote] in TOML, rsync_host/rsync_path or rclone_remote in the legacy file)",
            ))
        })?;
        let local = |message: String| {
            TorrentSyncError::Sync(SyncError::new(FailureKind::LocalSource, message))
        };
        let expected = rel_paths(&step.files).map_err(|e| local(e.to_string()))?;
        let own: Vec<RelPath> = expected.iter().map(|(p, _)| p.clone()).collect();
        check_deletable(&self.data_roots(), &step.base_path, &own).map_err(|e| {
            local(format!(
                "not copied, its local data could not be deleted afterwards: {e}"
            ))
        })?;
        let local_root = step
            .base_path
            .parent()
            .ok_or_else(|| {
                local(format!(
                    "data path {} has no parent directory",
                    step.base_path.display()
                ))
            })?
            .to_path_buf();
        let key = step.info_hash.to_hex();
        self.journal.torrents.insert(
            key,
            Entry {
                name: step.name.clone(),
                phase: Phase::Syncing,
                torrent_file: step.torrent_file.clone(),
                base_path: step.base_path.clone(),
                size: step.size,
                files: step.files.clone(),
                updated: self.now,
                keep_torrent_file: false,
            },
        );
        self.save().map_err(TorrentSyncError::Journal)?;

        let top = expected
            .first()
            .map(|(p, _)| p.first_component().to_string())
            .ok_or_else(|| local("the torrent lists no files".into()))?;
        let top = RelPath::new(&top).map_err(|e| local(e.to_string()))?;
        log::info!(
            "{}: copying {} to {} ({})",
            step.name,
            human_size(step.size),
            remote.describe(),
            plural(expected.len() as u64, "file", "files")
        );
        remote
            .push(&local_root, std::slice::from_ref(&top))
            .map_err(TorrentSyncError::Sync)?;
        (self.checkpoint)(Checkpoint::Pushed);
        let verification = remote.verify(&expected).map_err(TorrentSyncError::Sync)?;
        (self.checkpoint)(Checkpoint::Verified);
        if !verification.is_complete() {
            let mut why = Vec::new();
            if let Some(first) = verification.missing.first() {
                why.push(format!(
                    "{} missing (first: {})",
                    verification.missing.len(),
                    first.as_str()
                ));
            }
            if let Some(w) = verification.wrong_size.first() {
                why.push(format!(
                    "{} with the wrong size (first: {w:?})",
                    verification.wrong_size.len()
                ));
            }
            return Err(TorrentSyncError::Sync(SyncError::new(
                FailureKind::NotVerified,
                format!(
                    "the remote copy is incomplete after the transfer: {}",
                    why.join(", ")
                ),
            )));
        }
        log::info!(
            "{}: {} verified on {}",
            step.name,
            plural(verification.verified as u64, "file", "files"),
            remote.describe()
        );
        if remote.verify_mode() == VerifyMode::Hash {
            verify_content(remote, &step.name, &local_root, &expected)
                .map_err(TorrentSyncError::Sync)?;
            (self.checkpoint)(Checkpoint::Verified);
        }
        self.set_phase(&step.info_hash, Phase::Verified)
            .map_err(TorrentSyncError::Journal)
    }

    /// Steps 3 to 5 for a verified torrent, each skipped if already done.
    pub(super) fn finish_removal(
        &mut self,
        step: &RemoveStep,
        outcome: &mut Outcome,
    ) -> Result<(), RotateStepError> {
        let hash = step.info_hash;
        let name = &step.entry.name;
        let mut phase = self
            .journal
            .phase(&hash.to_hex())
            .unwrap_or(step.entry.phase);
        if phase < Phase::Verified {
            return Err(RotateStepError::Torrent(
                "refusing to remove a torrent whose remote copy is not verified".into(),
            ));
        }
        let files = paths_to_delete(&with_leftovers(
            self.client.skipped_file_writes(),
            &hash,
            &step.files,
            step.entry.keep_torrent_file,
        ));
        if phase == Phase::Verified {
            // Once erased, rtorrent no longer seeds it: a torrent whose data
            // could then not be deleted would sit orphaned. It goes back to
            // seeding instead (its journal entry dropped, a back-off
            // recorded), and is copied and verified afresh later.
            let checked = files
                .clone()
                .map_err(RotateStepError::from)
                .and_then(|files| {
                    check_deletable(&self.data_roots(), &step.entry.base_path, &files)
                        .map_err(RotateStepError::from)
                });
            if let Err(e) = checked {
                if step.loaded {
                    self.journal.torrents.remove(&hash.to_hex());
                    let then = self.back_off(&hash, name, &e.to_string())?;
                    return Err(RotateStepError::DataKept {
                        source: Box::new(e),
                        then: Some(then),
                    });
                }
                return Err(RotateStepError::DataKept {
                    source: Box::new(e),
                    then: None,
                });
            }
            if step.loaded {
                let kind = self.client.kind();
                match self.client.erase(&hash) {
                    Ok(()) => log::info!("{name}: erased from {kind}"),
                    // Gone already (erased just before a crash): fine.
                    Err(e) if e.is_unknown_torrent() => {}
                    Err(e) => {
                        return Err(RotateStepError::Client {
                            what: format!("cannot erase from {kind}"),
                            source: e,
                        })
                    }
                }
                (self.checkpoint)(Checkpoint::Client);
            }
            self.set_phase(&hash, Phase::Erased)?;
            phase = Phase::Erased;
        }
        if phase == Phase::Erased {
            let deleted = delete_torrent_files(&self.data_roots(), &step.entry.base_path, &files?)?;
            (self.checkpoint)(Checkpoint::Deleted);
            for dir in &deleted.kept_dirs {
                log::warn!(
                    "{name}: kept {} because it holds files that are not the torrent's",
                    dir.display()
                );
            }
            log::info!(
                "{name}: deleted {} ({})",
                plural(deleted.files as u64, "local file", "local files"),
                human_size(deleted.bytes)
            );
            outcome.bytes_freed += deleted.bytes;
            self.set_phase(&hash, Phase::DataDeleted)?;
        }
        if step.entry.keep_torrent_file {
            log::info!(
                "{name}: keeping {}: files too big for the space limit are still to fetch",
                step.entry.torrent_file.display()
            );
        } else {
            dispose_torrent_file(&step.entry.torrent_file, self.done_directory.as_deref())?;
            (self.checkpoint)(Checkpoint::Disposed);
        }
        self.journal.torrents.remove(&hash.to_hex());
        self.save()?;
        outcome.removed.push(name.clone());
        Ok(())
    }

    /// Loads torrents with `load.raw_start` (the bytes, not the path, so
    /// rtorrent needs no access to the managed directory and is not tied
    /// to a file lowspace later removes), batched in `system.multicall`
    /// requests that each fit rtorrent's size limit, read one batch at a
    /// time so memory stays at one request's worth.
    fn load(&mut self, steps: &[LoadStep], outcome: &mut Outcome) {
        if steps.is_empty() {
            return;
        }
        let mut sized: Vec<(&LoadStep, u64, usize)> = Vec::with_capacity(steps.len());
        for step in steps {
            match std::fs::metadata(&step.torrent_file) {
                Ok(meta) => sized.push((step, meta.len(), load_call_len(meta.len()))),
                Err(e) => outcome.failures.push(format!(
                    "{}: cannot read {}: {e}",
                    step.name,
                    step.torrent_file.display()
                )),
            }
        }
        let sizes: Vec<usize> = sized.iter().map(|(_, _, call)| *call).collect();
        let packing = pack(&sizes, limit::room_for_calls(self.request_limit));
        for &i in &packing.too_big {
            let Some(&(step, bytes, call)) = sized.get(i) else {
                continue;
            };
            let why = too_big_reason(
                bytes,
                limit::multicall_request_len(call),
                self.request_limit,
            );
            log::error!("{}: {why}", step.name);
            outcome.failures.push(format!("{}: {why}", step.name));
        }
        for batch in &packing.batches {
            let mut calls = Vec::with_capacity(batch.len());
            let mut batch_steps = Vec::with_capacity(batch.len());
            for &i in batch {
                let Some(&(step, _, _)) = sized.get(i) else {
                    continue;
                };
                match std::fs::read(&step.torrent_file) {
                    Ok(metainfo) => {
                        calls.push(NewTorrent {
                            metainfo,
                            start: true,
                            label: ROTATE_LABEL.into(),
                        });
                        batch_steps.push(step);
                    }
                    Err(e) => outcome.failures.push(format!(
                        "{}: cannot read {}: {e}",
                        step.name,
                        step.torrent_file.display()
                    )),
                }
            }
            self.send_loads(calls, batch_steps, outcome, true);
        }
    }

    /// Sends one batch. A batch refused as a whole (a .torrent that grew
    /// since it was measured, a proxy with a smaller limit) is sent again
    /// once as two halves, so one torrent does not sink the others.
    fn send_loads(
        &self,
        mut calls: Vec<NewTorrent>,
        mut steps: Vec<&LoadStep>,
        outcome: &mut Outcome,
        may_split: bool,
    ) {
        if calls.is_empty() {
            return;
        }
        let sent = self.client.add(&calls);
        (self.checkpoint)(Checkpoint::Client);
        match sent {
            Ok(results) => {
                for (step, result) in steps.iter().zip(results) {
                    match result {
                        Ok(_) => {
                            log::info!("{}: loaded ({})", step.name, human_size(step.size));
                            outcome.loaded.push(step.name.clone());
                        }
                        Err(e) => outcome.failures.push(format!(
                            "{}: {} refused to load it: {e}",
                            step.name,
                            self.client.kind()
                        )),
                    }
                }
            }
            Err(e) if may_split && calls.len() > 1 => {
                log::warn!(
                    "{} refused a request loading {} torrents ({e}); sending it again in two halves",
                    self.client.kind(),
                    calls.len()
                );
                let half = calls.len() / 2;
                let calls_2 = calls.split_off(half);
                let steps_2 = steps.split_off(half);
                self.send_loads(calls, steps, outcome, false);
                self.send_loads(calls_2, steps_2, outcome, false);
            }
            Err(e) => {
                for step in steps {
                    outcome
                        .failures
                        .push(format!("{}: not loaded: {e}", step.name));
                }
            }
        }
    }
}

/// Why one torrent's sync failed.
enum TorrentSyncError {
    /// The copy or its check; the kind says whom it is about
    /// ([`FailureKind::scope`]).
    Sync(SyncError),
    /// The journal could not be written: the run stops.
    Journal(RotateStepError),
}

/// Space this run's syncs and removals were to free but did not.
#[derive(Debug, Default)]
struct Lost {
    freed: u64,
    on_disk: u64,
}

impl Lost {
    fn add(&mut self, step: &SyncStep) {
        self.freed += step.frees;
        self.on_disk += step.frees_on_disk;
    }
}

/// Which syncs are still worth trying after the failures so far.
#[derive(Debug, Default)]
struct SyncGate {
    /// The remote failed as a whole; the message.
    remote_down: Option<String>,
    /// The smallest torrent the remote had no room for.
    full_at: Option<u64>,
}

impl SyncGate {
    fn skip(&self, step: &SyncStep) -> Option<String> {
        if let Some(why) = &self.remote_down {
            return Some(format!("the remote failed earlier in this run ({why})"));
        }
        match self.full_at {
            Some(full) if step.size >= full => Some(format!(
                "the remote had no room for {} earlier in this run, and this one is {}",
                human_size(full),
                human_size(step.size)
            )),
            _ => None,
        }
    }

    fn failed(&mut self, step: &SyncStep, e: &SyncError) {
        match e.kind.scope() {
            Scope::Torrent => {}
            Scope::Full => {
                self.full_at = Some(self.full_at.map_or(step.size, |f| f.min(step.size)));
            }
            Scope::Remote => self.remote_down = Some(short_reason(e)),
        }
    }
}

/// The first clause of a failure message, for the lines that refer back
/// to it.
fn short_reason(e: &SyncError) -> String {
    let first = e.message.split([':', ';']).next().unwrap_or("");
    first.trim().to_string()
}

pub(super) fn rel_paths(files: &[(Vec<String>, u64)]) -> Result<Vec<(RelPath, u64)>, RelPathError> {
    files
        .iter()
        .map(|(parts, size)| RelPath::from_components(parts).map(|p| (p, *size)))
        .collect()
}

/// The plan's (or journal's) component lists as checked paths, parsed
/// once before anything is deleted.
/// The torrent's files to delete, and what the client may leave beside
/// them once it no longer has the torrent: libtorrent's parts file in the
/// save path (qBittorrent deletes it, Deluge does not), Transmission's
/// unfinished `<file>.part`. Only when every file is on the remote
/// (`keep_torrent_file` false): otherwise those may hold bytes of the files
/// still to fetch. A leftover that is not there is fine.
fn with_leftovers(
    writes: SkippedFileWrites,
    hash: &InfoHash,
    files: &[Vec<String>],
    keep_torrent_file: bool,
) -> Vec<Vec<String>> {
    let mut all = files.to_vec();
    if keep_torrent_file {
        return all;
    }
    match writes {
        SkippedFileWrites::PartFile => all.push(vec![super::gather::parts_file_name(hash)]),
        SkippedFileWrites::InFile {
            incomplete_suffix: Some(suffix),
        } => all.extend(files.iter().filter_map(|f| {
            let (last, dirs) = f.split_last()?;
            let mut named = dirs.to_vec();
            named.push(format!("{last}{suffix}"));
            // A torrent may itself have a file of that name.
            (!files.contains(&named)).then_some(named)
        })),
        SkippedFileWrites::InFile {
            incomplete_suffix: None,
        } => {}
    }
    all
}

fn paths_to_delete(files: &[Vec<String>]) -> Result<Vec<RelPath>, RelPathError> {
    files
        .iter()
        .map(|parts| RelPath::from_components(parts))
        .collect()
}

/// Removes a finished .torrent, or moves it to `done_directory`, durably
/// (the directories fsynced), so a power cut after the journal drops the
/// torrent cannot bring its .torrent back to be loaded again. Already gone
/// is fine (a crash between this and the journal update).
fn dispose_torrent_file(file: &Path, done_directory: Option<&Path>) -> Result<(), RotateStepError> {
    if !file.exists() {
        return Ok(());
    }
    match done_directory {
        Some(done) => {
            create_dir_all_durable(done).map_err(|source| RotateStepError::Io {
                what: format!("cannot create done_directory {}", done.display()),
                source,
            })?;
            let name = file.file_name().ok_or_else(|| {
                RotateStepError::Torrent(format!("{} has no file name", file.display()))
            })?;
            let target = done.join(name);
            let moved = match std::fs::rename(file, &target) {
                // Renamed: both directories' entries made durable.
                Ok(()) => sync_dir(done).and_then(|()| sync_dir(&parent_dir(file))),
                // Another file system: copy, make it durable, then remove.
                Err(_) => std::fs::copy(file, &target)
                    .and_then(|_| std::fs::File::open(&target)?.sync_all())
                    .and_then(|()| sync_dir(done))
                    .and_then(|()| remove_file_durable(file)),
            };
            moved.map_err(|source| RotateStepError::Io {
                what: format!("cannot move {} to {}", file.display(), done.display()),
                source,
            })?;
            log::info!("moved {} to {}", file.display(), done.display());
        }
        None => {
            remove_file_durable(file).map_err(|source| RotateStepError::Io {
                what: format!("cannot remove {}", file.display()),
                source,
            })?;
            log::info!("removed {}", file.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&[&str]]) -> Vec<Vec<String>> {
        list.iter()
            .map(|p| p.iter().map(|c| c.to_string()).collect())
            .collect()
    }

    #[test]
    fn what_each_client_leaves_beside_a_removed_torrent_is_deleted_with_it() {
        let hash = InfoHash::from_hex("10E54DB8B2CF5222A02F420DF8564990DF135F2F").unwrap();
        let files = paths(&[
            &["trio", "a.bin"],
            &["trio", "a.bin.part"],
            &["trio", "b.bin"],
        ]);
        let transmission = SkippedFileWrites::InFile {
            incomplete_suffix: Some(".part"),
        };
        let rtorrent = SkippedFileWrites::InFile {
            incomplete_suffix: None,
        };
        // (client, every file on the remote, extra paths deleted)
        let table: [(SkippedFileWrites, bool, Vec<Vec<String>>); 6] = [
            (rtorrent, true, vec![]),
            (rtorrent, false, vec![]),
            (
                SkippedFileWrites::PartFile,
                true,
                paths(&[&[".10e54db8b2cf5222a02f420df8564990df135f2f.parts"]]),
            ),
            // Files left to fetch: the parts file may hold their bytes.
            (SkippedFileWrites::PartFile, false, vec![]),
            (
                transmission,
                true,
                // a.bin.part is the torrent's own file: listed once.
                paths(&[&["trio", "a.bin.part.part"], &["trio", "b.bin.part"]]),
            ),
            (transmission, false, vec![]),
        ];
        for (writes, all_on_remote, extra) in table {
            let got = with_leftovers(writes, &hash, &files, !all_on_remote);
            let mut want = files.clone();
            want.extend(extra);
            assert_eq!(got, want, "{writes:?}, all on remote: {all_on_remote}");
            assert!(paths_to_delete(&got).is_ok());
        }
    }
}
