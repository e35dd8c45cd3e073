//! `GET /metrics`: Prometheus gauges read from Postgres on each scrape (findings, coverage, the
//! last poll of every target and cycle, data age), in the text exposition format 0.0.4.
//!
//! The format is written here rather than with a client crate: `prometheus` and
//! `prometheus-client` are built around a registry of live counters that a process updates,
//! while every number here is a snapshot read from the database per scrape (the pollers that
//! produce them may run elsewhere). `prometheus-client` also speaks OpenMetrics rather than
//! 0.0.4. What we need of the format is `# HELP`, `# TYPE`, samples and three escapes.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::db;
use crate::db::metrics::Snapshot;
use crate::domain::{Severity, Source, Status};

/// The media type of the text exposition format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The states of the `coverage_state` enum (migrations/): each source reports all of them.
const COVERAGE_STATES: [&str; 5] = [
    "enabled",
    "not_enabled",
    "access_denied",
    "error",
    "unknown",
];

/// Answers the metrics, unauthenticated like `/healthz`; 503 when the database cannot be read.
pub async fn show_metrics(State(state): State<AppState>) -> Response {
    match db::metrics::snapshot(&state.pool).await {
        Ok(snapshot) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], render(&snapshot)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics query failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// The exposition of a snapshot. Findings and coverage list every known label combination,
/// zeros included, so that graphs and sums see a drop to zero rather than a gap.
pub fn render(s: &Snapshot) -> String {
    let mut out = Exposition::default();

    out.family(
        "sightline_up",
        "1 when Sightline read its database for this scrape (otherwise /metrics answers 503).",
    )
    .sample(&[], 1.0);

    let mut findings: BTreeMap<(&str, &str, &str), i64> = BTreeMap::new();
    for source in Source::ALL {
        for status in Status::ALL {
            for severity in Severity::ALL {
                findings.insert((source.as_str(), status.as_str(), severity.as_str()), 0);
            }
        }
    }
    for f in &s.findings {
        findings.insert((&f.source, &f.status, &f.severity), f.count);
    }
    let mut family = out.family(
        "sightline_findings",
        "Canonical findings by the source that produced them, status and severity.",
    );
    for ((source, status, severity), count) in findings {
        family.sample(
            &[
                ("source", source),
                ("status", status),
                ("severity", severity),
            ],
            count as f64,
        );
    }

    let mut coverage: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for source in Source::ALL {
        for state in COVERAGE_STATES {
            coverage.insert((source.as_str(), state), 0);
        }
    }
    for c in &s.coverage {
        coverage.insert((&c.source, &c.state), c.count);
    }
    let mut family = out.family(
        "sightline_poll_targets",
        "Poll targets (account, region, source) by coverage state, as last read from each service.",
    );
    for ((source, state), count) in coverage {
        family.sample(&[("source", source), ("state", state)], count as f64);
    }

    // One family per counter of the last runs, each with a sample per source.
    type Field = fn(&db::metrics::LastRuns) -> f64;
    let last_runs: [(&str, &str, Field); 5] = [
        (
            "sightline_poll_last_duration_seconds",
            "Longest of the most recent finished runs of the source's targets (they run in parallel: the slowest paces a cycle).",
            |r| r.max_seconds,
        ),
        (
            "sightline_poll_last_pages",
            "Pages read, summed over the most recent finished run of each of the source's targets.",
            |r| r.pages as f64,
        ),
        (
            "sightline_poll_last_throttles",
            "Throttled requests, summed over the most recent finished run of each of the source's targets.",
            |r| r.throttles as f64,
        ),
        (
            "sightline_poll_last_errors",
            "Targets of the source whose most recent finished run ended with an error.",
            |r| r.errors as f64,
        ),
        (
            "sightline_poll_last_findings_seen",
            "Findings read, summed over the most recent finished run of each of the source's targets.",
            |r| r.findings_seen as f64,
        ),
    ];
    if !s.last_runs.is_empty() {
        for (name, help, field) in last_runs {
            let mut family = out.family(name, help);
            for r in &s.last_runs {
                family.sample(&[("source", &r.source)], field(r));
            }
        }
    }

    if let Some(cycle) = &s.last_cycle {
        out.family(
            "sightline_poll_cycle_last_duration_seconds",
            "Duration of the latest finished poll cycle, from its first poller's start to its last poller's end.",
        )
        .sample(&[], cycle.seconds);
        out.family(
            "sightline_poll_cycle_last_end_timestamp_seconds",
            "When the latest finished poll cycle ended, in seconds since the Unix epoch.",
        )
        .sample(&[], cycle.ended_at.timestamp_millis() as f64 / 1000.0);
    }

    if !s.data_age.is_empty() {
        let mut family = out.family(
            "sightline_data_age_seconds",
            "Seconds since the oldest last successful poll among targets whose coverage is enabled, per source and (without a label) overall; +Inf while one of them has never been polled successfully.",
        );
        let mut overall = 0.0_f64;
        for a in &s.data_age {
            let age = match a.oldest_success_seconds {
                Some(seconds) if a.never_succeeded == 0 => seconds,
                _ => f64::INFINITY,
            };
            overall = overall.max(age);
            family.sample(&[("source", &a.source)], age);
        }
        family.sample(&[], overall);
    }

    out.text
}

/// A text exposition being written: families in turn, each announced once.
#[derive(Default)]
struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts a gauge family; its samples follow before the next family starts.
    fn family(&mut self, name: &'static str, help: &str) -> Family<'_> {
        self.text.push_str("# HELP ");
        self.text.push_str(name);
        self.text.push(' ');
        self.text.push_str(&escape_help(help));
        self.text.push_str("\n# TYPE ");
        self.text.push_str(name);
        self.text.push_str(" gauge\n");
        Family {
            text: &mut self.text,
            name,
        }
    }
}

/// The family being written: the borrow keeps its samples together.
struct Family<'a> {
    text: &'a mut String,
    name: &'static str,
}

