//! The students pages' pieces: the table, the empty states and the student form.

use std::collections::HashMap;

use maud::{html, Markup};
use uuid::Uuid;

use super::students::Entered;
use crate::console::view::{day, Field};
use crate::domain::houses::House;
use crate::domain::students::Student;

pub(super) fn empty_state(name: &str, paged: bool) -> Markup {
    html! {
        div.empty {
            @if !name.is_empty() {
                strong { "No student's name contains “" (name) "”." }
                "Check the spelling, or " a href="/ui/students" { "show every student" } "."
            } @else if paged {
                strong { "No more students." }
                a href="/ui/students" { "Back to the first page" }
            } @else {
                strong { "No students yet." }
                "Add the first one with the form on this page."
            }
        }
    }
}

pub(super) fn table(rows: &[Student], house_names: &HashMap<Uuid, &str>) -> Markup {
    html! {
        table.responsive {
            caption.vh { "Students, oldest first" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "House" } th scope="col" { "Added" } th scope="col" { span.vh { "Actions" } } } }
            tbody {
                @for student in rows {
                    tr {
                        td data-label="Name" { (student.name) }
                        td data-label="Email" { (student.email.as_deref().unwrap_or("—")) }
                        td data-label="House" { (student.house_id.and_then(|h| house_names.get(&h).copied()).unwrap_or("—")) }
                        td data-label="Added" { (day(student.created_at)) }
                        td.row-actions {
                            a href={ "/ui/students/" (student.id) } { "Edit" span.vh { " " (student.name) } }
                            " · "
                            a href={ "/ui/students/" (student.id) "/delete" } { "Delete" span.vh { " " (student.name) } }
                        }
                    }
                }
            }
        }
    }
}

pub(super) fn student_fields(entered: &Entered, houses: &[House]) -> Markup {
    let error = |field: &str| entered.errors.get(field);
    let house_error = error("house_id");
    html! {
        (Field::text("name", "Name", &entered.form.name).required().error(error("name")).render())
        (Field::text("email", "Email", &entered.form.email).kind("email").error(error("email")).render())
        div.field.invalid[house_error.is_some()] {
            label for="house_id" { "House" span.optional { " (optional)" } }
            select #house_id name="house_id" aria-invalid=[house_error.map(|_| "true")]
                aria-describedby=[house_error.map(|_| "house_id-error")] {
                option value="" { "No house" }
                @for house in houses {
                    option value=(house.id) selected[entered.form.house_id == house.id.to_string()] { (house.name) }
                }
            }
            @if houses.is_empty() { p.hint { "No houses yet: add them on the " a href="/ui/houses" { "Houses" } " page." } }
            @if let Some(message) = house_error { p.error #house_id-error { "House " (message) } }
        }
    }
}
