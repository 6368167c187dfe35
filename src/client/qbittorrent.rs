//! qBittorrent through its WebUI API v2 (4.x: pause/resume; 5.x, API
//! 2.11 and later: stop/start), over the crate's one HTTP client.
//!
//! qBittorrent names a hybrid (v1+v2) torrent by its v2 hash cut to 40
//! digits and ignores its v1 hash in requests (a delete by v1 hash answers
//! 200 and does nothing), so every request goes through the id the torrent
//! list gave for the v1 hash lowspace knows.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{
    ClientError, ClientState, FilePriority, Message, NewTorrent, ThenDo, Torrent, TorrentClient,
    TorrentFile, TorrentFiles,
};
use crate::http::form::{urlencoded, Multipart};
use crate::http::{HttpClient, HttpError, Request, Url};
use crate::torrent::{InfoHash, Metainfo};

pub mod follow;

/// qBittorrent has no request size limit of its own; this bounds one add
/// batch, and so lowspace's memory while loading: with 100 MiB, loading
/// 1,000 real-sized .torrents (40 kB each) in one upload peaked at 121 MiB
/// RSS (`scripts/bench rotate qbittorrent`).
pub const REQUEST_LIMIT: usize = 4 * 1024 * 1024;

/// The first WebUI API version of qBittorrent 5 (pause/resume became
/// stop/start).
const STOP_START_API: (u32, u32) = (2, 11);

/// The first WebUI API version that takes an API key (qBittorrent 5.2).
/// An older one ignores the `Authorization` header, and with "bypass
/// authentication on localhost" would answer as if the key were good.
const API_KEY_API: (u32, u32, u32) = (2, 14, 1);

/// A WebUI API version as numbers (`2.8.19` → (2, 8, 19)); None when it
/// is not one.
pub fn api_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = match parts.next() {
        Some(p) => p?,
        None => 0,
    };
    Some((major, minor, patch))
}

/// How to reach qBittorrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QbitOptions {
    /// `http://127.0.0.1:8080`, possibly with a path prefix (reverse proxy).
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// qBittorrent 5.2's API key, sent as `Authorization: Bearer` on every
    /// request instead of a login.
    pub api_key: Option<String>,
}

/// Which verbs this qBittorrent has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// 4.x: `pause` / `resume`, states `pausedUP`/`pausedDL`.
    PauseResume,
    /// 5.x: `stop` / `start`, states `stoppedUP`/`stoppedDL`.
    StopStart,
}

impl Api {
    pub fn from_version(text: &str) -> Result<Api, String> {
        let mut parts = text.trim().split('.').map(|p| p.parse::<u32>());
        match (parts.next(), parts.next()) {
            (Some(Ok(major)), Some(Ok(minor))) => Ok(if (major, minor) >= STOP_START_API {
                Api::StopStart
            } else {
                Api::PauseResume
            }),
            _ => Err(format!(
                "qBittorrent's webapiVersion answered {:?}, not a version such as 2.8.19",
                text.chars().take(40).collect::<String>()
            )),
        }
    }

    fn stop(self) -> &'static str {
        match self {
            Api::PauseResume => "/api/v2/torrents/pause",
            Api::StopStart => "/api/v2/torrents/stop",
        }
    }

    fn start(self) -> &'static str {
        match self {
            Api::PauseResume => "/api/v2/torrents/resume",
            Api::StopStart => "/api/v2/torrents/start",
        }
    }
}

struct Session {
    cookie: Option<String>,
    api: Api,
}

pub struct Client {
    base: Url,
    options: QbitOptions,
    http: HttpClient,
    session: RefCell<Option<Session>>,
    /// v1 hash (lower hex) → qBittorrent's id, from the last torrent list.
    ids: RefCell<HashMap<String, String>>,
    save_path: RefCell<Option<PathBuf>>,
    requests: Cell<u64>,
    bytes: Cell<u64>,
}

fn protocol(m: String) -> ClientError {
    ClientError::Protocol(Box::new(Message(m)))
}

