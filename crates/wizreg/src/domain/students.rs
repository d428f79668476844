//! Students: what a school enrols. Every query names `tenant_id = $1` (bound by the tenant
//! transaction) on top of the RLS policy.

use serde::Serialize;
use tenancy::{DbError, DbErrorKind, Query};
use time::OffsetDateTime;
use tokio_postgres::types::Type;
use tokio_postgres::Row;
use utoipa::ToSchema;
use uuid::Uuid;

use super::input::{email_rule, name_rule, Field, FieldErrors, Input};
use super::violation::{Constraints, Violation};
use crate::json::{self, WriteJson};

/// A student of the calling school.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq)]
pub struct Student {
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[schema(example = "Harry Potter")]
    pub name: String,
    pub email: Option<String>,
    pub house_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

macro_rules! columns {
    () => {
        "id, tenant_id, name, email, house_id, created_at, updated_at"
    };
}

impl WriteJson for Student {
    const TYPICAL_LEN: usize = 320;

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), time::error::Format> {
        // The fields in the order (and with the names) `Serialize` gives them.
        json::record_head(out, &self.id, &self.tenant_id, &self.name);
        out.extend_from_slice(b",\"email\":");
        json::optional_string(out, self.email.as_deref());
        out.extend_from_slice(b",\"house_id\":");
        json::optional_uuid(out, self.house_id.as_ref());
        json::record_tail(out, &self.created_at, &self.updated_at)
    }
}

impl Student {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get(0),
            tenant_id: row.get(1),
            name: row.get(2),
            email: row.get(3),
            house_id: row.get(4),
            created_at: row.get(5),
            updated_at: row.get(6),
        }
    }
}

/// A new student: the body of `POST /students`.
// The parser's own type is the OpenAPI schema, so the two cannot drift apart.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)] // Only for the schema: `Input::finish` refuses unknown fields.
pub struct NewStudent {
    /// 1 to 200 characters once surrounding whitespace is trimmed; no control characters.
    #[schema(example = "Harry Potter", min_length = 1, max_length = 200)]
    pub name: String,
    /// Stored lower-cased; unique within the school.
    #[schema(format = Email, max_length = 254, example = "harry@hogwarts.example")]
    pub email: Option<String>,
    /// A house of the same school.
    pub house_id: Option<Uuid>,
}

impl NewStudent {
    pub fn parse(mut input: Input) -> Result<Self, FieldErrors> {
        let name = input.text("name", name_rule);
        let name = input.require("name", name);
        let email = input.text("email", email_rule);
        let house_id = input.uuid("house_id");
        input.finish()?;
        Ok(Self {
            name: name.unwrap_or_default(),
            email: into_option(email),
            house_id: into_option(house_id),
        })
    }
}

/// A partial update: the body of `PATCH /students/{id}`. An absent field stays as it is; `null`
/// clears `email` or `house_id`.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)] // Only for the schema: `Input::finish` refuses unknown fields.
pub struct StudentPatch {
    /// 1 to 200 characters once trimmed; cannot be cleared.
    #[schema(value_type = String, required = false, min_length = 1, max_length = 200, example = "Harry James Potter")]
    name: Option<String>,
    /// Stored lower-cased; `null` clears it.
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    email: Field<String>,
    /// A house of the same school; `null` clears it.
    #[schema(value_type = Option<Uuid>)]
    house_id: Field<Uuid>,
}

impl StudentPatch {
    pub fn parse(mut input: Input) -> Result<Self, FieldErrors> {
        let name = input.text("name", name_rule);
        let name = input.require_if_present("name", name);
        let email = input.text("email", email_rule);
        let house_id = input.uuid("house_id");
        input.finish()?;
        Ok(Self {
            name,
            email,
            house_id,
        })
    }
}

fn into_option<T>(field: Field<T>) -> Option<T> {
    match field {
        Field::Value(v) => Some(v),
        _ => None,
    }
}

/// How much of a field a PATCH sets: `(set?, value)`.
fn patch_parts<T: Clone>(field: &Field<T>) -> (bool, Option<T>) {
    match field {
        Field::Absent => (false, None),
        Field::Null => (true, None),
        Field::Value(v) => (true, Some(v.clone())),
    }
}

