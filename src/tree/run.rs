//! The executor: scans, plans, prunes, rewrites and hashes, then writes the
//! manifest and the index. Every decision is made in `plan`; this module only
//! carries it out and reports.
//!
//! A file that cannot be read (or changes while it is hashed) is logged with
//! its path and counted as a failure; the run goes on with the others, keeps
//! the manifest entry of its previous torrent (if any) so nothing that was
//! fine is lost from the index, and the command exits 1 at the end.
//!
//! Durability without an fsync per file (which cost milliseconds a file
//! and made small files crawl): torrents are written to a temporary name
//! and renamed into place, so a reader never sees half of one, and made
//! durable together by one `syncfs` before each manifest save. The
//! manifest only vouches for what is durable: before any torrent is
//! replaced, the entries of the torrents about to change leave it, and
//! that manifest is saved (with fsync) first; an entry comes back only in
//! a manifest saved after the sync that made its new torrent durable. So
//! after a crash every entry the manifest holds names a whole torrent on
//! disk, and whatever it lost is hashed again.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use log::Level;
use serde::Serialize;
use sha1::{Digest, Sha1};

use super::hash::{hash_files, FileHashes, Job};
use super::index::{percent_encode_path, render, INDEX_NAME};
use super::manifest::{Entry, LoadError, Manifest, MANIFEST_NAME};
use super::piece_size::PieceSize;
use super::plan::{plan, Action, Candidate, Settings, Step, TreePlan, Why};
use super::progress::{mib_per_second, Display, Progress};
use super::scan::{mtime_ns, scan, SourceFile};
use crate::size::human_size;
use crate::torrent::create::{
    hex, recover_pieces, FileTorrent, Format, Metadata, SingleFileInfo, V2Hashes, CREATED_BY,
};

/// The lock file in the output directory, held for the whole run.
pub const LOCK_NAME: &str = ".lowspace-tree.lock";

/// How often the manifest is saved during a long hashing run, so a crash
/// loses at most this much work.
const SAVE_EVERY: Duration = Duration::from_secs(60);

/// Everything `lowspace tree` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub source: PathBuf,
    pub output: PathBuf,
    pub trackers: Vec<String>,
    /// Base URL; each torrent's web seed is this plus its encoded path.
    pub webseed: Option<String>,
    pub piece_size: PieceSize,
    /// v1, v2 or hybrid torrents.
    pub format: Format,
    pub private: bool,
    pub comment: Option<String>,
    /// Write the file's modification time as "creation date".
    pub creation_date: bool,
    /// Hashing threads; 0 means one per core.
    pub threads: usize,
    pub hidden: bool,
    pub prune: bool,
    /// Let --prune remove more than 10 % of the torrents at once.
    pub allow_mass_removal: bool,
    pub dry_run: bool,
    /// Per-file decisions at info level instead of debug.
    pub verbose: bool,
    /// Draw progress on standard error.
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub hashed: u64,
    pub rewritten: u64,
    pub unchanged: u64,
    pub pruned: u64,
    pub skipped: u64,
    pub bytes_hashed: u64,
    pub hash_time: Duration,
    /// "path: reason" for every file or directory that failed.
    pub failures: Vec<String>,
    pub indexed: usize,
}

/// Why a run could not start or finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
    /// The command line must change.
    Usage(String),
    /// The work failed (disk, permissions).
    Failure(String),
    /// Another run is writing to the same output directory; this one did
    /// nothing (the message says which lock).
    Busy(String),
}

/// The metadata fingerprint stored per file: any change rewrites the torrent.
#[derive(Serialize)]
struct MetadataFingerprint<'a> {
    trackers: &'a [String],
    webseed: &'a Option<String>,
    comment: &'a Option<String>,
    creation_date: bool,
    created_by: &'a str,
}

