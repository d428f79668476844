//! libpq's TLS parameters read out of a connection string, and the string handed on to
//! `tokio-postgres` without them.
//!
//! `tokio-postgres` knows `sslmode` only as `disable`, `prefer` or `require` and refuses the
//! other parameters, so they are taken out here and the mode it sees is translated: every
//! verifying mode becomes its `require`, which never falls back to plain text. Both forms libpq
//! accepts are read: URLs (`postgresql://…?sslmode=verify-full`) and `key=value` strings.

use std::borrow::Cow;
use std::path::PathBuf;

use super::TlsError;

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain text only.
    Disable,
    /// TLS when the server offers it, without checking its certificate; plain text otherwise.
    #[default]
    Prefer,
    /// TLS or nothing; the certificate is checked only when a root certificate is given.
    Require,
    /// TLS, with the server's certificate chain checked against the root certificates.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, TlsError> {
        Ok(match value {
            "disable" => Self::Disable,
            // `allow` tries plain text first; treating it as `prefer` only adds protection.
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(TlsError::Parameter(format!(
                "sslmode \"{other}\" is not one of disable, prefer, require, verify-ca, verify-full"
            )))
            }
        })
    }

    /// The word in a connection string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// Where the trusted root certificates come from (`sslrootcert`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootCerts {
    /// A PEM file of CA certificates.
    File(PathBuf),
    /// The platform's trust store (`sslrootcert=system`).
    System,
}

/// The TLS part of a connection string, with libpq's defaults applied.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TlsParams {
    /// The mode asked for (libpq's default: `prefer`).
    pub mode: SslMode,
    /// `sslrootcert`, or libpq's default file `~/.postgresql/root.crt` when it exists.
    pub root_certs: Option<RootCerts>,
    /// `sslcert` and `sslkey`: a client certificate chain and its private key (PEM).
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

const OURS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// Splits `conn` into the string `tokio-postgres` may parse (without libpq's TLS parameters)
/// and those parameters.
pub(super) fn split(conn: &str) -> Result<(String, TlsParams), TlsError> {
    let (rest, pairs) = if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        split_url(conn)?
    } else {
        split_key_values(conn)?
    };
    let value = |key: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let root_certs = match value("sslrootcert") {
        Some("system") => Some(RootCerts::System),
        Some(path) => Some(RootCerts::File(PathBuf::from(path))),
        None => default_root_file().map(RootCerts::File),
    };
    let mode = match value("sslmode") {
        Some(mode) => SslMode::parse(mode)?,
        // libpq: the platform's roots are only worth using with the host name checked.
        None if root_certs == Some(RootCerts::System) => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    if root_certs == Some(RootCerts::System) && mode != SslMode::VerifyFull {
        return Err(TlsError::Parameter(format!(
            "sslmode \"{}\" may not be used with sslrootcert=system (use verify-full)",
            mode.as_str()
        )));
    }
    let client_cert = match (value("sslcert"), value("sslkey")) {
        (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
        (None, None) => None,
        (Some(_), None) => {
            return Err(TlsError::Parameter(
                "sslcert is set but sslkey is not".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(TlsError::Parameter(
                "sslkey is set but sslcert is not".into(),
            ))
        }
    };
    Ok((
        rest,
        TlsParams {
            mode,
            root_certs,
            client_cert,
        },
    ))
}

/// libpq reads `~/.postgresql/root.crt` when no `sslrootcert` is given and the file exists.
fn default_root_file() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("HOME")?).join(".postgresql/root.crt");
    path.is_file().then_some(path)
}

type Pairs = Vec<(String, String)>;

/// `scheme://authority/db?a=b&c=d`: our parameters leave the query, the rest stays verbatim.
fn split_url(url: &str) -> Result<(String, Pairs), TlsError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), Vec::new()));
    };
    let mut kept = Vec::new();
    let mut ours = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key_text = percent_decode(key)?;
        if OURS.contains(&key_text.as_ref()) {
            ours.push((key_text.into_owned(), percent_decode(value)?.into_owned()));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, ours))
}

fn percent_decode(text: &str) -> Result<Cow<'_, str>, TlsError> {
    if !text.contains('%') {
        return Ok(Cow::Borrowed(text));
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or_else(|| TlsError::Parameter("a bad %-escape in the URL".into()))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| TlsError::Parameter("a %-escape in the URL is not UTF-8".into()))
}

/// `host=a port=5432 sslmode='verify-full'`: parsed the way libpq does (values may be quoted,
/// with `\'` and `\\` inside quotes), our keys removed, the rest written back quoted.
fn split_key_values(conn: &str) -> Result<(String, Pairs), TlsError> {
    let bad = || TlsError::Parameter("the connection string is not a list of key=value".into());
    let mut chars = conn.chars().peekable();
    let mut kept = Vec::new();
    let mut ours = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        chars.next_if_eq(&'=').ok_or_else(bad)?;
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next().ok_or_else(bad)? {
                    '\'' => break,
                    '\\' => value.push(chars.next().ok_or_else(bad)?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                value.push(if c == '\\' {
                    chars.next().ok_or_else(bad)?
                } else {
                    c
                });
            }
        }
        if OURS.contains(&key.as_str()) {
            ours.push((key, value));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            kept.push(format!("{key}='{quoted}'"));
        }
    }
    Ok((kept.join(" "), ours))
}
