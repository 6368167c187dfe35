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
//! of its neighbours, and rtorrent may then allocate such a neighbour at
//! its full length: a truncated file can come back. Files already on the
//! remote are truncated again whenever they hold data, and the budget
//! charges each selected file with the whole size of the files it shares
//! a piece with.
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

/// For each file (by position), the other files that share a piece with
/// it. Files lie end to end in torrent order, so only files within one
/// piece of each other can share; empty files share nothing.
fn piece_neighbours(files: &[FileState], piece_length: u64) -> Vec<Vec<usize>> {
    let piece = piece_length.max(1);
    let mut ranges = Vec::with_capacity(files.len());
    let mut offset = 0u64;
    for f in files {
        ranges.push(if f.size == 0 {
            None
        } else {
            Some((offset / piece, (offset + f.size - 1) / piece))
        });
        offset = offset.saturating_add(f.size);
    }
    let mut out = vec![Vec::new(); files.len()];
    for i in 0..files.len() {
        let Some((_, last_i)) = ranges[i] else {
            continue;
        };
        for j in i + 1..files.len() {
            match ranges[j] {
                None => continue,
                Some((first_j, _)) if first_j <= last_i => {
                    out[i].push(j);
                    out[j].push(i);
                }
                Some(_) => break,
            }
        }
    }
    out
}

/// Decides one run. `files` is every file of the torrent in torrent order;
/// `on_remote` holds the indexes already verified on the remote (from the
/// journal); `budget` is what the torrent's files may take on disk.
///
/// What a selected file costs: its own size plus the whole size of every
/// file sharing a piece with it. Measured with rtorrent 0.9.8: writing a
/// shared piece can leave the neighbour allocated at its full length (its
/// hash check on completion re-opens the files), even when the neighbour
/// is off or was truncated, so anything less could overrun the disk.
pub fn plan_files(
    files: &[FileState],
    on_remote: &BTreeSet<usize>,
    budget: u64,
    piece_length: u64,
) -> FilePlan {
    let mut out = FilePlan::default();
    let neighbours = piece_neighbours(files, piece_length);
    // Positions counted against the budget, each once.
    let mut charged: BTreeSet<usize> = BTreeSet::new();
    let cost = |k: usize, charged: &BTreeSet<usize>| -> u64 {
        std::iter::once(k)
            .chain(neighbours[k].iter().copied())
            .filter(|p| !charged.contains(p))
            .map(|p| files[p].size)
            .sum()
    };
    let charge = |k: usize, charged: &mut BTreeSet<usize>| {
        charged.insert(k);
        charged.extend(neighbours[k].iter().copied());
    };

    let mut in_flight: Vec<usize> = Vec::new();
    for (k, f) in files.iter().enumerate() {
        if on_remote.contains(&f.index) {
            if f.on_disk > 0 {
                out.truncate.push(f.index);
            }
            continue;
        }
        let alone = cost(k, &BTreeSet::new());
        if alone > budget {
            out.too_big.push(f.index);
            let with = if alone > f.size {
                format!(" with the files sharing its first or last piece ({alone} bytes)")
            } else {
                String::new()
            };
            out.reasons.push(format!(
                "{}: {} bytes{with} is more than file-by-file mode has ({} bytes); skipped — raise space_limit to at least {} to fetch it",
                f.path.join("/"),
                f.size,
                budget,
                alone
            ));
            continue;
        }
        if f.priority > 0 && f.complete {
            out.sync.push(f.index);
        } else if f.priority > 0 {
            out.keep.push(f.index);
            in_flight.push(k);
        }
    }
    for k in in_flight {
        out.selected_bytes += cost(k, &charged);
        charge(k, &mut charged);
    }

    // Files that will be on the remote after this run's syncs.
    let will_be_done: BTreeSet<usize> = on_remote
        .iter()
        .copied()
        .chain(out.sync.iter().copied())
        .collect();
    let mut waiting: Vec<usize> = (0..files.len())
        .filter(|&k| {
            let i = files[k].index;
            !will_be_done.contains(&i) && !out.too_big.contains(&i) && !out.keep.contains(&i)
        })
        .collect();
    if waiting.is_empty() && out.keep.is_empty() {
        out.finished = true;
        return out;
    }
    // Smallest first, as in normal mode; ties by path for a stable order.
    waiting.sort_by(|&a, &b| {
        files[a]
            .size
            .cmp(&files[b].size)
            .then_with(|| files[a].path.cmp(&files[b].path))
    });
    for k in waiting {
        let need = cost(k, &charged);
        if out.selected_bytes + need <= budget {
            out.selected_bytes += need;
            charge(k, &mut charged);
            out.select.push(files[k].index);
        }
        // Otherwise a smaller-costing file later in the list may still fit
        // (neighbours make the cost differ from the size).
    }
    out
}

