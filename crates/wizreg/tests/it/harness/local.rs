//! What a test owns outside the shared cluster: scratch directories, free ports, a PostgreSQL
//! cluster of its own (for tests that stop or restart it), and the processes left behind.

use std::path::Path;

use tenancy::embedded::{EmbeddedOptions, EmbeddedPostgres, SUPERUSER};
use tokio_postgres::{Client, NoTls};

/// A directory under /tmp, removed when dropped. /tmp because the `postgres` OS user (which
/// runs the server when the tests run as root) cannot reach a root-only temp directory.
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("temp dir")
}

/// A loopback port nothing listens on right now, for a process that must be told its port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Settings for a throwaway cluster of the test's own in `dir/data`.
pub fn own_cluster_options(dir: &Path) -> EmbeddedOptions {
    EmbeddedOptions {
        data_dir: dir.join("data"),
        pg_bin: None,
        ephemeral: true,
        ..Default::default()
    }
}

/// A superuser connection to `dbname` on `cluster`.
pub async fn superuser_on(cluster: &EmbeddedPostgres, dbname: &str) -> Client {
    let (client, connection) = cluster
        .config(SUPERUSER, dbname)
        .connect(NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

/// Processes whose command line mentions `dir`.
pub fn processes_using(dir: &Path) -> usize {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .count()
}
