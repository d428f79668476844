//! Deleting a school from the console: the operator types the slug to confirm, the deletion
//! runs as a task of its own (the same batched offboarding as the CLI and the admin API), and
//! a progress page reloads itself every second (a `<meta http-equiv="refresh">`, no script)
//! until it is done.
//!
//! Progress lives in this process's memory: a deletion started on one server shows its
//! progress there; a reload landing on another server says so and links to the schools list.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use super::schools::school;
use super::Operator;
use crate::console::csrf::ConsoleForm;
use crate::console::pages::Problem;
use crate::console::see_other;
use crate::console::view::{csrf_field, page, Field, Frame};
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::offboard::{self, Offboarded};

/// Jobs kept for their progress pages; the oldest finished ones are forgotten beyond this.
const KEPT_JOBS: usize = 100;

/// Running and recently finished deletions.
#[derive(Debug, Default)]
pub(crate) struct Jobs(Mutex<HashMap<Uuid, Arc<Job>>>);

#[derive(Debug)]
pub(crate) struct Job {
    school: String,
    total_rows: u64,
    deleted_rows: AtomicU64,
    /// `None` while running; then the outcome, as a sentence.
    finished: Mutex<Option<Result<String, String>>>,
}

impl Jobs {
    fn start(&self, job: Arc<Job>) -> Uuid {
        let id = Uuid::now_v7();
        let mut jobs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.len() >= KEPT_JOBS {
            let finished: Vec<Uuid> = jobs
                .iter()
                .filter(|(_, j)| j.finished.lock().map(|f| f.is_some()).unwrap_or(true))
                .map(|(id, _)| *id)
                .collect();
            for id in finished {
                jobs.remove(&id);
            }
        }
        jobs.insert(id, job);
        id
    }

    fn get(&self, id: Uuid) -> Option<Arc<Job>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .cloned()
    }
}

pub(super) async fn confirm_delete(
    operator: Operator,
    Path(slug): Path<String>,
) -> Result<Response, Problem> {
    let school = school(&operator, &slug).await?;
    Ok(render_confirm(
        &operator,
        &school.slug.to_string(),
        &school.name,
        "",
        None,
        StatusCode::OK,
    ))
}

fn render_confirm(
    operator: &Operator,
    slug: &str,
    name: &str,
    entered: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let content = html! {
        section.panel.narrow aria-labelledby="delete-title" {
            h1 #delete-title { "Delete " (name) "?" }
            p { "Every house, student and API key of this school is deleted, then the school itself. It is suspended at once and cannot be resumed. This cannot be undone: download an export first if the data may be needed." }
            form method="post" action={ "/ui/admin/schools/" (slug) "/delete" } novalidate {
                (csrf_field(&operator.csrf))
                (Field::text("confirm", "Type the school's slug to confirm", entered).required()
                    .hint(&format!("Type {slug}")).error(error).render())
                div.actions {
                    button.danger type="submit" { "Delete school" }
                    a.button.secondary href={ "/ui/admin/schools/" (slug) } { "Cancel" }
                }
            }
        }
    };
    let markup = page(
        Frame::new("Delete school", operator.area(), &operator.csrf),
        content,
    );
    (status, Html(markup.into_string())).into_response()
}

#[derive(Debug, Deserialize)]
pub(super) struct ConfirmForm {
    #[serde(default)]
    confirm: String,
}

pub(super) async fn delete(
    operator: Operator,
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ConsoleForm(form): ConsoleForm<ConfirmForm>,
) -> Result<Response, Problem> {
    let school = school(&operator, &slug).await?;
    if form.confirm.trim() != school.slug.as_str() {
        let error = if form.confirm.trim().is_empty() {
            "is required"
        } else {
            "does not match the school's slug"
        };
        let slug = school.slug.to_string();
        return Ok(render_confirm(
            &operator,
            &slug,
            &school.name,
            &form.confirm,
            Some(error),
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    let total_rows = offboard::count_rows(&state.tenancy, school.id)
        .await
        .map_err(ApiError::from)?;
    let connection = operator
        .admin
        .0
        .connection()
        .await
        .map_err(ApiError::from)?;
    let job = Arc::new(Job {
        school: school.name.clone(),
        total_rows,
        deleted_rows: AtomicU64::new(0),
        finished: Mutex::new(None),
    });
    let id = state.console.jobs.start(job.clone());
    let (tenancy, registry) = (state.tenancy.clone(), state.registry.clone());
    // Runs to the end whether or not anyone watches (a half-done deletion is safe, since the
    // school stays suspended, but a finished one is better).
    tokio::spawn(async move {
        let progress = |rows| job.deleted_rows.store(rows, Ordering::Relaxed);
        let outcome =
            offboard::delete_tenant(connection.client(), &tenancy, school.id, progress).await;
        registry.forget(school.id);
        let sentence = match outcome {
            Ok(Offboarded::Deleted { rows }) => {
                tracing::info!(tenant = %school.id, rows, "school deleted from the console");
                Ok(format!(
                    "{} is deleted, with its {rows} records.",
                    school.name
                ))
            }
            Ok(Offboarded::NotFound) => Ok(format!("{} was already deleted.", school.name)),
            Err(err) => {
                tracing::error!(tenant = %school.id, error = %err, "console deletion stopped");
                Err(format!("The deletion of {} stopped before the end. The school stays suspended; delete it again to carry on where it stopped.", school.name))
            }
        };
        *job.finished.lock().unwrap_or_else(|p| p.into_inner()) = Some(sentence);
    });
    Ok(see_other(&format!("/ui/admin/jobs/{id}")))
}

pub(super) async fn progress(
    operator: Operator,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let job = Uuid::parse_str(&id)
        .ok()
        .and_then(|id| state.console.jobs.get(id))
        .ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "No such deletion", "This server has no deletion with this id: it may have run on another server, or this server restarted. The schools list shows what is left."))?;
    let finished = job
        .finished
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let deleted = job.deleted_rows.load(Ordering::Relaxed);
    let total = job.total_rows.max(deleted).max(1);
    let mut frame = Frame::new("Deleting a school", operator.area(), &operator.csrf);
    if finished.is_none() {
        frame.refresh_secs = Some(1);
    }
    let content = html! {
        section.panel.narrow aria-labelledby="job-title" {
            @match &finished {
                None => {
                    h1 #job-title { "Deleting " (job.school) "…" }
                    label for="job-progress" { "Records deleted" }
                    progress #job-progress max=(total) value=(deleted) { (deleted) " of " (total) }
                    p role="status" { (deleted) " of about " (job.total_rows) " records deleted. This page updates itself every second." }
                }
                Some(Ok(sentence)) => {
                    h1 #job-title { "School deleted" }
                    p.notice role="status" { (sentence) }
                    p { a.button href="/ui/admin/?done=deleted" { "Back to the schools" } }
                }
                Some(Err(sentence)) => {
                    h1 #job-title { "Deletion stopped" }
                    p.alert role="alert" { (sentence) }
                    p { a.button href="/ui/admin/" { "Back to the schools" } }
                }
            }
        }
    };
    Ok(Html(page(frame, content).into_string()).into_response())
}
