//! rclone to `remote:path`, with the RCLONE_* variables from the
//! configuration added to its environment.
//!
//! Push: one rclone call per path: `rclone copy DIR remote:base/DIR` for a
//! directory tree, `rclone copyto FILE remote:base/FILE` for a file. rclone's
//! own retries are turned down (`--retries 1`), so the attempts per run are
//! the ones lowspace counts; `--timeout`/`--contimeout` bound stalls.
//!
//! Listing: `rclone lsjson -R --files-only --no-mimetype --no-modtime
//! remote:base/PATH` (JSON keeps every name intact; the two `--no-` flags
//! spare remotes such as S3 a request per file for what verification does
//! not use). The array is read element by element as rclone prints it
//! ([`read_lsjson`]), so its length is not limited by memory. A path that
//! is a single file lists as that file.

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde::Deserialize;

use super::error::{failure_from_run, FailureKind, SyncError, Tool};
use super::hash::{read_sha1sum, RemoteDigests};
use super::listing::skip_unusable;
use super::{
    listing_wall_cap, probe_name, transfer_wall_cap, Backend, Limits, ListingError, ListingSink,
    RelPath,
};
use crate::process::{self, Ended, RunOutput, RunSpec};

pub(crate) struct RcloneRemote {
    remote: String,
    base: String,
    env: Vec<(String, String)>,
    rclone: OsString,
    limits: Limits,
}

impl RcloneRemote {
    pub fn new(
        remote: &str,
        path: &str,
        env: Vec<(String, String)>,
        rclone: OsString,
        limits: Limits,
    ) -> RcloneRemote {
        RcloneRemote {
            remote: remote.trim().trim_end_matches(':').to_string(),
            base: path.trim().trim_end_matches('/').to_string(),
            env,
            rclone,
            limits,
        }
    }

    fn spec(&self, wall: std::time::Duration) -> RunSpec {
        let mut spec = RunSpec::new(&self.rclone, wall).args(common_flags(self.limits.timeout));
        for (k, v) in &self.env {
            spec = spec.env(k, v);
        }
        spec
    }

    fn target(&self, rel: Option<&RelPath>) -> String {
        target(&self.remote, &self.base, rel)
    }

    fn run(&self, spec: &RunSpec) -> Result<RunOutput, SyncError> {
        log::debug!("running {}", spec.display());
        process::run(spec).map_err(|e| SyncError::from_run_error(&e))
    }

    fn bad_listing(&self, path: &RelPath, why: &str) -> SyncError {
        SyncError::new(
            FailureKind::Other,
            format!(
                "unexpected listing from {} for {path}: {why}",
                self.describe()
            ),
        )
    }

    /// Whether `path` is a directory, from a listing of its parent (which
    /// may hold thousands of torrents: streamed too).
    fn is_dir(&self, path: &RelPath) -> Result<bool, SyncError> {
        let spec = self
            .spec(listing_wall_cap(self.limits.timeout))
            .args(["lsjson", "--dirs-only", "--no-mimetype", "--no-modtime"])
            .arg(self.target(path.parent().as_ref()));
        log::debug!("running {}", spec.display());
        let out = process::run_streaming(&spec, |stdout| {
            let mut found = false;
            read_lsjson(stdout, &mut |entry| {
                found |= entry.is_dir && decode_name(&entry.path) == path.file_name();
            })
            .map(|()| found)
        })
        .map_err(|e| SyncError::from_run_error(&e))?;
        if !out.success() {
            return Err(self.fail_with(out.ended, &out.stderr_text()));
        }
        out.value
            .map_err(|e| self.bad_listing(path, &e.to_string()))
    }

    fn fail(&self, out: &RunOutput) -> SyncError {
        self.fail_with(out.ended, &out.stderr_text())
    }

    fn fail_with(&self, ended: Ended, stderr: &str) -> SyncError {
        failure_from_run(
            Tool::Rclone,
            &self.describe(),
            ended,
            stderr,
            self.limits.timeout.as_secs(),
        )
    }
}

impl Backend for RcloneRemote {
    fn describe(&self) -> String {
        format!("rclone to {}", self.target(None))
    }

