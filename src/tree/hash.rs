//! Hashing the pieces of many files: one reader, every core hashing.
//!
//! One thread reads the files one after another, each front to back
//! (the kernel's readahead sees one stream, which a cold disk rewards;
//! `posix_fadvise(SEQUENTIAL)` widens it for files longer than a unit,
//! and the next few MiB are requested ahead across file ends, see
//! [`Ahead`]), and cuts them into units: runs of whole pieces of one
//! file, about [`UNIT_BYTES`] long (one piece when pieces are longer).
//! The hashing threads take units as they come, so several small files or
//! several parts of one large file are hashed at once, behind the reader.
//! A unit holds whole pieces, so it is hashed on its own, v1 (SHA-1 per
//! piece) and v2 (SHA-256 per 16 KiB block, folded per piece) alike.
//!
//! Units read into buffers that go round between the reader and the
//! hashers: at most hashers + 2 of them, fewer when units are long, so
//! buffer memory stays under [`BUFFER_BUDGET`] (a 16 MiB piece is one
//! unit) and about 8 MiB for ordinary piece sizes on two cores.
//!
//! A unit already in the page cache (`cachestat`, Linux 6.5) is not read
//! by the reader: the hashing thread that takes it hashes it where the
//! cache holds it, through a read-only mapping of the unit
//! ([`crate::sys::Mapped`]). Copying was a fifth of the CPU time of
//! hashing a warm file when the reader did it all on one core, and still
//! cost when each hashing thread copied its own units: a warm 1 GiB file
//! on two cores took 0.71-0.76 CPU seconds copied, 0.68-0.72 mapped, with
//! SHA-1 alone at 0.62 (`openssl speed`; the lower figures for a file the
//! cache holds in large folios, as reading it leaves it, the higher for
//! one just written). A file cut short while it is
//! hashed makes the mapping fault with SIGBUS, which would kill the whole
//! run: the mapping is read under a guard that turns the fault into a
//! void result, and the unit is then read as below, which reports the
//! file alone ("became shorter ... while it was being hashed").
//!
//! Units too short to be worth mapping ([`MAP_MIN_BYTES`]), files that
//! cannot be mapped, and those cut short are copied out of the cache by
//! the hashing thread, [`CACHED_READ_BYTES`] at a time, each piece hashed
//! while it is still in that core's cache. Those reads never wait for the
//! device (`RWF_NOWAIT`); a page evicted in between is read under the same
//! lock as the reader's reads, so a spinning disk still sees one reader
//! at a time. (A page evicted between the reader's look and the mapping
//! is read by the page fault, outside that lock: a window of a few
//! milliseconds, one page at a time.)

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::sys::Advice;
use crate::torrent::create::{
    piece_count, v2_piece_hash, Format, V2Hashes, BLOCK_SIZE, PIECE_HASH_LEN,
};

/// About how much of a file one unit holds: big enough that handing a
/// unit over costs little next to hashing it, small enough that a few in
/// flight cost little memory. Each unit costs about five futex calls
/// (reader, hashers, results) and, when cached, a mapping; on a warm
/// 2 GiB set on two cores that was 0.72-0.74 CPU seconds a GiB with
/// 1 MiB units, 0.68-0.69 with 2 MiB, 0.68 with 4 MiB (SHA-1 alone:
/// 0.62).
pub const UNIT_BYTES: u64 = 2 << 20;
/// The most buffer memory in flight (units of very long pieces use fewer
/// buffers, hence fewer hashers at once, rather than more memory).
pub const BUFFER_BUDGET: u64 = 64 << 20;
/// How much of a cached unit a hashing thread copies at a time: small
/// enough to stay in its core's L2 cache until it is hashed, large enough
/// that the calls cost little. Measured on a 1 GiB warm file on two cores
/// (CPU seconds, copy and hash): 0.90 with 128 KiB, 0.99 with 1 MiB,
/// 1.04 with 4 MiB; 64 and 256 KiB were no better than 128 KiB.
const CACHED_READ_BYTES: usize = 128 << 10;
/// The most of a cached unit mapped at a time (units of very long pieces
/// are hashed through several windows): bounded address space per hashing
/// thread, which 32-bit ARM has little of.
const MAP_WINDOW: usize = 16 << 20;
/// Cached units shorter than this are copied rather than mapped: mapping,
/// faulting in and unmapping cost more than copying a few pages. Measured
/// on warm files all of one size, two cores, CPU seconds copied / mapped:
/// 96 KiB files 0.48 / 0.54 (400 MiB of them), 160 KiB 0.30 / 0.31 and
/// 256 KiB 0.27 / 0.27 (300 MiB), 512 KiB 0.33 / 0.31 (400 MiB).
const MAP_MIN_BYTES: usize = 256 << 10;
/// How often `tick` is called while waiting for results.
const TICK: Duration = Duration::from_millis(250);

/// A file to hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub path: PathBuf,
    /// The size seen by the scan; a file that is shorter when read fails.
    pub length: u64,
    pub piece_length: u64,
    /// Which hashes to take: SHA-1 pieces (v1), SHA-256 merkle (v2), both.
    pub format: Format,
}

/// What hashing one file gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileHashes {
    /// SHA-1 of each piece, end to end (empty for v2 only).
    pub v1: Vec<u8>,
    /// Present for v2 and hybrid.
    pub v2: Option<V2Hashes>,
}