/// One page of the list: ids after `after`, optionally filtered by a name substring.
#[derive(Debug)]
pub struct Page {
    pub limit: i64,
    pub after: Uuid,
    pub name_contains: String,
}

pub fn insert(new: NewStudent) -> Query<Student> {
    Query::new(concat!(
        "insert into wizreg.student (tenant_id, id, name, email, house_id) values ($1, $2, $3, $4, $5) returning ",
        columns!()
    ))
    .bind(Uuid::now_v7(), Type::UUID)
    .bind(new.name, Type::TEXT)
    .bind(new.email, Type::TEXT)
    .bind(new.house_id, Type::UUID)
    // `insert … returning` gives back the row it wrote; no row would be the database's fault
    // (a trigger skipping the insert), an error rather than a panic.
    .map(|rows| one(rows)?.ok_or_else(|| DbError::of_kind(DbErrorKind::Other)))
}

pub fn get(id: Uuid) -> Query<Option<Student>> {
    Query::new(concat!(
        "select ",
        columns!(),
        " from wizreg.student where tenant_id = $1 and id = $2"
    ))
    .bind(id, Type::UUID)
    .map(one)
}

/// Fetches `limit + 1` rows so the caller can tell whether a next page exists.
pub fn list(page: Page) -> Query<Vec<Student>> {
    Query::new(concat!(
        "select ",
        columns!(),
        " from wizreg.student where tenant_id = $1 and id > $2",
        " and ($3 = '' or strpos(lower(name), lower($3)) > 0) order by id limit $4"
    ))
    .bind(page.after, Type::UUID)
    .bind(page.name_contains, Type::TEXT)
    .bind(page.limit + 1, Type::INT8)
    .map(|rows| Ok(rows.iter().map(Student::from_row).collect()))
}

pub fn update(id: Uuid, patch: StudentPatch) -> Query<Option<Student>> {
    let (set_email, email) = patch_parts(&patch.email);
    let (set_house, house_id) = patch_parts(&patch.house_id);
    Query::new(concat!(
        "update wizreg.student set name = coalesce($3, name),",
        " email = case when $4 then $5 else email end,",
        " house_id = case when $6 then $7 else house_id end, updated_at = now()",
        " where tenant_id = $1 and id = $2 returning ",
        columns!()
    ))
    .bind(id, Type::UUID)
    .bind(patch.name, Type::TEXT)
    .bind(set_email, Type::BOOL)
    .bind(email, Type::TEXT)
    .bind(set_house, Type::BOOL)
    .bind(house_id, Type::UUID)
    .map(one)
}

/// Whether a row was deleted.
pub fn delete(id: Uuid) -> Query<bool> {
    Query::new("delete from wizreg.student where tenant_id = $1 and id = $2 returning id")
        .bind(id, Type::UUID)
        .map(|rows| Ok(!rows.is_empty()))
}

fn one(rows: Vec<Row>) -> Result<Option<Student>, DbError> {
    Ok(rows.first().map(Student::from_row))
}

/// What this module's constraints mean to a client.
pub const CONSTRAINTS: Constraints = &[
    (
        "student_email_key",
        Violation::Conflict("a student of this school already has this email"),
    ),
    (
        "student_house_fkey",
        Violation::Field {
            field: "house_id",
            message: "no such house in this school",
        },
    ),
];

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_student_is_written_as_serde_json_writes_it(
            name in any::<String>(),
            email in proptest::option::of(any::<String>()),
            house in proptest::option::of(any::<u128>()),
            created in -62_167_219_200i64..253_402_300_800,
            nanos in 0u32..1_000_000_000,
        ) {
            let at = OffsetDateTime::from_unix_timestamp(created).expect("in range")
                .replace_nanosecond(nanos).expect("in range");
            let student = Student {
                id: Uuid::now_v7(),
                tenant_id: Uuid::now_v7(),
                name,
                email,
                house_id: house.map(Uuid::from_u128),
                created_at: at,
                updated_at: OffsetDateTime::now_utc(),
            };
            let page = vec![student.clone(), student.clone()];
            prop_assert_eq!(student.to_json().expect("json"), serde_json::to_vec(&student).expect("json"));
            prop_assert_eq!(page.to_json().expect("json"), serde_json::to_vec(&page).expect("json"));
        }
    }
}
