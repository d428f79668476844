//! Idempotency keys: a POST retried with the same `Idempotency-Key` gets the first answer
//! back instead of creating a second record.
//!
//! Everything happens inside the creating request's own tenant transaction:
//! 1. [`claim`] takes a transaction-scoped advisory lock on (school, key) and reads the stored
//!    answer, if an unexpired one exists. The lock *is* the "in progress" state: visible to
//!    every other request at once, and released by COMMIT or ROLLBACK, so a crash or a
//!    cancelled request never leaves a key stuck in progress.
//! 2. The record is created. It is sent in the same round trip as the claim, before the claim's
//!    answer is known; when the claim finds the key taken, the transaction rolls back and the
//!    record with it (see [`crate::http::idempotency`] for why).
//! 3. [`store`] saves the answer in the same transaction, so the key and the record commit
//!    together or not at all.
//!
//! Expired keys are ignored, and purged (per school) whenever that school stores a new key.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tenancy::{DbError, Query};
use tokio_postgres::types::Type;

use crate::domain::violation::{Constraints, Violation};

/// A validated `Idempotency-Key` header value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// 1 to 255 visible ASCII characters (a UUID is the usual choice).
    pub fn parse(raw: &[u8]) -> Option<Self> {
        let valid = (1..=255).contains(&raw.len()) && raw.iter().all(|b| b.is_ascii_graphic());
        valid.then(|| Self(String::from_utf8_lossy(raw).into_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 of the method, the path and the body's JSON with its keys sorted, so the same
/// request spelled with other whitespace or key order has the same fingerprint.
pub fn fingerprint(method: &str, path: &str, body: &Map<String, Value>) -> Vec<u8> {
    // Sorted explicitly: `serde_json::Map` keeps insertion order when a dependency turns on
    // its `preserve_order` feature.
    let sorted: BTreeMap<&String, &Value> = body.iter().collect();
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(&sorted).unwrap_or_default());
    hasher.finalize().to_vec()
}

/// A stored answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

/// What [`claim`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// No unexpired answer: this request runs, holding the key until its transaction ends.
    Fresh,
    /// Another request with this key is running right now.
    InProgress,
    /// The key was used before: its request fingerprint and answer.
    Done {
        fingerprint: Vec<u8>,
        response: StoredResponse,
    },
}

/// Locks (school, key) for this transaction and reads the stored answer. Also purges the
/// school's expired keys (that delete commits only if this request goes on to create).
pub fn claim(key: &IdempotencyKey, ttl: Duration) -> Query<Claim> {
    Query::new(
        "with purge as (
           delete from wizreg.idempotency_key
           where tenant_id = $1 and created_at <= now() - make_interval(secs => $3)
         )
         select pg_try_advisory_xact_lock(hashtextextended($1::text || '/' || $2, 0)),
                k.fingerprint, k.response_status, k.response_body, k.response_location
         from (values (1)) as one (x)
         left join wizreg.idempotency_key k
           on k.tenant_id = $1 and k.key = $2 and k.created_at > now() - make_interval(secs => $3)",
    )
    .bind(key.as_str().to_owned(), Type::TEXT)
    .bind(ttl.as_secs_f64(), Type::FLOAT8)
    .map(|rows| {
        let row = rows.first().ok_or_else(DbError::unavailable)?;
        if !row.get::<_, bool>(0) {
            return Ok(Claim::InProgress);
        }
        Ok(match row.get::<_, Option<Vec<u8>>>(1) {
            None => Claim::Fresh,
            Some(fingerprint) => Claim::Done {
                fingerprint,
                response: StoredResponse {
                    status: u16::try_from(row.get::<_, i16>(2)).unwrap_or(500),
                    body: row.get(3),
                    location: row.get(4),
                },
            },
        })
    })
}

/// Saves the answer under the key. If a request with the same key committed between this
/// request's claim and now, the insert fails on `idempotency_key_pkey` (a 409), and the
/// transaction, record included, rolls back.
pub fn store(key: &IdempotencyKey, fingerprint: Vec<u8>, response: StoredResponse) -> Query<()> {
    Query::new(
        "insert into wizreg.idempotency_key
           (tenant_id, key, fingerprint, response_status, response_body, response_location)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key.as_str().to_owned(), Type::TEXT)
    .bind(fingerprint, Type::BYTEA)
    .bind(
        i16::try_from(response.status).unwrap_or(i16::MAX),
        Type::INT2,
    )
    .bind(response.body, Type::TEXT)
    .bind(response.location, Type::TEXT)
    .map(|_| Ok(()))
}

/// What a client hears when another request holds its key (or committed it a moment ago).
pub const KEY_IN_PROGRESS: &str =
    "a request with this Idempotency-Key is in progress; retry shortly";

/// Another request with the same key committed first: its insert took the key.
pub const CONSTRAINTS: Constraints =
    &[("idempotency_key_pkey", Violation::Conflict(KEY_IN_PROGRESS))];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(IdempotencyKey::parse(b"0190f0e6-8d8e-7b4c-9d0e-0a1b2c3d4e5f").is_some());
        assert!(IdempotencyKey::parse(&[b'k'; 255]).is_some());
        for bad in [&b""[..], &[b'k'; 256], b"a b", b"a\tb", b"\xff"] {
            assert!(IdempotencyKey::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn fingerprints_ignore_key_order_but_not_values_or_paths() {
        let a = fingerprint(
            "POST",
            "/students",
            &object(json!({"name": "H", "email": null})),
        );
        let b = fingerprint(
            "POST",
            "/students",
            &object(json!({"email": null, "name": "H"})),
        );
        let other_value = fingerprint("POST", "/students", &object(json!({"name": "R"})));
        let other_path = fingerprint(
            "POST",
            "/houses",
            &object(json!({"name": "H", "email": null})),
        );
        assert_eq!(a, b);
        assert_ne!(a, other_value);
        assert_ne!(a, other_path);
    }
}
