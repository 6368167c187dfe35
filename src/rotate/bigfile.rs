//! File-by-file mode: how a torrent bigger than the space limit still flows
//! through a small disk, a few of its files at a time.
//!
//! The torrent is loaded with every file at priority 0, so rtorrent fetches
//! nothing unasked. Each run then (1) stops it, (2) copies every selected
//! file that is complete to the remote, verifies it there, truncates it to
//! zero bytes and sets its priority back to 0, and (3) selects the next
//! files not yet on the remote, smallest first, that fit the budget, and
//! starts it again. Only one torrent is in this mode at a time; the journal
//! records which one and which files are already on the remote.
//!
//! Pieces span file boundaries, so downloading a file also writes the edge
//! of its neighbours: a truncated file can come back as a few stray bytes.
//! Files already on the remote are truncated again whenever they hold data,
//! and the budget keeps a margin of one piece per selected file for these
//! shared pieces.
//!
//! This module is the pure part: from the files' state to the steps.

use std::collections::BTreeSet;

/// One file of the torrent, as rtorrent and the disk report it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileState {
    /// Index in the torrent (rtorrent's file index).
    pub index: usize,
    /// Path relative to the torrent's data directory.
    pub path: Vec<String>,
    pub size: u64,
    /// Every chunk of the file is there.
    pub complete: bool,
    /// rtorrent's priority: 0 off, 1 normal, 2 high.
    pub priority: u8,
    /// Bytes the file takes on the local disk now.
    pub on_disk: u64,
}

/// The steps of one run in file-by-file mode.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FilePlan {
    /// Complete, selected files to copy, verify, truncate and deselect.
    pub sync: Vec<usize>,
    /// Files on the remote that hold local bytes again: truncate.
    pub truncate: Vec<usize>,
    /// Files to download next (priority 1).
    pub select: Vec<usize>,
    /// Selected files that stay selected (still downloading).
    pub keep: Vec<usize>,
    /// Files bigger than the whole budget: never fetched at this limit.
    pub too_big: Vec<usize>,
    /// Every file that can be fetched is on the remote (after this run's
    /// syncs succeed): leave file-by-file mode.
    pub finished: bool,
    /// Bytes the selected files will take.
    pub selected_bytes: u64,
    pub reasons: Vec<String>,
}

