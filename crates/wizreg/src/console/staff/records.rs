//! What the staff console does the same way for every kind of record (students, houses):
//! finding one by the id in its address, applying an edit, and deleting it — a confirmation
//! page (a `GET` never deletes), then the delete — each in the school's tenant transaction.

use axum::response::{Html, IntoResponse, Response};
use tenancy::Query;
use uuid::Uuid;

use super::Staff;
use crate::console::pages::Problem;
use crate::console::see_other;
use crate::console::view::{confirmation, page, Frame, Section};
use crate::domain::input::FieldErrors;
use crate::http::error::ApiError;
use crate::http::AppState;

/// What differs between the kinds of record the console edits and deletes.
pub(super) struct RecordKind {
    /// `student`, `house`: in titles, buttons and the not-found page.
    pub noun: &'static str,
    /// The list page the record is on, e.g. `/ui/students`.
    pub list: &'static str,
    pub section: Section,
    /// What deleting does, said on the confirmation page.
    pub consequence: &'static str,
}

impl RecordKind {
    /// The record `raw_id` names, or the not-found page (a malformed id names nothing).
    pub async fn find<T: 'static>(
        &self,
        state: &AppState,
        staff: &Staff,
        raw_id: &str,
        get: fn(Uuid) -> Query<Option<T>>,
    ) -> Result<T, Problem> {
        let id = Uuid::parse_str(raw_id).map_err(|_| Problem::not_found(self.noun))?;
        state
            .tenancy
            .run(staff.tenant.id(), get(id))
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| Problem::not_found(self.noun))
    }

    /// Applies a parsed edit to the record `id`: the edited record, `None` when it is gone,
    /// or the API's error (validation included) for the form to show.
    pub async fn update<P, T: 'static>(
        &self,
        state: &AppState,
        staff: &Staff,
        id: Uuid,
        parsed: Result<P, FieldErrors>,
        update: fn(Uuid, P) -> Query<Option<T>>,
    ) -> Result<Option<T>, ApiError> {
        let patch = parsed.map_err(ApiError::validation)?;
        Ok(state
            .tenancy
            .run(staff.tenant.id(), update(id, patch))
            .await?)
    }

    /// The page that asks before deleting the record `id` called `name`.
    pub fn confirmation_page(&self, staff: &Staff, id: Uuid, name: &str) -> Response {
        let title = format!("Delete {}", self.noun);
        let content = confirmation(
            &staff.csrf,
            &format!("Delete {name}?"),
            self.consequence,
            &format!("{}/{id}/delete", self.list),
            &title,
            self.list,
        );
        let markup = page(
            Frame::new(&title, staff.area(self.section), &staff.csrf),
            content,
        );
        Html(markup.into_string()).into_response()
    }

    /// Deletes the record `raw_id` names with `delete`, then back to the list.
    pub async fn delete(
        &self,
        state: &AppState,
        staff: &Staff,
        raw_id: &str,
        delete: fn(Uuid) -> Query<bool>,
    ) -> Result<Response, Problem> {
        let id = Uuid::parse_str(raw_id).map_err(|_| Problem::not_found(self.noun))?;
        let deleted = state
            .tenancy
            .run(staff.tenant.id(), delete(id))
            .await
            .map_err(ApiError::from)?;
        if deleted {
            Ok(see_other(&format!("{}?done=deleted", self.list)))
        } else {
            Err(Problem::not_found(self.noun))
        }
    }
}
