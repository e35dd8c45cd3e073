//! `/accounts`: every account with its open findings by severity, coverage and last poll, sorted
//! by any column; `/accounts/{id}`: one account's posture by region and by source, its most
//! frequent kinds of finding, its coverage, its audit-trail baseline checklist with the recent
//! changes of result, and its recent finding events.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use chrono::Utc;

use super::baseline::{ChangeRow, ChecklistItem, Totals, changes, checklist};
use super::error::PageError;
use super::format::{Count, findings_url, when};
use super::overview::{
    Linked, Moment, SevCounts, Tally, scale_bars, severity_label, source_name, state_label,
};
use super::{AppState, Chrome, Viewer, render};
use crate::db;
use crate::db::posture::{CoverageCell, Scope};
use crate::domain::{AccountId, Severity, Source};

/// A column `/accounts` can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Name,
    Id,
    Environment,
    Owner,
    Severity(usize),
    Open,
    LastPolled,
}

impl SortKey {
    const NAMES: &'static str = "name, id, environment, owner, critical, high, medium, low, informational, open, last_polled";

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "name" => Self::Name,
            "id" => Self::Id,
            "environment" => Self::Environment,
            "owner" => Self::Owner,
            "open" => Self::Open,
            "last_polled" => Self::LastPolled,
            other => Self::Severity(Severity::ALL.iter().position(|s| s.as_str() == other)?),
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Id => "id",
            Self::Environment => "environment",
            Self::Owner => "owner",
            Self::Severity(i) => Severity::ALL[i].as_str(),
            Self::Open => "open",
            Self::LastPolled => "last_polled",
        }
    }

    /// Numbers and times read best largest or latest first; names alphabetically.
    fn natural_desc(self) -> bool {
        matches!(self, Self::Severity(_) | Self::Open | Self::LastPolled)
    }
}

/// `?sort=…&dir=…`, checked: anything else answers a 400 naming the parameter.
fn parse_sort(query: Option<&str>) -> Result<(SortKey, bool), PageError> {
    let mut key = SortKey::Name;
    let mut desc = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "sort" => {
                key = SortKey::parse(&v).ok_or_else(|| {
                    PageError::BadRequest(format!(
                        "sort: {v:?} is not a column: expected one of {}",
                        SortKey::NAMES
                    ))
                })?;
            }
            "dir" => {
                desc = Some(match v.as_ref() {
                    "asc" => false,
                    "desc" => true,
                    _ => {
                        return Err(PageError::BadRequest(format!(
                            "dir: {v:?} is not a direction: expected asc or desc"
                        )));
                    }
                });
            }
            other => {
                return Err(PageError::BadRequest(format!(
                    "{other}: unknown parameter: expected sort ({}) and dir (asc, desc)",
                    SortKey::NAMES
                )));
            }
        }
    }
    Ok((key, desc.unwrap_or(key.natural_desc())))
}

struct AccountRow {
    id: String,
    name: String,
    environment: String,
    owner: String,
    tally: Tally,
    counts: SevCounts,
    targets: Count,
    enabled: Count,
    last_polled: Option<chrono::DateTime<Utc>>,
    last_polled_shown: Option<Moment>,
}

/// A sortable column header.
struct Head {
    label: &'static str,
    href: String,
    numeric: bool,
    /// `ascending`/`descending` when the table is sorted by it.
    sorted: Option<&'static str>,
    /// ` ▼` or ` ▲` on the sorted column.
    arrow: &'static str,
    severity: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    heads: Vec<Head>,
    rows: Vec<AccountRow>,
    open: SevCounts,
}

