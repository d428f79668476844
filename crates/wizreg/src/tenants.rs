//! Tenant lifecycle: the platform role's work. This module (and only it) holds platform
//! connections; it never reads or writes school data.

use tenancy::{DbError, Slug, TenantId};
use tokio_postgres::Client;

use crate::registry::{TenantRecord, TENANT_COLUMNS};

/// Creates a tenant: one insert, no DDL, so it is as cheap with 10,000 schools as with 10.
pub async fn create(platform: &Client, slug: &Slug, name: &str) -> Result<TenantRecord, DbError> {
    let sql = format!(
        "insert into wizreg.tenant (id, slug, name) values ($1, $2, $3) returning {TENANT_COLUMNS}"
    );
    let id = TenantId::new_v7().as_uuid();
    let row = platform
        .query_one(&sql, &[&id, &slug.as_str(), &name])
        .await?;
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
