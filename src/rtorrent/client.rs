//! The typed rtorrent client. Reading state is batched: one `d.multicall2`
//! for every download, one `f.multicall` per download's files, and
//! `system.multicall` for many writes, because the original driver's one
//! round trip per torrent per field made runs slow on a busy Pi. Every
//! round trip is counted ([`Client::round_trips`]) so reports can show it.

use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::directory::{directory_calls, directory_from_results};
use super::download::{
    chunks_done_per_file, download_from_row, file_from_row, Download, FilePriority, TorrentFile,
    DOWNLOAD_FIELDS, FILE_FIELDS,
};
use super::error::RpcError;
use super::limit;
use super::scgi::{self, ExchangeError};
use super::url::{parse_socket_url, Transport};
use super::xmlrpc::{self, Value};
use crate::client::{
    ClientError, ClientState, Message, NewTorrent, ThenDo, Torrent, TorrentClient, TorrentFiles,
};
use crate::http::{HttpClient, Request};
use crate::torrent::InfoHash;

/// One call inside a `system.multicall`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    pub params: Vec<Value>,
}

impl Call {
    pub fn new(method: &str, params: Vec<Value>) -> Call {
        Call {
            method: method.to_string(),
            params,
        }
    }
}

/// Limits for every round trip.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    /// rtorrent answers in the main loop; hashing a big torrent can stall it.
    pub read_timeout: Duration,
    /// Largest reply accepted; 10,000 downloads' state is about 10 MB.
    pub max_reply: usize,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            max_reply: 64 * 1024 * 1024,
        }
    }
}

pub struct Client {
    transport: Transport,
    options: ClientOptions,
    http: Option<HttpClient>,
    round_trips: AtomicU64,
    bytes_received: AtomicU64,
}

impl Client {
    /// A client for `socket_url` (see [`parse_socket_url`]); nothing is
    /// connected until the first call.
    pub fn new(socket_url: &str) -> Result<Client, RpcError> {
        let transport = parse_socket_url(socket_url).map_err(RpcError::SocketUrl)?;
        Ok(Client::with_options(transport, ClientOptions::default()))
    }

    pub fn with_options(transport: Transport, options: ClientOptions) -> Client {
        let http = match &transport {
            Transport::Http(_) => {
                let mut http = HttpClient::default();
                http.connect_timeout = options.connect_timeout;
                http.read_timeout = options.read_timeout;
                http.max_body = options.max_reply;
                Some(http)
            }
            _ => None,
        };
        Client {
            transport,
            options,
            http,
            round_trips: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
        }
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// How many requests went to rtorrent since this client was made.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Reply bodies read from rtorrent since this client was made, to
    /// tell them apart from file reads in the process's I/O counters.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received.load(Ordering::Relaxed)
    }

    /// One XML-RPC call; a fault becomes [`RpcError::Fault`] naming `method`.
    pub fn call(&self, method: &str, params: &[Value]) -> Result<Value, RpcError> {
        let body = xmlrpc::method_call(method, params);
        let started = std::time::Instant::now();
        let reply = self.exchange(body.as_bytes())?;
        self.bytes_received
            .fetch_add(reply.len() as u64, Ordering::Relaxed);
        log::trace!(
            "{method}: {} bytes out, {} bytes back in {:?}",
            body.len(),
            reply.len(),
            started.elapsed()
        );
        match xmlrpc::decode_response(&reply) {
            Ok(xmlrpc::Response::Value(v)) => Ok(v),
            Ok(xmlrpc::Response::Fault { code, message }) => Err(RpcError::Fault {
                method: method.to_string(),
                code,
                message,
            }),
            Err(source) => Err(RpcError::Decode {
                method: method.to_string(),
                source,
            }),
        }
    }