    fn push_once(
        &self,
        local_root: &Path,
        paths: &[RelPath],
        files: &[(RelPath, u64)],
    ) -> Result<(), SyncError> {
        for rel in paths {
            let local = local_root.join(rel);
            let bytes: u64 = files
                .iter()
                .filter(|(p, _)| p.starts_with(rel))
                .map(|(_, n)| n)
                .sum();
            let verb = if local.is_dir() { "copy" } else { "copyto" };
            let spec = self
                .spec(transfer_wall_cap(bytes, self.limits.timeout))
                .arg(verb)
                .arg(&local)
                .arg(self.target(Some(rel)));
            let out = self.run(&spec)?;
            if !out.success() {
                return Err(self.fail(&out));
            }
        }
        Ok(())
    }

    fn list_once(&self, path: &RelPath, sink: &mut dyn ListingSink) -> Result<(), SyncError> {
        let spec = self
            .spec(listing_wall_cap(self.limits.timeout))
            .args([
                "lsjson",
                "-R",
                "--files-only",
                "--no-mimetype",
                "--no-modtime",
            ])
            .arg(self.target(Some(path)));
        log::debug!("running {}", spec.display());
        let mut placer = Placer::new(path);
        let out = process::run_streaming(&spec, |stdout| {
            read_lsjson(stdout, &mut |entry| placer.entry(entry, sink))
        })
        .map_err(|e| SyncError::from_run_error(&e))?;
        if !out.success() {
            // rclone's exit code 3 is "directory not found": nothing copied yet.
            let text = out.stderr_text().to_ascii_lowercase();
            if out.ended == Ended::Exited(3)
                || text.contains("directory not found")
                || text.contains("object not found")
            {
                return Ok(());
            }
            return Err(self.fail_with(out.ended, &out.stderr_text()));
        }
        out.value
            .map_err(|e| self.bad_listing(path, &e.to_string()))?;
        if let Some(size) = placer.own_name {
            let root_is_file = placer.files == 1 && !self.is_dir(path)?;
            let own = RelPath::new(path.file_name())
                .map_err(|e| SyncError::new(FailureKind::Other, e.to_string()))?;
            sink.file(
                if root_is_file {
                    path.clone()
                } else {
                    path.join(&own)
                },
                size,
            );
        }
        Ok(())
    }

    fn hash_once(
        &self,
        files: &[(RelPath, u64)],
        digests: &mut RemoteDigests<'_>,
    ) -> Result<(), SyncError> {
        if files.is_empty() {
            // Nothing to ask for: spare starting rclone.
            return Ok(());
        }
        let list = files_from(files).map_err(|name| {
            SyncError::new(
                FailureKind::NotVerified,
                format!(
                    "{name:?} cannot be hash-checked through rclone (a newline in its name cannot be passed to --files-from-raw); use verify = \"size\" for this torrent's remote"
                ),
            )
        })?;
        let bytes = files.iter().map(|(_, n)| n).sum();
        // No idle timeout: nothing is printed while a big file is read.
        let spec = self
            .spec(transfer_wall_cap(bytes, self.limits.timeout))
            .args(["hashsum", "sha1", "--files-from-raw", "-"])
            .arg(self.target(None))
            .stdin(list);
        log::debug!("running {}", spec.display());
        let out = process::run_streaming(&spec, |stdout| {
            read_sha1sum(stdout, &|name| decode_name(name), digests)
        })
        .map_err(|e| SyncError::from_run_error(&e))?;
        if !out.success() {
            let stderr = out.stderr_text();
            if hash_unsupported(&stderr) {
                return Err(SyncError::new(
                    FailureKind::Misconfigured,
                    format!(
                        "{} cannot give SHA-1 hashes (rclone: hash type not supported), so verify = \"hash\" cannot work there: set verify = \"size\", or add RCLONE_DOWNLOAD = \"true\" to [remote.rclone_env] to have rclone download every file to hash it",
                        self.describe()
                    ),
                ));
            }
            return Err(self.fail_with(out.ended, &stderr));
        }
        out.value.map_err(|why| {
            SyncError::new(
                FailureKind::Other,
                format!(
                    "unexpected output from rclone hashsum for {}: {why}",
                    self.describe()
                ),
            )
        })
    }

