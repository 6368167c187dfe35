//! The loaders, table-tested: every accepted form and every error, which
//! must name the file, the line and the key.

use super::*;
use std::path::Path;

fn toml(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("/etc/lowspace/config.toml"), text)
}

fn ini(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("/home/pi/.rtorrent_low_space_driver.cf"), text)
}

const SEED_000: &str = "[main]
managed_torrents_directory = /home/amoe/managed_torrents
space_limit = 3221225472
required_ratio = 1.0
socket_url = scgi:///home/amoe/.rtorrent.sock
remote_sync_service = rsync
rsync_host = somehost
rsync_path = /home/amoe/place-with-space
";

const SEED_001: &str = "[main]
managed_torrents_directory = /home/amoe/managed_torrents
remote_host = somehost
remote_path = /home/amoe/place-with-space
space_limit = 3221225472
required_ratio = 1.0
socket_url = scgi:///home/amoe/.rtorrent.sock
";

#[test]
fn seed_000_template_loads_unchanged() {
    let c = ini(SEED_000).unwrap();
    assert_eq!(c.format, ConfigFormat::LegacyIni);
    let r = c.rotate.unwrap();
    assert_eq!(
        r.managed_torrents_directory,
        Path::new("/home/amoe/managed_torrents")
    );
    assert_eq!(r.space_limit, 3_221_225_472);
    assert_eq!(r.required_ratio, 1.0);
    assert_eq!(
        c.rtorrent.socket_url.as_deref(),
        Some("scgi:///home/amoe/.rtorrent.sock")
    );
    assert_eq!(
        c.remote,
        Some(RemoteSettings::Rsync {
            host: "somehost".into(),
            path: "/home/amoe/place-with-space".into(),
            ssh_command: None
        })
    );
    assert!(c.warnings.is_empty());
}