pub async fn list_accounts(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let (key, desc) = parse_sort(query.as_deref())?;
    let pool = &state.pool;
    let (accounts, by_account, coverage) = tokio::try_join!(
        db::posture::accounts(pool),
        state.counts.get_cloned(pool, "open_by_account".into(), || {
            db::posture::open_by_account(pool)
        }),
        state
            .counts
            .get_cloned(pool, "coverage_by_account".into(), || {
                db::posture::coverage_by_account(pool)
            }),
    )?;
    let now = Utc::now();

    // Every account the config names, and any other that has findings or targets.
    let mut rows: BTreeMap<String, AccountRow> = BTreeMap::new();
    let blank = |id: &str| AccountRow {
        id: id.to_owned(),
        name: String::new(),
        environment: String::new(),
        owner: String::new(),
        tally: Tally::default(),
        counts: SevCounts::new(&Tally::default(), &[]),
        targets: Count(0),
        enabled: Count(0),
        last_polled: None,
        last_polled_shown: None,
    };
    for a in accounts {
        let row = rows.entry(a.id.clone()).or_insert_with(|| blank(&a.id));
        row.name = a.name;
        row.environment = a.environment;
        row.owner = a.owner;
    }
    for c in &by_account {
        rows.entry(c.key.clone())
            .or_insert_with(|| blank(&c.key))
            .tally
            .add(&c.severity, c.count);
    }
    for c in coverage {
        let row = rows
            .entry(c.account_id.clone())
            .or_insert_with(|| blank(&c.account_id));
        row.targets = Count(c.targets);
        row.enabled = Count(c.enabled);
        row.last_polled = c.last_polled_at;
        row.last_polled_shown = c.last_polled_at.map(|t| Moment::new(t, now));
    }
    let mut rows: Vec<AccountRow> = rows.into_values().collect();
    let mut org = Tally::default();
    for r in &mut rows {
        r.counts = SevCounts::new(&r.tally, &[("account", &r.id)]);
        for (i, n) in r.tally.0.iter().enumerate() {
            org.0[i] += n;
        }
    }
    scale_bars(rows.iter_mut().map(|r| &mut r.counts));
    sort_rows(&mut rows, key, desc);

    let page = AccountsPage {
        chrome: Chrome::for_viewer("accounts", viewer),
        heads: heads(key, desc),
        rows,
        open: SevCounts::new(&org, &[]),
    };
    render(&page)
}

/// Sorts by the column, then by name and id so equal rows keep a stable order. Accounts the
/// config does not name (empty name) sort by id among themselves.
fn sort_rows(rows: &mut [AccountRow], key: SortKey, desc: bool) {
    rows.sort_by(|a, b| {
        let primary = match key {
            SortKey::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            SortKey::Id => a.id.cmp(&b.id),
            SortKey::Environment => a.environment.cmp(&b.environment),
            SortKey::Owner => a.owner.cmp(&b.owner),
            SortKey::Severity(i) => a.tally.0[i].cmp(&b.tally.0[i]),
            SortKey::Open => a.tally.total().cmp(&b.tally.total()),
            SortKey::LastPolled => a.last_polled.cmp(&b.last_polled),
        };
        let primary = if desc { primary.reverse() } else { primary };
        primary
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.id.cmp(&b.id))
    });
}

fn heads(key: SortKey, desc: bool) -> Vec<Head> {
    let mut keys = vec![
        ("Account", SortKey::Name),
        ("Id", SortKey::Id),
        ("Environment", SortKey::Environment),
        ("Owner", SortKey::Owner),
    ];
    for (i, s) in Severity::ALL.iter().enumerate() {
        keys.push((
            if *s == Severity::Informational {
                "Info"
            } else {
                severity_label(*s)
            },
            SortKey::Severity(i),
        ));
    }
    keys.push(("Open", SortKey::Open));
    keys.push(("Last polled", SortKey::LastPolled));
    keys.into_iter()
        .map(|(label, k)| {
            // A click on the sorted column flips it; on another, sorts it its natural way.
            let next_desc = if k == key { !desc } else { k.natural_desc() };
            Head {
                label,
                href: format!(
                    "/accounts?sort={}&dir={}",
                    k.as_str(),
                    if next_desc { "desc" } else { "asc" }
                ),
                numeric: matches!(k, SortKey::Severity(_) | SortKey::Open),
                sorted: (k == key).then_some(if desc { "descending" } else { "ascending" }),
                arrow: match (k == key, desc) {
                    (false, _) => "",
                    (true, true) => " ▼",
                    (true, false) => " ▲",
                },
                severity: match k {
                    SortKey::Severity(i) => Some(Severity::ALL[i].as_str()),
                    _ => None,
                },
            }
        })
        .collect()
}

/// One row of a breakdown (a region or a source of the account).
struct Breakdown {
    label: String,
    href: Option<String>,
    unapproved: bool,
    counts: SevCounts,
}

/// A kind of finding, counted.
struct KindRow {
    label: String,
    control: Option<String>,
    source: String,
    worst: &'static str,
    worst_label: &'static str,
    count: Linked,
}

/// One coverage cell shown in a matrix.
pub(super) struct StateCell {
    pub state: &'static str,
    pub label: &'static str,
    pub message: String,
}

