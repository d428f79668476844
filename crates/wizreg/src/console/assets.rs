//! The console's stylesheet and script, compiled into the binary and served under a URL that
//! carries a hash of their content: a browser may keep them for a year, and a new release
//! (new content, new URL) is fetched at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One static file and its hashed URL.
#[derive(Debug)]
pub(crate) struct Asset {
    file: String,
    body: &'static str,
    content_type: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, body: &'static str, content_type: &'static str) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        Self {
            file: format!("{stem}.{}.{extension}", &hex::encode(digest)[..16]),
            body,
            content_type,
        }
    }

    pub fn url(&self) -> String {
        format!("{PREFIX}{}", self.file)
    }
}

const PREFIX: &str = "/ui/assets/";

pub(crate) static STYLE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "console",
        "css",
        include_str!("assets/console.css"),
        "text/css; charset=utf-8",
    )
});

/// Progressive enhancement only (the copy button): every action works without it.
pub(crate) static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "console",
        "js",
        include_str!("assets/console.js"),
        "text/javascript; charset=utf-8",
    )
});

/// `GET /ui/assets/{file}`: only the current hashed names exist.
pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let Some(asset) = [&*STYLE, &*SCRIPT].into_iter().find(|a| a.file == file) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.body,
    )
        .into_response()
}
