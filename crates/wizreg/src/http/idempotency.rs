//! `Idempotency-Key` on `POST`: the header extractor, and [`create`], which runs a create so
//! that a retry with the same key and body gets the first answer (see
//! [`crate::idempotency`] for how the key is kept).
//!
//! Round trips: without a key, a create is one (BEGIN, enter_tenant, INSERT and COMMIT
//! pipelined). With a key it is two, first time or replay:
//! 1. BEGIN, enter_tenant, the claim and the INSERT, pipelined;
//! 2. the stored answer with COMMIT behind it, or ROLLBACK when the claim found the key taken
//!    (a replay, a 422 or a 409), which also undoes the INSERT that ran speculatively.
//!
//! Why the INSERT runs before the claim's answer is known, rather than being made conditional
//! in SQL on the claim (one CTE per route, or a guard that aborts the transaction): the insert
//! queries stay the domain's own, unchanged, and every way the speculative INSERT can end is
//! already safe. It commits only through the path that stores the key, so a replay, a
//! mismatch or a 409 leaves nothing; its errors are ignored when the claim already decided
//! the answer (a replayed house fails on its unique name, which is the record the replay
//! returns). The price: a replay does an INSERT that is rolled back, and a duplicate arriving
//! while the first request holds the key may wait on a unique index the first request's row
//! holds (bounded by `lock_timeout`), then still gets its 409. Replays are rare and that wait
//! lasts until the first request's next round trip, so this costs less than a third round
//! trip on every keyed POST.

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tenancy::Query;

use super::error::ApiError;
use super::tenant::Tenant;
use super::AppState;
use crate::domain::input::{FieldErrors, Input};
use crate::idempotency::{self, Claim, IdempotencyKey, StoredResponse};
use crate::json::WriteJson;

/// Set on a replayed answer, so a client can tell a replay from a fresh create.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The `Idempotency-Key` header, if sent; a malformed one is a 400.
#[derive(Debug)]
pub struct IdempotencyHeader(Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.headers.get("idempotency-key") {
            None => Ok(Self(None)),
            Some(raw) => IdempotencyKey::parse(raw.as_bytes())
                .map(|key| Self(Some(key)))
                .ok_or_else(|| {
                    ApiError::invalid_request(
                        "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
                    )
                }),
        }
    }
}

impl IdempotencyHeader {
    /// Binds the key to this request: `POST <path>` with `body` (read before parsing it).
    pub fn for_request(self, path: &str, body: &Input) -> Option<KeyedRequest> {
        self.0.map(|key| KeyedRequest {
            fingerprint: idempotency::fingerprint("POST", path, body.remaining()),
            key,
        })
    }
}

/// A key and the fingerprint of the request that carries it.
#[derive(Debug)]
pub struct KeyedRequest {
    key: IdempotencyKey,
    fingerprint: Vec<u8>,
}

/// Runs `insert` and answers `201` with the record and its `Location`; with a key, replays
/// the first answer instead when the key was used before (409 if that request is still
/// running, 422 if it had another body).
pub async fn create<T: WriteJson + 'static>(
    state: &AppState,
    tenant: &Tenant,
    keyed: Option<KeyedRequest>,
    insert: Query<T>,
    location: fn(&T) -> String,
) -> Result<Response, ApiError> {
    let Some(KeyedRequest { key, fingerprint }) = keyed else {
        let record = state.tenancy.run(tenant.id(), insert).await?;
        return Ok(respond(created(&record, location)?, false));
    };
    let ttl = state.idempotency_ttl;
    // Dropping `tx` on an early return with `?` rolls back (and releases the key).
    let mut tx = state.tenancy.begin(tenant.id()).await?;
    // Round trip 1: the claim, and the insert sent behind it before its answer is known.
    let (claim, inserted) = tx.run_pair(idempotency::claim(&key, ttl), insert).await?;
    let taken = match claim? {
        Claim::Fresh => None,
        Claim::InProgress => Some(Err(ApiError::idempotency_key_in_progress())),
        Claim::Done {
            fingerprint: first,
            response,
        } if first == fingerprint => Some(Ok(respond(response, true))),
        Claim::Done { .. } => Some(Err(ApiError::validation(FieldErrors::from([(
            "Idempotency-Key".to_owned(),
            "was already used with a different request".to_owned(),
        )])))),
    };
    if let Some(answer) = taken {
        // Round trip 2: undo the speculative insert, whatever it did (see the module doc).
        tx.rollback().await?;
        return answer;
    }
    let record = inserted?;
    let response = created(&record, location)?;
    // Round trip 2: the answer is stored with the record, and both commit together.
    tx.run_and_commit(idempotency::store(&key, fingerprint, response.clone()))
        .await?;
    Ok(respond(response, false))
}

fn created<T: WriteJson>(
    record: &T,
    location: fn(&T) -> String,
) -> Result<StoredResponse, ApiError> {
    Ok(StoredResponse {
        status: StatusCode::CREATED.as_u16(),
        body: record
            .to_json()
            .map_err(|e| ApiError::internal(e.to_string()))
            .and_then(|json| {
                String::from_utf8(json).map_err(|e| ApiError::internal(e.to_string()))
            })?,
        location: Some(location(record)),
    })
}

fn respond(stored: StoredResponse, replayed: bool) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(location) = stored.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    if replayed {
        headers.insert(REPLAYED, HeaderValue::from_static("true"));
    }
    response
}
