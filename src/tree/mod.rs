//! `lowspace tree`: one .torrent per source file, mirroring the directory
//! structure, so each file has its own swarm and seeding ratio and a new file
//! never forces re-hashing the others.
//!
//! Deterministic: a torrent depends only on the file's name, content, the
//! piece length (chosen from the size by a fixed rule, see `piece_size`) and
//! the private flag, so any machine running `tree` over the same files gets
//! the same info-hashes and can take over as "main". No creation date is
//! written unless asked (`--creation-date`, which uses the file's
//! modification time, not the clock), and "created by" is "lowspace" with no
//! version.
//!
//! Incremental: a manifest in the output directory (`manifest`) remembers
//! size, modification time and info-hash per file; `plan` decides from it
//! what to hash, rewrite, keep or prune; `run` carries that out with the
//! parallel hasher (`hash`) and writes the index `follow` reads (`index`).
//!
//! Empty files get no torrent: libtorrent refuses a single-file torrent of 0
//! bytes ("invalid length of torrent"), so such a torrent could never be
//! added by a follower.

pub mod hash;
pub mod index;
pub mod manifest;
pub mod piece_size;
pub mod plan;
pub mod progress;
pub mod run;
pub mod scan;

pub use run::{run, Options, RunError, Summary};