fn fingerprint(opts: &Options) -> String {
    let text = serde_json::to_vec(&MetadataFingerprint {
        trackers: &opts.trackers,
        webseed: &opts.webseed,
        comment: &opts.comment,
        creation_date: opts.creation_date,
        created_by: CREATED_BY,
    })
    .unwrap_or_default();
    hex(&Sha1::digest(text))
}

/// The web seed URL of one file (BEP 19): the base, a '/', the encoded path.
pub fn web_seed_url(base: &str, rel: &str) -> String {
    let base = base.trim_end_matches('/');
    format!("{base}/{}", percent_encode_path(rel))
}

fn torrent_path(output: &Path, rel: &str) -> PathBuf {
    output.join(format!("{rel}.torrent"))
}

fn file_name(rel: &str) -> String {
    rel.rsplit('/').next().unwrap_or(rel).to_string()
}

/// Carries out one run; `out` receives the dry-run report.
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<Summary, RunError> {
    let source = fs::canonicalize(&opts.source)
        .map_err(|e| RunError::Usage(format!("source directory {}: {e}", opts.source.display())))?;
    if !source.is_dir() {
        return Err(RunError::Usage(format!(
            "source {} is not a directory",
            opts.source.display()
        )));
    }
    if !opts.dry_run {
        fs::create_dir_all(&opts.output).map_err(|e| {
            RunError::Failure(format!(
                "cannot create output directory {}: {e}",
                opts.output.display()
            ))
        })?;
    }
    let output = fs::canonicalize(&opts.output).unwrap_or_else(|_| opts.output.clone());
    if output == source {
        return Err(RunError::Usage(
            "the output directory must not be the source directory".into(),
        ));
    }
    // Two runs on one output would both rewrite the manifest and the index;
    // the second leaves (cron starts runs that may overlap a long hash).
    let _lock = if opts.dry_run {
        None
    } else {
        let path = output.join(LOCK_NAME);
        match crate::fsutil::try_lock(&path) {
            Ok(Some(lock)) => Some(lock),
            Ok(None) => {
                return Err(RunError::Busy(format!(
                    "another tree run holds {}; leaving it to finish",
                    path.display()
                )))
            }
            Err(e) => {
                return Err(RunError::Failure(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )))
            }
        }
    };
    let mut manifest = match Manifest::load(&output) {
        Ok(manifest) => manifest,
        Err(LoadError::Invalid(why)) => {
            log::warn!(
                "{} is not a usable manifest ({why}); starting afresh, so every file is hashed again",
                output.join(MANIFEST_NAME).display()
            );
            Manifest::new()
        }
        Err(LoadError::Io(e)) => {
            return Err(RunError::Failure(format!(
                "cannot read {}: {e}",
                output.join(MANIFEST_NAME).display()
            )))
        }
    };

    let found = scan(&source, Some(&output), opts.hidden);
    let detail = if opts.verbose {
        Level::Info
    } else {
        Level::Debug
    };
    let mut summary = Summary::default();
    for skipped in &found.skipped {
        log::log!(detail, "skipping {}: {}", skipped.rel, skipped.why);
        summary.skipped += 1;
    }
    let mut unscanned = Vec::new();
    for error in &found.errors {
        log::error!(
            "cannot read {} in {}: {}",
            error.rel,
            source.display(),
            error.error
        );
        summary
            .failures
            .push(format!("{}: {}", error.rel, error.error));
        unscanned.push(error.rel.clone());
    }
    let candidates: Vec<Candidate> = found
        .files
        .iter()
        .map(|f| Candidate {
            rel: f.rel.clone(),
            size: f.size,
            mtime_ns: f.mtime_ns,
            torrent_exists: torrent_path(&output, &f.rel).is_file(),
        })
        .collect();
    let settings = Settings {
        piece_size: opts.piece_size,
        format: opts.format,
        private: opts.private,
        metadata: fingerprint(opts),
        prune: opts.prune,
        allow_mass_prune: opts.allow_mass_removal,
    };
    let decided = plan(&candidates, &manifest, &settings, &unscanned);
    log_plan(&decided, &found.files, detail);

    if opts.dry_run {
        report_dry_run(&decided, &found.files, out)
            .map_err(|e| RunError::Failure(format!("cannot write the report: {e}")))?;
        return Ok(summary);
    }

    let writer = TorrentWriter {
        opts,
        output: &output,
        metadata: &settings.metadata,
        unsynced: Cell::new(false),
        made_dirs: RefCell::new(HashSet::new()),
    };
    for rel in &decided.prune {
        match remove_torrent(&output, rel) {
            Ok(()) => {
                log::info!("pruned {rel}.torrent: its source file is gone");
                manifest.files.remove(rel);
                summary.pruned += 1;
            }
            Err(e) => {
                log::error!("cannot prune {rel}.torrent: {e}");
                summary.failures.push(format!("{rel}.torrent: {e}"));
            }
        }
    }

    // Write-ahead: the torrents about to be replaced leave the durable
    // manifest before any of them is touched (see the module comment).
    let mut previous: BTreeMap<String, Entry> = BTreeMap::new();
    for step in &decided.steps {
        if let (Action::Hash(_) | Action::Rewrite(_), Some(file)) =
            (&step.action, found.files.get(step.index))
        {
            if let Some(entry) = manifest.files.remove(&file.rel) {
                previous.insert(file.rel.clone(), entry);
            }
        }
    }
    if !previous.is_empty() || !decided.prune.is_empty() {
        manifest
            .save(&output)
            .map_err(|e| RunError::Failure(format!("cannot write the manifest: {e}")))?;
    }

    let mut to_hash: Vec<(&SourceFile, &Step)> = Vec::new();
    for step in &decided.steps {
        let Some(file) = found.files.get(step.index) else {
            continue;
        };
        match &step.action {
            Action::Keep => summary.unchanged += 1,
            Action::SkipEmpty => summary.skipped += 1,
            Action::Hash(_) => to_hash.push((file, step)),
            Action::Rewrite(_) => {
                match writer.rewrite(file, step, previous.get(&file.rel), &mut manifest) {
                    Ok(true) => summary.rewritten += 1,
                    Ok(false) => {
                        log::info!(
                            "{}: the old torrent does not give its pieces back; hashing the file",
                            file.rel
                        );
                        to_hash.push((file, step));
                    }
                    Err(e) => {
                        log::error!("{}: {e}", file.rel);
                        summary.failures.push(format!("{}: {e}", file.rel));
                        restore(&mut manifest, &mut previous, &file.rel);
                    }
                }
            }
        }
    }

    hash_and_write(
        &to_hash,
        &writer,
        &mut manifest,
        &mut previous,
        &mut summary,
    );

    writer
        .sync()
        .map_err(|e| RunError::Failure(format!("cannot make the torrents durable: {e}")))?;
    save_if_changed(&output.join(MANIFEST_NAME), &manifest, Manifest::to_bytes)
        .map_err(|e| RunError::Failure(format!("cannot write the manifest: {e}")))?;
    save_if_changed(&output.join(INDEX_NAME), &manifest, |m| {
        Ok(render(m).into_bytes())
    })
    .map_err(|e| RunError::Failure(format!("cannot write the index: {e}")))?;
    summary.indexed = manifest.files.len();
    for rel in &decided.orphans_kept {
        log::warn!(
            "{rel}: the source file is gone (or unreadable) but its torrent stays{}",
            if opts.prune {
                ""
            } else {
                "; use --prune to remove it"
            }
        );
    }
    if let Some((would, of)) = decided.mass_prune_refused {
        log::error!(
            "--prune would remove {would} of the {of} torrents, more than 10 %: not pruning \
             (followers would delete that data too); if the files really left, run once with \
             --prune --allow-mass-removal"
        );
        summary.failures.push(format!(
            "refused to prune {would} of {of} torrents at once (--allow-mass-removal allows it)"
        ));
    }
    if decided.prune_refused {
        log::error!(
            "the source directory {} holds no files while {} torrents were made from it: not pruning (is the disk mounted?)",
            source.display(),
            manifest.files.len()
        );
        summary
            .failures
            .push("refused to prune everything from an empty source".into());
    }
    Ok(summary)
}