    fn probe_once(&self) -> Result<(), SyncError> {
        let mkdir = self
            .spec(self.limits.timeout)
            .arg("mkdir")
            .arg(self.target(None));
        let out = self.run(&mkdir)?;
        if !out.success() {
            return Err(self.fail(&out));
        }
        let name = RelPath::new(&probe_name())
            .map_err(|e| SyncError::new(FailureKind::Other, e.to_string()))?;
        let write = self
            .spec(self.limits.timeout)
            .arg("rcat")
            .arg(self.target(Some(&name)))
            .stdin(b"lowspace probe\n".to_vec());
        let out = self.run(&write)?;
        if !out.success() {
            return Err(self.fail(&out));
        }
        let delete = self
            .spec(self.limits.timeout)
            .arg("deletefile")
            .arg(self.target(Some(&name)));
        let out = self.run(&delete)?;
        if !out.success() {
            return Err(self.fail(&out));
        }
        Ok(())
    }
}

/// The `--files-from-raw` list of `files`, one path a line; the first
/// path with a newline (which the list cannot hold) is returned instead.
pub fn files_from(files: &[(RelPath, u64)]) -> Result<Vec<u8>, String> {
    let mut list = Vec::new();
    for (path, _) in files {
        if path.as_str().contains(['\n', '\r']) {
            return Err(path.to_string());
        }
        list.extend_from_slice(path.as_str().as_bytes());
        list.push(b'\n');
    }
    Ok(list)
}

/// What rclone says when the backend has no SHA-1 (crypt, most cloud
/// remotes that keep only MD5).
pub fn hash_unsupported(stderr: &str) -> bool {
    let text = stderr.to_ascii_lowercase();
    text.contains("hash type not supported") || text.contains("hash unsupported")
}

/// Flags on every rclone call: bounded stalls, no retries of its own.
pub fn common_flags(timeout: std::time::Duration) -> Vec<String> {
    let secs = timeout.as_secs().max(1);
    vec![
        format!("--timeout={secs}s"),
        format!("--contimeout={}s", secs.min(60)),
        "--retries=1".to_string(),
        "--low-level-retries=2".to_string(),
    ]
}

/// `remote:base/rel`, `remote:rel` when the base is empty.
pub fn target(remote: &str, base: &str, rel: Option<&RelPath>) -> String {
    match (base.is_empty(), rel) {
        (_, None) => format!("{remote}:{base}"),
        (true, Some(rel)) => format!("{remote}:{rel}"),
        (false, Some(rel)) => format!("{remote}:{base}/{rel}"),
    }
}

/// One element of `rclone lsjson` output; other fields are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LsjsonEntry {
    #[serde(rename = "Path")]
    pub path: String,
    #[serde(rename = "Size")]
    pub size: i64,
    #[serde(rename = "IsDir", default)]
    pub is_dir: bool,
}

/// Reads an `rclone lsjson` array element by element, handing each to
/// `each`; memory holds one element at a time, whatever the array's length.
pub fn read_lsjson(
    input: impl Read,
    each: &mut dyn FnMut(LsjsonEntry),
) -> Result<(), ListingError> {
    struct Elements<'a>(&'a mut dyn FnMut(LsjsonEntry));
    impl<'de> Visitor<'de> for Elements<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of lsjson entries")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(entry) = seq.next_element::<LsjsonEntry>()? {
                (self.0)(entry);
            }
            Ok(())
        }
    }
    let failed = |e: serde_json::Error| {
        if e.is_io() {
            ListingError::Read(e.into())
        } else {
            ListingError::Json(e.to_string())
        }
    };
    let mut de = serde_json::Deserializer::from_reader(input);
    (&mut de).deserialize_seq(Elements(each)).map_err(failed)?;
    de.end().map_err(failed)
}

