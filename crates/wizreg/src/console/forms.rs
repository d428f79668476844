//! From HTML forms to the API's input rules and back: form fields become the same [`Input`]
//! the JSON handlers parse (so the console validates exactly as the API does), and the API's
//! errors become messages next to the fields.

use serde_json::{Map, Value};

use super::pages::Problem;
use crate::domain::input::{FieldErrors, Input};
use crate::http::error::{ApiError, ErrorCode};

/// How an empty text box is read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Blank {
    /// Left out, as a JSON body without the field (creating: nothing to set).
    Absent,
    /// `null`, as a PATCH that clears the field (editing: the box was emptied).
    Null,
    /// Kept as an empty string, so the rule says what is missing (a required name).
    Keep,
}

/// The JSON object a form stands for.
pub(crate) fn input(fields: &[(&str, &str, Blank)]) -> Input {
    let mut object = Map::new();
    for (name, value, blank) in fields {
        let value = match (value.trim().is_empty(), blank) {
            (true, Blank::Absent) => continue,
            (true, Blank::Null) => Value::Null,
            _ => Value::String((*value).to_owned()),
        };
        object.insert((*name).to_owned(), value);
    }
    Input::new(object)
}

/// The messages to show next to the fields for an API error, or the page to show instead
/// when the error belongs to no field. A conflict (a taken email, slug or name) is shown
/// next to `conflict_field`.
pub(crate) fn field_errors(err: ApiError, conflict_field: &str) -> Result<FieldErrors, Problem> {
    if err.code() == ErrorCode::Conflict {
        let message = format!("is already taken ({})", err.message());
        return Ok(FieldErrors::from([(conflict_field.to_owned(), message)]));
    }
    match err.fields() {
        Some(fields) if err.code() == ErrorCode::ValidationFailed => {
            let mut shown = FieldErrors::new();
            for (field, message) in fields.iter() {
                // The database's word for a house of another school or none: say it plainly.
                let message = if field == "house_id" {
                    "must be one of this school's houses"
                } else {
                    message
                };
                shown.add(field, message);
            }
            Ok(shown)
        }
        _ => Err(Problem::from_api(&err)),
    }
}
