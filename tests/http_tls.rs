//! The HTTP client against a real nginx: HTTPS with a CA made here by
//! openssl (trusted when given, refused with a clear error when not), client
//! certificates for `ssl_verify_client on`, plain HTTP with redirects
//! and the size cap (chunked framing is unit-tested in the parser).
// Test code: a panic is how a test reports a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod support;

use lowspace::http::{HttpClient, HttpError, Request, TlsOptions, Url};
use support::free_port;
use support::nginx::{Nginx, TestCa};
use support::tempdir::TempDir;

#[test]
fn https_with_test_ca_and_client_certificates() {
    let tmp = TempDir::new("http-tls");
    let ca = TestCa::new(&tmp.join("ca"), "lowspace-test-ca");
    let (server_cert, server_key) = ca.issue("server", false);
    let (client_cert, client_key) = ca.issue("client", true);
    let other_ca = TestCa::new(&tmp.join("other-ca"), "someone-else");
    let (stranger_cert, stranger_key) = other_ca.issue("stranger", true);

    let www = tmp.join("www");
    std::fs::create_dir_all(&www).unwrap();
    let listing: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
    std::fs::write(www.join("listing.bin"), &listing).unwrap();

    let (open_port, mtls_port, plain_port) = (free_port(), free_port(), free_port());
    let tls = format!(
        "ssl_certificate {};\n ssl_certificate_key {};\n root {};\n",
        server_cert.display(),
        server_key.display(),
        www.display()
    );
    let blocks = format!(
        "server {{ listen 127.0.0.1:{open_port} ssl;\n {tls} }}\n\
         server {{ listen 127.0.0.1:{mtls_port} ssl;\n {tls} ssl_client_certificate {};\n ssl_verify_client on; }}\n\
         server {{ listen 127.0.0.1:{plain_port};\n root {};\n chunked_transfer_encoding on;\n\
           location = /old {{ return 301 /listing.bin; }}\n\
           location = /loop {{ return 302 /loop; }}\n\
           location = /text {{ default_type text/plain; return 200 \"chunky body\"; }} }}\n",
        ca.cert.display(),
        www.display()
    );
    let _nginx = Nginx::start(
        &tmp.join("nginx"),
        &blocks,
        &[open_port, mtls_port, plain_port],
    );
    let url = |port: u16, scheme: &str, path: &str| {
        Url::parse(&format!("{scheme}://127.0.0.1:{port}{path}")).unwrap()
    };

    // Trusted through the test CA: the bytes arrive intact.
    let trusting = HttpClient::new(TlsOptions {
        ca_file: Some(ca.cert.clone()),
        client_cert: None,
    });
    let r = trusting
        .send(Request::get(url(open_port, "https", "/listing.bin")))
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, listing);

    // The system bundle does not know our CA: a clear TLS error.
    let err = HttpClient::default()
        .send(Request::get(url(open_port, "https", "/listing.bin")))
        .unwrap_err();
    assert!(matches!(err, HttpError::Tls { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("certificate") && text.contains("CA file"),
        "{text}"
    );

    // ssl_verify_client on: no certificate → nginx says 400; ours → 200;
    // one from another CA → 400.
    let r = trusting
        .send(Request::get(url(mtls_port, "https", "/listing.bin")))
        .unwrap();
    assert_eq!(r.status, 400);
    let with_cert = HttpClient::new(TlsOptions {
        ca_file: Some(ca.cert.clone()),
        client_cert: Some((client_cert, client_key)),
    });
    let r = with_cert
        .send(Request::get(url(mtls_port, "https", "/listing.bin")))
        .unwrap();
    assert_eq!((r.status, r.body.len()), (200, listing.len()));
    let stranger = HttpClient::new(TlsOptions {
        ca_file: Some(ca.cert.clone()),
        client_cert: Some((stranger_cert, stranger_key)),
    });
    let r = stranger
        .send(Request::get(url(mtls_port, "https", "/listing.bin")))
        .unwrap();
    assert_eq!(r.status, 400);

    // Plain HTTP: redirects followed, loops bounded, size cap enforced.
    let plain = HttpClient::default();
    let r = plain
        .send(Request::get(url(plain_port, "http", "/old")))
        .unwrap();
    assert_eq!((r.status, r.body.len()), (200, listing.len()));
    let err = plain
        .send(Request::get(url(plain_port, "http", "/loop")))
        .unwrap_err();
    assert!(matches!(err, HttpError::TooManyRedirects { .. }), "{err}");
    let mut small = HttpClient::default();
    small.max_body = 1000;
    let err = small
        .send(Request::get(url(plain_port, "http", "/listing.bin")))
        .unwrap_err();
    assert!(err.to_string().contains("1000-byte limit"), "{err}");
    let r = plain
        .send(Request::get(url(plain_port, "http", "/text")))
        .unwrap();
    assert_eq!(r.body, b"chunky body");
    let r = plain
        .send(Request::get(url(plain_port, "http", "/missing")))
        .unwrap();
    assert_eq!(r.status, 404);
}