fn refused(m: String) -> ClientError {
    ClientError::Refused(Box::new(Message(m)))
}

impl Client {
    pub fn new(options: QbitOptions) -> Result<Client, String> {
        let base = Url::parse(options.url.trim_end_matches('/'))
            .map_err(|e| format!("qBittorrent url {:?}: {e}", options.url))?;
        Ok(Client {
            base,
            options,
            http: HttpClient::default(),
            session: RefCell::new(None),
            ids: RefCell::new(HashMap::new()),
            save_path: RefCell::new(None),
            requests: Cell::new(0),
            bytes: Cell::new(0),
        })
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        let prefix = url.path_and_query.trim_end_matches('/').to_string();
        url.path_and_query = if query.is_empty() {
            format!("{prefix}{path}")
        } else {
            format!("{prefix}{path}?{}", urlencoded(query))
        };
        url
    }

    /// Sends one request and judges its status; `hash` names the torrent a
    /// 404 is about.
    fn send(
        &self,
        request: Request,
        cookie: Option<&str>,
        hash: Option<&str>,
    ) -> Result<Vec<u8>, ClientError> {
        let request = match cookie {
            Some(c) => request.header("Cookie", c),
            None => request,
        };
        let request = match &self.options.api_key {
            Some(key) => request.header("Authorization", &format!("Bearer {key}")),
            None => request,
        };
        let shown = request.url.to_string();
        self.requests.set(self.requests.get() + 1);
        let response = self
            .http
            .send(request)
            .map_err(|e: HttpError| ClientError::Unreachable(Box::new(e)))?;
        self.bytes
            .set(self.bytes.get() + response.body.len() as u64);
        status_result(response.status, &shown, hash, &response.body)?;
        Ok(response.body)
    }

    /// Logs in when credentials are configured, and learns the API version.
    fn session(&self) -> Result<(Option<String>, Api), ClientError> {
        if let Some(s) = &*self.session.borrow() {
            return Ok((s.cookie.clone(), s.api));
        }
        let cookie = match (&self.options.username, &self.options.password) {
            // The key goes with every request; there is no login.
            _ if self.options.api_key.is_some() => None,
            (Some(user), pass) => {
                let body = urlencoded(&[
                    ("username", user),
                    ("password", pass.as_deref().unwrap_or("")),
                ]);
                let url = self.url("/api/v2/auth/login", &[]);
                let shown = url.to_string();
                self.requests.set(self.requests.get() + 1);
                // qBittorrent refuses a login without a Referer/Origin of
                // its own host (CSRF protection).
                let origin = format!(
                    "{}://{}",
                    self.base.scheme.as_str(),
                    self.base.host_header()
                );
                let response = self
                    .http
                    .send(
                        Request::post(url, "application/x-www-form-urlencoded", body.into_bytes())
                            .header("Referer", &origin)
                            .header("Origin", &origin),
                    )
                    .map_err(|e| ClientError::Unreachable(Box::new(e)))?;
                login_cookie(response.status, &response.headers, &response.body, &shown)?
            }
            (None, _) => None,
        };
        let body = self.send(
            Request::get(self.url("/api/v2/app/webapiVersion", &[])),
            cookie.as_deref(),
            None,
        )?;
        let version = String::from_utf8_lossy(&body);
        let api = Api::from_version(&version).map_err(protocol)?;
        if self.options.api_key.is_some() && api_version(&version).is_some_and(|v| v < API_KEY_API)
        {
            return Err(refused(format!(
                "qBittorrent at {} has WebUI API {}, which predates API keys \
                 (qBittorrent 5.2, API 2.14.1): set username and password in [client] instead of api_key",
                self.base,
                version.trim()
            )));
        }
        log::debug!("qBittorrent WebUI API {api:?}");
        *self.session.borrow_mut() = Some(Session {
            cookie: cookie.clone(),
            api,
        });
        Ok((cookie, api))
    }

