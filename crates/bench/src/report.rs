//! The benchmark's results: one Markdown table, the same as JSON, the targets with their
//! ratios, an SVG chart, and the generated part of `docs/benchmarks.md`.

use std::path::Path;

use serde::Serialize;

use crate::database::Baseline;

/// One row of the table.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Row {
    pub name: String,
    pub mode: String,
    pub requests_per_s: f64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub ratio_to_a: Option<f64>,
    pub ratio_to_b: Option<f64>,
    pub peak_rss_mib: Option<f64>,
    pub server_cpu_us_per_request: Option<f64>,
    pub db_cpu_us_per_request: Option<f64>,
    pub statements_per_request: Option<f64>,
    pub round_trips_per_request: Option<f64>,
    pub failures: u64,
    pub wrong_tenant: u64,
}

/// A target from the issue, with the measured ratio.
#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub measure: String,
    pub value: Option<f64>,
    pub target: String,
    pub met: Option<bool>,
}

impl Target {
    pub fn at_least(measure: &str, value: Option<f64>, bound: f64) -> Self {
        Self::new(measure, value, format!("≥ {bound}"), |v| v >= bound)
    }
    pub fn at_most(measure: &str, value: Option<f64>, bound: f64) -> Self {
        Self::new(measure, value, format!("≤ {bound}"), |v| v <= bound)
    }
    fn new(measure: &str, value: Option<f64>, target: String, ok: impl Fn(f64) -> bool) -> Self {
        Self {
            measure: measure.to_owned(),
            value,
            target,
            met: value.map(ok),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: String,
    pub command: String,
    pub settings: Vec<String>,
    pub baselines: Vec<Baseline>,
    pub rows: Vec<Row>,
    pub targets: Vec<Target>,
    pub limits: crate::run::limits::Limits,
    pub notes: Vec<String>,
}

fn cell(value: Option<f64>, digits: usize) -> String {
    value.map_or("–".into(), |v| format!("{v:.digits$}"))
}

impl Report {
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| run | mode | req/s | p50 ms | p90 ms | p99 ms | ÷ (a) | ÷ (b) | peak RSS MiB | server CPU µs/req | DB CPU µs/req | statements/req | round trips/req | failures |\n\
             |---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
        );
        for r in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.name,
                r.mode,
                r.requests_per_s,
                cell(r.p50_ms, 2),
                cell(r.p90_ms, 2),
                cell(r.p99_ms, 2),
                cell(r.ratio_to_a, 2),
                cell(r.ratio_to_b, 2),
                cell(r.peak_rss_mib, 1),
                cell(r.server_cpu_us_per_request, 0),
                cell(r.db_cpu_us_per_request, 0),
                cell(r.statements_per_request, 2),
                cell(r.round_trips_per_request, 2),
                r.failures + r.wrong_tenant,
            ));
        }
        out
    }

    pub fn targets_table(&self) -> String {
        let mut out = String::from("| measure | measured | target | met |\n|---|--:|---|---|\n");
        for t in &self.targets {
            let met = match t.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "not measured",
            };
            out.push_str(&format!(
                "| {} | {} | {} | {met} |\n",
                t.measure,
                cell(t.value, 2),
                t.target
            ));
        }
        out
    }

    /// The generated section of `docs/benchmarks.md`.
    pub fn markdown(&self, chart_file: &str) -> String {
        let settings: String = self.settings.iter().map(|s| format!("- {s}\n")).collect();
        let notes: String = self.notes.iter().map(|s| format!("- {s}\n")).collect();
        format!(
            "Command: `{}`\n\nMachine: {}\n\nSettings:\n\n{settings}\n{}\n![throughput and p99 per route]({chart_file})\n\n### Limits\n\n{}\n### Targets\n\n{}\n{notes}",
            self.command,
            self.machine,
            self.table(),
            self.limits.markdown(),
            self.targets_table(),
        )
    }

    /// Bars of throughput (closed loop) and p99 at half load, per route beside the baselines.
    pub fn svg(&self) -> String {
        // Closed-loop rows of the main server carry their half-load p99; the others (api-key,
        // the default size beside --large) are labelled by what differs.
        let bars: Vec<(String, f64, Option<f64>)> = self
            .rows
            .iter()
            .filter(|r| r.mode.starts_with("baseline") || r.mode.starts_with("closed"))
            .map(|r| {
                let variant = ["api-key", "100 schools", "2 load threads"]
                    .into_iter()
                    .find(|v| r.mode.contains(v));
                let half = self
                    .rows
                    .iter()
                    .find(|h| h.name == r.name && h.mode.starts_with("fixed"))
                    .and_then(|h| h.p99_ms)
                    .filter(|_| variant.is_none());
                let label = match variant {
                    Some(v) => format!("{} ({v})", r.name),
                    None => r.name.clone(),
                };
                (label, r.requests_per_s, half)
            })
            .collect();
        let max_rate = bars.iter().map(|b| b.1).fold(1.0, f64::max);
        let max_p99 = bars.iter().filter_map(|b| b.2).fold(1.0, f64::max);
        let (label_w, bar_w, row_h) = (250.0, 300.0, 26.0);
        let height = 60.0 + row_h * bars.len() as f64;
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{label_w}\" y=\"20\" font-weight=\"bold\">requests/s (closed loop, 64 connections)</text>\n\
             <text x=\"{}\" y=\"20\" font-weight=\"bold\">p99 ms at half load</text>\n",
            label_w + 2.0 * bar_w + 140.0,
            label_w + bar_w + 90.0,
        );
        for (i, (name, rate, p99)) in bars.iter().enumerate() {
            let y = 40.0 + row_h * i as f64;
            let w = bar_w * rate / max_rate;
            let color = if name.starts_with('(') {
                "#888888"
            } else {
                "#3b6fb6"
            };
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n\
                 <rect x=\"{label_w}\" y=\"{}\" width=\"{w:.1}\" height=\"18\" fill=\"{color}\"/>\n\
                 <text x=\"{:.1}\" y=\"{}\">{rate:.0}</text>\n",
                label_w - 8.0,
                y + 13.0,
                xml_escape(name),
                y,
                label_w + w + 4.0,
                y + 13.0,
            ));
            if let Some(p99) = p99 {
                let x = label_w + bar_w + 90.0;
                let w = bar_w * p99 / max_p99;
                svg.push_str(&format!(
                    "<rect x=\"{x}\" y=\"{y}\" width=\"{w:.1}\" height=\"18\" fill=\"#d9822b\"/>\n\
                     <text x=\"{:.1}\" y=\"{}\">{p99:.2}</text>\n",
                    x + w + 4.0,
                    y + 13.0
                ));
            }
        }
        svg.push_str("</svg>\n");
        svg
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Replaces the generated section `name` of `path`, keeping the hand-written text around it
/// (a missing section is appended).
pub fn write_section(path: &Path, name: &str, section: &str) -> std::io::Result<()> {
    let begin =
        format!("<!-- bench:{name}:begin (generated by scripts/bench.sh; edit outside) -->");
    let end = format!("<!-- bench:{name}:end -->");
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let generated = format!("{begin}\n{section}\n{end}");
    let text = match (existing.find(&begin), existing.find(&end)) {
        (Some(start), Some(stop)) if start < stop => format!(
            "{}{generated}{}",
            &existing[..start],
            &existing[stop + end.len()..]
        ),
        _ => format!("{}\n{generated}\n", existing.trim_end()),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}
