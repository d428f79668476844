//! The words the launcher's error messages use for the operator's own settings. A service
//! built on this crate names its settings itself (an environment variable, a flag, a config
//! key), so it passes those names in and its users read advice in their own terms.

/// How the operator configures what the launcher needs, as the service built on it spells it.
///
/// The defaults name this crate's own options, which is right for a program whose operator
/// sets [`EmbeddedOptions`](super::EmbeddedOptions) in code.
///
/// ```
/// use tenancy::embedded::OperatorHints;
///
/// let hints = OperatorHints {
///     pg_bin: "MYAPP_PG_BIN",
///     data_dir: "MYAPP_DATA_DIR",
///     data_dir_example: "/var/lib/myapp",
///     use_existing_server: "set DATABASE_URL",
/// };
/// assert_ne!(hints, OperatorHints::default());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperatorHints {
    /// What points the launcher at the server binaries' directory.
    pub pg_bin: &'static str,
    /// What chooses the data directory.
    pub data_dir: &'static str,
    /// A data directory the `postgres` OS account can reach, suggested when it cannot.
    pub data_dir_example: &'static str,
    /// What an operator does to use an existing server instead, as an imperative phrase.
    pub use_existing_server: &'static str,
}

impl Default for OperatorHints {
    fn default() -> Self {
        Self {
            pg_bin: "the pg_bin option",
            data_dir: "the data_dir option",
            data_dir_example: "a directory under /var/lib",
            use_existing_server: "configure a connection URL",
        }
    }
}