/// A torrent that was to be replaced was not: its old entry (and torrent,
/// untouched and durable) stands again.
fn restore(manifest: &mut Manifest, previous: &mut BTreeMap<String, Entry>, rel: &str) {
    if let Some(entry) = previous.remove(rel) {
        manifest.files.insert(rel.to_string(), entry);
    }
}

/// Writes torrents and records them in the manifest.
struct TorrentWriter<'a> {
    opts: &'a Options,
    output: &'a Path,
    metadata: &'a str,
    /// Torrents were written since the last sync.
    unsynced: Cell<bool>,
    /// Directories known to exist, so each is created once a run.
    made_dirs: RefCell<HashSet<PathBuf>>,
}

impl TorrentWriter<'_> {
    /// Makes every torrent written so far durable (one `syncfs`).
    fn sync(&self) -> io::Result<()> {
        if self.unsynced.get() {
            crate::sys::sync_file_system(&fs::File::open(self.output)?)?;
            self.unsynced.set(false);
        }
        Ok(())
    }

    /// Saves the manifest once what it records is durable.
    fn save(&self, manifest: &Manifest) -> io::Result<()> {
        self.sync()?;
        manifest.save(self.output)
    }

    fn metadata_for(&self, file: &SourceFile) -> Metadata {
        Metadata {
            trackers: self.opts.trackers.clone(),
            web_seeds: self
                .opts
                .webseed
                .iter()
                .map(|base| web_seed_url(base, &file.rel))
                .collect(),
            comment: self.opts.comment.clone(),
            created_by: Some(CREATED_BY.to_string()),
            creation_date: self
                .opts
                .creation_date
                .then_some(file.mtime_ns.div_euclid(1_000_000_000)),
        }
    }

    /// Writes the torrent for `file` and records it; returns the info-hash
    /// (the v1 one, or for v2 only the v2 one).
    fn write(
        &self,
        file: &SourceFile,
        piece_length: u64,
        hashes: FileHashes,
        manifest: &mut Manifest,
    ) -> Result<String, String> {
        let torrent = FileTorrent {
            format: self.opts.format,
            info: SingleFileInfo {
                name: file_name(&file.rel),
                length: file.size,
                piece_length,
                pieces: hashes.v1,
                private: self.opts.private,
            },
            v2: hashes.v2,
        };
        let hashes = torrent.info_hashes().map_err(|e| e.to_string())?;
        let bytes = torrent
            .encode(&self.metadata_for(file))
            .map_err(|e| e.to_string())?;
        let path = torrent_path(self.output, &file.rel);
        if let Some(parent) = path.parent() {
            if !self.made_dirs.borrow().contains(parent) {
                fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
                self.made_dirs.borrow_mut().insert(parent.to_path_buf());
            }
        }
        self.unsynced.set(true);
        write_replacing(&path, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let info_hash = hex(&hashes.wire());
        manifest.files.insert(
            file.rel.clone(),
            Entry {
                size: file.size,
                mtime_ns: file.mtime_ns,
                piece_length,
                format: self.opts.format,
                private: self.opts.private,
                metadata: self.metadata.to_string(),
                info_hash: info_hash.clone(),
                info_hash_v2: hashes.v2.map(|h| hex(&h)),
            },
        );
        Ok(info_hash)
    }

    /// Rewrites a torrent from the pieces of the one written before. `false`
    /// when those pieces cannot be had (the caller hashes instead).
    fn rewrite(
        &self,
        file: &SourceFile,
        step: &Step,
        old: Option<&Entry>,
        manifest: &mut Manifest,
    ) -> Result<bool, String> {
        let Some(old) = old else {
            return Ok(false);
        };
        let Some(old_hash) = parse_hex20(&old.info_hash) else {
            return Ok(false);
        };
        let Ok(bytes) = fs::read(torrent_path(self.output, &file.rel)) else {
            return Ok(false);
        };
        let expected = SingleFileInfo {
            name: file_name(&file.rel),
            length: old.size,
            piece_length: old.piece_length,
            pieces: Vec::new(),
            private: old.private,
        };
        let hashes = if old.format == Format::V1 {
            let Some(pieces) = recover_pieces(&bytes, &expected, &old_hash) else {
                return Ok(false);
            };
            FileHashes {
                v1: pieces,
                v2: None,
            }
        } else {
            let Some(hashes) = recover_hashes(&bytes, old.format, &expected, &old_hash) else {
                return Ok(false);
            };
            hashes
        };
        self.write(file, step.piece_length, hashes, manifest)?;
        Ok(true)
    }
}

