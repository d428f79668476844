//! A private PostgreSQL cluster for development and tests: finds the server binaries, creates
//! or reuses a data directory, runs the server on a Unix socket with no TCP port, and stops it.
//!
//! `initdb` and `postgres` refuse to run as root, so as root the server runs as the `postgres`
//! OS user. The server gets its own process group (a terminal's Ctrl-C reaches only us, so we
//! can drain requests before stopping it) and a parent-death signal (if we are killed, it shuts
//! down fast instead of living on as an orphan).

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{chown, Gid, Pid, Uid, User};

/// The bootstrap superuser `initdb` creates.
pub const SUPERUSER: &str = "postgres";
const PORT: u16 = 5432;

/// Where and how to run the cluster.
#[derive(Clone, Debug, Default)]
pub struct EmbeddedOptions {
    /// Holds `pgdata/` (the cluster), `run/` (the socket) and the server's log.
    pub data_dir: PathBuf,
    /// The server binaries' directory; found automatically when `None`.
    pub pg_bin: Option<PathBuf>,
    /// Turns off fsync and friends: only for throwaway test clusters.
    pub ephemeral: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("PostgreSQL server binaries not found (looked in {looked}). Install them (Debian: apt-get install postgresql-15), point WIZREG_PG_BIN at their directory, or set DATABASE_URL to use an existing server")]
    BinariesNotFound { looked: String },
    #[error("running as root needs a 'postgres' OS user to run PostgreSQL as (apt-get install postgresql-15 creates it), or set DATABASE_URL")]
    NoPostgresUser,
    #[error("the 'postgres' OS user cannot reach {0}: set WIZREG_DATA_DIR to a directory it can reach, such as /var/lib/wizreg")]
    Unreachable(PathBuf),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("initdb failed; its output is in {0}")]
    InitDb(PathBuf),
    #[error("PostgreSQL did not become ready; its log is {0}")]
    NotReady(PathBuf),
}

fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> EmbeddedError + 'a {
    move |source| EmbeddedError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// A running (or attached-to) cluster. Dropping it stops a server it started.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    server: Option<Child>,
    socket_dir: PathBuf,
    data_dir: PathBuf,
}

/// Finds the directory holding `postgres` and `initdb`.
pub fn find_binaries(explicit: Option<&Path>) -> Result<PathBuf, EmbeddedError> {
    let has_server = |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    let mut looked: Vec<String> = Vec::new();
    // An explicit directory is the operator's choice: if it is wrong, say so rather than
    // silently running some other installed version.
    if let Some(dir) = explicit {
        return if has_server(dir) {
            Ok(dir.to_owned())
        } else {
            Err(EmbeddedError::BinariesNotFound {
                looked: dir.display().to_string(),
            })
        };
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&dir) {
            return Ok(dir);
        }
        looked.push("pg_config --bindir".into());
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, dir)| has_server(dir))
        .collect();
    versions.sort();
    looked.push("/usr/lib/postgresql/*/bin".into());
    versions
        .pop()
        .map(|(_, dir)| dir)
        .ok_or(EmbeddedError::BinariesNotFound {
            looked: looked.join(", "),
        })
}

/// The OS account the server runs as: ourselves, or `postgres` when we are root.
fn server_account() -> Result<Option<(Uid, Gid)>, EmbeddedError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    let user = User::from_name(SUPERUSER)
        .ok()
        .flatten()
        .ok_or(EmbeddedError::NoPostgresUser)?;
    Ok(Some((user.uid, user.gid)))
}

