//! The one way lowspace runs another program (rsync, ssh, rclone, ...).
//!
//! Every external program is a place where a run can hang (a remote that
//! stops answering, a full disk that blocks a writer), so every run here is
//! bounded: a wall-clock limit, and optionally an idle limit that fires when
//! the program prints nothing for a while. Output is kept bounded too (the
//! last [`OUTPUT_TAIL`] bytes of each stream): error messages are at the end,
//! and a chatty program must not grow our memory on a small box.
//!
//! The pipes are read by one thread each, so a program that fills its stderr
//! pipe never blocks waiting for us. A program that outlives its limit is
//! killed with `Child::kill` (SIGKILL to the direct child); helpers it
//! started (rsync's ssh) see their pipes close and exit. Reader threads whose
//! pipe is still held open by such a helper are waited for a short grace
//! period only, then left behind, so a run never hangs on them.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How many bytes of each output stream are kept (the last ones).
pub const OUTPUT_TAIL: usize = 64 * 1024;

/// How long reader threads are waited for once the program has ended.
const READER_GRACE: Duration = Duration::from_secs(2);

/// How often the program is checked for having ended or run over its limits.
const POLL: Duration = Duration::from_millis(20);

/// One program run: what to start and how long to let it run.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Added to (or replacing in) the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    pub current_dir: Option<PathBuf>,
    /// Bytes written to the program's standard input (then closed); `None`
    /// gives it /dev/null.
    pub stdin: Option<Vec<u8>>,
    /// The program is killed once it has run this long.
    pub wall_timeout: Duration,
    /// The program is killed once it has printed nothing for this long.
    pub idle_timeout: Option<Duration>,
}

