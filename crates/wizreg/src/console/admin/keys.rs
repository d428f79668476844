//! A school's API keys: the list (without secrets), issuing one (its secret shown this once,
//! with a copy button), revoking one. Through the admin API's own handlers.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};

use super::Operator;
use crate::auth::key_store::ApiKeySummary;
use crate::console::csrf::ConsoleForm;
use crate::console::pages::Problem;
use crate::console::see_other;
use crate::console::staff::Empty;
use crate::console::view::{csrf_field, day, page, Frame};
use crate::http::admin::api_keys;
use crate::http::AppState;

/// The keys table and the button issuing a new key; `None`: keys are disabled here.
pub(super) fn table(operator: &Operator, base: &str, keys: Option<&[ApiKeySummary]>) -> Markup {
    let Some(keys) = keys else {
        return html! { p { "API keys are disabled on this server: set WIZREG_KEY_SECRET." } };
    };
    html! {
        @if keys.is_empty() {
            div.empty { strong { "No API keys yet." } "Issue one so the school's staff can sign in and its programs can call the API." }
        } @else {
            table.responsive {
                caption.vh { "API keys" }
                thead { tr { th scope="col" { "Key" } th scope="col" { "Created" } th scope="col" { "Status" } th scope="col" { span.vh { "Actions" } } } }
                tbody {
                    @for key in keys {
                        tr {
                            td data-label="Key" { code { "wzk_…" (key.last_chars) } }
                            td data-label="Created" { (day(key.created_at)) }
                            td data-label="Status" {
                                @if let Some(revoked) = key.revoked_at { "revoked " (day(revoked)) } @else { "active" }
                            }
                            td.row-actions {
                                @if key.revoked_at.is_none() {
                                    form.inline method="post" action={ (base) "/keys/" (key.id) "/revoke" } {
                                        (csrf_field(&operator.csrf))
                                        button.link type="submit" { "Revoke" span.vh { " key ending " (key.last_chars) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        form method="post" action={ (base) "/keys" } {
            (csrf_field(&operator.csrf))
            div.actions { button type="submit" { "Create API key" } }
        }
    }
}

/// `POST …/keys`: issues a key and shows it once. Reloading this page would issue another,
/// so it says so.
pub(super) async fn create(
    operator: Operator,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ConsoleForm(_): ConsoleForm<Empty>,
) -> Result<Response, Problem> {
    let school = super::schools::school(&operator, &slug).await?;
    let (_, issued) = api_keys::create(operator.admin.clone(), State(state), Path(slug)).await?;
    let content = html! {
        section.panel.narrow aria-labelledby="key-title" {
            h1 #key-title { "API key for " (school.name) }
            p { "Copy the key now: this is the only time it is shown. Wizreg keeps only a keyed hash of it." }
            code.secret #new-key { (issued.0.key) }
            div.actions {
                button.secondary type="button" data-copy="new-key" hidden { "Copy" }
                a.button href={ "/ui/admin/schools/" (school.slug) } { "Done" }
            }
            p.hint { "Staff sign in with it at the school's console; programs send it as Authorization: Bearer <key>." }
        }
    };
    let markup = page(
        Frame::new("New API key", operator.area(), &operator.csrf),
        content,
    );
    Ok(Html(markup.into_string()).into_response())
}

pub(super) async fn revoke(
    operator: Operator,
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    ConsoleForm(_): ConsoleForm<Empty>,
) -> Result<Response, Problem> {
    api_keys::revoke(
        operator.admin.clone(),
        State(state),
        Path((slug.clone(), id)),
    )
    .await?;
    Ok(see_other(&format!("/ui/admin/schools/{slug}?done=revoked")))
}
