//! Keyset pagination: lists fetch one row more than asked; if it came, there is a next page.
//! Two headers say so: `X-Next-Cursor`, the id to pass as `after` (what a generated client
//! reads), and `Link`, the next page's URL (what a browser-style client follows).

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use uuid::Uuid;

use super::body::ListParams;

/// The next page's `after`, present only when there is a next page.
pub const NEXT_CURSOR: HeaderName = HeaderName::from_static("x-next-cursor");

/// Trims the look-ahead row off `rows` and returns the headers for a next page, if any.
pub fn next_page<T>(
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
    let cursor = id(last).to_string();
    if let Ok(value) = HeaderValue::from_str(&cursor) {
        headers.insert(NEXT_CURSOR, value);
    }
    let mut query =
        serde_urlencoded::to_string([("limit", params.limit.to_string()), ("after", cursor)])
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
