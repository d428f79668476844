//! The `api_key` table's queries. Each runs inside the owning tenant's transaction (`$1` is the
//! tenant id), so key management and verification never read across tenants.

use serde::Serialize;
use tenancy::{DbError, Query, Tenancy, TenantId};
use time::OffsetDateTime;
use tokio_postgres::types::Type;
use tokio_postgres::Row;
use utoipa::ToSchema;
use uuid::Uuid;

macro_rules! revocation_channel {
    () => {
        "wizreg_api_key"
    };
}

/// The channel a revocation is announced on (payload: `<tenant uuid> <key uuid>`), so every
/// process drops the key from its verification cache at once.
pub const REVOCATION_CHANNEL: &str = revocation_channel!();

/// An API key as it is listed: everything but the secret, which is never stored.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq)]
pub struct ApiKeySummary {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The key's last four characters, to tell keys apart.
    #[schema(example = "3f9a")]
    pub last_chars: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<OffsetDateTime>,
}

macro_rules! columns {
    () => {
        "id, tenant_id, last_chars, created_at, revoked_at"
    };
}

impl ApiKeySummary {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get(0),
            tenant_id: row.get(1),
            last_chars: row.get(2),
            created_at: row.get(3),
            revoked_at: row.get(4),
        }
    }
}

/// Stores a new key's hash.
pub fn insert(id: Uuid, hash: [u8; 32], last_chars: String) -> Query<ApiKeySummary> {
    Query::new(concat!(
        "insert into wizreg.api_key (tenant_id, id, hash, last_chars) values ($1, $2, $3, $4) returning ",
        columns!()
    ))
    .bind(id, Type::UUID)
    .bind(hash.to_vec(), Type::BYTEA)
    .bind(last_chars, Type::TEXT)
    .map(|rows| {
        rows.first()
            .map(ApiKeySummary::from_row)
            .ok_or_else(|| DbError::of_kind(tenancy::DbErrorKind::Other))
    })
}

/// The tenant's keys, revoked ones included, oldest first.
pub fn list() -> Query<Vec<ApiKeySummary>> {
    Query::new(concat!(
        "select ",
        columns!(),
        " from wizreg.api_key where tenant_id = $1 order by id"
    ))
    .map(|rows| Ok(rows.iter().map(ApiKeySummary::from_row).collect()))
}

/// The stored hash of a key that is still valid, if any.
pub fn valid_hash(id: Uuid) -> Query<Option<Vec<u8>>> {
    Query::new(
        "select hash from wizreg.api_key where tenant_id = $1 and id = $2 and revoked_at is null",
    )
    .bind(id, Type::UUID)
    .map(|rows| Ok(rows.first().map(|row| row.get(0))))
}

/// Revokes a key of `tenant` (keeping the first revocation time) and announces it on
/// [`REVOCATION_CHANNEL`] when the transaction commits; whether the key exists. One round trip
/// for both statements, one for `COMMIT`.
///
/// The announcement is a statement of its own, touching no table: on Citus a statement on the
/// key table runs on the worker holding the school's shard, where no server listens, while
/// this one runs on the coordinator.
pub async fn revoke(tenancy: &Tenancy, tenant: TenantId, id: Uuid) -> Result<bool, DbError> {
    let mut tx = tenancy.begin(tenant).await?;
    let (found, announced) = tx
        .run_pair(mark_revoked(id), announce_revocation(id))
        .await?;
    let found = found?;
    announced?;
    if found {
        tx.commit().await?;
    } else {
        // Nothing to announce: a missing key's notice would only empty caches.
        tx.rollback().await?;
    }
    Ok(found)
}

fn mark_revoked(id: Uuid) -> Query<bool> {
    Query::new(
        // least() keeps the first revocation time like coalesce(revoked_at, now()) would;
        // Citus refuses a non-immutable function inside COALESCE or CASE in a modification.
        "update wizreg.api_key set revoked_at = least(revoked_at, now())
         where tenant_id = $1 and id = $2 returning id",
    )
    .bind(id, Type::UUID)
    .map(|rows| Ok(!rows.is_empty()))
}

fn announce_revocation(id: Uuid) -> Query<()> {
    Query::new(concat!(
        "select pg_notify('",
        revocation_channel!(),
        "', $1::text || ' ' || $2::text)"
    ))
    .bind(id, Type::UUID)
    .map(|_| Ok(()))
}
