//! Deleting a record from the staff console, the same way for every kind: a confirmation page
//! (a `GET` never deletes), then the delete in the school's tenant transaction.

use axum::response::{Html, IntoResponse, Response};
use tenancy::Query;
use uuid::Uuid;

use super::Staff;
use crate::console::pages::Problem;
use crate::console::see_other;
use crate::console::view::{confirmation, page, Frame, Section};
use crate::http::error::ApiError;
use crate::http::AppState;

/// What differs between the kinds of record the console deletes.
pub(super) struct Deletable {
    /// `student`, `house`: in titles, buttons and the not-found page.
    pub noun: &'static str,
    /// The list page the record is on, e.g. `/ui/students`.
    pub list: &'static str,
    pub section: Section,
    /// What deleting does, said on the confirmation page.
    pub consequence: &'static str,
}

impl Deletable {
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
