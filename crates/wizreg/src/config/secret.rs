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

impl Secret {
    /// Reads a generated secret kept in `path`, or creates one: `prefix` then 256 random bits
    /// in hex, in a file of mode 0600. Returns it and whether it was created just now.
    ///
    /// The file is written aside, then hard-linked into place, so a concurrent reader never
    /// sees a partial file, and of two processes starting at once the second adopts the first
    /// one's secret. A file holding fewer than `min_len` characters (an empty one left by a
    /// crash, or an edit) is refused rather than used: an empty secret would match anything
    /// that presents none.
    pub fn load_or_create(
        path: &std::path::Path,
        prefix: &str,
        min_len: usize,
    ) -> std::io::Result<(Self, bool)> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let read = |path: &std::path::Path| -> std::io::Result<Self> {
            let text = std::fs::read_to_string(path)?;
            if text.trim().len() < min_len {
                return Err(std::io::Error::other(format!(
                    "{} holds no usable secret; delete it to generate a new one",
                    path.display()
                )));
            }
            Ok(Self::new(text.trim()))
        };
        if path.exists() {
            return read(path).map(|secret| (secret, false));
        }
        let staged = path.with_extension(format!("{}.tmp", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&staged)?;
        file.write_all(format!("{prefix}{}", hex::encode(rand::random::<[u8; 32]>())).as_bytes())?;
        file.sync_all()?;
        let linked = std::fs::hard_link(&staged, path);
        std::fs::remove_file(&staged)?;
        match linked {
            Ok(()) => read(path).map(|secret| (secret, true)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                read(path).map(|secret| (secret, false))
            }
            Err(e) => Err(e),
        }
    }
}
