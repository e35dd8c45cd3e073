//! `/baseline`: every account × the ten audit-trail checks, each cell pass, fail or unknown,
//! linking to the account's checklist; totals, per-check failing counts and filters
//! (`?environment=…&result=…&check=…`). Also the pieces the overview and the account page show
//! of the baseline: totals, the checklist and the changes of result.
//!
//! Totals and filters count required results only: an advisory one (data events outside
//! production) is shown, marked, and counted nowhere.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::error::PageError;
use super::format::Count;
use super::overview::Moment;
use super::{AppState, Chrome, Viewer, render};
use crate::baseline::{Check, Outcome};
use crate::db;
use crate::db::baseline::{EventRow, ResultRow};

/// How a result is shown: a CSS class (its colour) and a label (never the colour alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub class: &'static str,
    pub label: &'static str,
}

impl Mark {
    /// A result; an advisory one is muted and says so.
    pub fn of(outcome: Outcome, required: bool) -> Self {
        let (class, label) = match (outcome, required) {
            (Outcome::Pass, true) => ("pass", "pass"),
            (Outcome::Fail, true) => ("fail", "fail"),
            (Outcome::Unknown, true) => ("unknown", "unknown"),
            (Outcome::Pass, false) => ("pass advisory", "pass (advisory)"),
            (Outcome::Fail, false) => ("fail advisory", "fail (advisory)"),
            (Outcome::Unknown, false) => ("unknown advisory", "unknown (advisory)"),
        };
        Self { class, label }
    }

    /// A check with no stored result for the account.
    pub const NOT_READ: Mark = Mark {
        class: "not_polled",
        label: "not read",
    };
}

/// A stored result, as the database holds it (its constraint allows only the three results;
/// anything else would be shown as unknown).
fn outcome(result: &str) -> Outcome {
    Outcome::parse(result).unwrap_or(Outcome::Unknown)
}

/// One check's result for one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Res {
    outcome: Outcome,
    required: bool,
}

impl Res {
    /// Whether it counts as `outcome`: advisory results count nowhere.
    fn counts_as(self, outcome: Outcome) -> bool {
        self.required && self.outcome == outcome
    }
}

/// One account's results, in the order of `Check::ALL`.
#[derive(Debug, Clone)]
struct AccountResults {
    id: String,
    name: String,
    environment: String,
    results: [Option<Res>; 10],
    read_at: Option<DateTime<Utc>>,
}

impl AccountResults {
    fn res(&self, check: Check) -> Option<Res> {
        let i = Check::ALL.iter().position(|c| *c == check)?;
        self.results[i]
    }

    fn any(&self, outcome: Outcome) -> bool {
        self.results.iter().flatten().any(|r| r.counts_as(outcome))
    }

    /// Every required check has been read and passes.
    fn all_pass(&self) -> bool {
        let required: Vec<Res> = self
            .results
            .iter()
            .flatten()
            .copied()
            .filter(|r| r.required)
            .collect();
        !required.is_empty()
            && self.results.iter().all(Option::is_some)
            && required.iter().all(|r| r.outcome == Outcome::Pass)
    }
}

/// The stored results grouped per account, in the order `db::baseline::list` gives (by name).
fn group(rows: &[ResultRow]) -> Vec<AccountResults> {
    let mut accounts: Vec<AccountResults> = Vec::new();
    for r in rows {
        if accounts.last().is_none_or(|a| a.id != r.account_id) {
            accounts.push(AccountResults {
                id: r.account_id.clone(),
                name: r.account_name.clone(),
                environment: r.environment.clone(),
                results: [None; 10],
                read_at: None,
            });
        }
        let Some(a) = accounts.last_mut() else {
            continue;
        };
        if let Some(i) = Check::ALL.iter().position(|c| c.name() == r.check_name) {
            a.results[i] = Some(Res {
                outcome: outcome(&r.result),
                required: r.required,
            });
        }
        a.read_at = a.read_at.max(Some(r.read_at));
    }
    accounts
}

