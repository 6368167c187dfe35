//! The CLI as a user meets it: help, version, exit codes, config errors.
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