    fn get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        hash: Option<&str>,
    ) -> Result<Vec<u8>, ClientError> {
        let (cookie, _) = self.session()?;
        self.send(Request::get(self.url(path, query)), cookie.as_deref(), hash)
    }

    fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        hash: Option<&str>,
    ) -> Result<Vec<u8>, ClientError> {
        let (cookie, _) = self.session()?;
        let request = Request::post(
            self.url(path, &[]),
            "application/x-www-form-urlencoded",
            urlencoded(form).into_bytes(),
        );
        self.send(request, cookie.as_deref(), hash)
    }

    fn api(&self) -> Result<Api, ClientError> {
        self.session().map(|(_, api)| api)
    }

    /// qBittorrent's id of the torrent.
    fn id(&self, hash: &InfoHash) -> String {
        let v1 = hash.to_hex();
        self.ids.borrow().get(&v1).cloned().unwrap_or(v1)
    }

    fn info(&self, query: &[(&str, &str)]) -> Result<Vec<InfoRow>, ClientError> {
        let body = self.get("/api/v2/torrents/info", query, None)?;
        let rows = parse_info(&body)?;
        let mut ids = self.ids.borrow_mut();
        for row in &rows {
            ids.insert(row.v1_hash(), row.hash.to_ascii_lowercase());
        }
        Ok(rows)
    }

    fn default_save_path(&self) -> Result<PathBuf, ClientError> {
        if let Some(p) = &*self.save_path.borrow() {
            return Ok(p.clone());
        }
        let body = self.get("/api/v2/app/preferences", &[], None)?;
        let path = parse_save_path(&body)?;
        *self.save_path.borrow_mut() = Some(path.clone());
        Ok(path)
    }

    fn verb(&self, path: &str, hash: &InfoHash) -> Result<(), ClientError> {
        let id = self.id(hash);
        self.post(path, &[("hashes", &id)], Some(&id)).map(drop)
    }
}

/// A status in the trait's error kinds.
pub fn status_result(
    status: u16,
    url: &str,
    hash: Option<&str>,
    body: &[u8],
) -> Result<(), ClientError> {
    let text = String::from_utf8_lossy(body.get(..200).unwrap_or(body))
        .trim()
        .to_string();
    match status {
        200..=299 => Ok(()),
        401 | 403 => Err(refused(format!(
            "qBittorrent refused {url} ({status} {text}): set username and password in [client], \
             or the WebUI's IP ban ended"
        ))),
        404 if hash.is_some() => Err(ClientError::UnknownTorrent(Box::new(Message(format!(
            "qBittorrent has no torrent {}",
            hash.unwrap_or_default()
        ))))),
        400 | 404 | 405 | 409 | 415 => Err(refused(format!(
            "qBittorrent refused {url}: {status} {text}"
        ))),
        _ => Err(protocol(format!(
            "qBittorrent answered {url} with {status} {text}"
        ))),
    }
}

/// The session cookie a login answered with (`SID`, or `QBT_SID_<port>`
/// on 5.2, whose login answers 204).
pub fn login_cookie(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    url: &str,
) -> Result<Option<String>, ClientError> {
    status_result(status, url, None, body)?;
    if String::from_utf8_lossy(body).trim() == "Fails." {
        return Err(refused(format!(
            "qBittorrent refused the login at {url}: wrong username or password"
        )));
    }
    let cookie = headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.split(';').next())
        .map(str::trim)
        .find(|c| c.starts_with("SID=") || c.starts_with("QBT_SID_"));
    match cookie {
        Some(c) => Ok(Some(c.to_string())),
        None => Err(protocol(format!(
            "qBittorrent's login at {url} answered {status} without a session cookie"
        ))),
    }
}

/// One row of `/api/v2/torrents/info` (the fields lowspace reads).
#[derive(Debug, Clone, Deserialize)]
pub struct InfoRow {
    pub hash: String,
    #[serde(default)]
    pub infohash_v1: Option<String>,
    pub name: String,
    /// Bytes wanted (files turned off do not count).
    pub size: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub progress: f64,
    #[serde(default)]
    pub ratio: f64,
    pub state: String,
    #[serde(default)]
    pub content_path: String,
    #[serde(default)]
    pub save_path: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub completion_on: i64,
}

