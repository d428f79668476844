//! A `wizreg serve` process under test: started with the benchmark's database settings, watched
//! through `/proc` (peak RSS, CPU time), and stopped with SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The admin token the benchmark's servers accept.
pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef";

#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

/// How the server reaches PostgreSQL, and anything else it needs.
#[derive(Debug)]
pub struct Launch<'a> {
    pub binary: &'a Path,
    pub runtime_url: String,
    pub admin_url: String,
    pub log: &'a Path,
    pub env: Vec<(&'static str, String)>,
}

impl Server {
    pub async fn start(launch: Launch<'_>) -> Result<Self, String> {
        let addr = free_port()?;
        let log = std::fs::File::create(launch.log).map_err(|e| format!("server log: {e}"))?;
        let child = Command::new(launch.binary)
            .arg("serve")
            .arg("--bind")
            .arg(addr.to_string())
            .env("DATABASE_URL", &launch.runtime_url)
            .env("WIZREG_ADMIN_DATABASE_URL", &launch.admin_url)
            .env("WIZREG_ADMIN_TOKEN", ADMIN_TOKEN)
            .envs(launch.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("start {}: {e}", launch.binary.display()))?;
        let mut server = Self { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "wizreg serve exited ({status}); see {}",
                    launch.log.display()
                ));
            }
            if crate::load::get_status(addr, "/readyz").await == Some(200) {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.stop();
        Err(format!(
            "wizreg serve did not get ready; see {}",
            launch.log.display()
        ))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resets the peak-RSS mark, so the next [`Server::peak_rss_kib`] covers one run only.
    pub fn reset_peak_rss(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }

    pub fn peak_rss_kib(&self) -> u64 {
        proc_status_kib(self.pid(), "VmHWM:").unwrap_or(0)
    }

    /// User plus system CPU time so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.pid())
    }

    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

fn free_port() -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    listener.local_addr().map_err(|e| format!("bind: {e}"))
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of a process, from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    #[allow(unsafe_code)]
    // SAFETY: sysconf only reads a constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_secs_f64(ticks as f64 / per_second as f64)
}

/// The CPU time of every process whose parent is `parent` (a postmaster's backends).
pub fn children_cpu_time(parent: u32) -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let rest = s.rsplit_once(')')?.1.to_owned();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .map(cpu_time)
        .sum()
}
