//! API keys: the key format, hashing with the server secret, and verification.
//!
//! A key reads `wzk_<tenant uuid>_<key id>_<secret>` (UUIDs without hyphens, a 256-bit secret
//! in hex). The tenant and id are in the clear so that verification can run inside that
//! tenant's own transaction; only the secret proves anything. The database keeps
//! HMAC-SHA256(server secret, whole key), so a stolen table is useless without the server
//! secret, and a key cannot be moved to another tenant or id.
//!
//! Verification caches the *stored hash* per (tenant, key id) for a short time: a hit costs one
//! HMAC and a constant-time comparison, no database work. Revocation removes the entry at once
//! in this process and, through [`super::revocations`], in every other one.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use moka::future::Cache;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tenancy::{DbError, Tenancy, TenantId};
use uuid::Uuid;

use super::key_store::{self, ApiKeySummary};
use super::AuthError;
use crate::config::Secret;

/// What every API key starts with, so people and secret scanners recognise one.
pub const PREFIX: &str = "wzk_";
const SECRET_HEX_LEN: usize = 64;

type Hash = [u8; 32];

/// The (tenant, key id) a key claims, before it is verified.
fn parse(key: &str) -> Option<(TenantId, Uuid)> {
    let rest = key.strip_prefix(PREFIX)?;
    let mut parts = rest.split('_');
    let (tenant, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
    let simple_uuid = |s: &str| (s.len() == 32).then(|| Uuid::try_parse(s).ok()).flatten();
    let secret_ok = secret.len() == SECRET_HEX_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if parts.next().is_some() || !secret_ok {
        return None;
    }
    Some((TenantId::from_uuid(simple_uuid(tenant)?), simple_uuid(id)?))
}

/// A key just made: the only moment its full text exists outside the caller's hands.
#[derive(Debug)]
pub struct CreatedKey {
    pub summary: ApiKeySummary,
    pub key: String,
}

/// Creating, listing, revoking and verifying API keys.
#[derive(Clone)]
pub struct ApiKeys {
    /// HMAC-SHA256 already keyed with the server secret: cloned per use, so each hash costs
    /// only the key's own blocks.
    mac: Hmac<Sha256>,
    tenancy: Tenancy,
    /// (tenant, key id) → the stored hash of a valid key, or `None` for a missing or revoked
    /// one (so a flood of bad keys with one id does not reach the database either).
    cache: Cache<(TenantId, Uuid), Option<Arc<Hash>>>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("cached", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl ApiKeys {
    pub fn new(secret: Secret, tenancy: Tenancy, cache_ttl: Duration) -> Self {
        Self {
            mac: Hmac::new_from_slice(secret.expose().as_bytes())
                .expect("HMAC takes a key of any length"),
            tenancy,
            cache: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(cache_ttl)
                .build(),
        }
    }

    fn hash(&self, key: &str) -> Hash {
        let mut mac = self.mac.clone();
        mac.update(key.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Makes a key for `tenant` and stores only its hash.
    pub async fn create(&self, tenant: TenantId) -> Result<CreatedKey, DbError> {
        let id = Uuid::now_v7();
        let secret: [u8; 32] = rand::random();
        let key = format!(
            "{PREFIX}{}_{}_{}",
            tenant.as_uuid().simple(),
            id.simple(),
            hex::encode(secret)
        );
        let last_chars = key[key.len() - 4..].to_owned();
        let summary = self
            .tenancy
            .run(tenant, key_store::insert(id, self.hash(&key), last_chars))
            .await?;
        Ok(CreatedKey { summary, key })
    }

    pub async fn list(&self, tenant: TenantId) -> Result<Vec<ApiKeySummary>, DbError> {
        self.tenancy.run(tenant, key_store::list()).await
    }

    /// Revokes a key of `tenant`; whether it exists. Other processes hear of it by NOTIFY.
    pub async fn revoke(&self, tenant: TenantId, id: Uuid) -> Result<bool, DbError> {
        let found = key_store::revoke(&self.tenancy, tenant, id).await?;
        self.forget(tenant, id).await;
        Ok(found)
    }

    /// Drops one key from the verification cache.
    pub async fn forget(&self, tenant: TenantId, id: Uuid) {
        self.cache.invalidate(&(tenant, id)).await;
    }

    /// Drops every cached key (when revocation notices may have been missed).
    pub fn forget_all(&self) {
        self.cache.invalidate_all();
    }

    /// The tenant a presented key belongs to, if it is one of ours and not revoked.
    pub async fn verify(&self, key: &str) -> Result<TenantId, AuthError> {
        let (tenant, id) =
            parse(key).ok_or(AuthError::Refused("the API key is malformed".into()))?;
        let tenancy = self.tenancy.clone();
        let stored = self
            .cache
            .try_get_with((tenant, id), async move {
                let hash = tenancy.run(tenant, key_store::valid_hash(id)).await?;
                Ok::<_, DbError>(hash.and_then(|h| Hash::try_from(h).ok()).map(Arc::new))
            })
            .await
            .map_err(|err: Arc<DbError>| AuthError::Unavailable(DbError::of_kind(err.kind())))?;
        let presented = self.hash(key);
        match stored {
            // Constant time: how much of a guess matched must not show in the response time.
            Some(hash) if bool::from(hash.ct_eq(&presented)) => Ok(tenant),
            _ => Err(AuthError::Refused(
                "the API key is not valid (unknown or revoked)".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "0190f0e68d8e7b4c9d0e0a1b2c3d4e5f";
    const ID: &str = "0190f0e68d8e7b4c9d0e0a1b2c3d4e60";

    #[test]
    fn a_key_names_its_tenant_and_id_and_carries_a_256_bit_hex_secret() {
        let secret = "ab".repeat(32);
        let key = format!("wzk_{TENANT}_{ID}_{secret}");
        let (tenant, id) = parse(&key).expect("well-formed");
        assert_eq!(tenant.as_uuid().simple().to_string(), TENANT);
        assert_eq!(id.simple().to_string(), ID);
        for bad in [
            format!("wzk_{TENANT}_{ID}_{}", "ab".repeat(31)),
            format!("wzk_{TENANT}_{ID}_{}", "AB".repeat(32)),
            format!("wzk_{TENANT}_{ID}_{secret}_x"),
            format!("wzk_{TENANT}_{secret}"),
            format!("wzx_{TENANT}_{ID}_{secret}"),
            format!("wzk_{}_{ID}_{secret}", &TENANT[1..]),
            String::new(),
        ] {
            assert_eq!(parse(&bad), None, "{bad}");
        }
    }
}
