//! The sync backends against real parts: rsync and rclone sftp over a real
//! sshd on 127.0.0.1, rclone's local backend, and a plain directory; plus
//! the faults a user meets (host down, key refused, remote full, rsync not
//! installed, stray temporaries on the remote).
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lowspace::config::{RemoteSettings, SyncSettings};
use lowspace::sync::{FailureKind, Programs, RelPath, Remote, Scope, Sleeper, Syncer};
use support::files::sha1_of;
use support::require_program;
use support::sshd::Sshd;
use support::tempdir::TempDir;
use support::tmpfs::Tmpfs;

const NON_ASCII_DIR: &str = "Ünïcödé Tørrent ファイル";

fn lang_c() {
    // Names must survive whatever the locale; the users of the original
    // driver had to set LANG=en_US.UTF-8, lowspace must not need it.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("LANG", "C");
        std::env::remove_var("LC_ALL");
        std::env::remove_var("LC_CTYPE");
    });
}

fn p(s: &str) -> RelPath {
    RelPath::new(s).unwrap()
}

fn settings(retries: u32) -> SyncSettings {
    SyncSettings {
        timeout: Duration::from_secs(20),
        retries,
        ..SyncSettings::default()
    }
}

/// Records the pauses instead of sleeping.
#[derive(Default)]
struct NoSleep(Mutex<Vec<Duration>>);

impl Sleeper for NoSleep {
    fn sleep(&self, d: Duration) {
        self.0.lock().unwrap().push(d);
    }
}

/// A download directory with a nested multi-file torrent and a single-file
/// torrent; returns the files and sizes written.
fn make_downloads(root: &Path) -> Vec<(RelPath, u64)> {
    let files: [(String, usize); 5] = [
        (
            format!("{NON_ASCII_DIR}/disc 1/01 – first track.flac"),
            70_000,
        ),
        (format!("{NON_ASCII_DIR}/disc 1/it's here.txt"), 13),
        (format!("{NON_ASCII_DIR}/empty file"), 0),
        (
            format!("{NON_ASCII_DIR}/deep/er/still deeper/x.bin"),
            300_001,
        ),
        ("single file.iso".to_string(), 123_457),
    ];
    let mut out = Vec::new();
    for (i, (rel, size)) in files.iter().enumerate() {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let bytes: Vec<u8> = (0..*size).map(|n| ((n * 7 + i * 13) % 251) as u8).collect();
        std::fs::write(&path, bytes).unwrap();
        out.push((p(rel), *size as u64));
    }
    out.sort();
    out
}

/// Every expected file has the same bytes on both sides.
fn assert_same_bytes(local_root: &Path, remote_root: &Path, files: &[(RelPath, u64)]) {
    for (rel, _) in files {
        assert_eq!(
            sha1_of(&local_root.join(rel)),
            sha1_of(&remote_root.join(rel)),
            "{rel}"
        );
    }
}

fn rsync_remote(sshd: &Sshd, remote_dir: &Path, key: Option<&Path>) -> RemoteSettings {
    RemoteSettings::Rsync {
        host: "root@127.0.0.1".to_string(),
        path: remote_dir.display().to_string(),
        ssh_command: Some(
            lowspace::config::split_command_line(&match key {
                Some(k) => sshd.ssh_command_with(k),
                None => sshd.ssh_command(),
            })
            .unwrap(),
        ),
    }
}

// ---------------------------------------------------------------- rsync

#[test]
fn rsync_copies_trees_and_single_files_with_any_names() {
    lang_c();
    require_program("rsync");
    let tmp = TempDir::new("sync-rsync");
    let sshd = Sshd::start(&tmp.join("sshd"));
    let local = tmp.join("downloads");
    let remote_dir = tmp.join("remote/big storage");
    let files = make_downloads(&local);
    let syncer = Syncer::new(&rsync_remote(&sshd, &remote_dir, None), &settings(2));

    // Before: nothing there, and verify says so.
    let before = syncer.verify(&files).unwrap();
    assert_eq!(before.missing.len(), files.len());

    syncer
        .push(&local, &[p(NON_ASCII_DIR), p("single file.iso")])
        .unwrap();
    let v = syncer.verify(&files).unwrap();
    assert!(v.is_complete(), "{v}");
    assert_same_bytes(&local, &remote_dir, &files);
    let listing = syncer.list(&p(NON_ASCII_DIR)).unwrap();
    let want: BTreeMap<RelPath, u64> = files
        .iter()
        .filter(|(rel, _)| rel.first_component() == NON_ASCII_DIR)
        .cloned()
        .collect();
    assert_eq!(listing, want);
    assert_eq!(
        syncer
            .list(&p("single file.iso"))
            .unwrap()
            .get(&p("single file.iso")),
        Some(&123_457)
    );

    // File by file: one file of another torrent lands under its torrent name.
    let other = tmp.join("other");
    std::fs::create_dir_all(other.join("Big One/part 2")).unwrap();
    std::fs::write(other.join("Big One/part 2/ß.bin"), b"only this one").unwrap();
    std::fs::write(other.join("Big One/not this"), b"stays local").unwrap();
    syncer.push(&other, &[p("Big One/part 2/ß.bin")]).unwrap();
    assert_eq!(
        std::fs::read(remote_dir.join("Big One/part 2/ß.bin")).unwrap(),
        b"only this one"
    );
    assert!(!remote_dir.join("Big One/not this").exists());

    syncer.probe().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(&remote_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".lowspace-probe"))
        .collect();
    assert!(leftovers.is_empty(), "probe left {leftovers:?}");
}

