//! The operator console: sign in with the admin token, create a school, issue and revoke a
//! key, suspend and resume, export (a download), import (an upload), and delete with progress.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::Locator;

use crate::browser::Browser;
use crate::fixture::{Fixture, Outcome, ADMIN_TOKEN};

fn ensure(condition: bool, what: impl Into<String>) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(what.into().into())
    }
}

async fn create_school(browser: &Browser, slug: &str, name: &str) -> Outcome {
    browser.fill("Slug", slug).await?;
    browser.fill("School name", name).await?;
    browser.press("Create school").await?;
    ensure(
        browser.title().await? == name,
        format!("the new school's page: {}", browser.text().await?),
    )
}

/// Waits for the browser's download of a whole `.ndjson` file.
async fn downloaded(browser: &Browser) -> Outcome<std::path::PathBuf> {
    let started = Instant::now();
    loop {
        let done = std::fs::read_dir(&browser.downloads)?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "ndjson"));
        if let Some(path) = done {
            return Ok(path);
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err("the export was not downloaded".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn operator_creates_suspends_keys_exports_imports_and_deletes_a_school(
    fixture: Arc<Fixture>,
    browser: Arc<Browser>,
) -> Outcome {
    let admin = format!("{}/ui/admin/", fixture.origin(None, fixture.open_port));
    browser.goto(&admin).await?;
    ensure(
        browser.path().await? == "/ui/admin/sign-in",
        "the operator console asks to sign in",
    )?;
    browser.check_page("operator-sign-in").await?;
    browser.fill("Admin token", "not-the-token-at-all").await?;
    browser.press("Sign in").await?;
    ensure(
        browser.text().await?.contains("Admin token is not valid"),
        "a wrong token is refused",
    )?;
    browser.fill("Admin token", ADMIN_TOKEN).await?;
    browser.press("Sign in").await?;
    ensure(
        browser.title().await? == "Schools",
        "signed in: the schools list",
    )?;
    ensure(
        browser.text().await?.contains("hogwarts"),
        "it lists the schools",
    )?;

    // Create: the API's slug rule, shown by the field; then a real one.
    browser.fill("Slug", "Not A Slug!").await?;
    browser.press("Create school").await?;
    let error = browser.text_of("slug-error").await?;
    ensure(error.starts_with("Slug "), format!("slug error: {error}"))?;
    browser.check_page("operator-schools-error").await?;
    create_school(&browser, "beauxbatons", "Beauxbatons Academy").await?;
    ensure(browser.text().await?.contains("School created."), "created")?;
    browser.check_page("operator-school").await?;

    // Keys: shown once with a copy button (the script shows it), listed, revoked.
    browser.press("Create API key").await?;
    let key = browser.text_of("new-key").await?;
    ensure(
        key.starts_with("wzk_"),
        format!("the new key is shown: {key}"),
    )?;
    let copy = browser
        .client()
        .find(Locator::XPath("//button[normalize-space()='Copy']"))
        .await?;
    ensure(
        copy.is_displayed().await?,
        "the copy button is shown when scripts run",
    )?;
    browser.check_page("operator-new-key").await?;
    browser.press("Done").await?;
    let last = &key[key.len() - 4..];
    ensure(
        browser.text().await?.contains(&format!("wzk_…{last}")),
        "the key is listed by its last characters",
    )?;
    browser.press(&format!("Revoke key ending {last}")).await?;
    let text = browser.text().await?;
    ensure(
        text.contains("API key revoked") && text.contains("revoked 20"),
        text,
    )?;

    // Suspend and resume.
    browser.press("Suspend school").await?;
    ensure(
        browser.text().await?.contains("School suspended"),
        "suspended",
    )?;
    let reply = fixture.api("GET", "/students", &[("X-Tenant", "beauxbatons")], "")?;
    ensure(
        reply.status == 403,
        format!("a suspended school's API answers 403, not {}", reply.status),
    )?;
    browser.press("Resume school").await?;
    ensure(browser.text().await?.contains("School resumed."), "resumed")?;

    // Export: a download of the school's records.
    for body in [r#"{"name":"Gryffindor"}"#, r#"{"name":"Hufflepuff"}"#] {
        fixture.api("POST", "/houses", &[("X-Tenant", "beauxbatons")], body)?;
    }
    for name in ["Fleur Delacour", "Gabrielle Delacour", "Olympe Maxime"] {
        fixture.api(
            "POST",
            "/students",
            &[("X-Tenant", "beauxbatons")],
            &format!(r#"{{"name":"{name}"}}"#),
        )?;
    }
    browser.click_in_place("Download export").await?;
    let file = downloaded(&browser).await?;
    let export = std::fs::read_to_string(&file)?;
    ensure(
        export.lines().count() == 7 && export.contains("Fleur Delacour"),
        format!("the export: {export}"),
    )?;

    // Import: into a new, empty school; then again, refused (it is not empty any more).
    browser.goto(&admin).await?;
    create_school(&browser, "beauxbatons-copy", "Beauxbatons (copy)").await?;
    let upload = browser.client().find(Locator::Id("file")).await?;
    upload.send_keys(&file.display().to_string()).await?;
    browser.press("Import").await?;
    ensure(
        browser
            .text()
            .await?
            .contains("Imported 2 houses and 3 students."),
        browser.text().await?,
    )?;
    let copied = fixture.api("GET", "/students", &[("X-Tenant", "beauxbatons-copy")], "")?;
    ensure(copied.body.contains("Olympe Maxime"), copied.body)?;
    let upload = browser.client().find(Locator::Id("file")).await?;
    upload.send_keys(&file.display().to_string()).await?;
    browser.press("Import").await?;
    let error = browser.text_of("file-error").await?;
    ensure(
        error.starts_with("Nothing was imported"),
        format!("a second import: {error}"),
    )?;
    browser.check_page("operator-import-error").await?;

    // Delete: typing the slug, then a progress page until it is done.
    browser.goto(&format!("{admin}schools/beauxbatons")).await?;
    browser.press("Delete school…").await?;
    browser.check_page("operator-delete-confirm").await?;
    browser
        .fill("Type the school's slug to confirm", "beauxbaton")
        .await?;
    browser.press("Delete school").await?;
    let error = browser.text_of("confirm-error").await?;
    ensure(
        error.contains("does not match"),
        format!("a mistyped slug: {error}"),
    )?;
    browser
        .fill("Type the school's slug to confirm", "beauxbatons")
        .await?;
    browser.press("Delete school").await?;
    ensure(
        browser.path().await?.starts_with("/ui/admin/jobs/"),
        "a progress page",
    )?;
    browser
        .wait_for_text("is deleted, with its", Duration::from_secs(60))
        .await?;
    browser.check_page("operator-delete-done").await?;
    let gone = fixture.admin("GET", "/admin/tenants/beauxbatons", "")?;
    ensure(
        gone.status == 404,
        format!("the school is gone: {}", gone.status),
    )?;
    browser.press("Back to the schools").await?;
    let text = browser.text().await?;
    ensure(
        text.contains("School deleted.")
            && text.contains("beauxbatons-copy")
            && !text.contains("Beauxbatons Academy"),
        text,
    )?;
    browser.check_page("operator-schools").await?;
    browser.press("Sign out").await?;
    ensure(
        browser.text().await?.contains("You are signed out."),
        "signed out",
    )?;
    browser.goto(&admin).await?;
    ensure(
        browser.path().await? == "/ui/admin/sign-in",
        "signed out for good",
    )
}
