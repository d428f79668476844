//! Database errors, classified once by SQLSTATE so that no caller ever needs the server's text.

use std::fmt;

/// What kind of failure happened, which is all a caller may act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DbErrorKind {
    /// 23505: a unique key already holds this value.
    UniqueViolation,
    /// 23503: a foreign key names a row that does not exist (for this tenant).
    ForeignKeyViolation,
    /// 23514 / 23502 / 22xxx: the row breaks a check or a type rule.
    InvalidData,
    /// 42501: the role may not do this (RLS `WITH CHECK`, missing grant).
    InsufficientPrivilege,
    /// 57014 or a lock timeout: the statement was cancelled.
    Timeout,
    /// The pool had no connection in time, or the server could not be reached.
    Unavailable,
    /// Anything else: a bug or an operator problem, never the client's.
    Other,
}

/// A database failure. Its `Display` names the kind, SQLSTATE and constraint only: never the
/// server's message, which can quote data. Cloning is cheap and keeps everything (a cache
/// that shares one failure among its waiters hands each the whole error).
#[derive(Clone, Debug)]
pub struct DbError {
    kind: DbErrorKind,
    sqlstate: Option<String>,
    constraint: Option<String>,
    source: Option<std::sync::Arc<tokio_postgres::Error>>,
}

impl DbError {
    /// What kind of failure it is.
    ///
    /// ```
    /// use tenancy::{DbError, DbErrorKind};
    ///
    /// let err = DbError::of_kind(DbErrorKind::UniqueViolation);
    /// assert_eq!(err.kind(), DbErrorKind::UniqueViolation);
    /// assert_eq!(err.to_string(), "database error UniqueViolation");
    /// ```
    pub fn kind(&self) -> DbErrorKind {
        self.kind
    }
    /// The five-character SQLSTATE, when the server sent one.
    pub fn sqlstate(&self) -> Option<&str> {
        self.sqlstate.as_deref()
    }
    /// The violated constraint's name, for mapping a conflict to a field.
    pub fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }
    /// No connection could be had: the pool timed out or the server is unreachable.
    pub fn unavailable() -> Self {
        Self::of_kind(DbErrorKind::Unavailable)
    }
    /// An error of `kind` raised by the application itself (no SQLSTATE, no server text), for
    /// a decoding step that finds a row it cannot use, for example.
    pub fn of_kind(kind: DbErrorKind) -> Self {
        Self {
            kind,
            sqlstate: None,
            constraint: None,
            source: None,
        }
    }
    /// The server's own text, for operators' debugging only. It may quote data: never put it
    /// in a response or a log line.
    pub fn server_detail(&self) -> Option<String> {
        let source = self.source.as_ref()?;
        // A server error's own `Display` is just "db error": its text is in the `DbError`.
        Some(match source.as_db_error() {
            Some(db) => format!("{} (sqlstate {})", db.message(), db.code().code()),
            None => source.to_string(),
        })
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database error {:?}", self.kind)?;
        if let Some(state) = &self.sqlstate {
            write!(f, " (sqlstate {state})")?;
        }
        if let Some(constraint) = &self.constraint {
            write!(f, " on {constraint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DbError {}

impl From<tokio_postgres::Error> for DbError {
    fn from(err: tokio_postgres::Error) -> Self {
        let Some(db) = err.as_db_error() else {
            // No SQLSTATE: the connection broke or could not be made.
            return Self {
                kind: DbErrorKind::Unavailable,
                sqlstate: None,
                constraint: None,
                source: Some(std::sync::Arc::new(err)),
            };
        };
        let code = db.code().code();
        let kind = match code {
            "23505" => DbErrorKind::UniqueViolation,
            "23503" => DbErrorKind::ForeignKeyViolation,
            "23514" | "23502" => DbErrorKind::InvalidData,
            c if c.starts_with("22") => DbErrorKind::InvalidData,
            "42501" => DbErrorKind::InsufficientPrivilege,
            "57014" | "55P03" => DbErrorKind::Timeout,
            // 08: connection exception, 57P01-03: admin shutdown / crash / cannot connect now,
            // 53: insufficient resources (too many connections).
            c if c.starts_with("08") || c.starts_with("57P") || c.starts_with("53") => {
                DbErrorKind::Unavailable
            }
            _ => DbErrorKind::Other,
        };
        Self {
            kind,
            sqlstate: Some(code.to_owned()),
            constraint: db
                .constraint()
                .or_else(|| named_in_message(db.message()))
                .map(without_shard_suffix),
            source: Some(std::sync::Arc::new(err)),
        }
    }
}

/// The constraint a violation message names (`… violates foreign key constraint "x"`). A
/// Citus coordinator relays a worker's error with its SQLSTATE and message but without the
/// constraint field; the message is then the only place the name is (in the server's
/// `lc_messages`, English by default; another language leaves the name unknown).
fn named_in_message(message: &str) -> Option<&str> {
    let (_, rest) = message.split_once("constraint \"")?;
    rest.split_once('"').map(|(name, _)| name)
}

/// A constraint's name as the table declares it. A Citus worker reports the name on the shard,
/// the table's name plus `_<shard id>` (`student_house_fkey_102040`); shard ids have six digits
/// or more, which no name of ours ends with.
fn without_shard_suffix(name: &str) -> String {
    match name.rsplit_once('_') {
        Some((base, id)) if id.len() >= 6 && id.bytes().all(|b| b.is_ascii_digit()) => {
            base.to_owned()
        }
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod shard_suffix_tests {
    use super::without_shard_suffix;

    #[test]
    fn a_shards_constraint_name_is_reported_as_the_tables() {
        assert_eq!(
            without_shard_suffix("student_house_fkey_102040"),
            "student_house_fkey"
        );
        assert_eq!(
            without_shard_suffix("student_email_key"),
            "student_email_key"
        );
        assert_eq!(without_shard_suffix("ranked_2024"), "ranked_2024");
        assert_eq!(
            super::named_in_message(
                "insert or update on table \"student_102110\" violates foreign key constraint \"student_house_fkey_102110\""
            ),
            Some("student_house_fkey_102110")
        );
    }
}
