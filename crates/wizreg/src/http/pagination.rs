//! Keyset pagination: lists fetch one row more than asked; if it came, there is a next page,
//! and the `Link` header points at it.

use axum::http::{header, HeaderMap, HeaderValue};
use uuid::Uuid;

use super::body::ListParams;

/// Trims the look-ahead row off `rows` and returns the headers for a next page, if any.
pub fn next_link<T>(
    path: &str,
    params: &ListParams,
    rows: &mut Vec<T>,
    id: fn(&T) -> Uuid,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let limit = usize::try_from(params.limit).unwrap_or(usize::MAX);
    if rows.len() <= limit {
        return headers;
    }
    rows.truncate(limit);
    let Some(last) = rows.last() else {
        return headers;
    };
    let mut query = serde_urlencoded::to_string([
        ("limit", params.limit.to_string()),
        ("after", id(last).to_string()),
    ])
    .unwrap_or_default();
    if let Some(name) = &params.name {
        query.push('&');
        query.push_str(&serde_urlencoded::to_string([("name", name)]).unwrap_or_default());
    }
    if let Ok(value) = HeaderValue::from_str(&format!("<{path}?{query}>; rel=\"next\"")) {
        headers.insert(header::LINK, value);
    }
    headers
}
