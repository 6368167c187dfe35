//! Transmission through its JSON RPC (3.00 and 4.x; 4.x still takes the
//! old dashed method and argument names, which is all this speaks).
//!
//! [`Rpc`] is the session both `rotate` and `follow` use: the
//! `X-Transmission-Session-Id` handshake (the first request is answered
//! 409 with the id to repeat) and basic authentication. Reading the
//! replies is pure ([`parse_reply`], [`parse_state`], [`parse_files`]) so
//! it is fuzzed apart from the socket.
//!
//! Which torrents are lowspace's is decided by the managed directory, not
//! by the client, so no record of its own is kept: the `lowspace` label
//! (3.00 and 4.x have `labels`) is for the user's eyes only.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use super::{
    ClientError, ClientState, FilePriority, Message, NewTorrent, ThenDo, Torrent, TorrentClient,
    TorrentFile, TorrentFiles,
};
use crate::http::{HttpClient, Request, Url};
use crate::torrent::InfoHash;

pub mod follow;

/// How many 409s in a row are tolerated (a daemon restarting between two
/// requests hands out a new id; more than that is a broken proxy).
const MAX_SESSION_RETRIES: usize = 3;

/// Transmission has no request size limit of its own; a .torrent goes in
/// one request each, base64 in JSON, and this bounds what is sent at once.
pub const REQUEST_LIMIT: usize = 16 * 1024 * 1024;

/// The label rotate gives its torrents on 4.x.
const LABEL: &str = super::ROTATE_LABEL;

/// `status` values (the same in 3.00 and 4.x).
const STATUS_STOPPED: i64 = 0;
const STATUS_CHECK_WAIT: i64 = 1;
const STATUS_CHECK: i64 = 2;

/// Transmission's ratio when nothing was downloaded but something was
/// uploaded (`TR_RATIO_INF`).
const RATIO_INF: f64 = -2.0;

fn protocol(m: String) -> ClientError {
    ClientError::Protocol(Box::new(Message(m)))
}

fn refused(m: String) -> ClientError {
    ClientError::Refused(Box::new(Message(m)))
}

fn unknown(hash: &InfoHash) -> ClientError {
    ClientError::UnknownTorrent(Box::new(Message(format!(
        "Transmission has no torrent {}",
        hash.to_hex()
    ))))
}

/// One RPC session: URL with credentials, session id, counters.
pub struct Rpc {
    http: HttpClient,
    url: Url,
    session_id: RefCell<Option<String>>,
    requests: Cell<u64>,
    bytes: Cell<u64>,
}

