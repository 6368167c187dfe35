//! The one way lowspace runs another program (rsync, ssh, rclone, ...).
//!
//! Every external program is a place where a run can hang (a remote that
//! stops answering, a full disk that blocks a writer), so every run here is
//! bounded: a wall-clock limit, and optionally an idle limit that fires when
//! the program prints nothing for a while. Output is kept bounded too: [`run`]
//! keeps the last [`OUTPUT_TAIL`] bytes of each stream (error messages are at
//! the end, and a chatty program must not grow our memory on a small box);
//! [`run_streaming`] hands standard output to a parser as it arrives, for
//! output that is the result (a remote listing of any length), with at most
//! a few chunks in flight. Both are the same run, with the same limits.
//!
//! The pipes are read by one thread each, so a program that fills its stderr
//! pipe never blocks waiting for us. A program that outlives its limit is
//! killed with `Child::kill` (SIGKILL to the direct child); helpers it
//! started (rsync's ssh) see their pipes close and exit. Reader threads whose
//! pipe is still held open by such a helper are waited for a short grace
//! period only, then left behind, so a run never hangs on them.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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

/// Runs a program to its end or to one of its limits, keeping the tail of
/// its output.
pub fn run(spec: &RunSpec) -> Result<RunOutput, RunError> {
    let streamed = run_streaming(spec, |stdout| {
        let mut tail = Tail::default();
        loop {
            let chunk = match stdout.fill_buf() {
                Ok([]) | Err(_) => break,
                Ok(chunk) => chunk,
            };
            let n = chunk.len();
            tail.push(chunk, OUTPUT_TAIL);
            stdout.consume(n);
        }
        tail
    })?;
    Ok(RunOutput {
        ended: streamed.ended,
        truncated: streamed.value.dropped || streamed.stderr_truncated,
        stdout: streamed.value.bytes,
        stderr: streamed.stderr,
        elapsed: streamed.elapsed,
    })
}

/// A finished run whose standard output went to a reader as it came.
#[derive(Debug)]
pub struct Streamed<T> {
    pub ended: Ended,
    /// What the reader made of standard output.
    pub value: T,
    /// The last [`OUTPUT_TAIL`] bytes of standard error.
    pub stderr: Vec<u8>,
    pub stderr_truncated: bool,
    pub elapsed: Duration,
}

impl<T> Streamed<T> {
    pub fn success(&self) -> bool {
        self.ended == Ended::Exited(0)
    }

    /// Standard error as text (lossy), for messages.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Runs a program and hands its standard output to `read_stdout` as it
/// arrives, so output of any length (a listing of 100,000 files) is parsed
/// in bounded memory. The program's limits hold while `read_stdout` reads:
/// once one is reached the program is killed and the next read fails with
/// `TimedOut`. Whatever `read_stdout` leaves unread is read and dropped, so
/// the program ends by itself (or by its limits), never blocked on a pipe.
pub fn run_streaming<T>(
    spec: &RunSpec,
    read_stdout: impl FnOnce(&mut dyn BufRead) -> T,
) -> Result<Streamed<T>, RunError> {
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
        stderr: Tail::default(),
        last_output: start,
    }));
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Vec<u8>>(STDOUT_CHUNKS_IN_FLIGHT);
    if let Some(out) = child.stdout.take() {
        spawn_stdout_reader(out, Arc::clone(&shared), chunk_tx);
    } else {
        drop(chunk_tx);
    }
    let (stderr_done_tx, stderr_done_rx) = mpsc::channel::<()>();
    let has_stderr = match child.stderr.take() {
        Some(err) => {
            spawn_stderr_reader(err, Arc::clone(&shared), stderr_done_tx);
            true
        }
        None => false,
    };
    if let (Some(mut input), Some(bytes)) = (child.stdin.take(), spec.stdin.clone()) {
        // A program that never reads its input must not block us: write
        // from a thread; a broken pipe just means it did not want it.
        thread::spawn(move || {
            let _ = input.write_all(&bytes);
        });
    }

    let mut watch = Watch {
        child: &mut child,
        program: &program_name,
        spec,
        start,
        shared: &shared,
        chunks: chunk_rx,
        pending: Vec::new(),
        pos: 0,
        stdout_closed: false,
        ended: None,
        exited_at: None,
        wait_error: None,
    };
    let value = read_stdout(&mut watch);
    let _ = io::copy(&mut watch, &mut io::sink());
    while watch.ended.is_none() {
        let _ = watch.check();
        if watch.ended.is_none() {
            thread::sleep(POLL);
        }
    }
    let ended = watch.ended.unwrap_or(Ended::Signalled);
    let exited_at = watch.exited_at.unwrap_or_else(Instant::now);
    if let Some(error) = watch.wait_error.take() {
        return Err(RunError::Spawn {
            program: program_name,
            error,
        });
    }
    drop(watch);

    // The stderr reader ends when every holder of the pipe has closed it.
    if has_stderr {
        let left = (exited_at + READER_GRACE).saturating_duration_since(Instant::now());
        if stderr_done_rx.recv_timeout(left).is_err() {
            log::debug!("{program_name}: stderr still open after exit; not waiting for it");
        }
    }
    let elapsed = start.elapsed();
    let mut guard = shared.lock().map_err(|_| RunError::Spawn {
        program: program_name.clone(),
        error: io::Error::other("output reader panicked"),
    })?;
    Ok(Streamed {
        ended,
        value,
        stderr_truncated: guard.stderr.dropped,
        stderr: std::mem::take(&mut guard.stderr.bytes),
        elapsed,
    })
}

