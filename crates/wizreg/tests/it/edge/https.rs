//! HTTPS end to end against the real server with generated certificates: HTTP/2 negotiated by
//! ALPN, a request served, the certificate reloaded when its files change and on SIGHUP, a
//! broken new certificate logged and the old one kept; `/metrics` refused anonymously over
//! HTTPS and served by the operations listener.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use nix::sys::signal::{kill, Signal};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::TlsConnector;

use super::{head_for, Served};
use crate::harness::{free_port, scratch_dir, TestApp};

/// A self-signed certificate for `localhost`: (certificate PEM, key PEM, certificate DER).
fn certificate() -> (String, String, CertificateDer<'static>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("a cert");
    (
        made.cert.pem(),
        made.signing_key.serialize_pem(),
        made.cert.der().clone(),
    )
}

fn write_pair(dir: &Path, cert: &str, key: &str) {
    // The key first: a reload between the two writes fails (logged) and the next one succeeds.
    std::fs::write(dir.join("key.pem"), key).expect("key");
    std::fs::write(dir.join("cert.pem"), cert).expect("cert");
}

/// A client trusting `trusted`, offering h2 and http/1.1.
fn connector(trusted: &[&CertificateDer<'static>]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add((*cert).clone()).expect("a root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Every connection a full handshake: a resumed session keeps the certificate it began with.
    config.resumption = rustls::client::Resumption::disabled();
    TlsConnector::from(Arc::new(config))
}

/// One HTTPS request over HTTP/2: the certificate served, the ALPN protocol, status and body.
async fn get_over_h2(
    server: &Served,
    connector: &TlsConnector,
    path: &str,
) -> (CertificateDer<'static>, Vec<u8>, StatusCode, String) {
    let tcp = server.connect().await;
    let name = ServerName::try_from("localhost").expect("name");
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let (_, session) = tls.get_ref();
    let served = session.peer_certificates().expect("a certificate")[0].clone();
    let alpn = session.alpn_protocol().unwrap_or_default().to_vec();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let request = Request::get(format!("https://localhost{path}"))
        .header("x-tenant", "hogwarts")
        .body(Empty::<bytes::Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("a response");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        served,
        alpn,
        status,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// Waits until new connections are served `wanted` (generous bound; nothing is timed).
async fn until_served(server: &Served, connector: &TlsConnector, wanted: &CertificateDer<'_>) {
    for _ in 0..600 {
        if get_over_h2(server, connector, "/healthz").await.0 == *wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the new certificate was never served:\n{}",
        server.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_negotiates_http2_serves_requests_and_reloads_its_certificate_on_change_and_sighup() {
    let app = TestApp::new().await;
    let dir = scratch_dir("wizreg-tls-");
    let (cert1, key1, der1) = certificate();
    write_pair(dir.path(), &cert1, &key1);
    let ops_port = free_port();
    let mut server = Served::start(
        &app,
        &[
            (
                "WIZREG_TLS_CERT",
                dir.path().join("cert.pem").display().to_string(),
            ),
            (
                "WIZREG_TLS_KEY",
                dir.path().join("key.pem").display().to_string(),
            ),
            ("WIZREG_OPS_BIND", format!("127.0.0.1:{ops_port}")),
        ],
    )
    .await;
    let (cert2, key2, der2) = certificate();
    let (cert3, key3, der3) = certificate();
    let client = connector(&[&der1, &der2, &der3]);

    let (served, alpn, status, body) = get_over_h2(&server, &client, "/students").await;
    assert_eq!(served, der1);
    assert_eq!(alpn, b"h2", "HTTP/2 by ALPN");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "[]");
    let (_, _, status, body) = get_over_h2(&server, &client, "/metrics").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body.contains("\"unauthorized\"") && !body.contains("hogwarts"),
        "{body}"
    );

    // The files change: new connections get the new certificate.
    write_pair(dir.path(), &cert2, &key2);
    until_served(&server, &client, &der2).await;

    // A broken certificate is logged and the one in use kept.
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").expect("write");
    kill(server.pid(), Signal::SIGHUP).expect("SIGHUP");
    server.wait_for_log("did not load").await;
    let (served, _, status, _) = get_over_h2(&server, &client, "/students").await;
    assert_eq!((served, status), (der2.clone(), StatusCode::OK));

    // SIGHUP reloads a good pair.
    write_pair(dir.path(), &cert3, &key3);
    kill(server.pid(), Signal::SIGHUP).expect("SIGHUP");
    server
        .wait_for_log("TLS certificate reloaded on SIGHUP")
        .await;
    until_served(&server, &client, &der3).await;

    // The operations listener (plain HTTP) serves metrics without a token.
    let mut ops = tokio::net::TcpStream::connect(("127.0.0.1", ops_port))
        .await
        .expect("the ops listener");
    let (status, metrics) = super::exchange(
        &mut ops,
        &format!(
            "{}Connection: close\r\n\r\n",
            head_for("GET", "/metrics", "hogwarts")
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert!(metrics.contains("wizreg_http_requests_total"), "{metrics}");
    assert!(!metrics.contains("hogwarts"), "no school labels by default");
}
