//! Tenant lifecycle: the platform role's work. This module (and only it) holds platform
//! connections; it never reads or writes school data.
//!
//! Every change is announced on [`CHANNEL`] by a statement of its own, sent from this
//! connection after the change, so every server forgets the school at once. On one PostgreSQL
//! the tenant table's trigger announces it as well (in the change's own transaction); on Citus
//! that trigger cannot exist (it would fire on the workers, where no one listens), and a
//! statement with no table in it runs on the coordinator, where the servers listen.

use tenancy::{DbError, Slug, TenantId, TenantRef};
use tokio_postgres::{Client, GenericClient};

use crate::domain::violation::{Constraints, Violation};
use crate::registry::{TenantRecord, TenantStatus, TENANT_COLUMNS};
use crate::tenant_events::CHANNEL;

/// Tells every server that tenant `id` changed (delivered when this connection's transaction
/// commits: at once outside a transaction).
async fn announce(platform: &impl GenericClient, id: TenantId) -> Result<(), DbError> {
    platform
        .execute(
            "select pg_notify($1, $2)",
            &[&CHANNEL, &id.as_uuid().to_string()],
        )
        .await?;
    Ok(())
}

/// Creates a tenant: one insert, no DDL, so it is as cheap with 10,000 schools as with 10.
pub async fn create(platform: &Client, slug: &Slug, name: &str) -> Result<TenantRecord, DbError> {
    create_with_id(platform, TenantId::new_v7(), slug, name).await
}

/// Creates a tenant with a given id: a school moved from another deployment keeps its
/// identity (which credentials such as JWT tenant claims name). A taken id is a unique
/// violation, like a taken slug.
pub async fn create_with_id(
    platform: &Client,
    id: TenantId,
    slug: &Slug,
    name: &str,
) -> Result<TenantRecord, DbError> {
    let sql = format!(
        "insert into wizreg.tenant (id, slug, name) values ($1, $2, $3) returning {TENANT_COLUMNS}"
    );
    let row = platform
        .query_one(&sql, &[&id.as_uuid(), &slug.as_str(), &name])
        .await?;
    announce(platform, id).await?;
    TenantRecord::from_row(&row)
}

/// Every tenant, oldest first.
pub async fn list(platform: &Client) -> Result<Vec<TenantRecord>, DbError> {
    let sql = format!("select {TENANT_COLUMNS} from wizreg.tenant order by id");
    platform
        .query(&sql, &[])
        .await?
        .iter()
        .map(TenantRecord::from_row)
        .collect()
}

/// The demo schools of the classic walk-through, created on a first start with no tenants.
pub async fn seed_demo_if_empty(platform: &Client) -> Result<bool, DbError> {
    if !list(platform).await?.is_empty() {
        return Ok(false);
    }
    for (slug, name) in [
        ("hogwarts", "Hogwarts School of Witchcraft and Wizardry"),
        ("castelobruxo", "Castelobruxo"),
    ] {
        let slug = Slug::parse(slug).expect("demo slugs are valid");
        create(platform, &slug, name).await?;
    }
    Ok(true)
}

/// The tenant a reference names.
pub async fn find(
    platform: &impl GenericClient,
    reference: &TenantRef,
) -> Result<Option<TenantRecord>, DbError> {
    let row = match reference {
        TenantRef::Id(id) => {
            let sql = format!("select {TENANT_COLUMNS} from wizreg.tenant where id = $1");
            platform.query_opt(&sql, &[&id.as_uuid()]).await?
        }
        TenantRef::Slug(slug) => {
            let sql = format!("select {TENANT_COLUMNS} from wizreg.tenant where slug = $1");
            platform.query_opt(&sql, &[&slug.as_str()]).await?
        }
    };
    row.as_ref().map(TenantRecord::from_row).transpose()
}

/// Changes a tenant's status and/or name; `None` if there is no such tenant, or if it would
/// resume a half-deleted one (see [`is_offboarding`]).
pub async fn update(
    platform: &impl GenericClient,
    id: TenantId,
    status: Option<TenantStatus>,
    name: Option<&str>,
) -> Result<Option<TenantRecord>, DbError> {
    let sql = format!(
        "update wizreg.tenant set status = coalesce($2, status), name = coalesce($3, name), updated_at = now()
         where id = $1 and ($2 is distinct from 'active' or offboarding_since is null)
         returning {TENANT_COLUMNS}"
    );
    let status = status.map(TenantStatus::as_str);
    let row = platform
        .query_opt(&sql, &[&id.as_uuid(), &status, &name])
        .await?;
    if row.is_some() {
        announce(platform, id).await?;
    }
    row.as_ref().map(TenantRecord::from_row).transpose()
}

/// Sets (or with `None` clears) a tenant's own statement timeout, which `enter_tenant` applies
/// to that tenant's transactions only.
pub async fn set_statement_timeout(
    platform: &impl GenericClient,
    id: TenantId,
    timeout_ms: Option<i32>,
) -> Result<Option<TenantRecord>, DbError> {
    let sql = format!(
        "update wizreg.tenant set statement_timeout_ms = $2, updated_at = now()
         where id = $1 returning {TENANT_COLUMNS}"
    );
    let row = platform
        .query_opt(&sql, &[&id.as_uuid(), &timeout_ms])
        .await?;
    if row.is_some() {
        announce(platform, id).await?;
    }
    row.as_ref().map(TenantRecord::from_row).transpose()
}

/// First step of offboarding: suspends the tenant and marks it as being deleted (kept from an
/// earlier, interrupted attempt: `least` ignores a null, and Citus refuses `now()` inside
/// `coalesce` in a modification). `false` if there is no such tenant.
pub async fn start_offboarding(platform: &Client, id: TenantId) -> Result<bool, DbError> {
    let changed = platform
        .execute(
            "update wizreg.tenant set status = 'suspended',
               offboarding_since = least(offboarding_since, now()), updated_at = now()
             where id = $1",
            &[&id.as_uuid()],
        )
        .await?;
    if changed == 1 {
        announce(platform, id).await?;
    }
    Ok(changed == 1)
}

/// Whether the tenant is half-deleted (offboarding started and not finished).
pub async fn is_offboarding(platform: &impl GenericClient, id: TenantId) -> Result<bool, DbError> {
    let row = platform
        .query_opt(
            "select offboarding_since is not null from wizreg.tenant where id = $1",
            &[&id.as_uuid()],
        )
        .await?;
    Ok(row.is_some_and(|r| r.get(0)))
}

/// Last step of offboarding: deletes the tenant row (its foreign keys cascade to anything the
/// batches left). Only a tenant already marked by [`start_offboarding`] is deleted.
pub async fn delete_row(platform: &Client, id: TenantId) -> Result<bool, DbError> {
    let deleted = platform
        .execute(
            "delete from wizreg.tenant where id = $1 and offboarding_since is not null",
            &[&id.as_uuid()],
        )
        .await?;
    if deleted == 1 {
        announce(platform, id).await?;
    }
    Ok(deleted == 1)
}

/// What the tenant table's constraints mean to a client.
pub const CONSTRAINTS: Constraints = &[(
    "tenant_slug_key",
    Violation::Conflict("a school with this slug exists"),
)];
