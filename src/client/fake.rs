//! An in-memory torrent client for tests, whose state lives in a JSON file
//! so that it outlives a process aborted mid-run (the crash-point sweep).
//!
//! A torrent "downloads" when the client is read ([`TorrentClient::state`]),
//! as if time had passed between runs: every wanted file it lacks is copied
//! from `source` (the swarm) into the download directory, byte for byte,
//! and the bytes are counted per file, so a test sees a file fetched twice.
//! Like rtorrent, a file once fetched stays counted as had (a file lowspace
//! truncated is not fetched again) until a hash check looks at the disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    ClientError, ClientState, FilePriority, Message, NewTorrent, ThenDo, Torrent, TorrentClient,
    TorrentFile, TorrentFiles,
};
use crate::torrent::{InfoHash, Metainfo};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FakeFile {
    /// Relative to the download directory: `name` or `name/dir/file`.
    pub rel: String,
    /// Inside the torrent, as the client reports it.
    pub path: String,
    pub size: u64,
    pub offset: u64,
    pub priority: u8,
    pub have: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FakeTorrent {
    pub hash: String,
    pub name: String,
    pub piece_length: u64,
    pub files: Vec<FakeFile>,
    pub started: bool,
    pub label: String,
    pub finished_at: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FakeState {
    pub torrents: Vec<FakeTorrent>,
    /// Every call, in order: "method hash".
    pub calls: Vec<String>,
    /// Bytes fetched from the swarm, per file (`rel`).
    pub downloaded: BTreeMap<String, u64>,
    /// Each add of a torrent, per name.
    pub adds: BTreeMap<String, u32>,
}

pub struct FakeClient {
    pub state_file: PathBuf,
    pub source: PathBuf,
    pub download_dir: PathBuf,
}

fn err(kind: fn(super::Source) -> ClientError, m: String) -> ClientError {
    kind(Box::new(Message(m)))
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y)
}

impl FakeClient {
    pub fn new(dir: &Path, source: &Path, download_dir: &Path) -> FakeClient {
        FakeClient {
            state_file: dir.join("fake-client.json"),
            source: source.to_path_buf(),
            download_dir: download_dir.to_path_buf(),
        }
    }

    pub fn load(&self) -> FakeState {
        match std::fs::read(&self.state_file) {
            Ok(bytes) => serde_json::from_slice(&bytes).expect("fake client state"),
            Err(_) => FakeState::default(),
        }
    }

    fn save(&self, state: &FakeState) {
        let tmp = self.state_file.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec(state).expect("encode")).expect("write state");
        std::fs::rename(&tmp, &self.state_file).expect("rename state");
    }

    /// Loads the state, records the call, applies `f`, saves.
    fn with<T>(
        &self,
        call: &str,
        hash: Option<&InfoHash>,
        f: impl FnOnce(&Self, &mut FakeState) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let mut state = self.load();
        state.calls.push(match hash {
            Some(h) => format!("{call} {}", h.to_hex_upper()),
            None => call.to_string(),
        });
        let result = f(self, &mut state);
        self.save(&state);
        result
    }

    fn local(&self, f: &FakeFile) -> PathBuf {
        self.download_dir.join(&f.rel)
    }

    /// Every started torrent fetches the wanted files it lacks.
    fn download(&self, state: &mut FakeState) {
        let now = crate::rotate::gather::now();
        for t in &mut state.torrents {
            if !t.started {
                continue;
            }
            for f in &mut t.files {
                if f.priority == 0 || f.have {
                    continue;
                }
                let local = self.download_dir.join(&f.rel);
                if let Some(parent) = local.parent() {
                    std::fs::create_dir_all(parent).expect("create data directory");
                }
                std::fs::copy(self.source.join(&f.rel), &local).expect("fetch from the swarm");
                *state.downloaded.entry(f.rel.clone()).or_default() += f.size;
                f.have = true;
            }
            if t.finished_at.is_none() && t.files.iter().all(|f| f.have) {
                t.finished_at = Some(now);
            }
        }
    }

    fn check(&self, t: &mut FakeTorrent) {
        for f in &mut t.files {
            f.have = same_bytes(&self.source.join(&f.rel), &self.local(f));
        }
    }
}

fn find<'s>(state: &'s mut FakeState, hash: &InfoHash) -> Result<&'s mut FakeTorrent, ClientError> {
    let upper = hash.to_hex_upper();
    state
        .torrents
        .iter_mut()
        .find(|t| t.hash == upper)
        .ok_or_else(|| {
            err(
                ClientError::UnknownTorrent,
                format!("no torrent {upper} in the fake client"),
            )
        })
}

/// Pieces touching a file of `size` bytes at `offset`.
fn pieces(offset: u64, size: u64, piece_length: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    (offset + size - 1) / piece_length - offset / piece_length + 1
}

