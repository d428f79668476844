//! What every route of a kind shares, added to each operation of the document: its credentials,
//! the request headers every route reads, the refusals given before a handler runs (by the
//! `Tenant` and `PlatformAdmin` extractors, the body extractors and the layers around every
//! request), and the response headers those answers carry. An annotation that already
//! describes a status keeps its own description.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, Ref, RefOr, Required, Response, ResponseBuilder};
use utoipa::Modify;

pub const ADMIN_TOKEN: &str = "admin_token";
pub const API_KEY: &str = "api_key";
pub const JWT: &str = "jwt";

/// Which gate a route sits behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    /// School routes: the `Tenant` extractor (credential, `X-Tenant` or Host; limits).
    School,
    /// `/admin/*`: the `PlatformAdmin` extractor (the admin token).
    Admin,
    /// Liveness, readiness, metrics and the document: no credential.
    Public,
}

/// The gate of an operation: `/admin/*`, or any route whose annotation asks for the admin
/// token (`/metrics`), is behind the admin token; the operations routes are public; the rest
/// are school routes.
fn gate(path: &str, operation: &Operation) -> Gate {
    let asks_admin_token = operation.security.iter().flatten().any(|requirement| {
        serde_json::to_value(requirement).is_ok_and(|value| value.get(ADMIN_TOKEN).is_some())
    });
    if path.starts_with("/admin/") || path == "/admin" || asks_admin_token {
        Gate::Admin
    } else if ["/healthz", "/readyz", "/openapi.json", "/metrics"].contains(&path) {
        Gate::Public
    } else {
        Gate::School
    }
}

/// The refusals, by status, with who may give them: `(status, gates, needs a body, description)`.
/// A JSON body route also gets the body refusals; `404` on an admin route only when the path
/// names a school.
const REFUSALS: &[(&str, &[Gate], bool, &str)] = &[
    ("400", &[Gate::School], false, "`tenant_required`: no school named; `invalid_request`: a malformed header (`X-Tenant`, Host, `Idempotency-Key`), query parameter or body"),
    ("400", &[Gate::Admin], true, "`invalid_request`: the body is malformed (not a JSON object, for a JSON body) or could not be read"),
    ("401", &[Gate::School, Gate::Admin], false, "`unauthorized`: a valid credential is required (see `WWW-Authenticate`)"),
    ("403", &[Gate::School], false, "`tenant_mismatch`: `X-Tenant` or Host names another school than the credential; `tenant_suspended`: the school is suspended"),
    ("404", &[Gate::School], false, "`unknown_tenant`: no such school; `not_found`: no such record in this school (another school's record included)"),
    ("404", &[Gate::Admin], false, "`unknown_tenant`: no such school; `not_found`: no such record of it"),
    ("405", &[Gate::School, Gate::Admin, Gate::Public], false, "`invalid_request`: the path does not take that method; `Allow` lists those it takes"),
    ("408", &[Gate::School, Gate::Admin], true, "`invalid_request`: the body stopped arriving before the request timeout (`WIZREG_REQUEST_TIMEOUT_SECS`)"),
    ("413", &[Gate::School, Gate::Admin], true, "`payload_too_large`: the body is over 64 KiB"),
    ("415", &[Gate::School, Gate::Admin], true, "`invalid_request`: the body is not sent with a media type this route takes"),
    ("422", &[Gate::School, Gate::Admin], true, "`validation_failed`: `fields` names each bad field and says why; unknown fields and `tenant_id` are refused"),
    ("429", &[Gate::School], false, "`rate_limited`: this school is over its request rate or its share of the database; retry after `Retry-After` seconds"),
    ("431", &[Gate::School, Gate::Admin, Gate::Public], false, "`invalid_request`: the request headers are over 32 KiB, or more than 100"),
    ("500", &[Gate::School, Gate::Admin, Gate::Public], false, "`internal`: a fault on the server's side, never a client mistake"),
    ("503", &[Gate::School, Gate::Admin, Gate::Public], false, "`unavailable`: the database is unreachable or did not finish in time, the server is at its connection limit or draining (nothing was changed); retry after `Retry-After` seconds"),
];

