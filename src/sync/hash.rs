//! Content verification (`[remote] verify = "hash"`): the SHA-1 of every
//! expected file, computed here from the local data (still on disk at that
//! point) and on the remote side by the remote's own tools, compared before
//! anything local is deleted.
//!
//! The pieces: [`RemoteDigests`] collects what the remote said, refusing a
//! file it did not ask about or one reported twice; the readers of the two
//! output formats feed it ([`read_ordered`] for the rsync backend's
//! one-digest-a-line `sha1sum < FILE` output, [`read_sha1sum`] for
//! `rclone hashsum sha1`'s `HEX  NAME` lines); [`compare_digests`] is the
//! pure verdict. Memory is bounded by the number of files (20 bytes each),
//! never by the data or the length of the tools' output.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::Path;
use std::time::Duration;

use sha1::{Digest as _, Sha1};

use super::RelPath;

/// A SHA-1 digest.
pub type Digest = [u8; 20];

/// Bytes read from a file at a time while hashing.
const HASH_BUFFER: usize = 64 * 1024;

/// The longest output line accepted: a digest and a name of at most a few
/// path components of 255 bytes, with room to spare.
pub const MAX_HASH_LINE: usize = 64 * 1024;

/// SHA-1 of the file at `path`, read with a bounded buffer.
pub fn hash_file(path: &Path) -> io::Result<Digest> {
    let mut file = File::open(path)?;
    let mut hasher = Sha1::new();
    let mut buffer = vec![0u8; HASH_BUFFER];
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) => return Ok(hasher.finalize().into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(buffer.get(..n).unwrap_or_default());
    }
}

/// Lower-case hex of a digest, for messages and logs.
pub fn hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// 40 hex digits (either case) as a digest.
pub fn parse_hex(text: &[u8]) -> Option<Digest> {
    if text.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (byte, pair) in out.iter_mut().zip(text.chunks(2)) {
        let digit = |c: u8| (c as char).to_digit(16);
        let (hi, lo) = match pair {
            [hi, lo] => (digit(*hi)?, digit(*lo)?),
            _ => return None,
        };
        *byte = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// Why a remote's hash output could not be used. Any of these fails the
/// verification: output that is not what was asked for proves nothing.
#[derive(Debug)]
pub enum HashOutputError {
    Read(io::Error),
    /// A line that is not a digest line of the expected shape.
    Malformed {
        line: u64,
        text: String,
    },
    /// A line whose digest is not 40 hex digits.
    BadHex {
        line: u64,
        text: String,
    },
    /// A digest for a file that was not asked about.
    UnknownFile {
        line: u64,
        name: String,
    },
    /// A second digest for the same file.
    Duplicate {
        line: u64,
        name: String,
    },
    /// More lines than files asked about.
    TooManyLines {
        line: u64,
    },
    /// The output ended before every file asked about had its line.
    TooFewLines {
        got: u64,
        want: u64,
    },
    LineTooLong {
        line: u64,
    },
}

impl fmt::Display for HashOutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashOutputError::Read(e) => write!(f, "cannot read the output: {e}"),
            HashOutputError::Malformed { line, text } => {
                write!(
                    f,
                    "line {line}: expected a SHA-1 digest line, found {text:?}"
                )
            }
            HashOutputError::BadHex { line, text } => {
                write!(f, "line {line}: {text:?} is not a 40-digit hex SHA-1")
            }
            HashOutputError::UnknownFile { line, name } => {
                write!(
                    f,
                    "line {line}: a digest for {name:?}, which was not asked for"
                )
            }
            HashOutputError::Duplicate { line, name } => {
                write!(f, "line {line}: a second digest for {name:?}")
            }
            HashOutputError::TooManyLines { line } => {
                write!(f, "line {line}: more lines than files asked for")
            }
            HashOutputError::TooFewLines { got, want } => {
                write!(f, "the output ended after {got} of {want} files")
            }
            HashOutputError::LineTooLong { line } => {
                write!(f, "line {line} is longer than {MAX_HASH_LINE} bytes")
            }
        }
    }
}

impl std::error::Error for HashOutputError {}

/// The digests a remote reported for the files asked about.
#[derive(Debug)]
pub struct RemoteDigests<'a> {
    slots: BTreeMap<&'a str, Option<Digest>>,
}

