//! File-by-file mode: how a torrent bigger than the space limit still flows
//! through a small disk, a few of its files at a time.
//!
//! The torrent is loaded with every file at priority 0, so rtorrent fetches
//! nothing unasked. Each run then (1) stops it, (2) copies every file that
//! is complete to the remote, verifies it there, truncates it to zero
//! bytes and sets its priority back to 0, and (3) selects the next files
//! not yet on the remote, smallest first, that fit the budget, and starts
//! it again. Only one torrent is in this mode at a time; the journal
//! records which one and which files are already on the remote.
//!
//! Pieces span file boundaries, so downloading a file also writes the edge
//! of its neighbours. Measured with rtorrent 0.9.8 on ext4 (blocks used,
//! not lengths): a priority-0 neighbour is set to its full length but only
//! its part of the shared piece is written, so it takes that part rounded
//! out to file-system blocks (a 1 000 KiB neighbour whose last 232 KiB lie
//! in the shared piece took 236 KiB; a second shared piece at its other
//! end took one block more than the two parts). On a file system without
//! sparse files (vfat, exFAT, NTFS through FUSE) setting the length
//! allocates the whole file. Each run closes the torrent (truncating under
//! rtorrent's mapping is unsafe), and rtorrent re-checks its data when it
//! starts again, so a piece shared with a file already truncated counts as
//! missing and is fetched again with its neighbour: a file on the remote
//! is charged what such a piece writes back into it too. The budget charges exactly that, so on ext4,
//! btrfs, xfs, f2fs or tmpfs any file no bigger than the budget less two
//! pieces (and a few blocks of rounding) is fetched.
//!
//! libtorrent 2.0 (qBittorrent 4.5.2, Deluge 2.0.3, measured on ext4 with
//! 32 KiB pieces) does not write a skipped file that is not on disk yet:
//! its part of a shared piece goes to one `.<info-hash>.parts` file in the
//! save path, a piece-sized slot per piece after a header of 4 bytes per
//! piece (rounded to 1 KiB), each part at its own offset in the slot. The
//! two neighbours of a 109 400-byte file (9 096 and 12 576 bytes of the
//! shared pieces) made a 66 560-byte parts file taking 28 672 bytes: each
//! part rounded out to blocks, one block more for the header's offset, and
//! the header. A file that exists (truncated once on the remote, or
//! partly downloaded) is written in place, as by rtorrent. The parts file
//! does not shrink while the torrent is loaded (slots are reused), so what
//! it takes is counted as held; qBittorrent deletes it when the torrent is
//! removed, Deluge leaves it (the removal deletes it). Transmission 3.00
//! writes into the neighbour itself, sparse, named `<file>.part` until the
//! file is complete (a 9 096-byte part took 12 288 bytes of a 107 400-byte
//! `a.bin.part`): rtorrent's rule, with the `.part` name measured too.
//!
//! A complete file is always copied first, whatever the budget says: a
//! budget that shrank between runs must never make a downloaded file look
//! like one to give up on.
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
    /// Every chunk of the file is there (rtorrent counts as many completed
    /// chunks as the file has).
    pub complete: bool,
    /// rtorrent's priority: 0 off, 1 normal, 2 high.
    pub priority: u8,
    /// Bytes the file takes on the local disk now.
    pub on_disk: u64,
}

/// What the file system of the download directory does with a file
/// rtorrent has set to its full length but written only in part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskKind {
    /// Unwritten ranges take no space (holes).
    pub sparse: bool,
    /// Allocation unit in bytes.
    pub block: u64,
    /// The file system's name, for the log.
    pub name: &'static str,
}

impl Default for DiskKind {
    /// Unknown: charged as if nothing were sparse, which can only cost
    /// speed, never overrun the disk.
    fn default() -> DiskKind {
        DiskKind {
            sparse: false,
            block: 4096,
            name: "an unknown file system",
        }
    }
}

impl DiskKind {
    /// From `statfs(2)`'s `f_type` and `f_bsize`.
    pub fn from_statfs(magic: u64, block: u64) -> DiskKind {
        let (sparse, name) = match magic {
            0xEF53 => (true, "ext2/3/4"),
            0x9123_683E => (true, "btrfs"),
            0x5846_5342 => (true, "xfs"),
            0xF2F5_2010 => (true, "f2fs"),
            0x0102_1994 => (true, "tmpfs"),
            0x2FC1_2FC1 => (true, "zfs"),
            // The upper layer holds the data; in practice ext4 or xfs.
            0x794C_7630 => (true, "overlayfs"),
            0x4D44 => (false, "vfat"),
            0x2011_BAB0 => (false, "exfat"),
            0x6573_5546 => (false, "a FUSE file system (ntfs-3g, exfat-fuse)"),
            0x5346_544E | 0x7366_746E => (false, "ntfs"),
            _ => (false, "an unknown file system"),
        };
        DiskKind {
            sparse,
            block: if block == 0 { 4096 } else { block },
            name,
        }
    }
}

/// Where the client writes a skipped file's part of a piece it fetches
/// for a neighbour (see the module's head for the measurements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Skipped {
    /// Into the skipped file itself (rtorrent, Transmission).
    #[default]
    InFile,
    /// Into the torrent's `.<info-hash>.parts` file while the skipped file
    /// does not exist (libtorrent 2.0: qBittorrent, Deluge).
    PartFile {
        /// Bytes the parts file takes now (0 when there is none).
        held: u64,
    },
}

