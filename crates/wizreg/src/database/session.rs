//! Settings every runtime session starts with: the statement, lock and idle-in-transaction
//! timeouts, sent as connection options so they hold before the first statement runs.

use crate::config::Config;

/// Sets the runtime connections' session defaults: statement, lock and idle-in-transaction
/// timeouts (0 = none), appended to any `options` the URL already carries. A school's own
/// statement timeout is applied per transaction by `wizreg.enter_tenant`.
pub(super) fn apply_session_timeouts(config: &Config, pg: &mut tokio_postgres::Config) {
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
    pg.options(options);
}