/// The baseline counted over some accounts (required results only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub accounts: i64,
    /// Account × check cells that fail, and the accounts with at least one.
    pub failing_checks: i64,
    pub failing_accounts: i64,
    pub unknown_checks: i64,
    pub unknown_accounts: i64,
    /// Accounts where every required check was read and passes.
    pub passing_accounts: i64,
    /// Per check, in the order of `Check::ALL`: accounts failing it, and failing it where it
    /// is advisory.
    pub failing: [i64; 10],
    pub failing_advisory: [i64; 10],
    pub newest_read: Option<DateTime<Utc>>,
    pub oldest_read: Option<DateTime<Utc>>,
}

impl Totals {
    fn of<'a>(accounts: impl IntoIterator<Item = &'a AccountResults>) -> Self {
        let mut t = Self::default();
        for a in accounts {
            t.accounts += 1;
            for (i, r) in a.results.iter().enumerate() {
                let Some(r) = r else { continue };
                if r.counts_as(Outcome::Fail) {
                    t.failing_checks += 1;
                    t.failing[i] += 1;
                } else if r.outcome == Outcome::Fail {
                    t.failing_advisory[i] += 1;
                }
                if r.counts_as(Outcome::Unknown) {
                    t.unknown_checks += 1;
                }
            }
            t.failing_accounts += i64::from(a.any(Outcome::Fail));
            t.unknown_accounts += i64::from(a.any(Outcome::Unknown));
            t.passing_accounts += i64::from(a.all_pass());
            if let Some(at) = a.read_at {
                t.newest_read = t.newest_read.max(Some(at));
                t.oldest_read = Some(t.oldest_read.map_or(at, |o| o.min(at)));
            }
        }
        t
    }

    /// Every stored result, counted: what the overview shows.
    pub fn of_rows(rows: &[ResultRow]) -> Self {
        Self::of(&group(rows))
    }
}

/// `/baseline?…` with the given pairs, percent-encoded; empty values are left out.
pub fn baseline_url(pairs: &[(&str, &str)]) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        url.append_pair(k, v);
    }
    let query = url.finish();
    if query.is_empty() {
        "/baseline".to_owned()
    } else {
        format!("/baseline?{query}")
    }
}

/// What `/baseline` was asked to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct BaselineFilter {
    /// Only accounts of this environment (checked against the known ones by the handler).
    environment: Option<String>,
    /// Only accounts with this required result: in `check` when given; otherwise in any
    /// required check (`fail`, `unknown`) or in every one (`pass`).
    result: Option<Outcome>,
    check: Option<Check>,
}

const PARAMS: &str = "environment, result (fail, unknown, pass), check";

impl BaselineFilter {
    /// The query string, checked: an unknown parameter or value answers a 400 that names it.
    /// Empty values (a form's "any") are no filter.
    fn parse(query: Option<&str>) -> Result<Self, PageError> {
        let mut f = Self::default();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if v.is_empty() {
                continue;
            }
            match k.as_ref() {
                "environment" => f.environment = Some(v.into_owned()),
                "result" => {
                    f.result = Some(Outcome::parse(&v).ok_or_else(|| {
                        PageError::BadRequest(format!(
                            "result: {v:?} is not a result: expected fail, unknown or pass"
                        ))
                    })?);
                }
                "check" => {
                    f.check = Some(Check::parse(&v).ok_or_else(|| {
                        let names: Vec<&str> = Check::ALL.iter().map(|c| c.name()).collect();
                        PageError::BadRequest(format!(
                            "check: {v:?} is not a check: expected one of {}",
                            names.join(", ")
                        ))
                    })?);
                }
                other => {
                    return Err(PageError::BadRequest(format!(
                        "{other}: unknown parameter: expected {PARAMS}"
                    )));
                }
            }
        }
        Ok(f)
    }

    fn in_scope(&self, a: &AccountResults) -> bool {
        self.environment
            .as_ref()
            .is_none_or(|e| *e == a.environment)
    }

    fn matches(&self, a: &AccountResults) -> bool {
        if !self.in_scope(a) {
            return false;
        }
        match (self.result, self.check) {
            (None, _) => true,
            (Some(o), Some(c)) => a.res(c).is_some_and(|r| r.counts_as(o)),
            (Some(Outcome::Pass), None) => a.all_pass(),
            (Some(o), None) => a.any(o),
        }
    }

    fn environment(&self) -> &str {
        self.environment.as_deref().unwrap_or("")
    }
}

