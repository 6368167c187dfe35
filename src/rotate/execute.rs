//! The executor: carries out a [`Plan`] one step at a time, writing the
//! journal before and after every step that changes something, so a run
//! killed at any moment is continued by the next one without loss.
//!
//! Order of a torrent's removal, and why:
//! 1. copy to the remote, then verify every file's path and size there;
//! 2. journal `Verified` (from now on the torrent is never loaded again);
//! 3. erase it from rtorrent (journal `Erased`), so rtorrent stops writing;
//! 4. delete its own files (journal `DataDeleted`);
//! 5. remove or archive its .torrent, then drop its journal entry.

use std::path::{Path, PathBuf};

use super::delete::delete_torrent_files;
use super::journal::{Entry, Journal, Phase};
use super::plan::{LoadStep, Plan, RemoveStep, SyncStep};
use crate::rtorrent::xmlrpc::Value;
use crate::rtorrent::{Call, Client};
use crate::size::human_size;
use crate::sync::{RelPath, Remote};
use crate::torrent::InfoHash;

/// The label lowspace puts on the torrents it loads (`d.custom1`), so they
/// can be told apart in ruTorrent and similar front ends.
pub const ROTATE_LABEL: &str = "lowspace";

/// rtorrent refuses XML-RPC requests above its size limit (2 MiB by
/// default); batches of loads stay well under it.
const LOAD_BATCH_BYTES: usize = 512 * 1024;

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

/// Everything the executor acts on.
pub struct Executor<'a> {
    pub client: &'a Client,
    pub remote: Option<&'a dyn Remote>,
    pub journal: Journal,
    pub journal_path: PathBuf,
    pub download_dir: PathBuf,
    pub done_directory: Option<PathBuf>,
    pub now: u64,
}

