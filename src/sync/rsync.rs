//! rsync over SSH.
//!
//! Push: `rsync -a --partial-dir=.lowspace-partial --timeout=N --protect-args --relative -e SSH
//! ROOT/./PATH... HOST:BASE/`. `--relative` with the `/./` anchor keeps each
//! path's relative location under BASE (a single file of a multi-file
//! torrent lands in `BASE/Torrent/sub/file`), and `--protect-args` sends
//! names to the remote without a shell, so spaces and non-ASCII bytes need
//! no quoting and pass unchanged whatever LANG is.
//!
//! With an rsync that has `--fsync` (3.2.4 and later) on both sides, the
//! push adds it, so every file the receiving rsync wrote is on the remote
//! disk before the listing verifies it: a power cut on the remote right
//! after lowspace deleted its local copy cannot take the copy with it.
//! The local rsync is asked once per run (`rsync --help`); a remote rsync
//! that refuses the option ("--fsync: unknown option") costs one warning
//! and the pushes go on without it.
//!
//! Listing: `rsync --list-only -r --no-h -8 --protect-args -e SSH
//! HOST:BASE/PATH`, read line by line as it arrives ([`read_list_only`]).
//! The remote needs nothing beyond the rsync the push needs already: no
//! shell tool at all, so BusyBox and BSD boxes (whose `find` has no
//! `-printf`) list like any Linux. The other candidates were worse: a POSIX
//! `find -exec ls -ln` has no robust name framing (ls escapes nothing, a
//! newline in a name breaks the line), and `find -exec sh -c 'wc -c'`
//! reads every byte of every file on BusyBox. rsync's format is exact:
//! `PERMS SIZE DATE TIME NAME`, one entry a line, where `--no-h` gives bare
//! digits (the default groups them as "1,234,567"), and every byte of a
//! name that could break the line (control characters, newlines; without
//! `-8` also non-ASCII) is written `\#ooo` in octal, a literal `\#ddd` in
//! a name having its backslash escaped too, so decoding is unambiguous.
//! Names come out relative to the listed path's parent, for a file and for
//! a directory alike.
//!
//! `ssh_command` from the configuration arrives as words (split once, in
//! [`crate::config::split_command_line`]). The ssh runs (mkdir, probe)
//! start those words directly; rsync's `-e` gets them re-quoted in rsync's
//! own syntax ([`rsync_shell_arg`]), so both run the same argv whatever the
//! words hold. When the program is `ssh`, lowspace adds
//! `-o BatchMode=yes` (never wait for a password nobody types) and
//! `-o ConnectTimeout=N`; options given in ssh_command come first and win.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use super::error::{failure_from_run, FailureKind, SyncError, Tool};
use super::hash::{read_ordered, RemoteDigests};
use super::listing::skip_unusable;
use super::{
    listing_wall_cap, probe_name, transfer_wall_cap, Backend, Limits, ListingError, ListingSink,
    RelPath,
};
use crate::process::{self, Ended, RunSpec};

pub(crate) struct RsyncRemote {
    host: String,
    base: String,
    ssh: Vec<String>,
    rsync: OsString,
    limits: Limits,
    /// Whether pushes pass `--fsync`; None until the first push asks.
    fsync: Mutex<Option<bool>>,
}

impl RsyncRemote {
    pub fn new(
        host: &str,
        path: &str,
        ssh_command: Option<&[String]>,
        rsync: OsString,
        limits: Limits,
    ) -> RsyncRemote {
        RsyncRemote {
            host: host.to_string(),
            base: normalize_base(path),
            ssh: ssh_argv(ssh_command, limits.timeout),
            rsync,
            limits,
            fsync: Mutex::new(None),
        }
    }

