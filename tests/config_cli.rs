//! `lowspace config` as a user debugging their setup meets it: which file
//! was read, what every value came out as, what is wrong and where.
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod support;

use std::path::{Path, PathBuf};

use support::{run_lowspace, tempdir::TempDir};

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn lowspace(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let out = run_lowspace(home, args, envs);
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn config_of(home: &Path, file: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["--config", file.to_str().unwrap(), "config"];
    args.extend_from_slice(extra);
    lowspace(home, &args, &[])
}

#[test]
fn toml_file_is_reported_with_defaults_filled_in() {
    let home = TempDir::new("config-cli");
    let file = write(
        &home,
        "lowspace.toml",
        r#"
log_level = "debug"
[rtorrent]
socket_url = "scgi:///run/rtorrent.sock"
[rotate]
managed_torrents_directory = "/srv/torrents"
space_limit = "3 GiB"
max_seed_time = "2d"
[remote]
service = "rsync"
host = "me@nas"
path = "/volume1/torrents"
ssh_command = 'ssh -p 2222 -i "/home/pi/my keys/nas"'
"#,
    );
    let run = config_of(home.path(), &file, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = &run.stdout;
    assert!(
        out.contains(r#"ssh_command = ["ssh", "-p", "2222", "-i", "/home/pi/my keys/nas"]"#),
        "{out}"
    );
    assert!(out.contains(&format!("{} (TOML)", file.display())), "{out}");
    assert!(out.contains("space_limit = 3221225472"), "{out}");
    assert!(out.contains("required_ratio = 1.0"), "{out}");
    assert!(out.contains("reserve = 0"), "{out}");
    assert!(out.contains("max_seed_time = \"2d\""), "{out}");
    assert!(out.contains("timeout = \"5m\""), "{out}");
    assert!(out.contains("retries = 3"), "{out}");
    assert!(out.contains("log_level = \"debug\""), "{out}");

    // The printed report is a configuration that loads to the same settings.
    let printed = write(&home, "printed.toml", out);
    let again = config_of(home.path(), &printed, &["--json"]);
    let first = config_of(home.path(), &file, &["--json"]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let mut a: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    let mut b: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    a["file"] = serde_json::Value::Null;
    b["file"] = serde_json::Value::Null;
    assert_eq!(a, b);
}

#[test]
fn json_gives_bytes_and_seconds() {
    let home = TempDir::new("config-cli");
    let file = write(
        &home,
        "c.toml",
        "[rotate]\nmanaged_torrents_directory = \"/m\"\nspace_limit = \"500 MB\"\nreserve = \"1 GiB\"\nmin_seed_time = \"1h 30m\"\n[remote]\nservice = \"local\"\npath = \"/mnt/usb\"\ntimeout = \"90s\"\nretries = 5\n",
    );
    let run = config_of(home.path(), &file, &["--json"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["format"], "toml");
    assert_eq!(json["rotate"]["space_limit"], 500_000_000);
    assert_eq!(json["rotate"]["reserve"], 1u64 << 30);
    assert_eq!(json["rotate"]["min_seed_time"], 5400);
    assert_eq!(json["rotate"]["max_seed_time"], serde_json::Value::Null);
    assert_eq!(json["remote"]["service"], "local");
    assert_eq!(json["remote"]["timeout"], 90);
    assert_eq!(json["remote"]["retries"], 5);
}

#[test]
fn legacy_ini_with_deprecated_remote_host_warns_and_converts() {
    let home = TempDir::new("config-cli");
    let file = write(
        &home,
        "driver.cf",
        "[main]\n\
         managed_torrents_directory = /home/pi/torrents   # where the .torrent files are\n\
         space_limit = 3221225472 ; 3 GiB\n\
         required_ratio = 2\n\
         remote_host = pi@nas\n\
         remote_path = /data/torrents\n\
         socket_url = scgi:///home/pi/rtorrent.sock\n\
         log_level = warning\n",
    );
    let run = config_of(home.path(), &file, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = &run.stdout;
    assert!(out.contains("(legacy INI)"), "{out}");
    assert!(
        out.contains("# warning:") && out.contains("remote_host is deprecated"),
        "{out}"
    );
    assert!(
        run.stderr.contains("remote_host is deprecated"),
        "{}",
        run.stderr
    );
    assert!(
        out.contains("managed_torrents_directory = \"/home/pi/torrents\""),
        "{out}"
    );
    assert!(out.contains("space_limit = 3221225472"), "{out}");
    assert!(out.contains("required_ratio = 2.0"), "{out}");
    assert!(out.contains("service = \"rsync\""), "{out}");
    assert!(out.contains("host = \"pi@nas\""), "{out}");
    assert!(out.contains("path = \"/data/torrents\""), "{out}");
    assert!(out.contains("log_level = \"warn\""), "{out}");

    // Saved as TOML, the report is read as TOML with no warnings left.
    let migrated = write(&home, "migrated.toml", out);
    let again = config_of(home.path(), &migrated, &[]);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.stdout.contains("(TOML)"), "{}", again.stdout);
    assert!(!again.stdout.contains("warning"), "{}", again.stdout);
    assert!(
        again.stdout.contains("host = \"pi@nas\""),
        "{}",
        again.stdout
    );
}

#[test]
fn legacy_rclone_keys_become_rclone_environment_variables() {
    let home = TempDir::new("config-cli");
    let file = write(
        &home,
        "driver.cf",
        "[main]\nmanaged_torrents_directory = /t\nspace_limit = 1 GiB\n\
         remote_sync_service = rclone\nrclone_remote = gdrive\nrclone_path = seedbox/done\n\
         rclone_bwlimit = 2M\nrclone_drive_chunk_size = 64M\nrclone_config_pass = hunter2\n",
    );
    let run = config_of(home.path(), &file, &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let out = &run.stdout;
    assert!(out.contains("service = \"rclone\""), "{out}");
    assert!(out.contains("rclone_remote = \"gdrive\""), "{out}");
    assert!(out.contains("path = \"seedbox/done\""), "{out}");
    assert!(out.contains("[remote.rclone_env]"), "{out}");
    assert!(out.contains("RCLONE_BWLIMIT = \"2M\""), "{out}");
    assert!(out.contains("RCLONE_DRIVE_CHUNK_SIZE = \"64M\""), "{out}");
    assert!(out.contains("RCLONE_CONFIG_PASS"), "{out}");
    assert!(!out.contains("hunter2"), "a password was printed:\n{out}");

    let run = config_of(home.path(), &file, &["--json", "--show-secrets"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["format"], "legacy-ini");
    assert_eq!(json["remote"]["rclone_env"]["RCLONE_BWLIMIT"], "2M");
    assert_eq!(
        json["remote"]["rclone_env"]["RCLONE_CONFIG_PASS"],
        "hunter2"
    );
}

#[test]
fn unknown_key_is_a_config_error_with_a_suggestion() {
    let home = TempDir::new("config-cli");
    let file = write(
        &home,
        "c.toml",
        "[rotate]\nmanaged_torrents_directory = \"/m\"\nspace_limit = \"1 GiB\"\nmin_seed_tme = \"1h\"\n",
    );
    let run = config_of(home.path(), &file, &[]);
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(
        run.stderr.contains(&format!(
            "{}:4: unknown key \"min_seed_tme\"",
            file.display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean \"min_seed_time\"?"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);

    // A misspelt required key is reported as the typo, not as missing.
    let file = write(
        &home,
        "typo.toml",
        "[rotate]\nmanaged_torrents_directory = \"/m\"\nspace_limt = \"1 GiB\"\n",
    );
    let run = config_of(home.path(), &file, &[]);
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(
        run.stderr.contains("typo.toml:3:") && run.stderr.contains("did you mean \"space_limit\"?"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_size_names_file_line_and_key() {
    let home = TempDir::new("config-cli");
    let file = write(
        &home,
        "driver.cf",
        "[main]\nmanaged_torrents_directory = /m\nspace_limit = three gigs\n",
    );
    let run = config_of(home.path(), &file, &[]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr
            .contains(&format!("{}:3: space_limit:", file.display())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("three gigs"), "{}", run.stderr);
}

#[test]
fn missing_file_is_a_config_error() {
    let home = TempDir::new("config-cli");
    let missing = home.path().join("nope.toml");
    let run = config_of(home.path(), &missing, &[]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("nope.toml"), "{}", run.stderr);
    assert!(run.stderr.contains("file not found"), "{}", run.stderr);

    // No --config and nothing at the default places: say where it looked.
    let run = lowspace(home.path(), &["config"], &[]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("no configuration file found")
            && run.stderr.contains(".rtorrent_low_space_driver.cf"),
        "{}",
        run.stderr
    );
}

#[test]
fn default_locations_prefer_toml_over_the_legacy_file() {
    let home = TempDir::new("config-cli");
    let legacy = write(
        &home,
        ".rtorrent_low_space_driver.cf",
        "[main]\nmanaged_torrents_directory = /legacy\nspace_limit = 1\n",
    );
    let run = lowspace(home.path(), &["config"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .contains(&format!("{} (legacy INI)", legacy.display())),
        "{}",
        run.stdout
    );

    let xdg = home.path().join("xdg");
    let toml = write(
        &home,
        "xdg/lowspace/config.toml",
        "[rotate]\nmanaged_torrents_directory = \"/new\"\nspace_limit = 2\n",
    );
    let run = lowspace(
        home.path(),
        &["config"],
        &[("XDG_CONFIG_HOME", xdg.to_str().unwrap())],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("{} (TOML)", toml.display())),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\"/new\""), "{}", run.stdout);
}