fn hash_and_write(
    to_hash: &[(&SourceFile, &Step)],
    writer: &TorrentWriter,
    manifest: &mut Manifest,
    previous: &mut BTreeMap<String, Entry>,
    summary: &mut Summary,
) {
    if to_hash.is_empty() {
        return;
    }
    let jobs: Vec<Job> = to_hash
        .iter()
        .map(|(file, step)| Job {
            path: file.path.clone(),
            length: file.size,
            piece_length: step.piece_length,
            format: writer.opts.format,
        })
        .collect();
    let threads = match writer.opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let bytes_total: u64 = jobs.iter().map(|j| j.length).sum();
    log::info!(
        "hashing {} ({}) on {}",
        crate::size::plural(jobs.len() as u64, "file", "files"),
        human_size(bytes_total),
        crate::size::plural(threads as u64, "thread", "threads")
    );
    let bytes_done = AtomicU64::new(0);
    let started = Instant::now();
    let mut last_save = Instant::now();
    // Both callbacks below draw progress; they run on this thread only.
    let files_done = std::cell::Cell::new(0u64);
    let display = std::cell::RefCell::new(Display::new(writer.opts.progress));
    let progress = |files_done: u64| Progress {
        files_done,
        files_total: jobs.len() as u64,
        bytes_done: bytes_done.load(Ordering::Relaxed),
        bytes_total,
        elapsed: started.elapsed(),
    };
    let mut failures = Vec::new();
    let mut hashed = 0;
    hash_files(
        &jobs,
        threads,
        &bytes_done,
        |job, result| {
            files_done.set(files_done.get() + 1);
            let Some((file, step)) = to_hash.get(job) else {
                return;
            };
            let outcome = result
                .map_err(|e| format!("cannot read {}: {e}", file.path.display()))
                .and_then(|pieces| {
                    unchanged_since_scan(file)?;
                    writer.write(file, step.piece_length, pieces, manifest)
                });
            if outcome.is_err() || writer.opts.verbose {
                // Start the log line on a fresh line, not after the progress.
                display.borrow_mut().finish();
            }
            match outcome {
                Ok(info_hash) => {
                    hashed += 1;
                    let why = match &step.action {
                        Action::Hash(why) => why.clone(),
                        _ => Why::New,
                    };
                    log::log!(
                        if writer.opts.verbose {
                            Level::Info
                        } else {
                            Level::Debug
                        },
                        "wrote {}.torrent ({why}): {info_hash}",
                        file.rel
                    );
                }
                Err(e) => {
                    log::error!("{}: {e}", file.rel);
                    failures.push(format!("{}: {e}", file.rel));
                    restore(manifest, previous, &file.rel);
                }
            }
            if last_save.elapsed() >= SAVE_EVERY {
                if let Err(e) = writer.save(manifest) {
                    log::warn!("cannot save the manifest yet: {e}");
                }
                last_save = Instant::now();
            }
            display.borrow_mut().draw(&progress(files_done.get()));
        },
        || display.borrow_mut().draw(&progress(files_done.get())),
    );
    display.borrow_mut().finish();
    summary.hashed += hashed;
    summary.failures.extend(failures);
    summary.bytes_hashed += bytes_done.load(Ordering::Relaxed);
    summary.hash_time += started.elapsed();
    log::debug!(
        "hashed {} at {:.1} MiB/s",
        human_size(summary.bytes_hashed),
        mib_per_second(summary.bytes_hashed, summary.hash_time)
    );
}

