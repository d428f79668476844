//! Splits an NDJSON body or file into numbered lines, holding one line at a time, with limits
//! on the length of a line and of the whole input (so neither an HTTP client nor a damaged file
//! can make the process buffer without bound).

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// The longest line accepted. Records are far smaller (a student line is about 300 bytes).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Why the input could not be read as lines.
#[derive(Debug, thiserror::Error)]
pub enum LinesError {
    #[error("line {line} is longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong { line: u64 },
    #[error("line {line} is not UTF-8")]
    NotUtf8 { line: u64 },
    #[error("the input is larger than {max_bytes} bytes")]
    TooLarge { max_bytes: u64 },
    #[error("the input could not be read: {0}")]
    Io(#[from] std::io::Error),
}

/// Numbered lines of an async reader.
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    buffer: Vec<u8>,
    number: u64,
    bytes_read: u64,
    max_bytes: u64,
}

impl<R: AsyncBufRead + Unpin> Lines<R> {
    /// `max_bytes` bounds the whole input.
    pub fn new(reader: R, max_bytes: u64) -> Self {
        Self {
            reader,
            buffer: Vec::new(),
            number: 0,
            bytes_read: 0,
            max_bytes,
        }
    }

    /// How many lines were read so far.
    pub fn line_count(&self) -> u64 {
        self.number
    }

    /// Bytes read so far (for progress).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// The next line without its line ending, with its 1-based number; `None` at the end.
    pub async fn next_line(&mut self) -> Result<Option<(u64, &str)>, LinesError> {
        self.buffer.clear();
        let limit = MAX_LINE_BYTES as u64 + 2; // room for "\r\n"
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buffer)
            .await?;
        if read == 0 {
            return Ok(None);
        }
        self.number += 1;
        self.bytes_read += read as u64;
        if self.bytes_read > self.max_bytes {
            return Err(LinesError::TooLarge {
                max_bytes: self.max_bytes,
            });
        }
        if self.buffer.last() == Some(&b'\n') {
            self.buffer.pop();
            if self.buffer.last() == Some(&b'\r') {
                self.buffer.pop();
            }
        }
        if self.buffer.len() > MAX_LINE_BYTES {
            return Err(LinesError::LineTooLong { line: self.number });
        }
        let line = std::str::from_utf8(&self.buffer)
            .map_err(|_| LinesError::NotUtf8 { line: self.number })?;
        Ok(Some((self.number, line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_numbered_and_limited() {
        let mut lines = Lines::new(&b"a\r\nb\n\nc"[..], 1024);
        let mut seen = Vec::new();
        while let Some((n, line)) = lines.next_line().await.expect("readable") {
            seen.push((n, line.to_owned()));
        }
        assert_eq!(
            seen,
            [(1, "a"), (2, "b"), (3, ""), (4, "c")].map(|(n, l)| (n, l.to_owned()))
        );

        let long = vec![b'x'; MAX_LINE_BYTES + 1];
        let mut lines = Lines::new(&long[..], u64::MAX);
        assert!(matches!(
            lines.next_line().await,
            Err(LinesError::LineTooLong { line: 1 })
        ));

        let mut lines = Lines::new(&b"aaaa\nbbbb\n"[..], 6);
        assert!(lines.next_line().await.is_ok());
        assert!(matches!(
            lines.next_line().await,
            Err(LinesError::TooLarge { .. })
        ));
    }
}
