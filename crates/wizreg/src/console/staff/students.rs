//! The students pages: a list with a name search and keyset paging, the add form beside it,
//! an edit page and a delete confirmation. Reads and writes go through
//! [`crate::domain::students`] in the school's tenant transaction, as the API's do.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use super::records::RecordKind;
use super::student_views::{empty_state, student_fields, table};
use super::Staff;
use crate::console::csrf::ConsoleForm;
use crate::console::forms::{field_errors, input, Blank};
use crate::console::pages::Problem;
use crate::console::see_other;
use crate::console::view::{csrf_field, notice, page, Field, Frame, Section};
use crate::domain::houses::{self, House};
use crate::domain::input::FieldErrors;
use crate::domain::students::{self, NewStudent, Page, Student, StudentPatch};
use crate::http::error::ApiError;
use crate::http::AppState;

/// Students per page.
pub(crate) const PAGE_SIZE: i64 = 20;

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    name: String,
    after: Option<String>,
    done: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct StudentForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub house_id: String,
}

/// What the add or edit form shows again after a refused submission.
#[derive(Debug, Default)]
pub(super) struct Entered {
    pub form: StudentForm,
    pub errors: FieldErrors,
}

pub(super) async fn list(
    staff: Staff,
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Response, Problem> {
    render_list(&staff, &state, &query, Entered::default(), StatusCode::OK).await
}

pub(super) async fn create(
    staff: Staff,
    State(state): State<AppState>,
    ConsoleForm(form): ConsoleForm<StudentForm>,
) -> Result<Response, Problem> {
    let fields = input(&[
        ("name", &form.name, Blank::Keep),
        ("email", &form.email, Blank::Absent),
        ("house_id", &form.house_id, Blank::Absent),
    ]);
    let outcome = match NewStudent::parse(fields) {
        Ok(new) => state
            .tenancy
            .run(staff.tenant.id(), students::insert(new))
            .await
            .map_err(ApiError::from),
        Err(errors) => Err(ApiError::validation(errors)),
    };
    match outcome {
        Ok(_) => Ok(see_other("/ui/students?done=added")),
        Err(err) => {
            let errors = field_errors(err, "email")?;
            let entered = Entered { form, errors };
            let query = ListQuery::default();
            render_list(
                &staff,
                &state,
                &query,
                entered,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn all_houses(state: &AppState, staff: &Staff) -> Result<Vec<House>, ApiError> {
    let query = houses::list(crate::console::staff::houses::MAX_HOUSES, Uuid::nil());
    let mut houses = state.tenancy.run(staff.tenant.id(), query).await?;
    houses.truncate(crate::console::staff::houses::MAX_HOUSES as usize);
    Ok(houses)
}

async fn render_list(
    staff: &Staff,
    state: &AppState,
    query: &ListQuery,
    entered: Entered,
    status: StatusCode,
) -> Result<Response, Problem> {
    let name = query.name.trim();
    let after = query.after.as_deref().and_then(|a| Uuid::parse_str(a).ok());
    let page_query = Page {
        limit: PAGE_SIZE,
        after: after.unwrap_or(Uuid::nil()),
        name_contains: name.chars().take(200).collect(),
    };
    let mut rows = state
        .tenancy
        .run(staff.tenant.id(), students::list(page_query))
        .await
        .map_err(ApiError::from)?;
    let has_next = rows.len() > PAGE_SIZE as usize;
    rows.truncate(PAGE_SIZE as usize);
    let houses = all_houses(state, staff).await?;
    let house_names: HashMap<Uuid, &str> = houses.iter().map(|h| (h.id, h.name.as_str())).collect();
    let done = match query.done.as_deref() {
        Some("added") => Some("Student added."),
        Some("updated") => Some("Student saved."),
        Some("deleted") => Some("Student deleted."),
        _ => None,
    };
    let next = rows.last().filter(|_| has_next).map(|last| {
        let params = [("name", name.to_owned()), ("after", last.id.to_string())];
        format!(
            "/ui/students?{}",
            serde_urlencoded::to_string(params).unwrap_or_default()
        )
    });
    let content = html! {
        div.grid {
            section.panel aria-labelledby="students-title" {
                h1 #students-title { "Students" }
                (notice(done))
                form.search method="get" action="/ui/students" role="search" {
                    (Field::text("name", "Search students by name", name).search().render_as("search-name"))
                    button.secondary type="submit" { "Search" }
                }
                @if rows.is_empty() {
                    (empty_state(name, after.is_some()))
                } @else {
                    (table(&rows, &house_names))
                }
                nav.pager aria-label="Pages" {
                    @if after.is_some() {
                        a href={ "/ui/students?" (serde_urlencoded::to_string([("name", name)]).unwrap_or_default()) } { "First page" }
                    } @else { span {} }
                    @if let Some(next) = &next { a href=(next) rel="next" { "Next page" } }
                }
            }
            section.panel aria-labelledby="add-title" {
                h2 #add-title { "Add a student" }
                form method="post" action="/ui/students" novalidate {
                    (csrf_field(&staff.csrf))
                    (student_fields(&entered, &houses))
                    div.actions { button type="submit" { "Add student" } }
                }
            }
        }
    };
    let markup = page(
        Frame::new("Students", staff.area(Section::Students), &staff.csrf),
        content,
    );
    Ok((status, Html(markup.into_string())).into_response())
}

pub(super) async fn edit(
    staff: Staff,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let student = STUDENTS.find(&state, &staff, &id, students::get).await?;
    let form = StudentForm {
        name: student.name.clone(),
        email: student.email.clone().unwrap_or_default(),
        house_id: student.house_id.map(|h| h.to_string()).unwrap_or_default(),
    };
    let entered = Entered {
        form,
        errors: FieldErrors::new(),
    };
    render_edit(&staff, &state, &student, entered, StatusCode::OK).await
}

async fn render_edit(
    staff: &Staff,
    state: &AppState,
    student: &Student,
    entered: Entered,
    status: StatusCode,
) -> Result<Response, Problem> {
    let houses = all_houses(state, staff).await?;
    let content = html! {
        section.panel.narrow aria-labelledby="edit-title" {
            p { a href="/ui/students" { "← All students" } }
            h1 #edit-title { "Edit " (student.name) }
            form method="post" action={ "/ui/students/" (student.id) } novalidate {
                (csrf_field(&staff.csrf))
                (student_fields(&entered, &houses))
                div.actions {
                    button type="submit" { "Save student" }
                    a.button.secondary href={ "/ui/students/" (student.id) "/delete" } { "Delete…" }
                }
            }
        }
    };
    let markup = page(
        Frame::new("Edit student", staff.area(Section::Students), &staff.csrf),
        content,
    );
    Ok((status, Html(markup.into_string())).into_response())
}

pub(super) async fn update(
    staff: Staff,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConsoleForm(form): ConsoleForm<StudentForm>,
) -> Result<Response, Problem> {
    let student = STUDENTS.find(&state, &staff, &id, students::get).await?;
    let fields = input(&[
        ("name", &form.name, Blank::Keep),
        ("email", &form.email, Blank::Null),
        ("house_id", &form.house_id, Blank::Null),
    ]);
    let outcome = STUDENTS
        .update(
            &state,
            &staff,
            student.id,
            StudentPatch::parse(fields),
            students::update,
        )
        .await;
    match outcome {
        Ok(Some(_)) => Ok(see_other("/ui/students?done=updated")),
        Ok(None) => Err(Problem::not_found("student")),
        Err(err) => {
            let errors = field_errors(err, "email")?;
            let entered = Entered { form, errors };
            render_edit(
                &staff,
                &state,
                &student,
                entered,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

const STUDENTS: RecordKind = RecordKind {
    noun: "student",
    list: "/ui/students",
    section: Section::Students,
    consequence: "The student's record is removed from this school. This cannot be undone.",
};

pub(super) async fn confirm_delete(
    staff: Staff,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let student = STUDENTS.find(&state, &staff, &id, students::get).await?;
    Ok(STUDENTS.confirmation_page(&staff, student.id, &student.name))
}

pub(super) async fn delete(
    staff: Staff,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConsoleForm(_): ConsoleForm<super::sign_in::Empty>,
) -> Result<Response, Problem> {
    STUDENTS.delete(&state, &staff, &id, students::delete).await
}
