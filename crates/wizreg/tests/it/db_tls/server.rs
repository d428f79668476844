//! A PostgreSQL that speaks only TLS over TCP, for the TLS tests: a cluster of the test's own
//! (initialised by the embedded launcher), restarted by hand with `ssl=on`, a CA and server
//! certificate generated here, `listen_addresses=127.0.0.1` on a free port, and a
//! `pg_hba.conf` whose only TCP lines are `hostssl` (the Unix socket stays for setup).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{Pid, User};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tenancy::embedded::{find_binaries, EmbeddedPostgres, SUPERUSER};

use crate::harness::{free_port, own_cluster_options, scratch_dir, superuser_on};

/// The password of every TCP login in these tests (the superuser and `app_login`).
pub const PASSWORD: &str = "tls-test-password";
/// A role that logs in with a client certificate only.
pub const CERT_USER: &str = "cert_user";

/// A CA: its certificate (PEM) and what signs with it.
pub struct Authority {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("key");
        let pem = params.self_signed(&key).expect("self-signed").pem();
        Self {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A leaf certificate for `names` (DNS names; the first is also the common name), and its
    /// private key, both PEM.
    pub fn issue(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, &names[0]);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        (cert.pem(), key.serialize_pem())
    }
}

/// The running TLS-only server. Stopped (and its files removed) when dropped.
pub struct TlsPostgres {
    pub port: u16,
    pub ca: Authority,
    /// Files the test writes (CA and client certificates), readable by the test only.
    pub files: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl TlsPostgres {
    pub async fn start() -> Self {
        let dir = scratch_dir("wizreg-tls-");
        let options = own_cluster_options(dir.path());
        let mut cluster =
            tokio::task::block_in_place(|| EmbeddedPostgres::start(&options)).expect("start");
        let setup = superuser_on(&cluster, "postgres").await;
        for statement in [
            "create database wizreg".to_owned(),
            format!("alter role {SUPERUSER} password '{PASSWORD}'"),
            format!("create role app_login login password '{PASSWORD}'"),
            format!("create role {CERT_USER} login"),
        ] {
            setup.batch_execute(&statement).await.expect("setup");
        }
        drop(setup);
        cluster.stop();

        let pgdata = options.data_dir.join("pgdata");
        let ca = Authority::new("wizreg test CA");
        let (server_cert, server_key) = ca.issue(&["localhost"]);
        write_for_server(&pgdata, "server.crt", &server_cert);
        write_for_server(&pgdata, "server.key", &server_key);
        write_for_server(&pgdata, "root.crt", &ca.pem);
        write_for_server(
            &pgdata,
            "pg_hba.conf",
            &format!(
                "local all all trust\n\
                 hostssl all {CERT_USER} 127.0.0.1/32 cert\n\
                 hostssl all {CERT_USER} ::1/128 cert\n\
                 hostssl all all 127.0.0.1/32 scram-sha-256\n\
                 hostssl all all ::1/128 scram-sha-256\n"
            ),
        );
        let files = dir.path().join("client");
        std::fs::create_dir(&files).expect("client dir");
        std::fs::write(files.join("ca.pem"), &ca.pem).expect("ca");

        let port = free_port();
        let child = spawn(&pgdata, &options.data_dir.join("run"), port, dir.path());
        let server = Self {
            port,
            ca,
            files,
            child,
            _dir: dir,
        };
        server.wait_ready().await;
        server
    }

    /// A file in the test's own directory, holding `contents`.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.files.join(name);
        std::fs::write(&path, contents).expect("write");
        path
    }

    /// A URL as `user` with `params` (`sslmode=…&sslrootcert=…`).
    pub fn url(&self, user: &str, host: &str, dbname: &str, params: &str) -> String {
        format!(
            "postgresql://{user}:{PASSWORD}@{host}:{}/{dbname}?{params}",
            self.port
        )
    }

    /// `sslmode=verify-full` with the right CA, as `user` on `localhost`.
    pub fn verify_full_url(&self, user: &str) -> String {
        let ca = self.files.join("ca.pem");
        self.url(
            user,
            "localhost",
            "wizreg",
            &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
        )
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = self.verify_full_url(SUPERUSER);
        let (config, tls) = tenancy::tls::parse(&url).expect("url");
        loop {
            match tenancy::connect(&config, tls.clone()).await {
                Ok(_) => return,
                Err(err) => assert!(
                    Instant::now() < deadline,
                    "the TLS server did not start: {err}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("pid"));
        let _ = kill(pid, Signal::SIGINT);
        let _ = self.child.wait();
    }
}

/// Writes a file into the data directory, owned by the server's account with mode 0600 (the
/// server refuses a key anyone else can read).
fn write_for_server(pgdata: &Path, name: &str, contents: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = pgdata.join(name);
    std::fs::write(&path, contents).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    if let Some(account) = server_account() {
        nix::unistd::chown(&path, Some(account.uid), Some(account.gid)).expect("chown");
    }
}

/// PostgreSQL refuses to run as root: as root, the server runs as `postgres`.
fn server_account() -> Option<User> {
    nix::unistd::geteuid().is_root().then(|| {
        User::from_name("postgres")
            .ok()
            .flatten()
            .expect("a postgres OS user")
    })
}

fn spawn(pgdata: &Path, socket_dir: &Path, port: u16, log_dir: &Path) -> Child {
    let bin = find_binaries(None).expect("PostgreSQL server binaries");
    let log = std::fs::File::create(log_dir.join("postgres-tls.log")).expect("log");
    let mut command = Command::new(bin.join("postgres"));
    command
        .arg("-D")
        .arg(pgdata)
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            &format!("port={port}"),
        ])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", socket_dir.display()))
        .args(["-c", "ssl=on", "-c", "ssl_cert_file=server.crt"])
        .args([
            "-c",
            "ssl_key_file=server.key",
            "-c",
            "ssl_ca_file=root.crt",
        ])
        .args(["-c", "password_encryption=scram-sha-256"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .current_dir("/");
    if let Some(account) = server_account() {
        command.uid(account.uid.as_raw()).gid(account.gid.as_raw());
        command.env("HOME", "/tmp");
    }
    command.spawn().expect("run postgres")
}
