//! What every browser test shares: two real `wizreg serve` processes on one embedded
//! PostgreSQL (one in `open` mode, one asking for API keys), one chromedriver, and axe-core.
//! All of it is started once and stopped when the tests end.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub type Outcome<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub const ADMIN_TOKEN: &str = "console-test-admin-token-0123456789";
/// The HS256 secret of the server that asks for credentials (it takes API keys and JWTs).
pub const JWT_SECRET: &str = "console-test-jwt-secret-0123456789abcdef";
const AXE_VERSION: &str = "4.14.1";

#[derive(Debug)]
pub struct Fixture {
    /// `WIZREG_AUTH=open`: the staff console needs no sign-in.
    pub open_port: u16,
    /// `WIZREG_AUTH=api-key,jwt`, attached to the same database.
    pub key_port: u16,
    pub webdriver: String,
    pub chromium: PathBuf,
    pub axe_source: String,
    pub screenshots: PathBuf,
    children: std::sync::Mutex<Vec<Child>>,
    _data: tempfile::TempDir,
}

/// The one line a missing browser gets, so the failure says what to do.
fn require(program: &str, package: &str) -> Outcome<PathBuf> {
    ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"]
        .iter()
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.exists())
        .ok_or_else(|| {
            format!("{program} not found: install it with `apt-get install -y {package}` (Debian), then rerun").into()
        })
}

fn free_port() -> Outcome<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) -> Outcome {
    let started = Instant::now();
    while !ready() {
        if started.elapsed() > limit {
            return Err(format!("{what} did not come up within {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

impl Fixture {
    pub fn start() -> Outcome<Self> {
        let chromium = require("chromium", "chromium")?;
        let chromedriver = require("chromedriver", "chromium-driver")?;
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).to_path_buf();
        let screenshots = target.join("..").join("console-screenshots");
        std::fs::create_dir_all(&screenshots)?;
        let axe_source = axe(&target)?;
        let data = tempfile::tempdir()?;
        let mut fixture = Self {
            open_port: free_port()?,
            key_port: free_port()?,
            webdriver: String::new(),
            chromium,
            axe_source,
            screenshots,
            children: std::sync::Mutex::new(Vec::new()),
            _data: data,
        };
        let data_dir = fixture._data.path().join("wizreg");
        // The first server starts the embedded PostgreSQL; the second attaches to it.
        for (port, auth) in [
            (fixture.open_port, "open"),
            (fixture.key_port, "api-key,jwt"),
        ] {
            let log = std::fs::File::create(
                fixture
                    ._data
                    .path()
                    .join(format!("serve-{}.log", auth.replace(',', "-"))),
            )?;
            let child = Command::new(env!("CARGO_BIN_EXE_wizreg"))
                .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
                .env("WIZREG_DATA_DIR", &data_dir)
                .env("WIZREG_AUTH", auth)
                .env("WIZREG_ADMIN_TOKEN", ADMIN_TOKEN)
                .env("WIZREG_JWT_SECRET", JWT_SECRET)
                .env_remove("DATABASE_URL")
                .env_remove("WIZREG_ADMIN_DATABASE_URL")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()?;
            fixture.children.lock().expect("children").push(child);
            wait_until("wizreg serve", Duration::from_secs(120), || {
                http("localhost", port, "GET", "/readyz", &[], "").is_ok_and(|r| r.status == 200)
            })?;
        }
        let driver_port = free_port()?;
        let driver = Command::new(chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        fixture.children.lock().expect("children").push(driver);
        wait_until("chromedriver", Duration::from_secs(30), || {
            http("localhost", driver_port, "GET", "/status", &[], "").is_ok_and(|r| r.status == 200)
        })?;
        fixture.webdriver = format!("http://127.0.0.1:{driver_port}");
        Ok(fixture)
    }

    /// `http://<host>.localhost:<port>` for a school (or plain `localhost` with `None`).
    pub fn origin(&self, school: Option<&str>, port: u16) -> String {
        match school {
            Some(slug) => format!("http://{slug}.localhost:{port}"),
            None => format!("http://localhost:{port}"),
        }
    }

    /// A call to the JSON API of the `open` server (setting up data, checking outcomes).
    pub fn api(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Outcome<Reply> {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        http("localhost", self.open_port, method, path, &all, body)
    }

    /// A call to the admin API.
    pub fn admin(&self, method: &str, path: &str, body: &str) -> Outcome<Reply> {
        let bearer = format!("Bearer {ADMIN_TOKEN}");
        self.api(method, path, &[("Authorization", &bearer)], body)
    }

    /// Creates a school through the admin API.
    pub fn create_school(&self, slug: &str, name: &str) -> Outcome {
        let reply = self.admin(
            "POST",
            "/admin/tenants",
            &format!(r#"{{"slug":"{slug}","name":"{name}"}}"#),
        )?;
        if reply.status != 201 {
            return Err(format!("creating {slug}: {} {}", reply.status, reply.body).into());
        }
        Ok(())
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Fixture {
    /// Stops chromedriver, then the attached server, then the one owning PostgreSQL (SIGTERM
    /// lets it stop PostgreSQL cleanly). Idempotent.
    pub fn stop(&self) {
        let mut children = self.children.lock().unwrap_or_else(|p| p.into_inner());
        for mut child in children.drain(..).rev() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let started = Instant::now();
            while child.try_wait().ok().flatten().is_none()
                && started.elapsed() < Duration::from_secs(20)
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// axe-core from the npm registry, fetched once into `target/` (`npm pack`, no install).
fn axe(target: &Path) -> Outcome<String> {
    let dir = target.join(format!("axe-core-{AXE_VERSION}"));
    let file = dir.join("package").join("axe.min.js");
    if !file.exists() {
        std::fs::create_dir_all(&dir)?;
        let packed = Command::new("npm")
            .args(["pack", &format!("axe-core@{AXE_VERSION}"), "--silent", "--pack-destination"])
            .arg(&dir)
            .stdout(Stdio::null())
            .status()
            .map_err(|_| "npm not found: install Node.js and npm (`apt-get install -y npm`) so the tests can fetch axe-core")?;
        let tarball = dir.join(format!("axe-core-{AXE_VERSION}.tgz"));
        if !packed.success() || !tarball.exists() {
            return Err(format!(
                "`npm pack axe-core@{AXE_VERSION}` failed: the npm registry must be reachable"
            )
            .into());
        }
        let untar = Command::new("tar")
            .arg("xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&dir)
            .status()?;
        if !untar.success() {
            return Err("could not unpack axe-core".into());
        }
    }
    Ok(std::fs::read_to_string(file)?)
}

/// An HTTP answer read off the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.1 request to a loopback port, with `host` as the Host header: how the tests
/// talk to the server outside the browser (setup, and what a browser never sends).
pub fn http(
    host: &str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Outcome<Reply> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    // Read the head, then as much body as Content-Length says (some servers keep the
    // connection open whatever `Connection: close` asked), else to the end.
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let head_end = loop {
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            return Err("the connection closed before the answer's head".into());
        }
        raw.extend_from_slice(&buffer[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = raw[head_end + 4..].to_vec();
    match length {
        Some(length) => {
            while body.len() < length {
                let n = stream.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&buffer[..n]);
            }
        }
        None => {
            stream.read_to_end(&mut body)?;
        }
    }
    let body = String::from_utf8_lossy(&body);
    Ok(Reply {
        status,
        headers,
        body: body.into_owned(),
    })
}
