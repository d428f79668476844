//! Any bytes as a JSON request body for every body parser (students, houses, the idempotency
//! fingerprint), and as a list query string: each returns a value or field errors, never a
//! panic.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::extract::FromRequestParts;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wizreg::domain::houses::{HousePatch, NewHouse};
use wizreg::domain::input::Input;
use wizreg::domain::students::{NewStudent, StudentPatch};
use wizreg::http::body::ListParams;

/// Runs a future that never waits (the query-string extractor does no I/O).
fn ready<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(data) {
        let _ = wizreg::idempotency::fingerprint("POST", "/students", &object);
        let _ = NewStudent::parse(Input::new(object.clone()));
        let _ = StudentPatch::parse(Input::new(object.clone()));
        let _ = NewHouse::parse(Input::new(object.clone()));
        let _ = HousePatch::parse(Input::new(object));
    }
    let query = String::from_utf8_lossy(data);
    if let Ok(request) = axum::http::Request::builder()
        .uri(format!("/students?{query}"))
        .body(())
    {
        let (mut parts, ()) = request.into_parts();
        let _ = ready(ListParams::from_request_parts(&mut parts, &()));
    }
});
