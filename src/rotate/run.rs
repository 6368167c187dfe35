//! One `lowspace rotate` run from start to end: lock, journal, snapshot,
//! plan, execute. Also the read-only view `status` shows.

use std::path::{Path, PathBuf};

use super::execute::{no_checkpoint, Checkpoint, Executor, Outcome};
use super::gather::{self, Gathered};
use super::journal::Journal;
use super::plan::{plan, Plan, Policy};
use crate::client::deluge::DelugeOptions;
use crate::client::qbittorrent::QbitOptions;
use crate::client::TorrentClient;
use crate::config::{ClientSettings, Config, RotateSettings};
use crate::rtorrent::Client;
use crate::sync::Syncer;

/// Why a run could not go on, and whether the user must change something.
#[derive(Debug)]
pub enum RotateError {
    /// The configuration lacks something rotation needs (exit 2).
    Config(String),
    /// rtorrent, the disk or the remote failed (exit 1).
    Failed(String),
}

impl std::fmt::Display for RotateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RotateError::Config(m) | RotateError::Failed(m) => f.write_str(m),
        }
    }
}

/// The rotation settings a config must have.
fn rotate_settings(config: &Config) -> Result<&RotateSettings, RotateError> {
    config.rotate.as_ref().ok_or_else(|| {
        RotateError::Config(format!(
            "{} has no [rotate] section (managed_torrents_directory, space_limit, ...)",
            config.path.display()
        ))
    })
}

/// The rotation settings and rtorrent connection a config must have.
pub fn settings(config: &Config) -> Result<(&RotateSettings, Client), RotateError> {
    let rotate = rotate_settings(config)?;
    let url = config.rtorrent.socket_url.as_deref().ok_or_else(|| {
        RotateError::Config(format!(
            "{} does not say how to reach rtorrent: set socket_url (e.g. scgi:///home/pi/.rtorrent.sock)",
            config.path.display()
        ))
    })?;
    let client = Client::new(url).map_err(|e| RotateError::Config(e.to_string()))?;
    Ok((rotate, client))
}

/// The client `[client]` names: rtorrent through `[rtorrent] socket_url`,
/// qBittorrent's WebUI, Transmission's RPC, or deluge-web.
pub fn client(config: &Config) -> Result<Box<dyn TorrentClient>, RotateError> {
    match &config.client {
        ClientSettings::Rtorrent => {
            let (_, client) = settings(config)?;
            Ok(Box::new(client))
        }
        ClientSettings::Qbittorrent {
            url,
            username,
            password,
            api_key,
        } => {
            rotate_settings(config)?;
            let client = crate::client::qbittorrent::Client::new(QbitOptions {
                url: url.clone(),
                username: username.clone(),
                password: password.clone(),
                api_key: api_key.clone(),
            })
            .map_err(RotateError::Config)?;
            Ok(Box::new(client))
        }
        ClientSettings::Transmission {
            url,
            username,
            password,
        } => {
            rotate_settings(config)?;
            let client = crate::client::transmission::Client::new(
                url,
                username.as_deref(),
                password.as_deref(),
            )
            .map_err(RotateError::Config)?;
            Ok(Box::new(client))
        }
        ClientSettings::Deluge { url, password } => {
            rotate_settings(config)?;
            let client = crate::client::deluge::Client::new(DelugeOptions {
                url: url.clone(),
                password: password
                    .clone()
                    .unwrap_or_else(|| crate::client::deluge::DEFAULT_PASSWORD.to_string()),
            })
            .map_err(RotateError::Config)?;
            Ok(Box::new(client))
        }
    }
}

/// Where the journal and the lock live.
pub fn state_directory(settings: &RotateSettings) -> PathBuf {
    settings
        .state_directory
        .clone()
        .unwrap_or_else(|| settings.managed_torrents_directory.join(".lowspace"))
}

pub fn journal_path(state_dir: &Path) -> PathBuf {
    state_dir.join("journal.json")
}

/// What each managed .torrent parsed to (see [`super::scan_cache`]).
pub fn scan_cache_path(state_dir: &Path) -> PathBuf {
    state_dir.join("scan.json")
}

/// What a run saw, decided and did.
pub struct RunReport {
    pub gathered: Gathered,
    pub plan: Plan,
    /// None for a dry run.
    pub outcome: Option<Outcome>,
    pub round_trips: u64,
    /// The client's name, for the closing line ("rtorrent", "qBittorrent" ...).
    pub client_kind: &'static str,
    /// Bytes of rtorrent's replies.
    pub rpc_bytes_received: u64,
}

