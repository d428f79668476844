//! The tenant schema convention: every name the crate needs from a schema, in one value.
//!
//! The database side of tenancy is a handful of names agreed between the schema and the code:
//! the statement that enters a tenant, the transaction-local setting it sets, the column that
//! makes a table a tenant table, the schemas that hold tenant tables, and the role requests
//! run as. A [`Convention`] holds them all, checked once when it is built, and the pieces that
//! need them take it: [`Tenancy::with_convention`] (the enter statement), the isolation audit
//! (`audit::run_for`, with the `audit` feature) and checkout verification
//! ([`Convention::tenant_setting`] for [`PoolOptions::verify_on_checkout`]).
//!
//! [`PoolOptions::verify_on_checkout`]: crate::PoolOptions::verify_on_checkout

use std::fmt;

use crate::pool::PgPool;
use crate::tx::Tenancy;

/// The names a tenant schema uses, as the code must know them.
///
/// The default is the convention of the crate's template schema (`sql/schema.sql`):
///
/// ```
/// use tenancy::Convention;
///
/// let convention = Convention::default();
/// assert_eq!(convention.enter_statement(), "select app.enter_tenant($1)");
/// assert_eq!(convention.tenant_setting(), "app.current_tenant");
/// assert_eq!(convention.tenant_column(), "tenant_id");
/// assert_eq!(convention.schemas(), ["app"]);
/// assert_eq!(convention.runtime_role(), "app_user");
/// ```
///
/// A schema of your own names its own:
///
/// ```
/// use tenancy::Convention;
///
/// let convention = Convention::builder()
///     .enter_statement("select billing.enter_tenant($1)")
///     .tenant_setting("billing.current_account")
///     .tenant_column("account_id")
///     .schema("billing")
///     .runtime_role("billing_api")
///     .build()?;
/// assert_eq!(convention.schemas(), ["billing"]);
/// # Ok::<(), tenancy::ConventionError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Convention {
    enter_statement: &'static str,
    tenant_setting: &'static str,
    tenant_column: String,
    schemas: Vec<String>,
    runtime_role: String,
    definer_allow_list: Vec<String>,
}

impl Default for Convention {
    fn default() -> Self {
        Self {
            enter_statement: "select app.enter_tenant($1)",
            tenant_setting: "app.current_tenant",
            tenant_column: "tenant_id".into(),
            schemas: vec!["app".into()],
            runtime_role: "app_user".into(),
            definer_allow_list: Vec::new(),
        }
    }
}

impl Convention {
    /// Starts from the template schema's names ([`Convention::default`]); change the ones your
    /// schema spells differently.
    pub fn builder() -> ConventionBuilder {
        ConventionBuilder {
            convention: Self::default(),
            schemas_named: false,
        }
    }

    /// The statement that sets the tenant for the current transaction only, taking the
    /// tenant's UUID as `$1`.
    pub fn enter_statement(&self) -> &'static str {
        self.enter_statement
    }

    /// The transaction-local setting that names the current tenant, which every tenant
    /// table's policy compares its tenant column with.
    pub fn tenant_setting(&self) -> &'static str {
        self.tenant_setting
    }

    /// The column that makes a table a tenant table.
    pub fn tenant_column(&self) -> &str {
        &self.tenant_column
    }

    /// The schemas that hold tenant tables; the audit reports a schema holding none.
    pub fn schemas(&self) -> &[String] {
        &self.schemas
    }

    /// The role requests run as: the one that must not be able to bypass isolation.
    pub fn runtime_role(&self) -> &str {
        &self.runtime_role
    }

    /// SECURITY DEFINER functions the runtime role may execute, as `schema.name(arg types)`.
    pub fn definer_allow_list(&self) -> &[String] {
        &self.definer_allow_list
    }
}

/// Builds a [`Convention`]; [`ConventionBuilder::build`] checks the names fit together.
#[derive(Clone, Debug)]
pub struct ConventionBuilder {
    convention: Convention,
    /// Whether [`ConventionBuilder::schema`] was called: the first call replaces the default.
    schemas_named: bool,
}

impl ConventionBuilder {
    /// The statement that enters a tenant, with the tenant's UUID as `$1` and no other
    /// parameter, such as `select app.enter_tenant($1)`. It is prepared once per connection.
    pub fn enter_statement(mut self, sql: &'static str) -> Self {
        self.convention.enter_statement = sql;
        self
    }

    /// The setting the enter statement sets with `SET LOCAL`, such as `app.current_tenant`
    /// (custom settings need a prefix and a dot).
    pub fn tenant_setting(mut self, name: &'static str) -> Self {
        self.convention.tenant_setting = name;
        self
    }