impl RunSpec {
    pub fn new(program: impl AsRef<OsStr>, wall_timeout: Duration) -> RunSpec {
        RunSpec {
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            env: Vec::new(),
            current_dir: None,
            stdin: None,
            wall_timeout,
            idle_timeout: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> RunSpec {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> RunSpec
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> RunSpec {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    pub fn stdin(mut self, bytes: Vec<u8>) -> RunSpec {
        self.stdin = Some(bytes);
        self
    }

    pub fn idle_timeout(mut self, idle: Duration) -> RunSpec {
        self.idle_timeout = Some(idle);
        self
    }

    /// The command line as a person would type it, for logs and messages.
    pub fn display(&self) -> String {
        let mut out = self.program.to_string_lossy().into_owned();
        for arg in &self.args {
            out.push(' ');
            out.push_str(&arg.to_string_lossy());
        }
        out
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The program exited by itself with this code.
    Exited(i32),
    /// The program was killed by a signal it did not get from us.
    Signalled,
    /// We killed it: it ran longer than the wall timeout.
    WallTimeout(Duration),
    /// We killed it: it printed nothing for the idle timeout.
    IdleTimeout(Duration),
}

/// What a finished run left: how it ended and the tail of its output.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub ended: Ended,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// True when output was dropped from the front of a stream.
    pub truncated: bool,
    pub elapsed: Duration,
}

impl RunOutput {
    pub fn success(&self) -> bool {
        self.ended == Ended::Exited(0)
    }

    /// Standard error as text (lossy), for messages.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// The program could not be started at all.
#[derive(Debug)]
pub enum RunError {
    /// No such program; the message names the package that provides it.
    NotInstalled { program: String, package: String },
    /// The program exists but may not be executed.
    PermissionDenied { program: String },
    /// Anything else the operating system refused.
    Spawn { program: String, error: io::Error },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::NotInstalled { program, package } => {
                write!(f, "{program} is not installed (apt install {package})")
            }
            RunError::PermissionDenied { program } => write!(
                f,
                "{program} cannot be run: permission denied (check that it is executable: chmod +x, and that its file system is not mounted noexec)"
            ),
            RunError::Spawn { program, error } => write!(f, "cannot start {program}: {error}"),
        }
    }
}

impl std::error::Error for RunError {}

/// The Debian package that provides a program, for "apt install" hints.
pub fn package_for(program: &str) -> &str {
    let base = program.rsplit('/').next().unwrap_or(program);
    match base {
        "ssh" | "scp" | "sftp" | "ssh-keygen" => "openssh-client",
        "sshd" => "openssh-server",
        "rtorrent" => "rtorrent",
        "find" => "findutils",
        other => other,
    }
}

/// Keeps the last `limit` bytes written to it.
#[derive(Debug, Default)]
struct Tail {
    bytes: Vec<u8>,
    dropped: bool,
}

impl Tail {
    fn push(&mut self, chunk: &[u8], limit: usize) {
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > limit {
            let excess = self.bytes.len() - limit;
            self.bytes.drain(..excess);
            self.dropped = true;
        }
    }
}

/// What the reader threads share with the waiting thread.
struct Shared {
    stdout: Tail,
    stderr: Tail,
    last_output: Instant,
}

/// Asks the kernel to SIGKILL the child when lowspace dies. Without it a
/// SIGKILLed run leaves its rsync running on as an orphan, and that orphan
/// can overwrite a copy the next run has verified with bytes read from a
/// file that run has since truncated. std has no API for this, so the one
/// libc function is declared here (libc is linked by std anyway).
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    extern "C" {
        fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
        fn getppid() -> std::ffi::c_int;
    }
    const PR_SET_PDEATHSIG: std::ffi::c_int = 1;
    const SIGKILL: std::ffi::c_ulong = 9;
    let parent = std::process::id() as std::ffi::c_int;
    // SAFETY: the closure runs in the forked child before exec and only makes
    // two async-signal-safe system calls.
    unsafe {
        cmd.pre_exec(move || {
            if prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if getppid() != parent {
                return Err(io::Error::other(
                    "lowspace exited before the program started",
                ));
            }
            Ok(())
        });
    }
}

/// Runs a program to its end or to one of its limits.
pub fn run(spec: &RunSpec) -> Result<RunOutput, RunError> {
    let program_name = spec.program.to_string_lossy().into_owned();
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    die_with_parent(&mut cmd);
    if let Some(dir) = &spec.current_dir {
        // A missing working directory also shows as NotFound from spawn;
        // name it so it is not mistaken for a missing program.
        if !dir.is_dir() {
            return Err(RunError::Spawn {
                program: program_name,
                error: io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("working directory {} does not exist", dir.display()),
                ),
            });
        }
        cmd.current_dir(dir);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|error| match error.kind() {
        io::ErrorKind::NotFound => RunError::NotInstalled {
            package: package_for(&program_name).to_string(),
            program: program_name.clone(),
        },
        io::ErrorKind::PermissionDenied => RunError::PermissionDenied {
            program: program_name.clone(),
        },
        _ => RunError::Spawn {
            program: program_name.clone(),
            error,
        },
    })?;

    let shared = Arc::new(Mutex::new(Shared {
        stdout: Tail::default(),
        stderr: Tail::default(),
        last_output: start,
    }));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mut readers = 0;
    if let Some(out) = child.stdout.take() {
        spawn_reader(out, Arc::clone(&shared), done_tx.clone(), true);
        readers += 1;
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(err, Arc::clone(&shared), done_tx.clone(), false);
        readers += 1;
    }
    drop(done_tx);
    if let (Some(mut input), Some(bytes)) = (child.stdin.take(), spec.stdin.clone()) {
        // A program that never reads its input must not block us: write
        // from a thread; a broken pipe just means it did not want it.
        thread::spawn(move || {
            let _ = input.write_all(&bytes);
        });
    }

    let ended = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                break match status.code() {
                    Some(code) => Ended::Exited(code),
                    None => Ended::Signalled,
                };
            }
            Ok(None) => {}
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(RunError::Spawn {
                    program: program_name,
                    error,
                });
            }
        }
        let elapsed = start.elapsed();
        let over = if elapsed >= spec.wall_timeout {
            Some(Ended::WallTimeout(spec.wall_timeout))
        } else {
            spec.idle_timeout.and_then(|idle| {
                let last = shared.lock().map(|s| s.last_output).unwrap_or(start);
                (last.elapsed() >= idle).then_some(Ended::IdleTimeout(idle))
            })
        };
        if let Some(over) = over {
            log::warn!(
                "killing {program_name} (pid {}): {}",
                child.id(),
                match over {
                    Ended::IdleTimeout(d) => format!("no output for {}s", d.as_secs()),
                    _ => format!("still running after {}s", spec.wall_timeout.as_secs()),
                }
            );
            let _ = child.kill();
            let _ = child.wait();
            break over;
        }
        thread::sleep(POLL);
    };

    // The readers end when every holder of the pipes has closed them.
    let grace_end = Instant::now() + READER_GRACE;
    for _ in 0..readers {
        let left = grace_end.saturating_duration_since(Instant::now());
        if done_rx.recv_timeout(left).is_err() {
            log::debug!("{program_name}: output pipe still open after exit; not waiting for it");
            break;
        }
    }
    let elapsed = start.elapsed();
    let mut guard = shared.lock().map_err(|_| RunError::Spawn {
        program: program_name.clone(),
        error: io::Error::other("output reader panicked"),
    })?;
    let truncated = guard.stdout.dropped || guard.stderr.dropped;
    Ok(RunOutput {
        ended,
        stdout: std::mem::take(&mut guard.stdout.bytes),
        stderr: std::mem::take(&mut guard.stderr.bytes),
        truncated,
        elapsed,
    })
}