impl InfoRow {
    /// The v1 hash, which is what lowspace's .torrent files give.
    pub fn v1_hash(&self) -> String {
        match &self.infohash_v1 {
            Some(h) if !h.is_empty() => h.to_ascii_lowercase(),
            _ => self.hash.to_ascii_lowercase(),
        }
    }

    fn started(&self) -> bool {
        !(self.state.starts_with("paused") || self.state.starts_with("stopped"))
    }

    pub fn to_torrent(&self, label: &str) -> Torrent {
        let checking = self.state.starts_with("checking") || self.state == "moving";
        let content = PathBuf::from(&self.content_path);
        let data_path = if content.as_os_str().is_empty() || content.is_absolute() {
            content
        } else {
            Path::new(&self.save_path).join(content)
        };
        let has_label = self.tags.split(',').any(|t| t.trim() == label);
        Torrent {
            hash: self.v1_hash(),
            name: self.name.clone(),
            size: self.size,
            done: self.completed,
            complete: !checking && self.progress >= 1.0 && self.completed >= self.size,
            ratio_permille: (self.ratio.max(0.0) * 1000.0).round() as u64,
            started: self.started(),
            data_path,
            label: if has_label {
                label.to_string()
            } else {
                self.tags.clone()
            },
            finished_at: u64::try_from(self.completion_on).ok().filter(|t| *t > 0),
        }
    }
}

pub fn parse_info(body: &[u8]) -> Result<Vec<InfoRow>, ClientError> {
    serde_json::from_slice(body).map_err(|e| protocol(format!("qBittorrent's torrents/info: {e}")))
}

pub fn parse_save_path(body: &[u8]) -> Result<PathBuf, ClientError> {
    #[derive(Deserialize)]
    struct Prefs {
        save_path: String,
    }
    let prefs: Prefs = serde_json::from_slice(body)
        .map_err(|e| protocol(format!("qBittorrent's app/preferences: {e}")))?;
    Ok(PathBuf::from(prefs.save_path))
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileRow {
    #[serde(default)]
    pub index: Option<usize>,
    pub name: String,
    pub size: u64,
    pub priority: u8,
    #[serde(default)]
    pub piece_range: Vec<u64>,
}

pub fn parse_files(body: &[u8]) -> Result<Vec<FileRow>, ClientError> {
    serde_json::from_slice(body).map_err(|e| protocol(format!("qBittorrent's torrents/files: {e}")))
}

/// Files in the trait's terms: pieces done per file from the piece states
/// (2 = downloaded and checked).
pub fn neutral_files(rows: &[FileRow], piece_states: &[u8], multi_file: bool) -> Vec<TorrentFile> {
    rows.iter()
        .enumerate()
        .map(|(i, f)| {
            let (first, last) = match f.piece_range.as_slice() {
                [a, b] if b >= a => (*a, *b),
                _ => (0, 0),
            };
            let pieces = if f.piece_range.len() == 2 {
                last - first + 1
            } else {
                0
            };
            let done_pieces = (first..=last)
                .filter(|p| {
                    usize::try_from(*p)
                        .ok()
                        .and_then(|p| piece_states.get(p))
                        .is_some_and(|s| *s == 2)
                })
                .count() as u64;
            let path = if multi_file {
                f.name
                    .split_once('/')
                    .map(|(_, rest)| rest)
                    .unwrap_or(&f.name)
            } else {
                &f.name
            };
            TorrentFile {
                index: f.index.unwrap_or(i),
                path: path.to_string(),
                size: f.size,
                done_pieces: done_pieces.min(pieces),
                pieces,
                priority: match f.priority {
                    0 => FilePriority::Off,
                    1..=5 => FilePriority::Normal,
                    _ => FilePriority::High,
                },
            }
        })
        .collect()
}

fn qbit_priority(p: FilePriority) -> &'static str {
    match p {
        FilePriority::Off => "0",
        FilePriority::Normal => "1",
        FilePriority::High => "6",
    }
}

