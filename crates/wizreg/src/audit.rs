//! `wizreg audit` and the same check at `serve` start: Wizreg's convention (schema, runtime
//! role, tenant setting, allowed SECURITY DEFINER functions: `database::convention`) handed to
//! [`tenancy::audit`].
//!
//! Exit codes follow the contract: 0 safe, 1 findings (one per line on stdout, with the object
//! and the fix), 2 could not check.

use std::process::ExitCode;

use tenancy::audit::{self, AuditReport, AuditTarget};

use crate::config::Config;
use crate::database::{convention, Database, Role};
use crate::error::StartupError;

/// What Wizreg's audit inspects, for the role requests run as.
pub fn target(runtime_role: &str) -> AuditTarget {
    let mut target = AuditTarget::from(&convention(runtime_role));
    // On Citus the tenant directory must be on every node (a reference table).
    target.directory_tables = vec!["wizreg.tenant".into()];
    target
}

/// Audits `database`: reads the catalogue as the administrator, for the `DATABASE_URL` user.
pub async fn inspect(database: &Database) -> Result<AuditReport, StartupError> {
    let admin = database.connect(Role::Admin).await?;
    audit::run_for(&admin, &database.convention())
        .await
        .map_err(|e| StartupError::Failed(format!("the isolation audit could not run: {e}")))
}

/// `wizreg audit`.
pub async fn command(config: Config) -> ExitCode {
    let report = match Database::open(&config) {
        Ok(database) => inspect(&database).await,
        Err(err) => Err(err),
    };
    match report {
        Ok(report) => {
            for finding in &report.findings {
                println!("{finding}");
            }
            let seen = &report.inspected;
            eprintln!(
                "wizreg audit: {} finding(s); inspected {} tenant table(s), {} policies, {} unique keys, {} foreign keys, {} schemas, {} views, {} SECURITY DEFINER functions, server_version_num {}",
                report.findings.len(),
                seen.tenant_tables.len(),
                seen.policies,
                seen.unique_keys,
                seen.foreign_keys,
                seen.schemas,
                seen.views,
                seen.definer_functions,
                seen.server_version
            );
            if let Some(citus) = &seen.citus_version {
                eprintln!(
                    "wizreg audit: Citus {citus}: checked the distribution and {} shard placement(s)",
                    seen.shard_placements
                );
            }
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(err) => {
            eprintln!("wizreg: could not check: {err} (is the database migrated and reachable?)");
            ExitCode::from(2)
        }
    }
}

/// `serve` refuses to start on a database the audit finds unsafe.
pub async fn refuse_unsafe(database: &Database) -> Result<(), StartupError> {
    let report = inspect(database).await?;
    if report.is_clean() {
        return Ok(());
    }
    let lines: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    Err(StartupError::Unsafe(format!(
        "refusing to serve: the isolation audit found {} problem(s) (run `wizreg audit`):\n  {}",
        lines.len(),
        lines.join("\n  ")
    )))
}
