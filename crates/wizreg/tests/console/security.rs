//! What protects the console besides sessions: forms from another site are refused, every
//! page carries the security headers, and assets are cached by content hash.

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

pub async fn a_cross_site_form_post_without_the_token_is_refused(
    fixture: Arc<Fixture>,
    browser: Arc<Browser>,
) -> Outcome {
    fixture.create_school("koldovstoretz", "Koldovstoretz")?;
    let port = fixture.open_port;
    let target = format!(
        "{}/ui/students",
        fixture.origin(Some("koldovstoretz"), port)
    );
    // A page of another site with a form aimed at the console (opened first, so the browser
    // has the console's CSRF cookie: the token is what is missing).
    browser.goto(&target).await?;
    let attack = format!(
        "data:text/html,<form method=post action='{target}'><input name=name value=Mallory><button>Win a broom</button></form>"
    );
    browser.goto(&attack).await?;
    browser.press("Win a broom").await?;
    ensure(
        browser.title().await? == "Form refused",
        browser.text().await?,
    )?;
    browser.goto(&target).await?;
    ensure(
        !browser.text().await?.contains("Mallory"),
        "nothing was added",
    )?;

    // Outside a browser: the same origin but no token, and a token but another origin.
    let host = "koldovstoretz.localhost";
    let own = format!("http://{host}:{port}");
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let no_token = http(
        host,
        port,
        "POST",
        "/ui/students",
        &[form[0], ("Origin", &own)],
        "name=Mallory",
    )?;
    ensure(
        no_token.status == 403,
        format!("no token: {}", no_token.status),
    )?;
    let elsewhere = http(
        host,
        port,
        "POST",
        "/ui/students",
        &[form[0], ("Origin", "http://evil.example")],
        "name=Mallory&csrf=x",
    )?;
    ensure(
        elsewhere.status == 403,
        format!("another origin: {}", elsewhere.status),
    )?;
    let api = fixture.api("GET", "/students", &[("X-Tenant", "koldovstoretz")], "")?;
    ensure(
        api.body == "[]",
        format!("nothing was stored: {}", api.body),
    )
}

pub async fn pages_carry_the_security_headers_and_assets_are_cached_by_hash(
    fixture: Arc<Fixture>,
    browser: Arc<Browser>,
) -> Outcome {
    let port = fixture.open_port;
    for (host, path) in [
        ("hogwarts.localhost", "/ui/students"),
        ("localhost", "/ui/admin/sign-in"),
        ("nowhere.localhost", "/ui/"),
    ] {
        let reply = http(host, port, "GET", path, &[], "")?;
        let csp = reply.header("content-security-policy").unwrap_or("");
        ensure(
            csp.contains("default-src 'self'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe-inline"),
            format!("{host}{path}: CSP {csp}"),
        )?;
        ensure(
            reply.header("x-content-type-options") == Some("nosniff"),
            format!("{host}{path}: nosniff"),
        )?;
        ensure(
            reply.header("referrer-policy").is_some(),
            format!("{host}{path}: Referrer-Policy"),
        )?;
        ensure(
            !reply.body.contains("<script>") && !reply.body.contains("style="),
            format!("{host}{path}: nothing inline"),
        )?;
    }
    // The stylesheet's URL carries its hash; it may be kept a year; another hash is no file.
    let page = http("hogwarts.localhost", port, "GET", "/ui/students", &[], "")?;
    let css = page
        .body
        .split("href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .ok_or("no stylesheet link")?;
    ensure(
        css.starts_with("/ui/assets/console.") && css.ends_with(".css"),
        css.to_owned(),
    )?;
    let asset = http("hogwarts.localhost", port, "GET", css, &[], "")?;
    ensure(
        asset.status == 200
            && asset
                .header("cache-control")
                .is_some_and(|c| c.contains("immutable")),
        format!("{:?}", asset.headers),
    )?;
    let stale = http(
        "hogwarts.localhost",
        port,
        "GET",
        "/ui/assets/console.0000000000000000.css",
        &[],
        "",
    )?;
    ensure(
        stale.status == 404,
        format!("a stale asset: {}", stale.status),
    )?;
    // The console is not part of the public API description.
    let openapi = fixture.api("GET", "/openapi.json", &[], "")?;
    ensure(
        openapi.status == 200 && !openapi.body.contains("/ui/"),
        "no console route in the OpenAPI document",
    )?;
    // And in the browser: the stylesheet applies (no CSP report), the operator sign-in page
    // renders with it.
    browser
        .goto(&format!("{}/ui/admin/sign-in", fixture.origin(None, port)))
        .await?;
    let color = browser
        .client()
        .execute(
            "return getComputedStyle(document.querySelector('.bar')).backgroundColor;",
            vec![],
        )
        .await?;
    ensure(
        color.as_str() == Some("rgb(61, 58, 158)"),
        format!("the stylesheet applies: {color}"),
    )?;
    browser.check_page("operator-sign-in-plain").await?;

    // The checks every page gets can fail: an inline script is refused and logged...
    browser
        .client()
        .execute("const s = document.createElement('script'); s.textContent = 'window.pwned = 1'; document.body.append(s);", vec![])
        .await?;
    let violations = browser.csp_violations().await?;
    ensure(
        violations.iter().any(|v| v.contains("inline script")),
        format!("an inline script is reported: {violations:?}"),
    )?;
    let ran = browser
        .client()
        .execute("return window.pwned === 1;", vec![])
        .await?;
    ensure(ran.as_bool() == Some(false), "and it did not run")?;
    // ...and axe flags a control without a label.
    browser.goto("data:text/html,<!DOCTYPE html><html lang=en><title>t</title><main><input></main></html>").await?;
    let flagged = browser.axe_violations().await?;
    ensure(
        flagged
            .iter()
            .any(|v| v["id"] == "label" && v["impact"] == "critical"),
        format!("axe: {flagged:?}"),
    )
}
