//! Moving a school between deployments: the NDJSON export format, and reading it back.
//!
//! An export is one JSON record a line, in a fixed order, so that exporting the same data twice
//! gives the same bytes:
//!
//! ```text
//! {"type":"tenant","format":1,"id":"…","slug":"hogwarts","name":"Hogwarts"}
//! {"type":"house","id":"…","name":"Gryffindor","created_at":"…","updated_at":"…"}      (by id)
//! {"type":"student","id":"…","name":"…","email":null,"house_id":"…","created_at":"…","updated_at":"…"}
//! {"type":"end","houses":4,"students":1000}
//! ```
//!
//! Records carry no `tenant_id`: an import always writes into the school it is run for. The
//! closing `end` record lets an import tell a complete file from a truncated one. API keys and
//! idempotency records are not exported: keys are hashed with the source deployment's secret and
//! are reissued after a move; idempotency records are short-lived retry state.
//!
//! Both directions run through the ordinary tenant transaction ([`tenancy::TenantTx`]), as the
//! runtime role under the school's RLS policy, never through a privileged connection.

mod batch;
pub mod export;
pub mod import;
pub mod lines;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The export format's version, in the tenant record. An import refuses any other.
pub const FORMAT: u32 = 1;

/// One line of an export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Tenant(TenantLine),
    House(HouseLine),
    Student(StudentLine),
    End(EndLine),
}

/// The school the file came from. An import uses it to create the school when asked to
/// (`wizreg tenant import`); its status and dates belong to the deployment, not the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantLine {
    pub format: u32,
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseLine {
    pub id: Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentLine {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub house_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The last line: how many records came before it, so truncation is caught.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndLine {
    pub houses: u64,
    pub students: u64,
}

impl Record {
    /// The record as one NDJSON line, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("records always serialize");
        line.push(b'\n');
        line
    }
}

/// Reads the first record of an export, which names the school it came from.
pub fn parse_tenant_line(line: &[u8]) -> Result<TenantLine, String> {
    match serde_json::from_slice::<Record>(line) {
        Ok(Record::Tenant(tenant)) => Ok(tenant),
        Ok(_) => Err("an export starts with its tenant record".into()),
        Err(err) => Err(describe_json_error(&err)),
    }
}

/// A reason a person can act on, without serde's position suffix (the line is already named).
pub fn describe_json_error(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.find(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_tagged_lines_in_a_fixed_field_order() {
        let house = Record::House(HouseLine {
            id: Uuid::nil(),
            name: "Gryffindor".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
        });
        let line = String::from_utf8(house.to_line()).expect("utf-8");
        assert_eq!(
            line,
            "{\"type\":\"house\",\"id\":\"00000000-0000-0000-0000-000000000000\",\"name\":\"Gryffindor\",\"created_at\":\"1970-01-01T00:00:00Z\",\"updated_at\":\"1970-01-01T00:00:00Z\"}\n"
        );
        assert_eq!(serde_json::from_str::<Record>(&line).ok(), Some(house));
    }

    #[test]
    fn unknown_fields_and_types_are_refused_with_a_reason() {
        let extra = br#"{"type":"end","houses":0,"students":0,"tenant_id":"x"}"#;
        let err = serde_json::from_slice::<Record>(extra).expect_err("unknown field");
        assert!(describe_json_error(&err).contains("tenant_id"));
        let unknown = br#"{"type":"wand","id":"x"}"#;
        let err = serde_json::from_slice::<Record>(unknown).expect_err("unknown type");
        assert!(describe_json_error(&err).contains("wand"));
    }
}
