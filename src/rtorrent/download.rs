//! What lowspace reads about downloads and their files, and the pure
//! conversion from rtorrent's multicall rows. The field lists here are the
//! single source for both the one-round-trip multicall and any per-field
//! reading (the benchmark compares the two).

use super::xmlrpc::Value;

/// One download as rotation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// Info-hash, 40 uppercase hex characters.
    pub hash: String,
    pub name: String,
    pub size_bytes: u64,
    pub completed_bytes: u64,
    /// All wanted chunks are there (`d.complete`).
    pub complete: bool,
    /// Upload ratio × 1000, as rtorrent keeps it (`d.ratio`).
    pub ratio_permille: u64,
    /// Started by the user (`d.state` = 1); may still be inactive (paused).
    pub started: bool,
    /// Open and transferring (`d.is_active`).
    pub active: bool,
    /// Where the data is: the file for single-file torrents, the directory
    /// otherwise; empty until rtorrent has opened the download.
    pub base_path: String,
    pub directory: String,
    pub multi_file: bool,
    /// `d.custom1`, the label ruTorrent and lowspace use.
    pub label: String,
    /// When the download finished (seconds since the epoch), if it has.
    pub finished_at: Option<u64>,
}

impl Download {
    /// The upload ratio as a fraction (1.0 = uploaded its own size).
    pub fn ratio(&self) -> f64 {
        self.ratio_permille as f64 / 1000.0
    }
}

/// The `d.multicall2` commands, in the order [`download_from_row`] reads them.
pub const DOWNLOAD_FIELDS: [&str; 13] = [
    "d.hash=",
    "d.name=",
    "d.size_bytes=",
    "d.completed_bytes=",
    "d.complete=",
    "d.ratio=",
    "d.state=",
    "d.is_active=",
    "d.base_path=",
    "d.directory=",
    "d.is_multi_file=",
    "d.custom1=",
    "d.timestamp.finished=",
];

/// File priority as rtorrent numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilePriority {
    /// Not downloaded.
    Off = 0,
    Normal = 1,
    High = 2,
}

impl FilePriority {
    pub fn from_rtorrent(n: i64) -> Option<FilePriority> {
        match n {
            0 => Some(FilePriority::Off),
            1 => Some(FilePriority::Normal),
            2 => Some(FilePriority::High),
            _ => None,
        }
    }
}

/// One file of a download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentFile {
    /// Position in the torrent, as `f.priority.set HASH:fINDEX` wants it.
    pub index: usize,
    /// Path inside the torrent, `/`-separated.
    pub path: String,
    pub size_bytes: u64,
    pub completed_chunks: u64,
    pub size_chunks: u64,
    pub priority: FilePriority,
}

impl TorrentFile {
    pub fn is_complete(&self) -> bool {
        self.completed_chunks >= self.size_chunks
    }
}

/// The `f.multicall` commands, in the order [`file_from_row`] reads them.
pub const FILE_FIELDS: [&str; 5] = [
    "f.path=",
    "f.size_bytes=",
    "f.completed_chunks=",
    "f.size_chunks=",
    "f.priority=",
];

/// Reads a row positionally; errors name the field and the value seen.
struct Row<'a> {
    fields: &'a [&'a str],
    values: &'a [Value],
}

impl<'a> Row<'a> {
    fn new(fields: &'a [&'a str], row: &'a Value) -> Result<Row<'a>, String> {
        let values = row
            .as_array()
            .ok_or_else(|| format!("a row is a {}, not an array", row.type_name()))?;
        if values.len() != fields.len() {
            return Err(format!(
                "a row has {} fields, expected {}",
                values.len(),
                fields.len()
            ));
        }
        Ok(Row { fields, values })
    }