/// Takes the selection from the journal rather than from rtorrent.
pub fn apply_selection(files: &mut [FileState], selected: &BTreeSet<usize>) {
    for f in files {
        f.priority = u8::from(selected.contains(&f.index));
    }
}

/// The priority every file gets at the end of a run: 1 for the files
/// downloading or selected, 0 for all others (on the remote, too big,
/// waiting), so rtorrent fetches nothing unasked even after a restart
/// that forgot earlier settings.
pub fn priorities(files: &[FileState], plan: &FilePlan) -> Vec<(usize, u8)> {
    files
        .iter()
        .map(|f| {
            let wanted = plan.keep.contains(&f.index) || plan.select.contains(&f.index);
            (f.index, u8::from(wanted))
        })
        .collect()
}

/// Where one file stands, as `status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileView {
    OnRemote,
    /// Complete locally; copied to the remote by the next run.
    Downloaded,
    Downloading,
    Waiting,
    TooBig,
}

impl FileView {
    pub fn as_str(self) -> &'static str {
        match self {
            FileView::OnRemote => "on remote",
            FileView::Downloaded => "downloaded, syncs next run",
            FileView::Downloading => "downloading",
            FileView::Waiting => "waiting",
            FileView::TooBig => "too big",
        }
    }

    /// The same, for JSON.
    pub fn key(self) -> &'static str {
        match self {
            FileView::OnRemote => "on_remote",
            FileView::Downloaded => "downloaded",
            FileView::Downloading => "downloading",
            FileView::Waiting => "waiting",
            FileView::TooBig => "too_big",
        }
    }
}

