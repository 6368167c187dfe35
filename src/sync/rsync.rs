//! rsync over SSH.
//!
//! Push: `rsync -a --partial-dir=.lowspace-partial --timeout=N --protect-args --relative -e SSH
//! ROOT/./PATH... HOST:BASE/`. `--relative` with the `/./` anchor keeps each
//! path's relative location under BASE (a single file of a multi-file
//! torrent lands in `BASE/Torrent/sub/file`), and `--protect-args` sends
//! names to the remote without a shell, so spaces and non-ASCII bytes need
//! no quoting and pass unchanged whatever LANG is.
//!
//! Listing: `ssh HOST find PATH -type f -printf '%s %P\0'`: NUL-separated
//! records survive any byte in a name (newlines included). This needs GNU
//! find on the remote (any Linux distribution; busybox's find lacks
//! -printf, which [`probe`](super::Remote::probe) reports).
//!
//! `ssh_command` from the configuration is a whole command line split on
//! whitespace ("ssh -p 2222 -i /home/pi/.ssh/nas"); there is no quoting,
//! so no argument may contain a space. When the program is `ssh`, lowspace
//! adds `-o BatchMode=yes` (never wait for a password nobody types) and
//! `-o ConnectTimeout=N`; options given in ssh_command come first and win.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use super::error::{failure_from_run, FailureKind, SyncError, Tool};
use super::{probe_name, transfer_wall_cap, Backend, Limits, RelPath};
use crate::process::{self, Ended, RunSpec};

pub(crate) struct RsyncRemote {
    host: String,
    base: String,
    ssh: Vec<String>,
    rsync: OsString,
    limits: Limits,
}

impl RsyncRemote {
    pub fn new(
        host: &str,
        path: &str,
        ssh_command: Option<&str>,
        rsync: OsString,
        limits: Limits,
    ) -> RsyncRemote {
        RsyncRemote {
            host: host.to_string(),
            base: normalize_base(path),
            ssh: ssh_argv(ssh_command, limits.timeout),
            rsync,
            limits,
        }
    }

    fn ssh_spec(&self, remote_command: String, wall: Duration) -> RunSpec {
        let (program, options) = match self.ssh.split_first() {
            Some((p, rest)) => (p.as_str(), rest),
            None => ("ssh", &[][..]),
        };
        RunSpec::new(program, wall)
            .args(options)
            .arg(&self.host)
            .arg(remote_command)
    }

    /// Runs a command on the remote; returns its standard output.
    fn remote(&self, command: String) -> Result<Vec<u8>, SyncError> {
        let spec = self.ssh_spec(command, self.limits.timeout);
        log::debug!("running {}", spec.display());
        let out = process::run(&spec).map_err(|e| SyncError::from_run_error(&e))?;
        if out.success() {
            return Ok(out.stdout);
        }
        Err(failure_from_run(
            Tool::Ssh,
            &self.describe(),
            out.ended,
            &out.stderr_text(),
            self.limits.timeout.as_secs(),
        ))
    }
}

impl Backend for RsyncRemote {
    fn describe(&self) -> String {
        format!("rsync to {}:{}", self.host, display_base(&self.base))
    }

    fn push_once(
        &self,
        local_root: &Path,
        paths: &[RelPath],
        files: &[(RelPath, u64)],
    ) -> Result<(), SyncError> {
        if !self.base.is_empty() {
            self.remote(format!("mkdir -p -- {}", shell_quote(&self.base)))?;
        }
        let root = std::path::absolute(local_root).map_err(|e| {
            SyncError::new(
                FailureKind::LocalSource,
                format!("cannot resolve {}: {e}", local_root.display()),
            )
        })?;
        let bytes = files.iter().map(|(_, n)| n).sum();
        let spec = RunSpec::new(&self.rsync, transfer_wall_cap(bytes, self.limits.timeout)).args(
            push_args(
                self.limits.timeout,
                &self.ssh.join(" "),
                &root,
                paths,
                &self.host,
                &self.base,
            ),
        );
        log::debug!("running {}", spec.display());
        let out = process::run(&spec).map_err(|e| SyncError::from_run_error(&e))?;
        if out.success() {
            return Ok(());
        }
        Err(failure_from_run(
            Tool::Rsync,
            &self.describe(),
            out.ended,
            &out.stderr_text(),
            self.limits.timeout.as_secs(),
        ))
    }