impl<'a> RemoteDigests<'a> {
    pub fn new(files: &'a [(RelPath, u64)]) -> RemoteDigests<'a> {
        RemoteDigests {
            slots: files.iter().map(|(p, _)| (p.as_str(), None)).collect(),
        }
    }

    /// Records the remote's digest of `name`; a name not asked about, or
    /// one already reported, is an error.
    pub fn record(&mut self, line: u64, name: &str, digest: Digest) -> Result<(), HashOutputError> {
        match self.slots.get_mut(name) {
            None => Err(HashOutputError::UnknownFile {
                line,
                name: name.to_string(),
            }),
            Some(Some(_)) => Err(HashOutputError::Duplicate {
                line,
                name: name.to_string(),
            }),
            Some(slot) => {
                *slot = Some(digest);
                Ok(())
            }
        }
    }

    /// Forgets everything, so a retry starts clean.
    pub fn clear(&mut self) {
        for slot in self.slots.values_mut() {
            *slot = None;
        }
    }

    pub fn get(&self, name: &str) -> Option<Digest> {
        self.slots.get(name).copied().flatten()
    }
}

/// One line, without its newline; `None` at the end of the input.
fn next_line(
    input: &mut dyn BufRead,
    buffer: &mut Vec<u8>,
    number: u64,
) -> Result<bool, HashOutputError> {
    buffer.clear();
    let read = Read::take(&mut *input, MAX_HASH_LINE as u64 + 1)
        .read_until(b'\n', buffer)
        .map_err(HashOutputError::Read)?;
    if read == 0 {
        return Ok(false);
    }
    if buffer.last() == Some(&b'\n') {
        buffer.pop();
    } else if buffer.len() > MAX_HASH_LINE {
        return Err(HashOutputError::LineTooLong { line: number });
    }
    Ok(true)
}

fn shown(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

/// What the rsync backend's remote loop prints for a file it could not
/// read (missing, a directory, an I/O error).
pub const UNREADABLE_MARK: &[u8] = b"?";

/// Reads one line per file of `names`, in order: `HEX  -` (what `sha1sum`
/// prints for its standard input, GNU and BusyBox alike), a bare `HEX`, or
/// [`UNREADABLE_MARK`] for a file the remote could not read. No name is
/// printed, so no name needs escaping or decoding.
pub fn read_ordered(
    input: &mut dyn BufRead,
    names: &[&RelPath],
    digests: &mut RemoteDigests<'_>,
) -> Result<(), HashOutputError> {
    let mut line = Vec::new();
    let mut number = 0u64;
    while next_line(input, &mut line, number + 1)? {
        number += 1;
        let Some(name) = usize::try_from(number - 1).ok().and_then(|i| names.get(i)) else {
            return Err(HashOutputError::TooManyLines { line: number });
        };
        if line == UNREADABLE_MARK {
            continue;
        }
        let (hex_part, rest) = line.split_at(line.len().min(40));
        if !(rest.is_empty() || rest == b"  -") {
            return Err(HashOutputError::Malformed {
                line: number,
                text: shown(&line),
            });
        }
        let digest = parse_hex(hex_part).ok_or_else(|| HashOutputError::BadHex {
            line: number,
            text: shown(hex_part),
        })?;
        digests.record(number, name.as_str(), digest)?;
    }
    let want = names.len() as u64;
    if number < want {
        return Err(HashOutputError::TooFewLines { got: number, want });
    }
    Ok(())
}

/// Reads `rclone hashsum sha1` output, `HEX  NAME` a line, NAME relative
/// to the hashed root in rclone's name encoding (decoded with `decode`).
/// A line for a file not asked about, or twice for one, is an error.
pub fn read_sha1sum(
    input: &mut dyn BufRead,
    decode: &dyn Fn(&str) -> String,
    digests: &mut RemoteDigests<'_>,
) -> Result<(), HashOutputError> {
    let mut line = Vec::new();
    let mut number = 0u64;
    while next_line(input, &mut line, number + 1)? {
        number += 1;
        let malformed = || HashOutputError::Malformed {
            line: number,
            text: shown(&line),
        };
        let space = line.iter().position(|b| *b == b' ').ok_or_else(malformed)?;
        let (hex_part, rest) = line.split_at(space);
        let name = rest.strip_prefix(b"  ").ok_or_else(malformed)?;
        if name.is_empty() {
            return Err(malformed());
        }
        let digest = parse_hex(hex_part).ok_or_else(|| HashOutputError::BadHex {
            line: number,
            text: shown(hex_part),
        })?;
        let name = std::str::from_utf8(name).map_err(|_| malformed())?;
        digests.record(number, &decode(name), digest)?;
    }
    Ok(())
}

/// The outcome of comparing local digests with the remote's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentVerification {
    /// Files whose remote content differs from the local one.
    pub mismatched: Vec<RelPath>,
    /// Files the remote did not hash (gone, unreadable).
    pub unhashed: Vec<RelPath>,
    /// Files with the same SHA-1 on both sides.
    pub verified: usize,
    /// Bytes of the files compared: what each side read.
    pub bytes: u64,
    pub elapsed: Duration,
}

impl ContentVerification {
    /// True when every file has the same SHA-1 on both sides.
    pub fn is_complete(&self) -> bool {
        self.mismatched.is_empty() && self.unhashed.is_empty()
    }
}

impl fmt::Display for ContentVerification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_complete() && self.verified == 1 {
            return write!(f, "the file has the same SHA-1 on both sides");
        }
        if self.is_complete() {
            return write!(
                f,
                "all {} files have the same SHA-1 on both sides",
                self.verified
            );
        }
        write!(
            f,
            "{} of {} files have the same content",
            self.verified,
            self.verified + self.mismatched.len() + self.unhashed.len()
        )?;
        if !self.mismatched.is_empty() {
            write!(
                f,
                "; different content (SHA-1): {}",
                super::verify::list_some(self.mismatched.iter())
            )?;
        }
        if !self.unhashed.is_empty() {
            write!(
                f,
                "; not hashed by the remote: {}",
                super::verify::list_some(self.unhashed.iter())
            )?;
        }
        Ok(())
    }
}

