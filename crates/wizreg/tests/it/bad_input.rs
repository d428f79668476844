//! Garbage in: numbers out of range, deep JSON, odd Host headers, and headers too big or too
//! many, the last over a real TCP connection (hyper's own limits apply there, not in-process).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::TestApp;

#[tokio::test]
async fn numbers_out_of_range_and_deeply_nested_json_are_client_errors() {
    let app = TestApp::new().await;
    for query in [
        "limit=99999999999999999999",
        "limit=-1",
        "limit=0",
        "limit=1e3",
        "limit=1001",
        "after=99999999999999999999",
    ] {
        let reply = app
            .get(&format!("/students?{query}"))
            .tenant("hogwarts")
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
    }
    let bodies = [
        (r#"{"name": 1e400}"#, StatusCode::BAD_REQUEST),
        (
            r#"{"name": 123456789012345678901234567890}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"name": "x", "house_id": 12}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"name": "x", "extra": 1}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (r#"{"name": "x", "name": "y"}"#, StatusCode::CREATED),
        (r#"{"name": "\u0000"}"#, StatusCode::UNPROCESSABLE_ENTITY),
        (r#"{"name": "\ud800"}"#, StatusCode::BAD_REQUEST),
    ];
    for (body, status) in bodies {
        let reply = app
            .call(Method::POST, "/students")
            .tenant("hogwarts")
            .raw_body("application/json", body)
            .send()
            .await;
        assert_eq!(reply.status, status, "{body}");
    }
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(r#"{{"name": {deep}}}"#);
    for body in [deep, deep_object] {
        let reply = app
            .call(Method::POST, "/students")
            .tenant("hogwarts")
            .raw_body("application/json", body.into_bytes())
            .send()
            .await;
        assert!(reply.status.is_client_error(), "{}", reply.status);
    }
    let long = "x".repeat(5000);
    let ids = ["99999999999999999999", "-1", "%00", "..", long.as_str()];
    for id in ids {
        let reply = app
            .get(&format!("/students/{id}"))
            .tenant("hogwarts")
            .send()
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{id}");
    }
    let admin = app
        .patch(
            "/admin/tenants/hogwarts",
            json!({"statement_timeout_ms": 1e300}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(admin.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn odd_host_headers_name_a_school_or_get_a_clear_4xx() {
    let app = TestApp::new().await;
    let cases = [
        ("hogwarts.localhost", StatusCode::OK),
        ("HOGWARTS.LocalHost:3000", StatusCode::OK),
        ("hogwarts.localhost.", StatusCode::OK),
        ("hogwarts.localhost.:8080", StatusCode::OK),
        ("hogwarts.localhost:99999999999999999999", StatusCode::OK),
        ("extra.hogwarts.localhost", StatusCode::BAD_REQUEST),
        ("hog_warts.localhost", StatusCode::BAD_REQUEST),
        ("hogwarts.localhost:http", StatusCode::BAD_REQUEST),
        ("xn--bcher-kva.localhost", StatusCode::NOT_FOUND),
        ("localhost", StatusCode::BAD_REQUEST),
        ("127.0.0.1:3000", StatusCode::BAD_REQUEST),
        ("[::1]:3000", StatusCode::BAD_REQUEST),
        ("hogwarts.example.org", StatusCode::BAD_REQUEST),
        ("", StatusCode::BAD_REQUEST),
    ];
    for (host, status) in cases {
        let reply = app.get("/students").host(host).send().await;
        assert_eq!(reply.status, status, "Host: {host:?} → {:?}", reply.body);
    }
}

/// Sends `head` (a request head, without the final blank line) and returns the status line.
async fn status_line(addr: std::net::SocketAddr, head: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer (and close) before it has read everything.
    let _ = stream.write_all(head).await;
    let _ = stream.write_all(b"\r\n").await;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or("").to_owned()
}

#[tokio::test]
async fn big_many_or_non_ascii_headers_get_a_4xx_from_a_real_server() {
    let app = TestApp::new().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = app.router.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let request = |extra: &[u8]| {
        let mut head = b"GET /students HTTP/1.1\r\nHost: hogwarts.localhost\r\n".to_vec();
        head.extend_from_slice(extra);
        head
    };
    let big = |size: usize| format!("X-Big: {}\r\n", "a".repeat(size)).into_bytes();
    let many: Vec<u8> = (0..200)
        .flat_map(|i| format!("X-H{i}: v\r\n").into_bytes())
        .collect();
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("plain", request(b""), "200"),
        ("a 100 KB header", request(&big(100 * 1024)), "431"),
        ("a 1 MB header", request(&big(1024 * 1024)), "431"),
        ("200 headers", request(&many), "431"),
        (
            "a UTF-8 Host",
            b"GET /students HTTP/1.1\r\nHost: b\xc3\xbccher.localhost\r\n".to_vec(),
            "400",
        ),
        (
            "a Host with control bytes",
            b"GET /students HTTP/1.1\r\nHost: hog\x01warts.localhost\r\n".to_vec(),
            "400",
        ),
    ];
    for (what, head, expected) in cases {
        let line = tokio::time::timeout(Duration::from_secs(20), status_line(addr, &head))
            .await
            .unwrap_or_else(|_| panic!("{what}: the server hung"));
        let code = line.split(' ').nth(1).unwrap_or("");
        println!("{what}: {line}");
        assert_eq!(code, expected, "{what}: {line}");
    }
    server.abort();
}