/// One cell of the grid.
struct GridCell {
    mark: Mark,
    href: String,
}

struct GridRow {
    id: String,
    name: String,
    environment: String,
    cells: Vec<GridCell>,
}

/// A check's column: its heading and its footer count.
struct Column {
    name: &'static str,
    short: &'static str,
    title: &'static str,
    failing: Count,
    /// The grid's rows failing it, linked when the link lists exactly those rows.
    href: Option<String>,
    failing_advisory: Count,
    selected: bool,
}

/// A number on the page and the grid it opens.
struct Card {
    n: Count,
    href: String,
}

/// An option of a filter's `<select>`.
struct Opt {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "baseline.html")]
struct BaselinePage {
    chrome: Chrome,
    /// Whether any result is stored at all.
    read: bool,
    filtered: bool,
    environment: String,
    failing_checks: Count,
    unknown_checks: Count,
    failing_accounts: Card,
    unknown_accounts: Card,
    passing_accounts: Card,
    all_accounts: Card,
    newest: Option<Moment>,
    oldest: Option<Moment>,
    columns: Vec<Column>,
    rows: Vec<GridRow>,
    environments: Vec<Opt>,
    results: Vec<Opt>,
    checks: Vec<Opt>,
    /// Configured accounts with no stored result (id, name).
    unread: Vec<(String, String)>,
    unread_shown: usize,
}

/// How many unread accounts the page names.
const UNREAD_SHOWN: usize = 10;

pub async fn show_baseline(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let filter = BaselineFilter::parse(query.as_deref())?;
    let pool = &state.pool;
    let (rows, configured) =
        tokio::try_join!(db::baseline::list(pool, None), db::posture::accounts(pool),)?;
    let accounts = group(&rows);

    let mut known: Vec<&str> = accounts
        .iter()
        .map(|a| a.environment.as_str())
        .chain(configured.iter().map(|a| a.environment.as_str()))
        .filter(|e| !e.is_empty())
        .collect();
    known.sort_unstable();
    known.dedup();
    if let Some(e) = &filter.environment
        && !known.contains(&e.as_str())
    {
        return Err(PageError::BadRequest(format!(
            "environment: no account is in {e:?}: expected one of {}",
            if known.is_empty() {
                "(no environment is configured)".to_owned()
            } else {
                known.join(", ")
            }
        )));
    }

    let now = Utc::now();
    let env = filter.environment();
    let scope: Vec<&AccountResults> = accounts.iter().filter(|a| filter.in_scope(a)).collect();
    let totals = Totals::of(scope.iter().copied());
    let shown: Vec<&AccountResults> = scope
        .iter()
        .copied()
        .filter(|a| filter.matches(a))
        .collect();
    let shown_totals = Totals::of(shown.iter().copied());
    let filtered = filter.result.is_some() || filter.check.is_some();

    let columns = Check::ALL
        .iter()
        .enumerate()
        .map(|(i, c)| Column {
            name: c.name(),
            short: c.short(),
            title: c.title(),
            failing: Count(shown_totals.failing[i]),
            // With a result filter the rows are a subset the link cannot name.
            href: (!filtered).then(|| {
                baseline_url(&[
                    ("environment", env),
                    ("result", "fail"),
                    ("check", c.name()),
                ])
            }),
            failing_advisory: Count(shown_totals.failing_advisory[i]),
            selected: filter.check == Some(*c),
        })
        .collect();
    let rows = shown
        .iter()
        .map(|a| GridRow {
            id: a.id.clone(),
            name: a.name.clone(),
            environment: a.environment.clone(),
            cells: Check::ALL
                .iter()
                .zip(a.results)
                .map(|(c, r)| GridCell {
                    mark: r.map_or(Mark::NOT_READ, |r| Mark::of(r.outcome, r.required)),
                    href: format!("/accounts/{}#check-{}", a.id, c.name()),
                })
                .collect(),
        })
        .collect();
    let card = |n: i64, result: &str| Card {
        n: Count(n),
        href: baseline_url(&[("environment", env), ("result", result)]),
    };
    let read_ids: std::collections::HashSet<&str> =
        accounts.iter().map(|a| a.id.as_str()).collect();
    let unread = configured
        .iter()
        .filter(|a| !read_ids.contains(a.id.as_str()))
        .filter(|a| {
            filter
                .environment
                .as_ref()
                .is_none_or(|e| *e == a.environment)
        })
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();

    let option = |value: &str, label: &str, selected: bool| Opt {
        value: value.to_owned(),
        label: label.to_owned(),
        selected,
    };
    let mut environments = vec![option("", "any", filter.environment.is_none())];
    environments.extend(known.iter().map(|e| option(e, e, env == *e)));
    let mut results = vec![option("", "any", filter.result.is_none())];
    for (o, label) in [
        (Outcome::Fail, "fail"),
        (Outcome::Unknown, "unknown"),
        (Outcome::Pass, "pass"),
    ] {
        results.push(option(o.as_str(), label, filter.result == Some(o)));
    }
    let mut checks = vec![option("", "any check", filter.check.is_none())];
    checks.extend(
        Check::ALL
            .iter()
            .map(|c| option(c.name(), c.short(), filter.check == Some(*c))),
    );

    let page = BaselinePage {
        chrome: Chrome::for_viewer("baseline", viewer),
        read: !accounts.is_empty(),
        filtered,
        environment: env.to_owned(),
        failing_accounts: card(totals.failing_accounts, "fail"),
        unknown_accounts: card(totals.unknown_accounts, "unknown"),
        passing_accounts: card(totals.passing_accounts, "pass"),
        all_accounts: card(totals.accounts, ""),
        newest: totals.newest_read.map(|t| Moment::new(t, now)),
        oldest: totals
            .oldest_read
            .filter(|o| Some(*o) != totals.newest_read)
            .map(|t| Moment::new(t, now)),
        failing_checks: Count(totals.failing_checks),
        unknown_checks: Count(totals.unknown_checks),
        columns,
        rows,
        environments,
        results,
        checks,
        unread,
        unread_shown: UNREAD_SHOWN,
    };
    render(&page)
}