/// Reads the files of the torrent in file-by-file mode into the snapshot
/// (without stopping it), so status and the plan show them. A failure only
/// leaves them out: the run itself reads them again after stopping it.
fn add_file_mode_files(gathered: &mut Gathered, journal: &Journal, client: &dyn TorrentClient) {
    let Some(fm) = &journal.file_mode else { return };
    let Ok(hash) = crate::torrent::InfoHash::from_hex(&fm.info_hash) else {
        return;
    };
    let snapshot = &mut gathered.snapshot;
    if !snapshot.loaded.iter().any(|l| l.info_hash == hash) {
        return;
    }
    let Some(t) = snapshot.managed.iter().find(|m| m.info_hash == hash) else {
        return;
    };
    match gather::file_mode_files(client, &hash, &t.name, t.single_file, false) {
        Ok((base, files)) => {
            let base = if base.as_os_str().is_empty() {
                fm.base_path.clone()
            } else {
                base
            };
            let writes = client.skipped_file_writes();
            let mut states = gather::file_states(
                &base,
                t.single_file,
                &files,
                gather::incomplete_suffix(writes),
            );
            super::bigfile::apply_selection(&mut states, &fm.selected);
            snapshot.file_mode_files = Some(states);
            snapshot.skipped = snapshot
                .skipped
                .holding(gather::parts_file_bytes(&base, &hash));
        }
        Err(e) => log::warn!("{}: cannot read its files: {e}", fm.name),
    }
}

/// Reads the world and decides: the snapshot and the plan for it.
fn observe(
    settings: &RotateSettings,
    client: &dyn TorrentClient,
    journal: &Journal,
    write_cache: bool,
) -> Result<(Gathered, Plan), RotateError> {
    let cache_path = scan_cache_path(&state_directory(settings));
    let cache_file = gather::CacheFile {
        path: &cache_path,
        write: write_cache,
    };
    let mut gathered = gather::gather(&settings.managed_torrents_directory, client, &cache_file)
        .map_err(|e| RotateError::Failed(e.to_string()))?;
    add_file_mode_files(&mut gathered, journal, client);
    let plan = plan(
        &gathered.snapshot,
        &Policy::from_settings(settings),
        journal,
    );
    Ok((gathered, plan))
}

/// Gathers and plans without changing anything (status, --dry-run).
pub fn look(config: &Config) -> Result<(Gathered, Plan, Box<dyn TorrentClient>), RotateError> {
    let settings = rotate_settings(config)?;
    let client = client(config)?;
    let journal = Journal::load(&journal_path(&state_directory(settings)))
        .map_err(|e| RotateError::Failed(e.to_string()))?;
    let (gathered, plan) = observe(settings, client.as_ref(), &journal, false)?;
    Ok((gathered, plan, client))
}

/// One rotation. Returns None when another run holds the lock.
pub fn rotate(config: &Config, dry_run: bool) -> Result<Option<RunReport>, RotateError> {
    let client = client(config)?;
    rotate_with(config, client.as_ref(), &no_checkpoint, dry_run)
}

/// One rotation through `client`, calling `checkpoint` after every journal
/// save and outside step (see [`Checkpoint`]).
pub fn rotate_with(
    config: &Config,
    client: &dyn TorrentClient,
    checkpoint: &dyn Fn(Checkpoint),
    dry_run: bool,
) -> Result<Option<RunReport>, RotateError> {
    let settings = rotate_settings(config)?;
    // Without a remote nothing could ever leave: every run would load
    // torrents, fill the space and fail each sync. Said once, at the start.
    let remote_settings = config.remote.as_ref().ok_or_else(|| {
        RotateError::Config(format!(
            "{} has no remote: rotate copies finished torrents somewhere before deleting them; \
             add a [remote] section (service = \"rsync\", \"rclone\" or \"local\", with its path), \
             or rsync_host/rsync_path or rclone_remote in a legacy file",
            config.path.display()
        ))
    })?;
    let state_dir = state_directory(settings);
    std::fs::create_dir_all(&state_dir).map_err(|e| {
        RotateError::Failed(format!(
            "cannot create state directory {}: {e}",
            state_dir.display()
        ))
    })?;
    let lock_path = state_dir.join("rotate.lock");
    let Some(_lock) = crate::fsutil::try_lock(&lock_path)
        .map_err(|e| RotateError::Failed(format!("cannot lock {}: {e}", lock_path.display())))?
    else {
        log::info!(
            "another rotate run holds {}; leaving it to finish",
            lock_path.display()
        );
        return Ok(None);
    };

    let journal_file = journal_path(&state_dir);
    let journal = Journal::load(&journal_file).map_err(|e| RotateError::Failed(e.to_string()))?;
    let (gathered, plan) = observe(settings, client, &journal, !dry_run)?;
    for reason in &plan.reasons {
        log::info!("{reason}");
    }
    if dry_run {
        return Ok(Some(RunReport {
            gathered,
            plan,
            outcome: None,
            round_trips: client.requests(),
            client_kind: client.kind(),
            rpc_bytes_received: client.bytes_received(),
        }));
    }

    let remote = Syncer::new(remote_settings, &config.sync);
    let mut executor = Executor {
        client,
        remote: Some(&remote),
        journal,
        journal_path: journal_file,
        download_dir: gathered.download_dir.clone(),
        completed_directory: settings.completed_directory.clone(),
        done_directory: settings.done_directory.clone(),
        now: gathered.snapshot.now,
        request_limit: gathered.request_limit,
        checkpoint,
    };
    let outcome = executor
        .execute(&plan)
        .map_err(|e| RotateError::Failed(e.to_string()))?;
    Ok(Some(RunReport {
        gathered,
        plan,
        outcome: Some(outcome),
        round_trips: client.requests(),
        client_kind: client.kind(),
        rpc_bytes_received: client.bytes_received(),
    }))
}
