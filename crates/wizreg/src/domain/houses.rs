//! Houses: groups of students within one school. Names are unique per school only.

use serde::Serialize;
use tenancy::{DbError, DbErrorKind, Query};
use time::OffsetDateTime;
use tokio_postgres::types::Type;
use tokio_postgres::Row;
use utoipa::ToSchema;
use uuid::Uuid;

use super::input::{name_rule, FieldErrors, Input};
use super::violation::{Constraints, Violation};
use crate::json::{self, WriteJson};

/// A house of the calling school.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq)]
pub struct House {
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[schema(example = "Gryffindor")]
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
}

macro_rules! columns {
    () => {
        "id, tenant_id, name, created_at, updated_at"
    };
}

impl WriteJson for House {
    const TYPICAL_LEN: usize = 224;

    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), time::error::Format> {
        // The fields in the order (and with the names) `Serialize` gives them.
        json::record_head(out, &self.id, &self.tenant_id, &self.name);
        json::record_tail(out, &self.created_at, &self.updated_at)
    }
}

impl House {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get(0),
            tenant_id: row.get(1),
            name: row.get(2),
            created_at: row.get(3),
            updated_at: row.get(4),
        }
    }
}

/// A new house: the body of `POST /houses`.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)] // Only for the schema: `Input::finish` refuses unknown fields.
pub struct NewHouse {
    /// 1 to 200 characters once trimmed; unique within the school.
    #[schema(example = "Gryffindor", min_length = 1, max_length = 200)]
    pub name: String,
}

impl NewHouse {
    pub fn parse(mut input: Input) -> Result<Self, FieldErrors> {
        let name = input.text("name", name_rule);
        let name = input.require("name", name);
        input.finish()?;
        Ok(Self {
            name: name.unwrap_or_default(),
        })
    }
}

/// A partial update: the body of `PATCH /houses/{id}`. Without `name` nothing changes.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)] // Only for the schema: `Input::finish` refuses unknown fields.
pub struct HousePatch {
    /// 1 to 200 characters once trimmed; unique within the school; cannot be cleared.
    #[schema(value_type = String, required = false, min_length = 1, max_length = 200, example = "Gryffindor")]
    pub name: Option<String>,
}

impl HousePatch {
    pub fn parse(mut input: Input) -> Result<Self, FieldErrors> {
        let name = input.text("name", name_rule);
        let name = input.require_if_present("name", name);
        input.finish()?;
        Ok(Self { name })
    }
}

pub fn insert(new: NewHouse) -> Query<House> {
    Query::new(concat!(
        "insert into wizreg.house (tenant_id, id, name) values ($1, $2, $3) returning ",
        columns!()
    ))
    .bind(Uuid::now_v7(), Type::UUID)
    .bind(new.name, Type::TEXT)
    // `insert … returning` gives back the row it wrote; no row would be the database's fault
    // (a trigger skipping the insert), an error rather than a panic.
    .map(|rows| one(rows)?.ok_or_else(|| DbError::of_kind(DbErrorKind::Other)))
}

pub fn get(id: Uuid) -> Query<Option<House>> {
    Query::new(concat!(
        "select ",
        columns!(),
        " from wizreg.house where tenant_id = $1 and id = $2"
    ))
    .bind(id, Type::UUID)
    .map(one)
}

/// Fetches `limit + 1` rows so the caller can tell whether a next page exists.
pub fn list(limit: i64, after: Uuid) -> Query<Vec<House>> {
    Query::new(concat!(
        "select ",
        columns!(),
        " from wizreg.house where tenant_id = $1 and id > $2 order by id limit $3"
    ))
    .bind(after, Type::UUID)
    .bind(limit + 1, Type::INT8)
    .map(|rows| Ok(rows.iter().map(House::from_row).collect()))
}

pub fn update(id: Uuid, patch: HousePatch) -> Query<Option<House>> {
    Query::new(concat!(
        "update wizreg.house set name = coalesce($3, name), updated_at = now()",
        " where tenant_id = $1 and id = $2 returning ",
        columns!()
    ))
    .bind(id, Type::UUID)
    .bind(patch.name, Type::TEXT)
    .map(one)
}

/// Whether a row was deleted. Its students stay, with no house. They are unhoused by the
/// statement itself, not only by the foreign key's `on delete set null`: Citus refuses that
/// action on a key that includes the distribution column, so there the key has none.
pub fn delete(id: Uuid) -> Query<bool> {
    Query::new(
        "with unhoused as (update wizreg.student set house_id = null where tenant_id = $1 and house_id = $2)
         delete from wizreg.house where tenant_id = $1 and id = $2 returning id",
    )
        .bind(id, Type::UUID)
        .map(|rows| Ok(!rows.is_empty()))
}

fn one(rows: Vec<Row>) -> Result<Option<House>, DbError> {
    Ok(rows.first().map(House::from_row))
}

/// What this module's constraints mean to a client.
pub const CONSTRAINTS: Constraints = &[(
    "house_name_key",
    Violation::Conflict("this school already has a house with this name"),
)];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_house_is_written_as_serde_json_writes_it() {
        for name in ["Gryffindor", "quote \" tab\t 💡"] {
            let house = House {
                id: Uuid::now_v7(),
                tenant_id: Uuid::now_v7(),
                name: name.to_owned(),
                created_at: OffsetDateTime::UNIX_EPOCH,
                updated_at: OffsetDateTime::now_utc(),
            };
            assert_eq!(
                house.to_json().expect("json"),
                serde_json::to_vec(&house).expect("json")
            );
        }
    }
}
