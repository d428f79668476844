//! Thousands of sockets that trickle half a request head, and hundreds that go idle after one
//! request, held open against the real server while two schools are served; then every one of
//! them is closed by the server's own timeouts. (Figures for the same setup, with latencies:
//! `scripts/slow-clients.sh`.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::{head_for, Served};
use crate::harness::TestApp;

const TRICKLING: usize = 3000;
const IDLE: usize = 300;
const REQUESTS_PER_SCHOOL: usize = 60;
/// Long enough that every slow socket is surely open while the schools are served.
const TIMEOUT_SECS: &str = "20";

/// Trickles one byte of a head that never ends, every second, until the server hangs up.
async fn trickle(mut stream: TcpStream, closed: Arc<AtomicUsize>) {
    let mut buf = [0u8; 256];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(n) if n > 0 => {} // an error answer may come first; the close follows
                _ => break,
            },
            () = tokio::time::sleep(Duration::from_secs(1)) => {
                if stream.write_all(b"a").await.is_err() {
                    break;
                }
            }
        }
    }
    closed.fetch_add(1, Ordering::Relaxed);
}

/// Makes one request on a keep-alive connection, then stays silent until the server hangs up.
async fn go_idle(mut stream: TcpStream, closed: Arc<AtomicUsize>) {
    let request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
    closed.fetch_add(1, Ordering::Relaxed);
}

/// `REQUESTS_PER_SCHOOL` list requests for `school`, four at a time, each on a new connection;
/// every answer must be `200` and show only the school's own student.
async fn serve_school(server: Arc<Served>, school: &'static str, student: &'static str) {
    let mut requests = JoinSet::new();
    for i in 0..REQUESTS_PER_SCHOOL {
        if i >= 4 {
            requests
                .join_next()
                .await
                .expect("a request")
                .expect("joined");
        }
        let server = server.clone();
        requests.spawn(async move {
            let (status, body) = server
                .request(&head_for("GET", "/students", school), "")
                .await;
            assert_eq!(status, 200, "{school}: {body}");
            let list: Value = serde_json::from_str(&body).expect("a JSON list");
            let names: Vec<_> = list
                .as_array()
                .expect("an array")
                .iter()
                .map(|s| s["name"].as_str().unwrap_or_default().to_owned())
                .collect();
            assert_eq!(names, [student], "{school}");
        });
    }
    while let Some(done) = requests.join_next().await {
        done.expect("joined");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_slow_and_idle_sockets_neither_stop_two_schools_being_served_nor_outlive_the_timeouts(
) {
    let mut limit = wizreg::edge::rlimit::raise_open_file_limit();
    if limit < 8_192 {
        // As root (CI), the hard limit itself may be raised.
        use nix::sys::resource::{setrlimit, Resource};
        if setrlimit(Resource::RLIMIT_NOFILE, 8_192, 8_192).is_ok() {
            limit = 8_192;
        }
    }
    assert!(
        limit >= 8_000,
        "this test holds ~3,500 sockets: raise the hard open-file limit (ulimit -Hn 8192 or more)"
    );
    let app = TestApp::new().await;
    let server = Arc::new(
        Served::start(
            &app,
            &[
                ("WIZREG_HEADER_READ_TIMEOUT_SECS", TIMEOUT_SECS.into()),
                ("WIZREG_KEEP_ALIVE_TIMEOUT_SECS", TIMEOUT_SECS.into()),
            ],
        )
        .await,
    );
    for (school, name) in [
        ("hogwarts", "Harry Potter"),
        ("castelobruxo", "Alanza Alves"),
    ] {
        let body = format!(r#"{{"name": "{name}"}}"#);
        let head = format!(
            "{}Content-Type: application/json\r\nContent-Length: {}\r\n",
            head_for("POST", "/students", school),
            body.len()
        );
        assert_eq!(server.request(&head, &body).await.0, 201);
    }

    let closed = Arc::new(AtomicUsize::new(0));
    let mut slow = JoinSet::new();
    for _ in 0..TRICKLING {
        let mut stream = server.connect().await;
        stream
            .write_all(b"POST /students HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ")
            .await
            .expect("half a head");
        slow.spawn(trickle(stream, closed.clone()));
    }
    for _ in 0..IDLE {
        slow.spawn(go_idle(server.connect().await, closed.clone()));
    }

    tokio::join!(
        serve_school(server.clone(), "hogwarts", "Harry Potter"),
        serve_school(server.clone(), "castelobruxo", "Alanza Alves"),
    );
    let closed_while_served = closed.load(Ordering::Relaxed);

    assert!(
        closed_while_served < (TRICKLING + IDLE) / 10,
        "the slow sockets were open while the schools were served ({closed_while_served} had closed)"
    );
    // Every slow socket is then closed by the server (a generous bound; nothing is timed).
    let all_closed = tokio::time::timeout(Duration::from_secs(180), async {
        while let Some(done) = slow.join_next().await {
            done.expect("joined");
        }
    })
    .await;
    assert!(
        all_closed.is_ok(),
        "{} of {} slow sockets were still open",
        TRICKLING + IDLE - closed.load(Ordering::Relaxed),
        TRICKLING + IDLE
    );
    assert_eq!(closed.load(Ordering::Relaxed), TRICKLING + IDLE);
    // And the server serves as before.
    let (status, _) = server
        .request(&head_for("GET", "/students", "hogwarts"), "")
        .await;
    assert_eq!(status, 200);
}