impl StateCell {
    pub fn of(cell: Option<&CoverageCell>) -> Self {
        let state = cell.and_then(|c| c.state.as_deref());
        Self {
            state: state_class(state),
            label: state_label(state),
            message: cell.map(|c| c.message.clone()).unwrap_or_default(),
        }
    }
}

/// The CSS class of a state (`not_polled` for a target not read yet).
pub(super) fn state_class(state: Option<&str>) -> &'static str {
    match state {
        Some("enabled") => "enabled",
        Some("not_enabled") => "not_enabled",
        Some("access_denied") => "access_denied",
        Some("error") => "error",
        Some(_) => "unknown",
        None => "not_polled",
    }
}

struct CoverageRow {
    region: String,
    unapproved: bool,
    cells: Vec<StateCell>,
}

/// A coverage cell that is not enabled, and why.
pub(super) struct Problem {
    pub account_id: String,
    pub account_name: String,
    pub region: String,
    pub source: String,
    pub state: &'static str,
    pub label: &'static str,
    pub message: String,
    pub checked: Option<String>,
}

impl Problem {
    pub fn of(c: &CoverageCell, account_name: &str) -> Self {
        let state = c.state.as_deref();
        Self {
            account_id: c.account_id.clone(),
            account_name: account_name.to_owned(),
            region: c.region.clone(),
            source: source_name(&c.source).to_owned(),
            state: state_class(state),
            label: state_label(state),
            message: c.message.clone(),
            checked: c.checked_at.map(when),
        }
    }
}

struct EventRow {
    href: String,
    title: String,
    kind: String,
    at: Moment,
    region: String,
    source: String,
    change: String,
    severity: &'static str,
    severity_label: &'static str,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    /// Its last 90 days, when there are rollups.
    trend: Option<super::trends::ScopeTrend>,
    id: String,
    name: String,
    environment: String,
    owner: String,
    ou_path: String,
    configured: bool,
    open: SevCounts,
    regions: Vec<Breakdown>,
    sources: Vec<Breakdown>,
    kinds: Vec<KindRow>,
    source_heads: Vec<&'static str>,
    coverage: Vec<CoverageRow>,
    enabled: Count,
    targets: Count,
    problems: Vec<Problem>,
    events: Vec<EventRow>,
    /// The ten checks; `baseline_read` is false when none has a result yet.
    baseline: Vec<ChecklistItem>,
    baseline_read: bool,
    baseline_failing: Count,
    baseline_unknown: Count,
    baseline_at: Option<Moment>,
    baseline_changes: Vec<ChangeRow>,
}

/// How many kinds of finding and events the account page lists.
const TOP_KINDS: i64 = 10;
const RECENT_EVENTS: i64 = 20;
/// How many changes of baseline result the account page lists.
const BASELINE_CHANGES: i64 = 10;

