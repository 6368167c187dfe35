//! The decision of a run, from the source scan and the manifest, without
//! touching the disk: which files to hash, which torrents only to rewrite,
//! which to keep as they are, and which to prune.
//!
//! Hashing is the expensive step, so it happens only when the content or
//! the info dictionary can have changed: a new file, a different size or
//! modification time, a different piece length or private flag, or a
//! torrent file that has disappeared. A change of trackers, web seed or
//! comment lies outside the info dictionary and only rewrites the torrent.

use std::collections::BTreeSet;
use std::fmt;

use super::manifest::Manifest;
use super::piece_size::PieceSize;
use crate::torrent::create::Format;

/// What the run is asked to produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub piece_size: PieceSize,
    pub format: Format,
    pub private: bool,
    /// Fingerprint of everything outside the info dictionary.
    pub metadata: String,
    pub prune: bool,
    /// Pruning more than 10 % of the torrents (and more than one) at once
    /// is allowed (`--allow-mass-removal`).
    pub allow_mass_prune: bool,
}

/// A source file as the plan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub rel: String,
    pub size: u64,
    pub mtime_ns: i64,
    /// Whether OUTPUT_DIR/<rel>.torrent is there now.
    pub torrent_exists: bool,
}

/// Why a torrent is (re)made; logged so the user sees the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    New,
    SizeChanged { was: u64, now: u64 },
    ModifiedSince,
    PieceLengthChanged { was: u64, now: u64 },
    PrivateChanged,
    FormatChanged { was: Format, now: Format },
    TorrentMissing,
    MetadataChanged,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::New => f.write_str("new file"),
            Why::SizeChanged { was, now } => write!(f, "size changed from {was} to {now} bytes"),
            Why::ModifiedSince => f.write_str("modified since the last run"),
            Why::PieceLengthChanged { was, now } => {
                write!(f, "piece length changed from {was} to {now}")
            }
            Why::PrivateChanged => f.write_str("private flag changed"),
            Why::FormatChanged { was, now } => write!(f, "format changed from {was} to {now}"),
            Why::TorrentMissing => f.write_str("its .torrent file is missing"),
            Why::MetadataChanged => f.write_str("trackers, web seed or comment changed"),
        }
    }
}

/// What happens to one source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The torrent is up to date.
    Keep,
    /// Same content and info dictionary: rewrite the torrent from the
    /// pieces it already holds.
    Rewrite(Why),
    /// Read the file and hash its pieces.
    Hash(Why),
    /// Empty: libtorrent refuses a torrent of 0 bytes ("invalid length of
    /// torrent"), so none is made.
    SkipEmpty,
}

/// One source file's step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Index into the candidates given to [`plan`].
    pub index: usize,
    pub piece_length: u64,
    pub action: Action,
}

/// The whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreePlan {
    pub steps: Vec<Step>,
    /// Manifest entries whose source is gone: their torrents are removed.
    pub prune: Vec<String>,
    /// Entries whose source is gone but that stay (no --prune, the source
    /// lies in a directory that could not be read, or pruning was refused).
    pub orphans_kept: Vec<String>,
    /// Pruning everything because the source looked empty was refused.
    pub prune_refused: bool,
    /// Pruning this many of the manifest's torrents at once was refused
    /// (more than 10 %, without `--allow-mass-removal`): (would prune, of).
    pub mass_prune_refused: Option<(usize, usize)>,
}

/// Decides the run. `unscanned` are relative paths that could not be read
/// ("." for the source itself): nothing at or beneath them is pruned.
pub fn plan(
    candidates: &[Candidate],
    manifest: &Manifest,
    settings: &Settings,
    unscanned: &[String],
) -> TreePlan {
    let mut result = TreePlan::default();
    let mut present = BTreeSet::new();
    for (index, file) in candidates.iter().enumerate() {
        let piece_length = settings.piece_size.for_file(file.size);
        let action = if file.size == 0 {
            Action::SkipEmpty
        } else {
            present.insert(file.rel.as_str());
            decide(file, piece_length, manifest, settings)
        };
        result.steps.push(Step {
            index,
            piece_length,
            action,
        });
    }
    // A source that looks empty while the manifest is not is far more often
    // an unmounted disk than a deleted library: never prune it all.
    result.prune_refused = settings.prune && present.is_empty() && !manifest.files.is_empty();
    for rel in manifest.files.keys() {
        if present.contains(rel.as_str()) {
            continue;
        }
        let under_unscanned = unscanned
            .iter()
            .any(|dir| dir == "." || dir == rel || rel.starts_with(&format!("{dir}/")));
        if settings.prune && !result.prune_refused && !under_unscanned {
            result.prune.push(rel.clone());
        } else {
            result.orphans_kept.push(rel.clone());
        }
    }
    // A source directory half there (one disk of a pool missing, a moved
    // subtree) would make every follower delete that part's data.
    let total = manifest.files.len();
    if !settings.allow_mass_prune && crate::follow::diff::is_mass_removal(result.prune.len(), total)
    {
        result.mass_prune_refused = Some((result.prune.len(), total));
        result.orphans_kept.append(&mut result.prune);
        result.orphans_kept.sort();
    }
    result
}

