//! Which database a test runs against, and [`on_both_backends!`], which runs one test body
//! against each.

use std::path::PathBuf;

use super::citus::{citus_cluster, citus_socket, CITUS_TEMPLATE};
use super::cluster::{cluster_socket, superuser};
use super::TEMPLATE;

/// The database behind a [`super::TestApp`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// One PostgreSQL (the process-wide test cluster).
    Postgres,
    /// A Citus coordinator with two workers, schools distributed by tenant.
    Citus,
}

impl Backend {
    /// The socket directory of the server the test connects to (the coordinator on Citus).
    pub fn socket(self) -> &'static PathBuf {
        match self {
            Self::Postgres => cluster_socket(),
            Self::Citus => citus_socket(),
        }
    }

    /// Creates `dbname` as a copy of the migrated template (on every node, on Citus).
    pub async fn create_database(self, dbname: &str) {
        match self {
            Self::Postgres => {
                let postgres = superuser(cluster_socket(), "postgres").await;
                postgres
                    .batch_execute(&format!("create database {dbname} template {TEMPLATE}"))
                    .await
                    .expect("create the test database");
            }
            Self::Citus => {
                // Each copy first marks the template (`allow_connections false`): two copies
                // at once update the same catalogue row and one fails ("tuple concurrently
                // updated"). A copy takes a fraction of a second; one at a time.
                static COPYING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
                let _one_at_a_time = COPYING.lock().await;
                citus_cluster()
                    .copy_database(CITUS_TEMPLATE, dbname)
                    .await
                    .expect("copy the Citus template on every node")
            }
        }
    }
}

/// Runs one test body against plain PostgreSQL and against the embedded Citus cluster:
///
/// ```ignore
/// on_both_backends! {
///     #[tokio::test]
///     async fn a_sentence_saying_what_holds(backend) {
///         let app = TestApp::on(backend).await;
///         …
///     }
/// }
/// ```
///
/// makes the tests `a_sentence_saying_what_holds::postgres` and `…::citus`.
macro_rules! on_both_backends {
    ($(#[$attr:meta])* async fn $name:ident($backend:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($backend: $crate::harness::Backend) $body

            $(#[$attr])*
            async fn postgres() {
                body($crate::harness::Backend::Postgres).await
            }

            $(#[$attr])*
            async fn citus() {
                body($crate::harness::Backend::Citus).await
            }
        }
    };
}
pub(crate) use on_both_backends;