/// Decides one run. `on_remote` holds the indexes already verified on the
/// remote (from the journal); `budget` is the space limit less the reserve;
/// `piece_length` sizes the margin for pieces shared with neighbours.
pub fn plan_files(
    files: &[FileState],
    on_remote: &BTreeSet<usize>,
    budget: u64,
    piece_length: u64,
) -> FilePlan {
    let mut out = FilePlan::default();
    let margin_per_file = piece_length;

    for f in files {
        if on_remote.contains(&f.index) {
            if f.on_disk > 0 {
                out.truncate.push(f.index);
            }
            continue;
        }
        if f.size.saturating_add(margin_per_file) > budget {
            out.too_big.push(f.index);
            out.reasons.push(format!(
                "{}: {} bytes is more than the space limit allows in file-by-file mode ({} bytes with a piece of margin); skipped — raise space_limit to at least {} to fetch it",
                f.path.join("/"),
                f.size,
                budget,
                f.size.saturating_add(margin_per_file)
            ));
            continue;
        }
        if f.priority > 0 && f.complete {
            out.sync.push(f.index);
        } else if f.priority > 0 {
            out.keep.push(f.index);
            out.selected_bytes += f.size + margin_per_file;
        }
    }

    // Files that will be on the remote after this run's syncs.
    let will_be_done: BTreeSet<usize> = on_remote
        .iter()
        .copied()
        .chain(out.sync.iter().copied())
        .collect();
    let mut waiting: Vec<&FileState> = files
        .iter()
        .filter(|f| {
            !will_be_done.contains(&f.index)
                && !out.too_big.contains(&f.index)
                && !out.keep.contains(&f.index)
        })
        .collect();
    if waiting.is_empty() && out.keep.is_empty() {
        out.finished = true;
        return out;
    }
    // Smallest first, as in normal mode; ties by path for a stable order.
    waiting.sort_by(|a, b| a.size.cmp(&b.size).then_with(|| a.path.cmp(&b.path)));
    for f in waiting {
        let need = f.size + margin_per_file;
        if out.selected_bytes + need <= budget {
            out.selected_bytes += need;
            out.select.push(f.index);
        } else {
            // Smallest first: nothing after this one fits either.
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;

    fn file(index: usize, size: u64, complete: bool, priority: u8) -> FileState {
        FileState {
            index,
            path: vec![format!("dir {index}"), format!("f{index}.bin")],
            size,
            complete,
            priority,
            on_disk: if complete { size } else { 0 },
        }
    }

    fn remote(indexes: &[usize]) -> BTreeSet<usize> {
        indexes.iter().copied().collect()
    }

    #[test]
    fn first_run_selects_the_smallest_files_that_fit_with_margins() {
        // budget 100 KiB, piece 4 KiB: 30+4, 40+4 fit (78), 50+4 does not.
        let files = [
            file(0, 50 * KIB, false, 0),
            file(1, 30 * KIB, false, 0),
            file(2, 40 * KIB, false, 0),
        ];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, 4 * KIB);
        assert_eq!(p.select, vec![1, 2]);
        assert_eq!(p.selected_bytes, 78 * KIB);
        assert!(p.sync.is_empty() && !p.finished);
    }

    #[test]
    fn complete_selected_files_are_synced_and_their_space_reused() {
        let files = [
            file(0, 50 * KIB, false, 0),
            file(1, 30 * KIB, true, 1),
            file(2, 40 * KIB, true, 1),
        ];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, 4 * KIB);
        assert_eq!(p.sync, vec![1, 2]);
        assert_eq!(p.select, vec![0], "the freed space goes to the next file");
        assert!(!p.finished);
    }

    #[test]
    fn files_still_downloading_keep_their_space() {
        let files = [file(0, 50 * KIB, false, 1), file(1, 60 * KIB, false, 0)];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, 4 * KIB);
        assert_eq!(p.keep, vec![0]);
        assert!(
            p.select.is_empty(),
            "60 KiB does not fit beside the 54 KiB in flight"
        );
    }

    #[test]
    fn files_on_the_remote_are_never_selected_and_regrown_ones_are_truncated() {
        let mut regrown = file(0, 50 * KIB, false, 0);
        regrown.on_disk = 4 * KIB; // a shared piece wrote its edge again
        let files = [regrown, file(1, 30 * KIB, false, 0)];
        let p = plan_files(&files, &remote(&[0]), 100 * KIB, 4 * KIB);
        assert_eq!(p.truncate, vec![0]);
        assert_eq!(p.select, vec![1]);
    }

    #[test]
    fn a_file_bigger_than_the_budget_is_skipped_and_the_rest_finishes() {
        let files = [file(0, 500 * KIB, false, 0), file(1, 30 * KIB, true, 1)];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, 4 * KIB);
        assert_eq!(p.too_big, vec![0]);
        assert!(
            p.reasons[0].contains("raise space_limit to at least 516096"),
            "{:?}",
            p.reasons
        );
        assert_eq!(p.sync, vec![1]);
        assert!(
            p.finished,
            "everything that can be fetched is done once file 1 is synced"
        );
    }

    #[test]
    fn finished_when_every_file_is_on_the_remote() {
        let files = [file(0, 10, false, 0), file(1, 20, false, 0)];
        let p = plan_files(&files, &remote(&[0, 1]), 100 * KIB, 4 * KIB);
        assert!(p.finished);
        assert!(p.select.is_empty() && p.sync.is_empty());
    }

    #[test]
    fn the_last_sync_finishes_the_torrent() {
        let files = [file(0, 10, false, 0), file(1, 20, true, 1)];
        let p = plan_files(&files, &remote(&[0]), 100 * KIB, 4 * KIB);
        assert_eq!(p.sync, vec![1]);
        assert!(p.finished);
    }
}