impl TorrentClient for FakeClient {
    fn kind(&self) -> &'static str {
        "rtorrent"
    }

    fn state(&self) -> Result<ClientState, ClientError> {
        self.with("state", None, |me, state| {
            me.download(state);
            let torrents = state
                .torrents
                .iter()
                .map(|t| Torrent {
                    hash: t.hash.clone(),
                    name: t.name.clone(),
                    size: t.files.iter().map(|f| f.size).sum(),
                    done: t.files.iter().filter(|f| f.have).map(|f| f.size).sum(),
                    complete: t.files.iter().all(|f| f.have || f.priority == 0),
                    ratio_permille: 2000,
                    started: t.started,
                    data_path: me.download_dir.join(&t.name),
                    label: t.label.clone(),
                    finished_at: t.finished_at,
                })
                .collect();
            Ok(ClientState {
                torrents,
                download_dir: me.download_dir.clone(),
                request_limit: 1 << 20,
            })
        })
    }

    fn add(&self, torrents: &[NewTorrent]) -> Result<Vec<Result<(), ClientError>>, ClientError> {
        self.with("add", None, |me, state| {
            Ok(torrents
                .iter()
                .map(|new| {
                    let meta = Metainfo::from_bytes(&new.metainfo)
                        .map_err(|e| err(ClientError::Refused, e.to_string()))?;
                    let hash = meta.info_hash().to_hex_upper();
                    if state.torrents.iter().any(|t| t.hash == hash) {
                        return Ok(());
                    }
                    *state.adds.entry(meta.name().to_string()).or_default() += 1;
                    let single = meta.is_single_file();
                    let files = meta
                        .files()
                        .iter()
                        .map(|f| FakeFile {
                            rel: f.path.join("/"),
                            path: if single {
                                f.path.join("/")
                            } else {
                                f.path[1..].join("/")
                            },
                            size: f.length,
                            offset: f.offset,
                            priority: 1,
                            have: false,
                        })
                        .collect();
                    let mut t = FakeTorrent {
                        hash,
                        name: meta.name().to_string(),
                        piece_length: meta.piece_length(),
                        files,
                        started: new.start,
                        label: new.label.clone(),
                        finished_at: None,
                    };
                    // Data already on disk is checked, not fetched again.
                    me.check(&mut t);
                    state.torrents.push(t);
                    Ok(())
                })
                .collect())
        })
    }

    fn has(&self, hash: &InfoHash) -> Result<bool, ClientError> {
        self.with("has", Some(hash), |_, state| Ok(find(state, hash).is_ok()))
    }

    fn erase(&self, hash: &InfoHash) -> Result<(), ClientError> {
        self.with("erase", Some(hash), |_, state| {
            find(state, hash)?;
            let upper = hash.to_hex_upper();
            state.torrents.retain(|t| t.hash != upper);
            Ok(())
        })
    }

    fn start(&self, hash: &InfoHash) -> Result<(), ClientError> {
        self.with("start", Some(hash), |_, state| {
            find(state, hash)?.started = true;
            Ok(())
        })
    }

    fn stop(&self, hash: &InfoHash) -> Result<(), ClientError> {
        self.with("stop", Some(hash), |_, state| {
            find(state, hash)?.started = false;
            Ok(())
        })
    }

    fn files(&self, hash: &InfoHash, stop_first: bool) -> Result<TorrentFiles, ClientError> {
        let dir = self.download_dir.clone();
        self.with("files", Some(hash), |_, state| {
            let t = find(state, hash)?;
            if stop_first {
                t.started = false;
            }
            let files = t
                .files
                .iter()
                .enumerate()
                .map(|(index, f)| {
                    let n = pieces(f.offset, f.size, t.piece_length);
                    TorrentFile {
                        index,
                        path: f.path.clone(),
                        size: f.size,
                        done_pieces: if f.have { n } else { 0 },
                        pieces: n,
                        priority: FilePriority::from_level(f.priority),
                    }
                })
                .collect();
            Ok(TorrentFiles {
                data_path: dir.join(&t.name),
                directory: dir.join(&t.name),
                files,
            })
        })
    }

    fn set_file_priorities(
        &self,
        hash: &InfoHash,
        priorities: &[(usize, FilePriority)],
        then: ThenDo,
    ) -> Result<(), ClientError> {
        self.with("set_file_priorities", Some(hash), |me, state| {
            let t = find(state, hash)?;
            for (i, p) in priorities {
                let f = t.files.get_mut(*i).ok_or_else(|| {
                    err(ClientError::Refused, format!("no file {i} in {}", t.name))
                })?;
                f.priority = *p as u8;
            }
            if then.check_hash {
                me.check(t);
            }
            if then.start {
                t.started = true;
            }
            Ok(())
        })
    }

    fn check_hash(&self, hash: &InfoHash) -> Result<(), ClientError> {
        self.with("check_hash", Some(hash), |me, state| {
            me.check(find(state, hash)?);
            Ok(())
        })
    }
}
