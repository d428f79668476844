//! Browser tests of the web console: headless Chromium over WebDriver (chromedriver) against
//! real `wizreg serve` processes. A harness of its own (libtest-mimic) so that the servers and
//! the driver start once for every test and are stopped at the end, whatever happened.
//!
//! Each test opens its own browser with a fresh profile and works on its own schools, so the
//! tests run side by side on one database.

mod browser;
mod fixture;
mod operator;
mod security;
mod sign_in;
mod staff;

use std::future::Future;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::browser::Browser;
use crate::fixture::{Fixture, Outcome};

type Scenario =
    fn(Arc<Fixture>, Arc<Browser>) -> std::pin::Pin<Box<dyn Future<Output = Outcome> + Send>>;

macro_rules! scenario {
    ($path:path) => {
        (
            stringify!($path),
            (|fixture, browser| Box::pin($path(fixture, browser))) as Scenario,
        )
    };
}

fn main() {
    let arguments = Arguments::from_args();
    let scenarios: Vec<(&str, Scenario)> = vec![
        scenario!(staff::walkthrough_each_school_lists_only_its_own_students),
        scenario!(staff::validation_errors_show_next_to_the_field_and_houses_and_paging_work),
        scenario!(sign_in::sign_in_and_out_with_an_api_key_and_a_revoked_key_ends_the_session),
        scenario!(sign_in::a_hogwarts_session_on_castelobruxos_host_gets_403),
        scenario!(sign_in::a_jwt_signs_in_to_its_own_school_only_and_an_expired_one_is_refused),
        scenario!(sign_in::suspended_and_unknown_schools_see_their_own_page),
        scenario!(operator::operator_creates_suspends_keys_exports_imports_and_deletes_a_school),
        scenario!(security::a_cross_site_form_post_without_the_token_is_refused),
        scenario!(security::pages_carry_the_security_headers_and_assets_are_cached_by_hash),
    ];
    // Listing the tests must not start anything.
    let fixture = if arguments.list {
        Err("listing only".to_owned())
    } else {
        Fixture::start().map(Arc::new).map_err(|e| e.to_string())
    };
    let trials = scenarios
        .into_iter()
        .map(|(name, scenario)| {
            let fixture = fixture.clone();
            Trial::test(name, move || run(fixture, scenario))
        })
        .collect();
    let conclusion = libtest_mimic::run(&arguments, trials);
    // Stops the servers and the driver before the process exits.
    if let Ok(fixture) = &fixture {
        fixture.stop();
    }
    conclusion.exit();
}

fn run(fixture: Result<Arc<Fixture>, String>, scenario: Scenario) -> Result<(), Failed> {
    let fixture = fixture.map_err(Failed::from)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::from(e.to_string()))?;
    runtime.block_on(async move {
        let browser = Browser::open(fixture.clone()).await.map_err(|e| {
            Failed::from(format!("could not open Chromium through chromedriver: {e}"))
        })?;
        let browser = Arc::new(browser);
        let outcome = scenario(fixture, browser.clone()).await;
        browser.close().await;
        outcome.map_err(|e| Failed::from(e.to_string()))
    })
}
