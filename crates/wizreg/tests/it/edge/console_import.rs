//! The operator console's import, as a browser sends it (`multipart/form-data`, after signing
//! in): an upload whose lines keep coming outlives the request timeout, as the API's does.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{export_with_an_empty_target, parse_response, Served};
use crate::harness::{TestApp, ADMIN_TOKEN};

const BOUNDARY: &str = "wizreg-test-boundary";

/// Sends `request` on a new connection and returns the whole answer, head included.
async fn answer(server: &Served, request: &str) -> String {
    let mut stream = server.connect().await;
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.expect("answer");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The `name=value` of each `Set-Cookie` in an answer, joined for a `Cookie` header.
fn cookies(answer: &str) -> Vec<String> {
    answer
        .lines()
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim().split(';').next().unwrap_or("").to_owned())
        })
        .collect()
}

/// The hidden `csrf` field's value in a console page.
fn csrf_in(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a CSRF field") + 19;
    page[at..].split('"').next().expect("its value").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_import_whose_lines_keep_coming_outlives_the_request_timeout() {
    let app = TestApp::new().await;
    let export = export_with_an_empty_target(&app, "slow-upload").await;
    let server = Served::start(&app, &[("WIZREG_REQUEST_TIMEOUT_SECS", "1".into())]).await;
    let origin = format!("http://127.0.0.1:{}", server.port);
    let host = format!("127.0.0.1:{}", server.port);

    // Sign in as a browser would: the form's CSRF cookie and token, then the admin token.
    let form = answer(
        &server,
        &format!("GET /ui/admin/sign-in HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    let mut jar = cookies(&form);
    let body = format!("token={ADMIN_TOKEN}&csrf={}", csrf_in(&form));
    let signed_in = answer(
        &server,
        &format!(
            "POST /ui/admin/sign-in HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nCookie: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            jar.join("; "),
            body.len()
        ),
    )
    .await;
    assert!(signed_in.starts_with("HTTP/1.1 303"), "{signed_in}");
    jar.extend(cookies(&signed_in));
    let cookie = jar.join("; ");
    let school = answer(
        &server,
        &format!("GET /ui/admin/schools/slow-upload HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(school.starts_with("HTTP/1.1 200"), "{school}");

    // The export, uploaded through the console a line at a time: each line well within the
    // one-second timeout, the whole upload well beyond it.
    let opening = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"school.ndjson\"\r\nContent-Type: application/x-ndjson\r\n\r\n",
        csrf_in(&school)
    );
    let closing = format!("\r\n--{BOUNDARY}--\r\n");
    let length = opening.len() + export.len() + closing.len();
    let mut stream = server.connect().await;
    let head = format!(
        "POST /ui/admin/schools/slow-upload/import HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nCookie: {cookie}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{opening}"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let lines: Vec<&str> = export.split_inclusive('\n').collect();
    assert!(lines.len() >= 6, "{export}");
    for line in &lines {
        stream.write_all(line.as_bytes()).await.expect("a line");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    stream.write_all(closing.as_bytes()).await.expect("end");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.expect("answer");
    let (status, body) = parse_response(&bytes);
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(status, 303, "{body}");
    assert!(text.contains("done=imported&houses="), "{text}");
    assert!(text.contains("&students=4"), "{text}");
    let imported = app.get("/students").tenant("slow-upload").send().await;
    assert_eq!(imported.body.as_array().map(Vec::len), Some(4));
}