    fn list_once(&self, path: &RelPath) -> Result<BTreeMap<RelPath, u64>, SyncError> {
        let target = remote_join(&self.base, path);
        let spec = self.ssh_spec(find_command(&target), self.limits.timeout);
        let out = process::run(&spec).map_err(|e| SyncError::from_run_error(&e))?;
        let stderr = out.stderr_text();
        if !out.success() {
            // find says so when the path is not there: nothing copied yet.
            let absent = out.ended == Ended::Exited(1)
                && out.stdout.is_empty()
                && stderr.contains("No such file or directory");
            if absent {
                return Ok(BTreeMap::new());
            }
            return Err(failure_from_run(
                Tool::Ssh,
                &self.describe(),
                out.ended,
                &stderr,
                self.limits.timeout.as_secs(),
            ));
        }
        parse_find_listing(path, &out.stdout).map_err(|why| {
            SyncError::new(
                FailureKind::Other,
                format!(
                    "unexpected listing from {} for {path}: {why}",
                    self.describe()
                ),
            )
        })
    }

    fn probe_once(&self) -> Result<(), SyncError> {
        let version = RunSpec::new(&self.rsync, self.limits.timeout).arg("--version");
        let out = process::run(&version).map_err(|e| SyncError::from_run_error(&e))?;
        if !out.success() {
            return Err(SyncError::new(
                FailureKind::NotInstalled,
                format!(
                    "{} --version failed: the local rsync is broken; reinstall it (apt install rsync)",
                    self.rsync.to_string_lossy()
                ),
            ));
        }
        self.remote(probe_script(&self.base, &probe_name()))?;
        Ok(())
    }
}

/// The ssh command line: the configured one split on whitespace (default
/// `ssh`), plus batch mode and a connect timeout when it is ssh.
pub fn ssh_argv(ssh_command: Option<&str>, timeout: Duration) -> Vec<String> {
    let mut argv: Vec<String> = ssh_command
        .unwrap_or("ssh")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if argv.is_empty() {
        argv.push("ssh".to_string());
    }
    let is_ssh = argv
        .first()
        .map(|p| p.rsplit('/').next() == Some("ssh"))
        .unwrap_or(false);
    if is_ssh {
        let connect = timeout.as_secs().clamp(1, 60);
        argv.extend([
            "-o".to_string(),
            "BatchMode=yes".to_string(),
            "-o".to_string(),
            format!("ConnectTimeout={connect}"),
        ]);
    }
    argv
}

/// The remote base directory without trailing slashes; `~/x` and `x` both
/// mean x in the login's home directory (ssh commands run there), and an
/// empty base is the home directory itself.
pub fn normalize_base(path: &str) -> String {
    let path = path.trim();
    let path = path.strip_prefix("~/").unwrap_or(path);
    let path = if path == "~" { "" } else { path };
    if path.chars().all(|c| c == '/') && !path.is_empty() {
        return "/".to_string();
    }
    path.trim_end_matches('/').to_string()
}

fn display_base(base: &str) -> &str {
    if base.is_empty() {
        "~"
    } else {
        base
    }
}

/// `base/rel` as the remote sees it.
pub fn remote_join(base: &str, rel: &RelPath) -> String {
    match base {
        "" => rel.as_str().to_string(),
        "/" => format!("/{rel}"),
        _ => format!("{base}/{rel}"),
    }
}

