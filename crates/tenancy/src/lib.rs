//! Row-Level-Security tenancy for PostgreSQL, independent of any product.
//!
//! The crate owns everything that decides *which tenant is speaking* and makes sure the
//! database hears it:
//!
//! - [`TenantId`], [`Slug`] and [`TenantRef`]: validated identities ([`id`]);
//! - [`resolve`]: turning request headers into a [`TenantRef`], with no I/O;
//! - [`pool`]: connection pooling that never hands out a connection inside a transaction,
//!   over any `tokio-postgres` TLS connector ([`connect`] opens a single connection the same way);
//! - `tls` (feature `rustls`, on by default): a rustls connector configured from libpq's
//!   `sslmode`, `sslrootcert`, `sslcert` and `sslkey`;
//! - [`tx`]: the tenant transaction, the only door to tenant data;
//! - [`embedded`]: a private PostgreSQL cluster for development and tests;
//! - [`audit`]: a read-only check of the catalogue for anything that would void isolation.
//!
//! The schema conventions it relies on are small: a SQL function `enter_tenant(uuid)` that runs
//! `SET LOCAL <setting> = …`, and tenant tables whose one RLS policy compares `tenant_id` with
//! that setting.

pub mod audit;
mod backoff;
mod connect;
pub mod embedded;
pub mod error;
pub mod id;
pub mod pool;
pub mod resolve;
#[cfg(feature = "rustls")]
pub mod tls;
pub mod tx;

pub use connect::connect;
pub use error::{DbError, DbErrorKind};
pub use id::{Slug, SlugError, TenantId, TenantRef};
pub use pool::{ConnectionManager, PgPool, PoolOptions, StatementMode};
pub use tx::{Query, Tenancy, TenantTx};
