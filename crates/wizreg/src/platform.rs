//! Platform administration's connections. The platform role manages the tenant list; it has
//! no BYPASSRLS, so it cannot read school data either. On Citus, placing a school's shards
//! needs the tables' owner: that one-off connection comes from here too. Per-tenant work (export, import,
//! offboarding) goes through ordinary tenant transactions instead.

use std::time::Duration;

use deadpool::managed::Object;
use tenancy::tls::PgTls;
use tenancy::{build_pool, ConnectionManager};
use tenancy::{DbError, PgPool, PoolOptions, StatementMode};
use tokio_postgres::{Client, Config as PgConfig};

use crate::database::{Database, Role};

/// A small pool of platform-role connections.
#[derive(Clone, Debug)]
pub struct Platform {
    pool: PgPool,
    /// The administrator's settings, for the rare shard operations only (see
    /// [`Platform::owner_connection`]).
    owner: PgConfig,
    /// The administrator URL's TLS connector: the owner's session is encrypted like every other.
    owner_tls: PgTls,
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
        let mut owner = database.config(Role::Admin);
        owner.application_name("wizreg-shards");
        Self {
            pool: build_pool(config, database.tls(Role::Platform), options),
            owner,
            owner_tls: database.tls(Role::Admin),
        }
    }

    /// A platform connection; use `.client()` on it.
    pub async fn connection(&self) -> Result<Object<ConnectionManager>, DbError> {
        self.pool.get().await.map_err(|err| match err {
            deadpool::managed::PoolError::Backend(db) => db,
            _ => DbError::unavailable(),
        })
    }

    /// A one-off connection as the administrator, for splitting and moving a school's shards
    /// on Citus ([`crate::shards`]): Citus lets only the tables' owner do that. Not pooled:
    /// these operations are rare, and no request path should find an owner session lying about.
    pub async fn owner_connection(&self) -> Result<Client, DbError> {
        let (client, connection) = tenancy::connect(&self.owner, self.owner_tls.clone()).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    pub fn close(&self) {
        self.pool.close();
    }
}
