//! The executor's file-by-file half: one run of a torrent bigger than the
//! space allows (see [`super::bigfile`] for the decisions).
//!
//! Order within a run, and why:
//! 1. load it if rtorrent lacks it, every file off before anything starts;
//! 2. stop it and read its files (one round trip), so nothing changes
//!    while complete files are copied;
//! 3. truncate files already on the remote that hold bytes again (a piece
//!    shared with a neighbour brought them back);
//! 4. copy the complete selected files, verify them on the remote (path
//!    and size), journal their indexes, and only then truncate them;
//! 5. finished: verify every file once more, then hand the torrent to the
//!    ordinary removal (journal `Verified`: erase, delete, dispose);
//! 6. otherwise: the next files get priority, everything else 0, start.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::bigfile::{
    apply_selection, own_pieces, plan_files, priorities, FilePlan, FileState, Layout,
};
use super::error::RotateStepError;
use super::execute::{Checkpoint, Executor, Outcome, ROTATE_LABEL};
use super::gather::{file_mode_files, file_states, incomplete_suffix, parts_file_bytes};
use super::journal::{Entry, FileModeEntry, PartialEntry, Phase};
use super::plan::{FileModeStep, RemoveStep};
use super::report::plural;
use crate::client::{FilePriority, NewTorrent, ThenDo, TorrentFile};
use crate::guard::truncate_torrent_file;
use crate::size::human_size;
use crate::sync::{RelPath, RelPathError};
use crate::torrent::Metainfo;

/// The files of this run as found on disk, and how each is named
/// relative to the local root.
struct Files<'a> {
    states: &'a [FileState],
    local_root: &'a Path,
    rel: &'a dyn Fn(&FileState) -> Result<RelPath, RelPathError>,
}

/// The files step 6 leaves alone: on the remote as of step 4 (a file
/// step 5 found missing there is fetched from the next run on), or too big.
struct Kept<'a> {
    on_remote: &'a BTreeSet<usize>,
    too_big: &'a BTreeSet<usize>,
}

/// What step 4 left for step 6.
#[derive(Debug, Default)]
struct Copied {
    /// Copied but not verified on the remote: their space is not free.
    unsynced: Vec<usize>,
    /// Complete in rtorrent but short on disk: rtorrent must check them
    /// again and fetch what is missing.
    in_flight_again: Vec<usize>,
    recheck: bool,
}

