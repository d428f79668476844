//! The schools pages: the list with each school's status, creating one, and a school's own
//! page (status, API keys, export and import, delete). Each action calls the admin API's
//! handler with the operator's proof.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::Operator;
use crate::console::csrf::ConsoleForm;
use crate::console::forms::{field_errors, input, Blank};
use crate::console::pages::Problem;
use crate::console::see_other;
use crate::console::view::{csrf_field, day, notice, page, Field, Frame};
use crate::domain::input::FieldErrors;
use crate::http::admin::{api_keys, tenants};
use crate::http::body::JsonObject;
use crate::http::AppState;
use crate::registry::{TenantRecord, TenantStatus};

#[derive(Debug, Default, Deserialize)]
pub(super) struct SchoolForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
    houses: Option<u64>,
    students: Option<u64>,
}

pub(super) async fn list(
    operator: Operator,
    Query(done): Query<Done>,
) -> Result<Response, Problem> {
    let message = match done.done.as_deref() {
        Some("deleted") => Some("School deleted."),
        _ => None,
    };
    render_list(
        &operator,
        message,
        SchoolForm::default(),
        FieldErrors::new(),
        StatusCode::OK,
    )
    .await
}

async fn render_list(
    operator: &Operator,
    message: Option<&str>,
    entered: SchoolForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<Response, Problem> {
    let schools = tenants::list(operator.admin.clone()).await?.0;
    let error = |field: &str| errors.get(field);
    let content = html! {
        div.grid {
            section.panel aria-labelledby="schools-title" {
                h1 #schools-title { "Schools" }
                (notice(message))
                @if schools.is_empty() {
                    div.empty { strong { "No schools yet." } "Create the first one with the form on this page." }
                } @else {
                    table.responsive {
                        caption.vh { "Schools, oldest first" }
                        thead { tr { th scope="col" { "School" } th scope="col" { "Slug" } th scope="col" { "Status" } th scope="col" { "Created" } } }
                        tbody {
                            @for school in &schools {
                                tr {
                                    td data-label="School" { a href={ "/ui/admin/schools/" (school.slug) } { (school.name) } }
                                    td data-label="Slug" { code { (school.slug) } }
                                    td data-label="Status" { (status_badge(school.status)) }
                                    td data-label="Created" { (day(school.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            section.panel aria-labelledby="create-title" {
                h2 #create-title { "Create a school" }
                form method="post" action="/ui/admin/" novalidate {
                    (csrf_field(&operator.csrf))
                    (Field::text("slug", "Slug", &entered.slug).required().error(error("slug"))
                        .hint("Lower-case letters, digits and hyphens: the school's address becomes slug.your-domain.").render())
                    (Field::text("name", "School name", &entered.name).error(error("name")).render())
                    div.actions { button type="submit" { "Create school" } }
                }
            }
        }
    };
    let markup = page(
        Frame::new("Schools", operator.area(), &operator.csrf),
        content,
    );
    Ok((status, Html(markup.into_string())).into_response())
}

pub(super) fn status_badge(status: TenantStatus) -> Markup {
    html! { span.badge.(status.as_str()) { (status.as_str()) } }
}

pub(super) async fn create(
    operator: Operator,
    State(state): State<AppState>,
    ConsoleForm(form): ConsoleForm<SchoolForm>,
) -> Result<Response, Problem> {
    let fields = input(&[
        ("slug", &form.slug, Blank::Keep),
        ("name", &form.name, Blank::Absent),
    ]);
    match tenants::create(
        operator.admin.clone(),
        State(state.clone()),
        JsonObject(fields),
    )
    .await
    {
        Ok((_, _, created)) => Ok(see_other(&format!(
            "/ui/admin/schools/{}?done=created",
            created.0.slug
        ))),
        Err(err) => {
            let errors = field_errors(err, "slug")?;
            render_list(
                &operator,
                None,
                form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// The school `slug` names, as the admin API finds it.
pub(super) async fn school(operator: &Operator, slug: &str) -> Result<TenantRecord, Problem> {
    Ok(tenants::get(operator.admin.clone(), Path(slug.to_owned()))
        .await?
        .0)
}

/// What a school's page shows besides the school: the outcome of the last action.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub message: Option<String>,
    pub import_error: Option<String>,
}

pub(super) async fn show(
    operator: Operator,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(done): Query<Done>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let message = match done.done.as_deref() {
        Some("created") => {
            Some("School created. Issue it an API key so its staff can sign in.".to_owned())
        }
        Some("suspended") => {
            Some("School suspended: its console and API refuse every request.".to_owned())
        }
        Some("active") => Some("School resumed.".to_owned()),
        Some("revoked") => Some(
            "API key revoked: it and every console session signed in with it stop working now."
                .to_owned(),
        ),
        Some("imported") => Some(format!(
            "Imported {} houses and {} students.",
            done.houses.unwrap_or(0),
            done.students.unwrap_or(0)
        )),
        _ => None,
    };
    let outcome = Outcome {
        message,
        import_error: None,
    };
    render_school(&operator, &state, &slug, &headers, outcome, StatusCode::OK).await
}

pub(super) async fn render_school(
    operator: &Operator,
    state: &AppState,
    slug: &str,
    headers: &HeaderMap,
    outcome: Outcome,
    status: StatusCode,
) -> Result<Response, Problem> {
    let school = school(operator, slug).await?;
    let keys = match api_keys::list(
        operator.admin.clone(),
        State(state.clone()),
        Path(slug.to_owned()),
    )
    .await
    {
        Ok(keys) => Some(keys.0),
        Err(_) => None, // API keys are disabled on this server: say so below.
    };
    let console_url = staff_console_url(&school, state, headers);
    let base = format!("/ui/admin/schools/{}", school.slug);
    let (next_status, action) = match school.status {
        TenantStatus::Active => ("suspended", "Suspend school"),
        TenantStatus::Suspended => ("active", "Resume school"),
    };
    let content = html! {
        p { a href="/ui/admin/" { "← All schools" } }
        h1 { (school.name) }
        (notice(outcome.message.as_deref()))
        div.grid {
            div {
                section.panel aria-labelledby="keys-title" {
                    h2 #keys-title { "API keys" }
                    (super::keys::table(operator, &base, keys.as_deref()))
                }
                section.panel aria-labelledby="data-title" {
                    h2 #data-title { "Move data" }
                    p { "An export holds the school's houses and students, one JSON record a line." }
                    p { a.button.secondary href={ (base) "/export" } download { "Download export" } }
                    form method="post" action={ (base) "/import" } enctype="multipart/form-data" {
                        (csrf_field(&operator.csrf))
                        div.field.invalid[outcome.import_error.is_some()] {
                            label for="file" { "Export file to import" }
                            p.hint #file-hint { "Only into a school with no houses or students yet; all of it or nothing." }
                            input #file type="file" name="file" accept=".ndjson,.jsonl,application/x-ndjson" required
                                aria-describedby={ "file-hint" @if outcome.import_error.is_some() { " file-error" } };
                            @if let Some(error) = &outcome.import_error { p.error #file-error { (error) } }
                        }
                        div.actions { button.secondary type="submit" { "Import" } }
                    }
                }
            }
            div {
                section.panel aria-labelledby="facts-title" {
                    h2 #facts-title { "School" }
                    dl.facts {
                        dt { "Status" } dd { (status_badge(school.status)) }
                        dt { "Slug" } dd { code { (school.slug) } }
                        dt { "Id" } dd { code { (school.id) } }
                        dt { "Created" } dd { (day(school.created_at)) }
                        dt { "Console" } dd { a href=(console_url) { (console_url) } }
                    }
                    form method="post" action={ (base) "/status" } {
                        (csrf_field(&operator.csrf))
                        input type="hidden" name="status" value=(next_status);
                        div.actions { button.secondary type="submit" { (action) } }
                    }
                }
                section.panel aria-labelledby="danger-title" {
                    h2 #danger-title { "Delete" }
                    p { "Deletes the school and every record it holds. Its API keys stop working at once." }
                    a.button.danger href={ (base) "/delete" } { "Delete school…" }
                }
            }
        }
    };
    let markup = page(
        Frame::new(&school.name, operator.area(), &operator.csrf),
        content,
    );
    Ok((status, Html(markup.into_string())).into_response())
}

/// The school's staff console, on this deployment's host with the school's subdomain.
fn staff_console_url(school: &TenantRecord, state: &AppState, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let port = host
        .rsplit_once(':')
        .map(|(_, port)| port)
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()));
    match port {
        Some(port) => format!("http://{}.{}:{port}/ui/", school.slug, state.base_domain),
        None => format!("http://{}.{}/ui/", school.slug, state.base_domain),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct StatusForm {
    status: String,
}

pub(super) async fn set_status(
    operator: Operator,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ConsoleForm(form): ConsoleForm<StatusForm>,
) -> Result<Response, Problem> {
    let fields = input(&[("status", &form.status, Blank::Keep)]);
    let updated = tenants::update(
        operator.admin.clone(),
        State(state),
        Path(slug),
        JsonObject(fields),
    )
    .await?;
    Ok(see_other(&format!(
        "/ui/admin/schools/{}?done={}",
        updated.0.slug,
        updated.0.status.as_str()
    )))
}
