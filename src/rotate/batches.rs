//! Cutting the loads of a run into `system.multicall` requests that
//! rtorrent takes: each request under its size limit, as few requests as
//! the bytes need, and a torrent too big for any request set apart as its
//! own failure so the others still load. Pure, so every case is tested.

use super::execute::ROTATE_LABEL;
use crate::rtorrent::limit::{
    base64_len, multicall_call_len, multicall_request_len, size_limit_rc_line, SCGI_CONTENT_CAP,
};
use crate::rtorrent::xmlrpc::Value;
use crate::rtorrent::Call;
use crate::size::human_size;

/// The call that loads and starts one torrent from its bytes, labelled.
pub fn load_call(torrent: Vec<u8>) -> Call {
    Call::new(
        "load.raw_start",
        vec![
            Value::str(""),
            Value::Base64(torrent),
            Value::str(format!("d.custom1.set={ROTATE_LABEL}")),
        ],
    )
}

/// Bytes one load of a .torrent of `file_bytes` adds to a request.
pub fn load_call_len(file_bytes: u64) -> usize {
    let bytes = usize::try_from(file_bytes).unwrap_or(usize::MAX);
    multicall_call_len(&load_call(Vec::new())).saturating_add(base64_len(bytes))
}

/// Why a .torrent of `file_bytes` cannot be loaded under `limit`, if so:
/// the request loading it alone would be larger.
pub fn unloadable(file_bytes: u64, limit: usize) -> Option<String> {
    let request = multicall_request_len(load_call_len(file_bytes));
    (request > limit).then(|| too_big_reason(file_bytes, request, limit))
}

/// Which items go in which request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Packing {
    /// Indexes into the input, in input order, one list per request.
    pub batches: Vec<Vec<usize>>,
    /// Indexes of items bigger than `room` on their own.
    pub too_big: Vec<usize>,
}

/// Packs items of the given encoded sizes, in order (the plan's order is
/// smallest torrent first), into batches whose sizes add up to at most
/// `room` each.
pub fn pack(sizes: &[usize], room: usize) -> Packing {
    let mut packing = Packing::default();
    let mut current = Vec::new();
    let mut used = 0usize;
    for (i, &size) in sizes.iter().enumerate() {
        if size > room {
            packing.too_big.push(i);
            continue;
        }
        if used + size > room {
            packing.batches.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(i);
        used += size;
    }
    if !current.is_empty() {
        packing.batches.push(current);
    }
    packing
}

/// Why a torrent cannot be loaded in one request, and what to change.
/// `request` is the whole request it needs alone, `limit` what rtorrent
/// takes now.
pub fn too_big_reason(torrent_bytes: u64, request: usize, limit: usize) -> String {
    let head = format!(
        "not loaded: its .torrent ({}) makes a {request}-byte XML-RPC request, over the {limit} bytes rtorrent accepts",
        human_size(torrent_bytes)
    );
    if request <= SCGI_CONTENT_CAP {
        format!(
            "{head}; raise the limit in .rtorrent.rc with `{}` (and restart rtorrent)",
            size_limit_rc_line(request)
        )
    } else {
        format!(
            "{head}; rtorrent 0.9 reads at most {} per request whatever network.xmlrpc.size_limit says, so load this one into rtorrent yourself (e.g. through its watch directory)",
            human_size(SCGI_CONTENT_CAP as u64)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_table() {
        struct Case {
            sizes: &'static [usize],
            room: usize,
            batches: &'static [&'static [usize]],
            too_big: &'static [usize],
        }
        let cases = [
            Case {
                sizes: &[],
                room: 100,
                batches: &[],
                too_big: &[],
            },
            Case {
                sizes: &[10, 20, 30],
                room: 100,
                batches: &[&[0, 1, 2]],
                too_big: &[],
            },
            // Exactly full, then the next request.
            Case {
                sizes: &[50, 50, 1],
                room: 100,
                batches: &[&[0, 1], &[2]],
                too_big: &[],
            },
            Case {
                sizes: &[60, 60, 60],
                room: 100,
                batches: &[&[0], &[1], &[2]],
                too_big: &[],
            },
            // One alone too big: set apart, the others still packed.
            Case {
                sizes: &[101],
                room: 100,
                batches: &[],
                too_big: &[0],
            },
            Case {
                sizes: &[30, 150, 30, 50],
                room: 100,
                batches: &[&[0, 2], &[3]],
                too_big: &[1],
            },
            Case {
                sizes: &[100],
                room: 100,
                batches: &[&[0]],
                too_big: &[],
            },
            Case {
                sizes: &[1, 1],
                room: 0,
                batches: &[],
                too_big: &[0, 1],
            },
        ];
        for case in cases {
            let got = pack(case.sizes, case.room);
            let want = Packing {
                batches: case.batches.iter().map(|b| b.to_vec()).collect(),
                too_big: case.too_big.to_vec(),
            };
            assert_eq!(got, want, "sizes {:?} room {}", case.sizes, case.room);
        }
    }

    /// Sixty torrents of ~53 KB encoded under rtorrent's default limit: as
    /// few requests as the bytes need, none over the room.
    #[test]
    fn real_sized_loads_take_as_few_requests_as_the_bytes_need() {
        let room = 524_000;
        let sizes = vec![53_500; 60];
        let packing = pack(&sizes, room);
        assert!(packing.too_big.is_empty());
        let total: usize = sizes.iter().sum();
        // Nine per request: 3.2 MB in seven requests of at most 524 KB.
        assert_eq!(packing.batches.len(), total.div_ceil(room));
        assert_eq!(packing.batches.len(), 7);
        for batch in &packing.batches {
            assert!(batch.iter().map(|&i| sizes[i]).sum::<usize>() <= room);
        }
        let flat: Vec<usize> = packing.batches.concat();
        assert_eq!(flat, (0..60).collect::<Vec<_>>());
    }

    #[test]
    fn unloadable_at_the_exact_edge() {
        // A 40 KB .torrent fits the default limit; one of 400 KB does not.
        assert_eq!(unloadable(40_000, 512 * 1024), None);
        let why = unloadable(400_000, 512 * 1024).unwrap();
        assert!(why.contains("size_limit.set = 1M"), "{why}");
        let need = multicall_request_len(load_call_len(400_000));
        assert_eq!(unloadable(400_000, need), None);
        assert!(unloadable(400_000, need - 1).is_some());
    }

    #[test]
    fn too_big_reason_names_the_rc_line_or_the_hard_cap() {
        let r = too_big_reason(600_000, 800_123, 524_288);
        assert!(
            r.contains("800123-byte") && r.contains("524288 bytes"),
            "{r}"
        );
        assert!(r.contains("network.xmlrpc.size_limit.set = 1M"), "{r}");
        let r = too_big_reason(3_000_000, 4_000_000, 2 << 20);
        assert!(
            r.contains("watch directory") && !r.contains(".set ="),
            "{r}"
        );
    }
}