/// What hashing one unit gives: its pieces' SHA-1 and v2 hashes.
#[derive(Debug, Default)]
struct ChunkHashes {
    v1: Vec<u8>,
    v2: Vec<[u8; 32]>,
}

/// A run of whole pieces of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub job: usize,
    pub first_piece: u64,
    pub pieces: u64,
}

impl Chunk {
    /// Where the unit starts in its file and how many bytes it holds.
    fn span(&self, job: &Job) -> (u64, usize) {
        let piece_length = job.piece_length.max(1);
        let start = self.first_piece.saturating_mul(piece_length);
        let end = start
            .saturating_add(self.pieces.saturating_mul(piece_length))
            .min(job.length);
        (
            start,
            usize::try_from(end.saturating_sub(start)).unwrap_or(0),
        )
    }
}

/// Cuts every job into units, in job order: whole pieces, about
/// [`UNIT_BYTES`] each, one piece when pieces are longer.
pub fn chunks(jobs: &[Job]) -> Vec<Chunk> {
    let mut result = Vec::new();
    for (job, spec) in jobs.iter().enumerate() {
        let total = piece_count(spec.length, spec.piece_length);
        let per_chunk = (UNIT_BYTES / spec.piece_length.max(1)).max(1);
        let mut first_piece = 0;
        while first_piece < total {
            let pieces = per_chunk.min(total - first_piece);
            result.push(Chunk {
                job,
                first_piece,
                pieces,
            });
            first_piece += pieces;
        }
    }
    result
}

/// A unit for a hashing thread: read by the reader, or in the page cache
/// for the hashing thread to read itself.
enum Work {
    Filled(usize, Vec<u8>),
    Cached(usize, Arc<File>),
}

/// Who reads cached units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// The hashing threads, each its own (uncached ones: the reader).
    Adaptive,
    /// The reader, every unit (how the tests see the slow-device path).
    #[cfg_attr(not(test), allow(dead_code))]
    OneReader,
}

enum Message {
    Hashed(usize, ChunkHashes),
    /// Reading the job of this unit failed; its later units are not read.
    Failed(usize, io::Error),
}

/// Hashes every job on `threads` threads behind one reader. `on_file(job,
/// result)` is called on the calling thread as each file completes (its
/// hashes, or the first error); `tick` is called about four times a second
/// for progress. `bytes_done` counts bytes read so far.
pub fn hash_files(
    jobs: &[Job],
    threads: usize,
    bytes_done: &AtomicU64,
    on_file: impl FnMut(usize, io::Result<FileHashes>),
    tick: impl FnMut(),
) {
    hash_files_reading(jobs, threads, Reading::Adaptive, bytes_done, on_file, tick);
}