/// The verdict: each expected file's local digest against the remote's.
/// A path expected twice is checked once.
pub fn compare_digests(
    files: &[(RelPath, u64)],
    local: &BTreeMap<&str, Digest>,
    remote: &RemoteDigests<'_>,
) -> ContentVerification {
    let mut out = ContentVerification::default();
    let unique: BTreeMap<&str, (&RelPath, u64)> =
        files.iter().map(|(p, n)| (p.as_str(), (p, *n))).collect();
    for (name, (path, size)) in unique {
        out.bytes += size;
        match (local.get(name), remote.get(name)) {
            (Some(here), Some(there)) if *here == there => out.verified += 1,
            (Some(_), Some(_)) => out.mismatched.push(path.clone()),
            _ => out.unhashed.push(path.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    const ABC: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";
    const EMPTY: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

    #[test]
    fn hashes_files_and_hex() {
        let dir = std::env::temp_dir().join(format!("lowspace-hash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("abc"), b"abc").unwrap();
        std::fs::write(dir.join("empty"), b"").unwrap();
        let big: Vec<u8> = (0..HASH_BUFFER * 3 + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("big"), &big).unwrap();
        assert_eq!(hex(&hash_file(&dir.join("abc")).unwrap()), ABC);
        assert_eq!(hex(&hash_file(&dir.join("empty")).unwrap()), EMPTY);
        let want: Digest = Sha1::digest(&big).into();
        assert_eq!(hash_file(&dir.join("big")).unwrap(), want);
        assert!(hash_file(&dir.join("nope")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            parse_hex(ABC.to_uppercase().as_bytes()).map(|d| hex(&d)),
            Some(ABC.into())
        );
        for bad in [
            "",
            "abc",
            &ABC[..39],
            &format!("{ABC}0"),
            &ABC.replace('a', "g"),
            &format!("+{}", &ABC[1..]),
        ] {
            assert_eq!(parse_hex(bad.as_bytes()), None, "{bad}");
        }
    }

    fn files() -> Vec<(RelPath, u64)> {
        vec![(p("T/a"), 3), (p("T/new\nline"), 0), (p("T/ lead"), 1)]
    }

    fn ordered(output: &str) -> Result<Vec<Option<String>>, HashOutputError> {
        let files = files();
        let names: Vec<&RelPath> = files.iter().map(|(p, _)| p).collect();
        let mut digests = RemoteDigests::new(&files);
        read_ordered(&mut output.as_bytes(), &names, &mut digests)?;
        Ok(files
            .iter()
            .map(|(p, _)| digests.get(p.as_str()).map(|d| hex(&d)))
            .collect())
    }

    #[test]
    fn ordered_output() {
        let got = ordered(&format!("{ABC}  -\n{EMPTY}\n?\n")).unwrap();
        assert_eq!(got, [Some(ABC.to_string()), Some(EMPTY.to_string()), None]);
        let upper = ordered(&format!("{}  -\n?\n?", ABC.to_uppercase())).unwrap();
        assert_eq!(upper[0].as_deref(), Some(ABC));
    }

    #[test]
    fn ordered_output_errors() {
        let cases: Vec<(String, &str)> = vec![
            (
                format!("{ABC} -\n?\n?\n"),
                "line 1: expected a SHA-1 digest line",
            ),
            (format!("{ABC}  T/a\n?\n?\n"), "line 1: expected a SHA-1"),
            ("sha1sum: not found\n?\n?\n".into(), "line 1:"),
            (
                format!("?\n{}  -\n?\n", ABC.replace('a', "z")),
                "line 2: \"z999",
            ),
            (
                format!("?\n{}  -\n?\n", &ABC[..39]),
                "line 2: expected a SHA-1",
            ),
            ("?\n?\n?\n?\n".into(), "line 4: more lines than files"),
            ("?\n".into(), "ended after 1 of 3 files"),
            ("".into(), "ended after 0 of 3 files"),
        ];
        for (output, says) in cases {
            let err = ordered(&output).unwrap_err().to_string();
            assert!(err.contains(says), "{output:?}: {err}");
        }
        let long = format!("{ABC}{}\n", " ".repeat(MAX_HASH_LINE + 1));
        assert!(matches!(
            ordered(&long),
            Err(HashOutputError::LineTooLong { line: 1 })
        ));
    }

    fn rclone_style(output: &str) -> Result<BTreeMap<String, String>, HashOutputError> {
        let files = files();
        let mut digests = RemoteDigests::new(&files);
        let decode = |s: &str| s.replace('\u{240A}', "\n");
        read_sha1sum(&mut output.as_bytes(), &decode, &mut digests)?;
        Ok(files
            .iter()
            .filter_map(|(p, _)| Some((p.to_string(), hex(&digests.get(p.as_str())?))))
            .collect())
    }

    #[test]
    fn sha1sum_output() {
        // As rclone 1.60 prints it: two spaces, then the name as it is
        // (leading spaces included), control characters in rclone's
        // encoding.
        let got = rclone_style(&format!(
            "{ABC}  T/a\n{EMPTY}  T/new\u{240A}line\n{ABC}  T/ lead\n"
        ))
        .unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got["T/new\nline"], EMPTY);
        assert_eq!(got["T/ lead"], ABC);
        // Files the remote does not have are simply absent.
        assert_eq!(rclone_style(&format!("{ABC}  T/a")).unwrap().len(), 1);
        assert!(rclone_style("").unwrap().is_empty());
    }

    /// One case per error of the `HEX  NAME` reader.
    #[test]
    fn sha1sum_output_errors() {
        let cases: Vec<(String, &str)> = vec![
            // malformed line
            (
                "sha1sum: T/a: No such file or directory\n".into(),
                "line 1: expected a SHA-1 digest line",
            ),
            (
                format!("{ABC} T/a\n"),
                "line 1: expected a SHA-1 digest line",
            ),
            (format!("{ABC}  \n"), "line 1: expected a SHA-1 digest line"),
            (format!("{ABC}\n"), "line 1: expected a SHA-1 digest line"),
            // unknown file
            (
                format!("{ABC}  T/a\n{ABC}  T/b\n"),
                "line 2: a digest for \"T/b\", which was not asked for",
            ),
            // duplicated file
            (
                format!("{ABC}  T/a\n{EMPTY}  T/a\n"),
                "line 2: a second digest for \"T/a\"",
            ),
            // bad hex
            (
                format!("{}  T/a\n", ABC.replace('a', "x")),
                "line 1: \"x999",
            ),
            ("UNSUPPORTED  T/a\n".into(), "is not a 40-digit hex SHA-1"),
        ];
        for (output, says) in cases {
            let err = rclone_style(&output).unwrap_err().to_string();
            assert!(err.contains(says), "{output:?}: {err}");
        }
        let mut bad_utf8 = format!("{ABC}  T/").into_bytes();
        bad_utf8.push(0xff);
        let files = files();
        let mut digests = RemoteDigests::new(&files);
        let err = read_sha1sum(&mut &bad_utf8[..], &|s: &str| s.to_string(), &mut digests);
        assert!(matches!(
            err,
            Err(HashOutputError::Malformed { line: 1, .. })
        ));
    }

    #[test]
    fn verdict_names_each_file() {
        let files = vec![(p("T/a"), 3), (p("T/b"), 5), (p("T/c"), 7), (p("T/a"), 3)];
        let d = |b: u8| [b; 20];
        let local: BTreeMap<&str, Digest> = [("T/a", d(1)), ("T/b", d(2)), ("T/c", d(3))].into();
        let mut remote = RemoteDigests::new(&files);
        remote.record(1, "T/a", d(1)).unwrap();
        remote.record(2, "T/b", d(9)).unwrap();
        let v = compare_digests(&files, &local, &remote);
        assert_eq!(v.verified, 1);
        assert_eq!(v.bytes, 15);
        assert_eq!(v.mismatched, vec![p("T/b")]);
        assert_eq!(v.unhashed, vec![p("T/c")]);
        assert!(!v.is_complete());
        assert_eq!(
            v.to_string(),
            "1 of 3 files have the same content; different content (SHA-1): T/b; not hashed by the remote: T/c"
        );
        remote.clear();
        assert_eq!(compare_digests(&files, &local, &remote).unhashed.len(), 3);
        remote.record(1, "T/a", d(1)).unwrap();
        remote.record(1, "T/b", d(2)).unwrap();
        remote.record(1, "T/c", d(3)).unwrap();
        let ok = compare_digests(&files, &local, &remote);
        assert!(ok.is_complete());
        assert_eq!(
            ok.to_string(),
            "all 3 files have the same SHA-1 on both sides"
        );
    }
}