/// One check of an account's checklist.
pub struct ChecklistItem {
    pub name: &'static str,
    pub short: &'static str,
    pub title: &'static str,
    pub mark: Mark,
    pub evidence: String,
    pub read: Option<Moment>,
    /// Since when it has had this result.
    pub since: Option<Moment>,
    /// Why it matters and how to fix it, for a result that is not a pass.
    pub why: Option<&'static str>,
    pub fix: Option<&'static str>,
}

/// An account's ten checks, in the order of `Check::ALL`, from its stored results.
pub fn checklist(rows: &[ResultRow], now: DateTime<Utc>) -> Vec<ChecklistItem> {
    Check::ALL
        .iter()
        .map(|c| {
            let row = rows.iter().find(|r| r.check_name == c.name());
            let o = row.map(|r| outcome(&r.result));
            let explain = matches!(o, Some(Outcome::Fail | Outcome::Unknown));
            ChecklistItem {
                name: c.name(),
                short: c.short(),
                title: c.title(),
                mark: row.map_or(Mark::NOT_READ, |r| Mark::of(outcome(&r.result), r.required)),
                evidence: row.map(|r| r.evidence.clone()).unwrap_or_default(),
                read: row.map(|r| Moment::new(r.read_at, now)),
                since: row.map(|r| Moment::new(r.changed_at, now)),
                why: explain.then(|| c.why()),
                fix: explain.then(|| c.fix()),
            }
        })
        .collect()
}

/// A change of one check's result.
pub struct ChangeRow {
    pub at: Moment,
    pub name: String,
    pub short: &'static str,
    pub title: &'static str,
    /// `None` on the first read.
    pub from: Option<Mark>,
    pub to: Mark,
    pub evidence: String,
}

