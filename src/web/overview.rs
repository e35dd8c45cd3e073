//! `/`: the organisation at a glance (open findings by severity and source, the accounts with
//! the most severe open findings, coverage gaps, the baseline checks failing most, data
//! freshness, a 30-day sparkline), and the
//! pieces the other posture pages share: counts per severity that link to the findings they
//! count, with a stacked bar.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::error::PageError;
use super::format::{Count, ago, findings_url, when};
use super::{AppState, Chrome, Viewer, render};
use crate::db;
use crate::db::posture::{DayCount, KeyedCount};
use crate::domain::{Severity, Source};

/// A number on a page and the findings list it counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    pub n: Count,
    pub href: String,
}

impl Linked {
    pub fn new(n: i64, href: String) -> Self {
        Self { n: Count(n), href }
    }

    pub fn is_zero(&self) -> bool {
        self.n.0 == 0
    }
}

/// Open findings per severity, in the order of `Severity::ALL` (most severe first).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally(pub [i64; 5]);

impl Tally {
    /// Adds `n` findings of `severity` (a database label; an unknown one is ignored).
    pub fn add(&mut self, severity: &str, n: i64) {
        if let Some(i) = Severity::ALL.iter().position(|s| s.as_str() == severity) {
            self.0[i] += n;
        }
    }

    pub fn total(&self) -> i64 {
        self.0.iter().sum()
    }

    /// The ranking of "most severe": more critical first, then more high, and so on down.
    pub fn gravity(&self) -> [i64; 5] {
        self.0
    }
}

/// One severity's open count, linked, and its segment of the stacked bar.
#[derive(Debug, Clone, PartialEq)]
pub struct SevCell {
    pub severity: &'static str,
    /// `Critical`, `High`, …
    pub label: &'static str,
    pub count: Linked,
    /// Where the bar segment starts and how wide it is, in percent of the bar.
    pub x: String,
    pub w: String,
}

/// The open findings of one scope (an account, a region, a source…) per severity, each count
/// linking to exactly those findings, with their total.
#[derive(Debug, Clone, PartialEq)]
pub struct SevCounts {
    pub cells: Vec<SevCell>,
    pub total: Linked,
}

impl SevCounts {
    /// `scope` is the filter that selects the scope (`[("account", id)]`); `status=open` and the
    /// severity are added. The bar fills the whole area; see `scale_to`.
    pub fn new(tally: &Tally, scope: &[(&str, &str)]) -> Self {
        let link = |severity: Option<&str>| {
            let mut pairs: Vec<(&str, &str)> = vec![("status", "open")];
            pairs.extend_from_slice(scope);
            if let Some(s) = severity {
                pairs.push(("severity", s));
            }
            findings_url(&pairs)
        };
        let mut counts = Self {
            cells: Severity::ALL
                .iter()
                .zip(tally.0)
                .map(|(s, n)| SevCell {
                    severity: s.as_str(),
                    label: severity_label(*s),
                    count: Linked::new(n, link(Some(s.as_str()))),
                    x: String::new(),
                    w: String::new(),
                })
                .collect(),
            total: Linked::new(tally.total(), link(None)),
        };
        counts.scale_to(tally.total());
        counts
    }

    /// Sizes the bar so that `largest` open findings fill it: rows of one table compare.
    pub fn scale_to(&mut self, largest: i64) {
        let total = self.total.n.0;
        let full = if largest > 0 {
            100.0 * total as f64 / largest as f64
        } else {
            0.0
        };
        let mut x = 0.0;
        for c in &mut self.cells {
            let w = if total > 0 {
                full * c.count.n.0 as f64 / total as f64
            } else {
                0.0
            };
            c.x = format!("{x:.2}");
            c.w = format!("{w:.2}");
            x += w;
        }
    }
}

/// Scales the bars of a table's rows to its largest row.
pub fn scale_bars<'a>(rows: impl Iterator<Item = &'a mut SevCounts>) {
    let rows: Vec<&mut SevCounts> = rows.collect();
    let largest = rows.iter().map(|r| r.total.n.0).max().unwrap_or(0);
    for r in rows {
        r.scale_to(largest);
    }
}

/// A severity as a heading or badge shows it.
pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Informational => "Informational",
    }
}