/// A name as rclone lists it back to the name on disk. rclone shows names
/// in its own "standard" encoding whatever the backend: control characters
/// as the Unicode control pictures (a newline as `␊`, DEL as `␡`), and any
/// character that would read as such an encoding quoted with a leading
/// `‛` (a real `␊` as `‛␊`, a real `‛` as `‛‛`).
pub fn decode_name(listed: &str) -> String {
    const QUOTE: char = '\u{201B}';
    let mut out = String::with_capacity(listed.len());
    let mut chars = listed.chars();
    while let Some(c) = chars.next() {
        match c {
            QUOTE => match chars.next() {
                Some(quoted) => out.push(quoted),
                None => out.push(QUOTE),
            },
            '\u{2400}'..='\u{241F}' => {
                out.extend(char::from_u32(u32::from(c) - 0x2400));
            }
            '\u{2421}' => out.push('\u{7F}'),
            c => out.push(c),
        }
    }
    out
}

/// Places the entries of a listing of `root` (names relative to `root`)
/// under the remote root. Listing a file `T` gives one entry `T`, and so
/// does a directory `T` holding only a file `T`: an entry named like the
/// root waits until the end, when only a lone one is ambiguous.
#[derive(Debug)]
pub struct Placer<'a> {
    root: &'a RelPath,
    /// Files seen with a usable name and size.
    pub files: u64,
    /// The size of the entry named like the root, placed by the caller.
    pub own_name: Option<u64>,
}