    /// The tenant column of every tenant table (default `tenant_id`).
    pub fn tenant_column(mut self, name: impl Into<String>) -> Self {
        self.convention.tenant_column = name.into();
        self
    }

    /// A schema holding tenant tables. The first call replaces the default `app`; later calls
    /// add schemas.
    pub fn schema(mut self, name: impl Into<String>) -> Self {
        if !self.schemas_named {
            self.convention.schemas.clear();
            self.schemas_named = true;
        }
        self.convention.schemas.push(name.into());
        self
    }

    /// The role requests run as (default `app_user`).
    pub fn runtime_role(mut self, name: impl Into<String>) -> Self {
        self.convention.runtime_role = name.into();
        self
    }

    /// Allows the runtime role to execute one reviewed SECURITY DEFINER function, named as
    /// `schema.name(arg types)` (for example `app.lookup_account(text)`).
    pub fn allow_security_definer(mut self, function: impl Into<String>) -> Self {
        self.convention.definer_allow_list.push(function.into());
        self
    }

    /// Checks the names and returns the convention.
    pub fn build(self) -> Result<Convention, ConventionError> {
        let c = &self.convention;
        if !c.enter_statement.contains("$1") || c.enter_statement.contains("$2") {
            return Err(ConventionError::EnterStatementParameters);
        }
        let setting_parts: Vec<&str> = c.tenant_setting.split('.').collect();
        let is_word = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if setting_parts.len() != 2 || !setting_parts.iter().all(|p| is_word(p)) {
            return Err(ConventionError::TenantSetting);
        }
        if c.tenant_column.is_empty() {
            return Err(ConventionError::Empty("tenant column"));
        }
        if c.schemas.is_empty() || c.schemas.iter().any(String::is_empty) {
            return Err(ConventionError::Empty("schema"));
        }
        if c.runtime_role.is_empty() {
            return Err(ConventionError::Empty("runtime role"));
        }
        Ok(self.convention)
    }
}

/// Why a [`ConventionBuilder`] refused its names.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConventionError {
    /// The enter statement must take the tenant id as `$1` and nothing else.
    #[error("the enter statement must take the tenant id as $1 and no other parameter")]
    EnterStatementParameters,
    /// Custom settings are `prefix.name`, lower case.
    #[error("the tenant setting must look like prefix.name (lower case letters, digits, '_')")]
    TenantSetting,
    /// A name was empty.
    #[error("the {0} must not be empty")]
    Empty(&'static str),
}

impl Tenancy {
    /// Tenant transactions on `pool` (runtime-role connections), entering tenants with the
    /// convention's enter statement.
    ///
    /// ```no_run
    /// use tenancy::{build_pool, Convention, PoolOptions, Tenancy};
    ///
    /// let convention = Convention::default();
    /// let config: tokio_postgres::Config = "postgresql://app_user@localhost/app".parse()?;
    /// let tenancy = Tenancy::with_convention(build_pool(config, tokio_postgres::NoTls, PoolOptions::default()), &convention);
    /// # Ok::<(), tokio_postgres::Error>(())
    /// ```
    pub fn with_convention(pool: PgPool, convention: &Convention) -> Self {
        Self::new(pool, convention.enter_statement)
    }
}

impl fmt::Display for Convention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` sets {}; tenant tables in {} carry {}; requests run as {}",
            self.enter_statement,
            self.tenant_setting,
            self.schemas.join(", "),
            self.tenant_column,
            self.runtime_role
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_convention_refuses_names_that_cannot_work() {
        let refused = |builder: ConventionBuilder| builder.build().err();
        assert_eq!(
            refused(Convention::builder().enter_statement("select app.enter_tenant()")),
            Some(ConventionError::EnterStatementParameters)
        );
        assert_eq!(
            refused(Convention::builder().enter_statement("select f($1, $2)")),
            Some(ConventionError::EnterStatementParameters)
        );
        for setting in [
            "current_tenant",
            "app.",
            "App.tenant",
            "a.b.c",
            "app.ten ant",
        ] {
            assert_eq!(
                refused(Convention::builder().tenant_setting(setting)),
                Some(ConventionError::TenantSetting),
                "{setting}"
            );
        }
        assert_eq!(
            refused(Convention::builder().runtime_role("")),
            Some(ConventionError::Empty("runtime role"))
        );
        assert_eq!(
            refused(Convention::builder().schema("")),
            Some(ConventionError::Empty("schema"))
        );
    }

    #[test]
    fn the_first_schema_named_replaces_the_default_and_later_ones_add() {
        let convention = Convention::builder()
            .schema("billing")
            .schema("reporting")
            .build()
            .expect("valid");
        assert_eq!(convention.schemas(), ["billing", "reporting"]);
        assert_eq!(Convention::builder().build(), Ok(Convention::default()));
    }
}