impl Rpc {
    pub fn new(
        rpc_url: &str,
        username: Option<&str>,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<Rpc, String> {
        let mut url = Url::parse(rpc_url).map_err(|e| format!("rpc_url {rpc_url:?}: {e}"))?;
        if username.is_some() {
            url.username = username.map(str::to_string);
            url.password = password.map(str::to_string);
        }
        let mut http = HttpClient::default();
        http.connect_timeout = timeout;
        http.read_timeout = timeout;
        http.total_timeout = timeout.saturating_mul(2);
        http.max_body = 64 * 1024 * 1024;
        Ok(Rpc {
            http,
            url,
            session_id: RefCell::new(None),
            requests: Cell::new(0),
            bytes: Cell::new(0),
        })
    }

    /// One RPC call; returns its `arguments`.
    pub fn call(&self, method: &str, arguments: Value) -> Result<Value, ClientError> {
        let body = json!({ "method": method, "arguments": arguments }).to_string();
        for _ in 0..=MAX_SESSION_RETRIES {
            let mut request = Request::post(
                self.url.clone(),
                "application/json",
                body.clone().into_bytes(),
            );
            if let Some(id) = self.session_id.borrow().as_deref() {
                request = request.header("X-Transmission-Session-Id", id);
            }
            self.requests.set(self.requests.get() + 1);
            let response = self.http.send(request).map_err(|e| {
                ClientError::Unreachable(Box::new(Message(format!("Transmission {method}: {e}"))))
            })?;
            self.bytes
                .set(self.bytes.get() + response.body.len() as u64);
            match response.status {
                200 => {
                    return parse_reply(&response.body).map_err(|e| match e {
                        ReplyError::Refused(m) => refused(format!("Transmission {method}: {m}")),
                        ReplyError::Malformed(m) => {
                            protocol(format!("Transmission {method}: {m}"))
                        }
                    })
                }
                409 => {
                    let id = response
                        .header("x-transmission-session-id")
                        .ok_or_else(|| {
                            protocol(format!(
                                "Transmission {method}: 409 without an X-Transmission-Session-Id header"
                            ))
                        })?;
                    log::debug!("Transmission asked for a new session id");
                    *self.session_id.borrow_mut() = Some(id.to_string());
                }
                401 => {
                    return Err(refused(format!(
                        "Transmission at {} refused the credentials (401): check username and password",
                        self.url
                    )))
                }
                403 => {
                    return Err(refused(format!(
                        "Transmission at {} answered 403: is 127.0.0.1 (or this host) in rpc-whitelist?",
                        self.url
                    )))
                }
                421 => {
                    return Err(refused(format!(
                        "Transmission at {} answered 421: add this host name to rpc-host-whitelist \
                         (or reach it as 127.0.0.1)",
                        self.url
                    )))
                }
                status => {
                    return Err(protocol(format!(
                        "Transmission {method} at {}: HTTP {status} {}",
                        self.url, response.reason
                    )))
                }
            }
        }
        Err(protocol(format!(
            "Transmission at {} kept answering 409 (session id changes on every request)",
            self.url
        )))
    }

    pub fn requests(&self) -> u64 {
        self.requests.get()
    }

    pub fn bytes_received(&self) -> u64 {
        self.bytes.get()
    }
}

/// Why a 200 reply is not a success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// Transmission's own `result` text (it will not do it).
    Refused(String),
    /// Not a reply Transmission sends.
    Malformed(String),
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyError::Refused(m) => write!(f, "Transmission says: {m}"),
            ReplyError::Malformed(m) => f.write_str(m),
        }
    }
}

/// The `arguments` of a successful reply, or the daemon's own error text.
/// lowspace sends the old request form, which 4.1 still answers in kind;
/// a JSON-RPC 2.0 reply (4.1's new form, `result` an object, snake_case
/// names) is read too, its names turned back into the old ones.
pub fn parse_reply(body: &[u8]) -> Result<Value, ReplyError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ReplyError::Malformed(format!("reply is not JSON: {e}")))?;
    if value.get("jsonrpc").and_then(Value::as_str) == Some("2.0") {
        return parse_jsonrpc2(&value);
    }
    let result = value
        .get("result")
        .and_then(Value::as_str)
        .ok_or_else(|| ReplyError::Malformed("reply has no \"result\" string".into()))?;
    if result != "success" {
        return Err(ReplyError::Refused(result.to_string()));
    }
    Ok(value.get("arguments").cloned().unwrap_or(json!({})))
}

/// A JSON-RPC 2.0 reply: `result` (with the old names) or `error`.
fn parse_jsonrpc2(value: &Value) -> Result<Value, ReplyError> {
    if let Some(error) = value.get("error") {
        // 4.1 puts Transmission's own text in data.error_string.
        let text = error
            .get("data")
            .and_then(|d| d.get("error_string"))
            .and_then(Value::as_str)
            .or_else(|| error.get("message").and_then(Value::as_str))
            .ok_or_else(|| ReplyError::Malformed("JSON-RPC error without a message".into()))?;
        return Err(ReplyError::Refused(text.to_string()));
    }
    match value.get("result") {
        Some(Value::Object(result)) => Ok(Value::Object(
            result
                .iter()
                .map(|(k, v)| (k.replace('_', "-"), torrent_names(k, v)))
                .collect(),
        )),
        // A method with nothing to answer.
        Some(Value::Null) | None => Ok(json!({})),
        Some(_) => Err(ReplyError::Malformed(
            "JSON-RPC result is not an object".into(),
        )),
    }
}

