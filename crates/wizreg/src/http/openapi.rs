//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, error, houses, ops, students};
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
        ops::healthz,
        ops::readyz,
        ops::openapi,
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
    }
}
