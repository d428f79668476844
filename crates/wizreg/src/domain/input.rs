//! Reading a JSON object field by field, collecting one message per bad field, so a client
//! learns every mistake at once. Unknown fields are rejected (a typo must not be silently
//! ignored), and so is `tenant_id`: the tenant comes from the request, never from the body.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// Field name → what is wrong with it (for an import: `line` and `reason`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(example = json!({"email": "must be an email address such as name@example.org"}))]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }
    /// Records `message` for `field`, unless the field already has one (the first says most).
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }
    /// Every field at fault with its message, by field name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(field, message)| (field.as_str(), message.as_str()))
    }
}

impl<const N: usize> From<[(String, String); N]> for FieldErrors {
    fn from(pairs: [(String, String); N]) -> Self {
        Self(BTreeMap::from(pairs))
    }
}

/// A field's presence: PATCH tells "leave it" (absent) from "clear it" (null).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field<T> {
    Absent,
    Null,
    Value(T),
}

#[derive(Debug)]
pub struct Input {
    object: Map<String, Value>,
    errors: FieldErrors,
}

impl Input {
    pub fn new(object: Map<String, Value>) -> Self {
        Self {
            object,
            errors: FieldErrors::new(),
        }
    }

    /// The fields not read yet (all of them, before any read).
    pub fn remaining(&self) -> &Map<String, Value> {
        &self.object
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.add(field, message);
    }

    fn take(&mut self, field: &str) -> Field<Value> {
        match self.object.remove(field) {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(value) => Field::Value(value),
        }
    }

    /// A text field, checked by `rule`.
    pub fn text(&mut self, field: &str, rule: fn(&str) -> Result<String, String>) -> Field<String> {
        match self.take(field) {
            Field::Value(Value::String(s)) => match rule(&s) {
                Ok(v) => Field::Value(v),
                Err(message) => {
                    self.error(field, message);
                    Field::Absent
                }
            },
            Field::Value(_) => {
                self.error(field, "must be a string");
                Field::Absent
            }
            other => other.map_absent(),
        }
    }

    /// A UUID field.
    pub fn uuid(&mut self, field: &str) -> Field<Uuid> {
        match self.take(field) {
            Field::Value(Value::String(s)) => match Uuid::parse_str(&s) {
                Ok(id) => Field::Value(id),
                Err(_) => {
                    self.error(field, "must be a UUID");
                    Field::Absent
                }
            },
            Field::Value(_) => {
                self.error(field, "must be a UUID string");
                Field::Absent
            }
            other => other.map_absent(),
        }
    }

    /// A whole number within `range`.
    pub fn integer(&mut self, field: &str, range: std::ops::RangeInclusive<i64>) -> Field<i64> {
        match self.take(field) {
            Field::Value(Value::Number(n)) => match n.as_i64().filter(|v| range.contains(v)) {
                Some(v) => Field::Value(v),
                None => {
                    let message = format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    );
                    self.error(field, message);
                    Field::Absent
                }
            },
            Field::Value(_) => {
                self.error(field, "must be a number");
                Field::Absent
            }
            other => other.map_absent(),
        }
    }

    /// A field that must be present and not null.
    pub fn require<T>(&mut self, field: &str, value: Field<T>) -> Option<T> {
        match value {
            Field::Value(v) => Some(v),
            Field::Null => {
                self.error(field, "must not be null");
                None
            }
            Field::Absent => {
                self.error(field, "is required");
                None
            }
        }
    }

    /// A field that may be absent, but not null.
    pub fn require_if_present<T>(&mut self, field: &str, value: Field<T>) -> Option<T> {
        match value {
            Field::Absent => None,
            other => self.require(field, other),
        }
    }

    /// Ends the reading: any field left over is unknown.
    pub fn finish(mut self) -> Result<(), FieldErrors> {
        for field in std::mem::take(&mut self.object).keys() {
            let message = if field == "tenant_id" {
                "is set by the server from the request's tenant"
            } else {
                "is not a known field"
            };
            self.error(field, message);
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

impl Field<Value> {
    fn map_absent<T>(self) -> Field<T> {
        match self {
            Field::Null => Field::Null,
            _ => Field::Absent,
        }
    }
}

/// A display name: 1 to 200 characters, not blank, no control characters.
pub fn name_rule(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().count() > 200 {
        return Err("must be at most 200 characters".into());
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}

/// An email address, stored lower-cased so uniqueness ignores case.
pub fn email_rule(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let valid = email.chars().count() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if valid {
        Ok(email)
    } else {
        Err("must be an email address such as name@example.org".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name_rule("  Harry Potter "), Ok("Harry Potter".into()));
        assert!(name_rule("").is_err());
        assert!(name_rule("   ").is_err());
        assert!(name_rule(&"x".repeat(200)).is_ok());
        assert!(name_rule(&"x".repeat(201)).is_err());
        assert!(name_rule("a\0b").is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(
            email_rule("Harry@Hogwarts.ac.uk"),
            Ok("harry@hogwarts.ac.uk".into())
        );
        for bad in [
            "",
            "harry",
            "@hogwarts.uk",
            "harry@",
            "harry@hogwarts",
            "a b@c.d",
            "a@b@c.d",
            "a@.b",
        ] {
            assert!(email_rule(bad).is_err(), "{bad}");
        }
    }
}