    /// Many calls in one round trip. The outer error is for the round trip;
    /// each inner result is that call's own value or fault.
    pub fn multicall(&self, calls: &[Call]) -> Result<Vec<Result<Value, RpcError>>, RpcError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let list = calls.iter().map(multicall_entry).collect();
        let reply = self.call("system.multicall", &[Value::Array(list)])?;
        let shape = |reason: String| RpcError::Shape {
            method: "system.multicall".into(),
            reason,
        };
        let items = reply
            .as_array()
            .ok_or_else(|| shape(format!("a {}, not an array", reply.type_name())))?;
        if items.len() != calls.len() {
            return Err(shape(format!(
                "{} results for {} calls",
                items.len(),
                calls.len()
            )));
        }
        Ok(items
            .iter()
            .zip(calls)
            .map(|(item, call)| match item {
                // Each result comes wrapped in a one-element array.
                Value::Array(one) => match one.as_slice() {
                    [value] => Ok(value.clone()),
                    _ => Err(RpcError::Shape {
                        method: call.method.clone(),
                        reason: format!("multicall result is an array of {}", one.len()),
                    }),
                },
                Value::Struct(_) => Err(RpcError::Fault {
                    method: call.method.clone(),
                    code: item
                        .member("faultCode")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    message: item
                        .member("faultString")
                        .and_then(Value::as_str)
                        .unwrap_or("fault without a message")
                        .to_string(),
                }),
                other => Err(RpcError::Shape {
                    method: call.method.clone(),
                    reason: format!("multicall result is a {}", other.type_name()),
                }),
            })
            .collect())
    }

    /// Every download in the `main` view, in one round trip.
    pub fn downloads(&self) -> Result<Vec<Download>, RpcError> {
        let mut params = vec![Value::str(""), Value::str("main")];
        params.extend(DOWNLOAD_FIELDS.iter().map(|f| Value::str(*f)));
        let reply = self.call("d.multicall2", &params)?;
        rows(&reply, "d.multicall2")?
            .iter()
            .map(|row| {
                download_from_row(row).map_err(|reason| RpcError::Shape {
                    method: "d.multicall2".into(),
                    reason,
                })
            })
            .collect()
    }

    /// The files of one download, in torrent order, in one round trip.
    pub fn files(&self, hash: &str) -> Result<Vec<TorrentFile>, RpcError> {
        let mut params = vec![Value::str(hash), Value::str("")];
        params.extend(FILE_FIELDS.iter().map(|f| Value::str(*f)));
        let reply = self.call("f.multicall", &params)?;
        rows(&reply, "f.multicall")?
            .iter()
            .enumerate()
            .map(|(i, row)| {
                file_from_row(i, row).map_err(|reason| RpcError::Shape {
                    method: "f.multicall".into(),
                    reason,
                })
            })
            .collect()
    }

    /// Loads a .torrent (path or URL as rtorrent sees it) and starts it;
    /// `commands` run on the new download (e.g. `d.custom1.set=lowspace`).
    pub fn load_start(&self, torrent: &str, commands: &[&str]) -> Result<(), RpcError> {
        self.load("load.start", Value::str(torrent), commands)
    }

    /// Loads a .torrent without starting it.
    pub fn load_normal(&self, torrent: &str, commands: &[&str]) -> Result<(), RpcError> {
        self.load("load.normal", Value::str(torrent), commands)
    }

    /// Loads .torrent bytes sent over the connection (rtorrent may not see
    /// our files: another host, another user) and starts it.
    pub fn load_raw_start(&self, torrent: &[u8], commands: &[&str]) -> Result<(), RpcError> {
        self.load("load.raw_start", Value::Base64(torrent.to_vec()), commands)
    }

    /// Loads .torrent bytes without starting it.
    pub fn load_raw(&self, torrent: &[u8], commands: &[&str]) -> Result<(), RpcError> {
        self.load("load.raw", Value::Base64(torrent.to_vec()), commands)
    }

    fn load(&self, method: &str, torrent: Value, commands: &[&str]) -> Result<(), RpcError> {
        // The first argument is the target; load.* wants it empty.
        let mut params = vec![Value::str(""), torrent];
        params.extend(commands.iter().map(|c| Value::str(*c)));
        expect_zero(method, self.call(method, &params)?)
    }

    pub fn start(&self, hash: &str) -> Result<(), RpcError> {
        expect_zero("d.start", self.call("d.start", &[Value::str(hash)])?)
    }

    pub fn stop(&self, hash: &str) -> Result<(), RpcError> {
        expect_zero("d.stop", self.call("d.stop", &[Value::str(hash)])?)
    }

    /// Stops a download, then waits until rtorrent has hashed the pieces
    /// it had already received, so that closing it next is safe.
    ///
    /// libtorrent 0.13 hashes finished pieces in a thread of its own. A
    /// piece still queued there when its download is closed comes back
    /// after the close, and rtorrent aborts ("DownloadWrapper::
    /// receive_hash_done(...) Was not expecting non-NULL hash"; seen here
    /// about once in ten file-by-file test runs, each run closing and
    /// reopening a downloading torrent). A stopped download queues no more
    /// pieces, so once rtorrent's queue (shared by all downloads) has been
    /// empty, none of this one's is left.
    pub fn stop_and_drain(&self, hash: &str) -> Result<(), RpcError> {
        let calls = [
            Call::new("d.stop", vec![Value::str(hash)]),
            Call::new(HASH_QUEUE_SIZE, vec![Value::str("")]),
        ];
        let mut results = self.multicall(&calls)?.into_iter();
        let stopped = results.next().ok_or_else(|| RpcError::Shape {
            method: "system.multicall".into(),
            reason: "no result for d.stop".into(),
        })?;
        expect_zero("d.stop", stopped?)?;
        let mut queued = results.next().and_then(|r| queue_length(r.ok()));
        let started = std::time::Instant::now();
        let mut polled = false;
        loop {
            match drain_step(queued, started.elapsed()) {
                Drain::Empty => {
                    if polled {
                        log::debug!(
                            "{hash}: waited {:?} for rtorrent to hash the pieces it had before closing",
                            started.elapsed()
                        );
                    }
                    return Ok(());
                }
                Drain::Poll => {
                    polled = true;
                    std::thread::sleep(HASH_QUEUE_POLL);
                    queued = queue_length(self.call(HASH_QUEUE_SIZE, &[Value::str("")]).ok());
                }
                Drain::Unknown => {
                    // An rtorrent without the command: a pause long enough
                    // for a few pieces, rather than none.
                    std::thread::sleep(HASH_QUEUE_UNKNOWN_PAUSE);
                    return Ok(());
                }
                Drain::GiveUp => {
                    log::warn!(
                        "rtorrent still has {} pieces to hash after {:?} (other downloads keep it busy); closing {hash} anyway",
                        queued.unwrap_or_default(),
                        HASH_QUEUE_WAIT
                    );
                    return Ok(());
                }
            }
        }
    }

    /// Removes the download from rtorrent; its data stays on disk.
    pub fn erase(&self, hash: &str) -> Result<(), RpcError> {
        expect_zero("d.erase", self.call("d.erase", &[Value::str(hash)])?)
    }

    /// Sets file priorities and applies them, in one round trip.
    pub fn set_file_priorities(
        &self,
        hash: &str,
        priorities: &[(usize, FilePriority)],
    ) -> Result<(), RpcError> {
        let mut calls: Vec<Call> = priorities
            .iter()
            .map(|(index, priority)| {
                Call::new(
                    "f.priority.set",
                    vec![
                        Value::str(format!("{hash}:f{index}")),
                        Value::Int(*priority as i64),
                    ],
                )
            })
            .collect();
        calls.push(Call::new("d.update_priorities", vec![Value::str(hash)]));
        for result in self.multicall(&calls)? {
            result?;
        }
        Ok(())
    }

    /// Sets `d.custom1` (the label) of many downloads in one round trip.
    pub fn set_labels(&self, labels: &[(&str, &str)]) -> Result<(), RpcError> {
        let calls: Vec<Call> = labels
            .iter()
            .map(|(hash, label)| {
                Call::new("d.custom1.set", vec![Value::str(*hash), Value::str(*label)])
            })
            .collect();
        for result in self.multicall(&calls)? {
            result?;
        }
        Ok(())
    }

    pub fn set_label(&self, hash: &str, label: &str) -> Result<(), RpcError> {
        self.call("d.custom1.set", &[Value::str(hash), Value::str(label)])
            .map(drop)
    }

    pub fn client_version(&self) -> Result<String, RpcError> {
        match self.call("system.client_version", &[])? {
            Value::String(s) => Ok(s),
            other => Err(RpcError::Shape {
                method: "system.client_version".into(),
                reason: format!("a {}, not a string", other.type_name()),
            }),
        }
    }

    /// Sends one request body and returns the reply body.
    fn exchange(&self, body: &[u8]) -> Result<Vec<u8>, RpcError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let target = self.transport.to_string();
        let result = match &self.transport {
            Transport::Unix(path) => {
                let mut stream = UnixStream::connect(path).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        RpcError::SocketMissing { path: path.clone() }
                    } else {
                        self.io_error(&target, e)
                    }
                })?;
                self.set_timeouts(&target, |t| stream.set_read_timeout(t))?;
                self.set_timeouts(&target, |t| stream.set_write_timeout(t))?;
                scgi::exchange(&mut stream, body, self.options.max_reply)
            }
            Transport::Tcp { host, port } => {
                let mut stream = self.connect_tcp(&target, host, *port)?;
                self.set_timeouts(&target, |t| stream.set_read_timeout(t))?;
                self.set_timeouts(&target, |t| stream.set_write_timeout(t))?;
                scgi::exchange(&mut stream, body, self.options.max_reply)
            }
            Transport::Http(url) => return self.exchange_http(url, body),
        };
        result.map_err(|e| match e {
            ExchangeError::Io(e) => self.io_error(&target, e),
            ExchangeError::TooLarge => RpcError::TooLarge {
                target,
                limit: self.options.max_reply,
            },
            ExchangeError::Reply(reply) => RpcError::Framing {
                target,
                reason: reply.to_string(),
            },
        })
    }

    fn exchange_http(&self, url: &crate::http::Url, body: &[u8]) -> Result<Vec<u8>, RpcError> {
        let Some(http) = &self.http else {
            return Err(RpcError::Shape {
                method: "HTTP transport".into(),
                reason: "no HTTP client configured".into(),
            });
        };
        let request = Request::post(url.clone(), "text/xml", body.to_vec());
        let response = http.send(request).map_err(RpcError::Http)?;
        if response.status != 200 {
            return Err(RpcError::HttpStatus {
                url: url.to_string(),
                status: response.status,
                reason: response.reason,
            });
        }
        Ok(response.body)
    }

    fn connect_tcp(&self, target: &str, host: &str, port: u16) -> Result<TcpStream, RpcError> {
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| self.io_error(target, e))?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.options.connect_timeout) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(self.io_error(
            target,
            last.unwrap_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "the host has no address")
            }),
        ))
    }

    fn set_timeouts(
        &self,
        target: &str,
        set: impl FnOnce(Option<Duration>) -> std::io::Result<()>,
    ) -> Result<(), RpcError> {
        set(Some(self.options.read_timeout)).map_err(|e| self.io_error(target, e))
    }

    fn io_error(&self, target: &str, e: std::io::Error) -> RpcError {
        let target = target.to_string();
        match e.kind() {
            std::io::ErrorKind::PermissionDenied => RpcError::PermissionDenied { target },
            std::io::ErrorKind::ConnectionRefused => RpcError::ConnectionRefused { target },
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => RpcError::Timeout {
                target,
                seconds: self.options.read_timeout.as_secs(),
            },
            _ => RpcError::Io { target, source: e },
        }
    }
}