fn hash_files_reading(
    jobs: &[Job],
    threads: usize,
    reading: Reading,
    bytes_done: &AtomicU64,
    mut on_file: impl FnMut(usize, io::Result<FileHashes>),
    mut tick: impl FnMut(),
) {
    let chunks = chunks(jobs);
    let mut remaining: Vec<usize> = vec![0; jobs.len()];
    let mut first_chunk: Vec<usize> = vec![usize::MAX; jobs.len()];
    for (index, chunk) in chunks.iter().enumerate() {
        if let Some(n) = remaining.get_mut(chunk.job) {
            *n += 1;
        }
        if let Some(first) = first_chunk.get_mut(chunk.job) {
            *first = (*first).min(index);
        }
    }
    let chunk_count = remaining.clone();
    // A job with no pieces (an empty file) has nothing to wait for.
    for (job, count) in chunk_count.iter().enumerate() {
        if *count == 0 {
            on_file(job, Ok(FileHashes::default()));
        }
    }
    let mut failed: Vec<bool> = vec![false; jobs.len()];
    let mut parts: Vec<Option<ChunkHashes>> = (0..chunks.len()).map(|_| None).collect();
    let hashers = threads.clamp(1, chunks.len().max(1));
    let longest = chunks
        .iter()
        .filter_map(|c| jobs.get(c.job).map(|job| c.span(job).1 as u64))
        .max()
        .unwrap_or(UNIT_BYTES)
        .max(1);
    let pool = usize::try_from(BUFFER_BUDGET / longest)
        .unwrap_or(usize::MAX)
        .clamp(2, hashers + 2);
    let (work_tx, work_rx) = mpsc::sync_channel::<Work>(pool);
    let work_rx = Mutex::new(work_rx);
    // Held by whoever reads from the device: one reader at a time.
    let disk = Mutex::new(());
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    let (result_tx, result_rx) = mpsc::channel::<Message>();
    std::thread::scope(|scope| {
        for _ in 0..hashers {
            let (work_rx, free_tx, result_tx, chunks, disk) =
                (&work_rx, free_tx.clone(), result_tx.clone(), &chunks, &disk);
            scope.spawn(move || {
                let mut scratch = Vec::new();
                loop {
                    let next = match work_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok(work) = next else {
                        break;
                    };
                    let index = match &work {
                        Work::Filled(index, _) | Work::Cached(index, _) => *index,
                    };
                    let (Some(chunk), Some(job)) = (
                        chunks.get(index),
                        chunks.get(index).and_then(|c| jobs.get(c.job)),
                    ) else {
                        break;
                    };
                    let (offset, length) = chunk.span(job);
                    let hashed = match work {
                        Work::Filled(_, buffer) => {
                            let mut pieces = PieceHasher::new(job, chunk.pieces as usize);
                            pieces.update(buffer.get(..length).unwrap_or(&buffer));
                            // The reader may have finished: a closed channel is fine.
                            let _ = free_tx.send(buffer);
                            Message::Hashed(index, pieces.finish())
                        }
                        Work::Cached(_, file) => {
                            let unit = Unit {
                                job,
                                pieces: chunk.pieces as usize,
                                offset,
                                length,
                            };
                            match hash_cached_unit(&file, unit, &mut scratch, disk, bytes_done) {
                                Ok(hashes) => Message::Hashed(index, hashes),
                                Err(e) => Message::Failed(index, e),
                            }
                        }
                    };
                    if result_tx.send(hashed).is_err() {
                        break;
                    }
                }
            });
        }
        drop(free_tx);
        let reader_results = result_tx.clone();
        drop(result_tx);
        let (chunks, disk) = (&chunks, &disk);
        scope.spawn(move || {
            read_all(
                jobs,
                chunks,
                Pool {
                    size: pool,
                    free: &free_rx,
                },
                reading,
                &work_tx,
                disk,
                &reader_results,
                bytes_done,
            )
        });
        loop {
            let message = match result_rx.recv_timeout(TICK) {
                Ok(message) => message,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    tick();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let (index, outcome) = match message {
                Message::Hashed(index, hashes) => (index, Ok(hashes)),
                Message::Failed(index, e) => (index, Err(e)),
            };
            let Some(job) = chunks.get(index).map(|c| c.job) else {
                continue;
            };
            let Some(job_failed) = failed.get_mut(job) else {
                continue;
            };
            if *job_failed {
                continue;
            }
            match outcome {
                Err(e) => {
                    *job_failed = true;
                    on_file(job, Err(e));
                }
                Ok(hashes) => {
                    if let Some(slot) = parts.get_mut(index) {
                        *slot = Some(hashes);
                    }
                    let Some(left) = remaining.get_mut(job) else {
                        continue;
                    };
                    *left = left.saturating_sub(1);
                    if *left == 0 {
                        let first = first_chunk.get(job).copied().unwrap_or(0);
                        let count = chunk_count.get(job).copied().unwrap_or(0);
                        let mut v1 = Vec::new();
                        let mut v2 = Vec::new();
                        for slot in parts.iter_mut().skip(first).take(count) {
                            match slot.take() {
                                Some(hashes) => {
                                    v1.extend_from_slice(&hashes.v1);
                                    v2.extend_from_slice(&hashes.v2);
                                }
                                None => break,
                            }
                        }
                        let Some(spec) = jobs.get(job) else {
                            continue;
                        };
                        let v2 = spec
                            .format
                            .has_v2()
                            .then(|| V2Hashes::from_piece_hashes(&v2, spec.piece_length));
                        on_file(job, Ok(FileHashes { v1, v2 }));
                    }
                }
            }
        }
    });
}

/// The files opened ahead of the reader, and how far ahead reads were
/// requested from the disk. The reader reads one file at a time, but a
/// slow device given one small file at a time idles between them (the
/// kernel reads ahead within a file, never across files): on a device
/// throttled to 100 MB/s (`scripts/bench tree-slow`), 2,000 files of
/// 256 KiB were hashed at 93 % of it, as `cat` reads them; 97 % with
/// this. So the next [`LOOKAHEAD`]
/// bytes of the stream of files, across file ends, are requested
/// (`POSIX_FADV_WILLNEED`, which returns at once) before the reader
/// needs them: still one stream, in reading order, so a spinning disk
/// does not seek back and forth.
struct Ahead<'a> {
    jobs: &'a [Job],
    /// Where each job starts in the stream of all jobs' bytes.
    starts: Vec<u64>,
    /// The job being read, then those opened ahead of it, in job order.
    open: VecDeque<(usize, io::Result<Arc<File>>)>,
    /// Reads were requested up to here in the stream ...
    requested: u64,
    /// ... which is in this job (or at its end).
    requesting: usize,
}

/// How far ahead of the reader reads are requested: enough to keep a
/// device busy across many small files, small next to a Pi's memory.
const LOOKAHEAD: u64 = 4 << 20;
/// The most files open at once (the one being read and those ahead).
const OPEN_AHEAD: usize = 64;