/// Quotes one word for a POSIX shell: everything between single quotes,
/// single quotes themselves as '\''. A leading '-' is made a path ("./-x")
/// so no command takes it for an option.
pub fn shell_quote(word: &str) -> String {
    let word = if word.starts_with('-') {
        format!("./{word}")
    } else {
        word.to_string()
    };
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The arguments of one rsync push.
pub fn push_args(
    timeout: Duration,
    ssh_command: &str,
    local_root: &Path,
    paths: &[RelPath],
    host: &str,
    base: &str,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "-a",
        // Partial files wait in their own directory: an interrupted
        // transfer must never replace a copy that was already verified.
        "--partial-dir=.lowspace-partial",
        &format!("--timeout={}", timeout.as_secs().max(1)),
        "--protect-args",
        "--relative",
        "-e",
        ssh_command,
    ]
    .iter()
    .map(OsString::from)
    .collect();
    for rel in paths {
        // ROOT/./REL: --relative keeps what follows the "/./" anchor.
        args.push(local_root.join(".").join(rel).into_os_string());
    }
    let dest = match base {
        "" => format!("{host}:"),
        "/" => format!("{host}:/"),
        _ => format!("{host}:{base}/"),
    };
    args.push(dest.into());
    args
}

/// The remote command listing regular files with sizes, NUL-separated.
pub fn find_command(target: &str) -> String {
    format!(
        "LC_ALL=C find {} -type f -printf '%s %P\\0'",
        shell_quote(target)
    )
}

/// The remote script behind `probe`: tools installed, directory creatable,
/// a file writable and removable.
pub fn probe_script(base: &str, probe: &str) -> String {
    let dir = if base.is_empty() { "." } else { base };
    let dir_q = shell_quote(dir);
    let file_q = shell_quote(&format!("{}/{}", dir.trim_end_matches('/'), probe));
    format!(
        "command -v rsync >/dev/null 2>&1 || {{ echo 'rsync: command not found on the remote (install rsync there)' >&2; exit 127; }}; \
         mkdir -p -- {dir_q} || exit 1; \
         LC_ALL=C find {dir_q} -maxdepth 0 -printf '' >/dev/null 2>&1 || {{ echo 'the remote find has no -printf: find: command not found (install GNU findutils there)' >&2; exit 127; }}; \
         printf 'lowspace probe\\n' > {file_q} || exit 1; \
         rm -f -- {file_q}"
    )
}