fn decide(file: &Candidate, piece_length: u64, manifest: &Manifest, settings: &Settings) -> Action {
    let Some(known) = manifest.files.get(&file.rel) else {
        return Action::Hash(Why::New);
    };
    if known.size != file.size {
        return Action::Hash(Why::SizeChanged {
            was: known.size,
            now: file.size,
        });
    }
    if known.mtime_ns != file.mtime_ns {
        return Action::Hash(Why::ModifiedSince);
    }
    if known.piece_length != piece_length {
        return Action::Hash(Why::PieceLengthChanged {
            was: known.piece_length,
            now: piece_length,
        });
    }
    if known.format != settings.format {
        // v1 pieces and v2 trees are different hashes of the data.
        return Action::Hash(Why::FormatChanged {
            was: known.format,
            now: settings.format,
        });
    }
    if known.private != settings.private {
        // The pieces are the same, but the info dictionary differs; the
        // rewrite step takes the old pieces back and only falls back to
        // hashing when it cannot.
        return Action::Rewrite(Why::PrivateChanged);
    }
    if !file.torrent_exists {
        return Action::Hash(Why::TorrentMissing);
    }
    if known.metadata != settings.metadata {
        return Action::Rewrite(Why::MetadataChanged);
    }
    Action::Keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::manifest::Entry;

    fn settings(prune: bool) -> Settings {
        Settings {
            piece_size: PieceSize::Fixed(16384),
            format: Format::V1,
            private: false,
            metadata: "m1".into(),
            prune,
            allow_mass_prune: false,
        }
    }

    fn candidate(rel: &str, size: u64, mtime_ns: i64, torrent_exists: bool) -> Candidate {
        Candidate {
            rel: rel.into(),
            size,
            mtime_ns,
            torrent_exists,
        }
    }

    fn manifest(entries: &[(&str, u64, i64, u64, bool, &str)]) -> Manifest {
        let mut m = Manifest::new();
        for (rel, size, mtime_ns, piece_length, private, metadata) in entries {
            m.files.insert(
                rel.to_string(),
                Entry {
                    size: *size,
                    mtime_ns: *mtime_ns,
                    piece_length: *piece_length,
                    format: Format::V1,
                    private: *private,
                    metadata: metadata.to_string(),
                    info_hash: "0".repeat(40),
                    info_hash_v2: None,
                },
            );
        }
        m
    }

    #[test]
    fn one_action_per_file_with_its_reason() {
        let known = manifest(&[
            ("same", 10, 1, 16384, false, "m1"),
            ("grown", 10, 1, 16384, false, "m1"),
            ("touched", 10, 1, 16384, false, "m1"),
            ("bigpieces", 10, 1, 32768, false, "m1"),
            ("private", 10, 1, 16384, true, "m1"),
            ("deleted-torrent", 10, 1, 16384, false, "m1"),
            ("tracker", 10, 1, 16384, false, "m0"),
        ]);
        let files = [
            candidate("same", 10, 1, true),
            candidate("grown", 11, 1, true),
            candidate("touched", 10, 2, true),
            candidate("bigpieces", 10, 1, true),
            candidate("private", 10, 1, true),
            candidate("deleted-torrent", 10, 1, false),
            candidate("tracker", 10, 1, true),
            candidate("fresh", 10, 1, false),
            candidate("empty", 0, 1, false),
        ];
        let result = plan(&files, &known, &settings(false), &[]);
        let actions: Vec<_> = result.steps.iter().map(|s| s.action.clone()).collect();
        assert_eq!(
            actions,
            [
                Action::Keep,
                Action::Hash(Why::SizeChanged { was: 10, now: 11 }),
                Action::Hash(Why::ModifiedSince),
                Action::Hash(Why::PieceLengthChanged {
                    was: 32768,
                    now: 16384
                }),
                Action::Rewrite(Why::PrivateChanged),
                Action::Hash(Why::TorrentMissing),
                Action::Rewrite(Why::MetadataChanged),
                Action::Hash(Why::New),
                Action::SkipEmpty,
            ]
        );
        assert!(result.prune.is_empty() && result.orphans_kept.is_empty());
    }

    #[test]
    fn a_format_change_rehashes_and_old_manifests_are_v1() {
        let known = manifest(&[("a", 10, 1, 16384, false, "m1")]);
        let files = [candidate("a", 10, 1, true)];
        assert_eq!(
            plan(&files, &known, &settings(false), &[]).steps[0].action,
            Action::Keep
        );
        for format in [Format::V2, Format::Hybrid] {
            let s = Settings {
                format,
                ..settings(false)
            };
            assert_eq!(
                plan(&files, &known, &s, &[]).steps[0].action,
                Action::Hash(Why::FormatChanged {
                    was: Format::V1,
                    now: format
                })
            );
        }
    }

    #[test]
    fn auto_piece_size_is_resolved_per_file() {
        let mut s = settings(false);
        s.piece_size = PieceSize::Auto;
        let files = [candidate("big", 4 << 30, 1, false)];
        let result = plan(&files, &Manifest::new(), &s, &[]);
        assert_eq!(result.steps[0].piece_length, 4 << 20);
    }

    #[test]
    fn gone_sources_are_pruned_only_when_asked_and_seen() {
        let known = manifest(&[
            ("here", 10, 1, 16384, false, "m1"),
            ("gone", 10, 1, 16384, false, "m1"),
            ("now-empty", 10, 1, 16384, false, "m1"),
            ("locked/inside", 10, 1, 16384, false, "m1"),
            ("lockedness", 10, 1, 16384, false, "m1"),
        ]);
        let files = [
            candidate("here", 10, 1, true),
            candidate("now-empty", 0, 2, true),
        ];
        let unscanned = ["locked".to_string()];
        let without = plan(&files, &known, &settings(false), &unscanned);
        assert!(without.prune.is_empty());
        assert_eq!(without.orphans_kept.len(), 4);
        let allowed = Settings {
            allow_mass_prune: true,
            ..settings(true)
        };
        let with = plan(&files, &known, &allowed, &unscanned);
        assert_eq!(with.prune, ["gone", "lockedness", "now-empty"]);
        assert_eq!(with.orphans_kept, ["locked/inside"]);
        assert!(!with.prune_refused);
        let root_unreadable = plan(&files, &known, &settings(true), &[".".to_string()]);
        assert!(root_unreadable.prune.is_empty());
    }

    #[test]
    fn pruning_more_than_a_tenth_at_once_needs_allowing() {
        let known = manifest(&[
            ("a", 10, 1, 16384, false, "m1"),
            ("b", 10, 1, 16384, false, "m1"),
            ("c", 10, 1, 16384, false, "m1"),
            ("d", 10, 1, 16384, false, "m1"),
        ]);
        let only_a = [candidate("a", 10, 1, true)];
        let refused = plan(&only_a, &known, &settings(true), &[]);
        assert_eq!(refused.mass_prune_refused, Some((3, 4)));
        assert!(refused.prune.is_empty());
        assert_eq!(refused.orphans_kept, ["b", "c", "d"]);
        let allowed = Settings {
            allow_mass_prune: true,
            ..settings(true)
        };
        assert_eq!(plan(&only_a, &known, &allowed, &[]).prune, ["b", "c", "d"]);
        // One at a time is always allowed.
        let three = [
            candidate("a", 10, 1, true),
            candidate("b", 10, 1, true),
            candidate("c", 10, 1, true),
        ];
        let one = plan(&three, &known, &settings(true), &[]);
        assert_eq!((one.prune.len(), one.mass_prune_refused), (1, None));
    }

    #[test]
    fn an_empty_source_is_never_pruned_away() {
        let known = manifest(&[("a", 10, 1, 16384, false, "m1")]);
        let result = plan(&[], &known, &settings(true), &[]);
        assert!(result.prune_refused);
        assert!(result.prune.is_empty());
        assert_eq!(result.orphans_kept, ["a"]);
        assert!(!plan(&[], &Manifest::new(), &settings(true), &[]).prune_refused);
    }
}
