//! How big a request rtorrent takes, and how big ours are, so a batch of
//! loads is cut to fit before it is sent instead of being refused whole.
//!
//! rtorrent 0.9.8 refuses an XML body above `network.xmlrpc.size_limit`
//! (xmlrpc-c's default, 512 KiB, answered as the fault "XML-RPC request
//! too large") and, whatever that limit says, drops the connection when an
//! SCGI body passes 2 MiB. Both were measured on the real rtorrent: a body
//! of exactly the limit is taken, one byte more is not.

use super::client::{multicall_entry, Call};
use super::scgi::framing_len;
use super::xmlrpc::{self, Value};

/// rtorrent's `network.xmlrpc.size_limit` when nobody set it.
pub const DEFAULT_SIZE_LIMIT: usize = 512 * 1024;

/// The largest SCGI body rtorrent 0.9 reads at all.
pub const SCGI_CONTENT_CAP: usize = 2 * 1024 * 1024;

/// The command that reads the limit; it takes no arguments.
pub const SIZE_LIMIT_COMMAND: &str = "network.xmlrpc.size_limit";

/// The most bytes one request may take, SCGI framing included, given what
/// rtorrent answered for `network.xmlrpc.size_limit` (None: it did not
/// say, so its default is assumed). Counting the framing too keeps the
/// bound safe for any front end that counts the whole request.
pub fn request_limit(size_limit: Option<i64>) -> usize {
    let said = size_limit
        .filter(|n| *n > 0)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_SIZE_LIMIT);
    said.min(SCGI_CONTENT_CAP)
}

/// Bytes of a `system.multicall` request with no calls in it (XML only).
pub fn multicall_base_len() -> usize {
    xmlrpc::method_call("system.multicall", &[Value::Array(Vec::new())]).len()
}

/// Bytes one call adds to a `system.multicall` request.
pub fn multicall_call_len(call: &Call) -> usize {
    let mut out = String::new();
    xmlrpc::encode::value_into(&mut out, &multicall_entry(call));
    out.len()
}

/// Bytes the calls of one `system.multicall` may add together so that the
/// whole request (framing, envelope and calls) stays within `limit`.
pub fn room_for_calls(limit: usize) -> usize {
    limit.saturating_sub(framing_len(limit) + multicall_base_len())
}

/// Bytes the whole request of a `system.multicall` takes, SCGI included.
pub fn multicall_request_len(calls_len: usize) -> usize {
    let body = multicall_base_len() + calls_len;
    body + framing_len(body)
}

/// Bytes base64 makes of `n` bytes (with padding, no line breaks).
pub fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// The rc line that lets a request of `needed` bytes through: the limit
/// in whole MiB, rounded up.
pub fn size_limit_rc_line(needed: usize) -> String {
    let mib = needed.div_ceil(1024 * 1024).max(1);
    format!("network.xmlrpc.size_limit.set = {mib}M")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtorrent::scgi::encode_request;

    #[test]
    fn request_limit_table() {
        let table: &[(Option<i64>, usize)] = &[
            (None, 512 * 1024),
            (Some(524_288), 524_288),
            (Some(4 << 20), 2 << 20),
            (Some(16 << 20), 2 << 20),
            (Some(100_000), 100_000),
            (Some(0), 512 * 1024),
            (Some(-1), 512 * 1024),
        ];
        for (said, want) in table {
            assert_eq!(request_limit(*said), *want, "{said:?}");
        }
    }

    /// The sizes add up to exactly what goes on the wire.
    #[test]
    fn lengths_are_exact() {
        let calls: Vec<Call> = [0usize, 1, 2, 3, 40_000, 40_001]
            .iter()
            .map(|n| {
                Call::new(
                    "load.raw_start",
                    vec![
                        Value::str(""),
                        Value::Base64(vec![7; *n]),
                        Value::str("d.custom1.set=lowspace"),
                    ],
                )
            })
            .collect();
        let list: Vec<Value> = calls.iter().map(multicall_entry).collect();
        let body = xmlrpc::method_call("system.multicall", &[Value::Array(list)]);
        let calls_len: usize = calls.iter().map(multicall_call_len).sum();
        assert_eq!(multicall_base_len() + calls_len, body.len());
        assert_eq!(
            multicall_request_len(calls_len),
            encode_request(body.as_bytes()).len()
        );
        let empty = multicall_call_len(&Call::new(
            "load.raw_start",
            vec![
                Value::str(""),
                Value::Base64(Vec::new()),
                Value::str("d.custom1.set=lowspace"),
            ],
        ));
        for (call, n) in calls.iter().zip([0usize, 1, 2, 3, 40_000, 40_001]) {
            assert_eq!(multicall_call_len(call), empty + base64_len(n));
        }
    }

    #[test]
    fn room_keeps_the_whole_request_within_the_limit() {
        for limit in [1000, 524_288, 2 << 20] {
            let room = room_for_calls(limit);
            assert!(multicall_request_len(room) <= limit, "{limit}");
            assert!(
                multicall_request_len(room + 200) > limit,
                "{limit}: room is tight"
            );
        }
        assert_eq!(room_for_calls(10), 0);
    }

    #[test]
    fn rc_line_rounds_up_to_whole_mib() {
        assert_eq!(
            size_limit_rc_line(600_000),
            "network.xmlrpc.size_limit.set = 1M"
        );
        assert_eq!(
            size_limit_rc_line(1 << 20),
            "network.xmlrpc.size_limit.set = 1M"
        );
        assert_eq!(
            size_limit_rc_line((1 << 20) + 1),
            "network.xmlrpc.size_limit.set = 2M"
        );
    }
}
