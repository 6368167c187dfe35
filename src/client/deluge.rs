//! Deluge (2.0.x) through deluge-web's JSON API: `POST URL/json` with
//! `{"method", "params", "id"}`, answered `{"result", "error", "id"}`.
//!
//! Why the web JSON API and not the daemon's own RPC (port 58846): that
//! one is rencode inside zlib inside TLS, three codecs lowspace would have
//! to write and fuzz, while the web API is JSON over the HTTP client
//! lowspace already has. The price: deluge-web must run, and it relays to
//! the daemon (one `web.connect` to the daemon it knows, once per run).
//!
//! The session is the `_session_id` cookie `auth.login` answers with;
//! deluge-web has no user name, only its web password.
//!
//! Labels: Deluge only has them with its Label plugin enabled; lowspace
//! reports the plugin's label when there is one and otherwise none. It
//! needs none: `rotate` knows its torrents by their .torrent in the
//! managed directory, not by label.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    ClientError, ClientState, FilePriority, Message, NewTorrent, ThenDo, Torrent, TorrentClient,
    TorrentFile, TorrentFiles,
};
use crate::http::{HttpClient, Request, Url};
use crate::torrent::{InfoHash, Metainfo};

pub mod follow;

/// Deluge has no request size limit of its own; this bounds one add batch
/// (base64 in JSON), and so lowspace's memory while loading: with 64 MiB,
/// 1,000 real-sized .torrents (40 kB each) went in one batch and peaked at
/// 98 MiB RSS (`scripts/bench rotate deluge`).
pub const REQUEST_LIMIT: usize = 4 * 1024 * 1024;

/// Torrents per `core.add_torrent_files`: deluge-web answers only once
/// deluged has added them all, about 0.3 s each here (2.0.3, 40 kB
/// .torrents), so 100 at once outlast the 30 s read timeout
/// (`scripts/bench rotate deluge`); 10 leave room for a slower Pi.
const ADD_BATCH: usize = 10;

/// State reads, 100 ms apart, while waiting for a pause to take effect.
const PAUSE_POLLS: u32 = 100;

/// deluge-web's password unless `[client] password` says otherwise.
pub const DEFAULT_PASSWORD: &str = "deluge";

/// The fields `state()` reads (the Label plugin's `label` is left out of
/// the answer when the plugin is off).
const STATE_FIELDS: &[&str] = &[
    "hash",
    "name",
    "total_size",
    "total_done",
    "is_finished",
    "ratio",
    "state",
    "save_path",
    "label",
    "completed_time",
];

const FILE_FIELDS: &[&str] = &[
    "name",
    "save_path",
    "state",
    "is_seed",
    "files",
    "file_priorities",
    "piece_length",
    "pieces",
];

/// How to reach deluge-web.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelugeOptions {
    /// `http://127.0.0.1:8112`, possibly with a path prefix; `/json` is
    /// appended.
    pub url: String,
    pub password: String,
}

pub struct Client {
    endpoint: Url,
    options: DelugeOptions,
    http: HttpClient,
    cookie: RefCell<Option<String>>,
    download_dir: RefCell<Option<PathBuf>>,
    requests: Cell<u64>,
    bytes: Cell<u64>,
}

fn protocol(m: String) -> ClientError {
    ClientError::Protocol(Box::new(Message(m)))
}

fn refused(m: String) -> ClientError {
    ClientError::Refused(Box::new(Message(m)))
}

fn unknown(hash: &str) -> ClientError {
    ClientError::UnknownTorrent(Box::new(Message(format!("Deluge has no torrent {hash}"))))
}

/// The `error` object of an answer.
#[derive(Debug, Deserialize)]
struct RpcError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: i64,
}

#[derive(Debug, Deserialize)]
struct Reply {
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error: Option<RpcError>,
}

/// deluge-web's code for a call without a valid session.
const NOT_AUTHENTICATED: i64 = 1;