impl Executor<'_> {
    /// One file-by-file run. Only a journal write failure is an error (the
    /// run stops); anything else is recorded in `outcome` and nothing
    /// unverified is touched.
    pub(super) fn file_mode(
        &mut self,
        step: &FileModeStep,
        outcome: &mut Outcome,
    ) -> Result<(), RotateStepError> {
        match self.file_run(step, outcome) {
            Ok(()) => Ok(()),
            Err(e) if e.stops_run() => Err(e),
            Err(e) => {
                log::error!("{}: {e}", step.name);
                outcome.failures.push(format!("{}: {e}", step.name));
                Ok(())
            }
        }
    }

    fn file_record(&mut self) -> Result<&mut FileModeEntry, RotateStepError> {
        self.journal.file_mode.as_mut().ok_or_else(|| {
            RotateStepError::Torrent("the journal lost its file-by-file record".into())
        })
    }

    /// One run in steps 1 to 6 (see the module's head); step 5 (leaving
    /// the mode) is [`Self::leave_file_mode`].
    fn file_run(
        &mut self,
        step: &FileModeStep,
        outcome: &mut Outcome,
    ) -> Result<(), RotateStepError> {
        self.enter_file_mode(step)?;
        let (base_path, files) = self.stopped_files(step)?;
        let local_root = base_path
            .parent()
            .ok_or_else(|| {
                RotateStepError::Torrent(format!("data path {} has no parent", base_path.display()))
            })?
            .to_path_buf();
        let top = base_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| step.name.clone());
        // Each file relative to the local root: "<data dir>/<path>".
        let rel = |f: &FileState| -> Result<RelPath, RelPathError> {
            RelPath::for_torrent_file(&top, step.single_file, &f.path)
        };

        let writes = self.client.skipped_file_writes();
        let mut states = file_states(
            &base_path,
            step.single_file,
            &files,
            incomplete_suffix(writes),
        );
        let selected = self.file_record()?.selected.clone();
        apply_selection(&mut states, &selected);
        let on_remote = self.file_record()?.on_remote.clone();
        let layout = Layout {
            piece_length: step.piece_length,
            disk: step.disk,
            skipped: step
                .skipped
                .holding(parts_file_bytes(&base_path, &step.info_hash)),
        };
        let plan = plan_files(&states, &on_remote, step.budget, layout);
        for (f, read) in states.iter().zip(&files) {
            log::debug!(
                "{}: {}: {} of {} pieces, {} bytes on disk, {}",
                step.name,
                f.path.join("/"),
                read.done_pieces,
                read.pieces,
                f.on_disk,
                if f.priority > 0 {
                    "selected"
                } else {
                    "not selected"
                }
            );
        }
        for reason in &plan.reasons {
            // Once per run, with the size the limit would need.
            log::warn!("{}: {reason}", step.name);
        }
        let too_big: BTreeSet<usize> = plan.too_big.iter().copied().collect();
        if self.file_record()?.too_big != too_big {
            self.file_record()?.too_big = too_big.clone();
            self.save()?;
        }

        let files = Files {
            states: &states,
            local_root: &local_root,
            rel: &rel,
        };
        self.truncate_refilled(step, &plan, &files, outcome)?;
        let copied = self.copy_and_truncate(step, &plan, &files, outcome)?;

        // 5. Finished: every file that can be fetched is on the remote.
        let on_remote = self.file_record()?.on_remote.clone();
        let done = states
            .iter()
            .all(|f| on_remote.contains(&f.index) || too_big.contains(&f.index));
        if done && self.confirm_on_remote(step, &states, &rel)? {
            return self.leave_file_mode(step, &states, &base_path, &rel, outcome);
        }
        let kept = Kept {
            on_remote: &on_remote,
            too_big: &too_big,
        };
        self.select_next(step, &plan, &states, &copied, kept)
    }

    /// Step 1: the record comes first, so from here on a crash resumes
    /// this torrent; then the torrent is loaded if rtorrent lacks it.
    fn enter_file_mode(&mut self, step: &FileModeStep) -> Result<(), RotateStepError> {
        if self.journal.file_mode.is_none() {
            let hex = step.info_hash.to_hex();
            let on_remote = self
                .journal
                .partial
                .remove(&hex)
                .map(|p| p.on_remote)
                .unwrap_or_else(|| step.on_remote.clone());
            self.journal.file_mode = Some(FileModeEntry {
                info_hash: hex,
                name: step.name.clone(),
                torrent_file: step.torrent_file.clone(),
                on_remote,
                started: self.now,
                updated: self.now,
                ..FileModeEntry::default()
            });
            self.save()?;
            log::info!("{}: entering file-by-file mode", step.name);
        }
        if !step.loaded {
            self.load_with_every_file_off(step)?;
        }
        Ok(())
    }

    /// Step 2: stop, then read, so complete files stay as they are while
    /// copied. The data path (journalled when it changed) and the files.
    fn stopped_files(
        &mut self,
        step: &FileModeStep,
    ) -> Result<(PathBuf, Vec<TorrentFile>), RotateStepError> {
        let fail = RotateStepError::Torrent;
        let read = file_mode_files(
            self.client,
            &step.info_hash,
            &step.name,
            step.single_file,
            true,
        );
        (self.checkpoint)(Checkpoint::Client);
        let (base_path, files) = read.map_err(|source| RotateStepError::Client {
            what: format!("cannot read its files from {}", self.client.kind()),
            source,
        })?;
        if files.len() != step.files.len() {
            return Err(fail(format!(
                "{} lists {} files, the .torrent {}",
                self.client.kind(),
                files.len(),
                step.files.len()
            )));
        }
        let base_path = if base_path.as_os_str().is_empty() {
            self.file_record()?.base_path.clone()
        } else {
            base_path
        };
        if base_path.as_os_str().is_empty() {
            return Err(fail(format!(
                "{} does not say where its data is yet",
                self.client.kind()
            )));
        }
        if self.file_record()?.base_path != base_path {
            self.file_record()?.base_path = base_path.clone();
            self.save()?;
        }
        Ok((base_path, files))
    }

    /// Step 3: files on the remote that hold bytes again.
    fn truncate_refilled(
        &self,
        step: &FileModeStep,
        plan: &FilePlan,
        files: &Files,
        outcome: &mut Outcome,
    ) -> Result<(), RotateStepError> {
        for &i in &plan.truncate {
            let Some(f) = files.states.get(i) else {
                continue;
            };
            let freed =
                truncate_torrent_file(&self.download_dir, files.local_root, &(files.rel)(f)?)?;
            (self.checkpoint)(Checkpoint::Truncated);
            log::info!(
                "{}: {} is on the remote and held {} again (a shared piece); truncated",
                step.name,
                f.path.join("/"),
                human_size(freed)
            );
            outcome.bytes_freed += freed;
        }
        Ok(())
    }

    /// Step 4: copy, verify, journal, then truncate. A failed copy is
    /// recorded in `outcome` and step 6 keeps its files selected; a journal
    /// failure or a path the guard refuses ends this torrent's run.
    fn copy_and_truncate(
        &mut self,
        step: &FileModeStep,
        plan: &FilePlan,
        files: &Files,
        outcome: &mut Outcome,
    ) -> Result<Copied, RotateStepError> {
        let mut copied = Copied::default();
        if plan.sync.is_empty() {
            return Ok(copied);
        }
        let to_sync: Vec<&FileState> = plan
            .sync
            .iter()
            .filter_map(|&i| files.states.get(i))
            .collect();
        match self.sync_files(step, files.local_root, &to_sync, files.rel) {
            Ok((verified, short)) => {
                if !short.is_empty() {
                    copied.recheck = true;
                }
                copied.unsynced = plan
                    .sync
                    .iter()
                    .copied()
                    .filter(|i| !verified.contains(i) && !short.contains(i))
                    .collect();
                copied.in_flight_again = short;
                if !verified.is_empty() {
                    let now = self.now;
                    let record = self.file_record()?;
                    record.on_remote.extend(verified.iter().copied());
                    record.updated = now;
                    self.save()?;
                }
                for &i in &verified {
                    let Some(f) = files.states.get(i) else {
                        continue;
                    };
                    let freed = truncate_torrent_file(
                        &self.download_dir,
                        files.local_root,
                        &(files.rel)(f)?,
                    )?;
                    (self.checkpoint)(Checkpoint::Truncated);
                    outcome.bytes_freed += freed;
                    outcome
                        .synced
                        .push(format!("{}/{}", step.name, f.path.join("/")));
                }
                if !copied.unsynced.is_empty() {
                    outcome.failures.push(format!(
                        "{}: {} not verified on the remote after the copy; local data kept",
                        step.name,
                        plural(copied.unsynced.len() as u64, "file", "files")
                    ));
                }
            }
            Err(e) if e.stops_run() => return Err(e),
            Err(e) => {
                log::error!("{}: {e}; local data kept", step.name);
                outcome.failures.push(format!("{}: {e}", step.name));
                copied.unsynced = plan.sync.clone();
            }
        }
        Ok(copied)
    }

    /// Step 6: the next files. If a copy failed, its space was not freed:
    /// keep what is in flight and select nothing new.
    fn select_next(
        &mut self,
        step: &FileModeStep,
        plan: &FilePlan,
        states: &[FileState],
        copied: &Copied,
        Kept { on_remote, too_big }: Kept,
    ) -> Result<(), RotateStepError> {
        let mut next = plan.clone();
        next.keep.extend(copied.in_flight_again.iter().copied());
        if !copied.unsynced.is_empty() {
            next.select.clear();
            next.keep.extend(copied.unsynced.iter().copied());
        }
        next.keep.retain(|i| !on_remote.contains(i));
        next.select.retain(|i| !on_remote.contains(i));
        let wanted = priorities(states, &next);
        // The journal first: a crash from here on resumes this selection.
        let chosen: BTreeSet<usize> = next.keep.iter().chain(&next.select).copied().collect();
        if self.file_record()?.selected != chosen {
            self.file_record()?.selected = chosen;
            self.save()?;
        }
        let wanted: Vec<(usize, FilePriority)> = wanted
            .iter()
            .map(|(i, p)| (*i, FilePriority::from_level(*p)))
            .collect();
        if copied.recheck {
            log::warn!(
                "{}: {} counts files complete that are short on disk; checking its data again",
                step.name,
                self.client.kind()
            );
        }
        let then = ThenDo {
            check_hash: copied.recheck,
            start: true,
        };
        let set = self
            .client
            .set_file_priorities(&step.info_hash, &wanted, then);
        (self.checkpoint)(Checkpoint::Client);
        set.map_err(|source| RotateStepError::Client {
            what: "cannot set file priorities".into(),
            source,
        })?;
        if !next.select.is_empty() {
            let names: Vec<String> = next
                .select
                .iter()
                .filter_map(|&i| states.get(i))
                .map(|f| f.path.join("/"))
                .collect();
            log::info!(
                "{}: downloading next ({} of {} with margins): {}",
                step.name,
                human_size(next.selected_bytes),
                human_size(step.budget),
                names.join(", ")
            );
        }
        log::info!(
            "{}: {} of {} files on the remote, {} downloading, {} too big",
            step.name,
            on_remote.len(),
            states.len(),
            next.keep.len() + next.select.len(),
            too_big.len()
        );
        Ok(())
    }

    /// `load.raw` (stopped) then every file off, so that nothing is fetched
    /// before this run chooses.
    fn load_with_every_file_off(&self, step: &FileModeStep) -> Result<(), RotateStepError> {
        let bytes = std::fs::read(&step.torrent_file).map_err(|source| RotateStepError::Io {
            what: format!("cannot read {}", step.torrent_file.display()),
            source,
        })?;
        let added = self.client.add(&[NewTorrent {
            metainfo: bytes,
            start: false,
            label: ROTATE_LABEL.into(),
        }]);
        (self.checkpoint)(Checkpoint::Client);
        let refused = |source| RotateStepError::Client {
            what: format!("{} refused to load it", self.client.kind()),
            source,
        };
        for r in added.map_err(refused)? {
            r.map_err(refused)?;
        }
        // rtorrent may add the download a moment after answering.
        let mut known = false;
        for _ in 0..50 {
            if self.client.has(&step.info_hash).unwrap_or(false) {
                known = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if !known {
            return Err(RotateStepError::Torrent(format!(
                "{} did not add it within 5 s of loading",
                self.client.kind()
            )));
        }
        let off: Vec<(usize, FilePriority)> = (0..step.files.len())
            .map(|i| (i, FilePriority::Off))
            .collect();
        let set = self
            .client
            .set_file_priorities(&step.info_hash, &off, ThenDo::default());
        (self.checkpoint)(Checkpoint::Client);
        set.map_err(|source| RotateStepError::Client {
            what: "cannot turn its files off".into(),
            source,
        })?;
        log::info!(
            "{}: loaded with all {} files off ({})",
            step.name,
            step.files.len(),
            human_size(step.files.iter().map(|(_, s)| s).sum())
        );
        Ok(())
    }

    /// The first piece wholly inside `f` whose bytes on disk do not have
    /// the .torrent's SHA-1, if any.
    fn bad_piece(
        &self,
        step: &FileModeStep,
        f: &FileState,
        local: &Path,
    ) -> Result<Option<u64>, RotateStepError> {
        use sha1::{Digest, Sha1};
        use std::io::{Read, Seek, SeekFrom};
        let sizes: Vec<u64> = step.files.iter().map(|(_, s)| *s).collect();
        let Some((start, pieces)) = own_pieces(&sizes, f.index, step.piece_length) else {
            return Ok(None);
        };
        let meta = Metainfo::from_file(&step.torrent_file).map_err(|e| {
            RotateStepError::Torrent(format!("cannot read {}: {e}", step.torrent_file.display()))
        })?;
        let unreadable = |source| RotateStepError::Io {
            what: format!("cannot read {}", local.display()),
            source,
        };
        let mut file = std::fs::File::open(local).map_err(unreadable)?;
        let mut buf = Vec::new();
        for p in pieces {
            let (Some(want), Some(len)) =
                (meta.piece_hash(p as usize), meta.piece_size(p as usize))
            else {
                return Err(RotateStepError::Torrent(format!(
                    "{} has no piece {p}: it does not match the files {} lists",
                    step.torrent_file.display(),
                    self.client.kind()
                )));
            };
            let at = (p * step.piece_length).saturating_sub(start);
            buf.resize(len as usize, 0);
            file.seek(SeekFrom::Start(at))
                .and_then(|_| file.read_exact(&mut buf))
                .map_err(unreadable)?;
            if <[u8; 20]>::from(Sha1::digest(&buf)) != want {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// One push for all the files, one verification; the indexes found on
    /// the remote with their size.
    fn sync_files(
        &self,
        step: &FileModeStep,
        local_root: &Path,
        files: &[&FileState],
        rel: &dyn Fn(&FileState) -> Result<RelPath, RelPathError>,
    ) -> Result<(Vec<usize>, Vec<usize>), RotateStepError> {
        let remote = self.remote.ok_or_else(|| RotateStepError::Torrent("no remote is configured ([remote] in TOML, rsync_host/rsync_path or rclone_remote in the legacy file)".into()))?;
        let expected = files
            .iter()
            .map(|f| rel(f).map(|p| (p, f.size)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut paths = Vec::new();
        let mut short = Vec::new();
        let mut to_check = Vec::new();
        for ((path, size), f) in expected.iter().zip(files) {
            let local = local_root.join(path.as_str());
            // rtorrent may not create an empty file at all.
            if *size == 0 && !local.exists() {
                std::fs::write(&local, b"").map_err(|source| RotateStepError::Io {
                    what: format!("cannot create empty {}", local.display()),
                    source,
                })?;
            }
            // libtorrent may call a file complete whose bytes are still in
            // its parts file: missing counts as short (checked again).
            let len = match std::fs::metadata(&local) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(source) => {
                    return Err(RotateStepError::Io {
                        what: local.display().to_string(),
                        source,
                    })
                }
            };
            if len != f.size {
                log::warn!(
                    "{}: {} is complete in {} but {len} bytes on disk, not {}; not copied",
                    step.name,
                    local.display(),
                    self.client.kind(),
                    f.size
                );
                short.push(f.index);
                continue;
            }
            // rtorrent has been seen counting a file complete while its
            // last block was not yet on disk: the pieces wholly inside the
            // file are checked against the .torrent before anything is
            // copied (those shared with a neighbour may not be checkable,
            // the neighbour being truncated already).
            if let Some(bad) = self.bad_piece(step, f, &local)? {
                log::warn!(
                    "{}: {} is complete in {} but its piece {bad} does not match the .torrent on disk; not copied, checking it again",
                    step.name,
                    local.display(),
                    self.client.kind()
                );
                short.push(f.index);
                continue;
            }
            paths.push(path.clone());
            to_check.push((path.clone(), *size, f.index));
        }
        if paths.is_empty() {
            return Ok((Vec::new(), short));
        }
        let expected: Vec<(RelPath, u64)> =
            to_check.iter().map(|(p, s, _)| (p.clone(), *s)).collect();
        log::info!(
            "{}: copying {} ({}) to {}",
            step.name,
            plural(files.len() as u64, "file", "files"),
            human_size(files.iter().map(|f| f.size).sum()),
            remote.describe()
        );
        remote.push(local_root, &paths)?;
        (self.checkpoint)(Checkpoint::Pushed);
        let v = remote.verify(&expected)?;
        (self.checkpoint)(Checkpoint::Verified);
        let bad: BTreeSet<&RelPath> = v
            .missing
            .iter()
            .chain(v.wrong_size.iter().map(|w| &w.path))
            .collect();
        for b in &bad {
            log::warn!(
                "{}: {b} is not on the remote at its size after the copy",
                step.name
            );
        }
        let verified = to_check
            .iter()
            .filter(|(p, _, _)| !bad.contains(p))
            .map(|(_, _, i)| *i)
            .collect();
        Ok((verified, short))
    }

    /// Before leaving the mode, the whole set of (path, size) once more: a
    /// file deleted on the remote since it was verified goes back to
    /// waiting instead of being lost. Extra files there (rsync temporaries)
    /// do not count.
    fn confirm_on_remote(
        &mut self,
        step: &FileModeStep,
        states: &[FileState],
        rel: &dyn Fn(&FileState) -> Result<RelPath, RelPathError>,
    ) -> Result<bool, RotateStepError> {
        let remote = self
            .remote
            .ok_or_else(|| RotateStepError::Torrent("no remote is configured".into()))?;
        let on_remote = self.file_record()?.on_remote.clone();
        let done: Vec<&FileState> = states
            .iter()
            .filter(|f| on_remote.contains(&f.index))
            .collect();
        let expected = done
            .iter()
            .map(|f| rel(f).map(|p| (p, f.size)))
            .collect::<Result<Vec<_>, _>>()?;
        let v = remote.verify(&expected)?;
        (self.checkpoint)(Checkpoint::Verified);
        if v.is_complete() {
            log::info!(
                "{}: all {} fetchable files verified on {}",
                step.name,
                v.verified,
                remote.describe()
            );
            return Ok(true);
        }
        let bad: BTreeSet<&RelPath> = v
            .missing
            .iter()
            .chain(v.wrong_size.iter().map(|w| &w.path))
            .collect();
        let record = self.file_record()?;
        for ((p, _), f) in expected.iter().zip(&done) {
            if bad.contains(p) {
                log::warn!(
                    "{}: {p} is no longer on the remote at its size; fetching it again",
                    step.name
                );
                record.on_remote.remove(&f.index);
            }
        }
        self.save()?;
        Ok(false)
    }

    /// Every fetchable file is on the remote: the torrent becomes an
    /// ordinary journal entry at `Verified`, and the ordinary removal
    /// erases it, deletes its (now empty) files and disposes of the
    /// .torrent, or keeps it when files were too big. The entry lists only
    /// the files verified on the remote: a file left out (too big, or
    /// paused part-way) keeps its bytes on disk.
    fn leave_file_mode(
        &mut self,
        step: &FileModeStep,
        states: &[FileState],
        base_path: &Path,
        rel: &dyn Fn(&FileState) -> Result<RelPath, RelPathError>,
        outcome: &mut Outcome,
    ) -> Result<(), RotateStepError> {
        let hex = step.info_hash.to_hex();
        let record = self.file_record()?.clone();
        let too_big: Vec<(Vec<String>, u64)> = states
            .iter()
            .filter(|f| record.too_big.contains(&f.index))
            .map(|f| (f.path.clone(), f.size))
            .collect();
        let partial = !too_big.is_empty();
        if partial {
            log::warn!(
                "{}: done except {} too big for the space limit; its .torrent stays so they are fetched once space_limit is raised",
                step.name,
                plural(too_big.len() as u64, "file", "files")
            );
            self.journal.partial.insert(
                hex.clone(),
                PartialEntry {
                    name: step.name.clone(),
                    space_limit: step.space_limit,
                    on_remote: record.on_remote.clone(),
                    too_big,
                    updated: self.now,
                },
            );
        }
        let verified: Vec<&FileState> = states
            .iter()
            .filter(|f| record.on_remote.contains(&f.index))
            .collect();
        let kept = states.len() - verified.len();
        if kept > 0 {
            log::info!(
                "{}: {} not on the remote {} on disk",
                step.name,
                crate::size::plural(kept as u64, "file", "files"),
                if kept == 1 { "stays" } else { "stay" }
            );
        }
        let entry = Entry {
            name: step.name.clone(),
            phase: Phase::Verified,
            torrent_file: step.torrent_file.clone(),
            base_path: PathBuf::from(base_path),
            size: verified.iter().map(|f| f.on_disk).sum(),
            files: verified
                .iter()
                .map(|f| rel(f).map(|p| (p.components().map(String::from).collect(), f.size)))
                .collect::<Result<_, _>>()?,
            updated: self.now,
            keep_torrent_file: partial,
        };
        self.journal.torrents.insert(hex, entry.clone());
        self.journal.file_mode = None;
        // One atomic save: the torrent is either in file mode or being
        // removed, never neither.
        self.save()?;
        log::info!("{}: leaving file-by-file mode", step.name);
        let removal = RemoveStep {
            info_hash: step.info_hash,
            files: entry.files.iter().map(|(p, _)| p.clone()).collect(),
            entry,
            loaded: true,
        };
        self.finish_removal(&removal, outcome)
    }
}
