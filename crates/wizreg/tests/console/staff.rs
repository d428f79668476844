//! The staff console in `open` mode: the walk-through, validation, houses, editing, deleting
//! and paging.

use std::sync::Arc;

use crate::browser::Browser;
use crate::fixture::{Fixture, Outcome};

fn ensure(condition: bool, what: impl Into<String>) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(what.into().into())
    }
}

async fn add_student(browser: &Browser, name: &str) -> Outcome {
    browser.fill("Name", name).await?;
    browser.press("Add student").await?;
    let text = browser.text().await?;
    ensure(
        text.contains("Student added.") && text.contains(name),
        format!("adding {name}: {text}"),
    )
}

pub async fn walkthrough_each_school_lists_only_its_own_students(
    fixture: Arc<Fixture>,
    browser: Arc<Browser>,
) -> Outcome {
    let port = fixture.open_port;
    // A school's host opens its console.
    browser
        .goto(&format!("{}/", fixture.origin(Some("hogwarts"), port)))
        .await?;
    ensure(
        browser.path().await? == "/ui/students",
        "GET / redirects to the students page",
    )?;
    ensure(
        browser.text().await?.contains("No students yet."),
        "the empty state tells what to do",
    )?;
    browser.check_page("students-empty").await?;
    // Keyboard: the first Tab reaches the skip link, and it is visible when focused.
    browser
        .client()
        .execute("document.activeElement.blur();", vec![])
        .await?;
    let focused = browser
        .client()
        .execute("document.body.focus(); return document.querySelector('.skip').getBoundingClientRect().left;", vec![])
        .await?;
    ensure(
        focused.as_f64().unwrap_or(0.0) < 0.0,
        "the skip link is off screen until focused",
    )?;
    browser
        .client()
        .active_element()
        .await?
        .send_keys("\u{e004}")
        .await?; // Tab
    let active = browser
        .client()
        .execute("return document.activeElement.textContent;", vec![])
        .await?;
    ensure(
        active.as_str() == Some("Skip to content"),
        format!("first Tab focuses the skip link, not {active}"),
    )?;

    add_student(&browser, "Harry Potter").await?;
    add_student(&browser, "Hermine Granger").await?;
    browser
        .goto(&format!(
            "{}/ui/",
            fixture.origin(Some("castelobruxo"), port)
        ))
        .await?;
    add_student(&browser, "Alanza Alves").await?;

    browser
        .goto(&format!(
            "{}/ui/students",
            fixture.origin(Some("hogwarts"), port)
        ))
        .await?;
    let hogwarts = browser.text().await?;
    ensure(
        hogwarts.contains("Harry Potter")
            && hogwarts.contains("Hermine Granger")
            && !hogwarts.contains("Alanza Alves"),
        format!("Hogwarts lists only its own: {hogwarts}"),
    )?;
    browser.check_page("students").await?;
    browser
        .goto(&format!(
            "{}/ui/students",
            fixture.origin(Some("castelobruxo"), port)
        ))
        .await?;
    let castelobruxo = browser.text().await?;
    ensure(
        castelobruxo.contains("Alanza Alves")
            && !castelobruxo.contains("Harry Potter")
            && !castelobruxo.contains("Hermine Granger"),
        format!("Castelobruxo lists only its own: {castelobruxo}"),
    )?;
    // The JSON API agrees: the console wrote through the same tenant transactions.
    let api = fixture.api("GET", "/students", &[("X-Tenant", "castelobruxo")], "")?;
    ensure(
        api.body.contains("Alanza Alves") && !api.body.contains("Harry"),
        api.body,
    )
}

