//! Row Level Security tenancy for PostgreSQL: many tenants share one database, every row
//! carries a tenant id, and PostgreSQL itself keeps each tenant's rows apart. This crate makes
//! sure the database always hears *which tenant is speaking*, and that there is no other way
//! to reach tenant data:
//!
//! - [`Query`] and [`TenantTx`]: the tenant transaction, the only door to tenant data, with
//!   `BEGIN`, the enter statement, the query and `COMMIT` pipelined into one round trip, and a
//!   rollback for any transaction dropped or cancelled before it committed;
//! - [`Tenancy`]: tenant transactions over a pool of runtime-role connections
//!   ([`build_pool`]) that never hands out a connection still inside a transaction;
//! - [`Convention`]: the schema's names (enter statement, tenant setting, tenant column,
//!   schemas, runtime role) in one value;
//! - [`TenantId`], [`Slug`], [`TenantRef`], [`tenant_from_header`] and [`tenant_from_host`]:
//!   validated identities and the parsing of request headers into them, with no I/O;
//! - [`DbError`]: errors classified by SQLSTATE, never quoting the server's message;
//! - `audit` (feature `audit`, on by default): a read-only check of a live database's catalogue
//!   for anything that would void isolation;
//! - `embedded` (feature `embedded`, on by default, Unix only): a private PostgreSQL cluster
//!   for development and tests, or a Citus coordinator with workers;
//! - `tls` (feature `rustls`, on by default): a rustls connector configured from libpq's
//!   `sslmode`, `sslrootcert`, `sslcert` and `sslkey`. The pool takes any `tokio-postgres` TLS
//!   connector (`NoTls`, this one, or another); [`connect`] opens a single connection the same
//!   way.
//! - [`set_query_observer`]: every statement tenant transactions send, with its parameters,
//!   for tests that must prove something of every query (such as single-shard routing).
//!
//! The schema side is small: a function `enter_tenant(uuid)` that runs
//! `SET LOCAL <setting> = …`, and tenant tables with RLS enabled and forced and one policy
//! comparing the tenant column with that setting. The crate's `sql/schema.sql` is a complete
//! template, and its README says what the crate guarantees and what it leaves to you.
//!
//! ```no_run
//! use tenancy::{build_pool, Convention, PoolOptions, Query, Tenancy, TenantId};
//! use tokio_postgres::types::Type;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // Connect as the runtime role: never the owner or a superuser, who bypass RLS.
//! let config: tokio_postgres::Config = std::env::var("DATABASE_URL")?.parse()?;
//! let tenancy = Tenancy::with_convention(
//!     build_pool(config, tokio_postgres::NoTls, PoolOptions::default()),
//!     &Convention::default(),
//! );
//! let acme = TenantId::from_uuid("0190f0e6-8d8e-7b4c-9d0e-0a1b2c3d4e5f".parse()?);
//!
//! let insert = Query::new("insert into app.project (tenant_id, id, name) values ($1, $2, $3)")
//!     .bind(uuid::Uuid::now_v7(), Type::UUID)
//!     .bind("Launch".to_owned(), Type::TEXT);
//! tenancy.run(acme, insert).await?;
//!
//! let names = Query::new("select name from app.project where tenant_id = $1 order by name")
//!     .map(|rows| Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect::<Vec<_>>()));
//! let mut tx = tenancy.begin(acme).await?;
//! println!("{:?}", tx.run(names).await?);
//! tx.commit().await?;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

// The core is flat: every item has one path, `tenancy::Item`. The optional parts are modules
// of their own (`tenancy::audit`, `tenancy::embedded`, `tenancy::tls`), each item again
// reachable one way.
#[cfg(feature = "audit")]
pub mod audit;
mod backoff;
mod connect;
mod convention;
#[cfg(all(unix, feature = "embedded"))]
pub mod embedded;
mod error;
mod id;
mod pool;
mod resolve;
mod statement_cache;
#[cfg(feature = "rustls")]
pub mod tls;
mod tx;

pub use connect::connect;
pub use convention::{Convention, ConventionBuilder, ConventionError};
pub use error::{DbError, DbErrorKind};
pub use id::{Slug, SlugError, TenantId, TenantRef};
pub use pool::{
    build_pool, CheckoutStats, ConnectionManager, PgConnection, PgPool, PoolOptions, StatementMode,
};
pub use resolve::{tenant_from_header, tenant_from_host, ResolveError};
pub use tx::{set_query_observer, PairResult, Query, SentParam, SentQuery, Tenancy, TenantTx};
