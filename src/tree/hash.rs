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
use sha2::Sha256;

use crate::torrent::create::{
    piece_count, v2_piece_hash, Format, V2Hashes, BLOCK_SIZE, PIECE_HASH_LEN,
};

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

/// What hashing one chunk gives: its pieces' SHA-1 and v2 hashes.
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
    Hashed(usize, ChunkHashes),
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
    mut on_file: impl FnMut(usize, io::Result<FileHashes>),
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
            on_file(job, Ok(FileHashes::default()));
        }
    }
    let failed: Vec<AtomicBool> = jobs.iter().map(|_| AtomicBool::new(false)).collect();
    let mut parts: Vec<Option<ChunkHashes>> = (0..chunks.len()).map(|_| None).collect();
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

/// Hashes the pieces of one chunk.
fn hash_chunk(
    job: &Job,
    chunk: &Chunk,
    buffer: &mut [u8],
    bytes_done: &AtomicU64,
) -> io::Result<ChunkHashes> {
    let file = File::open(&job.path)?;
    let piece_length = job.piece_length.max(1);
    let start = chunk.first_piece.saturating_mul(piece_length);
    let end = start
        .saturating_add(chunk.pieces.saturating_mul(piece_length))
        .min(job.length);
    let mut pieces = PieceHasher::new(job, chunk.pieces as usize);
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
        pieces.update(block);
        offset += want as u64;
        bytes_done.fetch_add(want as u64, Ordering::Relaxed);
    }
    Ok(pieces.finish())
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
                format: Format::V1,
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
                    assert!(got.insert(job, r.unwrap().v1).is_none());
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
            (MIN_CHUNK_BYTES * 2 + 5, 1 << 20),
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
        for (format, threads) in [(Format::Hybrid, 3), (Format::V2, 1)] {
            let jobs: Vec<Job> = jobs
                .iter()
                .map(|j| Job {
                    format,
                    ..j.clone()
                })
                .collect();
            let mut got = BTreeMap::new();
            hash_files(
                &jobs,
                threads,
                &AtomicU64::new(0),
                |job, r| {
                    got.insert(job, r.unwrap());
                },
                || {},
            );
            for (i, want) in want.iter().enumerate() {
                assert_eq!(got[&i].v2, want.v2, "{format} file {i}");
                let v1 = if format == Format::Hybrid {
                    want.v1.clone()
                } else {
                    Vec::new()
                };
                assert_eq!(got[&i].v1, v1, "{format} file {i}");
            }
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
                format: Format::V1,
            },
            Job {
                path: dir.join("ok"),
                length: 5,
                piece_length: 16384,
                format: Format::V1,
            },
            Job {
                path: dir.join("short"),
                length: 9,
                piece_length: 16384,
                format: Format::V1,
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
            results[&1].as_ref().unwrap().v1,
            Sha1::digest(b"hello").to_vec()
        );
        let short = results[&2].as_ref().unwrap_err().to_string();
        assert!(short.contains("shorter than 9 bytes"), "{short}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
