//! A real server started by a test and stopped by its PID when the test ends,
//! even when the test panics.

use std::process::{Child, Command, Stdio};

pub struct Daemon {
    name: String,
    child: Option<Child>,
    /// The PID to signal when the started program forks into the background
    /// (read from its pid file); None means the direct child.
    pub pid: Option<u32>,
}

impl Daemon {
    /// Starts `cmd` with output discarded unless LOWSPACE_TEST_VERBOSE is set.
    pub fn spawn(name: &str, mut cmd: Command) -> Daemon {
        if std::env::var_os("LOWSPACE_TEST_VERBOSE").is_none() {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        cmd.stdin(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Daemon {
            name: name.to_string(),
            child: Some(child),
            pid: None,
        }
    }

    pub fn id(&self) -> u32 {
        self.pid
            .or_else(|| self.child.as_ref().map(|c| c.id()))
            .unwrap_or(0)
    }

    /// Sends a signal (by name) to the daemon. Never signals PID 0 (that
    /// would be our whole process group, test runner included).
    pub fn signal(&self, sig: &str) {
        send_signal(sig, self.id());
    }

    /// SIGTERM, wait up to 5 s, then SIGKILL.
    pub fn stop(&mut self) {
        // Read the PID before taking the child: once taken, id() has none.
        let pid = self.id();
        if let Some(mut child) = self.child.take() {
            send_signal("TERM", pid);
            for _ in 0..100 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            send_signal("KILL", pid);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process still runs (not gone, not a zombie): a test
    /// that sees a request fail says whether the daemon died.
    pub fn is_running(&self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.id())) {
            // The state follows the command name's closing parenthesis.
            Ok(stat) => stat
                .rsplit_once(')')
                .map(|(_, rest)| !rest.trim_start().starts_with('Z'))
                .unwrap_or(false),
            Err(_) => false,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

fn send_signal(sig: &str, pid: u32) {
    if pid == 0 {
        return;
    }
    let _ = Command::new(super::require_program("kill"))
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}