/// Each file's view, in the files' order.
pub fn file_views(
    files: &[FileState],
    on_remote: &BTreeSet<usize>,
    plan: &FilePlan,
) -> Vec<FileView> {
    files
        .iter()
        .map(|f| {
            if on_remote.contains(&f.index) {
                FileView::OnRemote
            } else if plan.too_big.contains(&f.index) {
                FileView::TooBig
            } else if plan.sync.contains(&f.index) {
                FileView::Downloaded
            } else if plan.keep.contains(&f.index) || plan.select.contains(&f.index) {
                FileView::Downloading
            } else {
                FileView::Waiting
            }
        })
        .collect()
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
    fn first_run_selects_the_smallest_files_that_fit() {
        // budget 100 KiB, piece 2 KiB, files piece-aligned: 30 and 40 fit
        // (70), 50 more does not.
        let files = [
            file(0, 50 * KIB, false, 0),
            file(1, 30 * KIB, false, 0),
            file(2, 40 * KIB, false, 0),
        ];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, 2 * KIB);
        assert_eq!(p.select, vec![1, 2]);
        assert_eq!(p.selected_bytes, 70 * KIB);
        assert!(p.sync.is_empty() && !p.finished);
    }

    #[test]
    fn complete_selected_files_are_synced_and_their_space_reused() {
        let files = [
            file(0, 50 * KIB, false, 0),
            file(1, 30 * KIB, true, 1),
            file(2, 40 * KIB, true, 1),
        ];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, 2 * KIB);
        assert_eq!(p.sync, vec![1, 2]);
        assert_eq!(p.select, vec![0], "the freed space goes to the next file");
        assert!(!p.finished);
    }

    #[test]
    fn files_still_downloading_keep_their_space() {
        let files = [file(0, 50 * KIB, false, 1), file(1, 60 * KIB, false, 0)];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, 2 * KIB);
        assert_eq!(p.keep, vec![0]);
        assert!(
            p.select.is_empty(),
            "60 KiB does not fit beside the 50 KiB in flight"
        );
    }

    #[test]
    fn files_on_the_remote_are_never_selected_and_regrown_ones_are_truncated() {
        let mut regrown = file(0, 50 * KIB, false, 0);
        regrown.on_disk = 4 * KIB; // a shared piece wrote its edge again
        let files = [regrown, file(1, 30 * KIB, false, 0)];
        let p = plan_files(&files, &remote(&[0]), 100 * KIB, 2 * KIB);
        assert_eq!(p.truncate, vec![0]);
        assert_eq!(p.select, vec![1]);
    }

    #[test]
    fn a_file_bigger_than_the_budget_is_skipped_and_the_rest_finishes() {
        let files = [file(0, 500 * KIB, false, 0), file(1, 30 * KIB, true, 1)];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, 2 * KIB);
        assert_eq!(p.too_big, vec![0]);
        assert!(
            p.reasons[0].contains("raise space_limit to at least 512000"),
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
    fn files_sharing_a_piece_are_charged_whole() {
        // Piece 32 KiB; 20 KiB + 60 KiB: the boundary at 20 KiB is inside
        // piece 0, so fetching either may allocate the other entirely.
        let files = [
            file(0, 20 * KIB, false, 0),
            file(1, 60 * KIB, false, 0),
            file(2, 64 * KIB, false, 0), // starts at 80 KiB: shares piece 2 with file 1
            file(3, 16 * KIB, false, 0), // starts at 144 KiB: shares piece 4 with file 2
        ];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, 32 * KIB);
        // 3 costs 16+64 = 80. Then 0: 20+60 more, over; 1: 60+20 more
        // (64 is charged already), over; 2: its neighbour 1 (60) more, over.
        assert_eq!(p.select, vec![3]);
        assert_eq!(p.selected_bytes, 80 * KIB);
        // With 2 and 3 on the remote: 0 and 1 cost 80 together; 1 also
        // charges 2 in full although it is on the remote (it can regrow).
        let p = plan_files(&files, &remote(&[2, 3]), 100 * KIB, 32 * KIB);
        assert_eq!(p.select, vec![0]);
        assert_eq!(p.selected_bytes, 80 * KIB);
        let p = plan_files(&files, &remote(&[2, 3]), 150 * KIB, 32 * KIB);
        assert_eq!(p.select, vec![0, 1]);
        assert_eq!(p.selected_bytes, 144 * KIB);
    }

    #[test]
    fn a_file_that_fits_alone_but_not_with_its_neighbour_is_too_big() {
        let files = [file(0, 10 * KIB + 1, false, 0), file(1, 95 * KIB, false, 0)];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, 32 * KIB);
        assert_eq!(p.too_big, vec![0, 1]);
        assert!(
            p.reasons[0].contains("sharing its first or last piece"),
            "{:?}",
            p.reasons
        );
        assert!(p.finished, "nothing left that can be fetched");
    }

    #[test]
    fn finished_when_every_file_is_on_the_remote() {
        let files = [file(0, 10, false, 0), file(1, 20, false, 0)];
        let p = plan_files(&files, &remote(&[0, 1]), 100 * KIB, 2 * KIB);
        assert!(p.finished);
        assert!(p.select.is_empty() && p.sync.is_empty());
    }

    #[test]
    fn priorities_want_exactly_the_files_in_flight() {
        let files = [
            file(0, 50 * KIB, false, 1),  // downloading: stays on
            file(1, 30 * KIB, true, 1),   // synced this run: off
            file(2, 40 * KIB, false, 0),  // selected now: on
            file(3, 10 * KIB, false, 1),  // on the remote (priority left on by a crash): off
            file(4, 900 * KIB, false, 1), // too big: off
        ];
        let p = plan_files(&files, &remote(&[3]), 150 * KIB, 2 * KIB);
        assert_eq!(
            priorities(&files, &p),
            vec![(0, 1), (1, 0), (2, 1), (3, 0), (4, 0)]
        );
        assert_eq!(
            file_views(&files, &remote(&[3]), &p),
            vec![
                FileView::Downloading,
                FileView::Downloaded,
                FileView::Downloading,
                FileView::OnRemote,
                FileView::TooBig
            ]
        );
    }

    #[test]
    fn a_crash_after_the_journal_but_before_the_truncation_truncates_next_run() {
        // Verified and journalled, still complete locally with priority 1.
        let files = [file(0, 30 * KIB, true, 1), file(1, 40 * KIB, false, 0)];
        let p = plan_files(&files, &remote(&[0]), 100 * KIB, 2 * KIB);
        assert_eq!(p.truncate, vec![0]);
        assert!(p.sync.is_empty(), "never copied twice once verified");
        assert_eq!(priorities(&files, &p), vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn the_last_sync_finishes_the_torrent() {
        let files = [file(0, 10, false, 0), file(1, 20, true, 1)];
        let p = plan_files(&files, &remote(&[0]), 100 * KIB, 2 * KIB);
        assert_eq!(p.sync, vec![1]);
        assert!(p.finished);
    }
}
