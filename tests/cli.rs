//! The CLI as a user meets it: help, version, exit codes, config errors.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod support;
use support::{run_lowspace, tempdir::TempDir};

#[test]
fn version_and_help() {
    let home = TempDir::new("cli");
    let out = run_lowspace(home.path(), &["--version"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("lowspace {}", env!("CARGO_PKG_VERSION"))
    );
    let out = run_lowspace(home.path(), &["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Examples:") && help.contains("--log-systemd"),
        "{help}"
    );
}

#[test]
fn unknown_option_is_a_usage_error() {
    let home = TempDir::new("cli");
    let out = run_lowspace(home.path(), &["--bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
}

/// A torrent whose name is not ASCII, made by the real mktorrent.
fn unicode_torrent(dir: &std::path::Path) -> std::path::PathBuf {
    support::mktorrent::write_data(&dir.join("Łódź ☃ song.flac"), 40_000, 3);
    support::mktorrent::make(
        dir,
        "Łódź ☃ song.flac",
        "song.torrent",
        &["-a", "http://127.0.0.1:9/announce"],
    )
}

#[test]
fn log_file_appends_timestamped_utf8_lines_under_lang_c() {
    let home = TempDir::new("cli-logfile");
    let torrent = unicode_torrent(home.path());
    let log = home.join("lowspace.log");
    let args = [
        "--log-file",
        log.to_str().unwrap(),
        "--log-level",
        "debug",
        "show",
        torrent.to_str().unwrap(),
    ];
    for _ in 0..2 {
        let out = run_lowspace(home.path(), &args, &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "the log goes to the file, not stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(&log).expect("log file is UTF-8");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("info-hash")).collect();
    assert_eq!(lines.len(), 2, "two runs append two lines:\n{text}");
    for line in lines {
        // 2026-11-22T03:13:00.123Z DEBUG [lowspace::cli::show] ...
        let stamp = line.split(' ').next().unwrap();
        assert!(
            stamp.len() == 24 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
            "{line}"
        );
        assert!(line.contains("DEBUG"), "{line}");
    }
    // The report on stdout keeps the name intact, whatever LANG says.
    let out = run_lowspace(
        home.path(),
        &["show", torrent.to_str().unwrap()],
        &[("LC_ALL", "C")],
    );
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("Łódź ☃ song.flac"));
}

#[test]
fn log_systemd_has_priorities_and_no_timestamps() {
    let home = TempDir::new("cli-systemd");
    let torrent = unicode_torrent(home.path());
    let out = run_lowspace(
        home.path(),
        &[
            "--log-systemd",
            "--log-level",
            "debug",
            "show",
            torrent.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    let line = err
        .lines()
        .find(|l| l.contains("info-hash"))
        .unwrap_or_else(|| panic!("no debug line:\n{err}"));
    assert!(line.starts_with("<7>DEBUG"), "{line}");
    assert!(!line.contains("Z "), "no timestamp: {line}");
}

#[test]
fn log_level_comes_from_the_config_when_not_given() {
    let home = TempDir::new("cli-level");
    let torrent = unicode_torrent(home.path());
    let config_dir = home.join(".config/lowspace");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(config_dir.join("config.toml"), "log_level = \"debug\"\n").unwrap();
    let out = run_lowspace(home.path(), &["show", torrent.to_str().unwrap()], &[]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("DEBUG"),
        "config's level applies"
    );
    let out = run_lowspace(
        home.path(),
        &["--log-level", "warn", "show", torrent.to_str().unwrap()],
        &[],
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("DEBUG"),
        "--log-level wins over the config"
    );
}
