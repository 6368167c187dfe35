//! Hashing the pieces of many files on every core.
//!
//! Work is cut into chunks: a run of whole pieces of one file, the file's
//! share per thread, kept between [`MIN_CHUNK_BYTES`] and [`MAX_CHUNK_BYTES`].
//! Small files are one chunk each, so several files are hashed at once; a
//! large file is a few long chunks, so all threads share it while each still
//! reads a long sequential run (short interleaved runs cost a cold disk
//! about 10% in measurements: readahead restarts at every chunk).
//! Chunks are handed out in file order, which keeps the threads close
//! together in one file (near-sequential reads) and lets files finish, and
//! their torrents be written, one after another.
//!
//! Each thread reads its chunk with positioned reads (`read_exact_at`) of
//! [`READ_SIZE`] into one buffer it keeps for the whole run, so memory stays
//! at threads × 4 MiB whatever the file sizes.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use sha1::{Digest, Sha1};

use crate::torrent::create::{piece_count, PIECE_HASH_LEN};

/// Bytes read per system call: large sequential reads, few calls.
pub const READ_SIZE: usize = 4 << 20;
/// Shortest run of a file worth giving a thread of its own.
pub const MIN_CHUNK_BYTES: u64 = 16 << 20;
/// Longest run of one file given to one thread at a time (bounds the time a
/// thread may be left alone at the end of the run).
pub const MAX_CHUNK_BYTES: u64 = 256 << 20;
/// How often `tick` is called while waiting for results.
const TICK: Duration = Duration::from_millis(250);

/// A file to hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub path: PathBuf,
    /// The size seen by the scan; a file that is shorter when read fails.
    pub length: u64,
    pub piece_length: u64,
}

/// A run of whole pieces of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub job: usize,
    pub first_piece: u64,
    pub pieces: u64,
}

/// Cuts every job into chunks, in job order, for `threads` threads.
pub fn chunks(jobs: &[Job], threads: usize) -> Vec<Chunk> {
    let mut result = Vec::new();
    for (job, spec) in jobs.iter().enumerate() {
        let total = piece_count(spec.length, spec.piece_length);
        let share = spec
            .length
            .div_ceil(threads.max(1) as u64)
            .clamp(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES);
        let per_chunk = (share / spec.piece_length.max(1)).max(1);
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

enum Message {
    Hashed(usize, Vec<u8>),
    Failed(usize, io::Error),
    /// Not read because its file had already failed.
    Skipped,
}

/// Hashes every job on `threads` threads. `on_file(job, result)` is called
/// on the calling thread as each file completes (pieces concatenated, or the
/// first error); `tick` is called about four times a second for progress.
/// `bytes_done` counts bytes read so far.
pub fn hash_files(
    jobs: &[Job],
    threads: usize,
    bytes_done: &AtomicU64,
    mut on_file: impl FnMut(usize, io::Result<Vec<u8>>),
    mut tick: impl FnMut(),
) {
    let chunks = chunks(jobs, threads);
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
            on_file(job, Ok(Vec::new()));
        }
    }
    let failed: Vec<AtomicBool> = jobs.iter().map(|_| AtomicBool::new(false)).collect();
    let mut parts: Vec<Option<Vec<u8>>> = vec![None; chunks.len()];
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel::<Message>();
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, chunks.len().max(1)) {
            let sender = sender.clone();
            let (chunks, next, failed) = (&chunks, &next, &failed);
            scope.spawn(move || {
                let mut buffer = vec![0u8; READ_SIZE];
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(index) else {
                        break;
                    };
                    let (Some(job), Some(job_failed)) =
                        (jobs.get(chunk.job), failed.get(chunk.job))
                    else {
                        break;
                    };
                    let message = if job_failed.load(Ordering::Relaxed) {
                        Message::Skipped
                    } else {
                        match hash_chunk(job, chunk, &mut buffer, bytes_done) {
                            Ok(hashes) => Message::Hashed(index, hashes),
                            Err(e) => Message::Failed(index, e),
                        }
                    };
                    if sender.send(message).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        loop {
            let message = match receiver.recv_timeout(TICK) {
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
                Message::Skipped => continue,
            };
            let Some(job) = chunks.get(index).map(|c| c.job) else {
                continue;
            };
            let Some(job_failed) = failed.get(job) else {
                continue;
            };
            if job_failed.load(Ordering::Relaxed) {
                continue;
            }
            match outcome {
                Err(e) => {
                    job_failed.store(true, Ordering::Relaxed);
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
                        let mut pieces = Vec::new();
                        for slot in parts.iter_mut().skip(first).take(count) {
                            match slot.take() {
                                Some(hashes) => pieces.extend_from_slice(&hashes),
                                None => break,
                            }
                        }
                        on_file(job, Ok(pieces));
                    }
                }
            }
        }
    });
}