    /// Whether to pass `--fsync`: the local rsync is asked once.
    fn use_fsync(&self) -> bool {
        let mut known = self.fsync.lock().unwrap_or_else(|e| e.into_inner());
        *known.get_or_insert_with(|| {
            let help = RunSpec::new(&self.rsync, self.limits.timeout).arg("--help");
            let has = process::run(&help)
                .map(|out| help_lists_fsync(&out.stdout))
                .unwrap_or(false);
            if !has {
                log::warn!(
                    "{} has no --fsync (rsync 3.2.4 or later has it): copies are verified but may sit in the remote's cache for a few seconds after lowspace deletes the local data",
                    self.rsync.to_string_lossy()
                );
            }
            has
        })
    }

    fn no_fsync(&self) {
        *self.fsync.lock().unwrap_or_else(|e| e.into_inner()) = Some(false);
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

    fn fail(&self, tool: Tool, ended: Ended, stderr: &str) -> SyncError {
        failure_from_run(
            tool,
            &self.describe(),
            ended,
            stderr,
            self.limits.timeout.as_secs(),
        )
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
        let mut fsync = self.use_fsync();
        loop {
            let spec = RunSpec::new(&self.rsync, transfer_wall_cap(bytes, self.limits.timeout))
                .args(push_args(
                    self.limits.timeout,
                    &rsync_shell_arg(&self.ssh),
                    &root,
                    paths,
                    &self.host,
                    &self.base,
                    fsync,
                ));
            log::debug!("running {}", spec.display());
            let out = process::run(&spec).map_err(|e| SyncError::from_run_error(&e))?;
            if out.success() {
                return Ok(());
            }
            let stderr = out.stderr_text();
            if fsync && remote_refused_fsync(&stderr) {
                log::warn!(
                    "{}: the remote rsync has no --fsync (rsync 3.2.4 or later has it); copying without it, so a power cut on the remote just after a run may lose copies lowspace verified",
                    self.describe()
                );
                self.no_fsync();
                fsync = false;
                continue;
            }
            return Err(failure_from_run(
                Tool::Rsync,
                &self.describe(),
                out.ended,
                &stderr,
                self.limits.timeout.as_secs(),
            ));
        }
    }

    fn list_once(&self, path: &RelPath, sink: &mut dyn ListingSink) -> Result<(), SyncError> {
        let spec = RunSpec::new(&self.rsync, listing_wall_cap(self.limits.timeout))
            .idle_timeout(self.limits.timeout)
            .args(list_args(
                self.limits.timeout,
                &rsync_shell_arg(&self.ssh),
                &self.host,
                &remote_join(&self.base, path),
            ));
        log::debug!("running {}", spec.display());
        let out = process::run_streaming(&spec, |stdout| read_list_only(stdout, path, sink))
            .map_err(|e| SyncError::from_run_error(&e))?;
        let stderr = out.stderr_text();
        if !out.success() {
            // rsync says so when the path (link_stat) or a directory above
            // it (change_dir) is not there: nothing copied yet.
            let absent = out.ended == Ended::Exited(23)
                && (stderr.contains("link_stat") || stderr.contains("change_dir"))
                && stderr.contains("No such file or directory");
            if absent {
                return Ok(());
            }
            return Err(self.fail(Tool::Rsync, out.ended, &stderr));
        }
        out.value.map_err(|why| {
            SyncError::new(
                FailureKind::Other,
                format!(
                    "unexpected listing from {} for {path}: {why}",
                    self.describe()
                ),
            )
        })
    }

    fn hash_once(
        &self,
        files: &[(RelPath, u64)],
        digests: &mut RemoteDigests<'_>,
    ) -> Result<(), SyncError> {
        for batch in hash_batches(&self.base, files, MAX_HASH_COMMAND) {
            let names: Vec<&RelPath> = batch.iter().map(|(p, _)| p).collect();
            let bytes = batch.iter().map(|(_, n)| n).sum();
            // No idle timeout: sha1sum prints nothing while it reads a
            // 50 GB file. The wall cap allows the slowest transfer rate.
            let spec = self.ssh_spec(
                hash_script(&self.base, &names),
                transfer_wall_cap(bytes, self.limits.timeout),
            );
            log::debug!(
                "{}: hashing {} files ({bytes} bytes) on the remote",
                self.describe(),
                names.len()
            );
            let out = process::run_streaming(&spec, |stdout| read_ordered(stdout, &names, digests))
                .map_err(|e| SyncError::from_run_error(&e))?;
            if !out.success() {
                return Err(self.fail(Tool::Ssh, out.ended, &out.stderr_text()));
            }
            out.value.map_err(|why| {
                SyncError::new(
                    FailureKind::Other,
                    format!(
                        "unexpected output from sha1sum on {}: {why}",
                        self.describe()
                    ),
                )
            })?;
        }
        Ok(())
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
        let probe = probe_name();
        let rel =
            RelPath::new(&probe).map_err(|e| SyncError::new(FailureKind::Other, e.to_string()))?;
        self.remote(probe_script(&self.base, &probe))?;
        // The file just written must show in a listing as verification
        // reads it, or no copy could ever be verified there.
        let mut listing = BTreeMap::new();
        let listed = self
            .list_once(&rel, &mut listing)
            .map(|()| listing.get(&rel).copied());
        let removed = self.remote(format!(
            "rm -f -- {}",
            shell_quote(&remote_join(&self.base, &rel))
        ));
        match listed? {
            Some(size) if size == PROBE_CONTENT.len() as u64 => {}
            found => {
                return Err(SyncError::new(
                    FailureKind::Other,
                    format!(
                        "{}: the probe file {probe} was written but its listing (rsync --list-only) shows {}; verification cannot work there",
                        self.describe(),
                        match found {
                            Some(size) => format!("{size} bytes instead of {}", PROBE_CONTENT.len()),
                            None => "nothing".to_string(),
                        }
                    ),
                ))
            }
        }
        removed.map(|_| ())
    }
}

/// The longest remote command of one hashing batch. The command reaches
/// the remote shell as one argument (`sh -c COMMAND`), and Linux refuses a
/// single argument over 128 KiB whatever ARG_MAX is; half of that leaves
/// room for the login shell's own wrapping.
pub const MAX_HASH_COMMAND: usize = 64 * 1024;

/// The shell loop that prints one line per file, in order: `HEX  -` from
/// `sha1sum < FILE`, or `?` for a file that cannot be read. Names never
/// come back, so they need no escaping on the way out; on the way in each
/// is quoted for the shell. A missing sha1sum ends it with 127 before any
/// output and a message naming the program.
pub fn hash_script(base: &str, names: &[&RelPath]) -> String {
    let mut script = hash_script_head(base);
    for name in names {
        script.push(' ');
        script.push_str(&shell_quote(name.as_str()));
    }
    script.push_str(HASH_SCRIPT_TAIL);
    script
}

fn hash_script_head(base: &str) -> String {
    let mut head = String::from(
        "command -v sha1sum >/dev/null 2>&1 || { echo 'lowspace: sha1sum: command not found on the remote (install coreutils or busybox there, or use verify = \"size\")' >&2; exit 127; }; ",
    );
    if !base.is_empty() {
        head.push_str(&format!("cd -- {} || exit 1; ", shell_quote(base)));
    }
    head.push_str("for f in");
    head
}

const HASH_SCRIPT_TAIL: &str = "; do sha1sum < \"$f\" || echo '?'; done";

/// `files` cut into runs whose [`hash_script`] stays within `limit` bytes
/// (a file whose name alone is longer goes alone).
pub fn hash_batches<'a>(
    base: &str,
    files: &'a [(RelPath, u64)],
    limit: usize,
) -> Vec<&'a [(RelPath, u64)]> {
    let fixed = hash_script_head(base).len() + HASH_SCRIPT_TAIL.len();
    let mut batches = Vec::new();
    let (mut start, mut length) = (0, fixed);
    for (i, (name, _)) in files.iter().enumerate() {
        let word = 1 + shell_quote(name.as_str()).len();
        if i > start && length + word > limit {
            batches.extend(files.get(start..i));
            start = i;
            length = fixed;
        }
        length += word;
    }
    if start < files.len() {
        batches.extend(files.get(start..));
    }
    batches
}

