//! The platform's inputs: the bodies of `POST /admin/tenants` and `PATCH /admin/tenants/{id}`,
//! parsed field by field like the school data's, and described to OpenAPI by the same types.

use tenancy::{Slug, TenantId};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::ToSchema;

use super::input::{name_rule, Field, FieldErrors, Input};
use crate::registry::TenantStatus;

/// The longest statement timeout a school may be given, in milliseconds (10 minutes).
pub const MAX_STATEMENT_TIMEOUT_MS: i64 = 600_000;

/// A new school: the body of `POST /admin/tenants`.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)] // Only for the schema: `Input::finish` refuses unknown fields.
pub struct NewTenant {
    /// Keeps the id of a school moved from another deployment (see the export's tenant
    /// record); a new UUIDv7 when absent or null.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub id: Option<TenantId>,
    #[schema(schema_with = slug_schema)]
    pub slug: Slug,
    /// 1 to 200 characters once trimmed; the slug when absent.
    #[schema(value_type = String, required = false, min_length = 1, max_length = 200,
        example = "Hogwarts School of Witchcraft and Wizardry")]
    pub name: Option<String>,
}

impl NewTenant {
    pub fn parse(mut input: Input) -> Result<Self, FieldErrors> {
        let slug = input.text("slug", |raw| {
            Slug::parse(raw)
                .map(|s| s.to_string())
                .map_err(|e| e.to_string())
        });
        let slug = input.require("slug", slug);
        let name = input.text("name", name_rule);
        let name = input.require_if_present("name", name);
        let id = match input.uuid("id") {
            Field::Value(id) => Some(TenantId::from_uuid(id)),
            _ => None,
        };
        input.finish()?;
        // Parsed once above already; this only turns the checked text back into a `Slug`.
        let slug = Slug::parse(&slug.unwrap_or_default())
            .map_err(|e| FieldErrors::from([("slug".to_owned(), e.to_string())]))?;
        Ok(Self { id, slug, name })
    }
}

/// A change to a school: the body of `PATCH /admin/tenants/{id}`. An absent field stays as it is.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)] // Only for the schema: `Input::finish` refuses unknown fields.
pub struct TenantPatch {
    /// `suspended` stops the school's requests at once (`403 tenant_suspended`), on every server.
    #[schema(value_type = TenantStatus, required = false)]
    pub status: Option<TenantStatus>,
    /// 1 to 200 characters once trimmed; cannot be cleared.
    #[schema(value_type = String, required = false, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// This school's own statement timeout (1 to 600000 ms); `null` returns it to the default.
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 600000)]
    pub statement_timeout_ms: Field<i32>,
}

impl TenantPatch {
    pub fn parse(mut input: Input) -> Result<Self, FieldErrors> {
        let status = match input.text("status", |s| match s {
            "active" | "suspended" => Ok(s.to_owned()),
            _ => Err("must be \"active\" or \"suspended\"".into()),
        }) {
            Field::Value(s) if s == "suspended" => Some(TenantStatus::Suspended),
            Field::Value(_) => Some(TenantStatus::Active),
            Field::Null => {
                input.error("status", "must not be null");
                None
            }
            Field::Absent => None,
        };
        let name = input.text("name", name_rule);
        let name = input.require_if_present("name", name);
        let statement_timeout_ms =
            match input.integer("statement_timeout_ms", 1..=MAX_STATEMENT_TIMEOUT_MS) {
                Field::Value(ms) => i32::try_from(ms).map_or(Field::Absent, Field::Value),
                Field::Null => Field::Null,
                Field::Absent => Field::Absent,
            };
        input.finish()?;
        Ok(Self {
            status,
            name,
            statement_timeout_ms,
        })
    }
}

/// The regular expression of a slug: a DNS label in lower case.
pub const SLUG_PATTERN: &str = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$";
/// What a slug may not look like: a hyphenated UUID, which would name a school by id instead.
pub const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

/// A slug's schema. JSON Schema's `not` (never UUID-shaped) has no builder in utoipa, so it
/// goes in through the object's extension map, which is serialised flat into the schema.
pub fn slug_schema() -> Schema {
    let not_uuid = serde_json::json!({ "pattern": UUID_PATTERN });
    let mut schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(63))
        .pattern(Some(SLUG_PATTERN))
        .description(Some(
            "A DNS label in lower case (upper case is folded), never shaped like a UUID; \
             unique, and free again once its school is deleted",
        ))
        .examples([serde_json::json!("hogwarts")])
        .build();
    schema
        .extensions
        .get_or_insert_with(Default::default)
        .insert("not".to_owned(), not_uuid);
    Schema::Object(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> Input {
        match json {
            serde_json::Value::Object(map) => Input::new(map),
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn a_new_school_needs_a_slug_and_takes_an_optional_name_and_id() {
        let parsed = NewTenant::parse(input(serde_json::json!({"slug": "Hogwarts"}))).expect("ok");
        assert_eq!(parsed.slug.as_str(), "hogwarts");
        assert_eq!((parsed.id, parsed.name), (None, None));
        let errors = NewTenant::parse(input(serde_json::json!({"name": null, "x": 1})))
            .expect_err("refused");
        for field in ["slug", "name", "x"] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
    }

    #[test]
    fn a_patch_tells_an_absent_timeout_from_a_cleared_one() {
        let cleared = TenantPatch::parse(input(serde_json::json!({"statement_timeout_ms": null})));
        assert_eq!(cleared.expect("ok").statement_timeout_ms, Field::Null);
        let absent = TenantPatch::parse(input(serde_json::json!({"status": "suspended"})));
        let absent = absent.expect("ok");
        assert_eq!(absent.statement_timeout_ms, Field::Absent);
        assert_eq!(absent.status, Some(TenantStatus::Suspended));
        let too_long =
            TenantPatch::parse(input(serde_json::json!({"statement_timeout_ms": 600001})));
        assert!(too_long
            .expect_err("refused")
            .get("statement_timeout_ms")
            .is_some());
    }
}