/// The name people know a source by, from its database label (the database holds only the
/// five labels of `Source`).
pub fn source_name(source: &str) -> &'static str {
    source
        .parse::<Source>()
        .map(Source::display_name)
        .unwrap_or("unknown source")
}

/// A coverage state as a label (`access_denied` → `access denied`); `None` is a target the
/// poller has not read yet.
pub fn state_label(state: Option<&str>) -> &'static str {
    match state {
        Some("enabled") => "enabled",
        Some("not_enabled") => "not enabled",
        Some("access_denied") => "access denied",
        Some("error") => "error",
        Some("unknown") => "unknown",
        Some(_) => "unrecognised state",
        None => "not polled yet",
    }
}

/// `1 open finding`, `2 open findings`: a count and a noun that agrees with it.
pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", Count(n), if n == 1 { one } else { many })
}

/// A moment shown as "5 min ago" with the exact time beside it (in a `title`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    pub ago: String,
    pub when: String,
}

impl Moment {
    pub fn new(at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self {
            ago: ago(at, now),
            when: when(at),
        }
    }
}

struct SourceRow {
    name: &'static str,
    counts: SevCounts,
}

struct TopAccount {
    id: String,
    name: String,
    counts: SevCounts,
}

struct Gap {
    label: &'static str,
    state: &'static str,
    count: Count,
    href: String,
}

struct Freshness {
    enabled_targets: Count,
    oldest: Option<Moment>,
    newest: Option<Moment>,
    never_succeeded: Count,
}

/// A baseline check that some accounts fail, and the grid of those accounts.
struct FailingCheck {
    name: &'static str,
    short: &'static str,
    title: &'static str,
    accounts: Linked,
}

/// The baseline in brief: which required checks fail in how many accounts, and how many
/// accounts have a check that could not be read.
struct BaselineBrief {
    /// Whether any result is stored.
    read: bool,
    accounts: Count,
    failing_accounts: Linked,
    unknown_accounts: Linked,
    unknown_checks: Count,
    /// Only checks with failures, most failing first.
    failing: Vec<FailingCheck>,
}

impl BaselineBrief {
    fn new(t: &super::baseline::Totals) -> Self {
        use super::baseline::baseline_url;
        let mut failing: Vec<FailingCheck> = crate::baseline::Check::ALL
            .iter()
            .zip(t.failing)
            .filter(|(_, n)| *n > 0)
            .map(|(c, n)| FailingCheck {
                name: c.name(),
                short: c.short(),
                title: c.title(),
                accounts: Linked::new(n, baseline_url(&[("result", "fail"), ("check", c.name())])),
            })
            .collect();
        // Stable: equal counts keep the checks' own order.
        failing.sort_by_key(|f| std::cmp::Reverse(f.accounts.n));
        Self {
            read: t.accounts > 0,
            accounts: Count(t.accounts),
            failing_accounts: Linked::new(t.failing_accounts, baseline_url(&[("result", "fail")])),
            unknown_accounts: Linked::new(
                t.unknown_accounts,
                baseline_url(&[("result", "unknown")]),
            ),
            unknown_checks: Count(t.unknown_checks),
            failing,
        }
    }
}

/// A 30-day line of open findings, drawn server-side as SVG.
struct Sparkline {
    points: String,
    /// The last point, marked with a dot.
    last_x: String,
    last_y: String,
    first_day: String,
    last_day: String,
    latest: Count,
    low: Count,
    high: Count,
    days: usize,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    chrome: Chrome,
    open: SevCounts,
    sources: Vec<SourceRow>,
    top: Vec<TopAccount>,
    accounts_with_open: Count,
    gaps: Vec<Gap>,
    gaps_total: Count,
    targets: Count,
    freshness: Freshness,
    trend: Option<Sparkline>,
    baseline: BaselineBrief,
}

/// How many accounts the overview ranks.
const TOP_ACCOUNTS: usize = 10;
/// The sparkline's period.
const TREND_DAYS: i32 = 30;

