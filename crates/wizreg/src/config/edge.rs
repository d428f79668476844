//! `wizreg serve`'s connection edge: HTTPS, the separate operations listener, timeouts and
//! connection caps (what [`crate::edge`] enforces).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// How `serve` accepts and holds connections.
#[derive(Clone, Debug, Args)]
pub struct EdgeArgs {
    /// PEM certificate chain: with WIZREG_TLS_KEY, serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN).
    /// Reloaded when the file changes or on SIGHUP.
    #[arg(long, env = "WIZREG_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of WIZREG_TLS_CERT.
    #[arg(long, env = "WIZREG_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// A second, plain-HTTP listener for operations: `/metrics` without a token, `/healthz`,
    /// `/readyz`. A bare port means loopback (`9464` is `127.0.0.1:9464`); keep any other
    /// address on an internal network. Unset: none (then `/metrics` needs the admin token on
    /// the main listener).
    #[arg(long, env = "WIZREG_OPS_BIND", value_parser = ops_address)]
    pub ops_bind: Option<SocketAddr>,

    /// Seconds a new connection (TLS handshake included) has to send a complete request head,
    /// and any later request has from its first byte to the end of its head.
    #[arg(long, env = "WIZREG_HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,

    /// Seconds from a request's head to its response head, reading the body included. An
    /// import's deadline moves with each line received instead.
    #[arg(long, env = "WIZREG_REQUEST_TIMEOUT_SECS", default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,

    /// Seconds a connection may stay open with no request in flight after its last response.
    #[arg(long, env = "WIZREG_KEEP_ALIVE_TIMEOUT_SECS", default_value_t = 75,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_alive_timeout_secs: u64,

    /// Connections served at once. Beyond it a connection is answered `503 unavailable` and
    /// closed; far beyond it (or near the open-file limit) it is closed at once.
    #[arg(long, env = "WIZREG_MAX_CONNECTIONS", default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
}

/// `host:port`, or a bare port on loopback: the safe place for an unauthenticated listener.
fn ops_address(value: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = value.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    value
        .parse()
        .map_err(|_| format!("'{value}' is neither host:port nor a port"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::config::{Config, ServeArgs};

    #[derive(Parser)]
    struct Both {
        #[command(flatten)]
        config: Config,
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn open_auth_is_refused_off_loopback_with_https_too() {
        let both = Both::try_parse_from([
            "wizreg",
            "--auth",
            "open",
            "--bind",
            "0.0.0.0:3443",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ])
        .expect("valid flags");
        assert!(both.config.validate_for_serve(&both.serve).is_err());
    }

    #[test]
    fn a_certificate_needs_its_key_and_the_defaults_are_the_documented_ones() {
        assert!(Both::try_parse_from(["wizreg", "--tls-cert", "cert.pem"]).is_err());
        let edge = Both::try_parse_from(["wizreg"])
            .expect("defaults")
            .serve
            .edge;
        assert_eq!(
            (
                edge.header_read_timeout_secs,
                edge.request_timeout_secs,
                edge.keep_alive_timeout_secs,
                edge.max_connections,
                edge.ops_bind,
            ),
            (10, 30, 75, 10_000, None)
        );
    }

    #[test]
    fn a_bare_operations_port_listens_on_loopback() {
        let ops = |value: &str| {
            Both::try_parse_from(["wizreg", "--ops-bind", value])
                .map(|both| both.serve.edge.ops_bind.expect("set").to_string())
        };
        assert_eq!(ops("9464").expect("a port"), "127.0.0.1:9464");
        assert_eq!(ops("10.0.0.5:9464").expect("an address"), "10.0.0.5:9464");
        assert!(ops("metrics").is_err());
    }
}
