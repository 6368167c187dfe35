//! The `rotate` job: feeds a directory of .torrent files through rtorrent
//! within a space limit, smallest first, and moves finished, seeded torrents
//! to big storage, deleting them locally only after their remote copy is
//! verified.
//!
//! - [`snapshot`]: what a run sees (managed files, rtorrent, disk, clock).
//! - [`plan`]: the pure decision from a snapshot, the settings and the
//!   journal to the steps of this run, with the reason for each.
//! - [`journal`]: the crash-safe record of torrents being finished.
//! - [`backoff`]: when a torrent whose sync failed is tried again.
//! - [`scan_cache`]: what each managed .torrent parsed to, so a steady run
//!   reads only the files that changed.
//! - [`delete`]: removing a finished torrent's own files and nothing else.
//! - [`lock`]: one run at a time.
//! - [`batches`]: cutting loads into requests rtorrent takes.
//! - [`bigfile`]: file-by-file mode for a torrent bigger than the space
//!   allows (decisions); `execute_files` carries them out.

pub mod backoff;
pub mod batches;
pub mod bigfile;
#[cfg(test)]
mod crash_sweep;
pub mod error;
pub mod execute;
mod execute_files;
pub mod gather;
pub mod journal;
pub mod plan;
pub mod report;
pub mod run;
pub mod scan_cache;
pub mod snapshot;
