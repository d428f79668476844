//! The isolation audit: reads a live database's catalogue and reports every setting that would
//! let one tenant reach another's rows. It changes nothing.
//!
//! Row Level Security keeps its promise only when roles, tables, keys, policies, views,
//! functions and grants are all right, so each of those gets a check (`role`, `tables`,
//! `objects`); on a Citus coordinator, so do the distribution and every shard placement
//! (`citus`, `placements`). Each problem becomes one [`Finding`] naming the object and the
//! fix. The report also counts what it inspected, so an audit that silently checked nothing
//! can be told apart from a clean one.

mod citus;
mod convention;
mod objects;
mod placements;
mod role;
mod tables;

use std::fmt;

use tokio_postgres::Client;

pub use convention::run_for;
pub use objects::{minimum_version_for, version_finding};

/// What to audit: the product's conventions, which this crate does not know by itself.
#[derive(Clone, Debug)]
pub struct AuditTarget {
    /// The schema that must hold tenant tables (an audit finding none there reports it).
    pub schema: String,
    /// The role requests run as: the one that must not be able to bypass isolation.
    pub runtime_role: String,
    /// The transaction-local setting naming the current tenant (e.g. `app.current_tenant`).
    pub tenant_setting: String,
    /// The column that makes a table a tenant table.
    pub tenant_column: String,
    /// SECURITY DEFINER functions the runtime role may execute, as `schema.name(arg types)`.
    pub definer_allow_list: Vec<String>,
    /// Tables every node needs whole, such as the tenant directory (`schema.table`): on Citus
    /// they must be reference tables.
    pub directory_tables: Vec<String>,
    /// The function that enters a tenant, as `schema.name(arg types)`: on Citus it must use
    /// `SET LOCAL` (the only form Citus forwards to the workers).
    pub enter_function: String,
}

/// One kind of misconfiguration. [`FindingKind::as_str`] is its stable name in the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FindingKind {
    /// The runtime role is a superuser, which ignores every policy.
    RuntimeRoleSuperuser,
    /// The runtime role has `BYPASSRLS`, which ignores every policy.
    RuntimeRoleBypassesRls,
    /// The runtime role owns a tenant table (or is a member of its owner), and owners can
    /// switch RLS off.
    RuntimeRoleOwnsTenantTable,
    /// The runtime role may create objects in a schema (a view or function to route around
    /// the policies).
    RuntimeRoleCanCreate,
    /// The runtime role may create temporary tables, which outlive a transaction on a pooled
    /// connection.
    RuntimeRoleCanUseTemp,
    /// A tenant table has row level security disabled.
    RlsNotEnabled,
    /// A tenant table's row level security is not forced, so its owner bypasses it.
    RlsNotForced,
    /// A tenant table has no policy.
    TenantPolicyMissing,
    /// No policy of a tenant table is the one accepted shape (permissive, all commands,
    /// `USING` and `WITH CHECK` comparing the tenant column with the current tenant).
    TenantPolicyWrong,
    /// A tenant table has a second policy: permissive ones widen access, restrictive ones
    /// become permissive on Citus.
    ExtraPolicy,
    /// A unique key does not start with the tenant column, so it is global across tenants.
    KeyWithoutTenant,
    /// A foreign key between tenant tables does not include the tenant column.
    ForeignKeyWithoutTenant,
    /// A tenant table column takes values from a sequence shared by all tenants.
    SequenceColumn,
    /// A view readable by the runtime role runs as its owner (or is materialized).
    ViewNotSecurityInvoker,
    /// A SECURITY DEFINER function the runtime role may execute is not on the allow-list or
    /// has no pinned `search_path`.
    SecurityDefinerFunction,
    /// The runtime role has `TRUNCATE`, `REFERENCES` or `TRIGGER` on a table.
    DangerousGrant,
    /// The tenant setting has a stored default, so a session starts with a tenant set.
    TenantSettingDefault,
    /// The server lacks the security fixes for known RLS bypasses.
    ServerTooOld,
    /// A schema expected to hold tenant tables holds none: nothing was checked there.
    NoTenantTables,
    /// Citus: a tenant table stays on the coordinator (a plain or a Citus local table).
    TenantTableNotDistributed,
    /// Citus: a tenant table is a reference table, copied whole to every node.
    TenantTableIsReference,
    /// Citus: a tenant table is distributed by another column, or not by hash.
    TenantTableWrongDistribution,
    /// Citus: a tenant table is not co-located with the other tenant tables.
    TenantTableNotColocated,
    /// Citus: a table every node needs whole (the tenant directory) is not a reference table.
    DirectoryNotReference,
    /// Citus: the runtime login does not forward `SET LOCAL` to the workers.
    SetPropagationOff,
    /// Citus: the enter function does not use `SET LOCAL` (Citus drops `set_config`).
    EnterTenantNotSetLocal,
    /// Citus: shard placements of a tenant table have row level security disabled.
    ShardRlsNotEnabled,
    /// Citus: shard placements of a tenant table do not force row level security.
    ShardRlsNotForced,
    /// Citus: shard placements of a tenant table lack the one accepted policy.
    ShardPolicyWrong,
    /// Citus: shard placements of a tenant table have a second policy.
    ShardExtraPolicy,
}