/// One call as a member of `system.multicall`'s array.
pub(super) fn multicall_entry(call: &Call) -> Value {
    Value::Struct(vec![
        ("methodName".into(), Value::str(call.method.clone())),
        ("params".into(), Value::Array(call.params.clone())),
    ])
}

fn rows<'v>(reply: &'v Value, method: &str) -> Result<&'v [Value], RpcError> {
    reply.as_array().ok_or_else(|| RpcError::Shape {
        method: method.into(),
        reason: format!("a {}, not an array of rows", reply.type_name()),
    })
}

/// rtorrent's commands that act answer 0 on success.
fn expect_zero(method: &str, value: Value) -> Result<(), RpcError> {
    match value.as_i64() {
        Some(0) => Ok(()),
        _ => Err(RpcError::Shape {
            method: method.into(),
            reason: format!("expected 0, got {value:?}"),
        }),
    }
}

/// rtorrent's errors in the client-neutral kinds `rotate` decides on.
impl From<RpcError> for ClientError {
    fn from(e: RpcError) -> ClientError {
        match e {
            RpcError::Fault { .. } if e.is_unknown_hash() => ClientError::UnknownTorrent(e.into()),
            RpcError::Fault { .. } => ClientError::Refused(e.into()),
            RpcError::SocketUrl(_)
            | RpcError::SocketMissing { .. }
            | RpcError::PermissionDenied { .. }
            | RpcError::ConnectionRefused { .. }
            | RpcError::Timeout { .. }
            | RpcError::Io { .. }
            | RpcError::Http(_)
            | RpcError::HttpStatus { .. } => ClientError::Unreachable(e.into()),
            RpcError::Framing { .. }
            | RpcError::TooLarge { .. }
            | RpcError::Decode { .. }
            | RpcError::Shape { .. } => ClientError::Protocol(e.into()),
        }
    }
}

