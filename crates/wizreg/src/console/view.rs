//! The console's page frame and form pieces, as typed `maud` templates. Every control gets a
//! label; an error sits next to its field and is tied to it with `aria-describedby`. No
//! inline script or style anywhere (the CSP forbids both).

use maud::{html, Markup, DOCTYPE};

use super::assets;

/// Which console a page belongs to, for its header and navigation.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Area<'a> {
    /// A school's staff console: the school's name, the current section, and whether a
    /// sign-out button belongs in the header (not in `open` mode).
    Staff {
        school: &'a str,
        section: Section,
        signed_in: bool,
    },
    /// The operator console; `signed_in` shows the sign-out button.
    Operator { signed_in: bool },
    /// A page outside either (an error, a sign-in form).
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Students,
    Houses,
}

/// What every page has besides its content.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    pub title: &'a str,
    pub area: Area<'a>,
    pub csrf: &'a str,
    /// Seconds after which the page reloads itself (a progress page), without script.
    pub refresh_secs: Option<u32>,
}

impl<'a> Frame<'a> {
    pub fn new(title: &'a str, area: Area<'a>, csrf: &'a str) -> Self {
        Self {
            title,
            area,
            csrf,
            refresh_secs: None,
        }
    }
}

pub(crate) fn page(frame: Frame<'_>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(secs) = frame.refresh_secs {
                    meta http-equiv="refresh" content=(secs);
                }
                title { (frame.title) " · Wizreg" }
                link rel="stylesheet" href=(assets::STYLE.url());
                script src=(assets::SCRIPT.url()) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.bar {
                    div.bar-inner {
                        (brand(&frame.area))
                        (navigation(&frame.area, frame.csrf))
                    }
                }
                main #main tabindex="-1" { (content) }
                footer.foot {
                    p { "Wizreg · each school's data is isolated by the database itself" }
                }
            }
        }
    }
}

fn brand(area: &Area<'_>) -> Markup {
    let (home, context) = match area {
        Area::Staff { school, .. } => ("/ui/", Some(*school)),
        Area::Operator { .. } => ("/ui/admin/", Some("Operator console")),
        Area::Plain => ("/ui/", None),
    };
    html! {
        a.brand href=(home) {
            span.logo aria-hidden="true" { "W" }
            span { "Wizreg" }
        }
        @if let Some(context) = context { span.context { (context) } }
    }
}

fn navigation(area: &Area<'_>, csrf: &str) -> Markup {
    let current = |on: bool| on.then_some("page");
    match area {
        Area::Staff {
            section, signed_in, ..
        } => html! {
            nav.nav aria-label="Main" {
                ul {
                    li { a href="/ui/students" aria-current=[current(*section == Section::Students)] { "Students" } }
                    li { a href="/ui/houses" aria-current=[current(*section == Section::Houses)] { "Houses" } }
                }
                @if *signed_in { (sign_out("/ui/sign-out", csrf)) }
            }
        },
        Area::Operator { signed_in: true } => html! {
            nav.nav aria-label="Main" {
                ul { li { a href="/ui/admin/" aria-current="page" { "Schools" } } }
                (sign_out("/ui/admin/sign-out", csrf))
            }
        },
        _ => html! {},
    }
}

fn sign_out(action: &str, csrf: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(csrf))
            button.link type="submit" { "Sign out" }
        }
    }
}

/// The hidden CSRF field every form carries.
pub(crate) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// A labelled text input with its error (if any) right below it.
#[derive(Debug)]
pub(crate) struct Field<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub value: &'a str,
    pub kind: &'a str,
    pub required: bool,
    pub error: Option<&'a str>,
    pub hint: Option<&'a str>,
    pub autocomplete: &'a str,
    /// Whether an optional field says so in its label (not for a search box).
    pub mark_optional: bool,
}

impl<'a> Field<'a> {
    pub fn text(name: &'a str, label: &'a str, value: &'a str) -> Self {
        Self {
            name,
            label,
            value,
            kind: "text",
            required: false,
            error: None,
            hint: None,
            autocomplete: "off",
            mark_optional: true,
        }
    }
    /// A search box: optional by nature, so its label does not say it.
    pub fn search(mut self) -> Self {
        self.kind = "search";
        self.mark_optional = false;
        self
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }
    pub fn error(mut self, error: Option<&'a str>) -> Self {
        self.error = error;
        self
    }
    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }
    /// A distinct id when one page has two forms with a field of the same name.
    pub fn render_as(&self, id: &str) -> Markup {
        let error_id = format!("{id}-error");
        let hint_id = format!("{id}-hint");
        let described = [
            self.hint.map(|_| hint_id.as_str()),
            self.error.map(|_| error_id.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        html! {
            div.field.invalid[self.error.is_some()] {
                label for=(id) { (self.label) @if !self.required && self.mark_optional { span.optional { " (optional)" } } }
                @if let Some(hint) = self.hint { p.hint id=(hint_id) { (hint) } }
                input id=(id) name=(self.name) type=(self.kind) value=(self.value)
                    autocomplete=(self.autocomplete) required[self.required]
                    aria-invalid=[self.error.map(|_| "true")]
                    aria-describedby=[(!described.is_empty()).then_some(described.as_str())];
                @if let Some(error) = self.error {
                    p.error id=(error_id) { (self.label) " " (error) }
                }
            }
        }
    }
    pub fn render(&self) -> Markup {
        self.render_as(self.name)
    }
}

/// A notice after an action ("Student added."), announced to screen readers.
pub(crate) fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text { p.notice role="status" { (text) } }
    }
}

/// A short date for tables: `2026-11-27`.
pub(crate) fn day(at: time::OffsetDateTime) -> String {
    let date = at.date();
    format!(
        "{}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// A page asking to confirm a destructive action, with the way back.
pub(crate) fn confirmation(
    csrf: &str,
    title: &str,
    consequence: &str,
    action: &str,
    button: &str,
    back: &str,
) -> Markup {
    html! {
        section.panel.narrow aria-labelledby="confirm-title" {
            h1 #confirm-title { (title) }
            p { (consequence) }
            form method="post" action=(action) {
                (csrf_field(csrf))
                div.actions {
                    button.danger type="submit" { (button) }
                    a.button.secondary href=(back) { "Cancel" }
                }
            }
        }
    }
}
