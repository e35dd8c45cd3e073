//! `/trends`: how the estate moved over a period, from daily rollups (never from findings):
//! open findings by severity, new vs resolved per week, time to resolve, the share past SLA and
//! the most overdue findings, the accounts that got better and worse; each chart's numbers as
//! CSV at `/trends/{open,flow,sla,mttr}.csv` with the same query. The sections are shared with
//! the monthly report (`reports.rs`).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate, Utc};

use super::charts::{self, Chart, Series, Unit};
use super::error::PageError;
use super::format::{Count, findings_url};
use super::overview::{Linked, SevCounts, Tally, severity_label, source_name};
use super::series::KeptSeries;
use super::{AppState, Chrome, Viewer, render};
use crate::config::SlaConfig;
use crate::db;
use crate::db::posture::AccountInfo;
use crate::db::trends::{
    FlowPoint, Interval, Mover, Mttr, OpenPoint, SlaBreach, SlaPoint, TrendFilter, TrendGroup,
};
use crate::domain::{AccountId, Severity, Source};

/// The periods the form offers, in days.
pub const PERIODS: [u32; 3] = [30, 90, 365];
/// The period shown when none is asked for.
const DEFAULT_DAYS: u32 = 90;
/// The longest period accepted (ten years; rollups are kept three by default).
const MAX_DAYS: i64 = 3660;
/// How many overdue findings and movers the sections list.
pub const OVERDUE: i64 = 20;
pub const MOVERS: usize = 5;
const PARAMS: &str = "days, from, to, environment, owner, account, source";

/// What a trends request asks for: the period and the filter, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `Some(n)` for "the last n days", `None` for a custom range.
    pub days: Option<u32>,
    pub environments: Vec<String>,
    pub owners: Vec<String>,
    pub accounts: Vec<String>,
    pub sources: Vec<String>,
}

fn bad(param: &str, message: impl std::fmt::Display) -> PageError {
    PageError::BadRequest(format!("{param}: {message}"))
}

fn parse_date(param: &str, v: &str) -> Result<NaiveDate, PageError> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| bad(param, format!("{v:?} is not a date: expected YYYY-MM-DD")))
}