#[test]
fn seed_001_template_loads_with_deprecation_warnings() {
    let c = ini(SEED_001).unwrap();
    assert_eq!(
        c.remote,
        Some(RemoteSettings::Rsync {
            host: "somehost".into(),
            path: "/home/amoe/place-with-space".into(),
            ssh_command: None
        })
    );
    assert_eq!(c.warnings.len(), 2);
    assert!(
        c.warnings[0].contains("remote_host is deprecated; call it rsync_host"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn legacy_rclone_keys_become_environment() {
    let text = "[main]
managed_torrents_directory = /srv/m
space_limit = 3 GiB      # inline comment
socket_url = /run/rt.sock ; another
remote_sync_service = rclone
rclone_remote = b2
rclone_path = backups/torrents
rclone_config = /home/pi/rclone.conf
rclone_b2_hard_delete = true
log_level = warning
";
    let c = ini(text).unwrap();
    assert_eq!(c.log_level, Some(log::LevelFilter::Warn));
    assert_eq!(c.rotate.as_ref().unwrap().space_limit, 3 << 30);
    assert_eq!(c.rtorrent.socket_url.as_deref(), Some("/run/rt.sock"));
    assert_eq!(
        c.remote,
        Some(RemoteSettings::Rclone {
            remote: "b2".into(),
            path: "backups/torrents".into(),
            env: vec![
                ("RCLONE_CONFIG".into(), "/home/pi/rclone.conf".into()),
                ("RCLONE_B2_HARD_DELETE".into(), "true".into())
            ],
        })
    );
}

#[test]
fn toml_full_layout() {
    let text = r#"
log_level = "debug"
[rtorrent]
socket_url = "scgi://127.0.0.1:5000"
[rotate]
managed_torrents_directory = "/srv/managed"
space_limit = "500MB"
required_ratio = 2
min_seed_time = "1h"
max_seed_time = "2d"
reserve = "1 GiB"
done_directory = "/srv/done"
[remote]
service = "rclone"
rclone_remote = "nas"
path = "media"
timeout = "90s"
retries = 5
[remote.rclone_env]
RCLONE_CONFIG = "/etc/rclone.conf"
"#;
    let c = toml(text).unwrap();
    assert_eq!(c.format, ConfigFormat::Toml);
    assert_eq!(c.log_level, Some(log::LevelFilter::Debug));
    let r = c.rotate.unwrap();
    assert_eq!(r.space_limit, 500_000_000);
    assert_eq!(r.required_ratio, 2.0);
    assert_eq!(r.min_seed_time, Some(std::time::Duration::from_secs(3600)));
    assert_eq!(
        r.max_seed_time,
        Some(std::time::Duration::from_secs(172_800))
    );
    assert_eq!(r.reserve, 1 << 30);
    assert_eq!(r.done_directory.as_deref(), Some(Path::new("/srv/done")));
    assert_eq!(
        c.sync,
        SyncSettings {
            timeout: std::time::Duration::from_secs(90),
            retries: 5,
            verify: crate::config::VerifyMode::Size,
        }
    );
    assert_eq!(
        c.remote,
        Some(RemoteSettings::Rclone {
            remote: "nas".into(),
            path: "media".into(),
            env: vec![("RCLONE_CONFIG".into(), "/etc/rclone.conf".into())]
        })
    );
}

#[test]
fn tree_defaults_from_toml() {
    let c = toml("[tree]\ntrackers = [\"http://a/announce\", \"udp://b:6969\"]\nwebseed = \"https://w/lib\"\npiece_size = \"1 MiB\"\nprivate = true\nthreads = 2\nprune = true\n").unwrap();
    assert_eq!(
        c.tree.trackers,
        vec!["http://a/announce".to_string(), "udp://b:6969".into()]
    );
    assert_eq!(c.tree.webseed.as_deref(), Some("https://w/lib"));
    assert_eq!(c.tree.piece_size.as_deref(), Some("1 MiB"));
    assert!(c.tree.private && c.tree.prune && !c.tree.hidden);
    assert_eq!(c.tree.threads, Some(2));
    let one = toml("[tree]\ntrackers = \"http://only/announce\"\n").unwrap();
    assert_eq!(one.tree.trackers, vec!["http://only/announce".to_string()]);
}

#[test]
fn toml_without_rotate_is_fine_for_other_jobs() {
    let c = toml("[rtorrent]\nsocket_url = \"/run/rt.sock\"\n").unwrap();
    assert!(c.rotate.is_none());
    assert!(c.remote.is_none());
}

#[test]
fn a_main_header_means_ini_unless_named_toml() {
    assert_eq!(
        detect_format(Path::new("/x/driver.cf"), "[main]\n"),
        ConfigFormat::LegacyIni
    );
    assert_eq!(
        detect_format(Path::new("/x/config.toml"), "[main]\n"),
        ConfigFormat::Toml
    );
    assert_eq!(
        detect_format(Path::new("/x/anything"), "[rotate]\n"),
        ConfigFormat::Toml
    );
    assert_eq!(
        detect_format(Path::new("/x/old.cf"), "[other]\n"),
        ConfigFormat::LegacyIni
    );
}

/// Every error names the file, the line and what was expected.
#[test]
fn each_error_says_where_and_what() {
    let cases: &[(&str, bool, &str, Option<usize>)] = &[
        // (text, is_ini, message fragment, line)
        ("[rotate]\nspce_limit = 5\n", false, "unknown key \"spce_limit\" in [rotate]; did you mean \"space_limit\"?", Some(2)),
        ("[rotat]\n", false, "unknown section [rotat]; did you mean [rotate]?", Some(1)),
        ("[rotate]\nmanaged_torrents_directory = \"/m\"\nspace_limit = -5\n", false, "space_limit: expected a size of zero or more bytes, found -5", Some(3)),
        ("[rotate]\nmanaged_torrents_directory = \"/m\"\nspace_limit = \"lots\"\n", false, "space_limit: expected a size such as", Some(3)),
        ("[rotate]\nmanaged_torrents_directory = \"/m\"\nspace_limit = 0\n", false, "expected a size above zero", Some(3)),
        ("[rotate]\nmanaged_torrents_directory = \"m\"\nspace_limit = 1\n", false, "expected an absolute path, found \"m\"", Some(2)),
        ("[rotate]\nspace_limit = 1\n", false, "[rotate] needs managed_torrents_directory", Some(1)),
        ("[rotate]\nmanaged_torrents_directory = \"/m\"\nspace_limit = 1\nrequired_ratio = \"high\"\n", false, "required_ratio: expected a number such as 1.0, found \"high\"", Some(4)),
        ("[rotate]\nmanaged_torrents_directory = \"/m\"\nspace_limit = 1\nrequired_ratio = -1\n", false, "expected a ratio of zero or more", Some(4)),
        ("[rotate]\nmanaged_torrents_directory = \"/m\"\nspace_limit = 1\nmin_seed_time = \"2h\"\nmax_seed_time = \"1h\"\n", false, "must not be shorter than min_seed_time", Some(5)),
        ("[rotate]\nmanaged_torrents_directory = 5\nspace_limit = 1\n", false, "expected a string, found an integer", Some(2)),
        ("[rotate\n", false, "TOML syntax error", Some(1)),
        ("log_level = \"loud\"\n", false, "log_level: unknown log level \"loud\"", Some(1)),
        ("[remote]\nservice = \"ftp\"\n", false, "expected \"rsync\", \"rclone\" or \"local\", found \"ftp\"", Some(2)),
        ("[remote]\nservice = \"rsync\"\npath = \"/x\"\n", false, "[remote] needs host", Some(1)),
        ("[remote]\nservice = \"local\"\npath = \"rel\"\n", false, "expected an absolute path, found \"rel\"", Some(3)),
        ("[remote]\nservice = \"rclone\"\nrclone_remote = \"b2\"\n[remote.rclone_env]\nHOME = \"/x\"\n", false, "only RCLONE_* variables", Some(5)),
        ("[remote]\nservice = \"rsync\"\nhost = \"h\"\npath = \"/p\"\nretries = -1\n", false, "retries: expected a whole number", Some(5)),
        ("[rtorrent]\nsocket_url = \"\"\n", false, "socket_url: expected a value, found an empty string", Some(2)),
        ("[other]\nx = 1\n", true, "no [main] section", None),
        ("[main]\nmanaged_torrents_directory = /m\nspace_limit = 1\n[extra]\n", true, "unknown section [extra]", Some(4)),
        ("[main]\nspace_limit = 1\n", true, "[main] needs managed_torrents_directory", Some(1)),
        ("[main]\nmanaged_torrents_directory = /m\nspace_limit = 1\nspace_limt = 2\n", true, "did you mean \"space_limit\"?", Some(4)),
        ("[main]\nmanaged_torrents_directory = /m\nspace_limit = 1\nrsync_path = /x\n", true, "[main] needs rsync_host", Some(1)),
        ("[main]\nmanaged_torrents_directory = /m\nspace_limit = 1\nremote_sync_service = rclone\n", true, "[main] needs rclone_remote", Some(1)),
        ("[main]\nmanaged_torrents_directory = /m\nspace_limit = 1\nremote_sync_service = ftp\n", true, "expected rsync, rclone or local, found \"ftp\"", Some(4)),
        ("[main]\nmanaged_torrents_directory = /m\nspace_limit = 3 parsecs\n", true, "unknown size unit \"parsecs\"", Some(3)),
        ("[main]\nmanaged_torrents_directory = /m\nspace_limit = 1\nzzzzzzzz = 1\n", true, "known keys here:", Some(4)),
        ("[main\n", true, "no closing ']'", Some(1)),
        ("[tree]\nprivate = \"yes\"\n", false, "private: expected true or false, found a string", Some(2)),
        ("[tree]\ntrackers = [1, 2]\n", false, "trackers: expected a list of strings", Some(2)),
        ("[tree]\ntracker = \"http://a\"\n", false, "did you mean \"trackers\"?", Some(2)),
        ("[fish]\nport = 70000\n", false, "port: expected a port number from 0 to 65535", Some(2)),
        ("[fish]\nport = \"http\"\n", false, "port: expected a port number", Some(2)),
        ("[fish]\nlisten_interface = \"eth0\"\n", false, "listen_interface: expected an IP address such as \"192.168.1.5\", found \"eth0\"", Some(2)),
        ("[fish]\noutgoing_interface = 10\n", false, "outgoing_interface: expected a string, found an integer", Some(2)),
        ("[fish]\nconnections_limit = 0\n", false, "connections_limit: expected at least 1", Some(2)),
        ("[fish]\nrescan_interval = \"0s\"\n", false, "rescan_interval: expected a duration above zero", Some(2)),
        ("[fish]\nreport_interval = \"soon\"\n", false, "report_interval:", Some(2)),
        ("[fish]\ndht_bootstrap = [\"router.bittorrent.com\"]\n", false, "dht_bootstrap: expected host:port entries", Some(2)),
        ("[fish]\ndht = \"no\"\n", false, "dht: expected true or false", Some(2)),
        ("[fish]\ndht_rate = 0\n", false, "dht_rate: expected 1 to 10000 queries a second", Some(2)),
        ("[fish]\ndht_rate = 20000\n", false, "dht_rate: expected 1 to 10000 queries a second", Some(2)),
        ("[fish]\ndht_announce_interval = \"0s\"\n", false, "dht_announce_interval: expected a duration above zero", Some(2)),
        ("[fish]\nload_path = \"torrents\"\n", false, "load_path: expected an absolute path, found \"torrents\"", Some(2)),
        ("[fish]\nno_dht = true\n", false, "unknown key \"no_dht\" in [fish]", Some(2)),
        ("[fsh]\n", false, "did you mean [fish]?", Some(1)),
        ("[remote]\nservice = \"rsync\"\nhost = \"h\"\npath = \"/p\"\nssh_command = \"ssh -i '/my keys\"\n", false, "ssh_command: the single quote at character 8 is never closed", Some(5)),
        ("[remote]\nservice = \"rsync\"\nhost = \"h\"\npath = \"/p\"\nssh_command = 'ssh -i \"/my keys'\n", false, "ssh_command: the double quote at character 8 is never closed", Some(5)),
        ("[remote]\nservice = \"rsync\"\nhost = \"h\"\npath = \"/p\"\nssh_command = 'ssh x\\'\n", false, "ssh_command: ends in a backslash", Some(5)),
        ("[remote]\nservice = \"rsync\"\nhost = \"h\"\npath = \"/p\"\nssh_command = \"ssh -i $HOME/k\"\n", false, "ssh_command: '$' at character 8 would need a shell", Some(5)),
        ("[remote]\nservice = \"rsync\"\nhost = \"h\"\npath = \"/p\"\nssh_command = \"''\"\n", false, "ssh_command: the program name is empty", Some(5)),
        ("[remote]\nservice = \"rsync\"\nhost = \"h\"\npath = \"/p\"\nssh_command = \" \"\n", false, "ssh_command: expected a command such as \"ssh -p 2222\", found only blanks", Some(5)),
        ("[remote]\nservice = \"rsync\"\nhost = \"h\"\npath = \"/p\"\nssh_command = []\n", false, "ssh_command: expected the program and its options", Some(5)),
        ("[remote]\nservice = \"rsync\"\nhost = \"h\"\npath = \"/p\"\nssh_command = [\"\", \"-p\"]\n", false, "ssh_command: the program name (the first item) is empty", Some(5)),
        ("[remote]\nservice = \"rsync\"\nhost = \"h\"\npath = \"/p\"\nssh_command = 22\n", false, "ssh_command: expected a command such as", Some(5)),
        ("[remote]\nservice = \"rsync\"\nhost = \"h\"\npath = \"/p\"\nssh_command = [\"ssh\", 22]\n", false, "ssh_command: expected a command such as", Some(5)),
        ("[main]\nmanaged_torrents_directory = /m\nspace_limit = 1\nssh_command = ssh -i \"/my keys\n", true, "ssh_command: the double quote at character 8 is never closed", Some(4)),
    ];
    for (text, is_ini, fragment, line) in cases {
        let err = if *is_ini { ini(text) } else { toml(text) }.expect_err(text);
        let shown = err.to_string();
        assert!(
            shown.contains(fragment),
            "{text:?}\n  got: {shown}\n  want fragment: {fragment}"
        );
        assert_eq!(err.line, *line, "{text:?}: {shown}");
        let file = if *is_ini {
            ".rtorrent_low_space_driver.cf"
        } else {
            "config.toml"
        };
        assert!(shown.contains(file), "{shown}");
    }
}

#[test]
fn ssh_command_as_a_line_or_a_list() {
    let words = |c: Config| match c.remote {
        Some(RemoteSettings::Rsync { ssh_command, .. }) => ssh_command,
        other => panic!("{other:?}"),
    };
    let want: Vec<String> = ["ssh", "-p", "2222", "-i", "/home/pi/my keys/nas"]
        .map(String::from)
        .to_vec();
    let head = "[remote]\nservice = \"rsync\"\nhost = \"pi@nas\"\npath = \"/v\"\n";
    for line in [
        r#"ssh_command = 'ssh -p 2222 -i "/home/pi/my keys/nas"'"#,
        r#"ssh_command = "ssh -p 2222 -i '/home/pi/my keys/nas'""#,
        r#"ssh_command = ["ssh", "-p", "2222", "-i", "/home/pi/my keys/nas"]"#,
    ] {
        let c = toml(&format!("{head}{line}\n")).unwrap();
        assert_eq!(words(c), Some(want.clone()), "{line}");
    }
    let legacy = format!("{SEED_000}ssh_command = ssh -p 2222 -i \"/home/pi/my keys/nas\"\n");
    assert_eq!(words(ini(&legacy).unwrap()), Some(want));
}

#[test]
fn unreadable_and_non_utf8_files() {
    let err = load(Path::new("/nonexistent/lowspace.toml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/nonexistent/lowspace.toml: cannot read configuration: file not found"
    );
    let dir = std::env::temp_dir().join(format!("lowspace-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, b"log_level = \"\xff\"\n").unwrap();
    let err = load(&path).unwrap_err();
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn locate_prefers_explicit_then_xdg_then_home() {
    let dir = std::env::temp_dir().join(format!("lowspace-locate-{}", std::process::id()));
    let xdg = dir.join("xdg");
    let home = dir.join("home");
    std::fs::create_dir_all(xdg.join("lowspace")).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let env = |vars: &[(&str, &Path)]| crate::env::Env {
        args: vec![],
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.display().to_string()))
            .collect(),
        stdout: std::cell::RefCell::new(Box::new(std::io::sink())),
        stderr: std::cell::RefCell::new(Box::new(std::io::sink())),
    };
    let e = env(&[("HOME", &home), ("XDG_CONFIG_HOME", &xdg)]);
    let err = locate(&e, None).unwrap_err();
    assert!(err.message.contains("no configuration file found"), "{err}");
    std::fs::write(home.join(".rtorrent_low_space_driver.cf"), SEED_000).unwrap();
    assert_eq!(
        locate(&e, None).unwrap(),
        home.join(".rtorrent_low_space_driver.cf")
    );
    std::fs::write(xdg.join("lowspace/config.toml"), "").unwrap();
    assert_eq!(locate(&e, None).unwrap(), xdg.join("lowspace/config.toml"));
    assert_eq!(
        locate(&e, Some(Path::new("/given"))).unwrap(),
        Path::new("/given")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn suggestions_only_for_near_misses() {
    let known = ["space_limit", "required_ratio", "socket_url"];
    assert_eq!(
        read::closest("space_limt", known.iter().copied()),
        Some("space_limit")
    );
    assert_eq!(
        read::closest("socketurl", known.iter().copied()),
        Some("socket_url")
    );
    assert_eq!(read::closest("colour", known.iter().copied()), None);
}

#[test]
fn follow_section_with_transmission_and_defaults() {
    let text = r#"
[follow]
listing = "https://main.example/torrents/index.txt"
ca_file = "/etc/lowspace/ca.pem"
client_cert = "/etc/lowspace/box.pem"
client_key = "/etc/lowspace/box.key"
client = "transmission"
rpc_url = "http://127.0.0.1:9091/transmission/rpc"
username = "rpc"
password = "secret"
download_dir = "/srv/follow"
"#;
    let f = toml(text).unwrap().follow.unwrap();
    assert_eq!(f.listing, "https://main.example/torrents/index.txt");
    assert_eq!(
        f.ca_file.as_deref(),
        Some(Path::new("/etc/lowspace/ca.pem"))
    );
    assert_eq!(
        f.client_cert,
        Some((
            "/etc/lowspace/box.pem".into(),
            "/etc/lowspace/box.key".into()
        ))
    );
    assert_eq!(
        f.client,
        FollowClient::Transmission {
            rpc_url: "http://127.0.0.1:9091/transmission/rpc".into(),
            username: Some("rpc".into()),
            password: Some("secret".into()),
        }
    );
    assert_eq!(f.download_dir.as_deref(), Some(Path::new("/srv/follow")));
    assert_eq!(f.label, DEFAULT_FOLLOW_LABEL);
    assert!(!f.allow_empty);
    assert!(!f.allow_mass_removal);
    assert_eq!(f.timeout, Duration::from_secs(60));
}

#[test]
fn follow_rtorrent_socket_defaults_to_the_rtorrent_section() {
    let text = "[rtorrent]\nsocket_url = \"/run/rt.sock\"\n[follow]\nlisting = \"/srv/www/index.txt\"\nclient = \"rtorrent\"\nlabel = \"mirror\"\nallow_empty = true\ntimeout = \"30s\"\n";
    let f = toml(text).unwrap().follow.unwrap();
    assert_eq!(
        f.client,
        FollowClient::Rtorrent {
            socket_url: "/run/rt.sock".into()
        }
    );
    assert_eq!((f.label.as_str(), f.allow_empty), ("mirror", true));
    assert_eq!(f.timeout, Duration::from_secs(30));
    let own = "[rtorrent]\nsocket_url = \"/run/rt.sock\"\n[follow]\nlisting = \"/i.txt\"\nclient = \"rtorrent\"\nsocket_url = \"scgi://127.0.0.1:5000\"\n";
    assert_eq!(
        toml(own).unwrap().follow.unwrap().client,
        FollowClient::Rtorrent {
            socket_url: "scgi://127.0.0.1:5000".into()
        }
    );
    assert_eq!(toml("").unwrap().follow, None);
}

#[test]
fn follow_errors_say_where_and_what() {
    let base = "[follow]\nclient = \"transmission\"\nrpc_url = \"http://127.0.0.1:9091/transmission/rpc\"\n";
    let cases: &[(String, &str, usize)] = &[
        (base.to_string(), "[follow] needs listing", 1),
        (
            format!("{base}listing = \"index.txt\"\n"),
            "listing: expected an http:// or https:// URL or an absolute path, found \"index.txt\"",
            4,
        ),
        (
            format!("{base}listing = \"ftp://x/index.txt\"\n"),
            "listing: expected an http:// or https:// URL",
            4,
        ),
        (
            format!("{base}listing = \"/i\"\nclient_cert = \"/c.pem\"\n"),
            "[follow] needs client_key",
            1,
        ),
        (
            format!("{base}listing = \"/i\"\nclient_key = \"/c.key\"\n"),
            "[follow] needs client_cert",
            1,
        ),
        (
            format!("{base}listing = \"/i\"\nca_file = \"ca.pem\"\n"),
            "ca_file: expected an absolute path",
            5,
        ),
        (
            format!("{base}listing = \"/i\"\ndownload_dir = \"data\"\n"),
            "download_dir: expected an absolute path",
            5,
        ),
        (
            format!("{base}listing = \"/i\"\nlabel = \"\"\n"),
            "label: expected a value, found an empty string",
            5,
        ),
        (
            format!("{base}listing = \"/i\"\nallow_empty = \"yes\"\n"),
            "allow_empty: expected true or false",
            5,
        ),
        (
            format!("{base}listing = \"/i\"\nlabel = \"lowspace\"\n"),
            "the label rotate puts on the torrents it manages",
            5,
        ),
        (
            format!("{base}listing = \"/i\"\ntimeout = \"soon\"\n"),
            "timeout:",
            5,
        ),
        (
            format!("{base}listing = \"/i\"\nlisting_url = \"/i\"\n"),
            "unknown key \"listing_url\" in [follow]",
            5,
        ),
        (
            "[follow]\nlisting = \"/i\"\n".to_string(),
            "[follow] needs client = \"transmission\" or \"rtorrent\"",
            1,
        ),
        (
            "[follow]\nlisting = \"/i\"\nclient = \"deluge\"\n".to_string(),
            "client: expected \"transmission\" or \"rtorrent\", found \"deluge\"",
            3,
        ),
        (
            "[follow]\nlisting = \"/i\"\nclient = \"transmission\"\n".to_string(),
            "[follow] needs rpc_url",
            1,
        ),
        (
            "[follow]\nlisting = \"/i\"\nclient = \"rtorrent\"\n".to_string(),
            "[follow] needs socket_url (or socket_url in [rtorrent])",
            1,
        ),
        ("[folow]\n".to_string(), "did you mean [follow]?", 1),
    ];
    for (text, fragment, line) in cases {
        let err = toml(text).expect_err(text);
        let shown = err.to_string();
        assert!(
            shown.contains(fragment),
            "{text:?}\n  got: {shown}\n  want: {fragment}"
        );
        assert_eq!(err.line, Some(*line), "{text:?}: {shown}");
    }
}

#[test]
fn fish_section_gives_every_default_of_the_command() {
    let c = toml(
        "[fish]\nload_path = \"/srv/torrents\"\nport = 51413\nlisten_interface = \"192.168.1.5\"\noutgoing_interface = \"::1\"\nconnections_limit = 200\ndht = false\ndht_bootstrap = [\"127.0.0.1:7000\", \"[::1]:7001\", \"node.example:6881\"]\nstate_dir = \"/var/lib/lowspace\"\nmagnets = \"/srv/magnets.txt\"\nrescan_interval = \"1m\"\nreport_interval = \"30s\"\ndht_rate = 200\ndht_announce_interval = \"30m\"\n",
    )
    .unwrap();
    let f = c.fish;
    assert_eq!(f.dht_rate, Some(200));
    assert_eq!(f.dht_announce_interval, Some(Duration::from_secs(30 * 60)));
    assert_eq!(f.load_path.as_deref(), Some(Path::new("/srv/torrents")));
    assert_eq!(f.port, Some(51413));
    assert_eq!(f.listen_interface, Some("192.168.1.5".parse().unwrap()));
    assert_eq!(f.outgoing_interface, Some("::1".parse().unwrap()));
    assert_eq!(f.connections_limit, Some(200));
    assert_eq!(f.dht, Some(false));
    assert_eq!(
        f.dht_bootstrap,
        vec!["127.0.0.1:7000", "[::1]:7001", "node.example:6881"]
    );
    assert_eq!(f.state_dir.as_deref(), Some(Path::new("/var/lib/lowspace")));
    assert_eq!(f.magnets.as_deref(), Some(Path::new("/srv/magnets.txt")));
    assert_eq!(f.rescan_interval, Some(Duration::from_secs(60)));
    assert_eq!(f.report_interval, Some(Duration::from_secs(30)));
    assert_eq!(
        toml("").unwrap().fish,
        crate::config::FishSettings::default()
    );
}

#[test]
fn host_port_shapes() {
    for good in [
        "a:1",
        "127.0.0.1:6881",
        "[::1]:6881",
        "router.utorrent.com:6881",
    ] {
        assert!(crate::config::looks_like_host_port(good), "{good}");
    }
    for bad in ["a", ":6881", "a:0", "a:65536", "::1:6881", "a b:1", "a:x"] {
        assert!(!crate::config::looks_like_host_port(bad), "{bad}");
    }
}

#[test]
fn remote_verify_is_size_or_hash() {
    let base = "[rotate]\nmanaged_torrents_directory = \"/m\"\nspace_limit = \"1G\"\n[remote]\nservice = \"local\"\npath = \"/r\"\n";
    let c = toml(&format!("{base}verify = \"size\"\n")).unwrap();
    assert_eq!(c.sync.verify, crate::config::VerifyMode::Size);
    assert_eq!(
        toml(base).unwrap().sync.verify,
        crate::config::VerifyMode::Size
    );
    let c = toml(&format!("{base}verify = \"hash\"\n")).unwrap();
    assert_eq!(c.sync.verify, crate::config::VerifyMode::Hash);
    for (value, says) in [
        ("\"md5\"", "expected \"size\" or \"hash\""),
        ("\"Hash\"", "expected \"size\" or \"hash\""),
        ("3", "expected a string"),
    ] {
        let err = toml(&format!("{base}verify = {value}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("verify") && err.contains(says),
            "{value}: {err}"
        );
    }
}

#[test]
fn legacy_sync_verify_reads_hash() {
    let text = "[main]
managed_torrents_directory = /srv/m
space_limit = 3 GiB
remote_sync_service = rclone
rclone_remote = b2
sync_verify = hash
";
    assert_eq!(
        ini(text).unwrap().sync.verify,
        crate::config::VerifyMode::Hash
    );
    let err = ini(&text.replace("= hash", "= sha256"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("sync_verify"), "{err}");
}

#[test]
fn client_section_defaults_to_rtorrent_and_reads_qbittorrent() {
    let c = toml("[rtorrent]\nsocket_url = \"/run/rt.sock\"\n").unwrap();
    assert_eq!(c.client, ClientSettings::Rtorrent);
    assert_eq!(c.rtorrent.socket_url.as_deref(), Some("/run/rt.sock"));
    let c = toml("[client]\nkind = \"qbittorrent\"\n").unwrap();
    assert_eq!(
        c.client,
        ClientSettings::Qbittorrent {
            url: "http://127.0.0.1:8080".into(),
            username: None,
            password: None,
            api_key: None,
        }
    );
    let c = toml(
        "[client]\nkind = \"qbittorrent\"\nurl = \"http://10.0.0.2:8081/qbt\"\nusername = \"admin\"\npassword = \"s3cret\"\n",
    )
    .unwrap();
    assert_eq!(
        c.client,
        ClientSettings::Qbittorrent {
            url: "http://10.0.0.2:8081/qbt".into(),
            username: Some("admin".into()),
            password: Some("s3cret".into()),
            api_key: None,
        }
    );
    let c = toml("[client]\nkind = \"qbittorrent\"\napi_key = \"qbt_abc\"\n").unwrap();
    assert_eq!(
        c.client,
        ClientSettings::Qbittorrent {
            url: "http://127.0.0.1:8080".into(),
            username: None,
            password: None,
            api_key: Some("qbt_abc".into()),
        }
    );
    for (text, key, said) in [
        (
            "kind = \"transmission\"\napi_key = \"k\"",
            "api_key",
            "is for kind = \"qbittorrent\"",
        ),
        (
            "kind = \"qbittorrent\"\nusername = \"a\"\napi_key = \"k\"",
            "api_key",
            "one or the other",
        ),
        (
            "kind = \"qbittorrent\"\napi_key = \"\"",
            "api_key",
            "expected a value",
        ),
    ] {
        let e = toml(&format!("[client]\n{text}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(key) && e.contains(said), "{text}: {e}");
    }
    assert_eq!(ini(SEED_000).unwrap().client, ClientSettings::Rtorrent);
}

#[test]
fn client_section_reads_transmission() {
    let c = toml("[client]\nkind = \"transmission\"\n").unwrap();
    assert_eq!(
        c.client,
        ClientSettings::Transmission {
            url: "http://127.0.0.1:9091/transmission/rpc".into(),
            username: None,
            password: None,
        }
    );
    let c = toml(
        "[client]\nkind = \"transmission\"\nurl = \"http://10.0.0.2:9091/transmission/rpc\"\nusername = \"u\"\npassword = \"p\"\n",
    )
    .unwrap();
    assert_eq!(
        c.client,
        ClientSettings::Transmission {
            url: "http://10.0.0.2:9091/transmission/rpc".into(),
            username: Some("u".into()),
            password: Some("p".into())
        }
    );
    for (text, expected) in [
        (
            "[client]\nkind = \"transmission\"\nurl = \"ftp://x\"\n",
            "config.toml:3: url: expected an http(s) URL",
        ),
        (
            "[client]\nkind = \"transmission\"\npassword = \"p\"\n",
            "config.toml:3: password: is given without a username",
        ),
    ] {
        let e = toml(text).unwrap_err().to_string();
        assert!(e.contains(expected), "{text:?}: {e}");
    }
}

#[test]
fn client_section_reads_deluge() {
    let c = toml("[client]\nkind = \"deluge\"\n").unwrap();
    assert_eq!(
        c.client,
        ClientSettings::Deluge {
            url: "http://127.0.0.1:8112".into(),
            password: None
        }
    );
    let c = toml("[client]\nkind = \"deluge\"\nurl = \"http://10.0.0.2:8112/deluge\"\npassword = \"s3cret\"\n").unwrap();
    assert_eq!(
        c.client,
        ClientSettings::Deluge {
            url: "http://10.0.0.2:8112/deluge".into(),
            password: Some("s3cret".into())
        }
    );
}

#[test]
fn each_client_section_error_says_where_and_what() {
    let cases = [
        (
            "[client]\nkind = \"utorrent\"\n",
            "config.toml:2: kind: expected one of \"rtorrent\", \"qbittorrent\", \"transmission\", \"deluge\"",
        ),
        (
            "[client]\nkind = \"qbittorrent\"\nurl = \"ftp://x\"\n",
            "config.toml:3: url: expected an http(s) URL",
        ),
        (
            "[client]\nkind = \"qbittorrent\"\npassword = \"p\"\n",
            "config.toml:3: password: is given without a username",
        ),
        (
            "[client]\nurl = \"http://127.0.0.1:8080\"\n",
            "config.toml:2: url: is for kind = \"qbittorrent\"",
        ),
        (
            "[client]\nkind = 3\n",
            "config.toml:2: kind: expected a string",
        ),
        ("[client]\nknid = \"qbittorrent\"\n", "knid"),
        (
            "[client]\nkind = \"deluge\"\nusername = \"admin\"\n",
            "config.toml:3: username: deluge-web has no user name",
        ),
        (
            "[client]\nkind = \"deluge\"\nurl = \"ftp://x\"\n",
            "config.toml:3: url: expected an http(s) URL",
        ),
    ];
    for (text, expected) in cases {
        let e = toml(text).unwrap_err().to_string();
        assert!(e.contains(expected), "{text:?}: {e}");
        assert!(e.contains("/etc/lowspace/config.toml"), "{e}");
    }
}

#[test]
fn follow_without_client_drives_the_client_section() {
    let follow = |client: &str| {
        toml(&format!("{client}[follow]\nlisting = \"/i.txt\"\n"))
            .unwrap()
            .follow
            .unwrap()
            .client
    };
    assert_eq!(
        follow("[client]\nkind = \"qbittorrent\"\nurl = \"http://10.0.0.2:8080\"\nusername = \"u\"\npassword = \"p\"\n"),
        FollowClient::Qbittorrent {
            url: "http://10.0.0.2:8080".into(),
            username: Some("u".into()),
            password: Some("p".into()),
            api_key: None,
        }
    );
    assert_eq!(
        follow("[client]\nkind = \"deluge\"\n"),
        FollowClient::Deluge {
            url: crate::config::DEFAULT_DELUGE_URL.into(),
            password: None,
        }
    );
    assert_eq!(
        follow("[client]\nkind = \"transmission\"\n"),
        FollowClient::Transmission {
            rpc_url: crate::config::DEFAULT_TRANSMISSION_URL.into(),
            username: None,
            password: None,
        }
    );
    assert_eq!(
        follow("[rtorrent]\nsocket_url = \"/run/rt.sock\"\n"),
        FollowClient::Rtorrent {
            socket_url: "/run/rt.sock".into()
        }
    );
    // [follow] client still wins over [client].
    assert_eq!(
        toml("[client]\nkind = \"deluge\"\n[follow]\nlisting = \"/i\"\nclient = \"rtorrent\"\nsocket_url = \"/s\"\n")
            .unwrap()
            .follow
            .unwrap()
            .client,
        FollowClient::Rtorrent {
            socket_url: "/s".into()
        }
    );
    let err =
        toml("[client]\nkind = \"qbittorrent\"\n[follow]\nlisting = \"/i\"\npassword = \"p\"\n")
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("config.toml:5: password: is for client = \"transmission\"; without client, follow uses [client]"),
        "{err}"
    );
}
