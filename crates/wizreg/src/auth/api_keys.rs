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
//! in this process and, through [`super::revocations`], in every other one; a lookup that
//! raced the revocation cannot put the old hash back ([`crate::cache_epochs`]).
//!
//! A miss is database work done for a caller not yet authenticated, so misses share one
//! [`LookupLimit`]: a flood of made-up keys (each a miss) holds at most that many pooled
//! connections, and the rest of the pool stays with authenticated schools.

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
use crate::cache_epochs::Epochs;
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
    cache: Cache<KeyRef, (u64, Option<Arc<Hash>>)>,
    /// Revocations heard of, so a lookup begun before one is never served.
    epochs: Arc<Epochs<KeyRef>>,
    lookups: LookupLimit,
}

/// How long a key lookup waits for a turn before the caller gets `503`: long enough to ride out
/// a burst of genuine misses, short enough that a flood is answered at once.
const LOOKUP_WAIT: Duration = Duration::from_millis(50);

/// A cap on concurrent key lookups that missed the cache (`WIZREG_UNAUTHENTICATED_DB_CONCURRENCY`).
#[derive(Clone, Debug)]
pub struct LookupLimit {
    permits: Arc<tokio::sync::Semaphore>,
    refused: Arc<std::sync::atomic::AtomicU64>,
}

impl LookupLimit {
    fn new(permits: usize) -> Self {
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(permits)),
            refused: Arc::default(),
        }
    }

    /// Lookups refused for want of a turn since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn enter(&self) -> Result<tokio::sync::SemaphorePermit<'_>, AuthError> {
        match tokio::time::timeout(LOOKUP_WAIT, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                self.refused
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err(AuthError::Busy)
            }
        }
    }
}

type KeyRef = (TenantId, Uuid);

/// Cached answers found stale in a row before the lookup skips the cache.
const STALE_RETRIES: usize = 4;

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
            epochs: Arc::new(Epochs::new(cache_ttl)),
            lookups: LookupLimit::new(tokio::sync::Semaphore::MAX_PERMITS),
        }
    }

    /// Caps concurrent lookups of keys that missed the cache at `permits` (at least 1).
    pub fn with_lookup_limit(mut self, permits: usize) -> Self {
        self.lookups = LookupLimit::new(permits.max(1));
        self
    }

    /// The cap on lookups of unverified keys.
    pub fn lookup_limit(&self) -> &LookupLimit {
        &self.lookups
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
        self.epochs.changed((tenant, id));
        self.cache.invalidate(&(tenant, id)).await;
    }

    /// Drops every cached key (when revocation notices may have been missed).
    pub fn forget_all(&self) {
        self.epochs.changed_all();
        self.cache.invalidate_all();
    }

    /// The stored hash of key `id` of `tenant` (`None`: unknown or revoked), from the cache
    /// unless the cached answer's lookup began before a revocation of it was heard of.
    async fn stored_hash(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<Arc<Hash>>, AuthError> {
        let load = || {
            let (tenancy, epoch, lookups) =
                (self.tenancy.clone(), self.epochs.current(), &self.lookups);
            async move {
                // Taken before a pooled connection: past the cap, no connection is touched.
                let _turn = lookups.enter().await?;
                let hash = tenancy
                    .run(tenant, key_store::valid_hash(id))
                    .await
                    .map_err(AuthError::Unavailable)?;
                let hash = hash.and_then(|h| Hash::try_from(h).ok()).map(Arc::new);
                Ok::<_, AuthError>((epoch, hash))
            }
        };
        for _ in 0..STALE_RETRIES {
            let (epoch, hash) = self
                .cache
                .try_get_with((tenant, id), load())
                .await
                .map_err(|err: Arc<AuthError>| match &*err {
                    AuthError::Unavailable(db) => {
                        AuthError::Unavailable(DbError::of_kind(db.kind()))
                    }
                    AuthError::Busy => AuthError::Busy,
                    AuthError::Refused(message) => AuthError::Refused(message.clone()),
                })?;
            if self.epochs.is_fresh(epoch, Some(&(tenant, id))) {
                return Ok(hash);
            }
            self.cache.invalidate(&(tenant, id)).await;
        }
        Ok(load().await?.1)
    }

    /// The tenant a presented key belongs to, if it is one of ours and not revoked.
    pub async fn verify(&self, key: &str) -> Result<TenantId, AuthError> {
        let (tenant, id) =
            parse(key).ok_or(AuthError::Refused("the API key is malformed".into()))?;
        let stored = self.stored_hash(tenant, id).await?;
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
