//! The blocking HTTP/1.1 client: one request per connection
//! (`Connection: close`), timeouts on connect, on every read and on the
//! whole exchange, a body size cap, and a few redirects for GET.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::error::HttpError;
use super::response::{self, Response};
use super::tls::{self, TlsOptions};
use super::url::{Scheme, Url};

/// One request to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn get(url: Url) -> Request {
        Request {
            method: "GET".into(),
            url,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn post(url: Url, content_type: &str, body: Vec<u8>) -> Request {
        Request {
            method: "POST".into(),
            url,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The bytes on the wire. Basic authentication comes from the URL's
    /// `user:pass@` unless the caller set an Authorization header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: lowspace/{}\r\n",
            self.method,
            self.url.path_and_query,
            self.url.host_header(),
            env!("CARGO_PKG_VERSION")
        );
        let has = |name: &str| {
            self.headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        if let (Some(user), false) = (&self.url.username, has("authorization")) {
            let pass = self.url.password.as_deref().unwrap_or("");
            let token = crate::base64::encode(format!("{user}:{pass}").as_bytes());
            head.push_str(&format!("Authorization: Basic {token}\r\n"));
        }
        for (k, v) in &self.headers {
            // Header injection guard: values from config never carry CR/LF.
            let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !self.body.is_empty() || self.method == "POST" || self.method == "PUT" {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Limits and TLS settings; cheap to clone, reuse one for many requests.
#[derive(Debug)]
pub struct HttpClient {
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes.
    pub read_timeout: Duration,
    /// Longest whole exchange (slow-drip servers).
    pub total_timeout: Duration,
    pub max_body: usize,
    /// Redirects followed for GET (others are returned as they are).
    pub max_redirects: u8,
    /// Connect from this local address (the interface to send from);
    /// None: the system's choice.
    pub local_address: Option<IpAddr>,
    tls_options: TlsOptions,
    tls_config: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

impl Default for HttpClient {
    fn default() -> HttpClient {
        HttpClient::new(TlsOptions::default())
    }
}

impl HttpClient {
    pub fn new(tls_options: TlsOptions) -> HttpClient {
        HttpClient {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(300),
            max_body: 64 * 1024 * 1024,
            max_redirects: 5,
            local_address: None,
            tls_options,
            tls_config: OnceLock::new(),
        }
    }

    /// Sends the request and returns the response whatever its status;
    /// GET redirects are followed (credentials are dropped when the host
    /// changes).
    pub fn send(&self, request: Request) -> Result<Response, HttpError> {
        let mut request = request;
        let mut redirects = 0u8;
        loop {
            let response = self.send_once(&request)?;
            let is_redirect = matches!(response.status, 301 | 302 | 303 | 307 | 308);
            if !(is_redirect && request.method == "GET") {
                return Ok(response);
            }
            let Some(location) = response.header("location") else {
                return Ok(response);
            };
            if redirects >= self.max_redirects {
                return Err(HttpError::TooManyRedirects {
                    url: request.url.to_string(),
                    limit: self.max_redirects,
                });
            }
            redirects += 1;
            let mut next = request.url.join(location).map_err(HttpError::Url)?;
            if next.host == request.url.host && next.port == request.url.port {
                next.username = request.url.username.clone();
                next.password = request.url.password.clone();
            }
            log::debug!("{} redirected to {next}", request.url);
            request.url = next;
        }
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, HttpError> {
        self.tls_config
            .get_or_init(|| tls::client_config(&self.tls_options))
            .clone()
            .map_err(HttpError::TlsSetup)
    }

    fn send_once(&self, request: &Request) -> Result<Response, HttpError> {
        let url = request.url.to_string();
        let deadline = Instant::now() + self.total_timeout;
        let tcp = self.connect(&request.url)?;
        let io_err = |source: std::io::Error| classify_io(&url, source, self.read_timeout);
        tcp.set_read_timeout(Some(self.read_timeout))
            .map_err(io_err)?;
        tcp.set_write_timeout(Some(self.read_timeout))
            .map_err(io_err)?;
        let _ = tcp.set_nodelay(true);
        let head_request = request.method == "HEAD";
        let wire = request.to_bytes();
        let buf = match request.url.scheme {
            Scheme::Http => {
                let mut tcp = tcp;
                tcp.write_all(&wire).map_err(io_err)?;
                self.read_response(&mut tcp, &url, deadline, head_request, false)?
            }
            Scheme::Https => {
                let config = self.tls_config()?;
                let name = rustls::pki_types::ServerName::try_from(request.url.host.clone())
                    .map_err(|e| HttpError::Tls {
                        url: url.clone(),
                        message: format!("bad server name: {e}"),
                    })?;
                let conn =
                    rustls::ClientConnection::new(config, name).map_err(|e| HttpError::Tls {
                        url: url.clone(),
                        message: e.to_string(),
                    })?;
                let mut stream = rustls::StreamOwned::new(conn, tcp);
                stream
                    .write_all(&wire)
                    .map_err(|e| classify_tls_io(&url, e, self.read_timeout))?;
                self.read_response(&mut stream, &url, deadline, head_request, true)?
            }
        };
        let (buf, end) = buf;
        response::parse_response(&buf, self.max_body, head_request, end)
            .map_err(|source| HttpError::Response { url, source })
    }

    fn connect(&self, url: &Url) -> Result<TcpStream, HttpError> {
        let shown = url.to_string();
        let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(|source| HttpError::Resolve {
                url: shown.clone(),
                source,
            })?
            .collect();
        let mut last: Option<std::io::Error> = None;
        for addr in &addrs {
            match crate::sys::connect_from(self.local_address, addr, self.connect_timeout) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        match last {
            Some(e)
                if e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                Err(HttpError::ConnectTimeout {
                    url: shown,
                    seconds: self.connect_timeout.as_secs(),
                })
            }
            Some(source) => Err(HttpError::Connect { url: shown, source }),
            None => Err(HttpError::Resolve {
                url: shown,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
            }),
        }
    }

    /// Reads until the response is complete, the peer closes, or a limit is
    /// hit; says which, so a body delimited by close is judged by how the
    /// close came (`tls`: rustls reports a close without close_notify as
    /// UnexpectedEof and a clean one as end of stream).
    fn read_response(
        &self,
        stream: &mut impl Read,
        url: &str,
        deadline: Instant,
        head_request: bool,
        tls: bool,
    ) -> Result<(Vec<u8>, response::ConnectionEnd), HttpError> {
        use response::ConnectionEnd;
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 16 * 1024];
        let hard_cap = self.max_body.saturating_add(response::MAX_HEAD_BYTES);
        loop {
            if Instant::now() > deadline {
                return Err(HttpError::Timeout {
                    url: url.to_string(),
                    seconds: self.total_timeout.as_secs(),
                });
            }
            let n = match stream.read(&mut chunk) {
                Ok(0) if tls => return Ok((buf, ConnectionEnd::CloseNotify)),
                Ok(0) => return Ok((buf, ConnectionEnd::TcpClose)),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // Content-Length and chunked framing still prove a body
                // whole; the parser refuses one delimited by this close.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {
                    return Ok((buf, ConnectionEnd::TlsCutOff))
                }
                Err(e) => return Err(classify_tls_io(url, e, self.read_timeout)),
            };
            buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
            if buf.len() > hard_cap {
                return Err(HttpError::Response {
                    url: url.to_string(),
                    source: response::ResponseError::TooLarge {
                        limit: self.max_body,
                    },
                });
            }
            if response::is_complete(&buf, self.max_body, head_request) {
                return Ok((buf, ConnectionEnd::Framed));
            }
        }
    }
}

fn classify_io(url: &str, source: std::io::Error, read_timeout: Duration) -> HttpError {
    match source.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => HttpError::Timeout {
            url: url.to_string(),
            seconds: read_timeout.as_secs(),
        },
        _ => HttpError::Io {
            url: url.to_string(),
            source,
        },
    }
}

/// rustls reports handshake failures as io::Error of kind InvalidData
/// wrapping its own error; those become [`HttpError::Tls`].
fn classify_tls_io(url: &str, source: std::io::Error, read_timeout: Duration) -> HttpError {
    if source.kind() == std::io::ErrorKind::InvalidData {
        if let Some(inner) = source.get_ref() {
            if inner.downcast_ref::<rustls::Error>().is_some() {
                return HttpError::Tls {
                    url: url.to_string(),
                    message: inner.to_string(),
                };
            }
        }
    }
    classify_io(url, source, read_timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes_carry_host_auth_and_length() {
        let url = Url::parse("http://alice:s3cret@127.0.0.1:8080/RPC2").unwrap();
        let wire = Request::post(url, "text/xml", b"<x/>".to_vec())
            .header("X-Evil", "a\r\nInjected: 1")
            .to_bytes();
        let text = String::from_utf8(wire).unwrap();
        assert!(text.starts_with("POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        // "alice:s3cret" in base64
        assert!(text.contains("Authorization: Basic YWxpY2U6czNjcmV0\r\n"));
        assert!(text.contains("Content-Length: 4\r\n\r\n<x/>"));
        assert!(!text.contains("\r\nInjected"));
    }

    #[test]
    fn refused_connection_is_reported_as_such() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let err = HttpClient::default().send(Request::get(url)).unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
    }
}