impl TrendQuery {
    /// Parses a query string (without `?`). `days` (a number, or `custom`/empty for the
    /// `from`/`to` range) picks the period; filters may repeat or list values with commas.
    pub fn parse(query: &str, today: NaiveDate) -> Result<Self, PageError> {
        let mut days = None;
        let (mut from, mut to) = (None, None);
        let mut q = Self {
            from: today,
            to: today,
            days: None,
            environments: Vec::new(),
            owners: Vec::new(),
            accounts: Vec::new(),
            sources: Vec::new(),
        };
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            crate::domain::filter::check_text(&key, value)
                .map_err(|e| PageError::BadRequest(e.to_string()))?;
            let values = || value.split(',').map(str::trim).filter(|v| !v.is_empty());
            match key.as_ref() {
                "days" if value == "custom" => {}
                "days" => {
                    let n: u32 = value.parse().ok().filter(|n| (1..=MAX_DAYS).contains(&i64::from(*n))).ok_or_else(|| {
                        bad("days", format!("{value:?}: expected a number of days from 1 to {MAX_DAYS} (the form offers 30, 90, 365), or custom with from and to"))
                    })?;
                    days = Some(n);
                }
                "from" => from = Some(parse_date("from", value)?),
                "to" => to = Some(parse_date("to", value)?),
                "environment" => q.environments.extend(values().map(str::to_owned)),
                "owner" => q.owners.extend(values().map(str::to_owned)),
                "account" => {
                    for v in values() {
                        let id: AccountId = v
                            .parse()
                            .map_err(|e: crate::domain::ParseError| bad("account", e.0))?;
                        q.accounts.push(id.as_str().to_owned());
                    }
                }
                "source" => {
                    for v in values() {
                        let s: Source = v.parse().map_err(|_| {
                            bad("source", format!("{v:?}: expected one of securityhub, guardduty, inspector, macie, accessanalyzer"))
                        })?;
                        q.sources.push(s.as_str().to_owned());
                    }
                }
                other => {
                    return Err(bad(
                        other,
                        format!("not a parameter of this page: expected one of {PARAMS}"),
                    ));
                }
            }
        }
        match (days, from, to) {
            (Some(n), _, _) => {
                q.days = Some(n);
                q.from = today - Days::new(u64::from(n) - 1);
            }
            (None, None, None) => {
                q.days = Some(DEFAULT_DAYS);
                q.from = today - Days::new(u64::from(DEFAULT_DAYS) - 1);
            }
            (None, Some(_), None) => {
                return Err(bad("to", "a custom period needs both from and to"));
            }
            (None, None, Some(_)) => {
                return Err(bad("from", "a custom period needs both from and to"));
            }
            (None, Some(f), Some(t)) => {
                if f > t {
                    return Err(bad("from", format!("{f} is after to ({t})")));
                }
                if t > today {
                    return Err(bad(
                        "to",
                        format!("{t} is in the future (today is {today})"),
                    ));
                }
                if (t - f).num_days() + 1 > MAX_DAYS {
                    return Err(bad(
                        "from",
                        format!("the period is longer than {MAX_DAYS} days"),
                    ));
                }
                q.from = f;
                q.to = t;
            }
        }
        Ok(q)
    }

    /// The filter the data layer takes.
    pub fn filter(&self) -> TrendFilter {
        TrendFilter {
            accounts: self.accounts.clone(),
            regions: Vec::new(),
            sources: self.sources.clone(),
            environments: self.environments.clone(),
            owners: self.owners.clone(),
        }
    }

    /// The query string that asks for this again (for the CSV links and the period links).
    pub fn to_query(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        match self.days {
            Some(n) => {
                s.append_pair("days", &n.to_string());
            }
            None => {
                s.append_pair("from", &self.from.to_string());
                s.append_pair("to", &self.to.to_string());
            }
        }
        for (k, vs) in self.filter_pairs() {
            s.append_pair(k, &vs);
        }
        s.finish()
    }

    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("environment", self.environments.join(",")),
            ("owner", self.owners.join(",")),
            ("account", self.accounts.join(",")),
            ("source", self.sources.join(",")),
        ];
        pairs.retain(|(_, v)| !v.is_empty());
        pairs
    }

    pub fn is_filtered(&self) -> bool {
        !self.filter_pairs().is_empty()
    }

    /// The findings list's filter that selects the same findings, as pairs: the findings page
    /// has no owner filter, so an owner becomes the accounts it owns. `None` when the owner
    /// owns none of the chosen accounts (there is nothing to list).
    pub fn findings_scope(&self, accounts: &[AccountInfo]) -> Option<Vec<(&'static str, String)>> {
        let mut ids = self.accounts.clone();
        if !self.owners.is_empty() {
            let owned: Vec<String> = accounts
                .iter()
                .filter(|a| self.owners.contains(&a.owner))
                .filter(|a| self.accounts.is_empty() || self.accounts.contains(&a.id))
                .map(|a| a.id.clone())
                .collect();
            if owned.is_empty() {
                return None;
            }
            ids = owned;
        }
        let mut pairs = vec![
            ("account", ids.join(",")),
            ("source", self.sources.join(",")),
            ("environment", self.environments.join(",")),
        ];
        pairs.retain(|(_, v)| !v.is_empty());
        Some(pairs)
    }
}

/// The rollup interval that keeps a chart readable: days up to four months, then weeks, then
/// months past two years.
pub fn interval_for(from: NaiveDate, to: NaiveDate) -> Interval {
    match (to - from).num_days() {
        n if n <= 120 => Interval::Day,
        n if n <= 730 => Interval::Week,
        _ => Interval::Month,
    }
}

/// New vs resolved is per week, or per month past two years.
pub fn flow_interval_for(from: NaiveDate, to: NaiveDate) -> Interval {
    if (to - from).num_days() > 730 {
        Interval::Month
    } else {
        Interval::Week
    }
}

fn interval_word(i: &Interval) -> &'static str {
    match i {
        Interval::Day => "day",
        Interval::Week => "week",
        Interval::Month => "month",
    }
}

/// Open findings per date and severity (in `Severity::ALL` order), from the grouped series.
pub fn pivot_open(points: &[OpenPoint]) -> Vec<(NaiveDate, Tally)> {
    let mut out: Vec<(NaiveDate, Tally)> = Vec::new();
    for p in points {
        let i = match out.binary_search_by_key(&p.date, |(d, _)| *d) {
            Ok(i) => i,
            Err(i) => {
                out.insert(i, (p.date, Tally::default()));
                i
            }
        };
        if let Some(k) = &p.key {
            out[i].1.add(k, p.count);
        }
    }
    out
}