/// Inside `torrents` and `torrent_added`/`torrent_duplicate`, 4.1's
/// snake_case field names in the old camelCase (`hash_string` →
/// `hashString`); the names of `result` itself were dashed
/// (`download_dir` → `download-dir`).
fn torrent_names(key: &str, value: &Value) -> Value {
    fn camel(name: &str) -> String {
        let mut out = String::with_capacity(name.len());
        let mut upper = false;
        for c in name.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }
    fn object(v: &Value) -> Value {
        match v {
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (camel(k), nested(v))).collect())
            }
            other => other.clone(),
        }
    }
    // files and file_stats hold objects of their own.
    fn nested(v: &Value) -> Value {
        match v {
            Value::Array(a) => Value::Array(a.iter().map(object).collect()),
            other => other.clone(),
        }
    }
    match (key, value) {
        ("torrents", Value::Array(list)) => Value::Array(list.iter().map(object).collect()),
        ("torrent_added" | "torrent_duplicate", v) => object(v),
        (_, v) => v.clone(),
    }
}

/// What `state` asks torrent-get for.
pub const STATE_FIELDS: &[&str] = &[
    "hashString",
    "name",
    "totalSize",
    "haveValid",
    "leftUntilDone",
    "uploadRatio",
    "status",
    "downloadDir",
    "labels",
    "doneDate",
];

/// What `files` asks torrent-get for.
pub const FILE_FIELDS: &[&str] = &[
    "hashString",
    "name",
    "downloadDir",
    "files",
    "fileStats",
    "pieceCount",
    "pieceSize",
    "pieces",
];

fn torrents_of(arguments: &Value) -> Result<&Vec<Value>, String> {
    arguments
        .get("torrents")
        .and_then(Value::as_array)
        .ok_or_else(|| "no \"torrents\" array".to_string())
}

fn str_field<'a>(t: &'a Value, i: usize, key: &str) -> Result<&'a str, String> {
    t.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("torrents[{i}].{key} is missing or not a string"))
}

fn u64_field(t: &Value, i: usize, key: &str) -> Result<u64, String> {
    t.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("torrents[{i}].{key} is missing or not a count"))
}

fn i64_field(t: &Value, i: usize, key: &str) -> Result<i64, String> {
    t.get(key)
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("torrents[{i}].{key} is missing or not a number"))
}

/// Where the data is: the file of a single-file torrent, the directory of
/// a multi-file one (Transmission names both after the torrent).
fn data_path(download_dir: &str, name: &str) -> PathBuf {
    if download_dir.is_empty() {
        PathBuf::new()
    } else {
        Path::new(download_dir).join(name)
    }
}

/// torrent-get's torrents (fields [`STATE_FIELDS`]) in the trait's terms.
pub fn parse_state(arguments: &Value) -> Result<Vec<Torrent>, String> {
    torrents_of(arguments)?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let hash = str_field(t, i, "hashString")?.to_ascii_lowercase();
            let name = str_field(t, i, "name")?.to_string();
            let status = i64_field(t, i, "status")?;
            let left = u64_field(t, i, "leftUntilDone")?;
            let ratio = t
                .get("uploadRatio")
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("torrents[{i}].uploadRatio is missing or not a number"))?;
            let ratio_permille = if ratio == RATIO_INF {
                // Seeded without downloading: as good as any ratio asked.
                1_000_000
            } else {
                (ratio.max(0.0) * 1000.0).round() as u64
            };
            let label = match t.get("labels") {
                // 3.00 has no labels.
                None | Some(Value::Null) => String::new(),
                Some(Value::Array(labels)) => {
                    let labels: Vec<&str> = labels.iter().filter_map(Value::as_str).collect();
                    if labels.contains(&LABEL) {
                        LABEL.to_string()
                    } else {
                        labels.join(",")
                    }
                }
                Some(_) => return Err(format!("torrents[{i}].labels is not an array")),
            };
            let checking = status == STATUS_CHECK_WAIT || status == STATUS_CHECK;
            Ok(Torrent {
                hash,
                data_path: data_path(str_field(t, i, "downloadDir")?, &name),
                name,
                size: u64_field(t, i, "totalSize")?,
                done: u64_field(t, i, "haveValid")?,
                complete: left == 0 && !checking,
                ratio_permille,
                started: status != STATUS_STOPPED,
                label,
                // 0 for a torrent complete when added: the executor then
                // keeps its own first-seen time.
                finished_at: t.get("doneDate").and_then(Value::as_u64).filter(|d| *d > 0),
            })
        })
        .collect()
}

