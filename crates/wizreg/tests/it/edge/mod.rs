//! The connection edge, driven as an outside client would: the real `wizreg serve` binary on
//! this test's database, reached over TCP (and TLS). `slow_clients` holds thousands of slow and
//! idle sockets open while two schools are served, `limits` the cap and the request timeouts,
//! `https` HTTPS with HTTP/2 and certificate reload.

mod console_import;
mod https;
mod limits;
mod slow_clients;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{free_port, scratch_dir, TestApp, ADMIN_TOKEN, KEY_SECRET};

/// A `wizreg serve` process on a free loopback port, killed when dropped.
pub struct Served {
    child: Child,
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Starts the binary on `app`'s database with `env` added, and waits until it serves.
    pub async fn start(app: &TestApp, env: &[(&str, String)]) -> Self {
        let dir = scratch_dir("wizreg-edge-");
        let port = free_port();
        let log = dir.path().join("serve.log");
        let child = Command::new(env!("CARGO_BIN_EXE_wizreg"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .envs(app.database_env())
            .env("WIZREG_DATA_DIR", dir.path().join("data"))
            .env("WIZREG_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("WIZREG_KEY_SECRET", KEY_SECRET)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("run wizreg");
        let mut served = Self {
            child,
            port,
            log,
            _dir: dir,
        };
        served.wait_for_log("wizreg is serving").await;
        served
    }

    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the server's log contains `needle` (failing if the process exits first).
    pub async fn wait_for_log(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.log_text().contains(needle) {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("wizreg exited ({status}):\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn connect(&self) -> TcpStream {
        TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect")
    }

    /// One HTTP/1.1 request on its own connection: the status and the body.
    pub async fn request(&self, head: &str, body: &str) -> (u16, String) {
        let mut stream = self.connect().await;
        exchange(
            &mut stream,
            &format!("{head}Connection: close\r\n\r\n{body}"),
        )
        .await
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `request` and reads the answer up to the end of the connection (or two minutes):
/// the status and the body, or status 0 when the connection ended without an answer.
pub async fn exchange(stream: &mut TcpStream, request: &str) -> (u16, String) {
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut bytes = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(120), stream.read_to_end(&mut bytes)).await;
    parse_response(&bytes)
}

pub fn parse_response(bytes: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(bytes);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

/// A request head (without the blank line) for `school`.
pub fn head_for(method: &str, path: &str, school: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Tenant: {school}\r\n")
}

/// Four students in hogwarts, exported, and an empty school `target` to import them into: the
/// export's text.
pub async fn export_with_an_empty_target(app: &TestApp, target: &str) -> String {
    for i in 0..4 {
        let created = app
            .post(
                "/students",
                serde_json::json!({"name": format!("Student {i}")}),
            )
            .tenant("hogwarts")
            .send()
            .await;
        assert_eq!(created.status, 201);
    }
    let (_, _, export) = app
        .get("/admin/tenants/hogwarts/export")
        .admin()
        .send_raw()
        .await;
    let created = app
        .post(
            "/admin/tenants",
            serde_json::json!({"slug": target, "name": "Slow"}),
        )
        .admin()
        .send()
        .await;
    assert_eq!(created.status, 201);
    String::from_utf8(export).expect("utf-8")
}