/// What the probe writes on the remote.
const PROBE_CONTENT: &str = "lowspace probe\n";

/// The ssh command line: the configured words (default `ssh`), plus batch
/// mode and a connect timeout when it is ssh.
pub fn ssh_argv(ssh_command: Option<&[String]>, timeout: Duration) -> Vec<String> {
    let mut argv: Vec<String> = ssh_command.map(<[String]>::to_vec).unwrap_or_default();
    if argv.first().is_none_or(|p| p.is_empty()) {
        argv = vec!["ssh".to_string()];
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

/// `argv` as one rsync `-e` argument. rsync splits `-e` itself, on spaces,
/// with `'` and `"` quoting and a doubled quote character inside quotes
/// standing for itself (and no backslash escapes); every word is written
/// in double quotes with its `"` doubled, so rsync gets back exactly these
/// words, spaces, quotes, backslashes and empty words included.
pub fn rsync_shell_arg(argv: &[String]) -> String {
    argv.iter()
        .map(|word| format!("\"{}\"", word.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The arguments of one rsync listing of `target` on `host`.
pub fn list_args(timeout: Duration, ssh_command: &str, host: &str, target: &str) -> Vec<OsString> {
    [
        "--list-only",
        "-r",
        // Sizes as bare digits, and names as raw bytes but for the
        // line-breaking ones (see the module documentation).
        "--no-h",
        "-8",
        "--protect-args",
        &format!("--timeout={}", timeout.as_secs().max(1)),
        "-e",
        ssh_command,
        &format!("{host}:{target}"),
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

/// The arguments of one rsync push.
pub fn push_args(
    timeout: Duration,
    ssh_command: &str,
    local_root: &Path,
    paths: &[RelPath],
    host: &str,
    base: &str,
    fsync: bool,
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
    if fsync {
        args.push("--fsync".into());
    }
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

/// Whether `rsync --help` output lists `--fsync`.
pub fn help_lists_fsync(help: &[u8]) -> bool {
    help.split(|&b| b == b'\n').any(|line| {
        line.split(|b| b.is_ascii_whitespace())
            .any(|word| word == b"--fsync")
    })
}

/// Whether a failed push failed only because the remote rsync does not
/// know `--fsync` (older than 3.2.4): "rsync: on remote machine: --fsync:
/// unknown option".
pub fn remote_refused_fsync(stderr: &str) -> bool {
    stderr
        .lines()
        .any(|l| l.contains("--fsync") && l.contains("unknown option"))
}

/// The remote script behind `probe`: rsync installed, directory
/// creatable, a file writable (its listing and removal follow).
pub fn probe_script(base: &str, probe: &str) -> String {
    let dir = if base.is_empty() { "." } else { base };
    let dir_q = shell_quote(dir);
    let file_q = shell_quote(&format!("{}/{}", dir.trim_end_matches('/'), probe));
    format!(
        "command -v rsync >/dev/null 2>&1 || {{ echo 'rsync: command not found on the remote (install rsync there)' >&2; exit 127; }}; \
         mkdir -p -- {dir_q} || exit 1; \
         printf 'lowspace probe\\n' > {file_q}"
    )
}

/// The longest line a listing may have: a 4096-byte path with every byte
/// escaped (5 bytes each) and the fields before it fit well within.
pub const MAX_LIST_LINE: usize = 64 * 1024;

/// Reads `rsync --list-only` output for a listing of `root` into `sink`,
/// one line at a time (memory bounded by [`MAX_LIST_LINE`]). Names that
/// are not UTF-8 or not safe relative paths are skipped and logged; lines
/// that are not listing entries fail the listing.
pub fn read_list_only(
    input: &mut dyn BufRead,
    root: &RelPath,
    sink: &mut dyn ListingSink,
) -> Result<(), ListingError> {
    let parent = root.parent();
    let own_name = root.file_name();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = Read::take(&mut *input, MAX_LIST_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(ListingError::Read)?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if line.len() > MAX_LIST_LINE {
            return Err(ListingError::LineTooLong {
                line: number,
                limit: MAX_LIST_LINE,
            });
        }
        let (size, name) = match parse_list_line(&line) {
            Ok(Some(entry)) => entry,
            Ok(None) => continue,
            Err(why) => return Err(ListingError::Line { line: number, why }),
        };
        let name = match String::from_utf8(name) {
            Ok(name) => name,
            Err(e) => {
                // Not a name lowspace could have written: never expected.
                log::debug!(
                    "ignoring remote file with a non-UTF-8 name: {}",
                    String::from_utf8_lossy(e.as_bytes())
                );
                continue;
            }
        };
        let rel = match RelPath::new(&name) {
            Ok(rel) => rel,
            Err(e) => {
                skip_unusable(&name, &e);
                continue;
            }
        };
        let inside = rel.as_str() == own_name
            || rel
                .as_str()
                .strip_prefix(own_name)
                .is_some_and(|rest| rest.starts_with('/'));
        if !inside {
            skip_unusable(&name, &format!("it is not under the listed {root}"));
            continue;
        }
        let path = match &parent {
            Some(parent) => parent.join(&rel),
            None => rel,
        };
        sink.file(path, size);
    }
}

/// One line of `rsync --list-only --no-h` output: the size and (decoded)
/// name of a regular file; `None` for directories, links and devices.
pub fn parse_list_line(line: &[u8]) -> Result<Option<(u64, Vec<u8>)>, String> {
    let shown = || String::from_utf8_lossy(line).into_owned();
    let shape = || {
        format!(
            "expected PERMISSIONS SIZE DATE TIME NAME, found {:?}",
            shown()
        )
    };
    // PERMS, blanks (the size is right-aligned), SIZE, DATE, TIME, then
    // one space and the name, which may itself start with spaces.
    let (perms, rest) = split_field(line).ok_or_else(shape)?;
    let (size, rest) = split_field(trim_blanks(rest)).ok_or_else(shape)?;
    let (_date, rest) = split_field(rest).ok_or_else(shape)?;
    let (_time, name) = split_field(rest).ok_or_else(shape)?;
    if perms.len() < 10 || name.is_empty() {
        return Err(shape());
    }
    if perms.first() != Some(&b'-') {
        return Ok(None);
    }
    let size = parse_size(size).ok_or_else(|| {
        format!(
            "bad size {:?} in {:?}",
            String::from_utf8_lossy(size),
            shown()
        )
    })?;
    let name = unescape_name(name).map_err(|why| format!("{why} in {:?}", shown()))?;
    Ok(Some((size, name)))
}

/// The field up to the next space, and what follows that space.
fn split_field(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = text.iter().position(|b| *b == b' ')?;
    let (field, rest) = text.split_at(space);
    if field.is_empty() {
        return None;
    }
    Some((field, rest.get(1..).unwrap_or(&[])))
}

fn trim_blanks(text: &[u8]) -> &[u8] {
    let start = text.iter().position(|b| *b != b' ').unwrap_or(text.len());
    text.get(start..).unwrap_or(&[])
}

/// Bare digits, or digits grouped by threes with `,` `.` or `'` (what
/// rsync prints without `--no-h`, by locale); a unit suffix is refused.
pub fn parse_size(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let separator = text.chars().find(|c| !c.is_ascii_digit())?;
    if !matches!(separator, ',' | '.' | '\'') {
        return None;
    }
    let mut groups = text.split(separator);
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 {
        return None;
    }
    let mut digits = first.to_string();
    for group in groups {
        if group.len() != 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.push_str(group);
    }
    if !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Undoes rsync's `\#ooo` escapes (three octal digits, one byte).
pub fn unescape_name(name: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(name.len());
    let mut i = 0;
    while let Some(&b) = name.get(i) {
        if b == b'\\' && name.get(i + 1) == Some(&b'#') {
            if let Some(digits) = name.get(i + 2..i + 5) {
                if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                    let value = digits
                        .iter()
                        .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                    let byte = u8::try_from(value).map_err(|_| {
                        format!(
                            "escape \\#{} is not a byte",
                            String::from_utf8_lossy(digits)
                        )
                    })?;
                    out.push(byte);
                    i += 5;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
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
        let words =
            |line: &str| -> Vec<String> { crate::config::split_command_line(line).unwrap() };
        assert_eq!(
            ssh_argv(None, t),
            ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=60"]
        );
        assert_eq!(
            ssh_argv(
                Some(&words("  /usr/bin/ssh -p 2222   -i key ")),
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
        assert_eq!(ssh_argv(Some(&words("dbclient -y")), t), ["dbclient", "-y"]);
        assert_eq!(ssh_argv(Some(&[]), Duration::ZERO)[0], "ssh");
        assert_eq!(
            ssh_argv(Some(&words(r#"ssh -i "/home/pi/my keys/nas""#)), t)[..3],
            ["ssh", "-i", "/home/pi/my keys/nas"]
        );
    }

    /// rsync's own splitting of `-e`, as in rsync's main.c (do_cmd), to
    /// check that what we write comes back as the same words.
    fn rsync_split(arg: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut chars = arg.chars().peekable();
        loop {
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            if chars.peek().is_none() {
                return words;
            }
            let (mut word, mut quote) = (String::new(), None);
            while let Some(c) = chars.next() {
                match (c, quote) {
                    (' ', None) => break,
                    ('\'' | '"', None) => quote = Some(c),
                    (c, Some(q)) if c == q => {
                        if chars.peek() == Some(&q) {
                            word.push(q);
                            chars.next();
                        } else {
                            quote = None;
                        }
                    }
                    (c, _) => word.push(c),
                }
            }
            words.push(word);
        }
    }

    #[test]
    fn rsync_e_argument_gives_back_the_same_words() {
        let cases: &[&[&str]] = &[
            &["ssh"],
            &["ssh", "-p", "2222", "-i", "/home/pi/my keys/nas"],
            &["ssh", "-o", "ProxyCommand=ssh -W %h:%p \"gw\"", "it's", ""],
            &["/opt/my ssh/ssh", "back\\slash", "tab\there", "ünï"],
        ];
        for words in cases {
            let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            assert_eq!(rsync_split(&rsync_shell_arg(&words)), words);
        }
        assert_eq!(
            rsync_shell_arg(&["ssh".into(), "say \"hi\"".into()]),
            r#""ssh" "say ""hi""""#
        );
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
            r#""ssh" "-p" "22""#,
            Path::new("/data/dl"),
            &[p("My Torrent"), p("Other/sub/f.bin")],
            "nas",
            "/srv",
            false,
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
                r#""ssh" "-p" "22""#,
                "/data/dl/./My Torrent",
                "/data/dl/./Other/sub/f.bin",
                "nas:/srv/"
            ]
        );
        let home = push_args(
            Duration::ZERO,
            "ssh",
            Path::new("/d"),
            &[p("x")],
            "h",
            "",
            true,
        );
        assert_eq!(home.last().unwrap(), "h:");
        assert_eq!(home.get(2).unwrap(), "--timeout=1");
        assert_eq!(home.get(7).unwrap(), "--fsync");
    }

    #[test]
    fn fsync_support_is_read_from_help_and_from_the_remotes_refusal() {
        let new = b"     --inplace                update destination files in-place\n     --fsync                  fsync every written file\n";
        let old = b"     --inplace                update destination files in-place\n     --fsync-ish              not it\n";
        assert!(help_lists_fsync(new));
        assert!(!help_lists_fsync(old));
        assert!(!help_lists_fsync(b""));
        assert!(remote_refused_fsync(
            "rsync: on remote machine: --fsync: unknown option\nrsync error: syntax or usage error (code 1) at main.c(1886) [server=3.1.3]\n"
        ));
        assert!(!remote_refused_fsync(
            "rsync: connection unexpectedly closed (0 bytes received so far) [sender]\n"
        ));
        assert!(!remote_refused_fsync(
            "rsync: on remote machine: --bogus: unknown option\n"
        ));
    }

    fn listing(root: &str, output: &[u8]) -> Result<BTreeMap<RelPath, u64>, ListingError> {
        let mut found = BTreeMap::new();
        read_list_only(&mut &output[..], &p(root), &mut found).map(|()| found)
    }

    #[test]
    fn list_only_parsing() {
        // Real rsync 3.x output (--no-h -8) for a directory root, with a
        // leading-space name, a leading dash, a quote, an escaped backslash
        // sequence, a newline, a symlink and non-ASCII names.
        let out = b"drwxr-xr-x        4096 2026/11/30 06:37:14 T\n\
-rw-r--r--           1 2026/11/30 06:37:14 T/ lead space\n\
-rw-r--r--           1 2026/11/30 06:37:14 T/-dash\n\
-rw-r--r--           1 2026/11/30 06:37:14 T/back\\#134#123slash\n\
-rw-r--r--     1234567 2026/11/30 06:37:14 T/big\n\
-rw-r--r--           2 2026/11/30 06:37:14 T/it's\n\
lrwxrwxrwx           3 2026/11/30 06:37:14 T/link -> big\n\
-rw-r--r--           1 2026/11/30 06:37:14 T/new\\#012line\n\
drwxr-xr-x        4096 2026/11/30 06:37:14 T/sub dir\n\
-rw-r--r--           5 2026/11/30 06:37:14 T/sub dir/\xc3\x89t\xc3\xa9/\xc3\xbc a.jpg\n\
-rw-r--r--           7 2026/11/30 06:37:14 T/sub dir/\\#303\\#274 escaped.jpg\n\
-rw-r--r--  12345678901 2026/11/30 06:37:14 T/huge\n";
        let got = listing("T", out).unwrap();
        let want: BTreeMap<RelPath, u64> = [
            ("T/ lead space", 1),
            ("T/-dash", 1),
            ("T/back\\#123slash", 1),
            ("T/big", 1_234_567),
            ("T/it's", 2),
            ("T/new\nline", 1),
            ("T/sub dir/Été/ü a.jpg", 5),
            ("T/sub dir/ü escaped.jpg", 7),
            ("T/huge", 12_345_678_901),
        ]
        .into_iter()
        .map(|(s, n)| (p(s), n))
        .collect();
        assert_eq!(got, want);
        // A file root below the top: names are relative to its parent.
        let single = listing(
            "dir/single.iso",
            b"-rw-r--r--          42 2026/01/01 00:00:00 single.iso\n",
        )
        .unwrap();
        assert_eq!(single.get(&p("dir/single.iso")), Some(&42));
        assert!(listing("T", b"").unwrap().is_empty());
        // Grouped sizes (rsync without --no-h) read the same.
        let grouped = listing(
            "T",
            b"-rw-r--r--      1,234,567 2026/01/01 00:00:00 T/a\n-rw-r--r--  1.234 2026/01/01 00:00:00 T/b",
        )
        .unwrap();
        assert_eq!(grouped.get(&p("T/a")), Some(&1_234_567));
        assert_eq!(grouped.get(&p("T/b")), Some(&1_234));
    }

    #[test]
    fn list_only_entries_that_cannot_be_used_are_skipped() {
        let out = b"-rw-r--r--   1 2026/01/01 00:00:00 T/\xff bad utf8\n\
-rw-r--r--   1 2026/01/01 00:00:00 T/\\#377\n\
-rw-r--r--   1 2026/01/01 00:00:00 T/../up\n\
-rw-r--r--   1 2026/01/01 00:00:00 T/a\\#000b\n\
-rw-r--r--   1 2026/01/01 00:00:00 Other/x\n\
-rw-r--r--   1 2026/01/01 00:00:00 Tx\n\
-rw-r--r--   3 2026/01/01 00:00:00 T/ok\n";
        let got = listing("T", out).unwrap();
        assert_eq!(got.into_iter().collect::<Vec<_>>(), vec![(p("T/ok"), 3)]);
    }

    #[test]
    fn list_only_errors() {
        let cases: &[(&[u8], &str)] = &[
            (b"nonsense\n", "line 1: expected PERMISSIONS SIZE DATE TIME NAME, found \"nonsense\""),
            (b"-rw-r--r-- 1\n", "line 1: expected PERMISSIONS"),
            (b"-rw-r--r-- 1 2026\n", "line 1: expected PERMISSIONS"),
            (b"-rw-r--r-- 1 2026/01/01\n", "line 1: expected PERMISSIONS"),
            (b"-rw-r--r-- 1 2026/01/01 00:00:00 \n", "line 1: expected PERMISSIONS"),
            (b"-rw 1 2026/01/01 00:00:00 T/a\n", "line 1: expected PERMISSIONS"),
            (b"\n", "line 1: expected PERMISSIONS"),
            (b"-rw-r--r-- 1.5K 2026/01/01 00:00:00 T/a\n", "line 1: bad size \"1.5K\""),
            (b"-rw-r--r-- 1,23 2026/01/01 00:00:00 T/a\n", "bad size \"1,23\""),
            (b"-rw-r--r-- -1 2026/01/01 00:00:00 T/a\n", "bad size \"-1\""),
            (b"-rw-r--r-- 99999999999999999999 2026/01/01 00:00:00 T/a\n", "bad size"),
            (
                b"-rw-r--r-- 1 2026/01/01 00:00:00 T/a\n-rw-r--r-- 1 2026/01/01 00:00:00 T/\\#777\n",
                "line 2: escape \\#777 is not a byte",
            ),
        ];
        for (output, text) in cases {
            let err = listing("T", output).unwrap_err();
            assert!(err.to_string().contains(text), "{output:?}: {err}");
        }
        let mut long = b"-rw-r--r-- 1 2026/01/01 00:00:00 T/".to_vec();
        long.resize(MAX_LIST_LINE + 10, b'x');
        let err = listing("T", &long).unwrap_err();
        assert!(
            matches!(err, ListingError::LineTooLong { line: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn hash_script_quotes_every_name_and_needs_only_sha1sum() {
        let files = [p("T/it's"), p("T/new\nline"), p("T/$(rm -rf ~)")];
        let names: Vec<&RelPath> = files.iter().collect();
        let script = hash_script("/srv/x y", &names);
        assert!(script.contains("cd -- '/srv/x y' || exit 1;"), "{script}");
        assert!(script.contains(r"for f in 'T/it'\''s' 'T/new"), "{script}");
        assert!(script.contains("'T/$(rm -rf ~)'; do sha1sum < \"$f\" || echo '?'; done"));
        assert!(script.contains("command -v sha1sum") && script.contains("exit 127"));
        assert!(!hash_script("", &names).contains("cd --"));
    }

    #[test]
    fn hash_batches_stay_under_the_limit() {
        let files: Vec<(RelPath, u64)> = (0..3_000)
            .map(|i| (p(&format!("Fotos/2015 Été/IMG_{i:04} ü.jpg")), 1))
            .collect();
        let limit = 16 * 1024;
        let batches = hash_batches("/srv", &files, limit);
        assert!(batches.len() > 5, "{}", batches.len());
        assert_eq!(batches.iter().map(|b| b.len()).sum::<usize>(), 3_000);
        for batch in &batches {
            let names: Vec<&RelPath> = batch.iter().map(|(p, _)| p).collect();
            assert!(hash_script("/srv", &names).len() <= limit);
        }
        assert_eq!(batches.concat(), files);
        // A name longer than the limit still goes, alone.
        let long = [(p(&"x".repeat(300)), 1), (p("y"), 1)];
        assert_eq!(hash_batches("", &long, 100).len(), 2);
        assert!(hash_batches("", &[], 100).is_empty());
    }

    #[test]
    fn remote_commands_are_quoted() {
        let script = probe_script("/srv/x y", ".lowspace-probe-1");
        assert!(script.contains("mkdir -p -- '/srv/x y'"));
        assert!(script.contains("> '/srv/x y/.lowspace-probe-1'"));
        assert!(
            !script.contains("find"),
            "the remote needs no find: {script}"
        );
        assert!(probe_script("", "p").contains("'./p'"));
    }
}