/// session-get's `download-dir`, which must be absolute.
pub fn parse_download_dir(arguments: &Value) -> Result<PathBuf, String> {
    match arguments.get("download-dir").and_then(Value::as_str) {
        Some(dir) if Path::new(dir).is_absolute() => Ok(PathBuf::from(dir)),
        other => Err(format!(
            "Transmission's download-dir is {other:?}, not an absolute path"
        )),
    }
}

/// torrent-get's one torrent (fields [`FILE_FIELDS`]) in the trait's
/// terms: pieces per file from the piece bitfield.
pub fn parse_files(arguments: &Value) -> Result<Option<TorrentFiles>, String> {
    let Some(t) = torrents_of(arguments)?.first() else {
        return Ok(None);
    };
    let name = str_field(t, 0, "name")?;
    let dir = str_field(t, 0, "downloadDir")?;
    let piece_size = u64_field(t, 0, "pieceSize")?;
    if piece_size == 0 {
        return Err("torrents[0].pieceSize is 0".into());
    }
    let piece_count = u64_field(t, 0, "pieceCount")?;
    let bits = crate::base64::decode(str_field(t, 0, "pieces")?.as_bytes())
        .map_err(|e| format!("torrents[0].pieces: {e}"))?;
    let have = |p: u64| {
        usize::try_from(p / 8)
            .ok()
            .and_then(|b| bits.get(b))
            .is_some_and(|byte| byte & (0x80 >> (p % 8)) != 0)
    };
    let files = t
        .get("files")
        .and_then(Value::as_array)
        .ok_or("torrents[0].files is missing")?;
    let stats = t
        .get("fileStats")
        .and_then(Value::as_array)
        .ok_or("torrents[0].fileStats is missing")?;
    if stats.len() != files.len() {
        return Err(format!(
            "torrents[0] has {} files but {} fileStats",
            files.len(),
            stats.len()
        ));
    }
    let multi_file = files.len() > 1
        || files.iter().any(|f| {
            f.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.contains('/'))
        });
    let mut offset = 0u64;
    let mut out = Vec::with_capacity(files.len());
    for (index, (f, s)) in files.iter().zip(stats).enumerate() {
        let path = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("files[{index}].name is missing"))?;
        let size = f
            .get("length")
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("files[{index}].length is missing"))?;
        let wanted = match s.get("wanted") {
            Some(Value::Bool(b)) => *b,
            // 4.x may send 0/1.
            Some(Value::Number(n)) => n.as_u64() != Some(0),
            _ => return Err(format!("fileStats[{index}].wanted is missing")),
        };
        let priority = s.get("priority").and_then(Value::as_i64).unwrap_or(0);
        let (pieces, done_pieces) = if size == 0 {
            (0, 0)
        } else {
            let first = offset / piece_size;
            let last = ((offset + size - 1) / piece_size).min(piece_count.saturating_sub(1));
            let pieces = last.saturating_sub(first) + 1;
            (pieces, (first..=last).filter(|p| have(*p)).count() as u64)
        };
        offset = offset.saturating_add(size);
        let path = if multi_file {
            path.split_once('/').map(|(_, rest)| rest).unwrap_or(path)
        } else {
            path
        };
        out.push(TorrentFile {
            index,
            path: path.to_string(),
            size,
            done_pieces,
            pieces,
            priority: match (wanted, priority) {
                (false, _) => FilePriority::Off,
                (true, p) if p > 0 => FilePriority::High,
                (true, _) => FilePriority::Normal,
            },
        });
    }
    let data_path = data_path(dir, name);
    let directory = if multi_file || dir.is_empty() {
        data_path.clone()
    } else {
        PathBuf::from(dir)
    };
    Ok(Some(TorrentFiles {
        data_path,
        directory,
        files: out,
    }))
}

/// `3.00 (bb6b5a062e), RPC 17` from session-get's `version` and
/// `rpc-version`.
pub fn about_text(arguments: &Value) -> Result<String, String> {
    let version = arguments
        .get("version")
        .and_then(Value::as_str)
        .ok_or("no \"version\" string")?;
    let version: String = version
        .chars()
        .filter(|c| !c.is_control())
        .take(60)
        .collect();
    Ok(match arguments.get("rpc-version").and_then(Value::as_u64) {
        Some(rpc) => format!("{version}, RPC {rpc}"),
        None => version,
    })
}