/// The line that names the daemon's exception in the traceback text
/// deluge-web wraps it in, e.g. `AddTorrentError: Torrent already in
/// session (…)`.
pub fn short_message(message: &str) -> String {
    let named = message
        .rmatch_indices("<class '")
        .filter_map(|(at, _)| {
            let rest = message.get(at + 8..)?;
            let (class, text) = rest.split_once("'>: ")?;
            let class = class.rsplit('.').next().unwrap_or(class);
            let text = text.lines().next().unwrap_or("").trim();
            (class != "WrappedException").then(|| format!("{class}: {text}"))
        })
        .next();
    let text = named.unwrap_or_else(|| message.lines().next().unwrap_or("").trim().to_string());
    text.chars().take(300).collect()
}

/// One answer in the trait's error kinds; `hash` names the torrent the
/// call was about, so "not in session" becomes [`ClientError::UnknownTorrent`].
pub fn reply_result(
    status: u16,
    body: &[u8],
    method: &str,
    hash: Option<&str>,
) -> Result<Value, ClientError> {
    match status {
        200 => {}
        401 | 403 => {
            return Err(refused(format!(
                "deluge-web refused {method} with HTTP {status}"
            )))
        }
        _ => {
            let text = String::from_utf8_lossy(body.get(..200).unwrap_or(body)).to_string();
            return Err(protocol(format!(
                "deluge-web answered {method} with HTTP {status} {}",
                text.trim()
            )));
        }
    }
    let reply: Reply = serde_json::from_slice(body)
        .map_err(|e| protocol(format!("deluge-web's answer to {method}: {e}")))?;
    let Some(error) = reply.error else {
        return Ok(reply.result);
    };
    let text = short_message(&error.message);
    if let Some(hash) = hash {
        // pause/resume answer a KeyError of the id, remove an
        // InvalidTorrentError "… not in session".
        let missing = text.starts_with("InvalidTorrentError")
            || (text.contains("not in session") && !text.contains("already"))
            || error.message.contains(&format!("KeyError: '{hash}'"));
        if missing {
            return Err(unknown(hash));
        }
    }
    Err(refused(match error.code {
        NOT_AUTHENTICATED => {
            format!("deluge-web refused {method}: not logged in (check [client] password)")
        }
        _ => format!("Deluge refused {method}: {text}"),
    }))
}

/// The `_session_id` cookie of a login answer.
pub fn session_cookie(headers: &[(String, String)]) -> Option<String> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.split(';').next())
        .map(str::trim)
        .find(|c| c.starts_with("_session_id="))
        .map(str::to_string)
}

/// One torrent of `core.get_torrents_status`.
#[derive(Debug, Clone, Deserialize)]
pub struct StatusRow {
    pub hash: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub total_size: u64,
    #[serde(default)]
    pub total_done: u64,
    #[serde(default)]
    pub is_finished: bool,
    #[serde(default)]
    pub ratio: f64,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub save_path: String,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub completed_time: f64,
}

impl StatusRow {
    pub fn to_torrent(&self) -> Torrent {
        let busy = matches!(self.state.as_str(), "Checking" | "Allocating" | "Moving");
        let data_path = if self.save_path.is_empty() || self.name.is_empty() {
            PathBuf::new()
        } else {
            PathBuf::from(&self.save_path).join(&self.name)
        };
        Torrent {
            hash: self.hash.to_ascii_lowercase(),
            name: self.name.clone(),
            size: self.total_size,
            done: self.total_done,
            complete: self.is_finished && !busy,
            // -1 before any byte moved.
            ratio_permille: (self.ratio.max(0.0) * 1000.0).round() as u64,
            started: self.state != "Paused",
            data_path,
            label: self.label.clone(),
            finished_at: (self.completed_time >= 1.0).then_some(self.completed_time as u64),
        }
    }
}