/// The days of `open` and one layer per severity (in `Severity::ALL` order), for a stacked chart.
fn severity_layers(open: &[(NaiveDate, Tally)]) -> (Vec<NaiveDate>, Vec<Series>) {
    let dates = open.iter().map(|(d, _)| *d).collect();
    let layers = Severity::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| Series {
            class: s.as_str(),
            label: severity_label(*s).to_owned(),
            values: open.iter().map(|(_, t)| t.0[i] as f64).collect(),
        })
        .collect();
    (dates, layers)
}

/// The share of `part` in `whole`, in percent (0 when there is nothing).
pub fn share(part: i64, whole: i64) -> f64 {
    if whole > 0 {
        100.0 * part as f64 / whole as f64
    } else {
        0.0
    }
}

/// `12.3%`.
pub fn percent(v: f64) -> String {
    format!("{v:.1}%")
}

/// A date as the pages write it: `3 Nov 2026`.
pub fn long_date(d: NaiveDate) -> String {
    d.format("%-d %b %Y").to_string()
}

pub struct OpenRow {
    pub date: NaiveDate,
    pub counts: [Count; 5],
    pub total: Count,
}

pub struct FlowRow {
    pub date: NaiveDate,
    pub new: Count,
    pub resolved: Count,
    pub reopened: Count,
}

pub struct SlaRow {
    pub date: NaiveDate,
    pub open: Count,
    pub past_sla: Count,
    pub share: String,
}

pub struct MttrRow {
    pub severity: &'static str,
    pub label: &'static str,
    pub resolved: Count,
    pub mean: String,
    pub median: String,
    pub sla: String,
}

pub struct BreachRow {
    pub id: String,
    pub title: String,
    pub account_id: String,
    pub account_name: String,
    pub region: String,
    pub source: &'static str,
    pub severity: String,
    pub severity_label: &'static str,
    pub open_since: String,
    pub age: Count,
    pub sla: Count,
    pub overdue: Count,
}

pub struct MoverRow {
    pub id: String,
    pub name: String,
    pub start: Count,
    pub end: Option<Linked>,
    pub end_n: Count,
    pub change: String,
}

/// The SLA now and how it moved over the period.
pub struct SlaNow {
    pub share: String,
    pub past_sla: Count,
    pub open: Count,
    pub since: String,
    pub first_share: String,
    /// `up 2.5 points`, `down 1.0 point`, `unchanged`.
    pub change: String,
}

/// Everything the trend sections show, for `/trends` and the monthly report.
pub struct TrendSections {
    pub from: String,
    pub to: String,
    pub has_data: bool,
    pub filtered: bool,
    pub interval: &'static str,
    pub flow_interval: &'static str,
    pub open_chart: Chart,
    pub open_rows: Vec<OpenRow>,
    /// The last point's counts, each linking to the open findings it counts (when a list can
    /// select them).
    pub open_now: Option<SevCounts>,
    /// The day those counts are of: the range's last.
    pub open_now_date: String,
    pub flow_chart: Chart,
    pub flow_rows: Vec<FlowRow>,
    pub flow_new: Count,
    pub flow_resolved: Count,
    pub flow_reopened: Count,
    pub mttr: Vec<MttrRow>,
    pub sla_chart: Chart,
    pub sla_rows: Vec<SlaRow>,
    pub sla_now: Option<SlaNow>,
    pub breaches: Vec<BreachRow>,
    /// The day the overdue list is of, when it is not today (a range that ends earlier).
    pub breaches_on: Option<String>,
    pub improved: Vec<MoverRow>,
    pub worsened: Vec<MoverRow>,
    /// The query string of the CSV links (empty on the report, which links none).
    pub csv_query: String,
}

/// What the sections are computed from.
pub struct TrendData {
    pub open: Vec<OpenPoint>,
    pub flow: Vec<FlowPoint>,
    pub sla: Vec<SlaPoint>,
    pub movers: Vec<Mover>,
    pub mttr: Vec<Mttr>,
    pub breaches: Vec<SlaBreach>,
    pub accounts: Vec<AccountInfo>,
}