/// What became of each torrent of an add, from the list read after it.
pub fn add_results(
    expected: &[Result<InfoHash, String>],
    listed: &[InfoRow],
) -> Vec<Result<(), ClientError>> {
    expected
        .iter()
        .map(|e| match e {
            Err(m) => Err(refused(m.clone())),
            Ok(hash) => {
                let hex = hash.to_hex();
                if listed.iter().any(|r| r.v1_hash() == hex) {
                    Ok(())
                } else {
                    Err(refused(format!(
                        "qBittorrent did not add torrent {hex} (it answers an add with \
                         \"Ok.\" or \"Fails.\" only; see its log)"
                    )))
                }
            }
        })
        .collect()
}

/// The label rotate gives its torrents, for the label field of the state.
const LABEL: &str = super::ROTATE_LABEL;

impl TorrentClient for Client {
    fn kind(&self) -> &'static str {
        "qBittorrent"
    }

    /// The torrent list in one request (plus, once per run, the login,
    /// the API version and the default save path).
    fn state(&self) -> Result<ClientState, ClientError> {
        let download_dir = self.default_save_path()?;
        let rows = self.info(&[])?;
        Ok(ClientState {
            torrents: rows.iter().map(|r| r.to_torrent(LABEL)).collect(),
            download_dir,
            request_limit: REQUEST_LIMIT,
        })
    }

    /// One multipart upload of every .torrent, then one list read (a few
    /// more while some are missing: qBittorrent lists a torrent a moment
    /// after accepting it) to tell each torrent's fate.
    fn add(&self, torrents: &[NewTorrent]) -> Result<Vec<Result<(), ClientError>>, ClientError> {
        let (cookie, _) = self.session()?;
        let mut form = Multipart::new();
        let expected: Vec<Result<InfoHash, String>> = torrents
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let hash = Metainfo::from_bytes(&t.metainfo)
                    .map_err(|e| format!("not a .torrent qBittorrent could take: {e}"))?
                    .info_hash();
                if form.file(
                    "torrents",
                    &format!("{i}.torrent"),
                    "application/x-bittorrent",
                    &t.metainfo,
                ) {
                    Ok(hash)
                } else {
                    Err("the .torrent holds the upload's boundary; try again".to_string())
                }
            })
            .collect();
        if expected.iter().all(|e| e.is_err()) {
            return Ok(add_results(&expected, &[]));
        }
        // One start flag for the batch: rotate adds a batch alike.
        let start = torrents.iter().any(|t| t.start);
        let stopped = if start { "false" } else { "true" };
        form.text("paused", stopped);
        form.text("stopped", stopped);
        if let Some(label) = torrents
            .first()
            .map(|t| t.label.as_str())
            .filter(|l| !l.is_empty())
        {
            form.text("tags", label);
        }
        let (content_type, body) = form.finish();
        let request = Request::post(self.url("/api/v2/torrents/add", &[]), &content_type, body);
        let answer = self.send(request, cookie.as_deref(), None);
        // 4.x answers "Fails." with 200, 5.x with 409, when none was added
        // (all already there, too): the list below tells.
        if let Err(e) = answer {
            if !matches!(e, ClientError::Refused(_)) {
                return Err(e);
            }
            log::debug!("qBittorrent's add: {e}");
        }
        let mut results = Vec::new();
        for attempt in 0..10 {
            let listed = self.info(&[])?;
            results = add_results(&expected, &listed);
            let missing = expected
                .iter()
                .zip(&results)
                .any(|(e, r)| e.is_ok() && r.is_err());
            if !missing || attempt == 9 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        Ok(results)
    }

    fn has(&self, hash: &InfoHash) -> Result<bool, ClientError> {
        let v1 = hash.to_hex();
        Ok(self.info(&[])?.iter().any(|r| r.v1_hash() == v1))
    }

    /// `deleteFiles=false`: lowspace deletes the data itself, once its
    /// remote copy is verified.
    fn erase(&self, hash: &InfoHash) -> Result<(), ClientError> {
        let id = self.id(hash);
        self.post(
            "/api/v2/torrents/delete",
            &[("hashes", &id), ("deleteFiles", "false")],
            Some(&id),
        )
        .map(drop)
    }

    fn start(&self, hash: &InfoHash) -> Result<(), ClientError> {
        let api = self.api()?;
        self.verb(api.start(), hash)
    }

    /// Pausing makes libtorrent release the torrent's files.
    fn stop(&self, hash: &InfoHash) -> Result<(), ClientError> {
        let api = self.api()?;
        self.verb(api.stop(), hash)
    }

    fn files(&self, hash: &InfoHash, stop_first: bool) -> Result<TorrentFiles, ClientError> {
        if stop_first {
            self.stop(hash)?;
        }
        let id = self.id(hash);
        let info = self.info(&[("hashes", &id)])?;
        let row = info.first().ok_or_else(|| {
            ClientError::UnknownTorrent(Box::new(Message(format!(
                "qBittorrent has no torrent {id}"
            ))))
        })?;
        let files =
            parse_files(&self.get("/api/v2/torrents/files", &[("hash", &id)], Some(&id))?)?;
        let states: Vec<u8> = serde_json::from_slice(&self.get(
            "/api/v2/torrents/pieceStates",
            &[("hash", &id)],
            Some(&id),
        )?)
        .map_err(|e| protocol(format!("qBittorrent's torrents/pieceStates: {e}")))?;
        let multi_file = files.len() > 1 || files.iter().any(|f| f.name.contains('/'));
        let torrent = row.to_torrent(LABEL);
        let directory = if multi_file {
            torrent.data_path.clone()
        } else {
            PathBuf::from(&row.save_path)
        };
        Ok(TorrentFiles {
            data_path: torrent.data_path,
            directory,
            files: neutral_files(&files, &states, multi_file),
        })
    }

    fn set_file_priorities(
        &self,
        hash: &InfoHash,
        priorities: &[(usize, FilePriority)],
        then: ThenDo,
    ) -> Result<(), ClientError> {
        let id = self.id(hash);
        for level in [FilePriority::Off, FilePriority::Normal, FilePriority::High] {
            let ids: Vec<String> = priorities
                .iter()
                .filter(|(_, p)| *p == level)
                .map(|(i, _)| i.to_string())
                .collect();
            if ids.is_empty() {
                continue;
            }
            self.post(
                "/api/v2/torrents/filePrio",
                &[
                    ("hash", &id),
                    ("id", &ids.join("|")),
                    ("priority", qbit_priority(level)),
                ],
                Some(&id),
            )?;
        }
        self.then_do(hash, then)
    }

    fn check_hash(&self, hash: &InfoHash) -> Result<(), ClientError> {
        self.verb("/api/v2/torrents/recheck", hash)
    }

    /// `app/version` and `app/webapiVersion`, after the login.
    fn about(&self) -> Result<String, ClientError> {
        let version = self.get("/api/v2/app/version", &[], None)?;
        let api = self.get("/api/v2/app/webapiVersion", &[], None)?;
        Ok(about_text(&version, &api))
    }

    fn skipped_file_writes(&self) -> crate::client::SkippedFileWrites {
        crate::client::SkippedFileWrites::PartFile
    }

    fn requests(&self) -> u64 {
        self.requests.get()
    }

    fn bytes_received(&self) -> u64 {
        self.bytes.get()
    }
}

/// `v4.5.2, WebUI API 2.8.19` from the two answers (plain text, each cut
/// short: they are shown to the user).
pub fn about_text(version: &[u8], api: &[u8]) -> String {
    let short = |b: &[u8]| -> String {
        String::from_utf8_lossy(b)
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(40)
            .collect()
    };
    format!("{}, WebUI API {}", short(version), short(api))
}

#[cfg(test)]
mod tests;
