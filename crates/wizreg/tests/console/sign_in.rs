//! The staff console with `WIZREG_AUTH=api-key,jwt`: signing in and out with a key or a JWT, a
//! revoked key, an expired token, a session or token of one school on another school's host,
//! and suspended or unknown schools.

use std::sync::Arc;

use crate::browser::Browser;
use crate::fixture::{http, Fixture, Outcome};

fn ensure(condition: bool, what: impl Into<String>) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(what.into().into())
    }
}

/// Issues an API key for `school` through the admin API: `(key id, key)`.
fn issue_key(fixture: &Fixture, school: &str) -> Outcome<(String, String)> {
    let reply = fixture.admin("POST", &format!("/admin/tenants/{school}/api-keys"), "")?;
    ensure(reply.status == 201, reply.body.clone())?;
    let issued: serde_json::Value = serde_json::from_str(&reply.body)?;
    let field = |name: &str| {
        issued[name]
            .as_str()
            .map(str::to_owned)
            .ok_or("no key in the answer")
    };
    Ok((field("id")?, field("key")?))
}

async fn sign_in(browser: &Browser, key: &str) -> Outcome {
    browser.fill("API key", key).await?;
    browser.press("Sign in").await?;
    Ok(())
}

pub async fn sign_in_and_out_with_an_api_key_and_a_revoked_key_ends_the_session(
    fixture: Arc<Fixture>,
    browser: Arc<Browser>,
) -> Outcome {
    fixture.create_school("uagadou", "Uagadou")?;
    let (key_id, key) = issue_key(&fixture, "uagadou")?;
    let origin = fixture.origin(Some("uagadou"), fixture.key_port);
    browser.goto(&format!("{origin}/")).await?;
    ensure(
        browser.path().await? == "/ui/sign-in",
        "without a session the console asks to sign in",
    )?;
    browser.check_page("sign-in").await?;

    sign_in(&browser, "wzk_not_a_key").await?;
    let error = browser.text_of("api_key-error").await?;
    ensure(
        error.starts_with("API key is not valid"),
        format!("a wrong key: {error}"),
    )?;
    browser.check_page("sign-in-error").await?;

    sign_in(&browser, &key).await?;
    ensure(
        browser.path().await? == "/ui/students",
        "signed in, the students page",
    )?;
    ensure(
        browser.text().await?.contains("Uagadou"),
        "the school's name in the header",
    )?;
    let cookie = browser.client().get_named_cookie("wizreg_session").await?;
    ensure(
        cookie.http_only() == Some(true),
        "the session cookie is HttpOnly",
    )?;
    ensure(
        cookie.same_site() == Some(cookie::SameSite::Strict),
        "the session cookie is SameSite=Strict",
    )?;
    ensure(
        !cookie.value().contains(&key[4..20]),
        "the cookie does not show the key",
    )?;

    browser.press("Sign out").await?;
    ensure(
        browser.text().await?.contains("You are signed out."),
        "signed out",
    )?;
    browser.goto(&format!("{origin}/ui/students")).await?;
    ensure(
        browser.path().await? == "/ui/sign-in",
        "after signing out the console asks again",
    )?;

    // Revoking the key ends the session at once.
    sign_in(&browser, &key).await?;
    browser.fill("Name", "Babajide Akingbade").await?;
    browser.press("Add student").await?;
    ensure(
        browser.text().await?.contains("Babajide Akingbade"),
        "a signed-in session works",
    )?;
    let revoked = fixture.admin(
        "DELETE",
        &format!("/admin/tenants/uagadou/api-keys/{key_id}"),
        "",
    )?;
    ensure(revoked.status == 204, revoked.body)?;
    // (The revocation was made through the other server: it arrives by notification.)
    browser
        .goto_until_title(&format!("{origin}/ui/students"), "Sign in")
        .await?;
    ensure(
        browser.path().await? == "/ui/sign-in",
        "a revoked key's session is over",
    )?;
    ensure(
        browser.text().await?.contains("Your session has ended."),
        "and it says so",
    )
}

pub async fn a_hogwarts_session_on_castelobruxos_host_gets_403(
    fixture: Arc<Fixture>,
    browser: Arc<Browser>,
) -> Outcome {
    let port = fixture.key_port;
    let (_, key) = issue_key(&fixture, "hogwarts")?;
    browser
        .goto(&format!(
            "{}/ui/sign-in",
            fixture.origin(Some("hogwarts"), port)
        ))
        .await?;
    sign_in(&browser, &key).await?;
    ensure(
        browser.path().await? == "/ui/students",
        "signed in at Hogwarts",
    )?;
    let session = browser.client().get_named_cookie("wizreg_session").await?;

    // The browser keeps the cookie to Hogwarts' host; replayed on Castelobruxo's, it is refused.
    let castelobruxo = fixture.origin(Some("castelobruxo"), port);
    browser.goto(&format!("{castelobruxo}/ui/sign-in")).await?;
    // (Set from a script: a plain cookie of the same name and value is what the server reads.)
    let stolen = format!("wizreg_session={}; path=/ui/", session.value());
    browser
        .client()
        .execute("document.cookie = arguments[0];", vec![stolen.into()])
        .await?;
    browser.goto(&format!("{castelobruxo}/ui/students")).await?;
    ensure(
        browser.title().await? == "Signed in to another school",
        format!("403 page: {}", browser.text().await?),
    )?;
    browser.check_page("wrong-school").await?;
    let cookie = format!("wizreg_session={}", session.value());
    let reply = http(
        "castelobruxo.localhost",
        port,
        "GET",
        "/ui/students",
        &[("Cookie", &cookie)],
        "",
    )?;
    ensure(reply.status == 403, format!("status {}", reply.status))?;
    ensure(
        !reply.body.contains("Alanza"),
        "nothing of Castelobruxo is shown",
    )?;

    // Hogwarts' key typed into Castelobruxo's sign-in form is refused too.
    browser
        .client()
        .execute(
            "document.cookie = 'wizreg_session=; path=/ui/; max-age=0';",
            vec![],
        )
        .await?;
    browser.goto(&format!("{castelobruxo}/ui/sign-in")).await?;
    sign_in(&browser, &key).await?;
    let error = browser.text_of("api_key-error").await?;
    ensure(
        error.contains("belongs to another school"),
        format!("sign-in with another school's key: {error}"),
    )
}

