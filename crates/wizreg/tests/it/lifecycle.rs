//! The real `wizreg serve` binary, in embedded mode with its own data directory: a graceful
//! shutdown lets an in-flight request finish and stops PostgreSQL, and a `kill -9` loses no
//! acknowledged write.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{free_port, processes_using, scratch_dir};

/// A `wizreg serve` process on a free loopback port.
pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
}

impl Server {
    async fn start(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[]).await
    }

    /// Starts `wizreg serve` in embedded mode on `data_dir` with extra environment variables.
    pub(crate) async fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let log_path = data_dir.with_extension(format!("{port}.log"));
        let log = std::fs::File::create(&log_path).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_wizreg"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("WIZREG_DATA_DIR", data_dir)
            .env_remove("DATABASE_URL")
            .env_remove("WIZREG_ADMIN_DATABASE_URL")
            .env_remove("WIZREG_AUTH")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("run wizreg");
        let mut server = Self { child, port };
        // Generous: a first Citus start runs initdb for every node, on a machine that may be
        // running the rest of the suite too.
        let deadline = Instant::now() + Duration::from_secs(300);
        while server.request("GET", "/healthz", None).await.map(|r| r.0) != Some(200) {
            let exited = server.child.try_wait().expect("wait");
            if exited.is_some() || Instant::now() >= deadline {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("wizreg did not start on {data_dir:?} (exit: {exited:?}); its log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    pub(crate) fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pid"))
    }

    async fn connect(&self) -> std::io::Result<TcpStream> {
        TcpStream::connect(("127.0.0.1", self.port)).await
    }

    /// One request on its own connection: the status and the JSON body, or `None` when the
    /// connection failed.
    pub(crate) async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Option<(u16, Value)> {
        let mut stream = self.connect().await.ok()?;
        let body = body.unwrap_or("");
        let head = request_head(method, path, body.len());
        stream
            .write_all(format!("{head}{body}").as_bytes())
            .await
            .ok()?;
        read_response(&mut stream).await
    }

    /// Waits for the process to exit and returns whether it exited with status 0.
    pub(crate) async fn wait_exit(mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.success();
            }
            assert!(Instant::now() < deadline, "wizreg did not exit");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub(crate) fn request_head(method: &str, path: &str, content_length: usize) -> String {
    request_head_for("hogwarts", method, path, content_length)
}

/// A request head naming `school` by `X-Tenant`, closing the connection after the answer.
pub(crate) fn request_head_for(
    school: &str,
    method: &str,
    path: &str,
    content_length: usize,
) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Tenant: {school}\r\nContent-Type: application/json\r\nContent-Length: {content_length}\r\nConnection: close\r\n\r\n"
    )
}

pub(crate) async fn read_response(stream: &mut TcpStream) -> Option<(u16, Value)> {
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut bytes))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

pub(crate) fn temp_dir(prefix: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = scratch_dir(prefix);
    let data = dir.path().join("data");
    (dir, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_refuses_new_connections_finishes_the_request_in_flight_and_stops_postgres() {
    let (dir, data_dir) = temp_dir("wizreg-shutdown-");
    let server = Server::start(&data_dir).await;
    let body = r#"{"name": "Slow Sender"}"#;
    let (first_half, second_half) = body.split_at(body.len() / 2);

    // A POST whose body arrives over two seconds, and a readiness probe whose head is not
    // finished yet: both are in flight when SIGTERM arrives.
    let mut slow = server.connect().await.expect("connect");
    let head = request_head("POST", "/students", body.len());
    slow.write_all(format!("{head}{first_half}").as_bytes())
        .await
        .expect("send");
    let mut probe = server.connect().await.expect("connect");
    probe
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .expect("send");
    let sent_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill(server.pid(), Signal::SIGTERM).expect("SIGTERM");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let refused = server.connect().await.is_err();
    probe
        .write_all(b"Connection: close\r\n\r\n")
        .await
        .expect("finish the probe");
    let readiness = read_response(&mut probe).await.map(|r| r.0);
    tokio::time::sleep(Duration::from_secs(2).saturating_sub(sent_at.elapsed())).await;
    slow.write_all(second_half.as_bytes())
        .await
        .expect("finish the body");
    let answer = read_response(&mut slow).await;
    let exited_cleanly = server.wait_exit().await;

    assert!(refused, "a new connection is refused while draining");
    assert_eq!(readiness, Some(503), "readiness fails while draining");
    let (status, student) = answer.expect("the in-flight request got an answer");
    assert_eq!(status, 201, "{student}");
    assert_eq!(student["name"], "Slow Sender");
    assert!(exited_cleanly, "wizreg exits 0 after draining");
    assert_eq!(
        processes_using(dir.path()),
        0,
        "PostgreSQL stopped with wizreg"
    );
}

/// Posts students one after another until `stop`, remembering those acknowledged with 201.
async fn post_until_stopped(
    server_port: u16,
    worker: usize,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let name = format!("durable {worker}-{n}");
        let body = format!(r#"{{"name": "{name}"}}"#);
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", server_port)).await else {
            break;
        };
        let head = request_head("POST", "/students", body.len());
        if stream
            .write_all(format!("{head}{body}").as_bytes())
            .await
            .is_err()
        {
            break;
        }
        if let Some((201, _)) = read_response(&mut stream).await {
            acked.lock().expect("acked").push(name);
        }
    }
}

async fn all_student_names(server: &Server) -> Vec<String> {
    let mut names = Vec::new();
    let mut after = String::new();
    loop {
        let path = format!("/students?limit=1000{after}");
        let (status, page) = server.request("GET", &path, None).await.expect("list");
        assert_eq!(status, 200, "{page}");
        let rows = page.as_array().expect("a list").clone();
        names.extend(
            rows.iter()
                .filter_map(|r| r["name"].as_str().map(str::to_owned)),
        );
        match rows.last() {
            Some(last) if rows.len() == 1000 => {
                after = format!("&after={}", last["id"].as_str().expect("id"))
            }
            _ => return names,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_stream_of_posts_loses_no_acknowledged_student() {
    let (dir, data_dir) = temp_dir("wizreg-durability-");
    let server = Server::start(&data_dir).await;
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|worker| {
            tokio::spawn(post_until_stopped(
                server.port,
                worker,
                stop.clone(),
                acked.clone(),
            ))
        })
        .collect();
    while acked.lock().expect("acked").len() < 50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    kill(server.pid(), Signal::SIGKILL).expect("SIGKILL");
    assert!(!server.wait_exit().await, "killed, not exited");
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("writer");
    }
    let acked = std::mem::take(&mut *acked.lock().expect("acked"));
    let restarted = Server::start(&data_dir).await;
    let present = all_student_names(&restarted).await;

    let missing: Vec<&String> = acked
        .iter()
        .filter(|name| !present.contains(name))
        .collect();
    println!(
        "kill -9: {} students acknowledged, {} present after restart",
        acked.len(),
        present.len()
    );
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    kill(restarted.pid(), Signal::SIGTERM).expect("SIGTERM");
    assert!(restarted.wait_exit().await);
    assert_eq!(processes_using(dir.path()), 0, "no PostgreSQL left behind");
}
