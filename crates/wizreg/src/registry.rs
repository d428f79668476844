//! The tenant directory as the request path sees it: slug or id → tenant record, cached so a
//! hit costs no database round trip. A cached answer whose lookup began before a change to its
//! school was heard of is never served ([`crate::cache_epochs`]).

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use moka::Expiry;
use serde::Serialize;
use tenancy::{DbError, Slug, Tenancy, TenantId, TenantRef};
use time::OffsetDateTime;
use tokio_postgres::types::Type;
use tokio_postgres::Row;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::cache_epochs::Epochs;

/// Whether a tenant's requests are served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

/// A school, as the platform knows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TenantRecord {
    #[schema(value_type = Uuid)]
    pub id: TenantId,
    #[schema(value_type = String, example = "hogwarts")]
    pub slug: Slug,
    pub name: String,
    pub status: TenantStatus,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    /// This school's statement timeout in milliseconds; null: the deployment's default.
    pub statement_timeout_ms: Option<i32>,
}

/// Columns for [`TenantRecord::from_row`], in order.
pub const TENANT_COLUMNS: &str = "id, slug, name, status, created_at, statement_timeout_ms";

impl TenantRecord {
    pub fn from_row(row: &Row) -> Result<Self, DbError> {
        let slug: String = row.get(1);
        let status: String = row.get(3);
        Ok(Self {
            id: TenantId::from_uuid(row.get::<_, Uuid>(0)),
            slug: Slug::parse(&slug)
                .map_err(|_| DbError::of_kind(tenancy::DbErrorKind::InvalidData))?,
            name: row.get(2),
            // An unknown status is refused rather than served as active: fail closed.
            status: match status.as_str() {
                "active" => TenantStatus::Active,
                "suspended" => TenantStatus::Suspended,
                _ => return Err(DbError::of_kind(tenancy::DbErrorKind::InvalidData)),
            },
            created_at: row.get(4),
            // By name, and absent from queries that do not select it (the request path's
            // lookup needs only identity and status).
            statement_timeout_ms: row.try_get("statement_timeout_ms").unwrap_or(None),
        })
    }
}

/// Cached tenant lookups. Unknown references are cached too, so a flood of requests for a
/// missing school does not reach the database.
#[derive(Clone, Debug)]
pub struct Registry {
    tenancy: Tenancy,
    cache: Cache<TenantRef, Lookup>,
    epochs: Arc<Epochs<TenantId>>,
}

/// One lookup's answer, tagged with the change epoch read before its query.
#[derive(Clone, Debug)]
struct Lookup {
    epoch: u64,
    record: Option<Arc<TenantRecord>>,
}

/// Cached answers found stale in a row before the lookup skips the cache: changes to that
/// school landing faster than a query takes.
const STALE_RETRIES: usize = 4;

impl Registry {
    pub fn new(tenancy: Tenancy, ttl: Duration) -> Self {
        Self {
            tenancy,
            cache: Cache::builder()
                .max_capacity(100_000)
                .expire_after(JitteredTtl(ttl))
                .support_invalidation_closures()
                .build(),
            epochs: Arc::new(Epochs::new(ttl)),
        }
    }

    /// The tenant a reference names, if any. Never an answer older than a change to that
    /// school this process has heard of: a stale cached one (a lookup that raced the change,
    /// or joined one that did) is dropped and looked up again.
    ///
    /// A fresh cached answer (the common case) takes a small future; anything else goes
    /// through a boxed one. Unboxed, the database path's future (the pool checkout, the
    /// statement, the cache's loader) would make every request's future about 15 KB, copied
    /// each time it moves.
    pub async fn find(&self, reference: &TenantRef) -> Result<Option<Arc<TenantRecord>>, DbError> {
        if let Some(cached) = self.cache.get(reference).await {
            let about = cached.record.as_ref().map(|record| &record.id);
            if self.epochs.is_fresh(cached.epoch, about) {
                return Ok(cached.record);
            }
        }
        Box::pin(self.find_through_database(reference)).await
    }

    /// [`Registry::find`] past the cache's fast path.
    async fn find_through_database(
        &self,
        reference: &TenantRef,
    ) -> Result<Option<Arc<TenantRecord>>, DbError> {
        for _ in 0..STALE_RETRIES {
            let cached = self
                .cache
                .try_get_with(reference.clone(), self.load(reference))
                .await
                .map_err(Arc::unwrap_or_clone)?;
            let about = cached.record.as_ref().map(|record| &record.id);
            if self.epochs.is_fresh(cached.epoch, about) {
                return Ok(cached.record);
            }
            self.cache.invalidate(reference).await;
        }
        Ok(self.load(reference).await?.record)
    }

    /// Reads the directory, noting the change epoch first.
    async fn load(&self, reference: &TenantRef) -> Result<Lookup, DbError> {
        let epoch = self.epochs.current();
        let record = {
            let rows = match reference {
                TenantRef::Id(id) => {
                    let id = id.as_uuid();
                    self.tenancy
                        .run_outside_tenant(
                            "select id, slug, name, status, created_at from wizreg.tenant where id = $1",
                            &[(&id, Type::UUID)],
                        )
                        .await?
                }
                TenantRef::Slug(slug) => {
                    self.tenancy
                        .run_outside_tenant(
                            "select id, slug, name, status, created_at from wizreg.tenant where slug = $1",
                            &[(&slug.as_str(), Type::TEXT)],
                        )
                        .await?
                }
            };
            rows.first()
                .map(TenantRecord::from_row)
                .transpose()?
                .map(Arc::new)
        };
        Ok(Lookup { epoch, record })
    }

    /// Forgets everything, so the next lookup sees the database (after notifications may have
    /// been missed).
    pub fn invalidate_all(&self) {
        self.epochs.changed_all();
        self.cache.invalidate_all();
    }

    /// Forgets what is cached about tenant `id` (under its id and its slug), and every cached
    /// "no such tenant": a school just created may be cached as one, under a slug we cannot
    /// know from its id. Every other school keeps its entry, so a change to one school among
    /// thousands does not send all of them back to the database.
    pub fn forget(&self, id: TenantId) {
        self.epochs.changed(id);
        let forgotten = self.cache.invalidate_entries_if(move |_, cached| {
            cached.record.as_ref().is_none_or(|record| record.id == id)
        });
        if forgotten.is_err() {
            // Only if closures were not enabled at build time: fall back to the safe answer.
            self.cache.invalidate_all();
        }
    }
}

/// Each entry lives between half and all of the TTL, at random. Entries loaded together (a
/// restart, a cleared cache, a burst across thousands of schools) then expire spread out
/// instead of all in the same second, which would send every school's lookup to the database
/// at once.
struct JitteredTtl(Duration);

impl<K, V> Expiry<K, V> for JitteredTtl {
    fn expire_after_create(
        &self,
        _key: &K,
        _value: &V,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(self.0.mul_f64(rand::random_range(0.5..=1.0)))
    }
}