/// Hashes the pieces of one chunk.
fn hash_chunk(
    job: &Job,
    chunk: &Chunk,
    buffer: &mut [u8],
    bytes_done: &AtomicU64,
) -> io::Result<Vec<u8>> {
    let file = File::open(&job.path)?;
    let piece_length = job.piece_length.max(1);
    let start = chunk.first_piece.saturating_mul(piece_length);
    let end = start
        .saturating_add(chunk.pieces.saturating_mul(piece_length))
        .min(job.length);
    let mut hashes = Vec::with_capacity(chunk.pieces as usize * PIECE_HASH_LEN);
    let mut hasher = Sha1::new();
    let mut in_piece: u64 = 0;
    let mut offset = start;
    while offset < end {
        let want = (end - offset).min(buffer.len() as u64) as usize;
        let Some(block) = buffer.get_mut(..want) else {
            break;
        };
        file.read_exact_at(block, offset).map_err(|e| {
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
        })?;
        let mut data: &[u8] = block;
        while !data.is_empty() {
            let take = (piece_length - in_piece).min(data.len() as u64) as usize;
            let (head, tail) = data.split_at(take);
            hasher.update(head);
            in_piece += take as u64;
            data = tail;
            if in_piece == piece_length {
                hashes.extend_from_slice(&hasher.finalize_reset());
                in_piece = 0;
            }
        }
        offset += want as u64;
        bytes_done.fetch_add(want as u64, Ordering::Relaxed);
    }
    if in_piece > 0 {
        hashes.extend_from_slice(&hasher.finalize_reset());
    }
    Ok(hashes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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
        };
        let jobs = [
            job(MAX_CHUNK_BYTES * 2 + 1, MIB),
            job(5, 16384),
            job(100 * MIB, MIB),
            job(20 * MIB, MIB),
        ];
        let got: Vec<(usize, u64, u64)> = chunks(&jobs, 2)
            .iter()
            .map(|c| (c.job, c.first_piece, c.pieces))
            .collect();
        assert_eq!(
            got,
            [
                (0, 0, 256),
                (0, 256, 256),
                (0, 512, 1),
                (1, 0, 1),
                (2, 0, 50),
                (2, 50, 50),
                (3, 0, 16),
                (3, 16, 4),
            ]
        );
        // One thread: long runs, never more than MAX_CHUNK_BYTES.
        assert_eq!(chunks(&jobs[2..3], 1).len(), 1);
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
            (READ_SIZE as u64 * 2 + 7, 1 << 20),
            (READ_SIZE as u64 * 3, 8 << 20),
            (MIN_CHUNK_BYTES * 2 + 5, 1 << 20),
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
            });
        }
        for threads in [1, 3] {
            let done = AtomicU64::new(0);
            let mut got = BTreeMap::new();
            hash_files(
                &jobs,
                threads,
                &done,
                |job, r| {
                    assert!(got.insert(job, r.unwrap()).is_none());
                },
                || {},
            );
            assert_eq!(
                got.into_values().collect::<Vec<_>>(),
                want,
                "{threads} threads"
            );
            assert_eq!(
                done.load(Ordering::Relaxed),
                specs.iter().map(|s| s.0).sum::<u64>()
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_or_shrunk_file_fails_alone() {
        let dir = std::env::temp_dir().join(format!("lowspace-hash-err-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ok"), b"hello").unwrap();
        std::fs::write(dir.join("short"), b"hi").unwrap();
        let jobs = [
            Job {
                path: dir.join("missing"),
                length: 3,
                piece_length: 16384,
            },
            Job {
                path: dir.join("ok"),
                length: 5,
                piece_length: 16384,
            },
            Job {
                path: dir.join("short"),
                length: 9,
                piece_length: 16384,
            },
        ];
        let mut results = BTreeMap::new();
        hash_files(
            &jobs,
            2,
            &AtomicU64::new(0),
            |job, r| {
                results.insert(job, r);
            },
            || {},
        );
        assert_eq!(
            results[&0].as_ref().unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            results[&1].as_ref().unwrap(),
            &Sha1::digest(b"hello").to_vec()
        );
        let short = results[&2].as_ref().unwrap_err().to_string();
        assert!(short.contains("shorter than 9 bytes"), "{short}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
