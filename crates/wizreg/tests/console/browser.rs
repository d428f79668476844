//! One Chromium session over WebDriver, with the checks every page gets: axe-core finds no
//! serious or critical violation, the browser logged no Content-Security-Policy violation,
//! nothing overflows 375 px, and a desktop and a mobile screenshot are saved under `target/`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::fixture::{Fixture, Outcome};

const DESKTOP: (u32, u32) = (1280, 900);
const MOBILE: (u32, u32) = (375, 812);

pub struct Browser {
    client: Client,
    fixture: std::sync::Arc<Fixture>,
    pub downloads: PathBuf,
    _profile: tempfile::TempDir,
}

/// `POST /session/{id}/se/log`: chromedriver's browser log (console messages, CSP reports).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(r#"{"type":"browser"}"#.to_owned()),
        )
    }
}

impl Browser {
    pub async fn open(fixture: std::sync::Arc<Fixture>) -> Outcome<Self> {
        let profile = tempfile::tempdir()?;
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads)?;
        let capabilities = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": fixture.chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.path().join("profile").display()),
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                ],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                },
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&fixture.webdriver)
            .await?;
        Ok(Self {
            client,
            fixture,
            downloads,
            _profile: profile,
        })
    }

    pub async fn close(&self) {
        let _ = self.client.clone().close().await;
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn goto(&self, url: &str) -> Outcome {
        Ok(self.client.goto(url).await?)
    }

    pub async fn path(&self) -> Outcome<String> {
        Ok(self.client.current_url().await?.path().to_owned())
    }

    /// The visible text of the page.
    pub async fn text(&self) -> Outcome<String> {
        Ok(self.client.find(Locator::Css("body")).await?.text().await?)
    }

    pub async fn title(&self) -> Outcome<String> {
        Ok(self.client.find(Locator::Css("h1")).await?.text().await?)
    }

    /// Types into the control whose label reads `label` (before any "(optional)").
    pub async fn fill(&self, label: &str, value: &str) -> Outcome {
        let xpath = format!("//label[normalize-space(text()[1])=\"{label}\"]");
        let label = self.client.find(Locator::XPath(&xpath)).await?;
        let id = label.attr("for").await?.ok_or("label without for")?;
        let input = self.client.find(Locator::Id(&id)).await?;
        input.clear().await?;
        input.send_keys(value).await?;
        Ok(())
    }

    /// Picks the option reading `option` in the select labelled `label`.
    pub async fn choose(&self, label: &str, option: &str) -> Outcome {
        let xpath = format!("//label[normalize-space(text()[1])=\"{label}\"]");
        let id = self
            .client
            .find(Locator::XPath(&xpath))
            .await?
            .attr("for")
            .await?
            .ok_or("label without for")?;
        let xpath = format!("//select[@id='{id}']/option[normalize-space()=\"{option}\"]");
        Ok(self
            .client
            .find(Locator::XPath(&xpath))
            .await?
            .click()
            .await?)
    }

    /// Clicks the button (or link styled as one) whose text is `text`.
    pub async fn press(&self, text: &str) -> Outcome {
        let xpath =
            format!("//button[normalize-space()=\"{text}\"] | //a[normalize-space()=\"{text}\"]");
        let element = self.client.find(Locator::XPath(&xpath)).await?;
        self.navigating(element.click()).await
    }

    /// Clicks the link reading `text` that stays on this page (a download).
    pub async fn click_in_place(&self, text: &str) -> Outcome {
        let xpath = format!("//a[normalize-space()=\"{text}\"]");
        Ok(self
            .client
            .find(Locator::XPath(&xpath))
            .await?
            .click()
            .await?)
    }

    /// Runs `action` (a click that leads to another page) and waits for the new page to load:
    /// a click returns before the browser has left the old one.
    async fn navigating(
        &self,
        action: impl std::future::Future<Output = Result<(), fantoccini::error::CmdError>>,
    ) -> Outcome {
        self.client
            .execute("window.__leaving = true;", vec![])
            .await?;
        action.await?;
        let started = Instant::now();
        loop {
            let loaded = self
                .client
                .execute(
                    "return !window.__leaving && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(loaded, Ok(Value::Bool(true))) {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(15) {
                return Err("the click did not lead to a new page".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the first link whose text starts with `text`.
    pub async fn follow(&self, text: &str) -> Outcome {
        let xpath = format!("//a[starts-with(normalize-space(), \"{text}\")]");
        let link = self.client.find(Locator::XPath(&xpath)).await?;
        self.navigating(link.click()).await
    }

    /// The text of the element with this id, waiting up to 10 s for it (after a form post).
    pub async fn text_of(&self, id: &str) -> Outcome<String> {
        let started = Instant::now();
        loop {
            match self.client.find(Locator::Id(id)).await {
                Ok(element) => return Ok(element.text().await?),
                Err(_) if started.elapsed() < Duration::from_secs(10) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(err) => {
                    return Err(
                        format!("#{id}: {err}; the page says: {}", self.text().await?).into(),
                    )
                }
            }
        }
    }

    /// Opens `url` again until its `h1` reads `title`: a change made through another server
    /// reaches this one by a database notification, a few milliseconds later.
    pub async fn goto_until_title(&self, url: &str, title: &str) -> Outcome {
        let started = Instant::now();
        loop {
            self.goto(url).await?;
            if self.title().await.is_ok_and(|t| t == title) {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err(format!(
                    "{url} never showed {title:?}; it says: {}",
                    self.text().await?
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page text contains `wanted` (a page that reloads itself).
    pub async fn wait_for_text(&self, wanted: &str, limit: Duration) -> Outcome {
        let started = Instant::now();
        loop {
            if self
                .text()
                .await
                .map(|t| t.contains(wanted))
                .unwrap_or(false)
            {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(format!(
                    "waited {limit:?} for {wanted:?}; the page says: {}",
                    self.text().await?
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The checks every page gets; screenshots are saved as `<name>-desktop.png` and
    /// `<name>-mobile.png`, the axe report as `<name>.axe.json`.
    pub async fn check_page(&self, name: &str) -> Outcome {
        self.assert_no_csp_violations(name).await?;
        self.assert_accessible(name).await?;
        let dir = &self.fixture.screenshots;
        self.client.set_window_size(DESKTOP.0, DESKTOP.1).await?;
        std::fs::write(
            dir.join(format!("{name}-desktop.png")),
            self.client.screenshot().await?,
        )?;
        self.client.set_window_size(MOBILE.0, MOBILE.1).await?;
        let widths = self
            .client
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await?;
        let (scroll, inner) = (
            widths[0].as_u64().unwrap_or(0),
            widths[1].as_u64().unwrap_or(0),
        );
        if scroll > inner {
            return Err(format!(
                "{name}: at {} px wide the page is {scroll} px wide (it scrolls sideways)",
                inner
            )
            .into());
        }
        std::fs::write(
            dir.join(format!("{name}-mobile.png")),
            self.client.screenshot().await?,
        )?;
        self.client.set_window_size(DESKTOP.0, DESKTOP.1).await?;
        Ok(())
    }

    /// The CSP violations the browser logged since the last call.
    pub async fn csp_violations(&self) -> Outcome<Vec<String>> {
        let log = self.client.issue_cmd(BrowserLog).await?;
        Ok(log
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry["message"].as_str())
            .filter(|message| {
                message.contains("Content Security Policy")
                    || message.contains("Content-Security-Policy")
            })
            .map(str::to_owned)
            .collect())
    }

    async fn assert_no_csp_violations(&self, name: &str) -> Outcome {
        let violations = self.csp_violations().await?;
        if violations.is_empty() {
            Ok(())
        } else {
            Err(format!("{name}: CSP violations: {violations:?}").into())
        }
    }

    /// axe-core's violations on the current page (`id`, `impact`, `help`, `nodes`).
    pub async fn axe_violations(&self) -> Outcome<Vec<Value>> {
        // Injected through WebDriver, which the page's CSP does not govern.
        self.client
            .execute(&format!("{};return true;", self.fixture.axe_source), vec![])
            .await?;
        let report = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                    .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }))))
                    .catch(e => done({ error: String(e) }));",
                vec![],
            )
            .await?;
        match report {
            Value::Array(violations) => Ok(violations),
            other => Err(format!("axe failed: {other}").into()),
        }
    }

    async fn assert_accessible(&self, name: &str) -> Outcome {
        let violations = self.axe_violations().await?;
        std::fs::write(
            self.fixture.screenshots.join(format!("{name}.axe.json")),
            serde_json::to_string_pretty(&violations)?,
        )?;
        let grave: Vec<&Value> = violations
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        if grave.is_empty() {
            Ok(())
        } else {
            Err(format!("{name}: axe found serious or critical violations: {grave:?}").into())
        }
    }
}