/// torrent-add's answer: the hash and whether it was new.
pub fn parse_added(arguments: &Value) -> Result<(InfoHash, bool), String> {
    let (entry, added) = if let Some(e) = arguments.get("torrent-added") {
        (e, true)
    } else if let Some(e) = arguments.get("torrent-duplicate") {
        (e, false)
    } else {
        return Err("neither torrent-added nor torrent-duplicate in the reply".into());
    };
    let hash = entry
        .get("hashString")
        .and_then(Value::as_str)
        .ok_or("no hashString in the reply")?;
    let hash = InfoHash::from_hex(hash).map_err(|e| e.to_string())?;
    Ok((hash, added))
}

/// The torrent-set arguments for priorities: wanted, unwanted, and the
/// bandwidth priority of the wanted ones.
pub fn priority_arguments(hash: &InfoHash, priorities: &[(usize, FilePriority)]) -> Value {
    let of = |want: FilePriority| -> Vec<usize> {
        priorities
            .iter()
            .filter(|(_, p)| *p == want)
            .map(|(i, _)| *i)
            .collect()
    };
    let off = of(FilePriority::Off);
    let normal = of(FilePriority::Normal);
    let high = of(FilePriority::High);
    let mut wanted = normal.clone();
    wanted.extend(&high);
    let mut args = serde_json::Map::new();
    args.insert("ids".into(), json!([hash.to_hex()]));
    // Transmission reads an empty list as "every file".
    for (key, list) in [
        ("files-wanted", wanted),
        ("files-unwanted", off),
        ("priority-normal", normal),
        ("priority-high", high),
    ] {
        if !list.is_empty() {
            args.insert(key.into(), json!(list));
        }
    }
    serde_json::Value::Object(args)
}

/// Transmission for `rotate`.
pub struct Client {
    rpc: Rpc,
    download_dir: RefCell<Option<PathBuf>>,
}

impl Client {
    /// Labels the torrents just added, one torrent-set per label. Labels
    /// are only for the user's eyes, so a refusal is logged, not failed.
    fn label_all(&self, added: &[(&str, String)]) {
        let mut labels: Vec<&str> = added.iter().map(|(label, _)| *label).collect();
        labels.sort_unstable();
        labels.dedup();
        for label in labels {
            let ids: Vec<&str> = added
                .iter()
                .filter(|(l, _)| *l == label)
                .map(|(_, hash)| hash.as_str())
                .collect();
            let set = json!({ "ids": ids, "labels": [label] });
            if let Err(e) = self.call("torrent-set", set) {
                log::warn!(
                    "Transmission did not label {} torrents {label:?}: {e}",
                    ids.len()
                );
            }
        }
    }
    pub fn new(
        rpc_url: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<Client, String> {
        Ok(Client {
            rpc: Rpc::new(rpc_url, username, password, Duration::from_secs(30))?,
            download_dir: RefCell::new(None),
        })
    }

    fn call(&self, method: &str, arguments: Value) -> Result<Value, ClientError> {
        self.rpc.call(method, arguments)
    }

    fn verb(&self, method: &str, hash: &InfoHash) -> Result<(), ClientError> {
        self.call(method, json!({ "ids": [hash.to_hex()] }))
            .map(drop)
    }

    fn download_dir(&self) -> Result<PathBuf, ClientError> {
        if let Some(d) = &*self.download_dir.borrow() {
            return Ok(d.clone());
        }
        let reply = self.call("session-get", json!({ "fields": ["download-dir"] }))?;
        let dir = parse_download_dir(&reply).map_err(protocol)?;
        *self.download_dir.borrow_mut() = Some(dir.clone());
        Ok(dir)
    }
}

impl TorrentClient for Client {
    fn kind(&self) -> &'static str {
        "Transmission"
    }

    /// One torrent-get (plus, once per run, session-get).
    fn state(&self) -> Result<ClientState, ClientError> {
        let download_dir = self.download_dir()?;
        let reply = self.call("torrent-get", json!({ "fields": STATE_FIELDS }))?;
        let torrents =
            parse_state(&reply).map_err(|e| protocol(format!("Transmission torrent-get: {e}")))?;
        Ok(ClientState {
            torrents,
            download_dir,
            request_limit: REQUEST_LIMIT,
        })
    }