fn protocol(message: String) -> ClientError {
    ClientError::Protocol(Box::new(Message(message)))
}

/// The next result of a `system.multicall`, one per call sent.
/// rtorrent's count of pieces waiting to be hashed, for all downloads.
const HASH_QUEUE_SIZE: &str = "pieces.hash.queue_size";
/// How often the hash queue is asked about while a stopped download's
/// last pieces are hashed.
const HASH_QUEUE_POLL: Duration = Duration::from_millis(50);
/// How long to wait for it at most: a stopped download's own pieces are
/// ahead of anything queued after the stop, and hashing them takes
/// milliseconds; a queue that never empties is other downloads' work.
const HASH_QUEUE_WAIT: Duration = Duration::from_secs(5);
/// The pause when rtorrent cannot say how long its queue is.
const HASH_QUEUE_UNKNOWN_PAUSE: Duration = Duration::from_millis(300);

/// What to do next while waiting for rtorrent's hash queue to empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drain {
    Empty,
    Poll,
    /// rtorrent did not answer the question (no such command).
    Unknown,
    GiveUp,
}

fn drain_step(queued: Option<i64>, waited: Duration) -> Drain {
    match queued {
        None => Drain::Unknown,
        Some(n) if n <= 0 => Drain::Empty,
        Some(_) if waited >= HASH_QUEUE_WAIT => Drain::GiveUp,
        Some(_) => Drain::Poll,
    }
}