pub async fn show_overview(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let pool = &state.pool;
    let (by_source, by_account, accounts, states, fresh, days, baseline) = tokio::try_join!(
        state.counts.get_cloned(pool, "open_by_source".into(), || {
            db::posture::open_by_source(pool)
        }),
        state.counts.get_cloned(pool, "open_by_account".into(), || {
            db::posture::open_by_account(pool)
        }),
        db::posture::accounts(pool),
        state.counts.get_cloned(pool, "coverage_states".into(), || {
            db::posture::coverage_states(pool)
        }),
        state
            .counts
            .get_cloned(pool, "freshness".into(), || db::posture::freshness(pool)),
        state.counts.get_cloned(
            pool,
            format!(
                "open_per_day:{TREND_DAYS}:{}",
                chrono::Utc::now().date_naive()
            ),
            || db::posture::open_per_day(pool, TREND_DAYS)
        ),
        // The poller stores the baseline just before it refreshes the counts, so a cached
        // count is as new as the stored results.
        state
            .counts
            .get_cloned(pool, "baseline_totals".into(), || async {
                Ok(super::baseline::Totals::of_rows(
                    &db::baseline::list(pool, None).await?,
                ))
            }),
    )?;

    let mut org = Tally::default();
    for r in &by_source {
        org.add(&r.severity, r.count);
    }
    let sources = source_rows(&by_source);
    let (top, accounts_with_open) = top_accounts(&by_account, &accounts);

    let mut gaps = Vec::new();
    for (state, label) in [
        (Some("not_enabled"), "not enabled"),
        (Some("access_denied"), "access denied"),
        (Some("error"), "error"),
        (Some("unknown"), "unknown"),
        (None, "not polled yet"),
    ] {
        let n: i64 = states
            .iter()
            .filter(|s| s.state.as_deref() == state)
            .map(|s| s.count)
            .sum();
        let key = state.unwrap_or("not_polled");
        gaps.push(Gap {
            label,
            state: key,
            count: Count(n),
            href: format!("/coverage?state={key}"),
        });
    }
    let targets: i64 = states.iter().map(|s| s.count).sum();
    let gaps_total = Count(gaps.iter().map(|g| g.count.0).sum());

    let page = OverviewPage {
        chrome: Chrome::for_viewer("overview", viewer),
        open: SevCounts::new(&org, &[]),
        sources,
        top,
        accounts_with_open: Count(accounts_with_open),
        gaps,
        gaps_total,
        targets: Count(targets),
        freshness: Freshness {
            enabled_targets: Count(fresh.enabled_targets),
            // Freshness is computed once per refresh; its age is counted from now.
            oldest: fresh
                .oldest_success
                .map(|t| Moment::new(t, chrono::Utc::now())),
            newest: fresh
                .newest_success
                .map(|t| Moment::new(t, chrono::Utc::now())),
            never_succeeded: Count(fresh.never_succeeded),
        },
        trend: sparkline(&days),
        baseline: BaselineBrief::new(&baseline),
    };
    render(&page)
}

/// Every source, in the order of `Source::ALL`, then any other the database holds.
fn source_rows(by_source: &[KeyedCount]) -> Vec<SourceRow> {
    let mut rows: Vec<SourceRow> = Source::ALL
        .iter()
        .map(|s| {
            let mut t = Tally::default();
            for r in by_source.iter().filter(|r| r.key == s.as_str()) {
                t.add(&r.severity, r.count);
            }
            SourceRow {
                name: s.display_name(),
                counts: SevCounts::new(&t, &[("source", s.as_str())]),
            }
        })
        .collect();
    scale_bars(rows.iter_mut().map(|r| &mut r.counts));
    rows
}

/// The accounts with the most severe open findings (more critical first, then more high, …),
/// and how many accounts have any open finding.
fn top_accounts(
    by_account: &[KeyedCount],
    accounts: &[db::posture::AccountInfo],
) -> (Vec<TopAccount>, i64) {
    let mut tallies: std::collections::BTreeMap<&str, Tally> = Default::default();
    for r in by_account {
        tallies.entry(&r.key).or_default().add(&r.severity, r.count);
    }
    let with_open = tallies.values().filter(|t| t.total() > 0).count() as i64;
    let mut ranked: Vec<(&str, Tally)> = tallies.into_iter().collect();
    ranked.sort_by(|a, b| b.1.gravity().cmp(&a.1.gravity()).then(a.0.cmp(b.0)));
    let mut top: Vec<TopAccount> = ranked
        .into_iter()
        .filter(|(_, t)| t.total() > 0)
        .take(TOP_ACCOUNTS)
        .map(|(id, t)| TopAccount {
            id: id.to_owned(),
            name: accounts
                .iter()
                .find(|a| a.id == id)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            counts: SevCounts::new(&t, &[("account", id)]),
        })
        .collect();
    scale_bars(top.iter_mut().map(|r| &mut r.counts));
    (top, with_open)
}

