//! TLS to PostgreSQL with libpq's meaning of `sslmode`, against a server that accepts TCP
//! connections only over TLS (`server.rs`): the right CA works, a wrong CA or host name is
//! refused with the reason, plain text is refused by the server, a client certificate logs in,
//! and the real binary runs over `verify-full`.

mod binary;
mod server;

use tenancy::embedded::SUPERUSER;
use tokio_postgres::Client;

use server::{Authority, TlsPostgres, CERT_USER};

/// Connects as the product does (libpq parameters read by `tenancy::tls`).
async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (config, tls) = tenancy::tls::parse(url).expect("a valid URL");
    let (client, connection) = tenancy::connect(&config, tls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Whether the server sees this session as TLS.
async fn session_uses_tls(client: &Client) -> bool {
    client
        .query_one(
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

/// The full error chain, as an operator would read it.
fn reason(err: &tokio_postgres::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_right_ca_connects_over_tls() {
    let server = TlsPostgres::start().await;
    let client = connect(&server.verify_full_url(SUPERUSER))
        .await
        .expect("verify-full with the right CA");
    assert!(session_uses_tls(&client).await);

    // verify-ca checks the chain only, so the address (not in the certificate) is fine.
    let ca = server.files.join("ca.pem");
    let by_address = server.url(
        SUPERUSER,
        "127.0.0.1",
        "wizreg",
        &format!("sslmode=verify-ca&sslrootcert={}", ca.display()),
    );
    let client = connect(&by_address).await.expect("verify-ca by address");
    assert!(session_uses_tls(&client).await);

    // prefer (the default) and require take TLS when the server offers it, unverified.
    for params in ["", "sslmode=prefer", "sslmode=require"] {
        let url = server.url(SUPERUSER, "127.0.0.1", "wizreg", params);
        let client = connect(&url)
            .await
            .unwrap_or_else(|e| panic!("{params}: {e}"));
        assert!(session_uses_tls(&client).await, "{params:?} must use TLS");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_or_host_name_is_refused_with_the_reason() {
    let server = TlsPostgres::start().await;
    let stranger = Authority::new("another CA");
    let wrong_ca = server.file("wrong-ca.pem", &stranger.pem);
    for mode in ["verify-full", "verify-ca", "require"] {
        // `require` with a root certificate checks the chain, as libpq does.
        let url = server.url(
            SUPERUSER,
            "localhost",
            "wizreg",
            &format!("sslmode={mode}&sslrootcert={}", wrong_ca.display()),
        );
        let err = connect(&url)
            .await
            .err()
            .unwrap_or_else(|| panic!("{mode} with the wrong CA connected"));
        assert!(
            reason(&err).contains("UnknownIssuer"),
            "{mode}: {}",
            reason(&err)
        );
    }

    // The certificate names `localhost`; `127.0.0.1` is another name.
    let ca = server.files.join("ca.pem");
    let by_address = server.url(
        SUPERUSER,
        "127.0.0.1",
        "wizreg",
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    );
    let err = connect(&by_address)
        .await
        .expect_err("a name mismatch connected");
    assert!(
        reason(&err).contains("not valid for name"),
        "{}",
        reason(&err)
    );

    // The product's own error: one line naming the server, the mode and the reason, no password.
    let database = wizreg::database::Database::external(&by_address, &by_address).expect("urls");
    let err = database
        .connect(wizreg::database::Role::Admin)
        .await
        .expect_err("refused")
        .to_string();
    assert!(err.contains(&format!("127.0.0.1:{}", server.port)), "{err}");
    assert!(
        err.contains("sslmode=verify-full") && err.contains("not valid for name"),
        "{err}"
    );
    assert!(
        !err.contains(server::PASSWORD) && !err.contains('\n'),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_disable_is_refused_by_a_tls_only_server() {
    let server = TlsPostgres::start().await;
    let url = server.url(SUPERUSER, "localhost", "wizreg", "sslmode=disable");
    let err = connect(&url).await.expect_err("plain text connected");
    let db = err.as_db_error().expect("the server's own refusal");
    assert_eq!(
        db.code(),
        &tokio_postgres::error::SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    );
    assert!(db.message().contains("no encryption"), "{}", db.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_logs_in() {
    let server = TlsPostgres::start().await;
    let (cert, key) = server.ca.issue(&[CERT_USER]);
    let cert = server.file("client.crt", &cert);
    let key = server.file("client.key", &key);
    let ca = server.files.join("ca.pem");
    let tls = format!("sslmode=verify-full&sslrootcert={}", ca.display());
    let with_cert = format!(
        "postgresql://{CERT_USER}@localhost:{}/wizreg?{tls}&sslcert={}&sslkey={}",
        server.port,
        cert.display(),
        key.display()
    );
    let client = connect(&with_cert).await.expect("certificate login");
    let user: String = client
        .query_one("select current_user::text", &[])
        .await
        .expect("who")
        .get(0);
    assert_eq!(user, CERT_USER);

    // The certificate is what logs in: without it the same role is refused.
    let without = format!(
        "postgresql://{CERT_USER}@localhost:{}/wizreg?{tls}",
        server.port
    );
    let err = connect(&without)
        .await
        .expect_err("logged in without a certificate");
    assert!(reason(&err).contains("certificate"), "{}", reason(&err));
}