fn queue_length(reply: Option<Value>) -> Option<i64> {
    reply.as_ref().and_then(Value::as_i64)
}

fn next_result(
    results: &mut impl Iterator<Item = Result<Value, RpcError>>,
    what: &str,
) -> Result<Value, ClientError> {
    results
        .next()
        .ok_or_else(|| protocol(format!("system.multicall gave no result for {what}")))?
        .map_err(ClientError::from)
}

fn array_rows<'v>(value: &'v Value, method: &str) -> Result<&'v [Value], ClientError> {
    value.as_array().ok_or_else(|| {
        protocol(format!(
            "rtorrent's {method} answered a {}, not an array of rows",
            value.type_name()
        ))
    })
}

impl From<Download> for Torrent {
    fn from(d: Download) -> Torrent {
        Torrent {
            hash: d.hash,
            name: d.name,
            size: d.size_bytes,
            done: d.completed_bytes,
            complete: d.complete,
            ratio_permille: d.ratio_permille,
            started: d.started,
            data_path: PathBuf::from(d.base_path),
            label: d.label,
            finished_at: d.finished_at,
        }
    }
}

/// Each file's chunks done as the download's bitfield says (see
/// [`chunks_done_per_file`] for why), or rtorrent's own counts when it
/// has no bitfield to give.
fn count_done_from_bitfield(
    hash: &str,
    mut files: Vec<crate::client::TorrentFile>,
    bitfield: Option<Value>,
    chunk_size: Option<Value>,
) -> Vec<crate::client::TorrentFile> {
    let sizes: Vec<u64> = files.iter().map(|f| f.size).collect();
    let hex = bitfield
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_default();
    let chunk = chunk_size
        .as_ref()
        .and_then(Value::as_i64)
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0);
    match chunks_done_per_file(hex, chunk, &sizes) {
        Ok(done) => {
            for (f, done) in files.iter_mut().zip(done) {
                if f.size > 0 && done <= f.pieces {
                    f.done_pieces = done;
                }
            }
        }
        Err(e) => log::debug!("{hash}: its bitfield is {e}; using f.completed_chunks"),
    }
    files
}