/// Takes the hashes of a v2 or hybrid torrent written earlier back out of
/// it (read with the metainfo parser, which checks the piece layer against
/// its root), accepted only when the torrent rebuilt from them with the
/// expected name, length, piece length and private flag has the recorded
/// info-hash: anything else is hashed again.
fn recover_hashes(
    bytes: &[u8],
    format: Format,
    expected: &SingleFileInfo,
    wire_hash: &[u8; 20],
) -> Option<FileHashes> {
    let old = crate::torrent::Metainfo::from_bytes(bytes).ok()?;
    let entry = old.files().first()?;
    let pieces_root = entry.pieces_root?;
    let v2 = V2Hashes {
        pieces_root,
        piece_layer: old.piece_layer(&pieces_root).unwrap_or_default().to_vec(),
    };
    let hashes = FileHashes {
        v1: if format.has_v1() {
            old.pieces().to_vec()
        } else {
            Vec::new()
        },
        v2: Some(v2),
    };
    let rebuilt = FileTorrent {
        format,
        info: SingleFileInfo {
            pieces: hashes.v1.clone(),
            ..expected.clone()
        },
        v2: hashes.v2.clone(),
    };
    (rebuilt.info_hashes().ok()?.wire() == *wire_hash).then_some(hashes)
}

/// A file written to while it was hashed would get pieces that match
/// neither version: refuse it now, the next run hashes it again.
fn unchanged_since_scan(file: &SourceFile) -> Result<(), String> {
    let meta = fs::symlink_metadata(&file.path)
        .map_err(|e| format!("cannot stat {}: {e}", file.path.display()))?;
    if meta.len() != file.size || mtime_ns(&meta) != file.mtime_ns {
        return Err(format!(
            "{} changed while it was being hashed; it will be hashed again next run",
            file.path.display()
        ));
    }
    Ok(())
}