fn spawn_reader(
    mut pipe: impl Read + Send + 'static,
    shared: Arc<Mutex<Shared>>,
    done: mpsc::Sender<()>,
    is_stdout: bool,
) {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let Ok(mut s) = shared.lock() else { break };
                    let chunk = buf.get(..n).unwrap_or(&[]);
                    if is_stdout {
                        s.stdout.push(chunk, OUTPUT_TAIL);
                    } else {
                        s.stderr.push(chunk, OUTPUT_TAIL);
                    }
                    s.last_output = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = done.send(());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, wall: Duration) -> RunSpec {
        RunSpec::new("/bin/sh", wall).arg("-c").arg(script)
    }

    #[test]
    fn captures_stdout_stderr_and_exit_code() {
        let out = run(&sh(
            "printf out; printf err >&2; exit 3",
            Duration::from_secs(10),
        ))
        .unwrap();
        assert_eq!(out.ended, Ended::Exited(3));
        assert_eq!(out.stdout, b"out");
        assert_eq!(out.stderr, b"err");
        assert!(!out.success());
    }

    #[test]
    fn passes_extra_environment_and_stdin() {
        let spec = sh("printf %s \"$LOWSPACE_X\"; cat", Duration::from_secs(10))
            .env("LOWSPACE_X", "from env ")
            .stdin(b"from stdin".to_vec());
        let out = run(&spec).unwrap();
        assert!(out.success());
        assert_eq!(out.stdout, b"from env from stdin");
    }

    #[test]
    fn wall_timeout_kills_a_hanging_program() {
        let started = Instant::now();
        let out = run(&sh(
            "echo before; exec sleep 30",
            Duration::from_millis(500),
        ))
        .unwrap();
        assert_eq!(out.ended, Ended::WallTimeout(Duration::from_millis(500)));
        assert_eq!(out.stdout, b"before\n");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn idle_timeout_fires_only_when_output_stops() {
        // Prints every 100 ms for 0.6 s, then goes quiet.
        let script = "for i in 1 2 3 4 5 6; do echo $i; sleep 0.1; done; exec sleep 30";
        let out =
            run(&sh(script, Duration::from_secs(20)).idle_timeout(Duration::from_millis(400)))
                .unwrap();
        assert_eq!(out.ended, Ended::IdleTimeout(Duration::from_millis(400)));
        assert_eq!(out.stdout, b"1\n2\n3\n4\n5\n6\n");
        assert!(out.elapsed < Duration::from_secs(5));
    }

    #[test]
    fn grandchild_holding_the_pipe_does_not_hang_the_run() {
        let started = Instant::now();
        // The shell leaves a background sleeper holding stdout open.
        let out = run(&sh("sleep 20 & echo gone", Duration::from_secs(10))).unwrap();
        assert_eq!(out.ended, Ended::Exited(0));
        assert!(started.elapsed() < Duration::from_secs(6));
    }

    #[test]
    fn keeps_only_the_tail_of_long_output() {
        let out = run(&sh(
            "head -c 200000 /dev/zero | tr '\\0' a; printf END",
            Duration::from_secs(20),
        ))
        .unwrap();
        assert!(out.success());
        assert_eq!(out.stdout.len(), OUTPUT_TAIL);
        assert!(out.stdout.ends_with(b"aEND"));
        assert!(out.truncated);
    }

    #[test]
    fn missing_program_names_the_package() {
        let err = run(&RunSpec::new(
            "rsync-lowspace-missing",
            Duration::from_secs(5),
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "rsync-lowspace-missing is not installed (apt install rsync-lowspace-missing)"
        );
        assert!(matches!(err, RunError::NotInstalled { .. }));
    }

    #[test]
    fn program_without_execute_permission_is_reported() {
        let dir = std::env::temp_dir().join(format!("lowspace-process-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("not-executable");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        let err = run(&RunSpec::new(&script, Duration::from_secs(5))).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(matches!(err, RunError::PermissionDenied { .. }), "{err}");
        assert!(err.to_string().contains("permission denied"));
    }

    #[test]
    fn packages_for_known_programs() {
        for (program, package) in [
            ("rsync", "rsync"),
            ("/usr/bin/rclone", "rclone"),
            ("ssh", "openssh-client"),
            ("/usr/sbin/sshd", "openssh-server"),
        ] {
            assert_eq!(package_for(program), package, "{program}");
        }
    }
}
