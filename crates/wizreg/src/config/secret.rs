//! [`Secret`]: a setting whose value must never reach a log line or `--help` output.

/// A secret setting: never printed by `Debug`, so it cannot leak into a log line.
#[derive(Clone)]
pub struct Secret(std::sync::Arc<str>);

impl Secret {
    pub fn new(value: &str) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        if value.len() < 16 {
            return Err("secrets must be at least 16 characters".into());
        }
        Ok(Self::new(value))
    }
}