    /// One torrent-add each (Transmission takes one per request), then one
    /// torrent-set per label for all of them: 3.00 takes labels through
    /// torrent-set only (4.x already has them from the add), and one set
    /// per torrent doubled the requests of a first run of 1,000 torrents
    /// (`scripts/bench rotate transmission`).
    fn add(&self, torrents: &[NewTorrent]) -> Result<Vec<Result<(), ClientError>>, ClientError> {
        let mut results = Vec::with_capacity(torrents.len());
        let mut to_label: Vec<(&str, String)> = Vec::new();
        let mut failure = None;
        for t in torrents {
            let mut args = serde_json::Map::new();
            args.insert("metainfo".into(), json!(crate::base64::encode(&t.metainfo)));
            args.insert("paused".into(), json!(!t.start));
            if !t.label.is_empty() {
                args.insert("labels".into(), json!([t.label]));
            }
            let args = serde_json::Value::Object(args);
            match self.call("torrent-add", args) {
                Ok(reply) => {
                    let added = parse_added(&reply)
                        .map_err(|e| protocol(format!("Transmission torrent-add: {e}")));
                    if let (Ok((hash, true)), false) = (&added, t.label.is_empty()) {
                        to_label.push((t.label.as_str(), hash.to_hex()));
                    }
                    results.push(added.map(drop));
                }
                // Transmission's own refusal (a corrupt .torrent) is this
                // torrent's; anything else is the request's.
                Err(e @ ClientError::Refused(_)) => results.push(Err(e)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        self.label_all(&to_label);
        match failure {
            Some(e) => Err(e),
            None => Ok(results),
        }
    }

    fn has(&self, hash: &InfoHash) -> Result<bool, ClientError> {
        let reply = self.call(
            "torrent-get",
            json!({ "ids": [hash.to_hex()], "fields": ["hashString"] }),
        )?;
        let list =
            torrents_of(&reply).map_err(|e| protocol(format!("Transmission torrent-get: {e}")))?;
        Ok(!list.is_empty())
    }

    /// `delete-local-data: false`: lowspace deletes the data itself, once
    /// its remote copy is verified.
    fn erase(&self, hash: &InfoHash) -> Result<(), ClientError> {
        self.call(
            "torrent-remove",
            json!({ "ids": [hash.to_hex()], "delete-local-data": false }),
        )
        .map(drop)
    }

    fn start(&self, hash: &InfoHash) -> Result<(), ClientError> {
        self.verb("torrent-start", hash)
    }

    /// Stopping closes the torrent's files (3.00 does it in the RPC's own
    /// event-loop turn, before answering).
    fn stop(&self, hash: &InfoHash) -> Result<(), ClientError> {
        self.verb("torrent-stop", hash)
    }

    fn files(&self, hash: &InfoHash, stop_first: bool) -> Result<TorrentFiles, ClientError> {
        if stop_first {
            self.stop(hash)?;
        }
        let reply = self.call(
            "torrent-get",
            json!({ "ids": [hash.to_hex()], "fields": FILE_FIELDS }),
        )?;
        parse_files(&reply)
            .map_err(|e| protocol(format!("Transmission torrent-get (files): {e}")))?
            .ok_or_else(|| unknown(hash))
    }

    fn set_file_priorities(
        &self,
        hash: &InfoHash,
        priorities: &[(usize, FilePriority)],
        then: ThenDo,
    ) -> Result<(), ClientError> {
        if !priorities.is_empty() {
            self.call("torrent-set", priority_arguments(hash, priorities))?;
        }
        self.then_do(hash, then)
    }

    fn check_hash(&self, hash: &InfoHash) -> Result<(), ClientError> {
        self.verb("torrent-verify", hash)
    }

    /// session-get's `version` and `rpc-version`.
    fn about(&self) -> Result<String, ClientError> {
        let reply = self.call(
            "session-get",
            json!({ "fields": ["version", "rpc-version"] }),
        )?;
        about_text(&reply).map_err(|e| protocol(format!("Transmission session-get: {e}")))
    }

    fn skipped_file_writes(&self) -> crate::client::SkippedFileWrites {
        crate::client::SkippedFileWrites::InFile {
            incomplete_suffix: Some(".part"),
        }
    }

    fn requests(&self) -> u64 {
        self.rpc.requests()
    }

    fn bytes_received(&self) -> u64 {
        self.rpc.bytes_received()
    }
}

#[cfg(test)]
mod tests;
