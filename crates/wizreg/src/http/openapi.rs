//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{
    Http, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{admin, error, houses, metrics, ops, students};
use crate::{domain, registry};

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Wizreg",
        description = "A multi-tenant school registry. Each school's data is isolated by PostgreSQL Row Level Security."
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
        domain::students::StudentInput,
        domain::houses::House,
        domain::houses::HouseInput,
        registry::TenantRecord,
        registry::TenantStatus,
        admin::tenants::NewTenantInput,
        admin::tenants::TenantPatchInput,
        admin::portability::ImportedCounts,
        admin::api_keys::IssuedApiKey,
        crate::auth::key_store::ApiKeySummary,
        admin::shards::MoveInput,
        crate::shards::TenantPlacement,
        crate::shards::TableShard,
        crate::shards::ShardChange,
        error::ErrorBody,
        error::ErrorDetail,
    )),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

/// Declares the bearer schemes the annotations refer to.
#[derive(Debug)]
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        // Tenant routes: WIZREG_AUTH decides which of these is required (none when `open`).
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key, `wzk_…`, bound to one school"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "jwt",
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
        // Every tenant route takes either credential; `{}` stands for `WIZREG_AUTH=open`.
        let tenant_security = vec![
            SecurityRequirement::new("api_key", Vec::<String>::new()),
            SecurityRequirement::new("jwt", Vec::<String>::new()),
            SecurityRequirement::default(),
        ];
        for (path, item) in openapi.paths.paths.iter_mut() {
            let is_tenant_route = path.starts_with("/students") || path.starts_with("/houses");
            let is_admin_route = path.starts_with("/admin");
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                if is_tenant_route {
                    operation.security = Some(tenant_security.clone());
                    add_refusals(operation, TENANT_REFUSALS);
                } else if is_admin_route {
                    add_refusals(operation, ADMIN_REFUSALS);
                }
                add_retry_after(operation);
            }
        }
    }
}

/// What every tenant route may answer before its handler runs: a missing or bad credential,
/// or a credential naming another school than `X-Tenant`/Host, or a suspended school.
const TENANT_REFUSALS: &[(&str, &str)] = &[
    ("401", "unauthorized: this server needs a valid credential"),
    ("403", "tenant_mismatch or tenant_suspended"),
];

/// What every admin route may answer whatever it does: the platform database unreachable.
const ADMIN_REFUSALS: &[(&str, &str)] = &[("503", "unavailable: the database is unreachable")];

/// Adds `refusals` (and `413 payload_too_large` when the route takes a body) to an operation,
/// declared once here rather than in each annotation; statuses an annotation already
/// describes are kept.
fn add_refusals(operation: &mut Operation, refusals: &[(&str, &str)]) {
    let error = || Content::new(Some(Ref::from_schema_name("ErrorBody")));
    let too_large = operation
        .request_body
        .is_some()
        .then_some(("413", "payload_too_large"));
    for &(status, description) in refusals.iter().chain(too_large.iter()) {
        let response = ResponseBuilder::new()
            .description(description)
            .content("application/json", error())
            .build();
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(response.into());
    }
}

/// Every `429` and `503` carries `Retry-After` (whole seconds); the annotations declare the
/// statuses, this declares the header once for all of them.
fn add_retry_after(operation: &mut Operation) {
    for status in ["429", "503"] {
        if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(status) {
            let header = HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some("Seconds to wait before retrying"))
                .build();
            response.headers.insert("Retry-After".to_owned(), header);
        }
    }
}