/// `core.get_torrents_status`'s result: hash → status.
pub fn parse_status(result: Value) -> Result<Vec<StatusRow>, ClientError> {
    let map: HashMap<String, StatusRow> = serde_json::from_value(result)
        .map_err(|e| protocol(format!("Deluge's core.get_torrents_status: {e}")))?;
    let mut rows: Vec<StatusRow> = map.into_values().collect();
    rows.sort_by(|a, b| a.hash.cmp(&b.hash));
    Ok(rows)
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileEntry {
    pub index: usize,
    pub path: String,
    pub size: u64,
    #[serde(default)]
    pub offset: u64,
}

/// One torrent of `core.get_torrent_status` with [`FILE_FIELDS`].
#[derive(Debug, Clone, Deserialize)]
pub struct FilesStatus {
    pub name: String,
    pub save_path: String,
    #[serde(default)]
    pub is_seed: bool,
    pub files: Vec<FileEntry>,
    pub file_priorities: Vec<u8>,
    pub piece_length: u64,
    /// Per piece: 0 missing, 1 not yet, 2 downloading, 3 done; null for a
    /// seed.
    #[serde(default)]
    pub pieces: Option<Vec<u8>>,
}

/// `core.get_torrent_status`'s result; `{}` when Deluge has no such torrent.
pub fn parse_files_status(result: Value, hash: &str) -> Result<FilesStatus, ClientError> {
    if result.as_object().is_some_and(|o| o.is_empty()) {
        return Err(unknown(hash));
    }
    serde_json::from_value(result)
        .map_err(|e| protocol(format!("Deluge's core.get_torrent_status for {hash}: {e}")))
}

fn neutral_priority(level: u8) -> FilePriority {
    match level {
        0 => FilePriority::Off,
        1..=4 => FilePriority::Normal,
        _ => FilePriority::High,
    }
}

fn deluge_priority(p: FilePriority) -> u8 {
    match p {
        FilePriority::Off => 0,
        FilePriority::Normal => 4,
        FilePriority::High => 7,
    }
}

impl FilesStatus {
    fn multi_file(&self) -> bool {
        self.files.len() > 1 || self.files.iter().any(|f| f.path.contains('/'))
    }

    pub fn to_files(&self) -> TorrentFiles {
        let multi = self.multi_file();
        let save = PathBuf::from(&self.save_path);
        let data_path = if self.save_path.is_empty() {
            PathBuf::new()
        } else {
            save.join(&self.name)
        };
        let plen = self.piece_length.max(1);
        let files = self
            .files
            .iter()
            .map(|f| {
                // Saturating: the numbers come from the client.
                let (first, pieces) = if f.size == 0 {
                    (0, 0)
                } else {
                    let first = f.offset / plen;
                    let last = f.offset.saturating_add(f.size - 1) / plen;
                    (first, last - first + 1)
                };
                let done_pieces = match &self.pieces {
                    None if self.is_seed => pieces,
                    None => 0,
                    Some(states) => {
                        let from = usize::try_from(first)
                            .unwrap_or(usize::MAX)
                            .min(states.len());
                        let to = usize::try_from(first.saturating_add(pieces))
                            .unwrap_or(usize::MAX)
                            .min(states.len());
                        states
                            .get(from..to)
                            .unwrap_or(&[])
                            .iter()
                            .filter(|s| **s == 3)
                            .count() as u64
                    }
                };
                let path = if multi {
                    f.path.split_once('/').map(|(_, r)| r).unwrap_or(&f.path)
                } else {
                    &f.path
                };
                TorrentFile {
                    index: f.index,
                    path: path.to_string(),
                    size: f.size,
                    done_pieces,
                    pieces,
                    priority: neutral_priority(
                        self.file_priorities.get(f.index).copied().unwrap_or(4),
                    ),
                }
            })
            .collect();
        TorrentFiles {
            directory: if multi { data_path.clone() } else { save },
            data_path,
            files,
        }
    }
}

/// The full priority list Deluge takes: the current one with the changes.
pub fn merged_priorities(
    current: &[u8],
    changes: &[(usize, FilePriority)],
    hash: &str,
) -> Result<Vec<u8>, ClientError> {
    let mut levels = current.to_vec();
    for (index, p) in changes {
        match levels.get_mut(*index) {
            Some(l) => *l = deluge_priority(*p),
            None => {
                return Err(refused(format!(
                    "Deluge's torrent {hash} has {} files, no file {index}",
                    current.len()
                )))
            }
        }
    }
    Ok(levels)
}

/// What became of each torrent of an add, from the hashes listed after it.
pub fn add_results(
    expected: &[Result<InfoHash, String>],
    listed: &[String],
) -> Vec<Result<(), ClientError>> {
    expected
        .iter()
        .map(|e| match e {
            Err(m) => Err(refused(m.clone())),
            Ok(hash) if listed.contains(&hash.to_hex()) => Ok(()),
            Ok(hash) => Err(refused(format!(
                "Deluge did not add torrent {} (deluge-web 2.0 cannot report the \
                 reason of a batch add; see deluged's log)",
                hash.to_hex()
            ))),
        })
        .collect()
}

impl Client {
    pub fn new(options: DelugeOptions) -> Result<Client, String> {
        let mut endpoint = Url::parse(options.url.trim_end_matches('/'))
            .map_err(|e| format!("Deluge url {:?}: {e}", options.url))?;
        endpoint.path_and_query = format!("{}/json", endpoint.path_and_query.trim_end_matches('/'));
        Ok(Client {
            endpoint,
            options,
            http: HttpClient::default(),
            cookie: RefCell::new(None),
            download_dir: RefCell::new(None),
            requests: Cell::new(0),
            bytes: Cell::new(0),
        })
    }

    /// One JSON-RPC call with the given cookie; the answer's headers too
    /// (the login's cookie).
    fn raw_call(
        &self,
        method: &str,
        params: &Value,
        cookie: Option<&str>,
        hash: Option<&str>,
    ) -> Result<(Value, Vec<(String, String)>), ClientError> {
        let id = self.requests.get() + 1;
        self.requests.set(id);
        let body = json!({"method": method, "params": params, "id": id});
        let body = serde_json::to_vec(&body).map_err(|e| protocol(e.to_string()))?;
        let mut request = Request::post(self.endpoint.clone(), "application/json", body);
        if let Some(c) = cookie {
            request = request.header("Cookie", c);
        }
        let response = self
            .http
            .send(request)
            .map_err(|e| ClientError::Unreachable(Box::new(e)))?;
        self.bytes
            .set(self.bytes.get() + response.body.len() as u64);
        let value = reply_result(response.status, &response.body, method, hash)?;
        Ok((value, response.headers))
    }

    /// Logs in and connects deluge-web to its daemon when it is not.
    fn login(&self) -> Result<String, ClientError> {
        let (ok, headers) =
            self.raw_call("auth.login", &json!([self.options.password]), None, None)?;
        if ok != Value::Bool(true) {
            return Err(refused(format!(
                "deluge-web at {} refused the login: wrong [client] password",
                self.endpoint
            )));
        }
        let cookie = session_cookie(&headers).ok_or_else(|| {
            protocol("deluge-web's login answered without a _session_id cookie".to_string())
        })?;
        let (connected, _) = self.raw_call("web.connected", &json!([]), Some(&cookie), None)?;
        if connected != Value::Bool(true) {
            let (hosts, _) = self.raw_call("web.get_hosts", &json!([]), Some(&cookie), None)?;
            let host = hosts
                .get(0)
                .and_then(|h| h.get(0))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    refused(
                        "deluge-web knows no Deluge daemon (add one in its Connection Manager)"
                            .to_string(),
                    )
                })?
                .to_string();
            self.raw_call("web.connect", &json!([host]), Some(&cookie), None)?;
        }
        *self.cookie.borrow_mut() = Some(cookie.clone());
        Ok(cookie)
    }

    /// Any method of the API (setup and tests; `rotate` uses the trait).
    pub fn call_method(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        self.call(method, params, None)
    }

    fn call(&self, method: &str, params: Value, hash: Option<&str>) -> Result<Value, ClientError> {
        let cached = self.cookie.borrow().clone();
        let cookie = match cached {
            Some(c) => c,
            None => self.login()?,
        };
        self.raw_call(method, &params, Some(&cookie), hash)
            .map(|(v, _)| v)
    }

    fn download_dir(&self) -> Result<PathBuf, ClientError> {
        if let Some(p) = &*self.download_dir.borrow() {
            return Ok(p.clone());
        }
        let v = self.call("core.get_config_value", json!(["download_location"]), None)?;
        let path = v
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| protocol(format!("Deluge's download_location is {v}")))?;
        *self.download_dir.borrow_mut() = Some(path.clone());
        Ok(path)
    }

    fn listed(&self, hashes: &[String]) -> Result<Vec<String>, ClientError> {
        let v = self.call(
            "core.get_torrents_status",
            json!([{"id": hashes}, ["hash"]]),
            None,
        )?;
        Ok(parse_status(v)?.into_iter().map(|r| r.hash).collect())
    }

    fn on_torrent(&self, method: &str, hash: &InfoHash) -> Result<Value, ClientError> {
        let hex = hash.to_hex();
        self.call(method, json!([hex]), Some(&hex))
    }
}