fn neutral_file(f: super::download::TorrentFile) -> crate::client::TorrentFile {
    crate::client::TorrentFile {
        index: f.index,
        path: f.path,
        size: f.size_bytes,
        done_pieces: f.completed_chunks,
        pieces: f.size_chunks,
        priority: crate::client::FilePriority::from_level(f.priority as u8),
    }
}

impl TorrentClient for Client {
    fn kind(&self) -> &'static str {
        "rtorrent"
    }

    /// One `system.multicall` of `d.multicall2`, the directory calls and
    /// `network.xmlrpc.size_limit`, so a run's reading costs the same with
    /// ten torrents or ten thousand.
    fn state(&self) -> Result<ClientState, ClientError> {
        let mut params = vec![Value::str(""), Value::str("main")];
        params.extend(DOWNLOAD_FIELDS.iter().map(|f| Value::str(*f)));
        let mut calls = vec![Call::new("d.multicall2", params)];
        calls.extend(directory_calls());
        calls.push(Call::new(limit::SIZE_LIMIT_COMMAND, vec![]));
        let mut results = self.multicall(&calls)?.into_iter();
        let downloads = next_result(&mut results, "d.multicall2")?;
        let torrents = array_rows(&downloads, "d.multicall2")?
            .iter()
            .map(|row| {
                download_from_row(row)
                    .map(Torrent::from)
                    .map_err(|e| protocol(format!("rtorrent's d.multicall2: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let download_dir = directory_from_results(&mut results).map_err(protocol)?;
        // An rtorrent without the command (or a proxy hiding it) is taken to
        // have the default limit, the smallest any 0.9 has shipped with.
        let size_limit = match results.next() {
            Some(Ok(v)) => v.as_i64(),
            Some(Err(e)) => {
                log::debug!(
                    "{}: {e}; assuming rtorrent's default",
                    limit::SIZE_LIMIT_COMMAND
                );
                None
            }
            None => None,
        };
        let request_limit = limit::request_limit(size_limit);
        log::debug!("rtorrent takes requests of up to {request_limit} bytes");
        Ok(ClientState {
            torrents,
            download_dir,
            request_limit,
        })
    }

    /// `load.raw_start` / `load.raw` with the label set, all in one
    /// `system.multicall`.
    fn add(&self, torrents: &[NewTorrent]) -> Result<Vec<Result<(), ClientError>>, ClientError> {
        let calls: Vec<Call> = torrents
            .iter()
            .map(|t| {
                Call::new(
                    if t.start {
                        "load.raw_start"
                    } else {
                        "load.raw"
                    },
                    vec![
                        Value::str(""),
                        Value::Base64(t.metainfo.clone()),
                        Value::str(format!("d.custom1.set={}", t.label)),
                    ],
                )
            })
            .collect();
        Ok(self
            .multicall(&calls)?
            .into_iter()
            .map(|r| r.map(drop).map_err(ClientError::from))
            .collect())
    }

    fn has(&self, hash: &InfoHash) -> Result<bool, ClientError> {
        match self.call("d.hash", &[Value::str(hash.to_hex_upper())]) {
            Ok(_) => Ok(true),
            Err(e) if e.is_unknown_hash() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn erase(&self, hash: &InfoHash) -> Result<(), ClientError> {
        Client::erase(self, &hash.to_hex_upper()).map_err(ClientError::from)
    }

    fn start(&self, hash: &InfoHash) -> Result<(), ClientError> {
        Client::start(self, &hash.to_hex_upper()).map_err(ClientError::from)
    }

    fn stop(&self, hash: &InfoHash) -> Result<(), ClientError> {
        let h = hash.to_hex_upper();
        self.stop_and_drain(&h)?;
        expect_zero("d.close", self.call("d.close", &[Value::str(&h)])?).map_err(ClientError::from)
    }

    /// Closed, not only stopped, with `stop_first`: rtorrent maps the data
    /// into memory, and a file truncated under a live mapping crashes it
    /// (SIGBUS) or leaves it believing in bytes that are gone. `d.start`
    /// reopens it.
    fn files(&self, hash: &InfoHash, stop_first: bool) -> Result<TorrentFiles, ClientError> {
        let h = hash.to_hex_upper();
        let mut calls = Vec::new();
        if stop_first {
            self.stop_and_drain(&h)?;
        }
        // Read before the close: rtorrent drops a closed download's bitfield.
        calls.push(Call::new("d.bitfield", vec![Value::str(&h)]));
        calls.push(Call::new("d.chunk_size", vec![Value::str(&h)]));
        if stop_first {
            calls.push(Call::new("d.close", vec![Value::str(&h)]));
        }
        calls.push(Call::new("d.base_path", vec![Value::str(&h)]));
        calls.push(Call::new("d.directory", vec![Value::str(&h)]));
        let mut params = vec![Value::str(&h), Value::str("")];
        params.extend(FILE_FIELDS.iter().map(|f| Value::str(*f)));
        calls.push(Call::new("f.multicall", params));
        let mut results = self.multicall(&calls)?.into_iter();
        let bitfield = results.next().and_then(Result::ok);
        let chunk_size = results.next().and_then(Result::ok);
        if stop_first {
            next_result(&mut results, "d.close")?;
        }
        let base = next_result(&mut results, "d.base_path")?;
        let directory = next_result(&mut results, "d.directory")?;
        let rows = next_result(&mut results, "f.multicall")?;
        let files = array_rows(&rows, "f.multicall")?
            .iter()
            .enumerate()
            .map(|(i, row)| {
                file_from_row(i, row)
                    .map(neutral_file)
                    .map_err(|e| protocol(format!("rtorrent's f.multicall: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let files = count_done_from_bitfield(&h, files, bitfield, chunk_size);
        Ok(TorrentFiles {
            data_path: PathBuf::from(base.as_str().unwrap_or_default()),
            directory: PathBuf::from(directory.as_str().unwrap_or_default()),
            files,
        })
    }

    fn set_file_priorities(
        &self,
        hash: &InfoHash,
        priorities: &[(usize, crate::client::FilePriority)],
        then: ThenDo,
    ) -> Result<(), ClientError> {
        let h = hash.to_hex_upper();
        let mut calls: Vec<Call> = priorities
            .iter()
            .map(|(i, p)| {
                Call::new(
                    "f.priority.set",
                    vec![Value::str(format!("{h}:f{i}")), Value::Int(*p as i64)],
                )
            })
            .collect();
        calls.push(Call::new("d.update_priorities", vec![Value::str(&h)]));
        if then.check_hash {
            calls.push(Call::new("d.check_hash", vec![Value::str(&h)]));
        }
        if then.start {
            calls.push(Call::new("d.start", vec![Value::str(&h)]));
        }
        for r in self.multicall(&calls)? {
            r?;
        }
        Ok(())
    }

    fn check_hash(&self, hash: &InfoHash) -> Result<(), ClientError> {
        self.call("d.check_hash", &[Value::str(hash.to_hex_upper())])
            .map(drop)
            .map_err(ClientError::from)
    }

    /// `system.client_version`.
    fn about(&self) -> Result<String, ClientError> {
        self.client_version().map_err(ClientError::from)
    }

    fn requests(&self) -> u64 {
        self.round_trips()
    }

    fn bytes_received(&self) -> u64 {
        Client::bytes_received(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_download_is_closed_once_the_hash_queue_is_empty() {
        let ms = Duration::from_millis;
        let cases = [
            (Some(0), ms(0), Drain::Empty),
            (Some(0), ms(9_000), Drain::Empty),
            (Some(3), ms(0), Drain::Poll),
            (Some(3), HASH_QUEUE_WAIT - ms(1), Drain::Poll),
            (Some(3), HASH_QUEUE_WAIT, Drain::GiveUp),
            (None, ms(0), Drain::Unknown),
        ];
        for (queued, waited, want) in cases {
            assert_eq!(
                drain_step(queued, waited),
                want,
                "{queued:?} after {waited:?}"
            );
        }
        assert_eq!(queue_length(Some(Value::Int(7))), Some(7));
        assert_eq!(queue_length(None), None);
    }

    /// Each rtorrent failure lands in the kind `rotate` decides on, with
    /// rtorrent's own wording kept as the message.
    #[test]
    fn rtorrent_errors_map_to_client_neutral_kinds() {
        let fault = |message: &str| RpcError::Fault {
            method: "d.erase".into(),
            code: -501,
            message: message.into(),
        };
        let cases: Vec<(RpcError, &str)> = vec![
            (fault("Could not find info-hash."), "unknown"),
            (fault("Unsupported target type found."), "refused"),
            (
                RpcError::ConnectionRefused {
                    target: "127.0.0.1:5000".into(),
                },
                "unreachable",
            ),
            (
                RpcError::SocketMissing {
                    path: "/run/rt.sock".into(),
                },
                "unreachable",
            ),
            (
                RpcError::Timeout {
                    target: "x".into(),
                    seconds: 60,
                },
                "unreachable",
            ),
            (
                RpcError::Shape {
                    method: "d.multicall2".into(),
                    reason: "not an array".into(),
                },
                "protocol",
            ),
            (
                RpcError::TooLarge {
                    target: "x".into(),
                    limit: 10,
                },
                "protocol",
            ),
        ];
        for (rpc, want) in cases {
            let text = rpc.to_string();
            let e = ClientError::from(rpc);
            let kind = match e {
                ClientError::Unreachable(_) => "unreachable",
                ClientError::Refused(_) => "refused",
                ClientError::UnknownTorrent(_) => "unknown",
                ClientError::Protocol(_) => "protocol",
            };
            assert_eq!(kind, want, "{text}");
            assert_eq!(e.to_string(), text);
            assert!(std::error::Error::source(&e).is_some());
        }
    }
}