pub async fn validation_errors_show_next_to_the_field_and_houses_and_paging_work(
    fixture: Arc<Fixture>,
    browser: Arc<Browser>,
) -> Outcome {
    fixture.create_school("ilvermorny", "Ilvermorny")?;
    let origin = fixture.origin(Some("ilvermorny"), fixture.open_port);

    // Houses: empty state, a refused name, add, rename.
    browser.goto(&format!("{origin}/ui/houses")).await?;
    ensure(
        browser.text().await?.contains("No houses yet."),
        "houses empty state",
    )?;
    browser.check_page("houses-empty").await?;
    browser.fill("Name", "   ").await?;
    browser.press("Add house").await?;
    let error = browser.text_of("name-error").await?;
    ensure(
        error == "Name must not be empty",
        format!("the house name error sits by the field: {error}"),
    )?;
    browser.check_page("houses-error").await?;
    browser.fill("Name", "Thunderbird").await?;
    browser.press("Add house").await?;
    browser.fill("Name", "Pukwudgie").await?;
    browser.press("Add house").await?;
    browser.fill("Name", "Pukwudgie").await?;
    browser.press("Add house").await?;
    let error = browser.text_of("name-error").await?;
    ensure(
        error.contains("already taken"),
        format!("a duplicate house name is refused: {error}"),
    )?;
    browser.goto(&format!("{origin}/ui/houses")).await?;
    browser.follow("Rename Pukwudgie").await?;
    browser.check_page("house-rename").await?;
    browser.fill("Name", "Horned Serpent").await?;
    browser.press("Save house").await?;
    let text = browser.text().await?;
    ensure(
        text.contains("House renamed.")
            && text.contains("Horned Serpent")
            && !text.contains("Pukwudgie"),
        text,
    )?;
    browser.check_page("houses").await?;

    // Students: the API's rules, shown next to each field.
    browser.goto(&format!("{origin}/ui/students")).await?;
    browser.fill("Name", "").await?;
    browser.fill("Email", "not-an-email").await?;
    browser.press("Add student").await?;
    let name_error = browser.text_of("name-error").await?;
    let email_error = browser.text_of("email-error").await?;
    ensure(
        name_error == "Name must not be empty",
        format!("name error: {name_error}"),
    )?;
    ensure(
        email_error.starts_with("Email must be an email address"),
        format!("email error: {email_error}"),
    )?;
    let invalid = browser
        .client()
        .find(fantoccini::Locator::Id("email"))
        .await?
        .attr("aria-invalid")
        .await?;
    ensure(
        invalid.as_deref() == Some("true"),
        "the field is marked invalid",
    )?;
    browser.check_page("students-errors").await?;

    // Add with email and house, edit, a taken email, delete with confirmation.
    browser.fill("Name", "Seraphina Picquery").await?;
    browser.fill("Email", "Seraphina@Macusa.example").await?;
    browser.choose("House", "Horned Serpent").await?;
    browser.press("Add student").await?;
    let text = browser.text().await?;
    ensure(
        text.contains("seraphina@macusa.example") && text.contains("Horned Serpent"),
        format!("stored lower-cased, with its house: {text}"),
    )?;
    browser.fill("Name", "Newt Scamander").await?;
    browser.fill("Email", "seraphina@macusa.example").await?;
    browser.press("Add student").await?;
    let email_error = browser.text_of("email-error").await?;
    ensure(
        email_error.contains("already taken"),
        format!("a taken email: {email_error}"),
    )?;
    browser.goto(&format!("{origin}/ui/students")).await?;
    browser.follow("Edit Seraphina").await?;
    browser.check_page("student-edit").await?;
    browser.fill("Name", "Seraphina Picquery-Scamander").await?;
    browser.fill("Email", "").await?;
    browser.press("Save student").await?;
    let text = browser.text().await?;
    ensure(
        text.contains("Student saved.")
            && text.contains("Picquery-Scamander")
            && !text.contains("macusa"),
        text,
    )?;
    browser.follow("Delete Seraphina").await?;
    ensure(
        browser.title().await?.starts_with("Delete Seraphina"),
        "a confirmation page",
    )?;
    browser.check_page("student-delete").await?;
    browser.press("Delete student").await?;
    let text = browser.text().await?;
    ensure(
        text.contains("Student deleted.") && !text.contains("Seraphina"),
        text,
    )?;

    // Paging: 25 students, 20 a page, oldest first; the search filters by name.
    for n in 1..=25 {
        let reply = fixture.api(
            "POST",
            "/students",
            &[("X-Tenant", "ilvermorny")],
            &format!(r#"{{"name":"Pupil {n:02}"}}"#),
        )?;
        ensure(reply.status == 201, reply.body)?;
    }
    browser.goto(&format!("{origin}/ui/students")).await?;
    let first = browser.text().await?;
    ensure(
        first.contains("Pupil 01") && first.contains("Pupil 20") && !first.contains("Pupil 21"),
        format!("page 1: {first}"),
    )?;
    browser.follow("Next page").await?;
    let second = browser.text().await?;
    ensure(
        second.contains("Pupil 21") && second.contains("Pupil 25") && !second.contains("Pupil 20"),
        format!("page 2: {second}"),
    )?;
    ensure(!second.contains("Next page"), "no page after the last")?;
    browser.check_page("students-page-2").await?;
    browser.follow("First page").await?;
    browser.fill("Search students by name", "pupil 07").await?;
    browser.press("Search").await?;
    let found = browser.text().await?;
    ensure(
        found.contains("Pupil 07") && !found.contains("Pupil 08"),
        format!("search: {found}"),
    )?;
    browser.fill("Search students by name", "Voldemort").await?;
    browser.press("Search").await?;
    ensure(
        browser.text().await?.contains("No student's name contains"),
        "empty search result",
    )?;

    // Deleting a house keeps its students.
    browser.goto(&format!("{origin}/ui/houses")).await?;
    browser.follow("Delete Thunderbird").await?;
    browser.press("Delete house").await?;
    let text = browser.text().await?;
    ensure(
        text.contains("House deleted.") && !text.contains("Thunderbird"),
        text,
    )
}
