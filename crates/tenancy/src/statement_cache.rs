//! The per-connection cache of prepared statements, keyed by each statement's text.
//!
//! Keyed by the text's address, not its contents: statements are `&'static str`s from the code,
//! so an address names one text for the life of the process, and hashing it with a fast
//! non-keyed hasher (foldhash's; resistance to chosen keys buys nothing for addresses the
//! program itself chose) costs a few instructions where SipHash over the text (a few hundred
//! bytes, four times a request) cost more than a thousand. The same text at two addresses is
//! merely prepared twice.

use std::collections::HashMap;

use foldhash::fast::FixedState;
use tokio_postgres::Statement;

/// Prepared statements by their text.
pub(crate) type StatementCache = HashMap<StatementText, Statement, FixedState>;

/// A statement's text, compared and hashed by address.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StatementText(pub(crate) &'static str);

impl PartialEq for StatementText {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for StatementText {}

impl std::hash::Hash for StatementText {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(self.0, state);
    }
}
