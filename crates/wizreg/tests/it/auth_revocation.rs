//! Revocation across processes: two app instances share one database; a key revoked through
//! one stops working on the other promptly, by NOTIFY, long before its cache entry expires.

use std::time::Duration;

use axum::http::StatusCode;
use wizreg::config::AuthMode;

use crate::auth_api_keys::{bearer, issue_key, revoke_hogwarts_key};
use crate::harness::{on_both_backends, TestApp};

on_both_backends! {
#[tokio::test]
async fn a_key_revoked_on_one_server_is_refused_by_the_other_promptly(backend) {
    // An hour-long cache: only the revocation notice can make the second server notice.
    let app = TestApp::with_config_on(backend, |c| {
        c.auth = AuthMode::ApiKey;
        c.api_key_cache_ttl_secs = 3600;
    })
    .await;
    let other = app.another_instance().await;
    let (id, key) = issue_key(&app, "hogwarts").await;
    let on_other = || {
        app.get("/students")
            .header("authorization", &bearer(&key))
            .via(&other)
            .send()
    };
    assert_eq!(on_other().await.status, StatusCode::OK, "cached there now");

    let revoked = revoke_hogwarts_key(&app, &id).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let mut last = StatusCode::OK;
    for _ in 0..200 {
        last = on_other().await.status;
        if last == StatusCode::UNAUTHORIZED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        last,
        StatusCode::UNAUTHORIZED,
        "the other server still accepts the key"
    );
}
}