/// Reads everything the sections show for `from..=to` (inclusive) and `filter`.
pub async fn load(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    filter: &TrendFilter,
) -> Result<TrendData, PageError> {
    let pool = &state.pool;
    let series = KeptSeries::of(state).await?;
    let (open, flow, sla, movers, mttr, breaches, accounts) = tokio::try_join!(
        series.open(
            from,
            to,
            interval_for(from, to),
            TrendGroup::Severity,
            filter
        ),
        series.flow(from, to, flow_interval_for(from, to), filter),
        series.sla(from, to, interval_for(from, to), filter),
        series.movers(from, to, filter),
        db::trends::mttr(pool, from, to, filter),
        async {
            // A range that ends before today (a past month's report) lists what was overdue
            // at its end, from the events; otherwise what is overdue now.
            if to < today() {
                series.breaches_on(to, filter, OVERDUE).await
            } else {
                db::trends::sla_breaches(pool, filter, &state.site.sla, OVERDUE).await
            }
        },
        db::posture::accounts(pool),
    )?;
    Ok(TrendData {
        open,
        flow,
        sla,
        movers,
        mttr,
        breaches,
        accounts,
    })
}

fn sla_text(sla: &SlaConfig, s: Severity) -> String {
    match sla.days(s) {
        Some(d) => format!("{d} days"),
        None => "none".to_owned(),
    }
}

fn signed_change(delta: i64) -> String {
    match delta {
        0 => "±0".to_owned(),
        d if d > 0 => format!("+{}", Count(d)),
        d => format!("−{}", Count(-d)),
    }
}

