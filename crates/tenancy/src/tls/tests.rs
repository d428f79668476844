//! The connection-string half of libpq's TLS parameters: what `tokio-postgres` is left with,
//! and what the connector is asked for.

use tokio_postgres::config::SslMode as Postgres;

use super::params::split;
use super::*;

fn mode_of(conn: &str) -> (Postgres, SslMode) {
    let (config, tls) = parse(conn).expect("parses");
    (config.get_ssl_mode(), tls.mode())
}

#[test]
fn prefer_is_the_default_and_verifying_modes_become_require() {
    assert_eq!(
        mode_of("postgres://u@db/x"),
        (Postgres::Prefer, SslMode::Prefer)
    );
    assert_eq!(
        mode_of("postgres://u@db/x?sslmode=disable"),
        (Postgres::Disable, SslMode::Disable)
    );
    assert_eq!(
        mode_of("postgres://u@db/x?sslmode=require"),
        (Postgres::Require, SslMode::Require)
    );
    let (config, tls) =
        parse("host=db user=u sslmode=verify-full sslrootcert=system").expect("parses");
    assert_eq!(config.get_ssl_mode(), Postgres::Require);
    assert!(tls.verifies_certificate());
}

#[test]
fn verifying_without_a_root_certificate_is_refused_not_weakened() {
    for mode in ["verify-ca", "verify-full"] {
        let err = parse(&format!("postgres://u@db/x?sslmode={mode}")).expect_err("no root");
        assert!(err.to_string().contains("needs sslrootcert"), "{err}");
    }
}

#[test]
fn system_roots_default_to_verify_full_and_refuse_a_weaker_mode() {
    let (_, params) = split("postgres://db/x?sslrootcert=system").expect("splits");
    assert_eq!(params.mode, SslMode::VerifyFull);
    let err = split("postgres://db/x?sslrootcert=system&sslmode=require").expect_err("weak");
    assert!(err.to_string().contains("verify-full"), "{err}");
}

#[test]
fn other_parameters_pass_through_and_ours_are_decoded() {
    let (rest, params) = split(
        "postgresql://u:p%40ss@h1:5432,h2/db?application_name=a%20b&sslrootcert=%2Ftmp%2Fca.pem&sslmode=verify-ca&connect_timeout=3",
    )
    .expect("splits");
    assert_eq!(
        rest,
        "postgresql://u:p%40ss@h1:5432,h2/db?application_name=a%20b&connect_timeout=3"
    );
    assert_eq!(params.mode, SslMode::VerifyCa);
    assert_eq!(
        params.root_certs,
        Some(RootCerts::File("/tmp/ca.pem".into()))
    );
    let (rest, params) =
        split(r"host=db password='it\'s' sslmode = 'verify-full' sslcert=/c.pem sslkey=/k.pem")
            .expect("splits");
    assert_eq!(params.mode, SslMode::VerifyFull);
    assert_eq!(params.client_cert, Some(("/c.pem".into(), "/k.pem".into())));
    assert!(rest.contains("password='it\\'s'"), "{rest}");
    let config: tokio_postgres::Config = rest.parse().expect("tokio-postgres reads the rest");
    assert_eq!(config.get_password(), Some(&b"it's"[..]));
}

#[test]
fn a_certificate_without_its_key_and_unknown_modes_are_refused() {
    assert!(split("postgres://db/x?sslcert=/c.pem").is_err());
    assert!(split("postgres://db/x?sslmode=verify_full").is_err());
}

#[test]
fn sockets_never_use_tls_and_cannot_be_mixed_with_tcp_when_tls_is_required() {
    let (config, _) = parse("host=/run/pg user=u sslmode=require").expect("parses");
    assert_eq!(config.get_ssl_mode(), Postgres::Disable);
    assert!(parse("host=/run/pg,db user=u sslmode=require").is_err());
}

#[test]
fn a_missing_root_file_is_named() {
    let err = parse("postgres://db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
        .expect_err("missing");
    assert!(
        err.to_string()
            .starts_with("sslrootcert /nonexistent/ca.pem: cannot be read"),
        "{err}"
    );
}