/// Bytes read from the pipe at a time, and so the size of one chunk.
const CHUNK: usize = 64 * 1024;

/// Chunks of standard output in flight between the reader thread and the
/// consumer: a slow consumer holds the program back (through the pipe)
/// rather than growing our memory.
const STDOUT_CHUNKS_IN_FLIGHT: usize = 2;

/// What the reader threads share with the waiting thread.
struct Shared {
    stderr: Tail,
    last_output: Instant,
}

/// The consumer's view of standard output, enforcing the run's limits
/// while it reads.
struct Watch<'a> {
    child: &'a mut Child,
    program: &'a str,
    spec: &'a RunSpec,
    start: Instant,
    shared: &'a Mutex<Shared>,
    chunks: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
    pos: usize,
    stdout_closed: bool,
    ended: Option<Ended>,
    /// When the program ended (by itself or killed).
    exited_at: Option<Instant>,
    wait_error: Option<io::Error>,
}

impl Watch<'_> {
    /// Notes whether the program has ended; kills it when it ran over a
    /// limit. Fails (`TimedOut`) once it was killed for that.
    fn check(&mut self) -> io::Result<()> {
        if self.ended.is_none() {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.ended = Some(match status.code() {
                        Some(code) => Ended::Exited(code),
                        None => Ended::Signalled,
                    });
                    self.exited_at = Some(Instant::now());
                }
                Ok(None) => {
                    if let Some(over) = self.over_limit() {
                        log::warn!(
                            "killing {} (pid {}): {}",
                            self.program,
                            self.child.id(),
                            match over {
                                Ended::IdleTimeout(d) => format!("no output for {}s", d.as_secs()),
                                _ => format!(
                                    "still running after {}s",
                                    self.spec.wall_timeout.as_secs()
                                ),
                            }
                        );
                        let _ = self.child.kill();
                        let _ = self.child.wait();
                        self.ended = Some(over);
                        self.exited_at = Some(Instant::now());
                    }
                }
                Err(error) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    self.ended = Some(Ended::Signalled);
                    self.exited_at = Some(Instant::now());
                    self.wait_error = Some(error);
                }
            }
        }
        match self.ended {
            Some(Ended::WallTimeout(_) | Ended::IdleTimeout(_)) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{} was killed: it ran over its time limit", self.program),
            )),
            _ if self.wait_error.is_some() => Err(io::Error::other(format!(
                "cannot wait for {}",
                self.program
            ))),
            _ => Ok(()),
        }
    }

    fn over_limit(&self) -> Option<Ended> {
        if self.start.elapsed() >= self.spec.wall_timeout {
            return Some(Ended::WallTimeout(self.spec.wall_timeout));
        }
        let idle = self.spec.idle_timeout?;
        let last = self
            .shared
            .lock()
            .map(|s| s.last_output)
            .unwrap_or(self.start);
        (last.elapsed() >= idle).then_some(Ended::IdleTimeout(idle))
    }
}