impl TrendSections {
    /// Turns the series into charts, tables and lists. `scope` is the findings-list filter
    /// selecting the same findings (`None`: no list can); `csv_query` the CSV links' query.
    pub fn build(
        q: &TrendQuery,
        data: TrendData,
        sla: &SlaConfig,
        scope: Option<&[(&'static str, String)]>,
        csv_query: String,
    ) -> Self {
        let (from, to) = (q.from, q.to);
        let open = pivot_open(&data.open);
        let has_data = open.iter().any(|(_, t)| t.total() > 0)
            || data
                .flow
                .iter()
                .any(|f| f.new != 0 || f.resolved != 0 || f.reopened != 0);
        let interval = interval_for(from, to);
        let flow_interval = flow_interval_for(from, to);

        let (dates, layers) = severity_layers(&open);
        let open_chart = charts::stacked_area(
            &format!(
                "Open findings per {} by severity, {} to {}",
                interval_word(&interval),
                long_date(from),
                long_date(to)
            ),
            &dates,
            &layers,
            Unit::Count,
        );
        let open_rows = open
            .iter()
            .map(|(d, t)| OpenRow {
                date: *d,
                counts: t.0.map(Count),
                total: Count(t.total()),
            })
            .collect();
        let owned_scope: Vec<(&str, &str)> = scope
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let open_now = match (open.last(), scope) {
            (Some((_, t)), Some(_)) => Some(SevCounts::new(t, &owned_scope)),
            _ => None,
        };
        // The last point is dated by its period's first day (a Monday, the 1st) but counts the
        // end of the range's last day.
        let open_now_date = open.last().map(|_| long_date(to)).unwrap_or_default();

        let flow_dates: Vec<NaiveDate> = data.flow.iter().map(|f| f.date).collect();
        let flow_chart = charts::grouped_bars(
            &format!(
                "New and resolved findings per {}, {} to {}",
                interval_word(&flow_interval),
                long_date(from),
                long_date(to)
            ),
            &flow_dates,
            &[
                Series {
                    class: "new",
                    label: "New".to_owned(),
                    values: data.flow.iter().map(|f| f.new as f64).collect(),
                },
                Series {
                    class: "resolved",
                    label: "Resolved".to_owned(),
                    values: data.flow.iter().map(|f| f.resolved as f64).collect(),
                },
            ],
            Unit::Count,
        );
        let flow_rows = data
            .flow
            .iter()
            .map(|f| FlowRow {
                date: f.date,
                new: Count(f.new),
                resolved: Count(f.resolved),
                reopened: Count(f.reopened),
            })
            .collect();

        let mttr = Severity::ALL
            .iter()
            .map(|s| {
                let m = data.mttr.iter().find(|m| m.severity == s.as_str());
                MttrRow {
                    severity: s.as_str(),
                    label: severity_label(*s),
                    resolved: Count(m.map_or(0, |m| m.resolved)),
                    mean: m
                        .filter(|m| m.resolved > 0)
                        .map_or("—".to_owned(), |m| format!("{:.1}", m.mean_days)),
                    median: m
                        .filter(|m| m.resolved > 0)
                        .map_or("—".to_owned(), |m| format!("{:.1}", m.median_days)),
                    sla: sla_text(sla, *s),
                }
            })
            .collect();

        let sla_dates: Vec<NaiveDate> = data.sla.iter().map(|p| p.date).collect();
        let shares: Vec<f64> = data.sla.iter().map(|p| share(p.past_sla, p.open)).collect();
        let sla_chart = charts::line(
            &format!(
                "Share of open findings past SLA per {}, {} to {}",
                interval_word(&interval),
                long_date(from),
                long_date(to)
            ),
            &sla_dates,
            &Series {
                class: "past-sla",
                label: "Past SLA".to_owned(),
                values: shares.clone(),
            },
            Unit::Percent,
        );
        let sla_rows = data
            .sla
            .iter()
            .zip(&shares)
            .map(|(p, s)| SlaRow {
                date: p.date,
                open: Count(p.open),
                past_sla: Count(p.past_sla),
                share: percent(*s),
            })
            .collect();
        let sla_now = match (data.sla.first(), data.sla.last()) {
            (Some(first), Some(last)) => {
                let (a, b) = (
                    share(first.past_sla, first.open),
                    share(last.past_sla, last.open),
                );
                let d = (b - a) * 10.0;
                let d = d.round() / 10.0;
                let points = |x: f64| {
                    if (x - 1.0).abs() < 1e-9 {
                        "point"
                    } else {
                        "points"
                    }
                };
                Some(SlaNow {
                    share: percent(b),
                    past_sla: Count(last.past_sla),
                    open: Count(last.open),
                    since: long_date(first.date),
                    first_share: percent(a),
                    change: if d > 0.0 {
                        format!("up {d:.1} {}", points(d))
                    } else if d < 0.0 {
                        format!("down {:.1} {}", -d, points(-d))
                    } else {
                        "unchanged".to_owned()
                    },
                })
            }
            _ => None,
        };

        let names = super::accounts::AccountNames::new(&data.accounts);
        let name_of = |id: &str| names.of(id);
        let breaches = data
            .breaches
            .iter()
            .map(|b| BreachRow {
                id: b.id.to_string(),
                title: b.title.clone(),
                account_id: b.account_id.clone(),
                account_name: name_of(&b.account_id),
                region: b.region.clone(),
                source: source_name(&b.source),
                severity: b.severity.clone(),
                severity_label: b
                    .severity
                    .parse::<Severity>()
                    .map(severity_label)
                    .unwrap_or("Unknown"),
                open_since: b.open_since.format("%Y-%m-%d").to_string(),
                age: Count(b.age_days),
                sla: Count(b.sla_days),
                overdue: Count(b.age_days - b.sla_days),
            })
            .collect();

        let breaches_on = (to < today()).then(|| long_date(to));

        let (improved, worsened) = movers(&data.movers, scope);

        Self {
            from: long_date(from),
            to: long_date(to),
            has_data,
            filtered: q.is_filtered(),
            interval: interval_word(&interval),
            flow_interval: interval_word(&flow_interval),
            open_chart,
            open_rows,
            open_now,
            open_now_date,
            flow_chart,
            flow_rows,
            flow_new: Count(data.flow.iter().map(|f| f.new).sum()),
            flow_resolved: Count(data.flow.iter().map(|f| f.resolved).sum()),
            flow_reopened: Count(data.flow.iter().map(|f| f.reopened).sum()),
            mttr,
            sla_chart,
            sla_rows,
            sla_now,
            breaches,
            breaches_on,
            improved,
            worsened,
            csv_query,
        }
    }
}

/// The accounts whose open count fell most (improved) and rose most (worsened), `MOVERS` each;
/// ties by account id. An account that did not move is in neither list.
pub fn movers(
    all: &[Mover],
    scope: Option<&[(&'static str, String)]>,
) -> (Vec<MoverRow>, Vec<MoverRow>) {
    let row = |m: &Mover| {
        let end = scope.map(|s| {
            let mut pairs: Vec<(&str, &str)> = vec![("status", "open")];
            pairs.extend(
                s.iter()
                    .filter(|(k, _)| *k != "account")
                    .map(|(k, v)| (*k, v.as_str())),
            );
            pairs.push(("account", &m.account_id));
            Linked::new(m.open_at_end, findings_url(&pairs))
        });
        MoverRow {
            id: m.account_id.clone(),
            name: m.name.clone().unwrap_or_default(),
            start: Count(m.open_at_start),
            end,
            end_n: Count(m.open_at_end),
            change: signed_change(m.open_at_end - m.open_at_start),
        }
    };
    let delta = |m: &Mover| m.open_at_end - m.open_at_start;
    let mut down: Vec<&Mover> = all.iter().filter(|m| delta(m) < 0).collect();
    down.sort_by(|a, b| {
        delta(a)
            .cmp(&delta(b))
            .then(a.account_id.cmp(&b.account_id))
    });
    let mut up: Vec<&Mover> = all.iter().filter(|m| delta(m) > 0).collect();
    up.sort_by(|a, b| {
        delta(b)
            .cmp(&delta(a))
            .then(a.account_id.cmp(&b.account_id))
    });
    (
        down.into_iter().take(MOVERS).map(row).collect(),
        up.into_iter().take(MOVERS).map(row).collect(),
    )
}

/// The choices of the filter form.
pub struct FilterForm {
    pub days: String,
    pub from: String,
    pub to: String,
    /// The period select's options: value, label, selected.
    pub periods: Vec<(String, String, bool)>,
    pub environment: String,
    pub environments: Vec<String>,
    pub owner: String,
    pub owners: Vec<String>,
    pub account: String,
    pub accounts: Vec<(String, String)>,
    pub source: String,
    pub sources: Vec<(&'static str, &'static str)>,
}

impl FilterForm {
    fn new(q: &TrendQuery, accounts: &[AccountInfo]) -> Self {
        let distinct = |f: fn(&AccountInfo) -> &String| {
            let mut v: Vec<String> = accounts
                .iter()
                .map(f)
                .filter(|s| !s.is_empty())
                .cloned()
                .collect();
            v.sort();
            v.dedup();
            v
        };
        Self {
            days: q.days.map_or("custom".to_owned(), |d| d.to_string()),
            from: if q.days.is_none() {
                q.from.to_string()
            } else {
                String::new()
            },
            to: if q.days.is_none() {
                q.to.to_string()
            } else {
                String::new()
            },
            periods: {
                let mut v: Vec<u32> = PERIODS.to_vec();
                if let Some(d) = q.days.filter(|d| !PERIODS.contains(d)) {
                    v.push(d);
                    v.sort_unstable();
                }
                let mut opts: Vec<(String, String, bool)> = v
                    .into_iter()
                    .map(|d| (d.to_string(), format!("last {d} days"), q.days == Some(d)))
                    .collect();
                opts.push((
                    "custom".to_owned(),
                    "custom: from – to".to_owned(),
                    q.days.is_none(),
                ));
                opts
            },
            environment: q.environments.join(","),
            environments: distinct(|a| &a.environment),
            owner: q.owners.join(","),
            owners: distinct(|a| &a.owner),
            account: q.accounts.join(","),
            accounts: accounts
                .iter()
                .map(|a| {
                    let label = if a.name.is_empty() {
                        a.id.clone()
                    } else {
                        format!("{} ({})", a.name, a.id)
                    };
                    (a.id.clone(), label)
                })
                .collect(),
            source: q.sources.join(","),
            sources: Source::ALL
                .iter()
                .map(|s| (s.as_str(), s.display_name()))
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "trends.html")]
struct TrendsPage {
    chrome: Chrome,
    form: FilterForm,
    t: TrendSections,
    sla_days: Vec<(&'static str, &'static str, String)>,
}

/// Each severity's SLA, for the legend of the SLA section.
pub fn sla_days(sla: &SlaConfig) -> Vec<(&'static str, &'static str, String)> {
    Severity::ALL
        .iter()
        .map(|s| (s.as_str(), severity_label(*s), sla_text(sla, *s)))
        .collect()
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

pub async fn show_trends(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let q = TrendQuery::parse(query.as_deref().unwrap_or(""), today())?;
    let data = load(&state, q.from, q.to, &q.filter()).await?;
    let form = FilterForm::new(&q, &data.accounts);
    // Counts of a past day have no findings list to link to: the list shows today.
    let scope = (q.to == today())
        .then(|| q.findings_scope(&data.accounts))
        .flatten();
    let csv_query = q.to_query();
    let t = TrendSections::build(&q, data, &state.site.sla, scope.as_deref(), csv_query);
    render(&TrendsPage {
        chrome: Chrome::for_viewer("trends", viewer),
        form,
        t,
        sla_days: sla_days(&state.site.sla),
    })
}

/// A CSV download named `name`.
fn csv_response(name: &str, rows: Vec<Vec<String>>) -> Result<Response, PageError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r)
            .map_err(|e| PageError::BadRequest(format!("cannot write CSV: {e}")))?;
    }
    let body = w
        .into_inner()
        .map_err(|e| PageError::BadRequest(format!("cannot write CSV: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// `/trends/open.csv`: open findings per interval and severity.
pub async fn open_csv(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let q = TrendQuery::parse(query.as_deref().unwrap_or(""), today())?;
    let points = KeptSeries::of(&state)
        .await?
        .open(
            q.from,
            q.to,
            interval_for(q.from, q.to),
            TrendGroup::Severity,
            &q.filter(),
        )
        .await?;
    let mut rows = vec![
        [
            "date",
            "critical",
            "high",
            "medium",
            "low",
            "informational",
            "total",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for (d, t) in pivot_open(&points) {
        let mut r = vec![d.to_string()];
        r.extend(t.0.iter().map(i64::to_string));
        r.push(t.total().to_string());
        rows.push(r);
    }
    csv_response("open-findings.csv", rows)
}

/// `/trends/flow.csv`: new, resolved and reopened findings per week.
pub async fn flow_csv(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let q = TrendQuery::parse(query.as_deref().unwrap_or(""), today())?;
    let points = KeptSeries::of(&state)
        .await?
        .flow(q.from, q.to, flow_interval_for(q.from, q.to), &q.filter())
        .await?;
    let mut rows = vec![
        ["date", "new", "resolved", "reopened"]
            .map(str::to_owned)
            .to_vec(),
    ];
    rows.extend(points.iter().map(|p| {
        vec![
            p.date.to_string(),
            p.new.to_string(),
            p.resolved.to_string(),
            p.reopened.to_string(),
        ]
    }));
    csv_response("new-resolved.csv", rows)
}

/// `/trends/sla.csv`: open findings, those past SLA and their share per interval.
pub async fn sla_csv(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let q = TrendQuery::parse(query.as_deref().unwrap_or(""), today())?;
    let points = KeptSeries::of(&state)
        .await?
        .sla(q.from, q.to, interval_for(q.from, q.to), &q.filter())
        .await?;
    let mut rows = vec![
        ["date", "open", "past_sla", "past_sla_percent"]
            .map(str::to_owned)
            .to_vec(),
    ];
    rows.extend(points.iter().map(|p| {
        vec![
            p.date.to_string(),
            p.open.to_string(),
            p.past_sla.to_string(),
            format!("{:.1}", share(p.past_sla, p.open)),
        ]
    }));
    csv_response("past-sla.csv", rows)
}

/// `/trends/mttr.csv`: findings resolved in the period and their time to resolve.
pub async fn mttr_csv(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let q = TrendQuery::parse(query.as_deref().unwrap_or(""), today())?;
    let points = db::trends::mttr(&state.pool, q.from, q.to, &q.filter()).await?;
    let mut rows = vec![
        ["severity", "resolved", "mean_days", "median_days"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for s in Severity::ALL {
        if let Some(m) = points.iter().find(|m| m.severity == s.as_str()) {
            rows.push(vec![
                m.severity.clone(),
                m.resolved.to_string(),
                format!("{:.2}", m.mean_days),
                format!("{:.2}", m.median_days),
            ]);
        }
    }
    csv_response("time-to-resolve.csv", rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_parse_and_bad_values_name_the_parameter() {
        let today = day("2026-11-27");
        let q = TrendQuery::parse("", today).unwrap();
        assert_eq!((q.from, q.to, q.days), (day("2026-08-30"), today, Some(90)));
        let q = TrendQuery::parse(
            "days=30&account=111111111111&source=guardduty&owner=",
            today,
        )
        .unwrap();
        assert_eq!(q.from, day("2026-10-29"));
        assert_eq!(
            q.to_query(),
            "days=30&account=111111111111&source=guardduty"
        );
        let q = TrendQuery::parse("days=custom&from=2026-01-01&to=2026-01-31", today).unwrap();
        assert_eq!(
            (q.from, q.to, q.days),
            (day("2026-01-01"), day("2026-01-31"), None)
        );
        for (query, param) in [
            ("days=0", "days:"),
            ("days=abc", "days:"),
            ("from=2026-01-01", "to:"),
            ("from=2026-02-01&to=2026-01-01", "from:"),
            ("from=2026-13-01&to=2026-01-01", "from:"),
            ("from=2026-01-01&to=2027-01-01", "to:"),
            ("account=12", "account:"),
            ("source=aws", "source:"),
            ("colour=red", "colour:"),
        ] {
            match TrendQuery::parse(query, today) {
                Err(PageError::BadRequest(m)) => assert!(m.starts_with(param), "{query}: {m}"),
                other => panic!("{query}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_owner_becomes_the_accounts_it_owns_in_links() {
        let acct = |id: &str, owner: &str| AccountInfo {
            id: id.into(),
            name: String::new(),
            environment: String::new(),
            owner: owner.into(),
            ou_path: String::new(),
        };
        let accounts = [
            acct("111111111111", "payments"),
            acct("222222222222", "data"),
        ];
        let q = TrendQuery::parse("owner=payments&source=macie", day("2026-11-27")).unwrap();
        assert_eq!(
            q.findings_scope(&accounts).unwrap(),
            [
                ("account", "111111111111".to_owned()),
                ("source", "macie".to_owned())
            ]
        );
        let q = TrendQuery::parse("owner=nobody", day("2026-11-27")).unwrap();
        assert!(q.findings_scope(&accounts).is_none());
    }

    #[test]
    fn open_points_pivot_by_date_and_severity() {
        let p = |d: &str, k: &str, n| OpenPoint {
            date: day(d),
            key: Some(k.to_owned()),
            count: n,
        };
        let rows = pivot_open(&[
            p("2026-11-02", "low", 4),
            p("2026-11-01", "critical", 1),
            p("2026-11-02", "critical", 2),
        ]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, day("2026-11-01"));
        assert_eq!(rows[1].1.0, [2, 0, 0, 4, 0]);
    }

    #[test]
    fn movers_rank_by_change_and_leave_out_the_unchanged() {
        let m = |id: &str, a, b| Mover {
            account_id: id.into(),
            name: None,
            open_at_start: a,
            open_at_end: b,
        };
        let all = [
            m("111111111111", 10, 2),
            m("222222222222", 5, 5),
            m("333333333333", 1, 9),
            m("444444444444", 4, 1),
        ];
        let (improved, worsened) = movers(&all, Some(&[]));
        let ids: Vec<&str> = improved.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["111111111111", "444444444444"]);
        assert_eq!(improved[0].change, "−8");
        assert_eq!(worsened[0].change, "+8");
        assert_eq!(
            worsened[0].end.as_ref().unwrap().href,
            "/findings?status=open&account=333333333333"
        );
    }
}

/// A 90-day chart of open findings by severity for one account or region, for its own page.
#[derive(Clone)]
pub struct ScopeTrend {
    pub chart: Chart,
    /// `/trends` with the same scope.
    pub more_href: String,
}

/// Days in a page's own trend chart.
pub const SCOPE_DAYS: i64 = 90;

/// The last 90 days of open findings by severity within `filter`, from the rollups; `None`
/// when there are no rollups for it yet.
pub async fn scope_trend(
    pool: &sqlx::PgPool,
    filter: db::trends::TrendFilter,
    more_href: String,
) -> Result<Option<ScopeTrend>, sqlx::Error> {
    let to = chrono::Utc::now().date_naive();
    let from = to - chrono::Duration::days(SCOPE_DAYS - 1);
    let points = db::trends::open_series(
        pool,
        from,
        to,
        db::trends::Interval::Day,
        db::trends::TrendGroup::Severity,
        &filter,
    )
    .await?;
    let open = pivot_open(&points);
    if !open.iter().any(|(_, t)| t.total() > 0) {
        return Ok(None);
    }
    let (dates, layers) = severity_layers(&open);
    let chart = charts::stacked_area(
        &format!(
            "Open findings per day by severity, {} to {}",
            long_date(from),
            long_date(to)
        ),
        &dates,
        &layers,
        Unit::Count,
    );
    Ok(Some(ScopeTrend { chart, more_href }))
}
