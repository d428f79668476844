//! The houses pages: list, add, rename, delete. Reads and writes go through
//! [`crate::domain::houses`] in the school's tenant transaction, as the API's do.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use super::records::RecordKind;
use super::Staff;
use crate::console::csrf::ConsoleForm;
use crate::console::forms::{field_errors, input, Blank};
use crate::console::pages::Problem;
use crate::console::see_other;
use crate::console::view::{csrf_field, day, notice, page, Field, Frame, Section};
use crate::domain::houses::{self, House, HousePatch, NewHouse};
use crate::domain::input::FieldErrors;
use crate::http::error::ApiError;
use crate::http::AppState;

/// The most houses one page lists (the API's largest page).
pub(crate) const MAX_HOUSES: i64 = 1000;

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    done: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct HouseForm {
    #[serde(default)]
    name: String,
}

pub(super) async fn list(
    staff: Staff,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, Problem> {
    let done = match query.done.as_deref() {
        Some("added") => Some("House added."),
        Some("renamed") => Some("House renamed."),
        Some("deleted") => Some("House deleted. Its students now have no house."),
        _ => None,
    };
    render_list(&staff, &state, done, "", None, StatusCode::OK).await
}

async fn render_list(
    staff: &Staff,
    state: &AppState,
    done: Option<&str>,
    entered: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, Problem> {
    let mut rows = state
        .tenancy
        .run(staff.tenant.id(), houses::list(MAX_HOUSES, Uuid::nil()))
        .await
        .map_err(ApiError::from)?;
    rows.truncate(MAX_HOUSES as usize);
    let content = html! {
        div.grid {
            section.panel aria-labelledby="houses-title" {
                h1 #houses-title { "Houses" }
                (notice(done))
                @if rows.is_empty() {
                    div.empty {
                        strong { "No houses yet." }
                        "Add one with the form on this page; then you can put students in it."
                    }
                } @else {
                    table.responsive {
                        caption.vh { "Houses" }
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Added" } th scope="col" { span.vh { "Actions" } } } }
                        tbody {
                            @for house in &rows {
                                tr {
                                    td data-label="Name" { (house.name) }
                                    td data-label="Added" { (day(house.created_at)) }
                                    td.row-actions {
                                        a href={ "/ui/houses/" (house.id) } { "Rename" span.vh { " " (house.name) } }
                                        " · "
                                        a href={ "/ui/houses/" (house.id) "/delete" } { "Delete" span.vh { " " (house.name) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.panel aria-labelledby="add-title" {
                h2 #add-title { "Add a house" }
                form method="post" action="/ui/houses" novalidate {
                    (csrf_field(&staff.csrf))
                    (Field::text("name", "Name", entered).required().error(error).render())
                    div.actions { button type="submit" { "Add house" } }
                }
            }
        }
    };
    let markup = page(
        Frame::new("Houses", staff.area(Section::Houses), &staff.csrf),
        content,
    );
    Ok((status, Html(markup.into_string())).into_response())
}

/// The form as the API's body, read by the API's own rules.
fn house_input(form: &HouseForm) -> crate::domain::input::Input {
    input(&[("name", &form.name, Blank::Keep)])
}

fn name_error(err: ApiError) -> Result<String, Problem> {
    let errors: FieldErrors = field_errors(err, "name")?;
    Ok(errors
        .get("name")
        .map(str::to_owned)
        .unwrap_or_else(|| "is not valid".into()))
}

pub(super) async fn create(
    staff: Staff,
    State(state): State<AppState>,
    ConsoleForm(form): ConsoleForm<HouseForm>,
) -> Result<Response, Problem> {
    let outcome = match NewHouse::parse(house_input(&form)) {
        Ok(new) => state
            .tenancy
            .run(staff.tenant.id(), houses::insert(new))
            .await
            .map(|_| ())
            .map_err(ApiError::from),
        Err(errors) => Err(ApiError::validation(errors)),
    };
    match outcome {
        Ok(()) => Ok(see_other("/ui/houses?done=added")),
        Err(err) => {
            let message = name_error(err)?;
            render_list(
                &staff,
                &state,
                None,
                &form.name,
                Some(&message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

fn render_edit(
    staff: &Staff,
    house: &House,
    entered: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let content = html! {
        section.panel.narrow aria-labelledby="rename-title" {
            p { a href="/ui/houses" { "← All houses" } }
            h1 #rename-title { "Rename " (house.name) }
            form method="post" action={ "/ui/houses/" (house.id) } novalidate {
                (csrf_field(&staff.csrf))
                (Field::text("name", "Name", entered).required().error(error).render())
                div.actions {
                    button type="submit" { "Save house" }
                    a.button.secondary href={ "/ui/houses/" (house.id) "/delete" } { "Delete…" }
                }
            }
        }
    };
    let markup = page(
        Frame::new("Rename house", staff.area(Section::Houses), &staff.csrf),
        content,
    );
    (status, Html(markup.into_string())).into_response()
}

pub(super) async fn edit(
    staff: Staff,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let house = HOUSES.find(&state, &staff, &id, houses::get).await?;
    Ok(render_edit(
        &staff,
        &house,
        &house.name,
        None,
        StatusCode::OK,
    ))
}

pub(super) async fn update(
    staff: Staff,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConsoleForm(form): ConsoleForm<HouseForm>,
) -> Result<Response, Problem> {
    let house = HOUSES.find(&state, &staff, &id, houses::get).await?;
    let outcome = HOUSES
        .update(
            &state,
            &staff,
            house.id,
            HousePatch::parse(house_input(&form)),
            houses::update,
        )
        .await;
    match outcome {
        Ok(Some(_)) => Ok(see_other("/ui/houses?done=renamed")),
        Ok(None) => Err(Problem::not_found("house")),
        Err(err) => {
            let message = name_error(err)?;
            Ok(render_edit(
                &staff,
                &house,
                &form.name,
                Some(&message),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}

const HOUSES: RecordKind = RecordKind {
    noun: "house",
    list: "/ui/houses",
    section: Section::Houses,
    consequence: "The house is removed; its students stay, with no house. This cannot be undone.",
};

pub(super) async fn confirm_delete(
    staff: Staff,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let house = HOUSES.find(&state, &staff, &id, houses::get).await?;
    Ok(HOUSES.confirmation_page(&staff, house.id, &house.name))
}

pub(super) async fn delete(
    staff: Staff,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConsoleForm(_): ConsoleForm<super::sign_in::Empty>,
) -> Result<Response, Problem> {
    HOUSES.delete(&state, &staff, &id, houses::delete).await
}