impl<'a> Ahead<'a> {
    fn new(jobs: &'a [Job]) -> Ahead<'a> {
        let mut starts = Vec::with_capacity(jobs.len());
        let mut at = 0u64;
        for job in jobs {
            starts.push(at);
            at = at.saturating_add(job.length);
        }
        Ahead {
            jobs,
            starts,
            open: VecDeque::new(),
            requested: 0,
            requesting: 0,
        }
    }

    fn start_of(&self, job: usize) -> u64 {
        self.starts.get(job).copied().unwrap_or(u64::MAX)
    }

    /// Makes `job` the one being read: its file, opened ahead or now.
    fn start(&mut self, job: usize) -> io::Result<()> {
        while self.open.front().is_some_and(|(j, _)| *j < job) {
            self.open.pop_front();
        }
        if self.open.front().map(|(j, _)| *j) != Some(job) {
            let opened = self.open_file(job);
            self.open.push_front((job, opened));
        }
        match self.open.front() {
            Some((_, Err(_))) => match self.open.pop_front() {
                Some((_, Err(e))) => Err(e),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// The file being read.
    fn file(&self) -> Option<&Arc<File>> {
        self.open.front().and_then(|(_, file)| file.as_ref().ok())
    }

    fn open_file(&self, job: usize) -> io::Result<Arc<File>> {
        let spec = self.jobs.get(job).ok_or(io::ErrorKind::NotFound)?;
        let file = File::open(&spec.path)?;
        // One pass over a whole library should not push out of the cache
        // what the box is busy serving.
        crate::sys::advise(&file, Advice::NoReuse, 0, 0);
        if spec.length > UNIT_BYTES {
            crate::sys::advise(&file, Advice::Sequential, 0, 0);
        }
        Ok(Arc::new(file))
    }

    /// Requests the stream up to [`LOOKAHEAD`] past `read` (the reader's
    /// place in it), in steps of half of that so the calls stay few.
    fn top_up(&mut self, read: u64) {
        if self.requested < read {
            self.requested = read;
        }
        if self.requested >= read.saturating_add(LOOKAHEAD / 2) {
            return;
        }
        let target = read.saturating_add(LOOKAHEAD);
        while self.requested < target {
            let Some(spec) = self.jobs.get(self.requesting) else {
                return;
            };
            let start = self.start_of(self.requesting);
            let end = start.saturating_add(spec.length);
            if self.requested >= end {
                self.requesting += 1;
                continue;
            }
            let job = self.requesting;
            let known = self.open.iter().any(|(j, _)| *j == job);
            if !known {
                if self.open.len() >= OPEN_AHEAD {
                    return;
                }
                let opened = self.open_file(job);
                self.open.push_back((job, opened));
            }
            let take = end.min(target) - self.requested;
            if let Some((_, Ok(file))) = self.open.iter().find(|(j, _)| *j == job) {
                crate::sys::advise(file, Advice::WillNeed, self.requested - start, take);
            }
            self.requested += take;
        }
    }
}

/// The buffers going round: at most `size`, those hashed come back on
/// `free`.
struct Pool<'a> {
    size: usize,
    free: &'a mpsc::Receiver<Vec<u8>>,
}

/// The reader: every job front to back, unit by unit, into buffers that
/// come back from the hashers; units already in the page cache are left
/// to the hashers to read (`reading`).
#[allow(clippy::too_many_arguments)]
fn read_all(
    jobs: &[Job],
    chunks: &[Chunk],
    Pool { size: pool, free }: Pool,
    reading: Reading,
    work: &mpsc::SyncSender<Work>,
    disk: &Mutex<()>,
    results: &mpsc::Sender<Message>,
    bytes_done: &AtomicU64,
) {
    let mut made = 0;
    let mut index = 0;
    let mut ahead = Ahead::new(jobs);
    while let Some(chunk) = chunks.get(index) {
        let Some(job) = jobs.get(chunk.job) else {
            break;
        };
        let job_chunks = chunks
            .iter()
            .skip(index)
            .take_while(|c| c.job == chunk.job)
            .count();
        let first = index;
        index += job_chunks;
        if let Err(e) = ahead.start(chunk.job) {
            if results.send(Message::Failed(first, e)).is_err() {
                return;
            }
            continue;
        }
        let mut read = ahead.start_of(chunk.job);
        for (unit, chunk) in chunks.iter().enumerate().skip(first).take(job_chunks) {
            let (offset, length) = chunk.span(job);
            let Some(file) = ahead.file().cloned() else {
                let _ = results.send(Message::Failed(unit, io::ErrorKind::NotFound.into()));
                break;
            };
            // Cached: nothing to ask of the device, and the hashing
            // threads read it.
            if reading == Reading::Adaptive && cached(&file, offset, length as u64) {
                read += length as u64;
                if work.send(Work::Cached(unit, file)).is_err() {
                    return;
                }
                continue;
            }
            ahead.top_up(read);
            read += length as u64;
            let mut buffer = match free.try_recv() {
                Ok(buffer) => buffer,
                Err(_) if made < pool => {
                    made += 1;
                    Vec::new()
                }
                Err(_) => match free.recv() {
                    Ok(buffer) => buffer,
                    Err(_) => return,
                },
            };
            if buffer.len() < length {
                buffer.resize(length, 0);
            }
            let Some(space) = buffer.get_mut(..length) else {
                return;
            };
            let outcome = {
                let _one_reader = disk.lock().unwrap_or_else(|e| e.into_inner());
                file.read_exact_at(space, offset)
            };
            if let Err(e) = outcome {
                // The buffer is lost with the unit; one more may be made.
                made -= 1;
                if results
                    .send(Message::Failed(unit, shorter(e, job)))
                    .is_err()
                {
                    return;
                }
                break;
            }
            bytes_done.fetch_add(length as u64, Ordering::Relaxed);
            if work.send(Work::Filled(unit, buffer)).is_err() {
                return;
            }
        }
    }
}

/// Whether `len` bytes of `file` from `offset` are in the page cache. When
/// the kernel will not say (a file of another user's, an older kernel),
/// one byte every [`CACHED_READ_BYTES`] and the last are tried without
/// waiting for the device: a page missing between them is read later
/// under the reader's lock, so a wrong guess costs a seek, never a
/// second reader at once.
fn cached(file: &File, offset: u64, len: u64) -> bool {
    crate::sys::in_page_cache(file, offset, len).unwrap_or_else(|| sampled(file, offset, len))
}

fn sampled(file: &File, offset: u64, len: u64) -> bool {
    let Some(last) = (offset + len).checked_sub(1).filter(|_| len > 0) else {
        return false;
    };
    let mut byte = [0u8];
    (offset..last)
        .step_by(CACHED_READ_BYTES)
        .chain([last])
        .all(|at| matches!(crate::sys::read_cached_at(file, &mut byte, at), Ok(1)))
}

/// Says what the end of a file met early means.
fn shorter(e: io::Error, job: &Job) -> io::Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        io::Error::new(
            e.kind(),
            format!(
                "the file became shorter than {} bytes while it was being hashed",
                job.length
            ),
        )
    } else {
        e
    }
}

/// A unit of a job: its pieces, where it starts in the file and how long
/// it is.
#[derive(Debug, Clone, Copy)]
struct Unit<'a> {
    job: &'a Job,
    pieces: usize,
    offset: u64,
    length: usize,
}