pub async fn show_account(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let unknown = || PageError::NotFound(format!("No account {id:?} is known to Sightline."));
    let account_id: AccountId = id.parse().map_err(|_| {
        PageError::NotFound(format!("{id:?} is not an AWS account id (12 digits)."))
    })?;
    let aid = account_id.as_str();
    let pool = &state.pool;
    let (info, cells, kinds, coverage, events, trend, results, result_events) = tokio::try_join!(
        db::posture::account(pool, aid),
        state
            .counts
            .get_cloned(pool, format!("open_in_account:{aid}"), || {
                db::posture::open_in_account(pool, aid)
            }),
        db::posture::top_kinds_in_account(pool, aid, TOP_KINDS),
        db::posture::coverage_cells(pool, Scope::Account(aid)),
        db::posture::recent_events(pool, aid, RECENT_EVENTS),
        state.counts.get_cloned(
            pool,
            format!("trend_account:{aid}:{}", Utc::now().date_naive()),
            || {
                super::trends::scope_trend(
                    pool,
                    db::trends::TrendFilter {
                        accounts: vec![aid.to_owned()],
                        ..Default::default()
                    },
                    format!("/trends?account={aid}"),
                )
            }
        ),
        db::baseline::list(pool, Some(aid)),
        db::baseline::events(pool, aid, BASELINE_CHANGES),
    )?;
    if info.is_none()
        && cells.is_empty()
        && coverage.is_empty()
        && events.is_empty()
        && results.is_empty()
    {
        return Err(unknown());
    }
    let now = Utc::now();
    let site = &state.site;

    let mut total = Tally::default();
    let mut by_region: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut by_source: BTreeMap<&str, Tally> = BTreeMap::new();
    for c in &cells {
        total.add(&c.severity, c.count);
        by_region
            .entry(&c.region)
            .or_default()
            .add(&c.severity, c.count);
        by_source
            .entry(&c.source)
            .or_default()
            .add(&c.severity, c.count);
    }

    // Regions: the watched ones in config order, then any other with findings or coverage.
    let mut region_order: Vec<String> = site.regions.iter().map(|r| r.to_string()).collect();
    let extra: BTreeSet<&str> = cells
        .iter()
        .map(|c| c.region.as_str())
        .chain(coverage.iter().map(|c| c.region.as_str()))
        .filter(|r| !region_order.iter().any(|o| o == r))
        .collect();
    region_order.extend(extra.into_iter().map(str::to_owned));

    let mut regions: Vec<Breakdown> = region_order
        .iter()
        .filter(|r| by_region.contains_key(r.as_str()))
        .map(|r| Breakdown {
            label: r.clone(),
            href: Some(format!("/regions/{r}")),
            unapproved: !site.is_approved(r),
            counts: SevCounts::new(&by_region[r.as_str()], &[("account", aid), ("region", r)]),
        })
        .collect();
    scale_bars(regions.iter_mut().map(|r| &mut r.counts));

    let mut sources: Vec<Breakdown> = Source::ALL
        .iter()
        .map(|s| Breakdown {
            label: s.display_name().to_owned(),
            href: None,
            unapproved: false,
            counts: SevCounts::new(
                by_source.get(s.as_str()).unwrap_or(&Tally::default()),
                &[("account", aid), ("source", s.as_str())],
            ),
        })
        .collect();
    scale_bars(sources.iter_mut().map(|r| &mut r.counts));

    let kinds = kinds
        .into_iter()
        .map(|k| {
            let worst = k
                .worst
                .parse::<Severity>()
                .unwrap_or(Severity::Informational);
            // The findings list has no filter on type or control: text search over title and
            // type is the closest, so a control is searched by its title.
            let q = if k.control_id.is_some() {
                k.title.clone()
            } else {
                k.finding_type.clone()
            };
            let href = findings_url(&[
                ("status", "open"),
                ("account", aid),
                ("source", &k.source),
                ("q", &q),
            ]);
            KindRow {
                label: if k.control_id.is_some() {
                    k.title
                } else {
                    k.finding_type
                },
                control: k.control_id,
                source: source_name(&k.source).to_owned(),
                worst: worst.as_str(),
                worst_label: severity_label(worst),
                count: Linked::new(k.count, href),
            }
        })
        .collect();

    let sources_polled = sources_present(&coverage);
    let name = info.as_ref().map(|a| a.name.clone()).unwrap_or_default();
    let coverage_rows = region_order
        .iter()
        .filter(|r| {
            site.regions.iter().any(|w| w.as_str() == r.as_str())
                || coverage.iter().any(|c| &c.region == *r)
        })
        .map(|r| CoverageRow {
            region: r.clone(),
            unapproved: !site.is_approved(r),
            cells: sources_polled
                .iter()
                .map(|s| {
                    StateCell::of(
                        coverage
                            .iter()
                            .find(|c| &c.region == r && c.source == s.as_str()),
                    )
                })
                .collect(),
        })
        .collect::<Vec<_>>();
    let problems = coverage
        .iter()
        .filter(|c| c.state.as_deref() != Some("enabled"))
        .map(|c| Problem::of(c, &name))
        .collect();
    let enabled = coverage
        .iter()
        .filter(|c| c.state.as_deref() == Some("enabled"))
        .count() as i64;
    let targets = coverage_rows.len() as i64 * sources_polled.len() as i64;

    let events = events
        .into_iter()
        .map(|e| {
            let severity = e
                .to_severity
                .parse::<Severity>()
                .unwrap_or(Severity::Informational);
            EventRow {
                href: format!("/findings/{}", e.finding_id),
                title: e.title,
                kind: e.kind.replace('_', " "),
                at: Moment::new(e.at, now),
                region: e.region,
                source: source_name(&e.source).to_owned(),
                change: describe_change(
                    e.from_status.as_deref(),
                    &e.to_status,
                    e.from_severity.as_deref(),
                    &e.to_severity,
                ),
                severity: severity.as_str(),
                severity_label: severity_label(severity),
            }
        })
        .collect();

    let baseline_totals = Totals::of_rows(&results);
    let page = AccountPage {
        chrome: Chrome::for_viewer("accounts", viewer),
        trend,
        id: aid.to_owned(),
        configured: info.is_some(),
        environment: info
            .as_ref()
            .map(|a| a.environment.clone())
            .unwrap_or_default(),
        owner: info.as_ref().map(|a| a.owner.clone()).unwrap_or_default(),
        ou_path: info.as_ref().map(|a| a.ou_path.clone()).unwrap_or_default(),
        name,
        open: SevCounts::new(&total, &[("account", aid)]),
        regions,
        sources,
        kinds,
        source_heads: sources_polled.iter().map(|s| s.display_name()).collect(),
        coverage: coverage_rows,
        enabled: Count(enabled),
        targets: Count(targets),
        problems,
        events,
        baseline: checklist(&results, now),
        baseline_read: !results.is_empty(),
        baseline_failing: Count(baseline_totals.failing_checks),
        baseline_unknown: Count(baseline_totals.unknown_checks),
        baseline_at: baseline_totals.newest_read.map(|t| Moment::new(t, now)),
        baseline_changes: changes(result_events, now),
    };
    render(&page)
}