    fn get(&self, i: usize) -> Result<&'a Value, String> {
        self.values
            .get(i)
            .ok_or_else(|| format!("missing field {}", self.fields.get(i).unwrap_or(&"?")))
    }

    fn string(&self, i: usize) -> Result<String, String> {
        let v = self.get(i)?;
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.bad(i, "a string", v))
    }

    fn unsigned(&self, i: usize) -> Result<u64, String> {
        let v = self.get(i)?;
        v.as_i64()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| self.bad(i, "a non-negative integer", v))
    }

    fn flag(&self, i: usize) -> Result<bool, String> {
        Ok(self.unsigned(i)? != 0)
    }

    fn bad(&self, i: usize, wanted: &str, v: &Value) -> String {
        format!(
            "{} should be {wanted}, got {:?}",
            self.fields.get(i).unwrap_or(&"?").trim_end_matches('='),
            v
        )
    }
}

pub fn download_from_row(row: &Value) -> Result<Download, String> {
    let r = Row::new(&DOWNLOAD_FIELDS, row)?;
    let finished = r.unsigned(12)?;
    Ok(Download {
        hash: r.string(0)?,
        name: r.string(1)?,
        size_bytes: r.unsigned(2)?,
        completed_bytes: r.unsigned(3)?,
        complete: r.flag(4)?,
        ratio_permille: r.unsigned(5)?,
        started: r.flag(6)?,
        active: r.flag(7)?,
        base_path: r.string(8)?,
        directory: r.string(9)?,
        multi_file: r.flag(10)?,
        label: r.string(11)?,
        finished_at: (finished > 0).then_some(finished),
    })
}

pub fn file_from_row(index: usize, row: &Value) -> Result<TorrentFile, String> {
    let r = Row::new(&FILE_FIELDS, row)?;
    let priority_value = r.get(4)?;
    let priority = priority_value
        .as_i64()
        .and_then(FilePriority::from_rtorrent)
        .ok_or_else(|| r.bad(4, "0, 1 or 2", priority_value))?;
    Ok(TorrentFile {
        index,
        path: r.string(0)?,
        size_bytes: r.unsigned(1)?,
        completed_chunks: r.unsigned(2)?,
        size_chunks: r.unsigned(3)?,
        priority,
    })
}

/// Why `d.bitfield` could not give each file's chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BitfieldError {
    /// rtorrent keeps no bitfield for a closed download.
    Empty,
    NotHex(usize),
    /// Fewer bits than the files' chunks need.
    Short {
        bits: u64,
        needed: u64,
    },
    ZeroChunkSize,
}

impl std::fmt::Display for BitfieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BitfieldError::Empty => write!(f, "empty (the download is closed)"),
            BitfieldError::NotHex(at) => write!(f, "not hexadecimal at character {at}"),
            BitfieldError::Short { bits, needed } => {
                write!(f, "{bits} bits where the files need {needed}")
            }
            BitfieldError::ZeroChunkSize => write!(f, "the chunk size is 0"),
        }
    }
}