/// A hashing thread's hash of a unit the page cache holds: through a
/// mapping ([`hash_mapped`]), else read ([`hash_cached`]).
fn hash_cached_unit(
    file: &File,
    unit: Unit,
    scratch: &mut Vec<u8>,
    disk: &Mutex<()>,
    bytes_done: &AtomicU64,
) -> io::Result<ChunkHashes> {
    let pieces = PieceHasher::new(unit.job, unit.pieces);
    if let Some(hashes) = hash_mapped(file, unit.offset, unit.length, pieces, bytes_done) {
        return Ok(hashes);
    }
    let mut pieces = PieceHasher::new(unit.job, unit.pieces);
    scratch.resize(CACHED_READ_BYTES, 0);
    hash_cached(
        file,
        unit.offset,
        unit.length,
        scratch,
        &mut pieces,
        disk,
        bytes_done,
    )
    .map_err(|e| shorter(e, unit.job))?;
    Ok(pieces.finish())
}

/// A hashing thread's hash of a cached unit (`length` bytes of `file`
/// from `offset`) where the page cache holds it, through a mapping of at
/// most [`MAP_WINDOW`] at a time. `None` when the unit is too short to be
/// worth mapping, the file cannot be mapped, or it shrank (or a page
/// could not be read) while it was hashed: then it is read instead
/// ([`hash_cached`]), which tells which.
fn hash_mapped(
    file: &File,
    offset: u64,
    length: usize,
    mut pieces: PieceHasher,
    bytes_done: &AtomicU64,
) -> Option<ChunkHashes> {
    if length < MAP_MIN_BYTES {
        return None;
    }
    let mut done = 0;
    while done < length {
        let take = (length - done).min(MAP_WINDOW);
        let mut window = crate::sys::Mapped::new(file, offset + done as u64, take).ok()?;
        window.read(|bytes| pieces.update(bytes))?;
        done += take;
    }
    bytes_done.fetch_add(length as u64, Ordering::Relaxed);
    Some(pieces.finish())
}

/// A hashing thread's read of a cached unit (`length` bytes of `file` from
/// `offset`): a bit at a time into `scratch`, each bit hashed at once.
fn hash_cached(
    file: &File,
    offset: u64,
    length: usize,
    scratch: &mut [u8],
    pieces: &mut PieceHasher,
    disk: &Mutex<()>,
    bytes_done: &AtomicU64,
) -> io::Result<()> {
    let mut done = 0;
    while done < length {
        let take = (length - done).min(scratch.len().max(1));
        let space = scratch.get_mut(..take).ok_or(io::ErrorKind::InvalidInput)?;
        read_cached(file, space, offset + done as u64, disk)?;
        pieces.update(space);
        done += take;
        bytes_done.fetch_add(take as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Fills `buf` from `offset` out of the page cache. Pages evicted since
/// the reader looked (or a kernel that cannot read without waiting) are
/// read as the reader reads, holding `disk`: never two readers at the
/// device at once.
fn read_cached(file: &File, buf: &mut [u8], offset: u64, disk: &Mutex<()>) -> io::Result<()> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        let at = offset + filled as u64;
        match crate::sys::read_cached_at(file, rest, at) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                let _one_reader = disk.lock().unwrap_or_else(|e| e.into_inner());
                return file.read_exact_at(rest, at);
            }
        }
    }
    Ok(())
}

/// Cuts a run of bytes that starts on a piece boundary into pieces and
/// hashes each: SHA-1 of the piece for v1, SHA-256 of each 16 KiB block
/// folded into the piece's merkle subtree for v2.
struct PieceHasher {
    v1: Option<Sha1>,
    v2: Option<Sha256>,
    piece_length: u64,
    /// The file has one piece: its v2 hash is the whole file's root.
    only_piece: bool,
    in_piece: u64,
    in_block: u64,
    blocks: Vec<[u8; 32]>,
    out: ChunkHashes,
}

impl PieceHasher {
    fn new(job: &Job, pieces: usize) -> PieceHasher {
        let v1 = job.format.has_v1();
        let v2 = job.format.has_v2();
        PieceHasher {
            v1: v1.then(Sha1::new),
            v2: v2.then(Sha256::new),
            piece_length: job.piece_length.max(1),
            only_piece: piece_count(job.length, job.piece_length) == 1,
            in_piece: 0,
            in_block: 0,
            blocks: Vec::new(),
            out: ChunkHashes {
                v1: Vec::with_capacity(if v1 { pieces * PIECE_HASH_LEN } else { 0 }),
                v2: Vec::with_capacity(if v2 { pieces } else { 0 }),
            },
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = (self.piece_length - self.in_piece).min(data.len() as u64) as usize;
            let (head, tail) = data.split_at(take);
            if let Some(sha1) = &mut self.v1 {
                sha1.update(head);
            }
            if self.v2.is_some() {
                self.update_blocks(head);
            }
            self.in_piece += take as u64;
            data = tail;
            if self.in_piece == self.piece_length {
                self.end_piece();
            }
        }
    }