/// A directory the server account owns, with mode 0700.
fn private_dir(path: &Path, account: Option<(Uid, Gid)>) -> Result<(), EmbeddedError> {
    fs::create_dir_all(path).map_err(io_err("create", path))?;
    if let Some((uid, gid)) = account {
        chown(path, Some(uid), Some(gid)).map_err(|e| io_err("chown", path)(e.into()))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(io_err("chmod", path))
}

/// Whether every ancestor of `dir` lets others (the server account) through.
fn reachable_by_others(dir: &Path) -> bool {
    dir.ancestors().skip(1).all(|a| {
        fs::metadata(a)
            .map(|m| m.permissions().mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}

impl EmbeddedPostgres {
    /// Starts the cluster in `options.data_dir`, creating it on first use. If a server is
    /// already running there (another `wizreg` process), attaches to it instead.
    ///
    /// Call it from a thread that lives as long as the cluster should: the server's
    /// parent-death signal fires when the spawning thread ends.
    pub fn start(options: &EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let bin = find_binaries(options.pg_bin.as_deref())?;
        let account = server_account()?;
        fs::create_dir_all(&options.data_dir).map_err(io_err("create", &options.data_dir))?;
        let data_dir =
            fs::canonicalize(&options.data_dir).map_err(io_err("resolve", &options.data_dir))?;
        if account.is_some() && !reachable_by_others(&data_dir.join("pgdata")) {
            return Err(EmbeddedError::Unreachable(data_dir));
        }
        if account.is_some() {
            // The server account must pass through the data dir itself to reach pgdata/.
            fs::set_permissions(&data_dir, fs::Permissions::from_mode(0o711))
                .map_err(io_err("chmod", &data_dir))?;
        }
        let pgdata = data_dir.join("pgdata");
        let socket_dir = data_dir.join("run");
        private_dir(&pgdata, account)?;
        private_dir(&socket_dir, account)?;
        let this = Self {
            server: None,
            socket_dir,
            data_dir: data_dir.clone(),
        };

        if this.wait_for_running_server() {
            tracing::info!(dir = %pgdata.display(), "attaching to the running embedded PostgreSQL");
            return Ok(this);
        }
        if !pgdata.join("PG_VERSION").exists() {
            init_cluster(&bin, &data_dir, account)?;
        }
        this.spawn_server(&bin, account, options.ephemeral)
    }

    fn spawn_server(
        mut self,
        bin: &Path,
        account: Option<(Uid, Gid)>,
        ephemeral: bool,
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
        for setting in settings {
            cmd.arg("-c").arg(setting);
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_err("open", &log_path))?)
            .stderr(log)
            .process_group(0);
        as_account(&mut cmd, account);
        // SIGINT is PostgreSQL's fast shutdown: clean, and quick even with clients connected.
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
            let pid_file =
                fs::read_to_string(self.data_dir.join("pgdata/postmaster.pid")).unwrap_or_default();
            if pid_file.lines().nth(7).map(str::trim) == Some("ready") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        self.stop();
        Err(EmbeddedError::NotReady(log_path.to_owned()))
    }

    /// Whether a server is running on this data directory for us to attach to. One that is
    /// starting is waited for; one that is stopping (say, its `wizreg` was just killed and the
    /// parent-death signal shut it down) is waited out, so we start our own. A `postmaster.pid`
    /// naming a dead process, or one that is not PostgreSQL (a reused pid), is stale: the
    /// server we start replaces it.
    fn wait_for_running_server(&self) -> bool {
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

    /// The directory holding the server's socket (a libpq `host`).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    pub fn port(&self) -> u16 {
        PORT
    }

    /// Whether this handle started the server (and so will stop it).
    pub fn owns_server(&self) -> bool {
        self.server.is_some()
    }

    /// Connection settings for `user` on `dbname`.
    pub fn config(&self, user: &str, dbname: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.socket_dir)
            .port(PORT)
            .user(user)
            .dbname(dbname);
        config
    }

    /// A libpq URL for `user` on `dbname`, usable with `psql`.
    pub fn url(&self, user: &str, dbname: &str) -> String {
        socket_url(&self.socket_dir, user, dbname)
    }

    /// Stops a server this handle started: fast shutdown, then harder signals if it hangs.
    pub fn stop(&mut self) {
        let Some(mut child) = self.server.take() else {
            return;
        };
        let pid = Pid::from_raw(child.id() as i32);
        for (signal, grace) in [
            (Signal::SIGINT, 30),
            (Signal::SIGQUIT, 5),
            (Signal::SIGKILL, 5),
        ] {
            let _ = kill(pid, signal);
            let deadline = Instant::now() + Duration::from_secs(grace);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `pid` is a live PostgreSQL process.
fn is_postgres(pid: Pid) -> bool {
    kill(pid, None).is_ok()
        && fs::read(format!("/proc/{pid}/cmdline"))
            .map(|cmdline| String::from_utf8_lossy(&cmdline).contains("postgres"))
            .unwrap_or(false)
}

/// A libpq URL for a server listening in `socket_dir`.
pub fn socket_url(socket_dir: &Path, user: &str, dbname: &str) -> String {
    format!(
        "postgresql://{user}@/{dbname}?host={}&port={PORT}",
        socket_dir.display()
    )
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

fn init_cluster(
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