impl FindingKind {
    /// The kind's stable name, such as `rls_not_forced`: the first word of a finding's line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RuntimeRoleSuperuser => "runtime_role_superuser",
            Self::RuntimeRoleBypassesRls => "runtime_role_bypassrls",
            Self::RuntimeRoleOwnsTenantTable => "runtime_role_owns_tenant_table",
            Self::RuntimeRoleCanCreate => "runtime_role_can_create",
            Self::RuntimeRoleCanUseTemp => "runtime_role_can_use_temp",
            Self::RlsNotEnabled => "rls_not_enabled",
            Self::RlsNotForced => "rls_not_forced",
            Self::TenantPolicyMissing => "tenant_policy_missing",
            Self::TenantPolicyWrong => "tenant_policy_wrong",
            Self::ExtraPolicy => "extra_policy",
            Self::KeyWithoutTenant => "key_without_tenant",
            Self::ForeignKeyWithoutTenant => "foreign_key_without_tenant",
            Self::SequenceColumn => "sequence_column",
            Self::ViewNotSecurityInvoker => "view_not_security_invoker",
            Self::SecurityDefinerFunction => "security_definer_function",
            Self::DangerousGrant => "dangerous_grant",
            Self::TenantSettingDefault => "tenant_setting_default",
            Self::ServerTooOld => "server_too_old",
            Self::NoTenantTables => "no_tenant_tables",
            Self::TenantTableNotDistributed => "tenant_table_not_distributed",
            Self::TenantTableIsReference => "tenant_table_is_reference",
            Self::TenantTableWrongDistribution => "tenant_table_wrong_distribution",
            Self::TenantTableNotColocated => "tenant_table_not_colocated",
            Self::DirectoryNotReference => "directory_not_reference",
            Self::SetPropagationOff => "set_propagation_off",
            Self::EnterTenantNotSetLocal => "enter_tenant_not_set_local",
            Self::ShardRlsNotEnabled => "shard_rls_not_enabled",
            Self::ShardRlsNotForced => "shard_rls_not_forced",
            Self::ShardPolicyWrong => "shard_policy_wrong",
            Self::ShardExtraPolicy => "shard_extra_policy",
        }
    }
}

/// One problem: what is wrong, where, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What kind of problem it is.
    pub kind: FindingKind,
    /// The object at fault, such as `table app.task` or `role app_user`.
    pub object: String,
    /// What is wrong with it, in a sentence.
    pub problem: String,
    /// The SQL (or the step) that fixes it.
    pub fix: String,
}

