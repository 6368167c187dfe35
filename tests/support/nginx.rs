//! A real nginx started by the test, configured in a temp dir with server
//! blocks the caller supplies (scgi_pass to rtorrent, HTTPS with a test CA,
//! static listings for `follow`), plus the helpers those blocks need: an
//! htpasswd file and a throwaway CA with server and client certificates,
//! made with real openssl.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::process::Daemon;
use super::{require_program, wait_until};

pub struct Nginx {
    pub dir: PathBuf,
    daemon: Daemon,
}

impl Nginx {
    /// Starts nginx with `server_blocks` inside `http { }`; waits until every
    /// port in `ports` accepts connections.
    pub fn start(dir: &Path, server_blocks: &str, ports: &[u16]) -> Nginx {
        let bin = require_program("nginx");
        std::fs::create_dir_all(dir.join("logs")).expect("create nginx dir");
        let is_root = Command::new(super::require_program("id"))
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        // As root the workers would run as nobody and could not reach the
        // test's files and rtorrent's socket.
        let user = if is_root { "user root;\n" } else { "" };
        let d = dir.display();
        let conf = format!(
            "{user}worker_processes 1;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             access_log off;\n\
             client_body_temp_path {d}/client_body;\n\
             proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n\
             uwsgi_temp_path {d}/uwsgi;\n\
             scgi_temp_path {d}/scgi;\n\
             {server_blocks}\n\
             }}\n"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let mut cmd = Command::new(bin);
        cmd.arg("-e")
            .arg("stderr")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-g")
            .arg(format!(
                "daemon off; pid {}/nginx.pid; error_log stderr;",
                dir.display()
            ));
        let daemon = Daemon::spawn("nginx", cmd);
        for port in ports {
            wait_until(
                &format!("nginx on 127.0.0.1:{port}"),
                Duration::from_secs(10),
                || std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok(),
            );
        }
        Nginx {
            dir: dir.to_path_buf(),
            daemon,
        }
    }

    pub fn stop(&mut self) {
        self.daemon.stop();
    }
}

/// Writes an htpasswd file (apr1 hashes from `openssl passwd`).
pub fn htpasswd(path: &Path, user: &str, password: &str) {
    let openssl = require_program("openssl");
    let out = Command::new(openssl)
        .args(["passwd", "-apr1", password])
        .output()
        .expect("run openssl passwd");
    assert!(out.status.success(), "openssl passwd failed");
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::fs::write(path, format!("{user}:{hash}\n")).expect("write htpasswd");
}

/// A CA made for one test, able to issue server and client certificates.
pub struct TestCa {
    pub dir: PathBuf,
    pub cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new(require_program("openssl"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCa {
    pub fn new(dir: &Path, name: &str) -> TestCa {
        std::fs::create_dir_all(dir).expect("create CA dir");
        let key = format!("{name}.key");
        let cert = format!("{name}.pem");
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &cert,
                "-days",
                "2",
                "-subj",
                &format!("/CN={name}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        TestCa {
            dir: dir.to_path_buf(),
            cert: dir.join(cert),
            key: dir.join(key),
        }
    }

    /// Issues a certificate for 127.0.0.1/localhost (`client`: for client
    /// authentication instead). Returns (certificate, key) PEM paths.
    pub fn issue(&self, name: &str, client: bool) -> (PathBuf, PathBuf) {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let cert = format!("{name}.pem");
        let ext = format!("{name}.ext");
        let usage = if client { "clientAuth" } else { "serverAuth" };
        std::fs::write(
            self.dir.join(&ext),
            format!(
                "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage={usage}\n"
            ),
        )
        .expect("write openssl ext file");
        openssl(
            &self.dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &self.cert.display().to_string(),
                "-CAkey",
                &self.key.display().to_string(),
                "-CAcreateserial",
                "-out",
                &cert,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
        (self.dir.join(cert), self.dir.join(key))
    }
}
