//! Why a sync failed, decided from what the tool said, and what the user
//! should do about it.
//!
//! [`classify_failure`] is pure: it reads how the program ended and its
//! standard error, so every message rsync, ssh and rclone print for a full
//! disk, a host that is down or a refused key is table-tested here without
//! running anything. The kind also decides whether another attempt in this
//! run can help ([`FailureKind::is_retryable`]).

use std::fmt;

use crate::process::{Ended, RunError};

/// The families of failure a user handles differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The host did not answer, refused the connection, or dropped it.
    HostUnreachable,
    /// The host answered but refused our login (key, password, host key).
    AuthRefused,
    /// The remote has no space (or quota) left.
    RemoteFull,
    /// A program we need (here or on the remote) is not installed.
    NotInstalled,
    /// No progress within the configured timeout.
    Timeout,
    /// Logged in, but the remote path may not be written.
    PermissionDenied,
    /// The configuration names something that does not exist (an rclone
    /// remote, a remote directory that must be mounted, bad options).
    Misconfigured,
    /// The local files cannot be copied as they are (symlinks, missing).
    LocalSource,
    /// The remote refused one of this torrent's files: too big for its file
    /// system (FAT32's 4 GiB), or a name it cannot hold (`:` on a Windows
    /// share, too long, not valid there).
    FileRefused,
    /// The copy ended without an error but the listing of the remote does
    /// not show every file with its size.
    NotVerified,
    /// Anything else; the message quotes the tool.
    Other,
}

impl FailureKind {
    /// Whether waiting a few seconds and trying again can help. A refused
    /// key, a missing program or a full disk do not heal within a run, and
    /// retrying them only delays the message the user needs.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            FailureKind::HostUnreachable | FailureKind::Timeout | FailureKind::Other
        )
    }
}

/// Whom a failure is about, which decides what the run does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This torrent's data or files: it backs off, the others go on.
    Torrent,
    /// The remote has no room for this torrent: smaller ones may still fit.
    Full,
    /// The remote as a whole (down, login refused, tools missing): the next
    /// torrent would fail the same way, so no further syncs this run.
    Remote,
}

impl FailureKind {
    /// Whom the failure is about. `Other` counts as the torrent's: if the
    /// remote were to blame, each torrent backs off in turn (a bounded
    /// cost), whereas blaming the remote for one torrent's fault would
    /// hold every other torrent back run after run.
    pub fn scope(self) -> Scope {
        match self {
            FailureKind::LocalSource
            | FailureKind::FileRefused
            | FailureKind::NotVerified
            | FailureKind::Other => Scope::Torrent,
            FailureKind::RemoteFull => Scope::Full,
            FailureKind::HostUnreachable
            | FailureKind::AuthRefused
            | FailureKind::NotInstalled
            | FailureKind::Timeout
            | FailureKind::PermissionDenied
            | FailureKind::Misconfigured => Scope::Remote,
        }
    }
}

/// A sync that failed: its kind, a message saying what to do, and how many
/// attempts were made.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncError {
    pub kind: FailureKind,
    pub message: String,
    pub attempts: u32,
}

impl SyncError {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> SyncError {
        SyncError {
            kind,
            message: message.into(),
            attempts: 1,
        }
    }