fn parse_hex20(text: &str) -> Option<[u8; 20]> {
    let bytes = text.as_bytes();
    if bytes.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks(2)) {
        let digits = std::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(digits, 16).ok()?;
    }
    Some(out)
}

/// Writes `contents` to `path`: a new torrent straight under its name (no
/// reader looks for it before the index lists it, and after a crash it is
/// not in the manifest, so it is made again), an existing one through a
/// temporary file and a rename, so a reader sees the old torrent or the new
/// one, never half of one. Not synced here: [`TorrentWriter::sync`] makes
/// all of them durable at once.
fn write_replacing(path: &Path, contents: &[u8]) -> io::Result<()> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut file) => {
            let written = file.write_all(contents);
            if written.is_err() {
                let _ = fs::remove_file(path);
            }
            return written;
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let Some(name) = path.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        ));
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = fs::write(&tmp, contents).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes a pruned torrent and the directories it leaves empty.
fn remove_torrent(output: &Path, rel: &str) -> io::Result<()> {
    let path = torrent_path(output, rel);
    match fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == output || !d.starts_with(output) || fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
    Ok(())
}

/// Writes a state file only when its bytes change, so an unchanged tree
/// leaves the published files (and their timestamps) alone.
fn save_if_changed(
    path: &Path,
    manifest: &Manifest,
    render: impl Fn(&Manifest) -> io::Result<Vec<u8>>,
) -> io::Result<()> {
    let bytes = render(manifest)?;
    if fs::read(path).ok().as_deref() == Some(bytes.as_slice()) {
        return Ok(());
    }
    crate::fsutil::write_atomic(path, &bytes)
}

