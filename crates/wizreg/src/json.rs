//! Hand-written JSON for the answers the API sends most (a student, a page of students, a
//! house): byte for byte what `serde_json` writes for their `Serialize` impls, written straight
//! into one buffer sized up front.
//!
//! Why not `serde_json`: it sends every key and value through its string escaper (about a fifth
//! of a list's server instructions), though keys are constants and UUIDs and RFC 3339
//! timestamps never need escaping; and a response buffer that starts small is grown and copied
//! several times for a page. Free text (names, emails) still goes through `serde_json`'s
//! escaper. The tests hold every writer to `serde_json`'s own output.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

/// A value that writes itself as JSON.
pub trait WriteJson {
    /// About how many bytes one value takes (a buffer for a page is sized from it).
    const TYPICAL_LEN: usize;

    /// Appends the value's JSON to `out`. Fails only for a timestamp RFC 3339 cannot express
    /// (a year past 9999), as `serde_json` does.
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), time::error::Format>;

    /// The value's JSON in a buffer of its own.
    fn to_json(&self) -> Result<Vec<u8>, time::error::Format> {
        let mut out = Vec::with_capacity(Self::TYPICAL_LEN);
        self.write_json(&mut out)?;
        Ok(out)
    }
}

impl<T: WriteJson> WriteJson for Vec<T> {
    const TYPICAL_LEN: usize = 2;

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), time::error::Format> {
        out.reserve(2 + self.len() * (T::TYPICAL_LEN + 1));
        out.push(b'[');
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            item.write_json(out)?;
        }
        out.push(b']');
        Ok(())
    }
}

/// The opening every tenant record shares: `{"id":…,"tenant_id":…,"name":…` (the object
/// left open for the record's own fields).
pub fn record_head(out: &mut Vec<u8>, id: &Uuid, tenant_id: &Uuid, name: &str) {
    out.extend_from_slice(b"{\"id\":");
    uuid(out, id);
    out.extend_from_slice(b",\"tenant_id\":");
    uuid(out, tenant_id);
    out.extend_from_slice(b",\"name\":");
    string(out, name);
}

/// The closing every tenant record shares: `,"created_at":…,"updated_at":…}`.
pub fn record_tail(
    out: &mut Vec<u8>,
    created_at: &OffsetDateTime,
    updated_at: &OffsetDateTime,
) -> Result<(), time::error::Format> {
    out.extend_from_slice(b",\"created_at\":");
    timestamp(out, created_at)?;
    out.extend_from_slice(b",\"updated_at\":");
    timestamp(out, updated_at)?;
    out.push(b'}');
    Ok(())
}

/// A UUID as a quoted, hyphenated, lower-case string.
pub fn uuid(out: &mut Vec<u8>, id: &Uuid) {
    let mut buffer = Uuid::encode_buffer();
    out.push(b'"');
    out.extend_from_slice(id.hyphenated().encode_lower(&mut buffer).as_bytes());
    out.push(b'"');
}

/// A UUID, or `null`.
pub fn optional_uuid(out: &mut Vec<u8>, id: Option<&Uuid>) {
    match id {
        Some(id) => uuid(out, id),
        None => out.extend_from_slice(b"null"),
    }
}

/// Free text, escaped as `serde_json` escapes it.
pub fn string(out: &mut Vec<u8>, text: &str) {
    // Writing a `str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Free text, or `null`.
pub fn optional_string(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// A timestamp as `time::serde::rfc3339` writes it, quoted. Times from the database are UTC
/// and take the short path (the digits written straight from the date and time of day);
/// anything else goes through `time`'s own formatter.
pub fn timestamp(out: &mut Vec<u8>, at: &OffsetDateTime) -> Result<(), time::error::Format> {
    let year = at.year();
    if !(at.offset().is_utc() && (0..10_000).contains(&year)) {
        out.push(b'"');
        at.format_into(out, &Rfc3339)?;
        out.push(b'"');
        return Ok(());
    }
    let (_, month, day) = at.to_calendar_date();
    let (hour, minute, second, nanos) = at.to_hms_nano();
    // `"YYYY-MM-DDTHH:MM:SS` then `.` and up to nine digits, then `Z"`.
    let mut text = *b"\"0000-00-00T00:00:00.000000000Z\"";
    let year = year.unsigned_abs();
    text[1..5].copy_from_slice(&[
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
    ]);
    for (at, value) in [
        (6, u8::from(month)),
        (9, day),
        (12, hour),
        (15, minute),
        (18, second),
    ] {
        text[at] = digit(u32::from(value / 10));
        text[at + 1] = digit(u32::from(value));
    }
    if nanos == 0 {
        out.extend_from_slice(&text[..20]);
    } else {
        let mut rest = nanos;
        for place in text[21..30].iter_mut().rev() {
            *place = digit(rest);
            rest /= 10;
        }
        // As `time` does: the fraction without its trailing zeros (it has a nonzero digit).
        let mut end = 30;
        while text[end - 1] == b'0' {
            end -= 1;
        }
        out.extend_from_slice(&text[..end]);
    }
    out.extend_from_slice(b"Z\"");
    Ok(())
}

/// The last decimal digit of `value`, as ASCII.
fn digit(value: u32) -> u8 {
    b'0' + (value % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writers_write_what_serde_json_writes() {
        let id = Uuid::now_v7();
        let mut out = Vec::new();
        uuid(&mut out, &id);
        assert_eq!(out, serde_json::to_vec(&id).expect("json"));
        for text in [
            "plain",
            "quote \" and \\ back",
            "tab\t\u{1} nul\0",
            "é 💡 \u{2028}",
        ] {
            let mut out = Vec::new();
            string(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).expect("json"), "{text:?}");
        }
        for at in [
            OffsetDateTime::now_utc(),
            OffsetDateTime::UNIX_EPOCH,
            OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_120_000_000).expect("time"),
            OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_000_000_001).expect("time"),
            OffsetDateTime::now_utc().to_offset(time::macros::offset!(+2)),
            OffsetDateTime::now_utc().to_offset(time::macros::offset!(-9:30)),
        ] {
            #[derive(serde::Serialize)]
            struct At(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);
            let mut out = Vec::new();
            timestamp(&mut out, &at).expect("formats");
            assert_eq!(out, serde_json::to_vec(&At(at)).expect("json"), "{at}");
        }
    }
}