/// How many of each file's chunks the download has, counted in its
/// completed bitfield (`d.bitfield`: hex, first chunk in the most
/// significant bit) over the chunks the file touches, given the files'
/// sizes in torrent order.
///
/// Why not `f.completed_chunks`: rtorrent 0.9.8 keeps that counter apart
/// from the bitfield and, once a download has been closed and reopened,
/// sometimes counts a chunk shared by two files twice ("9 of 8" for a
/// complete file), which could as well make a file one chunk short look
/// complete. The bitfield is what rtorrent itself trusts.
pub fn chunks_done_per_file(
    bitfield_hex: &str,
    chunk_size: u64,
    file_sizes: &[u64],
) -> Result<Vec<u64>, BitfieldError> {
    if bitfield_hex.is_empty() {
        return Err(BitfieldError::Empty);
    }
    if chunk_size == 0 {
        return Err(BitfieldError::ZeroChunkSize);
    }
    let nibbles: Vec<u8> = bitfield_hex
        .bytes()
        .enumerate()
        .map(|(at, c)| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(BitfieldError::NotHex(at)),
        })
        .collect::<Result<_, _>>()?;
    let bits = nibbles.len() as u64 * 4;
    let total: u64 = file_sizes.iter().fold(0u64, |a, s| a.saturating_add(*s));
    let needed = total.div_ceil(chunk_size);
    if bits < needed {
        return Err(BitfieldError::Short { bits, needed });
    }
    let has = |chunk: u64| {
        let nibble = nibbles.get((chunk / 4) as usize).copied().unwrap_or(0);
        nibble & (0b1000 >> (chunk % 4)) != 0
    };
    let mut offset = 0u64;
    Ok(file_sizes
        .iter()
        .map(|&size| {
            let start = offset;
            offset = offset.saturating_add(size);
            if size == 0 {
                return 0;
            }
            (start / chunk_size..=(offset - 1) / chunk_size)
                .filter(|&c| has(c))
                .count() as u64
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: Vec<Value>) -> Value {
        Value::Array(values)
    }

    fn good_download_row() -> Vec<Value> {
        vec![
            Value::str("ABCDEF0123456789ABCDEF0123456789ABCDEF01"),
            Value::str("ubuntu.iso"),
            Value::Int(6_000_000_000),
            Value::Int(5_000_000_000),
            Value::Int(0),
            Value::Int(1500),
            Value::Int(1),
            Value::Int(1),
            Value::str("/data/ubuntu.iso"),
            Value::str("/data"),
            Value::Int(0),
            Value::str("lowspace"),
            Value::Int(0),
        ]
    }

    #[test]
    fn a_download_row() {
        let d = download_from_row(&row(good_download_row())).unwrap();
        assert_eq!(d.size_bytes, 6_000_000_000);
        assert_eq!(d.ratio(), 1.5);
        assert!(d.started && d.active && !d.complete && !d.multi_file);
        assert_eq!(d.finished_at, None);
        assert_eq!(d.label, "lowspace");
    }

    #[test]
    fn bad_rows_name_the_field() {
        let mut values = good_download_row();
        values[2] = Value::Int(-1);
        let e = download_from_row(&row(values)).unwrap_err();
        assert!(e.contains("d.size_bytes"), "{e}");
        let mut values = good_download_row();
        values[1] = Value::Int(3);
        assert!(download_from_row(&row(values))
            .unwrap_err()
            .contains("d.name"));
        let e = download_from_row(&row(vec![Value::Int(1)])).unwrap_err();
        assert!(e.contains("1 fields"), "{e}");
        assert!(download_from_row(&Value::Int(1)).is_err());
    }

    #[test]
    fn each_file_counts_the_chunks_it_touches_in_the_bitfield() {
        // Chunks of 10 bytes; files of 25, 5, 0 and 12 bytes touch chunks
        // 0-2, 2, none and 3-4.
        let sizes = [25, 5, 0, 12];
        let cases: [(&str, Result<Vec<u64>, BitfieldError>); 7] = [
            ("f8", Ok(vec![3, 1, 0, 2])),
            ("F8", Ok(vec![3, 1, 0, 2])),
            // 0b1101_1000: chunk 2 missing, shared by the first two files.
            ("d8", Ok(vec![2, 0, 0, 2])),
            ("08", Ok(vec![0, 0, 0, 1])),
            ("", Err(BitfieldError::Empty)),
            ("f", Err(BitfieldError::Short { bits: 4, needed: 5 })),
            ("fz", Err(BitfieldError::NotHex(1))),
        ];
        for (hex, want) in cases {
            assert_eq!(chunks_done_per_file(hex, 10, &sizes), want, "{hex:?}");
        }
        assert_eq!(
            chunks_done_per_file("ff", 0, &sizes),
            Err(BitfieldError::ZeroChunkSize)
        );
    }

    #[test]
    fn a_file_row() {
        let f = file_from_row(
            3,
            &row(vec![
                Value::str("dir/a.bin"),
                Value::Int(1 << 34),
                Value::Int(4),
                Value::Int(4),
                Value::Int(0),
            ]),
        )
        .unwrap();
        assert_eq!(f.index, 3);
        assert_eq!(f.priority, FilePriority::Off);
        assert!(f.is_complete());
        let e = file_from_row(
            0,
            &row(vec![
                Value::str("a"),
                Value::Int(1),
                Value::Int(0),
                Value::Int(1),
                Value::Int(7),
            ]),
        )
        .unwrap_err();
        assert!(e.contains("f.priority"), "{e}");
    }
}