/// Changes of result as the account page lists them (newest first, as given).
pub fn changes(events: Vec<EventRow>, now: DateTime<Utc>) -> Vec<ChangeRow> {
    events
        .into_iter()
        .map(|e| {
            let check = Check::parse(&e.check_name);
            ChangeRow {
                at: Moment::new(e.at, now),
                short: check.map_or("unrecognised check", Check::short),
                title: check.map_or("", Check::title),
                name: e.check_name,
                from: e
                    .previous_result
                    .as_deref()
                    .map(|p| Mark::of(outcome(p), true)),
                to: Mark::of(outcome(&e.result), true),
                evidence: e.evidence,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(account: &str, env: &str, check: Check, result: &str, required: bool) -> ResultRow {
        let at = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        ResultRow {
            account_id: account.into(),
            account_name: format!("name-{account}"),
            environment: env.into(),
            check_name: check.name().into(),
            result: result.into(),
            required,
            evidence: String::new(),
            read_at: at,
            changed_at: at,
        }
    }

    /// `a`: all pass. `b`: fails the trail (required) and data events (advisory), KMS unknown.
    /// `c`: only data events read, failing and required.
    fn rows() -> Vec<ResultRow> {
        let mut rows = Vec::new();
        for c in Check::ALL {
            rows.push(row("a", "prod", c, "pass", true));
        }
        for c in Check::ALL {
            let (result, required) = match c {
                Check::CloudtrailMultiRegion => ("fail", true),
                Check::DataEventsS3Lambda => ("fail", false),
                Check::TrailKmsEncryption => ("unknown", true),
                _ => ("pass", true),
            };
            rows.push(row("b", "dev", c, result, required));
        }
        rows.push(row("c", "prod", Check::DataEventsS3Lambda, "fail", true));
        rows
    }

    #[test]
    fn totals_count_required_results_only() {
        let t = Totals::of_rows(&rows());
        assert_eq!(t.accounts, 3);
        assert_eq!((t.failing_checks, t.failing_accounts), (2, 2));
        assert_eq!((t.unknown_checks, t.unknown_accounts), (1, 1));
        // `c` has one result only: not every required check passes.
        assert_eq!(t.passing_accounts, 1);
        assert_eq!(t.failing[0], 1);
        assert_eq!(
            t.failing[5], 1,
            "c's required failure, not b's advisory one"
        );
        assert_eq!(t.failing_advisory[5], 1);
    }

    #[test]
    fn filters_match_required_results() {
        let accounts = group(&rows());
        let shown = |q: &str| {
            let f = BaselineFilter::parse(Some(q)).unwrap();
            accounts
                .iter()
                .filter(|a| f.matches(a))
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(shown(""), ["a", "b", "c"]);
        assert_eq!(shown("result=fail"), ["b", "c"]);
        assert_eq!(shown("result=fail&check=data_events_s3_lambda"), ["c"]);
        assert_eq!(shown("result=unknown"), ["b"]);
        assert_eq!(shown("result=pass"), ["a"]);
        assert_eq!(shown("environment=prod&result=fail"), ["c"]);
        assert_eq!(shown("environment=&result="), ["a", "b", "c"]);
    }

    #[test]
    fn bad_parameters_name_themselves() {
        for (q, param) in [
            ("result=failing", "result:"),
            ("check=nope", "check:"),
            ("sort=name", "sort:"),
        ] {
            let Err(PageError::BadRequest(m)) = BaselineFilter::parse(Some(q)) else {
                panic!("{q} accepted");
            };
            assert!(m.starts_with(param), "{m}");
        }
    }

    #[test]
    fn advisory_results_say_so() {
        assert_eq!(Mark::of(Outcome::Fail, false).label, "fail (advisory)");
        assert_eq!(Mark::of(Outcome::Fail, false).class, "fail advisory");
        assert_eq!(Mark::of(Outcome::Unknown, true).label, "unknown");
        assert_eq!(
            baseline_url(&[("environment", "a b"), ("result", "fail"), ("check", "")]),
            "/baseline?environment=a+b&result=fail"
        );
        assert_eq!(baseline_url(&[]), "/baseline");
    }
}
