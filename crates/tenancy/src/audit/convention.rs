//! Auditing a database against a [`Convention`]: the same checks as [`run`], for every schema
//! the convention names.

use tokio_postgres::Client;

use super::{require_tenant_tables, run, AuditError, AuditReport, AuditTarget};
use crate::convention::Convention;

impl From<&Convention> for AuditTarget {
    /// The target for the convention's first schema; [`run_for`] checks the others too.
    fn from(convention: &Convention) -> Self {
        AuditTarget {
            schema: convention.schemas()[0].clone(),
            runtime_role: convention.runtime_role().to_owned(),
            tenant_setting: convention.tenant_setting().to_owned(),
            tenant_column: convention.tenant_column().to_owned(),
            definer_allow_list: convention.definer_allow_list().to_vec(),
            // A convention names no tenant directory for Citus's reference-table check.
            directory_tables: Vec::new(),
            enter_function: enter_function_of(convention.enter_statement()),
        }
    }
}

/// The function an enter statement calls, as `schema.name(uuid)`
/// (`select app.enter_tenant($1)` → `app.enter_tenant(uuid)`); empty if it calls none.
fn enter_function_of(statement: &str) -> String {
    statement
        .trim()
        .strip_prefix("select ")
        .and_then(|call| call.split_once('('))
        .map(|(name, _)| format!("{}(uuid)", name.trim()))
        .unwrap_or_default()
}

/// Runs every check for `convention` through `client` (any role that can read the catalogue;
/// an administrator's connection in practice), and reports each of its schemas that holds no
/// tenant table. Read-only.
///
/// ```no_run
/// # async fn example(admin: tokio_postgres::Client) -> Result<(), tenancy::audit::AuditError> {
/// let report = tenancy::audit::run_for(&admin, &tenancy::Convention::default()).await?;
/// for finding in &report.findings {
///     eprintln!("{finding}");
/// }
/// assert!(report.is_clean(), "the database does not isolate tenants");
/// # Ok(()) }
/// ```
pub async fn run_for(client: &Client, convention: &Convention) -> Result<AuditReport, AuditError> {
    let mut report = run(client, &AuditTarget::from(convention)).await?;
    for schema in &convention.schemas()[1..] {
        require_tenant_tables(&mut report, schema, convention.tenant_column());
    }
    Ok(report)
}