impl BufRead for Watch<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.pending.len() && !self.stdout_closed {
            match self.chunks.recv_timeout(POLL) {
                Ok(chunk) => {
                    self.pending = chunk;
                    self.pos = 0;
                    // Taking a chunk is progress even when the program had
                    // to wait for us to take it.
                    if let Ok(mut s) = self.shared.lock() {
                        s.last_output = Instant::now();
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => self.stdout_closed = true,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // A helper the program started (rsync's ssh) may hold
                    // the pipe open after the program ended.
                    if self
                        .exited_at
                        .is_some_and(|at| at.elapsed() >= READER_GRACE)
                    {
                        log::debug!(
                            "{}: output pipe still open after exit; not waiting for it",
                            self.program
                        );
                        self.stdout_closed = true;
                    }
                }
            }
            // Also between chunks, so a fast talker still meets its wall limit.
            self.check()?;
        }
        Ok(self.pending.get(self.pos..).unwrap_or(&[]))
    }

    fn consume(&mut self, amount: usize) {
        self.pos = self.pos.saturating_add(amount).min(self.pending.len());
    }
}

impl Read for Watch<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), available.get(..n)) {
            to.copy_from_slice(from);
        }
        self.consume(n);
        Ok(n)
    }
}

fn spawn_stdout_reader(
    mut pipe: impl Read + Send + 'static,
    shared: Arc<Mutex<Shared>>,
    chunks: mpsc::SyncSender<Vec<u8>>,
) {
    thread::spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Ok(mut s) = shared.lock() {
                        s.last_output = Instant::now();
                    }
                    let chunk = buf.get(..n).unwrap_or(&[]).to_vec();
                    // The consumer is gone: nobody wants the rest.
                    if chunks.send(chunk).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    });
}

fn spawn_stderr_reader(
    mut pipe: impl Read + Send + 'static,
    shared: Arc<Mutex<Shared>>,
    done: mpsc::Sender<()>,
) {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let Ok(mut s) = shared.lock() else { break };
                    s.stderr.push(buf.get(..n).unwrap_or(&[]), OUTPUT_TAIL);
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
    fn streams_output_of_any_length_to_the_reader() {
        // 20 MB of numbered lines, far beyond what run() keeps.
        let spec = sh("seq 1 2500000", Duration::from_secs(60));
        let out = run_streaming(&spec, |stdout| {
            let (mut lines, mut last) = (0u64, String::new());
            let mut line = String::new();
            while stdout.read_line(&mut line).unwrap_or(0) > 0 {
                lines += 1;
                std::mem::swap(&mut last, &mut line);
                line.clear();
            }
            (lines, last)
        })
        .unwrap();
        assert!(out.success(), "{:?}", out.ended);
        assert_eq!(out.value, (2_500_000, "2500000\n".to_string()));
    }

    #[test]
    fn streaming_reader_meets_the_wall_timeout_of_a_fast_talker() {
        let started = Instant::now();
        let spec = sh("exec yes", Duration::from_millis(700)).idle_timeout(Duration::from_secs(30));
        let out = run_streaming(&spec, |stdout| io::copy(stdout, &mut io::sink())).unwrap();
        assert_eq!(out.ended, Ended::WallTimeout(Duration::from_millis(700)));
        let err = out.value.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn streaming_reader_that_stops_early_lets_the_program_finish() {
        let spec = sh(
            "seq 1 300000; echo done >&2; exit 4",
            Duration::from_secs(30),
        );
        let out = run_streaming(&spec, |stdout| {
            let mut first = String::new();
            stdout.read_line(&mut first).map(|_| first)
        })
        .unwrap();
        assert_eq!(out.value.as_deref().ok(), Some("1\n"));
        assert_eq!(out.ended, Ended::Exited(4));
        assert_eq!(out.stderr_text(), "done\n");
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