/// Parses `find -printf '%s %P\0'` output for a listing of `root`. An
/// empty `%P` is `root` itself (it is a file).
pub fn parse_find_listing(root: &RelPath, output: &[u8]) -> Result<BTreeMap<RelPath, u64>, String> {
    let mut out = BTreeMap::new();
    let records = output.strip_suffix(b"\0").unwrap_or(output);
    if records.is_empty() {
        return Ok(out);
    }
    for record in records.split(|b| *b == 0) {
        let space = record.iter().position(|b| *b == b' ').ok_or_else(|| {
            format!(
                "record without a size: {:?}",
                String::from_utf8_lossy(record)
            )
        })?;
        let (size, name) = record.split_at(space);
        let name = name.get(1..).unwrap_or(&[]);
        let size: u64 = std::str::from_utf8(size)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad size {:?}", String::from_utf8_lossy(size)))?;
        let Ok(name) = std::str::from_utf8(name) else {
            // Not a name lowspace could have written; it cannot be expected.
            log::debug!(
                "ignoring remote file with a non-UTF-8 name: {}",
                String::from_utf8_lossy(name)
            );
            continue;
        };
        let path = if name.is_empty() {
            root.clone()
        } else {
            match RelPath::new(name) {
                Ok(rel) => root.join(&rel),
                Err(e) => return Err(e.to_string()),
            }
        };
        out.insert(path, size);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).unwrap()
    }

    #[test]
    fn ssh_command_lines() {
        let t = Duration::from_secs(300);
        assert_eq!(
            ssh_argv(None, t),
            ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=60"]
        );
        assert_eq!(
            ssh_argv(
                Some("  /usr/bin/ssh -p 2222   -i key "),
                Duration::from_secs(5)
            ),
            [
                "/usr/bin/ssh",
                "-p",
                "2222",
                "-i",
                "key",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=5"
            ]
        );
        assert_eq!(ssh_argv(Some("dbclient -y"), t), ["dbclient", "-y"]);
        assert_eq!(ssh_argv(Some("   "), Duration::ZERO)[0], "ssh");
    }

    #[test]
    fn base_paths() {
        for (given, base) in [
            ("/srv/torrents/", "/srv/torrents"),
            ("/srv//", "/srv"),
            ("/", "/"),
            ("//", "/"),
            ("backup", "backup"),
            ("~/backup/", "backup"),
            ("~", ""),
            ("", ""),
        ] {
            assert_eq!(normalize_base(given), base, "{given:?}");
        }
        assert_eq!(remote_join("/srv", &p("T/a")), "/srv/T/a");
        assert_eq!(remote_join("/", &p("T")), "/T");
        assert_eq!(remote_join("", &p("T")), "T");
    }

    #[test]
    fn quoting() {
        for (word, quoted) in [
            ("plain", "'plain'"),
            ("with space", "'with space'"),
            ("it's", r"'it'\''s'"),
            ("$(rm -rf /)", "'$(rm -rf /)'"),
            ("-rf", "'./-rf'"),
            ("Ünï", "'Ünï'"),
        ] {
            assert_eq!(shell_quote(word), quoted);
        }
    }

    #[test]
    fn push_arguments_anchor_each_path() {
        let args = push_args(
            Duration::from_secs(30),
            "ssh -p 22",
            Path::new("/data/dl"),
            &[p("My Torrent"), p("Other/sub/f.bin")],
            "nas",
            "/srv",
        );
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
        assert_eq!(
            args,
            [
                "-a",
                "--partial-dir=.lowspace-partial",
                "--timeout=30",
                "--protect-args",
                "--relative",
                "-e",
                "ssh -p 22",
                "/data/dl/./My Torrent",
                "/data/dl/./Other/sub/f.bin",
                "nas:/srv/"
            ]
        );
        let home = push_args(Duration::ZERO, "ssh", Path::new("/d"), &[p("x")], "h", "");
        assert_eq!(home.last().unwrap(), "h:");
        assert_eq!(home.get(2).unwrap(), "--timeout=1");
    }

    #[test]
    fn find_listing_parsing() {
        let root = p("T");
        let out = b"5 a\x0012 sub/b c\x000 .x.abcd\x003 caf\xc3\xa9\x00";
        let got = parse_find_listing(&root, out).unwrap();
        let want: BTreeMap<RelPath, u64> = [
            (p("T/a"), 5),
            (p("T/sub/b c"), 12),
            (p("T/.x.abcd"), 0),
            (p("T/café"), 3),
        ]
        .into_iter()
        .collect();
        assert_eq!(got, want);
        // The root itself is a file.
        let single = parse_find_listing(&p("single.iso"), b"42 \x00").unwrap();
        assert_eq!(single.get(&p("single.iso")), Some(&42));
        assert!(parse_find_listing(&root, b"").unwrap().is_empty());
        // Names with a newline are fine: records end at NUL.
        let nl = parse_find_listing(&root, b"1 a\nb\x00").unwrap();
        assert_eq!(nl.get(&p("T/a\nb")), Some(&1));
        // Non-UTF-8 names are skipped, not fatal.
        assert!(parse_find_listing(&root, b"1 \xff\x00").unwrap().is_empty());
    }

    #[test]
    fn find_listing_errors() {
        let root = p("T");
        for bad in [
            &b"nospace\x00"[..],
            b"x a\x00",
            b"-1 a\x00",
            b"1 ../up\x00",
            b"1 /abs\x00",
        ] {
            assert!(parse_find_listing(&root, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn remote_commands_are_quoted() {
        assert_eq!(
            find_command("/srv/it's here"),
            r"LC_ALL=C find '/srv/it'\''s here' -type f -printf '%s %P\0'"
        );
        let script = probe_script("/srv/x y", ".lowspace-probe-1");
        assert!(script.contains("mkdir -p -- '/srv/x y'"));
        assert!(script.contains("> '/srv/x y/.lowspace-probe-1'"));
        assert!(probe_script("", "p").contains("'./p'"));
    }
}
