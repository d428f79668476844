//! The per-connection cache of prepared statements, keyed by each statement's text.
//!
//! Keyed by the text's address, not its contents: statements are `&'static str`s from the code,
//! so an address names one text for the life of the process, and hashing it with one multiply
//! costs a few instructions where SipHash over the text (a few hundred bytes, four times a
//! request) cost more than a thousand. The same text at two addresses is merely prepared twice.

use std::collections::HashMap;

use tokio_postgres::Statement;

/// Prepared statements by their text.
pub(crate) type StatementCache = HashMap<StatementText, Statement, BuildAddressHasher>;

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

/// Hashes a [`StatementText`]'s address (and length) with one multiply: SipHash's resistance
/// to chosen keys buys nothing for addresses the program itself chose.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BuildAddressHasher;

impl std::hash::BuildHasher for BuildAddressHasher {
    type Hasher = AddressHasher;

    fn build_hasher(&self) -> AddressHasher {
        AddressHasher(0)
    }
}

#[derive(Debug)]
pub(crate) struct AddressHasher(u64);

impl std::hash::Hasher for AddressHasher {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }

    fn write_u64(&mut self, value: u64) {
        // Fx-style mixing: rotate, xor, multiply by an odd constant.
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