pub async fn suspended_and_unknown_schools_see_their_own_page(
    fixture: Arc<Fixture>,
    browser: Arc<Browser>,
) -> Outcome {
    fixture.create_school("durmstrang", "Durmstrang Institute")?;
    let (_, key) = issue_key(&fixture, "durmstrang")?;
    browser
        .goto(&format!(
            "{}/ui/sign-in",
            fixture.origin(Some("durmstrang"), fixture.key_port)
        ))
        .await?;
    sign_in(&browser, &key).await?;
    ensure(browser.path().await? == "/ui/students", "signed in")?;
    let suspended = fixture.admin(
        "PATCH",
        "/admin/tenants/durmstrang",
        r#"{"status":"suspended"}"#,
    )?;
    ensure(suspended.status == 200, suspended.body)?;
    // Suspending ends the session's access at once, with a page saying why.
    // (The other server hears of it by a database notification, a moment later.)
    let url = format!(
        "{}/ui/students",
        fixture.origin(Some("durmstrang"), fixture.key_port)
    );
    browser
        .goto_until_title(&url, "This school is suspended")
        .await?;
    browser.check_page("suspended").await?;
    // Also in open mode.
    browser
        .goto(&format!(
            "{}/ui/",
            fixture.origin(Some("durmstrang"), fixture.open_port)
        ))
        .await?;
    ensure(
        browser.title().await? == "This school is suspended",
        browser.text().await?,
    )?;
    let reply = http(
        "durmstrang.localhost",
        fixture.open_port,
        "GET",
        "/ui/students",
        &[],
        "",
    )?;
    ensure(
        reply.status == 403
            && reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
        format!("{} {:?}", reply.status, reply.header("content-type")),
    )?;

    browser
        .goto(&format!(
            "{}/ui/",
            fixture.origin(Some("no-such-school"), fixture.open_port)
        ))
        .await?;
    ensure(
        browser.title().await? == "No such school",
        browser.text().await?,
    )?;
    browser.check_page("unknown-school").await?;
    let reply = http(
        "no-such-school.localhost",
        fixture.open_port,
        "GET",
        "/ui/students",
        &[],
        "",
    )?;
    ensure(
        reply.status == 404,
        format!("unknown school: {}", reply.status),
    )
}

/// An HS256 JWT naming the school `tenant_id`, valid for `lifetime_secs` from now (negative:
/// expired that long ago).
fn jwt(tenant_id: &str, lifetime_secs: i64) -> Outcome<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = serde_json::json!({
        "tenant_id": tenant_id,
        "sub": "teacher@uagadou.example",
        "exp": i64::try_from(now)? + lifetime_secs,
    });
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(crate::fixture::JWT_SECRET.as_bytes()),
    )?)
}

/// A school's UUID, from the admin API.
fn school_id(fixture: &Fixture, slug: &str) -> Outcome<String> {
    let reply = fixture.admin("GET", &format!("/admin/tenants/{slug}"), "")?;
    ensure(reply.status == 200, reply.body.clone())?;
    let school: serde_json::Value = serde_json::from_str(&reply.body)?;
    Ok(school["id"].as_str().ok_or("no id")?.to_owned())
}

pub async fn a_jwt_signs_in_to_its_own_school_only_and_an_expired_one_is_refused(
    fixture: Arc<Fixture>,
    browser: Arc<Browser>,
) -> Outcome {
    fixture.create_school("mahoutokoro", "Mahoutokoro")?;
    fixture.create_school("salem-witches", "Salem Witches")?;
    let mahoutokoro = school_id(&fixture, "mahoutokoro")?;
    let salem = school_id(&fixture, "salem-witches")?;
    let origin = fixture.origin(Some("mahoutokoro"), fixture.key_port);
    browser.goto(&format!("{origin}/ui/sign-in")).await?;

    sign_in(&browser, &jwt(&mahoutokoro, -3600)?).await?;
    let error = browser.text_of("api_key-error").await?;
    ensure(
        error.starts_with("API key is not valid"),
        format!("an expired token: {error}"),
    )?;

    sign_in(&browser, &jwt(&salem, 300)?).await?;
    let error = browser.text_of("api_key-error").await?;
    ensure(
        error.contains("belongs to another school"),
        format!("another school's token on this host: {error}"),
    )?;

    sign_in(&browser, &jwt(&mahoutokoro, 300)?).await?;
    ensure(
        browser.path().await? == "/ui/students",
        "signed in with the school's token, the students page",
    )?;
    browser.fill("Name", "Hiroshi Tanaka").await?;
    browser.press("Add student").await?;
    let listed = browser.text().await?;
    ensure(
        listed.contains("Mahoutokoro") && listed.contains("Hiroshi Tanaka"),
        "the token's school, and a student added in it",
    )?;
    let added = fixture.api("GET", "/students", &[("X-Tenant", "salem-witches")], "")?;
    ensure(
        !added.body.contains("Hiroshi Tanaka"),
        "nothing reached the other school",
    )
}