/// Account names by id, for a page that names many accounts (1,000 in a region, a cycle's
/// failures): one lookup each, not a scan of every account.
pub(super) struct AccountNames<'a>(HashMap<&'a str, &'a str>);

impl<'a> AccountNames<'a> {
    pub fn new(infos: &'a [db::posture::AccountInfo]) -> Self {
        Self(
            infos
                .iter()
                .map(|a| (a.id.as_str(), a.name.as_str()))
                .collect(),
        )
    }

    /// The account's name; empty when it has none (not in the config).
    pub fn of(&self, id: &str) -> String {
        self.0.get(id).map(|n| n.to_string()).unwrap_or_default()
    }
}

/// The sources that have targets or coverage, in the usual order; all of them when none has.
pub(super) fn sources_present(cells: &[CoverageCell]) -> Vec<Source> {
    let present: Vec<Source> = Source::ALL
        .into_iter()
        .filter(|s| cells.iter().any(|c| c.source == s.as_str()))
        .collect();
    if present.is_empty() {
        Source::ALL.to_vec()
    } else {
        present
    }
}

/// `open → resolved`, `medium → high`: what an event changed.
fn describe_change(
    from_status: Option<&str>,
    to_status: &str,
    from_severity: Option<&str>,
    to_severity: &str,
) -> String {
    let mut parts = Vec::new();
    match from_status {
        Some(f) if f != to_status => parts.push(format!("{f} → {to_status}")),
        None if to_status != "open" => parts.push(format!("first seen {to_status}")),
        _ => {}
    }
    if let Some(f) = from_severity
        && f != to_severity
    {
        parts.push(format!("{f} → {to_severity}"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_parameters_are_checked() {
        assert_eq!(parse_sort(None).unwrap(), (SortKey::Name, false));
        assert_eq!(
            parse_sort(Some("sort=critical")).unwrap(),
            (SortKey::Severity(0), true)
        );
        assert_eq!(
            parse_sort(Some("sort=last_polled&dir=asc")).unwrap(),
            (SortKey::LastPolled, false)
        );
        for (q, param) in [("sort=bogus", "sort:"), ("dir=up", "dir:"), ("x=1", "x:")] {
            let Err(PageError::BadRequest(m)) = parse_sort(Some(q)) else {
                panic!("{q} accepted");
            };
            assert!(m.starts_with(param), "{m}");
        }
    }

    #[test]
    fn headers_flip_the_sorted_column() {
        let h = heads(SortKey::Severity(0), true);
        let critical = h.iter().find(|h| h.label == "Critical").unwrap();
        assert_eq!(critical.href, "/accounts?sort=critical&dir=asc");
        assert_eq!(critical.sorted, Some("descending"));
        let name = h.iter().find(|h| h.label == "Account").unwrap();
        assert_eq!(name.href, "/accounts?sort=name&dir=asc");
        assert_eq!(name.sorted, None);
    }

    #[test]
    fn changes_read_naturally() {
        assert_eq!(describe_change(None, "open", None, "high"), "");
        assert_eq!(
            describe_change(None, "resolved", None, "high"),
            "first seen resolved"
        );
        assert_eq!(
            describe_change(Some("open"), "resolved", Some("high"), "high"),
            "open → resolved"
        );
        assert_eq!(
            describe_change(Some("open"), "open", Some("medium"), "high"),
            "medium → high"
        );
    }
}