impl Executor<'_> {
    pub(super) fn save(&self) -> Result<(), String> {
        self.journal
            .save(&self.journal_path)
            .map_err(|e| e.to_string())
    }

    fn set_phase(&mut self, hash: &InfoHash, phase: Phase) -> Result<(), String> {
        if let Some(entry) = self.journal.torrents.get_mut(&hash.to_hex()) {
            entry.phase = phase;
            entry.updated = self.now;
        }
        self.save()
    }

    /// Carries out the whole plan. Journal write failures stop the run at
    /// once: continuing without a record could lose track of verified data.
    pub fn execute(&mut self, plan: &Plan) -> Result<Outcome, String> {
        let mut outcome = Outcome::default();
        for hash in &plan.forget {
            self.journal.torrents.remove(&hash.to_hex());
        }
        if plan.forget_file_mode {
            self.journal.file_mode = None;
        }
        let waiting_changed = self.journal.waiting_since != plan.waiting_since;
        if waiting_changed {
            self.journal.waiting_since = plan.waiting_since.clone();
        }
        if !plan.forget.is_empty() || plan.forget_file_mode || waiting_changed {
            self.save()?;
        }
        for step in &plan.remove {
            if let Err(e) = self.finish_removal(step, &mut outcome) {
                outcome.failures.push(format!("{}: {e}", step.entry.name));
            }
        }
        for step in &plan.sync {
            match self.sync(step) {
                Ok(()) => {
                    outcome.synced.push(step.name.clone());
                    let entry = self.journal.torrents.get(&step.info_hash.to_hex()).cloned();
                    if let Some(entry) = entry {
                        let removal = RemoveStep {
                            info_hash: step.info_hash,
                            files: entry.files.iter().map(|(p, _)| p.clone()).collect(),
                            entry,
                            loaded: step.loaded,
                        };
                        if let Err(e) = self.finish_removal(&removal, &mut outcome) {
                            outcome.failures.push(format!("{}: {e}", step.name));
                        }
                    }
                }
                Err(SyncFailure::Journal(e)) => return Err(e),
                Err(SyncFailure::Remote(e)) => {
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
                    // A remote that failed once after its retries will fail
                    // the next torrent too: stop here rather than spend the
                    // retries again on every torrent.
                    outcome.failures.push(format!("{}: {e}", step.name));
                    log::error!(
                        "{}: {e}; no further syncs this run, local data kept",
                        step.name
                    );
                    break;
                }
            }
        }
        if outcome.failures.is_empty() {
            self.load(&plan.load, &mut outcome);
        } else if !plan.load.is_empty() {
            log::warn!(
                "not loading {} torrent(s) this run: the space they were planned into depends on removals that failed",
                plan.load.len()
            );
        }
        if let Some(step) = &plan.file_mode {
            self.file_mode(step, &mut outcome)?;
        }
        Ok(outcome)
    }

    /// Copies one torrent and verifies the copy.
    fn sync(&mut self, step: &SyncStep) -> Result<(), SyncFailure> {
        let remote = self.remote.ok_or_else(|| {
            SyncFailure::Remote("no remote is configured ([remote] in TOML, rsync_host/rsync_path or rclone_remote in the legacy file)".into())
        })?;
        let local_root = step
            .base_path
            .parent()
            .ok_or_else(|| {
                SyncFailure::Remote(format!(
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
        self.save().map_err(SyncFailure::Journal)?;

        let expected = rel_paths(&step.files).map_err(SyncFailure::Remote)?;
        let top = expected
            .first()
            .map(|(p, _)| p.first_component().to_string())
            .ok_or_else(|| SyncFailure::Remote("the torrent lists no files".into()))?;
        let top = RelPath::new(&top).map_err(|e| SyncFailure::Remote(e.to_string()))?;
        log::info!(
            "{}: copying {} to {} ({} files)",
            step.name,
            human_size(step.size),
            remote.describe(),
            expected.len()
        );
        remote
            .push(&local_root, std::slice::from_ref(&top))
            .map_err(|e| SyncFailure::Remote(e.to_string()))?;
        let verification = remote
            .verify(&expected)
            .map_err(|e| SyncFailure::Remote(e.to_string()))?;
        if !verification.is_complete() {
            let mut why = Vec::new();
            if !verification.missing.is_empty() {
                why.push(format!(
                    "{} missing (first: {})",
                    verification.missing.len(),
                    verification.missing[0].as_str()
                ));
            }
            if let Some(w) = verification.wrong_size.first() {
                why.push(format!(
                    "{} with the wrong size (first: {w:?})",
                    verification.wrong_size.len()
                ));
            }
            return Err(SyncFailure::Remote(format!(
                "the remote copy is incomplete after the transfer: {}; local data kept",
                why.join(", ")
            )));
        }
        log::info!(
            "{}: all {} files verified on {}",
            step.name,
            verification.verified,
            remote.describe()
        );
        self.set_phase(&step.info_hash, Phase::Verified)
            .map_err(SyncFailure::Journal)
    }

    /// Steps 3 to 5 for a verified torrent, each skipped if already done.
    pub(super) fn finish_removal(
        &mut self,
        step: &RemoveStep,
        outcome: &mut Outcome,
    ) -> Result<(), String> {
        let hash = step.info_hash;
        let name = &step.entry.name;
        let mut phase = self
            .journal
            .phase(&hash.to_hex())
            .unwrap_or(step.entry.phase);
        if phase < Phase::Verified {
            return Err("refusing to remove a torrent whose remote copy is not verified".into());
        }
        if phase == Phase::Verified {
            if step.loaded {
                match self.client.erase(&hash.to_hex_upper()) {
                    Ok(()) => log::info!("{name}: erased from rtorrent"),
                    // Gone already (erased just before a crash): fine.
                    Err(e) if e.is_unknown_hash() => {}
                    Err(e) => return Err(format!("cannot erase from rtorrent: {e}")),
                }
            }
            self.set_phase(&hash, Phase::Erased)?;
            phase = Phase::Erased;
        }
        if phase == Phase::Erased {
            let root = step.entry.base_path.parent().ok_or_else(|| {
                format!("data path {} has no parent", step.entry.base_path.display())
            })?;
            let deleted = delete_torrent_files(&self.download_dir, root, &step.files)
                .map_err(|e| e.to_string())?;
            for dir in &deleted.kept_dirs {
                log::warn!(
                    "{name}: kept {} because it holds files that are not the torrent's",
                    dir.display()
                );
            }
            log::info!(
                "{name}: deleted {} local files ({})",
                deleted.files,
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
        }
        self.journal.torrents.remove(&hash.to_hex());
        self.save()?;
        outcome.removed.push(name.clone());
        Ok(())
    }

    /// Loads torrents with `load.raw_start` (the bytes, not the path, so
    /// rtorrent needs no access to the managed directory and is not tied
    /// to a file lowspace later removes), batched in `system.multicall`.
    fn load(&mut self, steps: &[LoadStep], outcome: &mut Outcome) {
        let mut batch: Vec<(Call, &LoadStep)> = Vec::new();
        let mut batch_bytes = 0;
        for step in steps {
            let bytes = match std::fs::read(&step.torrent_file) {
                Ok(bytes) => bytes,
                Err(e) => {
                    outcome.failures.push(format!(
                        "{}: cannot read {}: {e}",
                        step.name,
                        step.torrent_file.display()
                    ));
                    continue;
                }
            };
            batch_bytes += bytes.len() * 4 / 3 + 256;
            let call = Call::new(
                "load.raw_start",
                vec![
                    Value::str(""),
                    Value::Base64(bytes),
                    Value::str(format!("d.custom1.set={ROTATE_LABEL}")),
                ],
            );
            batch.push((call, step));
            if batch_bytes >= LOAD_BATCH_BYTES {
                self.send_loads(std::mem::take(&mut batch), outcome);
                batch_bytes = 0;
            }
        }
        if !batch.is_empty() {
            self.send_loads(batch, outcome);
        }
    }

    fn send_loads(&self, batch: Vec<(Call, &LoadStep)>, outcome: &mut Outcome) {
        let (calls, steps): (Vec<Call>, Vec<&LoadStep>) = batch.into_iter().unzip();
        match self.client.multicall(&calls) {
            Ok(results) => {
                for (step, result) in steps.iter().zip(results) {
                    match result {
                        Ok(_) => {
                            log::info!("{}: loaded ({})", step.name, human_size(step.size));
                            outcome.loaded.push(step.name.clone());
                        }
                        Err(e) => outcome
                            .failures
                            .push(format!("{}: rtorrent refused to load it: {e}", step.name)),
                    }
                }
            }
            Err(e) => outcome
                .failures
                .push(format!("loading {} torrent(s): {e}", steps.len())),
        }
    }
}

pub(super) enum SyncFailure {
    /// The remote or the data: the run goes on without deleting anything.
    Remote(String),
    /// The journal could not be written: the run stops.
    Journal(String),
}

pub(super) fn rel_paths(files: &[(Vec<String>, u64)]) -> Result<Vec<(RelPath, u64)>, String> {
    files
        .iter()
        .map(|(parts, size)| {
            RelPath::new(&parts.join("/"))
                .map(|p| (p, *size))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Removes a finished .torrent, or moves it to `done_directory`. Already
/// gone is fine (a crash between this and the journal update).
fn dispose_torrent_file(file: &Path, done_directory: Option<&Path>) -> Result<(), String> {
    if !file.exists() {
        return Ok(());
    }
    match done_directory {
        Some(done) => {
            std::fs::create_dir_all(done)
                .map_err(|e| format!("cannot create done_directory {}: {e}", done.display()))?;
            let name = file
                .file_name()
                .ok_or_else(|| format!("{} has no file name", file.display()))?;
            let target = done.join(name);
            if std::fs::rename(file, &target).is_err() {
                // Another file system: copy, make it durable, then remove.
                std::fs::copy(file, &target)
                    .and_then(|_| std::fs::File::open(&target)?.sync_all())
                    .and_then(|_| std::fs::remove_file(file))
                    .map_err(|e| {
                        format!("cannot move {} to {}: {e}", file.display(), done.display())
                    })?;
            }
            log::info!("moved {} to {}", file.display(), done.display());
        }
        None => {
            std::fs::remove_file(file)
                .map_err(|e| format!("cannot remove {}: {e}", file.display()))?;
            log::info!("removed {}", file.display());
        }
    }
    Ok(())
}
