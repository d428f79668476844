//! Wizreg's tenancy stack, built in one place: the schema convention its migrations create
//! (`wizreg.enter_tenant`, the `wizreg.current_tenant` setting, tenant tables in the `wizreg`
//! schema, the runtime role) and the runtime role's tenant transactions, for serving and for
//! commands. Everything that enters a tenant gets its `Tenancy` here.

use std::time::Duration;

use tenancy::{build_pool, Convention, PoolOptions, StatementMode, Tenancy};

use super::session::apply_session_settings;
use super::{Database, Role, RUNTIME_ROLE};
use crate::config::{Config, StatementModeArg};

/// The setting `wizreg.enter_tenant` sets for one transaction.
pub const TENANT_SETTING: &str = "wizreg.current_tenant";

/// SECURITY DEFINER functions the runtime role may call, as `schema.name(arg types)`. Each one
/// runs as its owner, outside RLS: add one only after reviewing that it cannot return or change
/// another tenant's rows, and give it `set search_path = pg_catalog, pg_temp`.
pub const DEFINER_ALLOW_LIST: &[&str] = &[];

/// Wizreg's schema convention, for requests served as `runtime_role`.
pub fn convention(runtime_role: &str) -> Convention {
    DEFINER_ALLOW_LIST
        .iter()
        .fold(
            Convention::builder()
                .enter_statement("select wizreg.enter_tenant($1)")
                .tenant_setting(TENANT_SETTING)
                .schema("wizreg")
                .runtime_role(runtime_role),
            |builder, function| builder.allow_security_definer(*function),
        )
        .build()
        .expect("Wizreg's own names fit the convention's rules")
}

/// How statements reach the server, as configured (`WIZREG_STATEMENT_MODE`).
pub fn statement_mode(config: &Config) -> StatementMode {
    match config.statement_mode {
        StatementModeArg::Prepared => StatementMode::Prepared,
        StatementModeArg::Unnamed => StatementMode::Unnamed,
    }
}

impl Database {
    /// The role requests run as: the `DATABASE_URL` user, or `wizreg_app` when embedded.
    pub fn runtime_role(&self) -> String {
        self.config(Role::App)
            .get_user()
            .unwrap_or(RUNTIME_ROLE)
            .to_owned()
    }

    /// Wizreg's convention for this database's runtime role.
    pub fn convention(&self) -> Convention {
        convention(&self.runtime_role())
    }

    /// Tenant transactions for serving: pool size, wait, statement mode and checkout
    /// verification as configured, and every session started with the configured timeouts
    /// (and generic plans when `generic_plans`: one PostgreSQL, not Citus).
    pub fn serving_tenancy(&self, config: &Config, generic_plans: bool) -> Tenancy {
        let options = PoolOptions {
            max_size: config.pool_size,
            acquire_timeout: Duration::from_millis(config.pool_timeout_ms),
            statement_mode: statement_mode(config),
            verify_on_checkout: config.verify_checkout.then_some(TENANT_SETTING),
        };
        let mut runtime = self.config(Role::App);
        runtime.application_name("wizreg");
        apply_session_settings(config, generic_plans, &mut runtime);
        Tenancy::with_convention(
            build_pool(runtime, self.tls(Role::App), options),
            &self.convention(),
        )
    }

    /// Tenant transactions for a command: two connections, with the server's own timeouts.
    pub fn command_tenancy(&self) -> Tenancy {
        let options = PoolOptions {
            max_size: 2,
            ..PoolOptions::default()
        };
        Tenancy::with_convention(
            build_pool(self.config(Role::App), self.tls(Role::App), options),
            &self.convention(),
        )
    }
}
