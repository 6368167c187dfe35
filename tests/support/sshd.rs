//! A real OpenSSH server on 127.0.0.1 for rsync and rclone sftp tests:
//! its own host key, a client key pair in its AuthorizedKeysFile, a second
//! key pair it does not know (for refused logins), stopped by PID on drop.
//! We run as root here, so it logs in as root (PermitRootLogin yes,
//! StrictModes no because the test directory is not root-only).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::Daemon;
use super::{free_port, require_program, wait_until};

pub struct Sshd {
    pub port: u16,
    /// The private key sshd accepts.
    pub key: PathBuf,
    /// A private key sshd does not accept.
    pub wrong_key: PathBuf,
    daemon: Option<Daemon>,
    config: PathBuf,
}

fn keygen(path: &Path) {
    let status = Command::new(require_program("ssh-keygen"))
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "lowspace-test", "-f"])
        .arg(path)
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

impl Sshd {
    /// Starts sshd with its files in `dir` and waits until it accepts connections.
    pub fn start(dir: &Path) -> Sshd {
        Sshd::start_with(dir, "")
    }

    /// Same, with extra sshd_config lines (such as `SetEnv PATH=...` to
    /// give the remote other tools).
    pub fn start_with(dir: &Path, extra_config: &str) -> Sshd {
        require_program("sshd");
        require_program("ssh");
        std::fs::create_dir_all(dir).unwrap();
        // Privilege separation directory the Debian package normally creates at boot.
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        let host_key = dir.join("host_ed25519");
        let key = dir.join("client_ed25519");
        let wrong_key = dir.join("wrong_ed25519");
        for k in [&host_key, &key, &wrong_key] {
            keygen(k);
        }
        let authorized = dir.join("authorized_keys");
        std::fs::copy(dir.join("client_ed25519.pub"), &authorized).unwrap();
        let port = free_port();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PidFile {}\nStrictModes no\nPermitRootLogin yes\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nSubsystem sftp internal-sftp\n\
                 LogLevel ERROR\nMaxStartups 100\n{extra_config}",
                host_key.display(),
                authorized.display(),
                dir.join("sshd.pid").display()
            ),
        )
        .unwrap();
        let mut sshd = Sshd {
            port,
            key,
            wrong_key,
            daemon: None,
            config,
        };
        sshd.restart_on_same_port();
        sshd
    }

    /// (Re)starts the server on the port it had.
    pub fn restart_on_same_port(&mut self) {
        self.stop();
        let mut cmd = Command::new(require_program("sshd"));
        cmd.arg("-D").arg("-e").arg("-f").arg(&self.config);
        self.daemon = Some(Daemon::spawn("sshd", cmd));
        let port = self.port;
        wait_until(
            "sshd to accept connections",
            Duration::from_secs(10),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
    }

    /// Stops the server; connections to its port are then refused.
    pub fn stop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            d.stop();
        }
    }

    /// The client command line for `key`.
    pub fn ssh_command_with(&self, key: &Path) -> String {
        format!(
            "ssh -p {} -i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes",
            self.port,
            key.display()
        )
    }

    /// The client command line that logs in.
    /// The `[remote]` lines of a lowspace config for rclone's sftp backend
    /// against this sshd, configured entirely through RCLONE_* variables
    /// (`conf` is an empty rclone.conf the test writes).
    pub fn rclone_remote_toml(&self, remote_dir: &Path, conf: &Path) -> String {
        format!(
            "service = \"rclone\"\nrclone_remote = \"nas\"\npath = \"{}\"\n\
             rclone_env = {{ RCLONE_CONFIG = \"{}\", RCLONE_CONFIG_NAS_TYPE = \"sftp\", \
             RCLONE_CONFIG_NAS_HOST = \"127.0.0.1\", RCLONE_CONFIG_NAS_PORT = \"{}\", \
             RCLONE_CONFIG_NAS_USER = \"root\", RCLONE_CONFIG_NAS_KEY_FILE = \"{}\" }}",
            remote_dir.display(),
            conf.display(),
            self.port,
            self.key.display()
        )
    }

    pub fn ssh_command(&self) -> String {
        self.ssh_command_with(&self.key)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An ssh stand-in for a slow link: while `flag` exists it sleeps
/// `seconds` before each connection, then runs the real ssh with the same
/// arguments. Every call appends a line to `<flag>.calls`, so a test can
/// tell which connection (the rsync transfer, say) is under way.
pub fn fake_slow_ssh(dir: &Path, flag: &Path, seconds: f64) -> PathBuf {
    let path = dir.join("fake_slow_link_ssh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n# Stands in for a slow link to the remote (tests only).\n\
             echo call >> '{flag}.calls'\n\
             [ -e '{flag}' ] && sleep {seconds}\nexec ssh -o BatchMode=yes \"$@\"\n",
            flag = flag.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    path
}
