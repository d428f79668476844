//! Keyset pagination: lists fetch one row more than asked; if it came, there is a next page.
//! Two headers say so: `X-Next-Cursor`, the id to pass as `after` (what a generated client
//! reads), and `Link`, the next page's URL (what a browser-style client follows).

use std::fmt::Write as _;

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
    // Written out by hand, not through a URL encoder: a number and a UUID need no escaping.
    let mut buffer = Uuid::encode_buffer();
    let cursor: &str = id(last).hyphenated().encode_lower(&mut buffer);
    if let Ok(value) = HeaderValue::from_str(cursor) {
        headers.insert(NEXT_CURSOR, value);
    }
    let mut link = String::with_capacity(path.len() + 96);
    link.push('<');
    link.push_str(path);
    let _ = write!(link, "?limit={}&after={cursor}", params.limit);
    if let Some(name) = &params.name {
        link.push('&');
        link.push_str(&serde_urlencoded::to_string([("name", name)]).unwrap_or_default());
    }
    link.push_str(">; rel=\"next\"");
    if let Ok(value) = HeaderValue::from_str(&link) {
        headers.insert(header::LINK, value);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_is_the_next_page_url_with_every_parameter_encoded() {
        let ids: Vec<Uuid> = (1..=3).map(Uuid::from_u128).collect();
        for name in [None, Some("Hermine Granger & co/ü".to_owned())] {
            let params = ListParams {
                limit: 2,
                after: None,
                name: name.clone(),
            };
            let mut rows = ids.clone();
            let headers = next_page("/students", &params, &mut rows, |id| *id);
            assert_eq!(rows.len(), 2);
            let cursor = ids[1].to_string();
            assert_eq!(headers[NEXT_CURSOR], cursor.as_str());
            let mut query =
                serde_urlencoded::to_string([("limit", "2"), ("after", &cursor)]).expect("encodes");
            if let Some(name) = &name {
                query.push('&');
                query.push_str(&serde_urlencoded::to_string([("name", name)]).expect("encodes"));
            }
            assert_eq!(
                headers[header::LINK],
                format!("</students?{query}>; rel=\"next\"").as_str()
            );
        }
    }
}
