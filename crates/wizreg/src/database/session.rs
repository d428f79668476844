//! Settings every runtime session starts with: the statement, lock and idle-in-transaction
//! timeouts, and generic plans for prepared statements, sent as connection options so they hold
//! before the first statement runs.
//!
//! Why generic plans: every statement a runtime session prepares is keyed by `tenant_id = $1`
//! and one of the school's indexes, so its plan does not depend on the values bound. PostgreSQL
//! does not know that; it re-plans a statement for every execution while its generic plan looks
//! costlier than a custom one, which a `LIMIT $n` always does (an unknown limit is costed as a
//! tenth of the rows). A page of 10 students was planned again on every request: planning took
//! twice as long as running it, and the list's transaction ran at about 0.6 of the rate of the
//! same transaction with its limit written as a literal (pgbench, 8 clients). Not on Citus,
//! whose coordinator plans each statement for the shard its tenant lives on.

use crate::config::Config;

/// Sets the runtime connections' session defaults: statement, lock and idle-in-transaction
/// timeouts (0 = none) and, with `generic_plans`, `plan_cache_mode`, appended to any `options` the URL already
/// carries. A school's own statement timeout is applied per transaction by
/// `wizreg.enter_tenant`.
pub(super) fn apply_session_settings(
    config: &Config,
    generic_plans: bool,
    pg: &mut tokio_postgres::Config,
) {
    let mut options = pg.get_options().unwrap_or_default().to_owned();
    for (setting, ms) in [
        ("statement_timeout", config.statement_timeout_ms),
        ("lock_timeout", config.lock_timeout_ms),
        (
            "idle_in_transaction_session_timeout",
            config.idle_in_transaction_timeout_ms,
        ),
    ] {
        if !options.is_empty() {
            options.push(' ');
        }
        options.push_str(&format!("-c {setting}={ms}"));
    }
    if generic_plans {
        options.push_str(" -c plan_cache_mode=force_generic_plan");
    }
    pg.options(options);
}