impl Family<'_> {
    fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(self.name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (name, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.text.push_str(name);
                self.text.push_str("=\"");
                self.text.push_str(&escape_label_value(value));
                self.text.push('"');
            }
            self.text.push('}');
        }
        self.text.push(' ');
        self.text.push_str(&format_value(value));
        self.text.push('\n');
    }
}

/// A label value between double quotes: backslash, double quote and line feed are escaped.
fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text: backslash and line feed are escaped (a double quote is not).
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value as Go's `ParseFloat` reads it: integers without a decimal point, and the
/// spellings `+Inf`, `-Inf`, `NaN`. Rust's `Display` never uses an exponent.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::db::metrics::{CoverageCount, DataAge, FindingCount, LastCycle, LastRuns};

    #[test]
    fn label_values_and_help_are_escaped() {
        assert_eq!(
            escape_label_value("C:\\dir \"quoted\"\nnext"),
            "C:\\\\dir \\\"quoted\\\"\\nnext"
        );
        assert_eq!(escape_label_value("plain é"), "plain é");
        assert_eq!(escape_help("a \\ b\n\"c\""), "a \\\\ b\\n\"c\"");

        let mut out = Exposition::default();
        out.family("m", "help\nline")
            .sample(&[("a", "x\"y"), ("b", "\\")], 2.0);
        assert_eq!(
            out.text,
            "# HELP m help\\nline\n# TYPE m gauge\nm{a=\"x\\\"y\",b=\"\\\\\"} 2\n"
        );
    }

    #[test]
    fn values_are_spelled_as_prometheus_reads_them() {
        assert_eq!(format_value(7.0), "7");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(1_764_000_000.123), "1764000000.123");
        assert_eq!(format_value(1e21), "1000000000000000000000");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
    }

    fn lines_of<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .collect()
    }

    #[test]
    fn a_snapshot_renders_every_family_once_with_zeros_filled_in() {
        let s = Snapshot {
            findings: vec![FindingCount {
                source: "guardduty".into(),
                status: "open".into(),
                severity: "high".into(),
                count: 3,
            }],
            coverage: vec![CoverageCount {
                source: "macie".into(),
                state: "access_denied".into(),
                count: 2,
            }],
            last_runs: vec![LastRuns {
                source: "inspector".into(),
                targets: 2,
                max_seconds: 1.5,
                pages: 4,
                throttles: 1,
                errors: 1,
                findings_seen: 250,
            }],
            last_cycle: Some(LastCycle {
                seconds: 61.25,
                ended_at: Utc.timestamp_opt(1_764_000_000, 500_000_000).unwrap(),
            }),
            data_age: vec![
                DataAge {
                    source: "securityhub".into(),
                    oldest_success_seconds: Some(30.5),
                    never_succeeded: 0,
                },
                DataAge {
                    source: "guardduty".into(),
                    oldest_success_seconds: Some(12.0),
                    never_succeeded: 0,
                },
            ],
        };
        let text = render(&s);
        for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
            assert_eq!(text.matches(&format!("{line}\n")).count(), 1, "{line}");
            assert!(line.ends_with(" gauge"));
        }
        let findings = lines_of(&text, "sightline_findings");
        assert_eq!(findings.len(), 5 * 3 * 5);
        assert!(findings.contains(
            &"sightline_findings{source=\"guardduty\",status=\"open\",severity=\"high\"} 3"
        ));
        assert!(findings.contains(
            &"sightline_findings{source=\"macie\",status=\"resolved\",severity=\"informational\"} 0"
        ));
        let targets = lines_of(&text, "sightline_poll_targets");
        assert_eq!(targets.len(), 5 * 5);
        assert!(
            targets.contains(&"sightline_poll_targets{source=\"macie\",state=\"access_denied\"} 2")
        );
        assert!(text.contains("\nsightline_up 1\n"));
        assert!(
            text.contains("\nsightline_poll_last_duration_seconds{source=\"inspector\"} 1.5\n")
        );
        assert!(text.contains("\nsightline_poll_last_errors{source=\"inspector\"} 1\n"));
        assert!(text.contains("\nsightline_poll_cycle_last_duration_seconds 61.25\n"));
        assert!(text.contains("\nsightline_poll_cycle_last_end_timestamp_seconds 1764000000.5\n"));
        assert_eq!(
            lines_of(&text, "sightline_data_age_seconds"),
            [
                "sightline_data_age_seconds{source=\"securityhub\"} 30.5",
                "sightline_data_age_seconds{source=\"guardduty\"} 12",
                "sightline_data_age_seconds 30.5",
            ]
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_target_never_polled_successfully_makes_its_data_age_infinite() {
        let s = Snapshot {
            findings: vec![],
            coverage: vec![],
            last_runs: vec![],
            last_cycle: None,
            data_age: vec![DataAge {
                source: "macie".into(),
                oldest_success_seconds: Some(5.0),
                never_succeeded: 1,
            }],
        };
        let text = render(&s);
        assert!(text.contains("\nsightline_data_age_seconds{source=\"macie\"} +Inf\n"));
        assert!(text.contains("\nsightline_data_age_seconds +Inf\n"));
        // Nothing polled yet: no family without samples.
        assert!(!text.contains("sightline_poll_cycle_last"));
        assert!(!text.contains("sightline_poll_last_"));
    }
}