    fn update_blocks(&mut self, mut data: &[u8]) {
        let Some(sha256) = &mut self.v2 else {
            return;
        };
        while !data.is_empty() {
            let take = (BLOCK_SIZE - self.in_block).min(data.len() as u64) as usize;
            let (head, tail) = data.split_at(take);
            sha256.update(head);
            self.in_block += take as u64;
            data = tail;
            if self.in_block == BLOCK_SIZE {
                self.blocks.push(sha256.finalize_reset().into());
                self.in_block = 0;
            }
        }
    }

    fn end_piece(&mut self) {
        if let Some(sha1) = &mut self.v1 {
            self.out.v1.extend_from_slice(&sha1.finalize_reset());
        }
        if let Some(sha256) = &mut self.v2 {
            if self.in_block > 0 {
                // The file's last block is hashed as it is, not padded.
                self.blocks.push(sha256.finalize_reset().into());
                self.in_block = 0;
            }
            self.out.v2.push(v2_piece_hash(
                &self.blocks,
                self.piece_length,
                self.only_piece,
            ));
            self.blocks.clear();
        }
        self.in_piece = 0;
    }

    fn finish(mut self) -> ChunkHashes {
        if self.in_piece > 0 {
            self.end_piece();
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::fs::OpenOptions;

    fn simple_pieces(data: &[u8], piece_length: usize) -> Vec<u8> {
        data.chunks(piece_length)
            .flat_map(|piece| Sha1::digest(piece).to_vec())
            .collect()
    }

    #[test]
    fn chunks_cover_every_piece_once() {
        const MIB: u64 = 1 << 20;
        let job = |length, piece_length| Job {
            path: "f".into(),
            length,
            piece_length,
            format: Format::V1,
        };
        let jobs = [
            job(3 * MIB + 1, 256 << 10),
            job(5, 16384),
            job(40 * MIB + 7, 16 * MIB),
            job(MIB, MIB),
        ];
        let got: Vec<(usize, u64, u64)> = chunks(&jobs)
            .iter()
            .map(|c| (c.job, c.first_piece, c.pieces))
            .collect();
        // About UNIT_BYTES (2 MiB) of whole pieces; one piece when pieces
        // are longer.
        assert_eq!(
            got,
            [
                (0, 0, 8),
                (0, 8, 5),
                (1, 0, 1),
                (2, 0, 1),
                (2, 1, 1),
                (2, 2, 1),
                (3, 0, 1),
            ]
        );
    }

    #[test]
    fn matches_a_one_piece_at_a_time_hash_on_any_thread_count() {
        let dir = std::env::temp_dir().join(format!("lowspace-hash-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Sizes around piece and read-buffer boundaries, and a piece larger
        // than the read buffer.
        let specs: &[(u64, u64)] = &[
            (1, 16384),
            (16384, 16384),
            (16385, 16384),
            (UNIT_BYTES * 8 + 7, 1 << 20),
            (UNIT_BYTES * 12, 8 << 20),
            (UNIT_BYTES * 3 + 5, 16384),
            (UNIT_BYTES * 33 + 5, 1 << 20),
        ];
        let mut jobs = Vec::new();
        let mut want = Vec::new();
        for (i, (length, piece_length)) in specs.iter().enumerate() {
            let data: Vec<u8> = (0..*length).map(|n| (n * 31 + i as u64) as u8).collect();
            let path = dir.join(format!("f{i}"));
            std::fs::write(&path, &data).unwrap();
            want.push(simple_pieces(&data, *piece_length as usize));
            jobs.push(Job {
                path,
                length: *length,
                piece_length: *piece_length,
                format: Format::V1,
            });
        }
        // Just written, the files are in the page cache: Adaptive has the
        // hashing threads read them, OneReader reads them as from a disk.
        for (threads, reading) in [
            (1, Reading::Adaptive),
            (3, Reading::Adaptive),
            (1, Reading::OneReader),
            (3, Reading::OneReader),
        ] {
            let done = AtomicU64::new(0);
            let mut got = BTreeMap::new();
            hash_files_reading(
                &jobs,
                threads,
                reading,
                &done,
                |job, r| {
                    assert!(got.insert(job, r.unwrap().v1).is_none());
                },
                || {},
            );
            assert_eq!(
                got.into_values().collect::<Vec<_>>(),
                want,
                "{threads} threads, {reading:?}"
            );
            assert_eq!(
                done.load(Ordering::Relaxed),
                specs.iter().map(|s| s.0).sum::<u64>()
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn many_small_files_read_ahead_across_file_ends() {
        let dir = std::env::temp_dir().join(format!("lowspace-hash-many-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // More files than are ever open at once, more bytes than the
        // lookahead, empty files and a missing one among them.
        let mut jobs = Vec::new();
        let mut want = BTreeMap::new();
        for i in 0..(OPEN_AHEAD * 3) {
            let length = match i % 7 {
                0 => 0,
                3 => 100_000 + i as u64,
                _ => (i as u64 * 997) % 40_000 + 1,
            };
            let path = dir.join(format!("f{i:04}"));
            let data: Vec<u8> = (0..length).map(|n| (n * 13 + i as u64) as u8).collect();
            if i != 50 {
                std::fs::write(&path, &data).unwrap();
                want.insert(i, Some(simple_pieces(&data, 16384)));
            } else {
                want.insert(i, None);
            }
            jobs.push(Job {
                path,
                length,
                piece_length: 16384,
                format: Format::V1,
            });
        }
        let big = UNIT_BYTES * 5 + 3;
        let data: Vec<u8> = (0..big).map(|n| (n * 5) as u8).collect();
        std::fs::write(dir.join("big"), &data).unwrap();
        want.insert(jobs.len(), Some(simple_pieces(&data, 16384)));
        jobs.push(Job {
            path: dir.join("big"),
            length: big,
            piece_length: 16384,
            format: Format::V1,
        });
        for reading in [Reading::Adaptive, Reading::OneReader] {
            let mut got = BTreeMap::new();
            hash_files_reading(
                &jobs,
                2,
                reading,
                &AtomicU64::new(0),
                |job, r| {
                    assert!(got.insert(job, r.ok().map(|h| h.v1)).is_none());
                },
                || {},
            );
            assert_eq!(got, want, "{reading:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The v2 hashes straight from BEP 52's definition: every block's
    /// SHA-256, the whole file's tree padded with zero leaves to a power of
    /// two, the piece layer being the level whose nodes each cover a piece.
    fn reference_v2(data: &[u8], piece_length: usize) -> V2Hashes {
        let mut leaves: Vec<[u8; 32]> = data
            .chunks(BLOCK_SIZE as usize)
            .map(|b| Sha256::digest(b).into())
            .collect();
        let per_piece = piece_length / BLOCK_SIZE as usize;
        let pieces = data.len().div_ceil(piece_length);
        let width = if pieces > 1 {
            pieces.next_power_of_two() * per_piece
        } else {
            leaves.len().next_power_of_two()
        };
        leaves.resize(width, [0; 32]);
        let mut layers = vec![leaves];
        while layers.last().unwrap().len() > 1 {
            let next = layers
                .last()
                .unwrap()
                .chunks(2)
                .map(|p| {
                    let mut h = Sha256::new();
                    h.update(p[0]);
                    h.update(p[1]);
                    h.finalize().into()
                })
                .collect();
            layers.push(next);
        }
        let root = layers.last().unwrap()[0];
        let piece_layer = if pieces > 1 {
            let level = per_piece.trailing_zeros() as usize;
            layers[level][..pieces].concat()
        } else {
            Vec::new()
        };
        V2Hashes {
            pieces_root: root,
            piece_layer,
        }
    }

    #[test]
    fn v2_and_hybrid_match_the_definition() {
        let dir = std::env::temp_dir().join(format!("lowspace-hash-v2-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // One block, a partial block, exactly a piece, a piece and a bit,
        // several pieces with a short last one, and a long multi-chunk file.
        let specs: &[(u64, u64)] = &[
            (1, 16384),
            (16384, 16384),
            (40_000, 65536),
            (65536, 65536),
            (65537, 65536),
            (5 * 65536 + 20_000, 65536),
            (UNIT_BYTES * 33 + 5, 1 << 20),
        ];
        let mut jobs = Vec::new();
        let mut want = Vec::new();
        for (i, (length, piece_length)) in specs.iter().enumerate() {
            let data: Vec<u8> = (0..*length).map(|n| (n * 7 + i as u64) as u8).collect();
            let path = dir.join(format!("f{i}"));
            std::fs::write(&path, &data).unwrap();
            want.push(FileHashes {
                v1: simple_pieces(&data, *piece_length as usize),
                v2: Some(reference_v2(&data, *piece_length as usize)),
            });
            jobs.push(Job {
                path,
                length: *length,
                piece_length: *piece_length,
                format: Format::Hybrid,
            });
        }
        for (format, threads, reading) in [
            (Format::Hybrid, 3, Reading::Adaptive),
            (Format::V2, 1, Reading::Adaptive),
            (Format::Hybrid, 2, Reading::OneReader),
        ] {
            let jobs: Vec<Job> = jobs
                .iter()
                .map(|j| Job {
                    format,
                    ..j.clone()
                })
                .collect();
            let mut got = BTreeMap::new();
            hash_files_reading(
                &jobs,
                threads,
                reading,
                &AtomicU64::new(0),
                |job, r| {
                    got.insert(job, r.unwrap());
                },
                || {},
            );
            for (i, want) in want.iter().enumerate() {
                assert_eq!(got[&i].v2, want.v2, "{format} {reading:?} file {i}");
                let v1 = if format == Format::Hybrid {
                    want.v1.clone()
                } else {
                    Vec::new()
                };
                assert_eq!(got[&i].v1, v1, "{format} {reading:?} file {i}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sampling_tells_a_cached_file_from_a_dropped_one() {
        let dir = std::env::temp_dir().join(format!("lowspace-hash-cold-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let length = UNIT_BYTES * 2 + 5;
        std::fs::write(&path, vec![3u8; length as usize]).unwrap();
        let file = File::open(&path).unwrap();
        assert!(sampled(&file, 0, length));
        assert!(sampled(&file, UNIT_BYTES, UNIT_BYTES + 5));
        assert!(!sampled(&file, 0, 0));
        // Past the end: not there to read.
        assert!(!sampled(&file, length, 10));
        file.sync_all().unwrap();
        crate::sys::advise(&file, Advice::DontNeed, 0, 0);
        assert!(!sampled(&file, 0, length));
        assert!(!cached(&file, 0, length));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_partly_cached_file_hashes_the_same() {
        let dir = std::env::temp_dir().join(format!("lowspace-hash-part-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let length = UNIT_BYTES * 8 + 3;
        let data: Vec<u8> = (0..length).map(|n| (n * 11) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        // Units 2 to 5 leave the cache (the reader reads them), the rest
        // stay (the hashing threads read them). The kernel drops only whole
        // folios, which may be as large as 2 MiB.
        let file = File::open(&path).unwrap();
        file.sync_all().unwrap();
        crate::sys::advise(&file, Advice::DontNeed, UNIT_BYTES * 2, UNIT_BYTES * 4);
        assert!(cached(&file, 0, UNIT_BYTES));
        assert!(!cached(&file, UNIT_BYTES * 2, UNIT_BYTES));
        let jobs = [Job {
            path,
            length,
            piece_length: 1 << 18,
            format: Format::V1,
        }];
        let mut got = None;
        hash_files(
            &jobs,
            2,
            &AtomicU64::new(0),
            |_, r| got = Some(r.unwrap().v1),
            || {},
        );
        assert_eq!(got, Some(simple_pieces(&data, 1 << 18)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_cached_unit_hashes_where_it_lies_and_a_file_cut_under_it_fails_alone() {
        let dir = std::env::temp_dir().join(format!("lowspace-hash-map-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let length = UNIT_BYTES * 2 + 100;
        let data: Vec<u8> = (0..length).map(|n| (n * 29) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let job = Job {
            path: path.clone(),
            length,
            piece_length: 1 << 18,
            format: Format::Hybrid,
        };
        let file = File::open(&path).unwrap();
        let per_unit = (UNIT_BYTES / (1 << 18)) as usize;
        let pieces = || PieceHasher::new(&job, per_unit);
        // The second unit, mapped: the same hashes as a copy gives.
        let (offset, len) = (UNIT_BYTES, UNIT_BYTES as usize);
        let done = AtomicU64::new(0);
        let mapped = hash_mapped(&file, offset, len, pieces(), &done).unwrap();
        let mut copied = pieces();
        copied.update(&data[offset as usize..][..len]);
        let copied = copied.finish();
        assert_eq!(mapped.v1, copied.v1);
        assert_eq!(mapped.v2, copied.v2);
        assert_eq!(
            mapped.v1,
            simple_pieces(&data[offset as usize..][..len], 1 << 18)
        );
        assert_eq!(done.load(Ordering::Relaxed), UNIT_BYTES);

        // Cut to one unit after the reader found it cached: hashing the
        // second unit faults on the missing pages, and the process lives.
        OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(UNIT_BYTES)
            .unwrap();
        let caught = crate::sys::bus_faults_caught();
        assert!(hash_mapped(&file, offset, len, pieces(), &done).is_none());
        assert!(crate::sys::bus_faults_caught() > caught);
        let unit = Unit {
            job: &job,
            pieces: per_unit,
            offset,
            length: len,
        };
        let e = hash_cached_unit(&file, unit, &mut Vec::new(), &Mutex::new(()), &done)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!(
                "became shorter than {length} bytes while it was being hashed"
            )),
            "{e}"
        );
        // The unit still in the file hashes as before.
        let first = hash_cached_unit(
            &file,
            Unit { offset: 0, ..unit },
            &mut Vec::new(),
            &Mutex::new(()),
            &done,
        )
        .unwrap();
        assert_eq!(first.v1, simple_pieces(&data[..len], 1 << 18));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_or_shrunk_file_fails_alone() {
        let dir = std::env::temp_dir().join(format!("lowspace-hash-err-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ok"), b"hello").unwrap();
        std::fs::write(dir.join("short"), b"hi").unwrap();
        // Shorter by more than a unit: its first unit is in the page cache
        // (read by a hashing thread), the end of the second is not (read by
        // the reader, which meets the end).
        std::fs::write(dir.join("cut"), vec![7u8; UNIT_BYTES as usize * 3 / 2]).unwrap();
        let job = |name: &str, length| Job {
            path: dir.join(name),
            length,
            piece_length: 16384,
            format: Format::V1,
        };
        let jobs = [
            job("missing", 3),
            job("ok", 5),
            job("short", 9),
            job("cut", UNIT_BYTES * 3),
        ];
        for reading in [Reading::Adaptive, Reading::OneReader] {
            let mut results = BTreeMap::new();
            hash_files_reading(
                &jobs,
                2,
                reading,
                &AtomicU64::new(0),
                |job, r| {
                    assert!(results.insert(job, r).is_none());
                },
                || {},
            );
            assert_eq!(
                results[&0].as_ref().unwrap_err().kind(),
                io::ErrorKind::NotFound
            );
            assert_eq!(
                results[&1].as_ref().unwrap().v1,
                Sha1::digest(b"hello").to_vec()
            );
            let short = results[&2].as_ref().unwrap_err().to_string();
            assert!(
                short.contains("shorter than 9 bytes"),
                "{reading:?} {short}"
            );
            let cut = results[&3].as_ref().unwrap_err().to_string();
            assert!(
                cut.contains(&format!("shorter than {} bytes", UNIT_BYTES * 3)),
                "{reading:?} {cut}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
