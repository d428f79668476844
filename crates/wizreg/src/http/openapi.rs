//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::OpenApi;

use super::{error, houses, ops, students};
use crate::domain;

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
        ops::healthz,
        ops::readyz,
        ops::openapi,
    ),
    components(schemas(
        domain::students::Student,
        domain::students::StudentInput,
        domain::houses::House,
        domain::houses::HouseInput,
        error::ErrorBody,
        error::ErrorDetail,
    ))
)]
pub struct ApiDoc;