fn log_plan(decided: &TreePlan, files: &[SourceFile], detail: Level) {
    for step in &decided.steps {
        let Some(file) = files.get(step.index) else {
            continue;
        };
        match &step.action {
            Action::Keep => log::debug!("{}: unchanged", file.rel),
            Action::SkipEmpty => log::log!(
                detail,
                "skipping {}: empty files get no torrent (clients refuse 0-byte torrents)",
                file.rel
            ),
            Action::Hash(why) => log::log!(detail, "{}: to hash ({why})", file.rel),
            Action::Rewrite(why) => log::log!(detail, "{}: to rewrite ({why})", file.rel),
        }
    }
}

fn report_dry_run(decided: &TreePlan, files: &[SourceFile], out: &mut dyn Write) -> io::Result<()> {
    let (mut hash, mut rewrite, mut keep) = (0, 0, 0);
    for step in &decided.steps {
        let Some(file) = files.get(step.index) else {
            continue;
        };
        match &step.action {
            Action::Keep => keep += 1,
            Action::SkipEmpty => writeln!(out, "skip     {} (empty)", file.rel)?,
            Action::Hash(why) => {
                hash += 1;
                writeln!(
                    out,
                    "hash     {} ({why}; {} bytes, piece length {})",
                    file.rel, file.size, step.piece_length
                )?
            }
            Action::Rewrite(why) => {
                rewrite += 1;
                writeln!(out, "rewrite  {} ({why})", file.rel)?
            }
        }
    }
    for rel in &decided.prune {
        writeln!(out, "prune    {rel}.torrent (source gone)")?;
    }
    if let Some((would, of)) = decided.mass_prune_refused {
        writeln!(
            out,
            "not pruning: it would remove {would} of the {of} torrents, more than 10 % (--allow-mass-removal allows it)"
        )?;
    }
    writeln!(
        out,
        "dry run: {hash} to hash, {rewrite} to rewrite, {keep} unchanged, {} to prune; nothing written",
        decided.prune.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_seed_urls_are_base_plus_encoded_path() {
        assert_eq!(
            web_seed_url("http://h/files", "a b/ü.bin"),
            "http://h/files/a%20b/%C3%BC.bin"
        );
        assert_eq!(web_seed_url("http://h/files/", "x"), "http://h/files/x");
    }

    #[test]
    fn hex20_parsing() {
        let hash = [0xabu8; 20];
        assert_eq!(parse_hex20(&hex(&hash)), Some(hash));
        assert_eq!(parse_hex20("ab"), None);
        assert_eq!(parse_hex20(&"zz".repeat(20)), None);
        assert_eq!(parse_hex20(&"é".repeat(20)), None);
    }

    #[test]
    fn fingerprint_follows_what_lies_outside_the_info_dict() {
        let base = Options {
            source: "s".into(),
            output: "o".into(),
            trackers: vec!["http://t/a".into()],
            webseed: None,
            piece_size: PieceSize::Auto,
            format: Format::V1,
            private: false,
            comment: None,
            creation_date: false,
            threads: 0,
            hidden: false,
            prune: false,
            allow_mass_removal: false,
            dry_run: false,
            verbose: false,
            progress: false,
        };
        let same = Options {
            private: true,
            threads: 3,
            ..base.clone()
        };
        assert_eq!(fingerprint(&base), fingerprint(&same));
        for changed in [
            Options {
                trackers: vec![],
                ..base.clone()
            },
            Options {
                webseed: Some("http://w".into()),
                ..base.clone()
            },
            Options {
                comment: Some("c".into()),
                ..base.clone()
            },
            Options {
                creation_date: true,
                ..base.clone()
            },
        ] {
            assert_ne!(fingerprint(&base), fingerprint(&changed));
        }
    }
}
