//! The server process: `initdb`, spawning `postgres` as the server account with its own process
//! group and parent-death signal, waiting until it is ready, and recognising one already running.

use std::fs::{self, File, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::kill;
use nix::unistd::{Gid, Pid, Uid};

use super::{io_err, EmbeddedError, EmbeddedPostgres, PORT, SUPERUSER};

impl EmbeddedPostgres {
    pub(super) fn spawn_server(
        mut self,
        bin: &Path,
        account: Option<(Uid, Gid)>,
        ephemeral: bool,
        extra_settings: &[String],
    ) -> Result<Self, EmbeddedError> {
        let log_path = self.data_dir.join("postgres.log");
        let log = append(&log_path)?;
        let mut cmd = Command::new(bin.join("postgres"));
        cmd.arg("-D").arg(self.data_dir.join("pgdata"));
        let mut settings = vec![
            "listen_addresses=".to_owned(),
            format!("unix_socket_directories={}", self.socket_dir.display()),
            "unix_socket_permissions=0700".to_owned(),
            format!("port={PORT}"),
            "max_connections=200".to_owned(),
        ];
        if ephemeral {
            settings.extend(
                [
                    "fsync=off",
                    "synchronous_commit=off",
                    "full_page_writes=off",
                ]
                .map(String::from),
            );
        }
        settings.extend(extra_settings.iter().cloned());
        for setting in settings {
            cmd.arg("-c").arg(setting);
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_err("open", &log_path))?)
            .stderr(log)
            .process_group(0);
        as_account(&mut cmd, account);
        stop_with_parent(&mut cmd);
        let child = cmd.spawn().map_err(io_err("run", &bin.join("postgres")))?;
        self.server = Some(child);
        self.wait_ready(&log_path)?;
        Ok(self)
    }

    fn wait_ready(&mut self, log_path: &Path) -> Result<(), EmbeddedError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let exited = self
                .server
                .as_mut()
                .map(|c| matches!(c.try_wait(), Ok(Some(_))))
                .unwrap_or(false);
            if exited {
                break;
            }
            if self.pid_file().is_some_and(|(_, status)| status == "ready") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        self.stop();
        Err(EmbeddedError::NotReady(log_path.to_owned()))
    }

    /// Whether a server is running on this data directory for us to attach to. One that is
    /// starting is waited for; one that is stopping (say, the program that started it was just killed and the
    /// parent-death signal shut it down) is waited out, so we start our own. A `postmaster.pid`
    /// naming a dead process, or one that is not PostgreSQL (a reused pid), is stale: the
    /// server we start replaces it.
    pub(super) fn wait_for_running_server(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let Some((pid, status)) = self.pid_file() else {
                return false;
            };
            if !is_postgres(pid) {
                return false;
            }
            if status == "ready" || Instant::now() >= deadline {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pid and status (`starting`, `ready`, `stopping`, …) in `postmaster.pid`.
    fn pid_file(&self) -> Option<(Pid, String)> {
        let text = fs::read_to_string(self.data_dir.join("pgdata/postmaster.pid")).ok()?;
        let mut lines = text.lines();
        let pid = Pid::from_raw(lines.next()?.trim().parse().ok()?);
        let status = lines.nth(6).map(str::trim).unwrap_or_default().to_owned();
        Some((pid, status))
    }
}

/// Has the server shut down fast (SIGINT: clean, and quick even with clients connected) when
/// the thread that spawned it ends, so a killed parent leaves no orphan server behind.
#[cfg(target_os = "linux")]
fn stop_with_parent(cmd: &mut Command) {
    #[allow(unsafe_code)]
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Other Unix systems have no parent-death signal: the server is stopped when its
/// [`EmbeddedPostgres`] is dropped, but a parent killed outright leaves it running, and the
/// next start on the same data directory attaches to it instead of starting another.
#[cfg(not(target_os = "linux"))]
fn stop_with_parent(_: &mut Command) {}

/// Whether `pid` is a live PostgreSQL process (on Linux, checked by its command line, so a
/// reused pid is not mistaken for the server).
fn is_postgres(pid: Pid) -> bool {
    kill(pid, None).is_ok() && command_line_names_postgres(pid)
}

#[cfg(target_os = "linux")]
fn command_line_names_postgres(pid: Pid) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|cmdline| String::from_utf8_lossy(&cmdline).contains("postgres"))
        .unwrap_or(false)
}

/// Without `/proc`, a live process named in `postmaster.pid` is taken to be the server.
#[cfg(not(target_os = "linux"))]
fn command_line_names_postgres(_: Pid) -> bool {
    true
}

fn append(path: &Path) -> Result<File, EmbeddedError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err("open", path))
}

fn as_account(cmd: &mut Command, account: Option<(Uid, Gid)>) {
    if let Some((uid, gid)) = account {
        cmd.uid(uid.as_raw()).gid(gid.as_raw());
        // A root HOME is unreadable to the server account; some tools look there.
        cmd.env("HOME", "/tmp");
    }
}

pub(super) fn init_cluster(
    bin: &Path,
    data_dir: &Path,
    account: Option<(Uid, Gid)>,
) -> Result<(), EmbeddedError> {
    let log_path = data_dir.join("initdb.log");
    let log = append(&log_path)?;
    let mut cmd = Command::new(bin.join("initdb"));
    cmd.arg("-D")
        .arg(data_dir.join("pgdata"))
        .args([
            "-U",
            SUPERUSER,
            "--auth-local=trust",
            "--auth-host=reject",
            "-E",
            "UTF8",
        ])
        .args(["--locale=C.UTF-8", "--no-instructions"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(io_err("open", &log_path))?)
        .stderr(log)
        .current_dir("/");
    as_account(&mut cmd, account);
    let status = cmd.status().map_err(io_err("run", &bin.join("initdb")))?;
    if status.success() {
        Ok(())
    } else {
        Err(EmbeddedError::InitDb(log_path))
    }
}
