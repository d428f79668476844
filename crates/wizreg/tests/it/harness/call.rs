//! Requests to the in-process router ([`Call`]) and their answers ([`Reply`]).

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, Response, StatusCode};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::ADMIN_TOKEN;

/// A request being built.
pub struct Call<'a> {
    router: &'a Router,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

impl<'a> Call<'a> {
    pub(super) fn new(router: &'a Router, method: Method, path: &str) -> Self {
        Self {
            router,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Sends the request to another instance (see [`TestApp::another_instance`]).
    pub fn via(mut self, router: &'a Router) -> Self {
        self.router = router;
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
    /// Names the school by `X-Tenant`.
    pub fn tenant(self, tenant: &str) -> Self {
        self.header("x-tenant", tenant)
    }
    /// Authenticates as the platform administrator.
    pub fn admin(self) -> Self {
        self.header("authorization", &format!("Bearer {ADMIN_TOKEN}"))
    }
    /// Names the school by Host subdomain, as the classic walk-through does.
    pub fn host(self, host: &str) -> Self {
        self.header("host", host)
    }
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(("application/json".into(), body.to_string().into_bytes()));
        self
    }
    pub fn raw_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some((content_type.into(), body.into()));
        self
    }

    pub async fn send(self) -> Reply {
        let (status, headers, bytes) = self.send_raw().await;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("every body is JSON")
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Sends the request and returns the body as bytes, for bodies that are not one JSON value
    /// (an NDJSON export).
    pub async fn send_raw(self) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut request = Request::builder().method(self.method).uri(&self.path);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = match self.body {
            Some((content_type, bytes)) => request
                .header("content-type", content_type)
                .body(Body::from(bytes)),
            None => request.body(Body::empty()),
        }
        .expect("valid request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, body_bytes(response).await.to_vec())
    }
}

/// A response, with its body parsed as JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("body has an id").to_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A JSON request naming its school by `X-Tenant`, for tests that drive a router directly.
pub fn tenant_request(
    method: Method,
    path: &str,
    tenant: &str,
    body: Option<Value>,
) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header("x-tenant", tenant)
        .header("content-type", "application/json");
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    builder.body(body).expect("request")
}

/// The whole body of a response.
pub async fn body_bytes(response: Response<Body>) -> Bytes {
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
}