impl Skipped {
    /// The rule for a client, with nothing held yet.
    pub fn for_client(writes: crate::client::SkippedFileWrites) -> Skipped {
        match writes {
            crate::client::SkippedFileWrites::InFile { .. } => Skipped::InFile,
            crate::client::SkippedFileWrites::PartFile => Skipped::PartFile { held: 0 },
        }
    }

    /// The same rule with what the parts file takes now.
    pub fn holding(self, bytes: u64) -> Skipped {
        match self {
            Skipped::InFile => Skipped::InFile,
            Skipped::PartFile { .. } => Skipped::PartFile { held: bytes },
        }
    }
}

/// The torrent's shape on the disk, for the charging rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub piece_length: u64,
    pub disk: DiskKind,
    pub skipped: Skipped,
}

/// The steps of one run in file-by-file mode.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FilePlan {
    /// Complete files not yet on the remote: copy, verify, truncate and
    /// deselect.
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
    /// Bytes all the torrent's files will take on disk once the selected
    /// ones are downloaded (with what their pieces write into neighbours).
    pub selected_bytes: u64,
    pub reasons: Vec<String>,
}

/// Where each file lies in the torrent, and what downloading a set of them
/// costs on disk.
struct Geometry<'a> {
    files: &'a [FileState],
    layout: Layout,
    /// First and last piece of each file; None for an empty file.
    pieces: Vec<Option<(u64, u64)>>,
    /// Offset of each file in the torrent.
    starts: Vec<u64>,
    /// The other files sharing a piece with each file.
    neighbours: Vec<Vec<usize>>,
    /// Which files are on the local disk (even empty): libtorrent writes
    /// into those rather than into its parts file.
    exists: Vec<bool>,
}

