//! Export (a download) and import (an upload) of one school, through the admin API's own
//! streaming handlers: the console only turns the browser's multipart upload into the
//! NDJSON body they read a line at a time.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;

use super::schools::{render_school, Outcome};
use super::Operator;
use crate::console::csrf::{token_matches, CsrfToken};
use crate::console::pages::Problem;
use crate::console::see_other;
use crate::http::admin::portability::{self, NdjsonBody, NDJSON};
use crate::http::deadline::RequestDeadline;
use crate::http::error::ErrorCode;
use crate::http::AppState;

pub(super) async fn export(
    operator: Operator,
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, Problem> {
    Ok(portability::export(operator.admin.clone(), State(state), Path(slug)).await?)
}

/// `POST …/import` (`multipart/form-data`): the `csrf` field first, then `file`.
pub(super) async fn import(
    operator: Operator,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Extension(expected): Extension<CsrfToken>,
    deadline: Option<Extension<RequestDeadline>>,
    request_headers: HeaderMap,
    mut multipart: Multipart,
) -> Result<Response, Problem> {
    let first = multipart
        .next_field()
        .await
        .map_err(|_| Problem::bad_form())?;
    let token = match first {
        Some(field) if field.name() == Some("csrf") => field.text().await.unwrap_or_default(),
        _ => String::new(),
    };
    if !token_matches(&expected, &token) {
        return Err(Problem::cross_site());
    }
    let mut file = match multipart
        .next_field()
        .await
        .map_err(|_| Problem::bad_form())?
    {
        Some(field) if field.name() == Some("file") => field,
        _ => return Err(Problem::bad_form()),
    };
    // The upload is fed to the API's import as it arrives: memory stays flat whatever its size.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| {
        receiver.poll_recv(cx)
    }));
    // Through the API's own body extractor, as if the file had been sent as `application/x-ndjson`.
    let request = axum::http::Request::builder()
        .header(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON))
        .body(body)
        .map_err(|_| Problem::bad_form())?;
    let ndjson = NdjsonBody::from_request(request, &()).await?;
    let importing = portability::import(
        operator.admin.clone(),
        State(state.clone()),
        Path(slug.clone()),
        // Each imported line moves this request's deadline, as for the API: a long upload
        // that keeps coming is not cut off, a stalled one is.
        deadline,
        ndjson,
    );
    let feeding = async move {
        loop {
            let chunk = match file.chunk().await {
                Ok(Some(chunk)) => Ok(chunk),
                Ok(None) => break,
                Err(_) => Err(std::io::Error::other("the upload was cut off")),
            };
            let failed = chunk.is_err();
            // The import stopped reading (it refused the file): nothing more to feed.
            if sender.send(chunk).await.is_err() || failed {
                break;
            }
        }
    };
    let (imported, ()) = tokio::join!(importing, feeding);
    match imported {
        Ok(counts) => {
            let counts = serde_json::to_value(&counts.0).unwrap_or_default();
            let count = |name: &str| counts.get(name).and_then(|v| v.as_u64()).unwrap_or(0);
            Ok(see_other(&format!(
                "/ui/admin/schools/{slug}?done=imported&houses={}&students={}",
                count("houses"),
                count("students")
            )))
        }
        Err(err) if err.status().is_client_error() && err.code() != ErrorCode::UnknownTenant => {
            let outcome = Outcome {
                message: None,
                import_error: Some(format!("Nothing was imported: {}", err.message())),
            };
            render_school(
                &operator,
                &state,
                &slug,
                &request_headers,
                outcome,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(err) => Err(err.into()),
    }
}
