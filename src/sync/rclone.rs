//! rclone to `remote:path`, with the RCLONE_* variables from the
//! configuration added to its environment.
//!
//! Push: one rclone call per path: `rclone copy DIR remote:base/DIR` for a
//! directory tree, `rclone copyto FILE remote:base/FILE` for a file. rclone's
//! own retries are turned down (`--retries 1`), so the attempts per run are
//! the ones lowspace counts; `--timeout`/`--contimeout` bound stalls.
//!
//! Listing: `rclone lsjson -R --files-only remote:base/PATH` (JSON keeps
//! every name intact). A path that is a single file lists as that file.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use serde::Deserialize;

use super::error::{failure_from_run, FailureKind, SyncError, Tool};
use super::{probe_name, transfer_wall_cap, Backend, Limits, RelPath};
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

    /// Whether `path` is a directory, from a listing of its parent.
    fn is_dir(&self, path: &RelPath) -> Result<bool, SyncError> {
        let spec = self
            .spec(self.limits.timeout)
            .args(["lsjson", "--dirs-only"])
            .arg(self.target(path.parent().as_ref()));
        let out = self.run(&spec)?;
        if !out.success() {
            return Err(self.fail(&out));
        }
        let dirs: Vec<LsjsonEntry> = serde_json::from_slice(&out.stdout)
            .map_err(|e| self.bad_listing(path, &e.to_string()))?;
        Ok(dirs.iter().any(|d| d.is_dir && d.path == path.file_name()))
    }

    fn fail(&self, out: &RunOutput) -> SyncError {
        failure_from_run(
            Tool::Rclone,
            &self.describe(),
            out.ended,
            &out.stderr_text(),
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

    fn list_once(&self, path: &RelPath) -> Result<BTreeMap<RelPath, u64>, SyncError> {
        let spec = self
            .spec(self.limits.timeout)
            .args(["lsjson", "-R", "--files-only"])
            .arg(self.target(Some(path)));
        let out = self.run(&spec)?;
        if !out.success() {
            // rclone's exit code 3 is "directory not found": nothing copied yet.
            let text = out.stderr_text().to_ascii_lowercase();
            if out.ended == Ended::Exited(3)
                || text.contains("directory not found")
                || text.contains("object not found")
            {
                return Ok(BTreeMap::new());
            }
            return Err(self.fail(&out));
        }
        let entries = parse_lsjson(&out.stdout).map_err(|why| self.bad_listing(path, &why))?;
        let root_is_file = is_ambiguous(path, &entries) && !self.is_dir(path)?;
        Ok(place_entries(path, entries, root_is_file))
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

#[derive(Deserialize)]
struct LsjsonEntry {
    #[serde(rename = "Path")]
    path: String,
    #[serde(rename = "Size")]
    size: i64,
    #[serde(rename = "IsDir", default)]
    is_dir: bool,
}

/// Parses `rclone lsjson` output into (path, size) of its files. Entries
/// of unknown size (-1) are left out: they cannot prove a copy.
pub fn parse_lsjson(json: &[u8]) -> Result<Vec<(RelPath, u64)>, String> {
    let entries: Vec<LsjsonEntry> =
        serde_json::from_slice(json).map_err(|e| format!("not rclone lsjson output: {e}"))?;
    let mut out = Vec::new();
    for entry in entries {
        if entry.is_dir {
            continue;
        }
        let rel = RelPath::new(&entry.path).map_err(|e| e.to_string())?;
        match u64::try_from(entry.size) {
            Ok(size) => out.push((rel, size)),
            Err(_) => log::debug!("ignoring {rel} of unknown size"),
        }
    }
    Ok(out)
}

/// Listing a file `T` gives one entry `T`; listing a directory `T` that
/// holds only a file `T` gives the same. Only then must the caller find out
/// which one `root` is.
pub fn is_ambiguous(root: &RelPath, entries: &[(RelPath, u64)]) -> bool {
    matches!(entries, [(only, _)] if only.as_str() == root.file_name())
}

/// Keys a listing of `root` by paths from the remote root.
pub fn place_entries(
    root: &RelPath,
    entries: Vec<(RelPath, u64)>,
    root_is_file: bool,
) -> BTreeMap<RelPath, u64> {
    entries
        .into_iter()
        .map(|(rel, size)| {
            if root_is_file {
                (root.clone(), size)
            } else {
                (root.join(&rel), size)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn lsjson_parsing() {
        let json = br#"[
{"Path":"a","Name":"a","Size":5,"MimeType":"application/octet-stream","ModTime":"2024-01-01T00:00:00Z","IsDir":false},
{"Path":"sub/b c","Name":"b c","Size":0,"IsDir":false},
{"Path":"sub","Name":"sub","Size":-1,"IsDir":true},
{"Path":"doc","Name":"doc","Size":-1,"IsDir":false},
{"Path":"caf\u00e9","Name":"caf\u00e9","Size":3,"IsDir":false}
]"#;
        let entries = parse_lsjson(json).unwrap();
        assert!(!is_ambiguous(&p("T"), &entries));
        let got = place_entries(&p("T"), entries, false);
        let want: BTreeMap<RelPath, u64> = [(p("T/a"), 5), (p("T/sub/b c"), 0), (p("T/café"), 3)]
            .into_iter()
            .collect();
        assert_eq!(got, want);
        let single =
            parse_lsjson(br#"[{"Path":"single.iso","Name":"single.iso","Size":42,"IsDir":false}]"#)
                .unwrap();
        let root = p("dir/single.iso");
        assert!(is_ambiguous(&root, &single));
        assert_eq!(
            place_entries(&root, single.clone(), true).get(&root),
            Some(&42)
        );
        assert_eq!(
            place_entries(&root, single, false).get(&p("dir/single.iso/single.iso")),
            Some(&42)
        );
        assert!(parse_lsjson(b"[]").unwrap().is_empty());
    }

    #[test]
    fn lsjson_errors() {
        for bad in [
            &b""[..],
            b"{",
            b"[{\"Path\":\"../x\",\"Size\":1}]",
            b"[{\"Size\":1}]",
        ] {
            assert!(
                parse_lsjson(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