impl Finding {
    pub(crate) fn new(
        kind: FindingKind,
        object: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            object: object.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}; fix: {}",
            self.kind.as_str(),
            self.object,
            self.problem,
            self.fix
        )
    }
}

/// How much the audit looked at: a clean report over nothing proves nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspected {
    /// Tenant tables found, as `schema.table`.
    pub tenant_tables: Vec<String>,
    /// Policies on those tables.
    pub policies: usize,
    /// Unique indexes on those tables.
    pub unique_keys: usize,
    /// Foreign keys between those tables.
    pub foreign_keys: usize,
    /// User schemas checked for `CREATE`.
    pub schemas: usize,
    /// Views and materialized views the runtime role may read.
    pub views: usize,
    /// SECURITY DEFINER functions the runtime role may execute.
    pub definer_functions: usize,
    /// Tables checked for dangerous grants.
    pub tables_checked_for_grants: usize,
    /// `server_version_num`, e.g. 150018.
    pub server_version: u32,
    /// The Citus extension's version, when the database is a Citus coordinator.
    pub citus_version: Option<String>,
    /// Shard placements whose RLS and policies were read on their worker.
    pub shard_placements: usize,
}

/// The audit's result.
#[derive(Clone, Debug, Default)]
pub struct AuditReport {
    /// Every problem found, in the order the checks ran.
    pub findings: Vec<Finding>,
    /// What the checks looked at.
    pub inspected: Inspected,
}

impl AuditReport {
    /// Whether nothing was found. Check [`AuditReport::inspected`] too: an audit that found
    /// no tenant table reports [`FindingKind::NoTenantTables`] for its schema.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
    /// Whether a finding of `kind` was made.
    pub fn has(&self, kind: FindingKind) -> bool {
        self.findings.iter().any(|f| f.kind == kind)
    }
}

/// Why the audit could not finish (an operator problem, not a finding).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The runtime role named in the target does not exist.
    #[error("the runtime role '{0}' does not exist")]
    MissingRole(String),
    /// A catalogue query failed (no connection, no permission).
    #[error("cannot read the catalogue: {0}")]
    Catalogue(#[from] tokio_postgres::Error),
    /// `server_version_num` was not a number.
    #[error("unexpected server_version_num '{0}'")]
    Version(String),
    /// Citus: a shard placement could not be read on its worker.
    #[error("could not read {0} (is that worker up?)")]
    Placement(String),
}

/// Runs every check through `client` (any role that can read the catalogue; an administrator's
/// connection in practice). Read-only.
pub async fn run(client: &Client, target: &AuditTarget) -> Result<AuditReport, AuditError> {
    let mut report = AuditReport::default();
    role::check(client, target, &mut report).await?;
    let tenant_tables = tables::check(client, target, &mut report).await?;
    role::check_ownership(client, target, &tenant_tables, &mut report).await?;
    citus::check(client, target, &tenant_tables, &mut report).await?;
    objects::check(client, target, &mut report).await?;
    require_tenant_tables(&mut report, &target.schema, &target.tenant_column);
    Ok(report)
}

/// Reports `schema` when no tenant table was found in it: an audit of nothing is no proof.
fn require_tenant_tables(report: &mut AuditReport, schema: &str, tenant_column: &str) {
    if !report
        .inspected
        .tenant_tables
        .iter()
        .any(|t| t.starts_with(&format!("{}.", quote_ident(schema))))
    {
        report.findings.push(Finding::new(
            FindingKind::NoTenantTables,
            format!("schema {schema}"),
            format!("no table with a {tenant_column} column was found, so nothing was checked"),
            "point the audit at the migrated database (run migrations first)",
        ));
    }
}

/// Quotes an identifier the way `quote_ident` does for the plain names used here.
pub(crate) fn quote_ident(name: &str) -> String {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Schemas the audit looks in: every one but the server's own.
pub(crate) const USER_SCHEMA: &str =
    "n.nspname <> 'information_schema' and n.nspname !~ '^pg_(catalog|toast|temp_|toast_temp_)'";