    /// A program that could not be started.
    pub fn from_run_error(error: &RunError) -> SyncError {
        let kind = match error {
            RunError::NotInstalled { .. } => FailureKind::NotInstalled,
            RunError::PermissionDenied { .. } => FailureKind::Misconfigured,
            RunError::Spawn { .. } => FailureKind::Other,
        };
        SyncError::new(kind, error.to_string())
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if self.attempts > 1 {
            write!(f, " (gave up after {} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

impl std::error::Error for SyncError {}

/// Which tool printed the error: exit codes mean different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Rsync,
    /// ssh running a command on the remote (mkdir, find, probe).
    Ssh,
    Rclone,
}

const FULL: &[&str] = &[
    "no space left on device",
    "disk quota exceeded",
    "quota exceeded",
    "insufficient storage",
    "storage quota",
    "not enough space",
];

const MISSING_PROGRAM: &[&str] = &[
    "command not found",
    "failed to exec",
    "rsync: not found",
    "find: not found",
];

const AUTH: &[&str] = &[
    "permission denied (publickey",
    "permission denied (password",
    "permission denied (keyboard",
    "permission denied, please try again",
    "host key verification failed",
    "too many authentication failures",
    "unable to authenticate",
    "authentication failed",
    "401 unauthorized",
    "invalid_grant",
];

const UNREACHABLE: &[&str] = &[
    "connection refused",
    "no route to host",
    "could not resolve hostname",
    "name or service not known",
    "temporary failure in name resolution",
    "no such host",
    "network is unreachable",
    "connection timed out",
    "operation timed out",
    "i/o timeout",
    "connection reset by peer",
    "connection closed by",
    "kex_exchange_identification",
    "broken pipe",
];

const WRITE_REFUSED: &[&str] = &["permission denied", "read-only file system"];

/// The remote's file system refuses one file: EFBIG (FAT32's 4 GiB),
/// EINVAL (a `:` or `?` in a name on vfat, exFAT or SMB), ENAMETOOLONG,
/// EILSEQ (a name not valid in the remote's character set).
const FILE_REFUSED: &[&str] = &[
    "file too large",
    "invalid argument",
    "file name too long",
    "filename too long",
    "invalid or incomplete multibyte",
    "illegal byte sequence",
];

const MISCONFIGURED: &[&str] = &[
    "didn't find section in config file",
    "unknown flag",
    "syntax or usage error",
    "bad configuration option",
];

/// Decides the kind of a failed run from how it ended and what it printed.
pub fn classify_failure(tool: Tool, ended: Ended, stderr: &str) -> FailureKind {
    if matches!(ended, Ended::WallTimeout(_) | Ended::IdleTimeout(_)) {
        return FailureKind::Timeout;
    }
    let text = stderr.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has(FULL) {
        return FailureKind::RemoteFull;
    }
    if has(MISSING_PROGRAM) {
        return FailureKind::NotInstalled;
    }
    if has(AUTH) {
        return FailureKind::AuthRefused;
    }
    if has(UNREACHABLE) {
        return FailureKind::HostUnreachable;
    }
    if has(WRITE_REFUSED) {
        return FailureKind::PermissionDenied;
    }
    if has(FILE_REFUSED) {
        return FailureKind::FileRefused;
    }
    if has(MISCONFIGURED) {
        return FailureKind::Misconfigured;
    }
    let code = match ended {
        Ended::Exited(code) => code,
        _ => return FailureKind::Other,
    };
    match (tool, code) {
        // rsync: timeout in data send/receive, and in the connect handshake.
        (Tool::Rsync, 30 | 35) => FailureKind::Timeout,
        (Tool::Rsync, 1) => FailureKind::Misconfigured,
        // ssh's own failures (as opposed to the remote command's) are 255.
        (Tool::Rsync | Tool::Ssh, 255) => FailureKind::HostUnreachable,
        (Tool::Ssh, 127) => FailureKind::NotInstalled,
        _ => FailureKind::Other,
    }
}

/// The last few meaningful lines of a tool's standard error, for messages.
pub fn stderr_summary(stderr: &str) -> String {
    const LINES: usize = 3;
    const MAX_CHARS: usize = 600;
    let lines: Vec<&str> = stderr
        .split(['\n', '\r'])
        .map(str::trim)
        .map(without_log_timestamp)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(LINES);
    let joined = lines.get(start..).unwrap_or(&[]).join(" / ");
    if joined.chars().count() > MAX_CHARS {
        let tail: String = joined
            .chars()
            .rev()
            .take(MAX_CHARS)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!("...{tail}")
    } else {
        joined
    }
}

/// Drops rclone's `2024/01/31 12:00:00 ` log prefix: noise in a message.
fn without_log_timestamp(line: &str) -> &str {
    let bytes = line.as_bytes();
    let shape = b"dddd/dd/dd dd:dd:dd ";
    let matches = bytes.len() > shape.len()
        && shape.iter().zip(bytes).all(|(want, got)| match want {
            b'd' => got.is_ascii_digit(),
            other => other == got,
        });
    if matches {
        line.get(shape.len()..).unwrap_or(line).trim_start()
    } else {
        line
    }
}

/// The message for a failure: what happened, the tool's own words, and
/// what to do. `target` names the remote ("rsync to host:/path").
pub fn explain(kind: FailureKind, target: &str, detail: &str) -> String {
    let said = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    };
    match kind {
        FailureKind::HostUnreachable => format!(
            "cannot reach the remote for {target}{said}: check that the host is up and reachable \
             from here (try the ssh command by hand); nothing local was deleted, the next run tries again"
        ),
        FailureKind::AuthRefused => format!(
            "the remote refused our login for {target}{said}: install this machine's public key \
             on the remote (ssh-copy-id), or fix the key or options in ssh_command / the rclone \
             configuration; not retried"
        ),
        FailureKind::RemoteFull => format!(
            "the remote is full for {target}{said}: free space there or point the remote \
             somewhere bigger; nothing local was deleted"
        ),
        FailureKind::NotInstalled => format!(
            "a program needed for {target} is missing{said}: install it (on this machine, or on \
             the remote if the message comes from there)"
        ),
        FailureKind::Timeout => format!(
            "no progress within the timeout for {target}{said}: check the network and the remote; \
             if the link is just slow, raise the sync timeout"
        ),
        FailureKind::PermissionDenied => format!(
            "the remote refused to write for {target}{said}: make the remote directory writable \
             by the user we log in as"
        ),
        FailureKind::Misconfigured => format!("cannot use {target}{said}: fix the configuration"),
        FailureKind::LocalSource => format!("cannot copy to {target}: {detail}"),
        FailureKind::FileRefused => format!(
            "the remote refused a file of this torrent for {target}{said}: its file system \
             cannot hold it (too big, or a name it does not allow); the other torrents go on"
        ),
        FailureKind::NotVerified => format!("the copy on {target} does not verify{said}"),
        FailureKind::Other => format!("copying to {target} failed{said}"),
    }
}

/// Turns a failed run into a [`SyncError`].
pub fn failure_from_run(
    tool: Tool,
    target: &str,
    ended: Ended,
    stderr: &str,
    timeout_secs: u64,
) -> SyncError {
    let kind = classify_failure(tool, ended, stderr);
    let mut detail = stderr_summary(stderr);
    let how = match ended {
        Ended::Exited(code) => format!("exit code {code}"),
        Ended::Signalled => "killed by a signal".to_string(),
        Ended::WallTimeout(d) => format!("killed after running {}s", d.as_secs()),
        Ended::IdleTimeout(d) => format!("killed after {}s without output", d.as_secs()),
    };
    if detail.is_empty() {
        detail = how;
    } else {
        detail = format!("{how}: {detail}");
    }
    let mut message = explain(kind, target, &detail);
    if kind == FailureKind::Timeout {
        message.push_str(&format!(" (timeout is {timeout_secs}s)"));
    }
    SyncError::new(kind, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn classification_table() {
        use FailureKind::*;
        let cases: &[(Tool, Ended, &str, FailureKind)] = &[
            (
                Tool::Rsync,
                Ended::Exited(11),
                "rsync: [receiver] write failed on \"/mnt/x/big\": No space left on device (28)\nrsync error: error in file IO (code 11)",
                RemoteFull,
            ),
            (
                Tool::Rsync,
                Ended::Exited(23),
                "rsync: [receiver] mkstemp \"/r/.a.XXXX\" failed: No space left on device (28)",
                RemoteFull,
            ),
            (
                Tool::Rclone,
                Ended::Exited(1),
                "ERROR : big: Failed to copy: write /r/big: no space left on device",
                RemoteFull,
            ),
            (
                Tool::Rsync,
                Ended::Exited(255),
                "ssh: connect to host 127.0.0.1 port 2222: Connection refused\r\nrsync: connection unexpectedly closed (0 bytes received so far) [sender]",
                HostUnreachable,
            ),
            (
                Tool::Ssh,
                Ended::Exited(255),
                "ssh: Could not resolve hostname nas.local: Name or service not known",
                HostUnreachable,
            ),
            (
                Tool::Ssh,
                Ended::Exited(255),
                "",
                HostUnreachable,
            ),
            (
                Tool::Rclone,
                Ended::Exited(1),
                "Failed to create file system for \"s:r\": couldn't connect SSH: dial tcp 127.0.0.1:2222: connect: connection refused",
                HostUnreachable,
            ),
            (
                Tool::Rsync,
                Ended::Exited(255),
                "root@127.0.0.1: Permission denied (publickey).\r\nrsync: connection unexpectedly closed",
                AuthRefused,
            ),
            (
                Tool::Ssh,
                Ended::Exited(255),
                "Host key verification failed.",
                AuthRefused,
            ),
            (
                Tool::Rclone,
                Ended::Exited(1),
                "couldn't connect SSH: ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey]",
                AuthRefused,
            ),
            (
                Tool::Rsync,
                Ended::Exited(12),
                "bash: line 1: rsync: command not found\nrsync: connection unexpectedly closed (0 bytes received so far) [sender]",
                NotInstalled,
            ),
            (
                Tool::Rsync,
                Ended::Exited(14),
                "rsync: Failed to exec ssh: No such file or directory (2)",
                NotInstalled,
            ),
            (Tool::Ssh, Ended::Exited(127), "", NotInstalled),
            (Tool::Rsync, Ended::Exited(30), "rsync error: timeout in data send/receive (code 30)", Timeout),
            (Tool::Rsync, Ended::Exited(35), "", Timeout),
            (
                Tool::Rclone,
                Ended::IdleTimeout(Duration::from_secs(5)),
                "",
                Timeout,
            ),
            (
                Tool::Rsync,
                Ended::WallTimeout(Duration::from_secs(5)),
                "No space left on device",
                Timeout,
            ),
            (
                Tool::Ssh,
                Ended::Exited(1),
                "mkdir: cannot create directory '/srv/x': Permission denied",
                PermissionDenied,
            ),
            (
                Tool::Rsync,
                Ended::Exited(23),
                "rsync: [receiver] mkstemp \"/srv/.a.XyZ\" failed: Read-only file system (30)",
                PermissionDenied,
            ),
            (
                Tool::Rclone,
                Ended::Exited(1),
                "Failed to create file system for \"nosuch:x\": didn't find section in config file",
                Misconfigured,
            ),
            (Tool::Rsync, Ended::Exited(1), "", Misconfigured),
            (
                Tool::Rsync,
                Ended::Exited(11),
                "rsync: [receiver] write failed on \"/mnt/fat/big.iso\": File too large (27)",
                FileRefused,
            ),
            (
                Tool::Rsync,
                Ended::Exited(23),
                "rsync: [receiver] mkstemp \"/mnt/share/T/.a:b.txt.Xy12\" failed: Invalid argument (22)",
                FileRefused,
            ),
            (
                Tool::Rclone,
                Ended::Exited(1),
                "ERROR : T/a:b.txt: Failed to copy: open /mnt/share/T/a:b.txt: invalid argument",
                FileRefused,
            ),
            (
                Tool::Rsync,
                Ended::Exited(23),
                "rsync: [receiver] mkstemp failed: File name too long (36)",
                FileRefused,
            ),
            (Tool::Rsync, Ended::Exited(2), "protocol incompatibility", Other),
            (Tool::Rclone, Ended::Signalled, "", Other),
        ];
        for (tool, ended, stderr, kind) in cases {
            assert_eq!(
                classify_failure(*tool, *ended, stderr),
                *kind,
                "{tool:?} {ended:?} {stderr:?}"
            );
        }
    }

    #[test]
    fn only_transient_failures_are_retried() {
        use FailureKind::*;
        for (kind, retry) in [
            (HostUnreachable, true),
            (Timeout, true),
            (Other, true),
            (AuthRefused, false),
            (NotInstalled, false),
            (RemoteFull, false),
            (PermissionDenied, false),
            (Misconfigured, false),
            (LocalSource, false),
            (FileRefused, false),
            (NotVerified, false),
        ] {
            assert_eq!(kind.is_retryable(), retry, "{kind:?}");
        }
    }

    /// What the run does next: one torrent's trouble backs that torrent
    /// off; the remote's trouble ends this run's syncs; full skips bigger.
    #[test]
    fn scope_table() {
        use FailureKind::*;
        for (kind, scope) in [
            (LocalSource, Scope::Torrent),
            (FileRefused, Scope::Torrent),
            (NotVerified, Scope::Torrent),
            (Other, Scope::Torrent),
            (RemoteFull, Scope::Full),
            (HostUnreachable, Scope::Remote),
            (AuthRefused, Scope::Remote),
            (NotInstalled, Scope::Remote),
            (Timeout, Scope::Remote),
            (PermissionDenied, Scope::Remote),
            (Misconfigured, Scope::Remote),
        ] {
            assert_eq!(kind.scope(), scope, "{kind:?}");
        }
    }

    #[test]
    fn summary_keeps_the_last_lines() {
        assert_eq!(stderr_summary(""), "");
        assert_eq!(stderr_summary("a\n\n b \r\nc\nd\n"), "b / c / d");
        assert_eq!(
            stderr_summary("2026/11/22 03:30:58 Failed to create file system\n"),
            "Failed to create file system"
        );
        assert_eq!(stderr_summary("2026/11/22"), "2026/11/22");
        let long = "x".repeat(2000);
        let s = stderr_summary(&long);
        assert!(s.starts_with("...") && s.len() == 603);
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = failure_from_run(
            Tool::Rsync,
            "rsync to nas:/srv",
            Ended::Exited(11),
            "write failed: No space left on device (28)\n",
            300,
        );
        assert_eq!(e.kind, FailureKind::RemoteFull);
        assert!(e.message.contains("free space there"), "{}", e.message);
        assert!(e.message.contains("No space left on device"));
        let e = failure_from_run(
            Tool::Ssh,
            "rsync to nas:/srv",
            Ended::IdleTimeout(Duration::from_secs(9)),
            "",
            9,
        );
        assert!(e.message.contains("raise the sync timeout"));
        assert!(e.message.contains("(timeout is 9s)"));
        let mut e = SyncError::new(FailureKind::Other, "boom");
        e.attempts = 3;
        assert_eq!(e.to_string(), "boom (gave up after 3 attempts)");
    }
}
