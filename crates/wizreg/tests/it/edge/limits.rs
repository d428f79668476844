//! The connection cap and the request deadline, against the real server: a connection over
//! `WIZREG_MAX_CONNECTIONS` gets `503 unavailable` + `Retry-After` (not a failed accept), a body
//! that stops arriving gets `408`, and an import whose lines keep coming outlives the request
//! timeout.

use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::{exchange, export_with_an_empty_target, head_for, parse_response, Served};
use crate::harness::{TestApp, ADMIN_TOKEN};

const CAP: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_cap_gets_a_json_503_with_retry_after_and_service_resumes_below_it() {
    let app = TestApp::new().await;
    let server = Served::start(&app, &[("WIZREG_MAX_CONNECTIONS", CAP.to_string())]).await;
    let mut held = Vec::new();
    for _ in 0..CAP {
        held.push(server.connect().await);
    }
    // The held connections are accepted in order; one full round trip makes sure of it.
    let mut over = server.connect().await;
    let request = format!(
        "{}Connection: close\r\n\r\n",
        head_for("GET", "/students", "hogwarts")
    );
    over.write_all(request.as_bytes()).await.expect("send");
    let mut bytes = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut over, &mut bytes)
        .await
        .expect("an answer, then the close");
    let (status, body) = parse_response(&bytes);
    let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();

    assert_eq!(status, 503, "{text}");
    assert!(text.contains("\r\nretry-after: "), "{text}");
    let error: Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(error["error"]["code"], "unavailable");

    drop(held);
    // Below the cap again (the server notices the closes on its own schedule).
    let mut status = 0;
    for _ in 0..200 {
        status = server
            .request(&head_for("GET", "/students", "hogwarts"), "")
            .await
            .0;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_gets_408_and_an_import_whose_lines_keep_coming_does_not() {
    let app = TestApp::new().await;
    let server = Served::start(&app, &[("WIZREG_REQUEST_TIMEOUT_SECS", "1".into())]).await;

    let head = format!(
        "{}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
        head_for("POST", "/students", "hogwarts")
    );
    let mut stream = server.connect().await;
    let (status, body) = exchange(&mut stream, &format!("{head}{{\"name\": ")).await;
    assert_eq!(status, 408, "{body}");
    let error: Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(error["error"]["code"], "invalid_request");
    assert_eq!(
        app.get("/students").tenant("hogwarts").send().await.body,
        serde_json::json!([]),
        "nothing was created"
    );

    // An export of a few students, sent back into an empty school a line at a time, each line
    // well within the timeout but the whole upload well beyond it.
    let export = export_with_an_empty_target(&app, "slow-import").await;
    let mut stream = server.connect().await;
    let head = format!(
        "POST /admin/tenants/slow-import/import HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        export.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let lines: Vec<&str> = export.split_inclusive('\n').collect();
    assert!(lines.len() >= 6, "{export}");
    for line in &lines[..lines.len() - 1] {
        stream.write_all(line.as_bytes()).await.expect("a line");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let (status, body) = exchange(&mut stream, lines[lines.len() - 1]).await;
    assert_eq!(status, 200, "{body}");
    let counts: Value = serde_json::from_str(&body).expect("counts");
    assert_eq!(counts["students"], 4);
}