/// Headers some error answers carry: `(status, header, description)`.
const ERROR_HEADERS: &[(&str, &str, &str)] = &[
    (
        "401",
        "WWW-Authenticate",
        "`Bearer`: the credential scheme the server takes",
    ),
    (
        "405",
        "Allow",
        "The methods this path takes, e.g. `GET, POST`",
    ),
    ("429", "Retry-After", "Seconds to wait before retrying"),
    ("503", "Retry-After", "Seconds to wait before retrying"),
];

#[derive(Debug)]
pub struct SharedAnswers;

impl Modify for SharedAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let names_school = path.contains("{tenant}");
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let gate = gate(path, operation);
                operation.security = Some(security(gate));
                add_request_headers(operation, gate);
                add_refusals(operation, gate, names_school);
                add_response_headers(operation);
            }
        }
    }
}

fn security(gate: Gate) -> Vec<SecurityRequirement> {
    let scheme = |name: &str| SecurityRequirement::new(name, Vec::<String>::new());
    match gate {
        // `WIZREG_AUTH` decides which credential a school route needs; `{}` stands for
        // `open`, where the school is named by `X-Tenant` or Host alone.
        Gate::School => vec![scheme(API_KEY), scheme(JWT), SecurityRequirement::default()],
        Gate::Admin => vec![scheme(ADMIN_TOKEN)],
        Gate::Public => Vec::new(),
    }
}

fn add_request_headers(operation: &mut Operation, gate: Gate) {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let mut headers = vec![(
        "X-Request-Id",
        string().max_length(Some(128)).pattern(Some("^[A-Za-z0-9._:-]+$")),
        "An id for this request, echoed in `X-Request-Id` and the server's log; one is made up when absent or not plain",
    )];
    if gate == Gate::School {
        headers.push((
            "X-Tenant",
            string().max_length(Some(63)),
            "The school's UUID or slug (else the Host names it; with a credential, it may only name the credential's school)",
        ));
    }
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    for (name, schema, description) in headers {
        if parameters.iter().any(|p| p.name == name) {
            continue;
        }
        parameters.push(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema))
                .build(),
        );
    }
}

fn add_refusals(operation: &mut Operation, gate: Gate, names_school: bool) {
    let body_media = operation.request_body.as_ref().map(|body| {
        let json = body.content.contains_key("application/json");
        (json, body.content.len())
    });
    let takes_body = body_media.is_some();
    let takes_json = body_media.is_some_and(|(json, _)| json);
    for &(status, gates, needs_body, description) in REFUSALS {
        let applies = gates.contains(&gate)
            && (!needs_body || takes_body)
            // 422 is about JSON fields; an NDJSON route declares its own.
            && (status != "422" || takes_json)
            && (status != "404" || gate != Gate::Admin || names_school);
        if applies {
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| error_response(description).into());
        }
    }
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new().description(description).build()
}

/// Gives every answer `X-Request-Id`, every error its JSON body, and the error headers.
fn add_response_headers(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_error = status.starts_with('4') || status.starts_with('5');
        if is_error && response.content.is_empty() {
            response.content.insert(
                "application/json".to_owned(),
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            );
        }
        for &(_, name, description) in ERROR_HEADERS.iter().filter(|(s, ..)| s == status) {
            let schema = if name == "Retry-After" {
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
            } else {
                ObjectBuilder::new().schema_type(Type::String)
            };
            response.headers.insert(
                name.to_owned(),
                HeaderBuilder::new()
                    .schema(schema)
                    .description(Some(description))
                    .build(),
            );
        }
        response.headers.insert(
            "X-Request-Id".to_owned(),
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("This request's id, as in the server's log line"))
                .build(),
        );
    }
}
