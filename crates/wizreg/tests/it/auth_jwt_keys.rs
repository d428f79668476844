//! JWTs signed with a private key (RS256, ES256) verified with a PEM public key file, and JWT
//! settings that do not fit together stopping the server at start.

use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey};
use wizreg::config::{AuthMode, Config, JwtAlgorithm};

use crate::auth_jwt::{assert_refused, hs256, sign, valid_claims, with_token, RS256_PRIVATE};
use crate::harness::TestApp;

const RS256_PUBLIC: &str = include_str!("../fixtures/jwt-rs256-public.pem");

/// Writes a PEM to a file the app reads at start.
fn pem_file(pem: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), pem).expect("write pem");
    file
}

#[tokio::test]
async fn es256_tokens_verify_with_a_pem_public_key_and_nothing_else_does() {
    use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let secret = loop {
        if let Ok(key) = p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()) {
            break key;
        }
    };
    let private_pem = secret.to_pkcs8_pem(LineEnding::LF).expect("private pem");
    let public_pem = secret
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("public pem");
    let public_file = pem_file(&public_pem);
    let path = public_file.path().to_owned();
    let app = TestApp::with_config(|c| {
        c.auth = AuthMode::Jwt;
        c.jwt_algorithm = JwtAlgorithm::Es256;
        c.jwt_public_key_file = Some(path);
    })
    .await;
    let es256 = EncodingKey::from_ec_pem(private_pem.as_bytes()).expect("ec key");
    let token = sign(Algorithm::ES256, &es256, &valid_claims(app.hogwarts.id));
    assert_eq!(with_token(&app, &token).await.status, StatusCode::OK);

    // The classic confusion: HS256 "signed" with the public key as the shared secret.
    let confused = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(public_pem.as_bytes()),
        &valid_claims(app.hogwarts.id),
    );
    assert_refused(&with_token(&app, &confused).await, "algorithm", &confused);
    let other_key = EncodingKey::from_ec_pem(
        p256::SecretKey::from_slice(&[7; 32])
            .expect("scalar")
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pem")
            .as_bytes(),
    )
    .expect("ec key");
    let forged = sign(Algorithm::ES256, &other_key, &valid_claims(app.hogwarts.id));
    assert_refused(&with_token(&app, &forged).await, "signature", &forged);
}

#[tokio::test]
async fn rs256_tokens_verify_with_a_pem_public_key() {
    let public_file = pem_file(RS256_PUBLIC);
    let path = public_file.path().to_owned();
    let app = TestApp::with_config(|c| {
        c.auth = AuthMode::Jwt;
        c.jwt_algorithm = JwtAlgorithm::Rs256;
        c.jwt_public_key_file = Some(path);
    })
    .await;
    let key = EncodingKey::from_rsa_pem(RS256_PRIVATE.as_bytes()).expect("fixture key");
    let token = sign(Algorithm::RS256, &key, &valid_claims(app.hogwarts.id));
    assert_eq!(with_token(&app, &token).await.status, StatusCode::OK);
    let hs = hs256(&valid_claims(app.hogwarts.id));
    assert_refused(&with_token(&app, &hs).await, "algorithm", &hs);
}

/// A change to an otherwise valid configuration.
type Adjust = fn(&mut Config);

#[tokio::test]
async fn jwt_settings_that_do_not_fit_together_stop_the_server_with_a_clear_message() {
    let app = TestApp::new().await;
    let mut base = app.config.clone();
    base.auth = AuthMode::Jwt;
    let cases: [(Adjust, &str); 4] = [
        (|_| {}, "WIZREG_JWT_SECRET"),
        (
            |c| c.jwt_algorithm = JwtAlgorithm::Es256,
            "WIZREG_JWT_PUBLIC_KEY_FILE",
        ),
        (
            |c| {
                c.jwt_algorithm = JwtAlgorithm::Es256;
                c.jwt_public_key_file = Some("/nonexistent/key.pem".into());
            },
            "cannot read",
        ),
        (
            |c| {
                c.jwt_algorithm = JwtAlgorithm::Es256;
                c.jwt_public_key_file = Some(
                    concat!(
                        env!("CARGO_MANIFEST_DIR"),
                        "/tests/fixtures/jwt-rs256-public.pem"
                    )
                    .into(),
                );
            },
            "not a PEM public key for Es256",
        ),
    ];
    for (adjust, expected) in cases {
        let mut config = base.clone();
        adjust(&mut config);
        let message = wizreg::serve::app_state(&config, &app.database)
            .await
            .expect_err("refused")
            .to_string();
        assert!(message.contains(expected), "{message}");
    }
}