impl TorrentClient for Client {
    fn kind(&self) -> &'static str {
        "Deluge"
    }

    /// One `core.get_torrents_status` (plus, once per run, the login,
    /// `web.connected` and the download location).
    fn state(&self) -> Result<ClientState, ClientError> {
        let download_dir = self.download_dir()?;
        let v = self.call("core.get_torrents_status", json!([{}, STATE_FIELDS]), None)?;
        Ok(ClientState {
            torrents: parse_status(v)?.iter().map(StatusRow::to_torrent).collect(),
            download_dir,
            request_limit: REQUEST_LIMIT,
        })
    }

    /// One `core.add_torrent_files` for the batch, then one list read of
    /// the batch's hashes (a few more while some are missing). deluge-web
    /// 2.0.3 cannot encode the daemon's per-torrent errors of a batch add
    /// (a torrent already there fails the whole answer while the others are
    /// added), so the list read tells each torrent's fate.
    fn add(&self, torrents: &[NewTorrent]) -> Result<Vec<Result<(), ClientError>>, ClientError> {
        let mut entries = Vec::new();
        let expected: Vec<Result<InfoHash, String>> = torrents
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let hash = Metainfo::from_bytes(&t.metainfo)
                    .map_err(|e| format!("not a .torrent Deluge could take: {e}"))?
                    .info_hash();
                entries.push(json!([
                    format!("{i}.torrent"),
                    crate::base64::encode(&t.metainfo),
                    {"add_paused": !t.start}
                ]));
                Ok(hash)
            })
            .collect();
        if entries.is_empty() {
            return Ok(add_results(&expected, &[]));
        }
        for batch in entries.chunks(ADD_BATCH) {
            if let Err(e) = self.call("core.add_torrent_files", json!([batch]), None) {
                if !matches!(e, ClientError::Refused(_)) {
                    return Err(e);
                }
                log::debug!("Deluge's add: {e}");
            }
        }
        let hashes: Vec<String> = expected
            .iter()
            .filter_map(|e| e.as_ref().ok().map(InfoHash::to_hex))
            .collect();
        let mut results = Vec::new();
        for attempt in 0..10 {
            let listed = self.listed(&hashes)?;
            results = add_results(&expected, &listed);
            if listed.len() >= hashes.len() || attempt == 9 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        Ok(results)
    }

    fn has(&self, hash: &InfoHash) -> Result<bool, ClientError> {
        let hex = hash.to_hex();
        Ok(self.listed(std::slice::from_ref(&hex))?.contains(&hex))
    }

    /// `remove_data = false`: lowspace deletes the data itself, once its
    /// remote copy is verified.
    fn erase(&self, hash: &InfoHash) -> Result<(), ClientError> {
        let hex = hash.to_hex();
        match self.call("core.remove_torrent", json!([hex, false]), Some(&hex))? {
            Value::Bool(false) => Err(refused(format!("Deluge did not remove torrent {hex}"))),
            _ => Ok(()),
        }
    }

    fn start(&self, hash: &InfoHash) -> Result<(), ClientError> {
        self.on_torrent("core.resume_torrent", hash).map(drop)
    }

    /// Pausing makes libtorrent release the torrent's files, but Deluge
    /// answers before libtorrent has paused (its state follows libtorrent's
    /// alert), so this waits until the torrent shows as Paused: only then
    /// are its files closed.
    fn stop(&self, hash: &InfoHash) -> Result<(), ClientError> {
        self.on_torrent("core.pause_torrent", hash)?;
        let hex = hash.to_hex();
        for _ in 0..PAUSE_POLLS {
            let v = self.call(
                "core.get_torrent_status",
                json!([hex, ["state"]]),
                Some(&hex),
            )?;
            match v.get("state").and_then(Value::as_str) {
                Some("Paused") => return Ok(()),
                Some(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
                None => return Err(unknown(&hex)),
            }
        }
        Err(refused(format!(
            "Deluge did not pause torrent {hex} within {} s",
            PAUSE_POLLS / 10
        )))
    }

    fn files(&self, hash: &InfoHash, stop_first: bool) -> Result<TorrentFiles, ClientError> {
        if stop_first {
            self.stop(hash)?;
        }
        let hex = hash.to_hex();
        let v = self.call(
            "core.get_torrent_status",
            json!([hex, FILE_FIELDS]),
            Some(&hex),
        )?;
        Ok(parse_files_status(v, &hex)?.to_files())
    }

    /// Deluge takes the whole priority list, so the current one is read
    /// first: one read, one `set_torrent_options`, then the recheck and
    /// the resume asked for.
    fn set_file_priorities(
        &self,
        hash: &InfoHash,
        priorities: &[(usize, FilePriority)],
        then: ThenDo,
    ) -> Result<(), ClientError> {
        let hex = hash.to_hex();
        let v = self.call(
            "core.get_torrent_status",
            json!([hex, ["file_priorities"]]),
            Some(&hex),
        )?;
        if v.as_object().is_some_and(|o| o.is_empty()) {
            return Err(unknown(&hex));
        }
        let current: Vec<u8> =
            serde_json::from_value(v.get("file_priorities").cloned().unwrap_or_default())
                .map_err(|e| protocol(format!("Deluge's file_priorities of {hex}: {e}")))?;
        let levels = merged_priorities(&current, priorities, &hex)?;
        self.call(
            "core.set_torrent_options",
            json!([[hex], {"file_priorities": levels}]),
            Some(&hex),
        )?;
        self.then_do(hash, then)
    }

    fn check_hash(&self, hash: &InfoHash) -> Result<(), ClientError> {
        let hex = hash.to_hex();
        self.call("core.force_recheck", json!([[hex]]), Some(&hex))
            .map(drop)
    }

    /// The daemon's version (`daemon.get_version`) and its libtorrent's,
    /// through deluge-web.
    fn about(&self) -> Result<String, ClientError> {
        let version = self.call("daemon.get_version", json!([]), None)?;
        let libtorrent = self.call("core.get_libtorrent_version", json!([]), None)?;
        about_text(&version, &libtorrent)
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

/// `2.0.3 (libtorrent 2.0.8.0), through deluge-web` from the two results.
pub fn about_text(version: &Value, libtorrent: &Value) -> Result<String, ClientError> {
    let clean = |s: &str| -> String { s.chars().filter(|c| !c.is_control()).take(40).collect() };
    let version = version
        .as_str()
        .ok_or_else(|| protocol(format!("Deluge's daemon.get_version is {version}")))?;
    Ok(match libtorrent.as_str() {
        Some(lt) => format!(
            "{} (libtorrent {}), through deluge-web",
            clean(version),
            clean(lt)
        ),
        None => format!("{}, through deluge-web", clean(version)),
    })
}

#[cfg(test)]
mod tests;