impl<'a> Placer<'a> {
    pub fn new(root: &'a RelPath) -> Placer<'a> {
        Placer {
            root,
            files: 0,
            own_name: None,
        }
    }

    /// Takes one entry: skipped (directories, unknown sizes, unusable
    /// names), held back (named like the root), or passed to `sink`.
    pub fn entry(&mut self, entry: LsjsonEntry, sink: &mut dyn ListingSink) {
        if entry.is_dir {
            return;
        }
        let Ok(size) = u64::try_from(entry.size) else {
            // Unknown size (-1): it cannot prove a copy.
            log::debug!("ignoring {} of unknown size", entry.path);
            return;
        };
        let name = decode_name(&entry.path);
        let rel = match RelPath::new(&name) {
            Ok(rel) => rel,
            Err(e) => return skip_unusable(&name, &e),
        };
        self.files += 1;
        if rel.as_str() == self.root.file_name() && self.own_name.is_none() {
            self.own_name = Some(size);
            return;
        }
        sink.file(self.root.join(&rel), size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    #[test]
    fn targets() {
        assert_eq!(
            target("s3", "bucket/dir", Some(&p("T/a b"))),
            "s3:bucket/dir/T/a b"
        );
        assert_eq!(target("s3", "", Some(&p("T"))), "s3:T");
        assert_eq!(target("s3", "bucket", None), "s3:bucket");
        let r = RcloneRemote::new(
            " gd: ",
            "x/",
            vec![],
            "rclone".into(),
            Limits {
                timeout: std::time::Duration::from_secs(5),
            },
        );
        assert_eq!(r.describe(), "rclone to gd:x");
    }

    #[test]
    fn hash_list_and_unsupported_hash() {
        let files = [(p("T/a b"), 1), (p("T/ü"), 2)];
        assert_eq!(files_from(&files).unwrap(), b"T/a b\nT/\xc3\xbc\n");
        assert_eq!(
            files_from(&[(p("T/new\nline"), 1)]).unwrap_err(),
            "T/new\nline"
        );
        assert!(hash_unsupported(
            "2026/11/30 07:28:54 ERROR : a: hash unsupported: hash type not supported\n"
        ));
        assert!(!hash_unsupported("directory not found"));
    }

    #[test]
    fn flags_bound_each_call() {
        assert_eq!(
            common_flags(std::time::Duration::from_secs(300)),
            [
                "--timeout=300s",
                "--contimeout=60s",
                "--retries=1",
                "--low-level-retries=2"
            ]
        );
        assert_eq!(common_flags(std::time::Duration::ZERO)[0], "--timeout=1s");
    }

    fn place(
        root: &str,
        json: &[u8],
    ) -> Result<(Placer<'static>, BTreeMap<RelPath, u64>), ListingError> {
        let root: &'static RelPath = Box::leak(Box::new(p(root)));
        let mut placer = Placer::new(root);
        let mut found = BTreeMap::new();
        read_lsjson(json, &mut |entry| placer.entry(entry, &mut found))?;
        Ok((placer, found))
    }

    #[test]
    fn lsjson_parsing() {
        let json = br#"[
{"Path":"a","Name":"a","Size":5,"MimeType":"application/octet-stream","ModTime":"2024-01-01T00:00:00Z","IsDir":false},
{"Path":"sub/b c","Name":"b c","Size":0,"IsDir":false},
{"Path":"sub","Name":"sub","Size":-1,"IsDir":true},
{"Path":"doc","Name":"doc","Size":-1,"IsDir":false},
{"Path":"caf\u00e9","Name":"caf\u00e9","Size":3,"IsDir":false},
{"Path":"T","Name":"T","Size":8,"IsDir":false},
{"Path":"../x","Name":"x","Size":1,"IsDir":false}
]"#;
        let (placer, got) = place("T", json).unwrap();
        let want: BTreeMap<RelPath, u64> = [(p("T/a"), 5), (p("T/sub/b c"), 0), (p("T/café"), 3)]
            .into_iter()
            .collect();
        assert_eq!(got, want);
        // The entry named like the root waits; with others beside it the
        // root is a directory.
        assert_eq!((placer.files, placer.own_name), (4, Some(8)));
        let (placer, got) = place(
            "dir/single.iso",
            br#"[{"Path":"single.iso","Name":"single.iso","Size":42,"IsDir":false}]"#,
        )
        .unwrap();
        assert!(got.is_empty());
        assert_eq!((placer.files, placer.own_name), (1, Some(42)));
        assert!(place("T", b"[]").unwrap().1.is_empty());
        assert!(place("T", b" [ ] \n").unwrap().1.is_empty());
    }

    #[test]
    fn names_in_rclone_encoding_are_decoded() {
        for (listed, name) in [
            ("new\u{240A}line", "new\nline"),
            ("tab\u{2409}here\u{2421}", "tab\there\u{7F}"),
            ("lit\u{201B}\u{240A}eral", "lit\u{240A}eral"),
            ("\u{201B}\u{201B}x", "\u{201B}x"),
            ("\u{201B}\u{201B}\u{201B}\u{240A}", "\u{201B}\u{240A}"),
            ("a\u{FF0F}b Ünï", "a\u{FF0F}b Ünï"),
            ("end\u{201B}", "end\u{201B}"),
        ] {
            assert_eq!(decode_name(listed), name, "{listed:?}");
        }
    }

    #[test]
    fn lsjson_is_read_element_by_element() {
        // 200,000 entries (about 12 MB of JSON) from a reader that yields
        // a few bytes at a time: only counts are kept.
        struct Generated {
            next: u64,
            total: u64,
            pending: Vec<u8>,
        }
        impl Read for Generated {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.pending.is_empty() {
                    self.pending = match self.next {
                        n if n == self.total => b"]".to_vec(),
                        n if n > self.total => return Ok(0),
                        n => format!(
                            "{}{{\"Path\":\"d/f{n}\",\"Name\":\"f{n}\",\"Size\":{n},\"IsDir\":false}}",
                            if n == 0 { "[" } else { "," }
                        )
                        .into_bytes(),
                    };
                    self.next += 1;
                }
                let n = buf.len().min(self.pending.len()).min(7);
                buf[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                Ok(n)
            }
        }
        let (mut count, mut sum) = (0u64, 0u64);
        let input = Generated {
            next: 0,
            total: 200_000,
            pending: Vec::new(),
        };
        read_lsjson(std::io::BufReader::new(input), &mut |e| {
            count += 1;
            sum += e.size as u64;
        })
        .unwrap();
        assert_eq!(count, 200_000);
        assert_eq!(sum, 199_999 * 200_000 / 2);
    }

    #[test]
    fn lsjson_errors() {
        for (bad, text) in [
            (&b""[..], "not rclone lsjson output: EOF while parsing"),
            (b"{", "invalid type: map, expected an array"),
            (b"[{\"Size\":1}]", "missing field `Path`"),
            (b"[{\"Path\":\"a\",\"Size\":\"1\"}]", "invalid type: string"),
            (b"[{\"Path\":\"a\",\"Size\":1}", "EOF while parsing a list"),
            (b"[] []", "trailing characters"),
        ] {
            let err = place("T", bad).unwrap_err();
            assert!(
                err.to_string().contains(text),
                "{:?}: {err}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