/// The SVG of the daily open counts; `None` when no day has a rollup.
fn sparkline(days: &[DayCount]) -> Option<Sparkline> {
    let (first, last) = (days.first()?, days.last()?);
    const W: f64 = 360.0;
    const H: f64 = 56.0;
    const PAD: f64 = 3.0;
    let high = days.iter().map(|d| d.open).max().unwrap_or(0);
    let low = days.iter().map(|d| d.open).min().unwrap_or(0);
    let span_days = (TREND_DAYS - 1) as f64;
    // The x axis is the whole period, so a missing day is a visible gap in spacing.
    let start = last.day - chrono::Days::new((TREND_DAYS - 1) as u64);
    let xy = |d: &DayCount| {
        let x = PAD + (W - 2.0 * PAD) * (d.day - start).num_days() as f64 / span_days;
        let y = if high == low {
            H / 2.0
        } else {
            PAD + (H - 2.0 * PAD) * (1.0 - (d.open - low) as f64 / (high - low) as f64)
        };
        (x, y)
    };
    let points = days
        .iter()
        .map(|d| {
            let (x, y) = xy(d);
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let (lx, ly) = xy(last);
    Some(Sparkline {
        points,
        last_x: format!("{lx:.1}"),
        last_y: format!("{ly:.1}"),
        first_day: first.day.to_string(),
        last_day: last.day.to_string(),
        latest: Count(last.open),
        low: Count(low),
        high: Count(high),
        days: days.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_links_count_exactly_what_they_show() {
        let mut t = Tally::default();
        t.add("critical", 2);
        t.add("low", 5);
        t.add("bogus", 9);
        let c = SevCounts::new(&t, &[("account", "111111111111")]);
        assert_eq!(c.total.n, Count(7));
        assert_eq!(c.total.href, "/findings?status=open&account=111111111111");
        assert_eq!(c.cells[0].severity, "critical");
        assert_eq!(
            c.cells[0].count.href,
            "/findings?status=open&account=111111111111&severity=critical"
        );
        assert_eq!(c.cells[3].count.n, Count(5));
    }

    #[test]
    fn bars_scale_to_the_largest_row() {
        let mut big = Tally::default();
        big.add("high", 30);
        big.add("low", 10);
        let mut small = Tally::default();
        small.add("critical", 10);
        let mut rows = [SevCounts::new(&big, &[]), SevCounts::new(&small, &[])];
        scale_bars(rows.iter_mut());
        assert_eq!(rows[0].cells[1].w, "75.00");
        assert_eq!(rows[0].cells[3].x, "75.00");
        assert_eq!(rows[1].cells[0].w, "25.00");
    }

    #[test]
    fn ranking_puts_critical_before_volume() {
        let rows = [
            ("111111111111", "low", 500),
            ("222222222222", "critical", 1),
            ("333333333333", "critical", 1),
            ("333333333333", "high", 1),
        ]
        .map(|(a, s, n)| KeyedCount {
            key: a.into(),
            severity: s.into(),
            count: n,
        });
        let (top, with_open) = top_accounts(&rows, &[]);
        let ids: Vec<&str> = top.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["333333333333", "222222222222", "111111111111"]);
        assert_eq!(with_open, 3);
    }

    #[test]
    fn sparkline_spans_the_period() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let days = [
            DayCount {
                day: today - chrono::Days::new(29),
                open: 10,
            },
            DayCount {
                day: today,
                open: 20,
            },
        ];
        let s = sparkline(&days).unwrap();
        assert_eq!(s.points, "3.0,53.0 357.0,3.0");
        assert_eq!((s.low, s.high, s.latest), (Count(10), Count(20), Count(20)));
        assert!(sparkline(&[]).is_none());
    }
}
