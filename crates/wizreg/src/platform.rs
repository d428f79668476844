//! Platform administration's connections. The platform role manages the tenant list; it has
//! no BYPASSRLS, so it cannot read school data either. Per-tenant work (export, import,
//! offboarding) goes through ordinary tenant transactions instead.

use std::time::Duration;

use deadpool::managed::Object;
use tenancy::{build_pool, ConnectionManager};
use tenancy::{DbError, PgPool, PoolOptions, StatementMode};

use crate::database::{Database, Role};

/// A small pool of platform-role connections.
#[derive(Clone, Debug)]
pub struct Platform {
    pool: PgPool,
}

impl Platform {
    pub fn new(database: &Database, statement_mode: StatementMode) -> Self {
        let mut config = database.config(Role::Platform);
        config.application_name("wizreg-platform");
        let options = PoolOptions {
            max_size: 4,
            acquire_timeout: Duration::from_secs(5),
            statement_mode,
            ..PoolOptions::default()
        };
        Self {
            pool: build_pool(config, database.tls(Role::Platform), options),
        }
    }

    /// A platform connection; use `.client()` on it.
    pub async fn connection(&self) -> Result<Object<ConnectionManager>, DbError> {
        self.pool.get().await.map_err(|err| match err {
            deadpool::managed::PoolError::Backend(db) => db,
            _ => DbError::unavailable(),
        })
    }

    pub fn close(&self) {
        self.pool.close();
    }
}