// Indexing is in bounds: `pieces`, `starts` and `neighbours` get one entry
// per file in `new`, `neighbours` holds only indexes of `files`, and every
// `k` is an index of `files` (callers take it from `0..files.len()`,
// `enumerate` or `neighbours`), `chosen` and `base` having one entry per
// file (built from `files` by plan_files and reserve).
#[allow(clippy::indexing_slicing)]
impl<'a> Geometry<'a> {
    fn new(files: &'a [FileState], layout: Layout, on_remote: &BTreeSet<usize>) -> Geometry<'a> {
        let piece = layout.piece_length.max(1);
        let mut pieces = Vec::with_capacity(files.len());
        let mut starts = Vec::with_capacity(files.len());
        let mut offset = 0u64;
        for f in files {
            starts.push(offset);
            pieces.push(if f.size == 0 {
                None
            } else {
                Some((offset / piece, (offset + f.size - 1) / piece))
            });
            offset = offset.saturating_add(f.size);
        }
        let mut neighbours = vec![Vec::new(); files.len()];
        for i in 0..files.len() {
            let Some((_, last_i)) = pieces[i] else {
                continue;
            };
            for j in i + 1..files.len() {
                match pieces[j] {
                    None => continue,
                    Some((first_j, _)) if first_j <= last_i => {
                        neighbours[i].push(j);
                        neighbours[j].push(i);
                    }
                    Some(_) => break,
                }
            }
        }
        let exists = files
            .iter()
            .map(|f| f.on_disk > 0 || on_remote.contains(&f.index))
            .collect();
        Geometry {
            files,
            layout,
            pieces,
            starts,
            neighbours,
            exists,
        }
    }

    /// What the parts file takes whatever is chosen: what it holds, and at
    /// least its header once it is made.
    fn parts_base(&self) -> u64 {
        match self.layout.skipped {
            Skipped::InFile => 0,
            Skipped::PartFile { held } => {
                let total: u64 = self.files.iter().map(|f| f.size).sum();
                let pieces = total.div_ceil(self.layout.piece_length.max(1));
                let header = pieces.saturating_mul(4).saturating_add(12).div_ceil(1024) * 1024;
                held.max(self.round_up(header))
            }
        }
    }

    /// Bytes of file `k` inside piece `p`.
    fn part(&self, k: usize, p: u64) -> u64 {
        let piece = self.layout.piece_length.max(1);
        let (fs, fe) = (self.starts[k], self.starts[k] + self.files[k].size);
        let (ps, pe) = (
            p.saturating_mul(piece),
            p.saturating_add(1).saturating_mul(piece),
        );
        pe.min(fe).saturating_sub(ps.max(fs))
    }

    fn round_up(&self, n: u64) -> u64 {
        let b = self.layout.disk.block.max(1);
        n.div_ceil(b).saturating_mul(b)
    }

    /// What the whole file takes once written.
    fn full(&self, k: usize) -> u64 {
        self.round_up(self.files[k].size)
    }

    /// Blocks of file `k` that piece `p` covers.
    fn region(&self, k: usize, p: u64) -> u64 {
        let piece = self.layout.piece_length.max(1);
        let (fs, fe) = (self.starts[k], self.starts[k] + self.files[k].size);
        let (ps, pe) = (
            p.saturating_mul(piece),
            p.saturating_add(1).saturating_mul(piece),
        );
        if pe <= fs || fe <= ps {
            return 0;
        }
        let b = self.layout.disk.block.max(1);
        let lo = (ps.max(fs) - fs) / b * b;
        let hi = self.round_up(pe.min(fe) - fs).min(self.full(k));
        hi.saturating_sub(lo)
    }

    /// What file `k` will take when the files marked in `chosen` are
    /// downloaded and it holds `base` bytes now.
    fn alloc(&self, k: usize, chosen: &[bool], base: &[u64]) -> u64 {
        if chosen[k] {
            return self.full(k);
        }
        let Some((first, last)) = self.pieces[k] else {
            return base[k];
        };
        let shared = |p: u64| {
            self.neighbours[k]
                .iter()
                .any(|&g| chosen[g] && self.pieces[g].is_some_and(|(gf, gl)| gf <= p && p <= gl))
        };
        let mut written: Vec<u64> = Vec::new();
        for p in [first, last] {
            if !written.contains(&p) && shared(p) {
                written.push(p);
            }
        }
        if written.is_empty() {
            return base[k];
        }
        if matches!(self.layout.skipped, Skipped::PartFile { .. }) && !self.exists[k] {
            // Into the parts file, at the part's offset in its piece's
            // slot, which the header shifts off the block grid: one block
            // more per part. Without sparse files, a whole slot.
            let block = self.layout.disk.block;
            let cost: u64 = written
                .iter()
                .map(|&p| {
                    let bytes = if self.layout.disk.sparse {
                        self.part(k, p)
                    } else {
                        self.layout.piece_length
                    };
                    self.round_up(bytes).saturating_add(block)
                })
                .sum();
            return base[k].saturating_add(cost);
        }
        if !self.layout.disk.sparse {
            return self.full(k).max(base[k]);
        }
        // One block more: ext4 took one beyond the two parts when both
        // ends were written; the sum may count twice a part already there,
        // which only errs on the safe side.
        let new: u64 = written.iter().map(|&p| self.region(k, p)).sum();
        base[k]
            .saturating_add(new)
            .saturating_add(self.layout.disk.block)
            .min(self.full(k).max(base[k]))
    }

    /// What every file takes with `chosen` downloaded.
    fn footprint(&self, chosen: &[bool], base: &[u64]) -> u64 {
        (0..self.files.len())
            .map(|k| self.alloc(k, chosen, base))
            .sum::<u64>()
            .saturating_add(self.parts_base())
    }

    /// How much the footprint grows when `k` is chosen as well.
    fn growth(&self, k: usize, chosen: &mut [bool], base: &[u64]) -> u64 {
        let touched: Vec<usize> = std::iter::once(k)
            .chain(self.neighbours[k].iter().copied())
            .collect();
        let before: u64 = touched.iter().map(|&f| self.alloc(f, chosen, base)).sum();
        let was = chosen[k];
        chosen[k] = true;
        let after: u64 = touched.iter().map(|&f| self.alloc(f, chosen, base)).sum();
        chosen[k] = was;
        after.saturating_sub(before)
    }

    /// What `k` costs on a disk holding nothing else of the torrent.
    fn alone(&self, k: usize) -> u64 {
        let mut chosen = vec![false; self.files.len()];
        self.growth(k, &mut chosen, &vec![0; self.files.len()])
    }
}

/// The offset of file `k` in the torrent and the pieces that lie wholly
/// inside it (the torrent's short last piece counts when the file ends the
/// torrent); None when there are none.
pub fn own_pieces(
    sizes: &[u64],
    k: usize,
    piece_length: u64,
) -> Option<(u64, std::ops::Range<u64>)> {
    let piece = piece_length.max(1);
    let start: u64 = sizes.get(..k)?.iter().sum();
    let end = start.checked_add(*sizes.get(k)?)?;
    let total: u64 = sizes.iter().sum();
    let first = start.div_ceil(piece);
    let last = if end == total {
        end.div_ceil(piece)
    } else {
        end / piece
    };
    (first < last).then_some((start, first..last))
}

/// A file rtorrent has entirely: every chunk counted, and at least one
/// chunk unless the file is empty.
///
/// At least, not exactly: rtorrent 0.9.8 sometimes counts a file's shared
/// edge chunk twice once the download has been closed and reopened (seen
/// as "9 of 8 pieces" on a complete file, about one file-by-file test in
/// ten). Asking for equality left such a file unsynced for a run, or for
/// good. Pieces wholly inside the file are checked against the .torrent
/// before it is copied anyway.
pub fn is_complete(size: u64, completed_chunks: u64, size_chunks: u64) -> bool {
    completed_chunks >= size_chunks && (size_chunks > 0 || size == 0)
}

/// Decides one run. `files` is every file of the torrent in torrent order;
/// `on_remote` holds the indexes already verified on the remote (from the
/// journal); `budget` is what all of the torrent's files may take on disk.
// Indexing is in bounds: every `k` comes from `files.iter().enumerate()` or
// `0..files.len()`, and `chosen` and `base` have one entry per file.
#[allow(clippy::indexing_slicing)]
pub fn plan_files(
    files: &[FileState],
    on_remote: &BTreeSet<usize>,
    budget: u64,
    layout: Layout,
) -> FilePlan {
    let mut out = FilePlan::default();
    let geo = Geometry::new(files, layout, on_remote);
    if !layout.disk.sparse {
        out.reasons.push(format!(
            "the download directory is on {}, which has no sparse files: a file's neighbours sharing a piece with it are charged their full size",
            layout.disk.name
        ));
    }

    // 1. Complete files go to the remote before any budget decision.
    let mut in_flight: Vec<usize> = Vec::new();
    let mut too_big: BTreeSet<usize> = BTreeSet::new();
    for (k, f) in files.iter().enumerate() {
        if on_remote.contains(&f.index) {
            if f.on_disk > 0 {
                out.truncate.push(f.index);
            }
            continue;
        }
        // libtorrent calls a skipped file complete once the pieces around
        // it are in, while its bytes are still in the parts file: it is
        // selected, so that libtorrent writes it out, and copied after
        // (selected already and still missing, the copy finds it short and
        // has the client check the torrent again).
        let in_parts = matches!(layout.skipped, Skipped::PartFile { .. })
            && f.priority == 0
            && f.size > 0
            && f.on_disk == 0;
        if f.complete && !in_parts {
            out.sync.push(f.index);
            continue;
        }
        // Selected and every byte already on disk, but not complete: rtorrent
        // is checking it again (or a non-sparse file system allocated it
        // whole). Dropping it would free nothing and leave a downloaded file
        // behind, so it stays in flight, whatever the budget, and is copied
        // once rtorrent calls it complete.
        if fully_on_disk(f) {
            in_flight.push(k);
            continue;
        }
        let alone = geo.alone(k);
        if alone > budget {
            out.too_big.push(f.index);
            too_big.insert(k);
            let with = if alone > geo.full(k) {
                format!(" with what its first and last pieces write into the files beside it ({alone} bytes)")
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
        if f.priority > 0 {
            in_flight.push(k);
        }
    }

    // What each file holds once this run's truncations are done.
    let synced: BTreeSet<usize> = out.sync.iter().copied().collect();
    let base: Vec<u64> = files
        .iter()
        .map(|f| {
            if on_remote.contains(&f.index) || synced.contains(&f.index) {
                0
            } else {
                f.on_disk
            }
        })
        .collect();
    let mut chosen = vec![false; files.len()];
    for &k in &in_flight {
        chosen[k] = true;
    }
    // A budget that shrank below what is in flight: the biggest files wait
    // (their bytes stay) until the others are done.
    in_flight.sort_by(|&a, &b| files[b].size.cmp(&files[a].size).then(a.cmp(&b)));
    let mut dropped = Vec::new();
    while geo.footprint(&chosen, &base) > budget {
        // Pausing a file whose bytes are all there frees nothing.
        let Some(at) = in_flight.iter().position(|&k| !fully_on_disk(&files[k])) else {
            break;
        };
        let k = in_flight.remove(at);
        chosen[k] = false;
        dropped.push(k);
    }
    for &k in &dropped {
        out.reasons.push(format!(
            "{}: was downloading, but the budget shrank to {} bytes; paused, its bytes stay",
            files[k].path.join("/"),
            budget
        ));
    }
    in_flight.sort_unstable();
    out.keep = in_flight.iter().map(|&k| files[k].index).collect();

    let mut waiting: Vec<usize> = (0..files.len())
        .filter(|&k| {
            let i = files[k].index;
            !on_remote.contains(&i) && !synced.contains(&i) && !too_big.contains(&k) && !chosen[k]
        })
        .collect();
    if waiting.is_empty() && out.keep.is_empty() {
        out.finished = true;
        out.selected_bytes = geo.footprint(&chosen, &base);
        return out;
    }
    // Smallest first, as in normal mode; ties by path for a stable order.
    // Without sparse files, in torrent order instead: a file's download
    // allocates its waiting neighbour whole, and taking that neighbour
    // next uses the space rather than leaving it held by files scattered
    // all over the torrent, which could leave no file able to fit.
    if layout.disk.sparse {
        waiting.sort_by(|&a, &b| {
            files[a]
                .size
                .cmp(&files[b].size)
                .then_with(|| files[a].path.cmp(&files[b].path))
        });
    }
    let mut used = geo.footprint(&chosen, &base);
    for k in waiting {
        let need = geo.growth(k, &mut chosen, &base);
        if used.saturating_add(need) <= budget {
            used += need;
            chosen[k] = true;
            out.select.push(files[k].index);
        }
        // Otherwise a cheaper file later in the list may still fit
        // (neighbours make the cost differ from the size).
    }
    if out.keep.is_empty() && out.select.is_empty() && out.sync.is_empty() {
        // Say which file comes closest and what it would take.
        let candidates: Vec<usize> = (0..files.len())
            .filter(|&k| !chosen[k] && !too_big.contains(&k))
            .filter(|&k| {
                let i = files[k].index;
                !synced.contains(&i) && !on_remote.contains(&i)
            })
            .collect();
        let closest = candidates
            .into_iter()
            .map(|k| (geo.growth(k, &mut chosen, &base), k))
            .min();
        if let Some((need, k)) = closest {
            let held: u64 = base.iter().sum();
            out.reasons.push(format!(
                "no waiting file fits: {} needs {need} bytes more (with what its pieces write into the files beside it) and the torrent's files already hold {held} bytes (pieces shared with files done earlier) of the {budget} it may use; raise space_limit by {} to go on",
                files[k].path.join("/"),
                (held + need).saturating_sub(budget)
            ));
        }
    }
    out.selected_bytes = used;
    out
}

/// What the torrent in file-by-file mode keeps for itself before other
/// torrents are loaded beside it: what its files take with the selection
/// in flight, and at least what its cheapest waiting file would take, so
/// that it always gets on with its next file.
// Indexing is in bounds: `k` ranges over `0..files.len()` and `chosen`
// has one entry per file.
#[allow(clippy::indexing_slicing)]
pub fn reserve(
    files: &[FileState],
    on_remote: &BTreeSet<usize>,
    budget: u64,
    layout: Layout,
) -> u64 {
    let geo = Geometry::new(files, layout, on_remote);
    let base: Vec<u64> = files
        .iter()
        .map(|f| {
            if on_remote.contains(&f.index) || f.complete {
                0
            } else {
                f.on_disk
            }
        })
        .collect();
    let chosen: Vec<bool> = files
        .iter()
        .map(|f| f.priority > 0 && !f.complete && !on_remote.contains(&f.index))
        .collect();
    let now = geo.footprint(&chosen, &base);
    let cheapest_next = (0..files.len())
        .filter(|&k| !chosen[k] && !files[k].complete && !on_remote.contains(&files[k].index))
        .map(|k| {
            let mut none = vec![false; files.len()];
            geo.footprint(&none, &base) + geo.growth(k, &mut none, &base)
        })
        // A file that never fits is skipped, not waited for.
        .filter(|&cost| cost <= budget)
        .min()
        .unwrap_or(0);
    now.max(cheapest_next)
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

/// A selected file that already holds all its bytes locally.
fn fully_on_disk(f: &FileState) -> bool {
    f.priority > 0 && f.size > 0 && f.on_disk >= f.size
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

    /// Sparse files, 1 KiB blocks (so sizes in the tables stay readable).
    fn ext4(piece: u64) -> Layout {
        Layout {
            piece_length: piece,
            disk: DiskKind {
                sparse: true,
                block: KIB,
                name: "ext2/3/4",
            },
            skipped: Skipped::InFile,
        }
    }

    fn vfat(piece: u64) -> Layout {
        Layout {
            piece_length: piece,
            disk: DiskKind::from_statfs(0x4D44, KIB),
            skipped: Skipped::InFile,
        }
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
        let p = plan_files(&files, &remote(&[]), 100 * KIB, ext4(2 * KIB));
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
        let p = plan_files(&files, &remote(&[]), 100 * KIB, ext4(2 * KIB));
        assert_eq!(p.sync, vec![1, 2]);
        assert_eq!(p.select, vec![0], "the freed space goes to the next file");
        assert!(!p.finished);
    }

    #[test]
    fn files_still_downloading_keep_their_space() {
        let files = [file(0, 50 * KIB, false, 1), file(1, 60 * KIB, false, 0)];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, ext4(2 * KIB));
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
        let p = plan_files(&files, &remote(&[0]), 100 * KIB, ext4(2 * KIB));
        assert_eq!(p.truncate, vec![0]);
        assert_eq!(p.select, vec![1]);
    }

    #[test]
    fn a_file_bigger_than_the_budget_is_skipped_and_the_rest_finishes() {
        let files = [file(0, 500 * KIB, false, 0), file(1, 30 * KIB, true, 1)];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, ext4(2 * KIB));
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
    fn without_sparse_files_neighbours_are_charged_whole() {
        // Piece 32 KiB; 20 KiB + 60 KiB: the boundary at 20 KiB is inside
        // piece 0, so on vfat fetching either allocates the other entirely.
        let files = [
            file(0, 20 * KIB, false, 0),
            file(1, 60 * KIB, false, 0),
            file(2, 64 * KIB, false, 0), // starts at 80 KiB: shares piece 2 with file 1
            file(3, 16 * KIB, false, 0), // starts at 144 KiB: shares piece 4 with file 2
        ];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, vfat(32 * KIB));
        assert!(p.reasons[0].contains("vfat"), "{:?}", p.reasons);
        // In torrent order: 0 costs 20 + 60 = 80; then 1 would bring 2
        // (64 more), 2 brings 3 as well, 3 brings 2: all over.
        assert_eq!(p.select, vec![0]);
        assert_eq!(p.selected_bytes, 80 * KIB);
        // With 2 and 3 on the remote: 0 and 1 cost 80 together; 1 also
        // charges 2 in full although it is on the remote (it can regrow).
        let p = plan_files(&files, &remote(&[2, 3]), 100 * KIB, vfat(32 * KIB));
        assert_eq!(p.select, vec![0]);
        assert_eq!(p.selected_bytes, 80 * KIB);
        let p = plan_files(&files, &remote(&[2, 3]), 150 * KIB, vfat(32 * KIB));
        assert_eq!(p.select, vec![0, 1]);
        assert_eq!(p.selected_bytes, 144 * KIB);
    }

    #[test]
    fn a_file_that_fits_alone_but_not_with_its_neighbour_is_too_big() {
        let files = [file(0, 10 * KIB + 1, false, 0), file(1, 95 * KIB, false, 0)];
        let p = plan_files(&files, &remote(&[]), 100 * KIB, vfat(32 * KIB));
        assert_eq!(p.too_big, vec![0, 1]);
        assert!(
            p.reasons[1].contains("what its first and last pieces write"),
            "{:?}",
            p.reasons
        );
        assert!(p.finished, "nothing left that can be fetched");
    }

    #[test]
    fn finished_when_every_file_is_on_the_remote() {
        let files = [file(0, 10, false, 0), file(1, 20, false, 0)];
        let p = plan_files(&files, &remote(&[0, 1]), 100 * KIB, ext4(2 * KIB));
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
        let p = plan_files(&files, &remote(&[3]), 150 * KIB, ext4(2 * KIB));
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
        let p = plan_files(&files, &remote(&[0]), 100 * KIB, ext4(2 * KIB));
        assert_eq!(p.truncate, vec![0]);
        assert!(p.sync.is_empty(), "never copied twice once verified");
        assert_eq!(priorities(&files, &p), vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn a_selected_file_with_all_its_bytes_is_never_dropped_for_the_budget() {
        // rtorrent is checking file 0 again after a restart: not complete,
        // but every byte is on disk. The limit was lowered below it.
        let mut checking = file(0, 2 * MIB, false, 1);
        checking.on_disk = 2 * MIB;
        let files = [checking, file(1, 40 * KIB, false, 0)];
        let p = plan_files(&files, &remote(&[]), MIB, ext4(16 * KIB));
        assert!(p.too_big.is_empty(), "{:?}", p.reasons);
        assert!(p.keep.contains(&0), "it stays in flight: {p:?}");
        assert!(!p.finished);
        // Half of it on disk: it waits (paused), its bytes stay.
        let mut half = file(0, 2 * MIB, false, 1);
        half.on_disk = MIB;
        let files = [half, file(1, 40 * KIB, false, 0)];
        let p = plan_files(&files, &remote(&[]), MIB, ext4(16 * KIB));
        assert!(!p.keep.contains(&0), "{p:?}");
    }

    #[test]
    fn the_last_sync_finishes_the_torrent() {
        let files = [file(0, 10, false, 0), file(1, 20, true, 1)];
        let p = plan_files(&files, &remote(&[0]), 100 * KIB, ext4(2 * KIB));
        assert_eq!(p.sync, vec![1]);
        assert!(p.finished);
    }

    const MIB: u64 = 1024 * KIB;

    /// Runs plan after plan as the executor would, with downloads that
    /// finish between runs and write what the model says into their
    /// neighbours; returns the files that ended on the remote and the
    /// files too big. Every plan must stay within the budget.
    fn drive(sizes: &[u64], budget: u64, layout: Layout) -> (BTreeSet<usize>, Vec<usize>) {
        let mut files: Vec<FileState> = sizes
            .iter()
            .enumerate()
            .map(|(i, &s)| file(i, s, false, 0))
            .collect();
        let mut on_remote = BTreeSet::new();
        for _ in 0..100 {
            let p = plan_files(&files, &on_remote, budget, layout);
            assert!(
                p.selected_bytes <= budget,
                "{} over {budget}",
                p.selected_bytes
            );
            for &i in p.sync.iter().chain(&p.truncate) {
                on_remote.insert(i);
                files[i].on_disk = 0;
            }
            if p.finished {
                return (on_remote, p.too_big);
            }
            for (i, w) in priorities(&files, &p) {
                files[i].priority = w;
            }
            // The selected files download; the model says what lands in
            // the others, and the disk never holds more than planned.
            let geo = Geometry::new(&files, layout, &BTreeSet::new());
            let chosen: Vec<bool> = files.iter().map(|f| f.priority > 0).collect();
            let base: Vec<u64> = files.iter().map(|f| f.on_disk).collect();
            let after: Vec<u64> = (0..files.len())
                .map(|k| geo.alloc(k, &chosen, &base))
                .collect();
            assert!(after.iter().sum::<u64>() <= budget);
            for (f, a) in files.iter_mut().zip(after) {
                f.on_disk = a;
                if f.priority > 0 {
                    f.complete = true;
                }
            }
        }
        panic!("not finished after 100 runs");
    }

    #[test]
    fn six_files_of_one_to_six_mib_all_go_through_an_8_mib_limit() {
        // The reported case: each file was charged its neighbours' full
        // sizes, three were "too big" and the torrent never finished.
        let sizes: Vec<u64> = (1..=6).map(|m| m * MIB + 1000 * m).collect();
        let (done, too_big) = drive(&sizes, 8 * MIB, ext4(256 * KIB));
        assert!(too_big.is_empty(), "{too_big:?}");
        assert_eq!(done.len(), 6);
        // On vfat a file costs both neighbours whole: 3 + 2 + 4 MiB is
        // already over.
        let (done, too_big) = drive(&sizes, 8 * MIB, vfat(256 * KIB));
        assert_eq!(too_big, vec![2, 3, 4, 5]);
        assert_eq!(done.len(), 2);
    }

    #[test]
    fn a_season_pack_goes_through_a_limit_of_two_episodes() {
        let ep = 1_500_000_000u64;
        let sizes = vec![ep; 10];
        let layout = Layout {
            piece_length: 4 * MIB,
            disk: DiskKind::from_statfs(0xEF53, 4096),
            skipped: Skipped::InFile,
        };
        let (done, too_big) = drive(&sizes, 3_000_000_000, layout);
        assert!(too_big.is_empty() && done.len() == 10);
    }

    #[test]
    fn a_file_up_to_the_budget_less_two_pieces_is_fetched() {
        // The worst place: one byte of the file in its first and last
        // pieces, so each neighbour takes almost a whole piece.
        let piece = 64 * KIB;
        let middle = 13 * piece + 2;
        for block in [KIB, 4 * KIB] {
            let mut layout = ext4(piece);
            layout.disk.block = block;
            let budget = middle + 2 * piece + 3 * block;
            let sizes = [piece - 1, middle, 5 * piece];
            let files: Vec<FileState> = sizes
                .iter()
                .enumerate()
                .map(|(i, &s)| file(i, s, false, 0))
                .collect();
            let alone = Geometry::new(&files, layout, &BTreeSet::new()).alone(1);
            assert!(alone <= budget && alone + 4 * block > budget, "{alone}");
            let (done, too_big) = drive(&sizes, budget, layout);
            assert!(too_big.is_empty(), "{layout:?}: {too_big:?}");
            assert_eq!(done.len(), 3);
            let (_, too_big) = drive(&sizes, alone - 1, layout);
            assert_eq!(too_big, vec![1], "one byte less and it is skipped");
        }
    }

    #[test]
    fn a_neighbour_is_charged_its_part_of_the_shared_piece_in_blocks() {
        // As measured on ext4: the 1 024 100-byte neighbour of a selected
        // file with 256 KiB pieces took 241 664 bytes.
        let files = [
            file(0, 1_024_100, false, 0),
            file(1, 2_048_037, false, 0),
            file(2, 1_536_011, false, 0),
        ];
        let layout = Layout {
            piece_length: 256 * KIB,
            disk: DiskKind::from_statfs(0xEF53, 4096),
            skipped: Skipped::InFile,
        };
        let geo = Geometry::new(&files, layout, &BTreeSet::new());
        assert_eq!(geo.region(0, 3), 241_664);
        assert_eq!(geo.region(2, 11), 73_728, "measured: 73 728");
        let full1 = 2_048_037u64.div_ceil(4096) * 4096;
        assert_eq!(geo.alone(1), full1 + 241_664 + 73_728 + 2 * 4096);
    }

    /// The three files measured on the real clients (tests/support/
    /// neighbours.rs): 32 KiB pieces, ext4 with 4 KiB blocks.
    fn trio() -> [FileState; 3] {
        [
            file(0, 100 * KIB + 5000, false, 0),
            file(1, 100 * KIB + 7000, false, 0),
            file(2, 100 * KIB + 3000, false, 0),
        ]
    }

    fn on_ext4(skipped: Skipped) -> Layout {
        Layout {
            piece_length: 32 * KIB,
            disk: DiskKind::from_statfs(0xEF53, 4096),
            skipped,
        }
    }

    #[test]
    fn the_middle_file_alone_is_charged_at_least_what_each_client_wrote() {
        // (client, rule, bytes on disk measured with b.bin downloaded
        // alone: b.bin's 110 592 plus what its neighbours' parts took)
        let table = [
            // Transmission 3.00: a.bin.part 12 288, c.bin.part 16 384.
            (
                "Transmission 3.00",
                Skipped::InFile,
                110_592 + 12_288 + 16_384,
            ),
            // rtorrent 0.9.8 writes the same parts into a.bin and c.bin.
            ("rtorrent 0.9.8", Skipped::InFile, 110_592 + 12_288 + 16_384),
            // qBittorrent 4.5.2 and Deluge 2.0.3 (libtorrent 2.0.8): the
            // parts file, 66 560 bytes long, took 28 672.
            (
                "qBittorrent 4.5.2",
                Skipped::PartFile { held: 0 },
                110_592 + 28_672,
            ),
            (
                "Deluge 2.0.3",
                Skipped::PartFile { held: 0 },
                110_592 + 28_672,
            ),
        ];
        let files = trio();
        for (client, skipped, measured) in table {
            let geo = Geometry::new(&files, on_ext4(skipped), &BTreeSet::new());
            let charged = geo.footprint(&[false, true, false], &[0, 0, 0]);
            assert!(
                measured <= charged && charged <= measured + 3 * 4096,
                "{client}: charged {charged}, measured {measured}"
            );
        }
    }

    #[test]
    fn libtorrent_writes_into_a_skipped_file_that_exists_and_the_parts_file_otherwise() {
        let parts = on_ext4(Skipped::PartFile { held: 0 });
        let files = trio();
        let geo = Geometry::new(&files, parts, &remote(&[0]));
        // a.bin is on the remote (truncated, still there): its part of
        // piece 3 goes into it, as rtorrent's would; c.bin does not exist:
        // its part goes to the parts file, one block more.
        assert_eq!(
            geo.alloc(0, &[false, true, false], &[0, 0, 0]),
            12_288 + 4096
        );
        assert_eq!(
            geo.alloc(2, &[false, true, false], &[0, 0, 0]),
            16_384 + 4096
        );
        // What the parts file holds stays counted whatever is chosen.
        let held = on_ext4(Skipped::PartFile { held: 28_672 });
        let geo = Geometry::new(&files, held, &BTreeSet::new());
        assert_eq!(geo.footprint(&[false; 3], &[0; 3]), 28_672);
        // Without one yet, its header: 10 pieces, 52 bytes, one block.
        let geo = Geometry::new(&files, parts, &BTreeSet::new());
        assert_eq!(geo.footprint(&[false; 3], &[0; 3]), 4096);
        // On vfat a part takes a whole slot.
        let vfat = Layout {
            disk: DiskKind::from_statfs(0x4D44, 4096),
            ..parts
        };
        let geo = Geometry::new(&files, vfat, &BTreeSet::new());
        assert_eq!(
            geo.alloc(2, &[false, true, false], &[0, 0, 0]),
            32 * KIB + 4096
        );
    }

    #[test]
    fn a_file_libtorrent_calls_complete_while_its_bytes_are_in_the_parts_file_is_selected() {
        // b.bin came whole with its neighbours' pieces: libtorrent counts
        // it complete, but it is not on disk until it is selected.
        let mut files = trio();
        files[0].complete = true;
        files[0].priority = 1;
        files[0].on_disk = files[0].size;
        files[1] = file(1, 3000, true, 0);
        files[1].on_disk = 0;
        let p = plan_files(
            &files,
            &remote(&[]),
            MIB,
            on_ext4(Skipped::PartFile { held: 8192 }),
        );
        assert_eq!(p.sync, vec![0]);
        assert!(p.select.contains(&1), "{p:?}");
        // Once selected it is copied (a copy that finds it missing asks for
        // a check, see execute_files).
        files[1].priority = 1;
        let p = plan_files(
            &files,
            &remote(&[]),
            MIB,
            on_ext4(Skipped::PartFile { held: 8192 }),
        );
        assert_eq!(p.sync, vec![0, 1]);
        // rtorrent writes it in place: complete means on disk.
        let p = plan_files(&files, &remote(&[]), MIB, on_ext4(Skipped::InFile));
        assert_eq!(p.sync, vec![0, 1]);
    }

    #[test]
    fn a_complete_file_is_synced_even_when_the_budget_shrank_below_it() {
        // Downloaded under a 100 KiB budget; the user lowered the limit.
        let files = [file(0, 90 * KIB, true, 1), file(1, 20 * KIB, false, 0)];
        let p = plan_files(&files, &remote(&[]), 50 * KIB, ext4(2 * KIB));
        assert_eq!(p.sync, vec![0], "copied, never given up on");
        assert!(p.too_big.is_empty());
        assert_eq!(p.select, vec![1]);
        // A file rtorrent counts complete but not selected (all its
        // chunks came with its neighbours' pieces) goes too.
        let files = [file(0, KIB, true, 0), file(1, 20 * KIB, false, 0)];
        let p = plan_files(&files, &remote(&[]), 50 * KIB, ext4(2 * KIB));
        assert_eq!(p.sync, vec![0]);
    }

    #[test]
    fn a_budget_shrunk_below_what_is_in_flight_pauses_the_biggest() {
        let mut a = file(0, 60 * KIB, false, 1);
        a.on_disk = 10 * KIB;
        let files = [a, file(1, 30 * KIB, false, 1)];
        let p = plan_files(&files, &remote(&[]), 80 * KIB, ext4(2 * KIB));
        assert_eq!(p.keep, vec![1]);
        assert!(p.too_big.is_empty() && !p.finished);
        assert_eq!(p.selected_bytes, 40 * KIB, "30 plus the 10 already there");
        assert!(
            p.reasons.iter().any(|r| r.contains("paused")),
            "{:?}",
            p.reasons
        );
    }

    #[test]
    fn bytes_left_in_waiting_files_count() {
        // File 2's neighbours left 8 KiB in it; the budget counts them:
        // 40 + 50 would fit 95 KiB, not beside those 8.
        let mut held = file(2, 60 * KIB, false, 0);
        held.on_disk = 8 * KIB;
        let files = [
            file(0, 40 * KIB, false, 0),
            file(1, 50 * KIB, false, 0),
            held,
        ];
        let p = plan_files(&files, &remote(&[]), 95 * KIB, ext4(2 * KIB));
        assert_eq!(p.select, vec![0]);
        assert_eq!(p.selected_bytes, 48 * KIB);
    }

    #[test]
    fn the_reserve_covers_what_is_in_flight_and_the_next_file() {
        let files = [
            file(0, 30 * KIB, false, 1),
            file(1, 50 * KIB, false, 0),
            file(2, 900 * KIB, false, 0),
        ];
        assert_eq!(
            reserve(&files, &remote(&[]), 100 * KIB, ext4(2 * KIB)),
            50 * KIB
        );
        let files = [file(0, 70 * KIB, false, 1), file(1, 50 * KIB, false, 0)];
        assert_eq!(
            reserve(&files, &remote(&[]), 100 * KIB, ext4(2 * KIB)),
            70 * KIB
        );
        assert_eq!(
            reserve(&files, &remote(&[0, 1]), 100 * KIB, ext4(2 * KIB)),
            0
        );
    }

    #[test]
    fn own_pieces_are_those_wholly_inside_a_file() {
        // Pieces of 10: [0, 25) holds 0 and 1; [25, 60) holds 3, 4, 5;
        // [60, 65) ends the torrent and holds its short last piece 6.
        let sizes = [25, 35, 5];
        assert_eq!(own_pieces(&sizes, 0, 10), Some((0, 0..2)));
        assert_eq!(own_pieces(&sizes, 1, 10), Some((25, 3..6)));
        assert_eq!(own_pieces(&sizes, 2, 10), Some((60, 6..7)));
        assert_eq!(own_pieces(&[3, 4], 0, 10), None, "inside one shared piece");
        assert_eq!(own_pieces(&sizes, 3, 10), None);
    }

    #[test]
    fn completeness_needs_every_chunk() {
        assert!(is_complete(10, 3, 3));
        assert!(is_complete(10, 4, 3), "rtorrent's over-count after a close");
        assert!(!is_complete(10, 2, 3));
        assert!(!is_complete(10, 0, 0), "a file with bytes has chunks");
        assert!(is_complete(0, 0, 0));
    }

    #[test]
    fn file_systems_without_holes_are_known() {
        for (magic, sparse) in [
            (0xEF53, true),
            (0x9123_683E, true),
            (0x5846_5342, true),
            (0xF2F5_2010, true),
            (0x0102_1994, true),
            (0x4D44, false),
            (0x2011_BAB0, false),
            (0x6573_5546, false),
            (0x1234, false),
        ] {
            assert_eq!(
                DiskKind::from_statfs(magic, 4096).sparse,
                sparse,
                "{magic:#x}"
            );
        }
        assert_eq!(DiskKind::from_statfs(0x4D44, 0).block, 4096);
    }

    #[test]
    fn without_sparse_files_neighbours_are_taken_in_torrent_order() {
        // The rotate_bigfile exFAT case: smallest first left b and d
        // allocated whole beside files done earlier, and nothing fitted.
        let m = MIB;
        let sizes = [
            m + m / 2 + 7,
            2 * m + 101,
            m + m / 5 + 3,
            2 * m + m / 2 + 13,
            3 * m + 11,
            2 * m + 5,
        ];
        let (done, too_big) = drive(&sizes, 7 * MIB, vfat(256 * KIB));
        assert_eq!(too_big, vec![4]);
        assert_eq!(done.len(), 5);
    }
}
