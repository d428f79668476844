//! The OpenAPI 3.1 document, generated from the code: each handler's annotation describes what
//! is particular to it (its id, summary, parameters, body and success answer); [`answers`]
//! adds what every route of a kind shares (credentials, the refusals the extractors and layers
//! give before a handler runs, and the headers every answer carries), from one table, so a new
//! route gets them too. The input schemas are the parsers' own types.

mod answers;

use answers::SharedAnswers;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, error, houses, metrics, ops, students};
use crate::{domain, registry};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Wizreg",
        description = "A multi-tenant school registry. Each school's data is isolated by PostgreSQL Row Level Security.

**Naming the school.** A school route serves the school its credential belongs to (`Authorization: Bearer <API key or JWT>`, when the server asks for one); else the one the `X-Tenant` header names (UUID or slug); else the one the Host names (`<slug>.<base domain>`). A credential with an `X-Tenant` or Host naming another school is `403 tenant_mismatch`.

**Errors** are always `{\"error\": {\"code\", \"message\", \"fields\"?}}` (`ErrorBody`): `code` is one of `ErrorCode`, `fields` names each bad field. `429` and `503` carry `Retry-After` (seconds); `401` carries `WWW-Authenticate: Bearer`; `405` carries `Allow`.

**Pagination.** Lists are oldest first, a page at a time. While a page comes back with `X-Next-Cursor`, pass its value as `after` to get the next page; `Link: <…>; rel=\"next\"` carries the same as a URL.

**Every answer** carries `X-Request-Id` (the request's own when it sent a plain one, else a new one), also written in the server's log line for the request."
    ),
    servers((url = "/", description = "The server this document was fetched from")),
    tags(
        (name = "students", description = "A school's students (school routes: the school comes from the credential, `X-Tenant` or Host)"),
        (name = "houses", description = "A school's houses (school routes)"),
        (name = "tenants", description = "Schools: create, list, change and delete them at runtime (admin token)"),
        (name = "api-keys", description = "API keys bound to one school (admin token)"),
        (name = "portability", description = "A school as NDJSON: export, and import into an empty school (admin token)"),
        (name = "shards", description = "A school's shards on a Citus cluster: placement, isolation and moves (admin token)"),
        (name = "operations", description = "Liveness, readiness, metrics and this document (public)"),
    ),
    paths(
        students::create,
        students::list,
        students::get,
        students::update,
        students::delete,
        houses::create,
        houses::list,
        houses::get,
        houses::update,
        houses::delete,
        admin::tenants::create,
        admin::tenants::list,
        admin::tenants::get,
        admin::tenants::update,
        admin::tenants::delete,
        admin::portability::export,
        admin::portability::import,
        admin::api_keys::create,
        admin::api_keys::list,
        admin::api_keys::revoke,
        admin::shards::placement,
        admin::shards::isolate,
        admin::shards::move_to,
        ops::healthz,
        ops::readyz,
        ops::openapi,
        metrics::metrics_text,
    ),
    components(schemas(
        domain::students::Student,
        domain::students::NewStudent,
        domain::students::StudentPatch,
        domain::houses::House,
        domain::houses::NewHouse,
        domain::houses::HousePatch,
        domain::tenants::NewTenant,
        domain::tenants::TenantPatch,
        domain::input::FieldErrors,
        registry::TenantRecord,
        registry::TenantStatus,
        admin::portability::ImportedCounts,
        admin::portability::NdjsonBody,
        admin::api_keys::IssuedApiKey,
        crate::auth::key_store::ApiKeySummary,
        admin::shards::MoveInput,
        crate::shards::TenantPlacement,
        crate::shards::TableShard,
        crate::shards::ShardChange,
        error::ErrorBody,
        error::ErrorDetail,
        error::ErrorCode,
        ops::Health,
    )),
    modifiers(&SecuritySchemes, &SharedAnswers)
)]
pub struct ApiDoc;

/// Declares the bearer schemes [`answers`] requires on each kind of route.
#[derive(Debug)]
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            answers::ADMIN_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The deployment's admin token, `WIZREG_ADMIN_TOKEN`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            answers::API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key, `wzk_…`, bound to one school"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            answers::JWT,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT whose tenant claim (default `tenant_id`) is the school's UUID",
                    ))
                    .build(),
            ),
        );
    }
}