/// An ssh that logs each rsync transfer it carries to `<it>.log` (with
/// `--fsync` or not: under --protect-args the options reach the remote
/// through the connection, so they are read from the rsync that started
/// this ssh) and, while `<it>.old` exists, answers one with `--fsync` as a
/// remote rsync older than 3.2.4 does, over the real ssh.
fn ssh_logging_old_rsync(dir: &Path) -> PathBuf {
    let path = dir.join("ssh_to_an_old_rsync");
    std::fs::write(
        &path,
        "#!/bin/bash\n# Tests only: a remote whose rsync predates --fsync.\n\
         args=(\"$@\")\n\
         case \"$*\" in *'rsync --server'*) ;; *) exec ssh -o BatchMode=yes \"$@\";; esac\n\
         if tr '\\0' '\\n' < /proc/$PPID/cmdline | grep -qx -- --fsync; then fsync=fsync; else fsync=plain; fi\n\
         echo \"$fsync\" >> \"$0.log\"\n\
         if [ -e \"$0.old\" ] && [ $fsync = fsync ]; then\n\
           for i in \"${!args[@]}\"; do [ \"${args[$i]}\" = rsync ] && break; done\n\
           args=(\"${args[@]:0:$i}\" \"echo 'rsync: on remote machine: --fsync: unknown option' >&2; \
         echo 'rsync error: syntax or usage error (code 1) at main.c(1554) [server=3.1.3]' >&2; exit 1\")\n\
         fi\nexec ssh -o BatchMode=yes \"${args[@]}\"\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    path
}

/// The receiving rsync gets `--fsync` (written files reach the remote
/// disk before the listing verifies them); a remote rsync that refuses it
/// is pushed to again without it, once per run, and the copy verifies.
#[test]
fn rsync_pushes_with_fsync_and_copes_with_a_remote_rsync_without_it() {
    lang_c();
    require_program("rsync");
    let tmp = TempDir::new("sync-rsync-fsync");
    let sshd = Sshd::start(&tmp.join("sshd"));
    let local = tmp.join("downloads");
    let files = make_downloads(&local);
    let wrapper = ssh_logging_old_rsync(tmp.path());
    let log_file = PathBuf::from(format!("{}.log", wrapper.display()));
    let command = sshd
        .ssh_command()
        .replacen("ssh", &wrapper.display().to_string(), 1);
    let remote_for = |dir: &Path| RemoteSettings::Rsync {
        host: "root@127.0.0.1".to_string(),
        path: dir.display().to_string(),
        ssh_command: Some(lowspace::config::split_command_line(&command).unwrap()),
    };

    let new_dir = tmp.join("remote-new");
    let syncer = Syncer::new(&remote_for(&new_dir), &settings(1));
    syncer.push(&local, &[p("single file.iso")]).unwrap();
    let pushes = std::fs::read_to_string(&log_file).unwrap();
    assert_eq!(pushes, "fsync\n");
    std::fs::remove_file(&log_file).unwrap();

    std::fs::write(format!("{}.old", wrapper.display()), b"").unwrap();
    let old_dir = tmp.join("remote-old");
    let syncer = Syncer::new(&remote_for(&old_dir), &settings(1));
    syncer
        .push(&local, &[p(NON_ASCII_DIR), p("single file.iso")])
        .unwrap();
    syncer.push(&local, &[p("single file.iso")]).unwrap();
    let v = syncer.verify(&files).unwrap();
    assert!(v.is_complete(), "{v}");
    assert_same_bytes(&local, &old_dir, &files);
    // Refused once with --fsync, then without it, and not asked again
    // (the listings that verify come after, also plain).
    let pushes = std::fs::read_to_string(&log_file).unwrap();
    assert!(pushes.starts_with("fsync\nplain\nplain\n"), "{pushes}");
    assert_eq!(pushes.matches("fsync").count(), 1, "{pushes}");
}

#[test]
fn rsync_stray_temporary_neither_completes_nor_spoils_a_copy() {
    lang_c();
    let tmp = TempDir::new("sync-stray");
    let sshd = Sshd::start(&tmp.join("sshd"));
    let local = tmp.join("downloads");
    let remote_dir = tmp.join("remote");
    let files = make_downloads(&local);
    let syncer = Syncer::new(&rsync_remote(&sshd, &remote_dir, None), &settings(2));
    syncer.push(&local, &[p(NON_ASCII_DIR)]).unwrap();
    let torrent: Vec<(RelPath, u64)> = files
        .into_iter()
        .filter(|(r, _)| r.first_component() == NON_ASCII_DIR)
        .collect();

    // A stray rsync temporary next to a complete copy: still complete.
    let dir = remote_dir.join(NON_ASCII_DIR).join("disc 1");
    std::fs::write(dir.join(".x.abcd"), vec![0u8; 13]).unwrap();
    let v = syncer.verify(&torrent).unwrap();
    assert!(v.is_complete(), "{v}");

    // The same file count with a real file replaced by a temporary: the
    // original driver's count comparison passed this; we must not.
    std::fs::remove_file(dir.join("it's here.txt")).unwrap();
    std::fs::write(dir.join(".it's here.txt.Ab12Cd"), vec![0u8; 13]).unwrap();
    let v = syncer.verify(&torrent).unwrap();
    assert!(!v.is_complete());
    assert_eq!(
        v.missing,
        vec![p(&format!("{NON_ASCII_DIR}/disc 1/it's here.txt"))]
    );
    assert!(v.wrong_size.is_empty());

    // A truncated (partial) file is caught by its size.
    std::fs::write(dir.join("01 – first track.flac"), b"short").unwrap();
    let v = syncer.verify(&torrent).unwrap();
    assert_eq!(v.wrong_size.len(), 1, "{v}");
    assert_eq!(v.wrong_size[0].found, 5);
}

#[test]
fn rsync_host_down_gives_up_after_bounded_retries() {
    lang_c();
    let tmp = TempDir::new("sync-down");
    let mut sshd = Sshd::start(&tmp.join("sshd"));
    let local = tmp.join("downloads");
    make_downloads(&local);
    sshd.stop();
    let syncer = Syncer::new(
        &rsync_remote(&sshd, &tmp.join("remote"), None),
        &settings(3),
    );
    let started = Instant::now();
    // Real back-off sleeps here (2 s, 4 s): the whole failure stays bounded.
    let err = syncer.push(&local, &[p("single file.iso")]).unwrap_err();
    eprintln!("user sees: {err}");
    let took = started.elapsed();
    assert_eq!(err.kind, FailureKind::HostUnreachable, "{err}");
    assert_eq!(err.attempts, 3);
    assert!(err.to_string().contains("cannot reach the remote"), "{err}");
    assert!(err.to_string().contains("Connection refused"), "{err}");
    assert!(
        err.to_string().contains("gave up after 3 attempts"),
        "{err}"
    );
    assert!(
        took >= Duration::from_secs(6) && took < Duration::from_secs(40),
        "{took:?}"
    );

    let probe = Syncer::new(
        &rsync_remote(&sshd, &tmp.join("remote"), None),
        &settings(2),
    )
    .with_sleeper(Box::new(NoSleep::default()))
    .probe()
    .unwrap_err();

    eprintln!("user sees: {probe}");
    assert_eq!(probe.kind, FailureKind::HostUnreachable, "{probe}");
}

#[test]
fn rsync_refused_key_is_not_retried() {
    lang_c();
    let tmp = TempDir::new("sync-key");
    let sshd = Sshd::start(&tmp.join("sshd"));
    let local = tmp.join("downloads");
    make_downloads(&local);
    let sleeper = NoSleep::default();
    let remote = rsync_remote(&sshd, &tmp.join("remote"), Some(&sshd.wrong_key));
    let syncer = Syncer::new(&remote, &settings(5)).with_sleeper(Box::new(sleeper));
    let err = syncer.push(&local, &[p("single file.iso")]).unwrap_err();
    eprintln!("user sees: {err}");
    assert_eq!(err.kind, FailureKind::AuthRefused, "{err}");
    assert_eq!(err.attempts, 1);
    assert!(err.to_string().contains("ssh-copy-id"), "{err}");
    assert!(!tmp.join("remote/single file.iso").exists());
}

#[test]
fn rsync_remote_full_is_reported_and_verify_refuses_the_copy() {
    lang_c();
    let tmp = TempDir::new("sync-full");
    let sshd = Sshd::start(&tmp.join("sshd"));
    let local = tmp.join("downloads");
    std::fs::create_dir_all(local.join("Big")).unwrap();
    let big: Vec<u8> = (0..2 * 1024 * 1024u32).map(|n| (n % 253) as u8).collect();
    std::fs::write(local.join("Big/two MiB.bin"), &big).unwrap();
    let remote_dir = tmp.join("remote");
    let _full = Tmpfs::mount(&remote_dir, "512k");
    let syncer = Syncer::new(&rsync_remote(&sshd, &remote_dir, None), &settings(3))
        .with_sleeper(Box::new(NoSleep::default()));
    let started = Instant::now();
    let err = syncer.push(&local, &[p("Big")]).unwrap_err();
    eprintln!("user sees: {err}");
    assert_eq!(err.kind, FailureKind::RemoteFull, "{err}");
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert!(err.to_string().contains("free space there"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let v = syncer
        .verify(&[(p("Big/two MiB.bin"), big.len() as u64)])
        .unwrap();
    assert!(!v.is_complete(), "{v}");
}

#[test]
fn rsync_not_installed_says_what_to_install() {
    lang_c();
    let tmp = TempDir::new("sync-norsync");
    let sshd = Sshd::start(&tmp.join("sshd"));
    let local = tmp.join("downloads");
    make_downloads(&local);
    let programs = Programs {
        rsync: tmp.join("empty-bin/rsync").into_os_string(),
        ..Programs::default()
    };
    let syncer = Syncer::with_programs(
        &rsync_remote(&sshd, &tmp.join("remote"), None),
        &settings(3),
        programs,
    )
    .with_sleeper(Box::new(NoSleep::default()));
    let err = syncer.push(&local, &[p("single file.iso")]).unwrap_err();
    eprintln!("user sees: {err}");
    assert_eq!(err.kind, FailureKind::NotInstalled, "{err}");
    assert_eq!(err.attempts, 1);
    assert!(
        err.to_string()
            .ends_with("rsync is not installed (apt install rsync)"),
        "{err}"
    );
    let probe = syncer.probe().unwrap_err();
    eprintln!("user sees: {probe}");
    assert_eq!(probe.kind, FailureKind::NotInstalled);
}

/// Changes one byte in the middle of a remote file, keeping its size and
/// time: the size check still passes, the content check must not.
fn flip_one_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(path, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

/// The content check passes an identical copy; a remote file with one
/// byte changed at the same size passes the size check but fails the
/// content check, as the torrent's own failure naming the file.
fn assert_content_check_catches_a_changed_byte(
    syncer: &Syncer,
    local: &Path,
    remote_root: &Path,
    files: &[(RelPath, u64)],
) {
    let v = syncer.verify_content(local, files).unwrap();
    assert!(v.is_complete(), "{v}");
    assert_eq!(v.verified, files.len());
    assert_eq!(v.bytes, files.iter().map(|(_, n)| n).sum::<u64>());
    let (changed, _) = files
        .iter()
        .find(|(rel, size)| *size > 1_000 && rel.as_str().contains('/'))
        .unwrap();
    flip_one_byte(&remote_root.join(changed));
    assert!(syncer.verify(files).unwrap().is_complete());
    let v = syncer.verify_content(local, files).unwrap();
    eprintln!("user sees: {v}");
    assert!(!v.is_complete());
    assert_eq!(v.mismatched, vec![changed.clone()]);
    assert_eq!(v.verified, files.len() - 1);
    assert!(v.to_string().contains(changed.as_str()), "{v}");
    // A file gone from the remote since the size check is named too.
    let (gone, _) = files.iter().find(|(rel, _)| rel != changed).unwrap();
    std::fs::remove_file(remote_root.join(gone)).unwrap();
    let v = syncer.verify_content(local, files).unwrap();
    assert_eq!(v.unhashed, vec![gone.clone()], "{v}");
    assert_eq!(v.mismatched, vec![changed.clone()], "{v}");
}

#[test]
fn rsync_content_check_catches_a_changed_byte() {
    lang_c();
    require_program("sha1sum");
    let tmp = TempDir::new("sync-rsync-hash");
    let sshd = Sshd::start(&tmp.join("sshd"));
    let local = tmp.join("downloads");
    let remote_dir = tmp.join("remote/big storage");
    let files = make_downloads(&local);
    let syncer = Syncer::new(&rsync_remote(&sshd, &remote_dir, None), &settings(2));
    syncer
        .push(&local, &[p(NON_ASCII_DIR), p("single file.iso")])
        .unwrap();
    assert_content_check_catches_a_changed_byte(&syncer, &local, &remote_dir, &files);
}

#[test]
fn rsync_content_check_without_sha1sum_on_the_remote_names_it() {
    lang_c();
    let rsync = require_program("rsync");
    let tmp = TempDir::new("sync-rsync-nosha1sum");
    // The remote's PATH has every program of /usr/bin but sha1sum.
    let tools = tmp.join("no-sha1sum");
    std::fs::create_dir_all(&tools).unwrap();
    for entry in std::fs::read_dir("/usr/bin").unwrap() {
        let name = entry.unwrap().file_name();
        if name != "sha1sum" {
            std::os::unix::fs::symlink(Path::new("/usr/bin").join(&name), tools.join(&name))
                .unwrap();
        }
    }
    assert!(tools.join("rsync").exists(), "{}", rsync.display());
    let sshd = Sshd::start_with(
        &tmp.join("sshd"),
        &format!("SetEnv PATH={}\n", tools.display()),
    );
    let local = tmp.join("downloads");
    let remote_dir = tmp.join("remote");
    let files = make_downloads(&local);
    let syncer = Syncer::new(&rsync_remote(&sshd, &remote_dir, None), &settings(3))
        .with_sleeper(Box::new(NoSleep::default()));
    syncer
        .push(&local, &[p(NON_ASCII_DIR), p("single file.iso")])
        .unwrap();
    assert!(syncer.verify(&files).unwrap().is_complete());
    let err = syncer.verify_content(&local, &files).unwrap_err();
    eprintln!("user sees: {err}");
    assert_eq!(err.kind, FailureKind::NotInstalled, "{err}");
    assert_eq!(err.kind.scope(), Scope::Remote);
    assert_eq!(err.attempts, 1);
    assert!(err.to_string().contains("sha1sum"), "{err}");
}

// ---------------------------------------------------------------- rclone

fn rclone_remote(conf: &Path, remote: &str, path: &Path) -> RemoteSettings {
    RemoteSettings::Rclone {
        remote: remote.to_string(),
        path: path.display().to_string(),
        env: vec![("RCLONE_CONFIG".to_string(), conf.display().to_string())],
    }
}

#[test]
fn rclone_local_remote_copies_and_verifies() {
    lang_c();
    require_program("rclone");
    let tmp = TempDir::new("sync-rclone-local");
    let conf = tmp.join("rclone.conf");
    std::fs::write(&conf, "[disk]\ntype = local\n").unwrap();
    let local = tmp.join("downloads");
    let remote_dir = tmp.join("remote");
    let files = make_downloads(&local);
    // A directory holding only a file of its own name lists like a file.
    std::fs::create_dir_all(local.join("Same")).unwrap();
    std::fs::write(local.join("Same/Same"), b"inside").unwrap();
    let syncer = Syncer::new(&rclone_remote(&conf, "disk", &remote_dir), &settings(2));
    assert_eq!(syncer.verify(&files).unwrap().missing.len(), files.len());
    syncer
        .push(&local, &[p(NON_ASCII_DIR), p("single file.iso"), p("Same")])
        .unwrap();
    let v = syncer.verify(&files).unwrap();
    assert!(v.is_complete(), "{v}");
    assert_same_bytes(&local, &remote_dir, &files);
    assert_eq!(
        syncer
            .list(&p("Same"))
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![(p("Same/Same"), 6)]
    );
    assert_eq!(
        syncer
            .list(&p("single file.iso"))
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        vec![(p("single file.iso"), 123_457)]
    );
    syncer.probe().unwrap();
    assert_content_check_catches_a_changed_byte(&syncer, &local, &remote_dir, &files);

    let wrong = Syncer::new(&rclone_remote(&conf, "nosuch", &remote_dir), &settings(3))
        .with_sleeper(Box::new(NoSleep::default()));
    let err = wrong.probe().unwrap_err();
    eprintln!("user sees: {err}");
    assert_eq!(err.kind, FailureKind::Misconfigured, "{err}");
    assert_eq!(err.attempts, 1);
}

#[test]
fn rclone_sftp_remote_over_real_sshd() {
    lang_c();
    let tmp = TempDir::new("sync-rclone-sftp");
    let mut sshd = Sshd::start(&tmp.join("sshd"));
    let conf = tmp.join("rclone.conf");
    std::fs::write(
        &conf,
        format!(
            "[box]\ntype = sftp\nhost = 127.0.0.1\nport = {}\nuser = root\nkey_file = {}\n\
             shell_type = unix\nmd5sum_command = none\nsha1sum_command = none\n",
            sshd.port,
            sshd.key.display()
        ),
    )
    .unwrap();
    let local = tmp.join("downloads");
    let remote_dir = tmp.join("remote sftp");
    let files = make_downloads(&local);
    let syncer = Syncer::new(&rclone_remote(&conf, "box", &remote_dir), &settings(2));
    syncer
        .push(&local, &[p(NON_ASCII_DIR), p("single file.iso")])
        .unwrap();
    let v = syncer.verify(&files).unwrap();
    assert!(v.is_complete(), "{v}");
    assert_same_bytes(&local, &remote_dir, &files);
    syncer.probe().unwrap();

    sshd.stop();
    let down = Syncer::new(&rclone_remote(&conf, "box", &remote_dir), &settings(2))
        .with_sleeper(Box::new(NoSleep::default()));
    let started = Instant::now();
    let err = down.verify(&files).unwrap_err();
    eprintln!("user sees: {err}");
    assert_eq!(err.kind, FailureKind::HostUnreachable, "{err}");
    assert_eq!(err.attempts, 2);
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn rclone_not_installed_says_what_to_install() {
    let tmp = TempDir::new("sync-norclone");
    let programs = Programs {
        rclone: tmp.join("empty-bin/rclone").into_os_string(),
        ..Programs::default()
    };
    let remote = rclone_remote(&tmp.join("rclone.conf"), "x", &tmp.join("r"));
    let err = Syncer::with_programs(&remote, &settings(3), programs)
        .probe()
        .unwrap_err();
    eprintln!("user sees: {err}");
    assert_eq!(err.kind, FailureKind::NotInstalled);
    assert!(
        err.to_string()
            .ends_with("rclone is not installed (apt install rclone)"),
        "{err}"
    );
}

/// A remote that keeps no SHA-1 (rclone crypt, like many cloud remotes):
/// the content check fails for the whole remote, naming it and saying what
/// to do; `RCLONE_DOWNLOAD` makes rclone download and hash instead.
#[test]
fn rclone_remote_without_sha1_fails_the_content_check_clearly() {
    lang_c();
    require_program("rclone");
    let tmp = TempDir::new("sync-rclone-crypt");
    let secret = std::process::Command::new("rclone")
        .args(["obscure", "not a real secret"])
        .output()
        .unwrap();
    let conf = tmp.join("rclone.conf");
    std::fs::write(
        &conf,
        format!(
            "[vault]\ntype = crypt\nremote = {}\npassword = {}\n",
            tmp.join("encrypted").display(),
            String::from_utf8(secret.stdout).unwrap().trim()
        ),
    )
    .unwrap();
    let local = tmp.join("downloads");
    let files = make_downloads(&local);
    let remote = RemoteSettings::Rclone {
        remote: "vault".to_string(),
        path: "torrents".to_string(),
        env: vec![("RCLONE_CONFIG".to_string(), conf.display().to_string())],
    };
    let syncer = Syncer::new(&remote, &settings(3)).with_sleeper(Box::new(NoSleep::default()));
    syncer
        .push(&local, &[p(NON_ASCII_DIR), p("single file.iso")])
        .unwrap();
    assert!(syncer.verify(&files).unwrap().is_complete());
    let err = syncer.verify_content(&local, &files).unwrap_err();
    eprintln!("user sees: {err}");
    assert_eq!(err.kind, FailureKind::Misconfigured, "{err}");
    assert_eq!(err.kind.scope(), Scope::Remote);
    assert_eq!(err.attempts, 1);
    let text = err.to_string();
    assert!(text.contains("vault:torrents"), "{text}");
    assert!(text.contains("verify = \"size\""), "{text}");

    let RemoteSettings::Rclone { mut env, .. } = remote.clone() else {
        unreachable!()
    };
    env.push(("RCLONE_DOWNLOAD".to_string(), "true".to_string()));
    let download = Syncer::new(
        &RemoteSettings::Rclone {
            remote: "vault".to_string(),
            path: "torrents".to_string(),
            env,
        },
        &settings(1),
    );
    let v = download.verify_content(&local, &files).unwrap();
    assert!(v.is_complete(), "{v}");
    assert_eq!(v.verified, files.len());
}

// ---------------------------------------------------------------- local

#[test]
fn local_directory_copies_atomically_and_verifies() {
    lang_c();
    let tmp = TempDir::new("sync-local");
    let local = tmp.join("downloads");
    let remote_dir = tmp.join("usb disk");
    let files = make_downloads(&local);
    let remote = RemoteSettings::Local {
        path: remote_dir.clone(),
    };
    let syncer = Syncer::new(&remote, &settings(2));

    // The mount point is missing: refuse rather than create it.
    let err = syncer.push(&local, &[p("single file.iso")]).unwrap_err();
    eprintln!("user sees: {err}");
    assert_eq!(err.kind, FailureKind::Misconfigured, "{err}");
    assert!(err.to_string().contains("mount the disk"), "{err}");
    assert!(!remote_dir.exists());

    std::fs::create_dir_all(&remote_dir).unwrap();
    syncer
        .push(&local, &[p(NON_ASCII_DIR), p("single file.iso")])
        .unwrap();
    let v = syncer.verify(&files).unwrap();
    assert!(v.is_complete(), "{v}");
    assert_same_bytes(&local, &remote_dir, &files);
    syncer.probe().unwrap();
    assert_content_check_catches_a_changed_byte(&syncer, &local, &remote_dir, &files);
    let mut names = Vec::new();
    for entry in walk(&remote_dir) {
        names.push(entry.file_name().unwrap().to_string_lossy().into_owned());
    }
    assert!(
        !names
            .iter()
            .any(|n| n.contains("lowspace-tmp") || n.contains("lowspace-probe")),
        "{names:?}"
    );

    // A symlink inside a torrent is refused with the reason.
    std::os::unix::fs::symlink("/etc/hostname", local.join(NON_ASCII_DIR).join("link")).unwrap();
    let err = syncer.push(&local, &[p(NON_ASCII_DIR)]).unwrap_err();
    eprintln!("user sees: {err}");
    assert_eq!(err.kind, FailureKind::LocalSource);
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
}

#[test]
fn local_directory_full_is_reported() {
    let tmp = TempDir::new("sync-local-full");
    let local = tmp.join("downloads");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("big.bin"), vec![7u8; 2 * 1024 * 1024]).unwrap();
    let remote_dir = tmp.join("small");
    let _full = Tmpfs::mount(&remote_dir, "512k");
    let syncer = Syncer::new(
        &RemoteSettings::Local {
            path: remote_dir.clone(),
        },
        &settings(3),
    )
    .with_sleeper(Box::new(NoSleep::default()));
    let err = syncer.push(&local, &[p("big.bin")]).unwrap_err();
    eprintln!("user sees: {err}");
    assert_eq!(err.kind, FailureKind::RemoteFull, "{err}");
    assert_eq!(err.attempts, 1);
    let v = syncer.verify(&[(p("big.bin"), 2 * 1024 * 1024)]).unwrap();
    assert_eq!(v.missing, vec![p("big.bin")]);
    // The temporary was cleaned up, leaving the space free.
    assert_eq!(std::fs::read_dir(&remote_dir).unwrap().count(), 0);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

// ------------------------------------------------- torrents of real size

/// A torrent-like tree of `count` files of a few KB in nested non-ASCII
/// directories, with the names that trip shells and parsers (spaces, a
/// leading dash, a quote, a backslash sequence, a newline); returns the
/// files and sizes written, sorted.
fn make_photo_torrent(root: &Path, top: &str, count: usize) -> Vec<(RelPath, u64)> {
    let odd = [
        "-rf kein Befehl.jpg",
        "it's mine.jpg",
        r"back\#123slash.jpg",
        "zeile\nzwei.jpg",
        " führendes Leerzeichen.jpg",
    ];
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let year = 2015 + i / 600;
        let day = (i / 30) % 20 + 1;
        let name = match odd.get(i) {
            Some(name) => name.to_string(),
            None => format!("IMG_{i:04} ü.jpg"),
        };
        let rel = format!("{top}/{year} Été/Tag {day:02} – Ünïcödé/{name}");
        let size = 1_000 + (i * 37) % 4_000;
        let path = root.join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let bytes: Vec<u8> = (0..size).map(|n| ((n * 31 + i * 7) % 251) as u8).collect();
        std::fs::write(&path, bytes).unwrap();
        out.push((p(&rel), size as u64));
    }
    out.sort();
    out
}

/// The remote tree is byte-identical to the local one: the same files,
/// nothing else, and the same bytes in each.
fn assert_same_tree(local: &Path, remote: &Path) {
    let here = support::files::files_under(local);
    let there = support::files::files_under(remote);
    assert_eq!(here.len(), there.len(), "file counts differ");
    assert_eq!(here, there);
    for rel in &here {
        assert_eq!(
            std::fs::read(local.join(rel)).unwrap(),
            std::fs::read(remote.join(rel)).unwrap(),
            "{}",
            rel.display()
        );
    }
}

/// Changes one byte of `changed` on the remote (same size): the content
/// check must name exactly that file; the copy is then put back.
fn assert_content_mismatch_is_named(
    syncer: &Syncer,
    local: &Path,
    remote_dir: &Path,
    files: &[(RelPath, u64)],
    changed: &RelPath,
) {
    flip_one_byte(&remote_dir.join(changed));
    let c = syncer.verify_content(local, files).unwrap();
    assert_eq!(c.mismatched, vec![changed.clone()], "{c}");
    std::fs::copy(local.join(changed), remote_dir.join(changed)).unwrap();
}

/// Breaks one remote file's size and removes another: verification must
/// say which, and not pass the copy.
fn assert_mismatch_is_named(syncer: &Syncer, remote_root: &Path, files: &[(RelPath, u64)]) {
    let (shrunk, size) = &files[1_234];
    std::fs::write(remote_root.join(shrunk), vec![0u8; *size as usize - 1]).unwrap();
    let (gone, _) = &files[2_345];
    std::fs::remove_file(remote_root.join(gone)).unwrap();
    let v = syncer.verify(files).unwrap();
    eprintln!("user sees: {v}");
    assert!(!v.is_complete());
    assert_eq!(v.verified, files.len() - 2);
    assert_eq!(v.missing, vec![gone.clone()]);
    assert_eq!(v.wrong_size.len(), 1, "{v}");
    assert_eq!(v.wrong_size[0].path, *shrunk);
    assert_eq!(v.wrong_size[0].found, size - 1);
    assert!(v.to_string().contains(shrunk.as_str()), "{v}");
    assert!(v.to_string().contains(gone.as_str()), "{v}");
}

#[test]
fn rsync_verifies_a_torrent_of_3000_files_with_a_quoted_ssh_command() {
    lang_c();
    let tmp = TempDir::new("sync-rsync-3000");
    let sshd = Sshd::start(&tmp.join("sshd"));
    let local = tmp.join("downloads");
    let files = make_photo_torrent(&local, "Fotos Ünïcödé", 3_000);
    // The key sits in a directory with a space: ssh_command must quote it,
    // and the transfer (rsync -e) and the listing must read it alike.
    let keys = tmp.join("my keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(&sshd.key, keys.join("nas key")).unwrap();
    let line = format!(
        "ssh -p {} -i \"{}\" -o StrictHostKeyChecking=no -o 'UserKnownHostsFile /dev/null' -o LogLevel=ERROR",
        sshd.port,
        keys.join("nas key").display()
    );
    let remote_dir = tmp.join("remote/big storage");
    let remote = RemoteSettings::Rsync {
        host: "root@127.0.0.1".to_string(),
        path: remote_dir.display().to_string(),
        ssh_command: Some(lowspace::config::split_command_line(&line).unwrap()),
    };
    let syncer = Syncer::new(&remote, &settings(2));
    syncer.probe().unwrap();
    assert_eq!(syncer.verify(&files).unwrap().missing.len(), 3_000);

    syncer.push(&local, &[p("Fotos Ünïcödé")]).unwrap();
    let started = Instant::now();
    let v = syncer.verify(&files).unwrap();
    eprintln!("verified 3,000 files over ssh in {:?}", started.elapsed());
    assert!(v.is_complete(), "{v}");
    assert_eq!(v.verified, 3_000);
    assert_same_tree(&local, &remote_dir);

    // Content check: the 3,000 quoted names (about 200 KB of them) go to
    // the remote in several commands, each under the one-argument limit.
    let started = Instant::now();
    let c = syncer.verify_content(&local, &files).unwrap();
    eprintln!(
        "hashed 3,000 files ({} bytes) on both sides over ssh in {:?}",
        c.bytes,
        started.elapsed()
    );
    assert!(c.is_complete(), "{c}");
    assert_eq!(c.verified, 3_000);
    let (changed, _) = &files[2_999];
    assert_content_mismatch_is_named(&syncer, &local, &remote_dir, &files, changed);

    assert_mismatch_is_named(&syncer, &remote_dir, &files);
}

#[test]
fn rsync_remote_with_busybox_find_copies_and_verifies() {
    lang_c();
    let busybox = require_program("busybox");
    let tmp = TempDir::new("sync-busybox");
    // The remote's tools come from BusyBox first (find has no -printf
    // there), as on a NAS box; rsync itself is the real one.
    let tools = tmp.join("busybox-bin");
    std::fs::create_dir_all(&tools).unwrap();
    for tool in [
        "find", "ls", "wc", "stat", "du", "mkdir", "rm", "printf", "cat", "sha1sum",
    ] {
        std::os::unix::fs::symlink(&busybox, tools.join(tool)).unwrap();
    }
    let path = format!("{}:/usr/bin:/bin", tools.display());
    let sshd = Sshd::start_with(&tmp.join("sshd"), &format!("SetEnv PATH={path}\n"));
    let ssh = lowspace::config::split_command_line(&sshd.ssh_command()).unwrap();
    let which = std::process::Command::new(&ssh[0])
        .args(&ssh[1..])
        .args([
            "root@127.0.0.1",
            "command -v find; find . -maxdepth 0 -printf x",
        ])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&which.stdout);
    assert_eq!(
        shown.lines().next(),
        Some(&*tools.join("find").display().to_string())
    );
    assert!(
        !which.status.success() && shown.trim_end().ends_with("/find"),
        "the remote find must not be GNU find: {shown}"
    );

    let local = tmp.join("downloads");
    let files = make_photo_torrent(&local, "Fotos", 3_000);
    let remote_dir = tmp.join("nas share");
    let syncer = Syncer::new(&rsync_remote(&sshd, &remote_dir, None), &settings(2));
    syncer.probe().unwrap();
    syncer.push(&local, &[p("Fotos")]).unwrap();
    let v = syncer.verify(&files).unwrap();
    assert!(v.is_complete(), "{v}");
    assert_same_tree(&local, &remote_dir);
    // BusyBox sha1sum (no -z, its own output): the content check reads
    // only digests, so it works the same.
    let c = syncer.verify_content(&local, &files).unwrap();
    assert!(c.is_complete(), "{c}");
    let (changed, _) = files
        .iter()
        .find(|(rel, _)| rel.as_str().contains('\n'))
        .unwrap();
    assert_content_mismatch_is_named(&syncer, &local, &remote_dir, &files, changed);
    assert_mismatch_is_named(&syncer, &remote_dir, &files);
}

#[test]
fn rclone_verifies_a_torrent_of_3000_files() {
    lang_c();
    require_program("rclone");
    let tmp = TempDir::new("sync-rclone-3000");
    let conf = tmp.join("rclone.conf");
    std::fs::write(&conf, "[disk]\ntype = local\n").unwrap();
    let local = tmp.join("downloads");
    let files = make_photo_torrent(&local, "Fotos Ünïcödé", 3_000);
    let remote_dir = tmp.join("remote");
    let syncer = Syncer::new(&rclone_remote(&conf, "disk", &remote_dir), &settings(2));
    syncer.push(&local, &[p("Fotos Ünïcödé")]).unwrap();
    let started = Instant::now();
    let v = syncer.verify(&files).unwrap();
    eprintln!(
        "verified 3,000 files through rclone in {:?}",
        started.elapsed()
    );
    assert!(v.is_complete(), "{v}");
    assert_eq!(v.verified, 3_000);
    assert_same_tree(&local, &remote_dir);
    assert_mismatch_is_named(&syncer, &remote_dir, &files);
}

/// Peak resident memory of this process since the last reset, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Measurement, not a check (run with --ignored --nocapture): time and
/// peak memory of verifying listings of 3,000 and 30,000 files through
/// rsync over sshd and through rclone.
#[test]
#[ignore]
fn measure_verification_of_big_listings() {
    lang_c();
    let tmp = TempDir::new("sync-measure");
    let sshd = Sshd::start(&tmp.join("sshd"));
    let conf = tmp.join("rclone.conf");
    std::fs::write(&conf, "[disk]\ntype = local\n").unwrap();
    for count in [3_000, 30_000] {
        let top = format!("Fotos {count}");
        let local = tmp.join("downloads");
        let files = make_photo_torrent(&local, &top, count);
        let rsync_dir = tmp.join("rsync remote");
        let rclone_dir = tmp.join("rclone remote");
        let rsync = Syncer::new(&rsync_remote(&sshd, &rsync_dir, None), &settings(1));
        let rclone = Syncer::new(&rclone_remote(&conf, "disk", &rclone_dir), &settings(1));
        for (name, syncer) in [("rsync over ssh", &rsync), ("rclone local", &rclone)] {
            syncer.push(&local, &[p(&top)]).unwrap();
            // Resets VmHWM to the current RSS (Linux 4.0+).
            std::fs::write("/proc/self/clear_refs", "5").unwrap();
            let before = peak_rss_kib();
            let started = Instant::now();
            let v = syncer.verify(&files).unwrap();
            let took = started.elapsed();
            let peak = peak_rss_kib();
            assert!(v.is_complete(), "{v}");
            eprintln!(
                "{count} files, {name}: verified in {took:.2?}; peak RSS {peak} KiB \
                 ({} KiB above the {before} KiB before)",
                peak.saturating_sub(before)
            );
        }
    }
}

/// Measurement, not a check (run with `--release -- --ignored
/// --nocapture`): the content check of one 100 MB file through rsync over
/// loopback ssh, against the size check and the copy itself.
#[test]
#[ignore]
fn measure_hash_verification_of_100_mb() {
    lang_c();
    require_program("sha1sum");
    let tmp = TempDir::new("sync-measure-hash");
    let sshd = Sshd::start(&tmp.join("sshd"));
    let local = tmp.join("downloads");
    std::fs::create_dir_all(local.join("Big")).unwrap();
    let size = 100 * 1000 * 1000;
    let bytes: Vec<u8> = (0..size)
        .map(|n: usize| (n.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(local.join("Big/file.bin"), &bytes).unwrap();
    drop(bytes);
    let files = vec![(p("Big/file.bin"), size as u64)];
    let remote_dir = tmp.join("remote");
    let syncer = Syncer::new(&rsync_remote(&sshd, &remote_dir, None), &settings(1));
    let started = Instant::now();
    syncer.push(&local, &[p("Big")]).unwrap();
    let push = started.elapsed();
    let started = Instant::now();
    assert!(syncer.verify(&files).unwrap().is_complete());
    let sized = started.elapsed();
    let started = Instant::now();
    let v = syncer.verify_content(&local, &files).unwrap();
    let hashed = started.elapsed();
    assert!(v.is_complete(), "{v}");
    let mb = size as f64 / 1e6;
    eprintln!(
        "100 MB over loopback ssh: push {push:.2?}; size check {sized:.2?}; content check {hashed:.2?} \
         ({:.0} MB/s per side, both sides at once)",
        mb / hashed.as_secs_f64()
    );
}
