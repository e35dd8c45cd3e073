//! `/coverage`: every account × region × source and the state its service was last read in
//! (enabled, not enabled, access denied, error, unknown, or not polled yet), with the message
//! that explains each state, and how many targets are in each.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::accounts::{StateCell, sources_present, state_class};
use super::error::PageError;
use super::format::Count;
use super::overview::{source_name, state_label};
use super::{AppState, Chrome, Site, Viewer, render};
use crate::db;
use crate::db::posture::{AccountInfo, CoverageCell, Scope};
use crate::domain::{AccountId, Region, Source};

/// The states a cell can show, in the order of the counts at the top.
const STATES: [&str; 6] = [
    "enabled",
    "not_enabled",
    "access_denied",
    "error",
    "unknown",
    "not_polled",
];

/// The matrix shows this many accounts a page (each a row per region: 800 rows at 16 regions).
const ACCOUNTS_PER_PAGE: usize = 50;

/// What `/coverage` is narrowed to, and which page of its accounts is shown.
#[derive(Debug, PartialEq, Eq)]
struct Narrow {
    account: Option<AccountId>,
    region: Option<Region>,
    state: Option<&'static str>,
    /// From 1.
    page: usize,
}

impl Default for Narrow {
    fn default() -> Self {
        Self {
            account: None,
            region: None,
            state: None,
            page: 1,
        }
    }
}

impl Narrow {
    fn parse(query: Option<&str>) -> Result<Self, PageError> {
        let mut n = Self::default();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if v.is_empty() {
                continue;
            }
            match k.as_ref() {
                "account" => {
                    n.account = Some(
                        v.parse()
                            .map_err(|e: crate::domain::ParseError| bad("account", &e.0))?,
                    );
                }
                "region" => {
                    n.region = Some(
                        v.parse()
                            .map_err(|e: crate::domain::ParseError| bad("region", &e.0))?,
                    );
                }
                "state" => {
                    n.state = Some(STATES.into_iter().find(|s| *s == v).ok_or_else(|| {
                        bad(
                            "state",
                            &format!("{v:?}: expected one of {}", STATES.join(", ")),
                        )
                    })?);
                }
                "page" => {
                    n.page =
                        v.parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
                            bad("page", &format!("{v:?}: expected a number from 1"))
                        })?;
                }
                other => {
                    return Err(bad(
                        other,
                        "unknown parameter: expected account, region, state or page",
                    ));
                }
            }
        }
        Ok(n)
    }

    /// This page's URL with `state` set (or cleared), keeping the rest, from the first page.
    fn href_with_state(&self, state: Option<&str>) -> String {
        self.href(state, 1)
    }

    /// This page's URL with `state` set (or cleared) and page `page`, keeping the rest.
    fn href(&self, state: Option<&str>, page: usize) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(a) = &self.account {
            q.append_pair("account", a.as_str());
        }
        if let Some(r) = &self.region {
            q.append_pair("region", r.as_str());
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        if page > 1 {
            q.append_pair("page", &page.to_string());
        }
        let q = q.finish();
        if q.is_empty() {
            "/coverage".to_owned()
        } else {
            format!("/coverage?{q}")
        }
    }
}

fn bad(param: &str, message: &str) -> PageError {
    PageError::BadRequest(format!("{param}: {message}"))
}

struct StateCount {
    state: &'static str,
    label: &'static str,
    count: Count,
    href: String,
    selected: bool,
}

struct MatrixRow {
    account_id: String,
    account_name: String,
    /// On the first row of an account: how many rows it spans.
    span: Option<usize>,
    region: String,
    unapproved: bool,
    cells: Vec<StateCell>,
}

/// Targets of one account in one state for one reason.
struct ProblemGroup {
    account_id: String,
    account_name: String,
    state: &'static str,
    label: &'static str,
    message: String,
    /// Where: `Macie in eu-west-1, us-east-1; Inspector in sa-east-1` (see `places`).
    places: String,
    count: usize,
}

/// Which accounts of how many the matrix shows, when there is more than one page.
struct Paging {
    first: Count,
    last: Count,
    of: Count,
    previous: Option<String>,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "coverage.html")]
struct CoveragePage {
    chrome: Chrome,
    counts: Vec<StateCount>,
    total: Count,
    narrowed: Vec<String>,
    show_all: String,
    source_heads: Vec<&'static str>,
    rows: Vec<MatrixRow>,
    paging: Option<Paging>,
    per_page: usize,
    problems: Vec<ProblemGroup>,
    /// Delegated-administrator mode: (account id, name).
    delegated_admin: Option<(String, String)>,
}

/// The coverage of one narrowing, over all its pages: what each of its pages reads.
struct Grid {
    /// Account id → name.
    names: HashMap<String, String>,
    /// The sources with a cell (all five when none has).
    sources: Vec<Source>,
    /// The watched regions the narrowing keeps, in config order.
    watched: Vec<String>,
    /// Account → region → source → cell.
    by_account: HashMap<String, BTreeMap<String, BTreeMap<String, CoverageCell>>>,
    /// Cells per state (`STATES`), over every account.
    counts: [i64; STATES.len()],
    /// The accounts with a row to show, in order.
    shown: Vec<String>,
}

impl Grid {
    fn new(
        site: &Site,
        narrow: &Narrow,
        cells: Vec<CoverageCell>,
        infos: Vec<AccountInfo>,
    ) -> Self {
        let cells: Vec<CoverageCell> = cells
            .into_iter()
            .filter(|c| {
                narrow
                    .region
                    .as_ref()
                    .is_none_or(|r| r.as_str() == c.region)
            })
            .collect();
        let sources = sources_present(&cells);
        // Accounts: the configured ones (by name) and any other the data names.
        let mut accounts: Vec<String> = infos
            .iter()
            .map(|a| a.id.clone())
            .filter(|id| narrow.account.as_ref().is_none_or(|a| a.as_str() == id))
            .collect();
        let mut by_account: HashMap<String, BTreeMap<String, BTreeMap<String, CoverageCell>>> =
            HashMap::new();
        for c in cells {
            by_account
                .entry(c.account_id.clone())
                .or_default()
                .entry(c.region.clone())
                .or_default()
                .insert(c.source.clone(), c);
        }
        let configured: HashSet<&str> = accounts.iter().map(String::as_str).collect();
        let extra: BTreeSet<String> = by_account
            .keys()
            .filter(|id| !configured.contains(id.as_str()))
            .cloned()
            .collect();
        accounts.extend(extra);
        let mut grid = Grid {
            names: infos.into_iter().map(|a| (a.id, a.name)).collect(),
            sources,
            watched: site
                .regions
                .iter()
                .map(|r| r.to_string())
                .filter(|r| narrow.region.as_ref().is_none_or(|n| n.as_str() == r))
                .collect(),
            by_account,
            counts: [0; STATES.len()],
            shown: Vec::new(),
        };
        for id in accounts {
            let mut any = false;
            for region in grid.regions_of(&id) {
                let mut matches = narrow.state.is_none();
                for s in &grid.sources {
                    let state = state_class(
                        grid.cell(&id, &region, s.as_str())
                            .and_then(|c| c.state.as_deref()),
                    );
                    if let Some(i) = STATES.iter().position(|s| *s == state) {
                        grid.counts[i] += 1;
                    }
                    matches |= narrow.state == Some(state);
                }
                any |= matches;
            }
            if any {
                grid.shown.push(id);
            }
        }
        grid
    }

    /// An account's regions: the watched ones, then any other its cells name.
    fn regions_of(&self, account: &str) -> Vec<String> {
        let mut regions = self.watched.clone();
        if let Some(cells) = self.by_account.get(account) {
            regions.extend(cells.keys().filter(|r| !self.watched.contains(r)).cloned());
        }
        regions
    }

    fn cell(&self, account: &str, region: &str, source: &str) -> Option<&CoverageCell> {
        self.by_account.get(account)?.get(region)?.get(source)
    }
}

pub async fn show_coverage(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let narrow = Narrow::parse(query.as_deref())?;
    let pool = &state.pool;
    let site = &state.site;
    // The grid of this narrowing, shared by all its pages. At 1,000 accounts it is 80,000 cells
    // (a 60–150 ms read, as much again to count): kept, like the other pages' coverage
    // summaries, until the poller next refreshes the counts.
    let key = format!(
        "coverage_grid:{}:{}:{}",
        narrow.account.as_ref().map_or("", |a| a.as_str()),
        narrow.region.as_ref().map_or("", |r| r.as_str()),
        narrow.state.unwrap_or("")
    );
    let grid = state
        .counts
        .get(pool, key, || async {
            let scope = match (&narrow.account, &narrow.region) {
                (Some(a), _) => Scope::Account(a.as_str()),
                (None, Some(r)) => Scope::Region(r.as_str()),
                (None, None) => Scope::All,
            };
            let (cells, infos) = tokio::try_join!(
                db::posture::coverage_cells(pool, scope),
                db::posture::accounts(pool),
            )?;
            Ok(Grid::new(site, &narrow, cells, infos))
        })
        .await?;
    let name_of = |id: &str| grid.names.get(id).cloned().unwrap_or_default();

    // This page's accounts, in full.
    let shown = &grid.shown;
    let pages = shown.len().div_ceil(ACCOUNTS_PER_PAGE).max(1);
    if narrow.page > pages {
        return Err(bad(
            "page",
            &format!("{}: there are {pages} pages of accounts", narrow.page),
        ));
    }
    let first_shown = (narrow.page - 1) * ACCOUNTS_PER_PAGE;
    let on_page =
        &shown[first_shown.min(shown.len())..(first_shown + ACCOUNTS_PER_PAGE).min(shown.len())];
    let mut rows = Vec::new();
    for id in on_page {
        let name = name_of(id);
        let first = rows.len();
        for region in grid.regions_of(id) {
            let row_cells: Vec<StateCell> = grid
                .sources
                .iter()
                .map(|s| StateCell::of(grid.cell(id, &region, s.as_str())))
                .collect();
            if narrow
                .state
                .is_some_and(|s| !row_cells.iter().any(|c| c.state == s))
            {
                continue;
            }
            rows.push(MatrixRow {
                account_id: id.clone(),
                account_name: name.clone(),
                span: None,
                unapproved: !site.is_approved(&region),
                region,
                cells: row_cells,
            });
        }
        if rows.len() > first {
            rows[first].span = Some(rows.len() - first);
        }
    }
    let paging = (pages > 1).then(|| Paging {
        first: Count((first_shown + 1) as i64),
        last: Count((first_shown + on_page.len()) as i64),
        of: Count(shown.len() as i64),
        previous: (narrow.page > 1).then(|| narrow.href(narrow.state, narrow.page - 1)),
        next: (narrow.page < pages).then(|| narrow.href(narrow.state, narrow.page + 1)),
    });
    let counts = grid.counts;
    let sources = &grid.sources;

    let page_cells: Vec<CoverageCell> = on_page
        .iter()
        .filter_map(|id| grid.by_account.get(id))
        .flat_map(|regions| regions.values().flat_map(|m| m.values().cloned()))
        .collect();
    let problems = problem_groups(&page_cells, &name_of, narrow.state);
    let mut narrowed = Vec::new();
    if let Some(a) = &narrow.account {
        let name = name_of(a.as_str());
        narrowed.push(if name.is_empty() {
            format!("account {a}")
        } else {
            format!("account {name} ({a})")
        });
    }
    if let Some(r) = &narrow.region {
        narrowed.push(format!("region {r}"));
    }
    if let Some(s) = narrow.state {
        narrowed.push(format!("rows with a target {}", state_label_of(s)));
    }

    let page = CoveragePage {
        delegated_admin: site
            .delegated_admin
            .as_ref()
            .map(|a| (a.to_string(), name_of(a.as_str()))),
        chrome: Chrome::for_viewer("coverage", viewer),
        counts: STATES
            .iter()
            .zip(counts)
            .map(|(s, n)| StateCount {
                state: s,
                label: state_label_of(s),
                count: Count(n),
                href: narrow.href_with_state(Some(s)),
                selected: narrow.state == Some(*s),
            })
            .collect(),
        total: Count(counts.iter().sum()),
        narrowed,
        show_all: if narrow.state.is_some() {
            narrow.href_with_state(None)
        } else {
            "/coverage".to_owned()
        },
        source_heads: sources.iter().map(|s| s.display_name()).collect(),
        rows,
        paging,
        per_page: ACCOUNTS_PER_PAGE,
        problems,
    };
    render(&page)
}

/// The label of a state class (`not_polled` → `not polled yet`).
fn state_label_of(state: &str) -> &'static str {
    state_label((state != "not_polled").then_some(state))
}

/// Where a group of targets is, for people: `all 5 services in eu-west-1, us-east-1` when the
/// group spans every listed service in every listed region, otherwise
/// `Macie in eu-west-1, us-east-1; Inspector in sa-east-1`. Pairs are (source, region).
pub(super) fn places(pairs: &[(&str, &str)]) -> String {
    let sources: BTreeSet<&str> = pairs.iter().map(|p| p.0).collect();
    let regions: BTreeSet<&str> = pairs.iter().map(|p| p.1).collect();
    let distinct: BTreeSet<&(&str, &str)> = pairs.iter().collect();
    let regions_text = regions.iter().copied().collect::<Vec<_>>().join(", ");
    if sources.len() > 1 && distinct.len() == sources.len() * regions.len() {
        let what = if sources.len() == Source::ALL.len() {
            format!("all {} services", sources.len())
        } else {
            sources
                .iter()
                .map(|s| source_name(s))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return format!("{what} in {regions_text}");
    }
    let mut by_source: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (s, r) in pairs {
        by_source.entry(s).or_default().insert(r);
    }
    by_source
        .into_iter()
        .map(|(s, regions)| {
            format!(
                "{} in {}",
                source_name(s),
                regions.into_iter().collect::<Vec<_>>().join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The targets that are not enabled, grouped by account, state and message: a role that
/// cannot be assumed is one line, not one per region and service.
fn problem_groups(
    cells: &[CoverageCell],
    name_of: &dyn Fn(&str) -> String,
    only: Option<&str>,
) -> Vec<ProblemGroup> {
    let mut groups: BTreeMap<(&str, &str, &str), Vec<&CoverageCell>> = BTreeMap::new();
    for c in cells {
        let Some(state) = c.state.as_deref() else {
            continue;
        };
        if state == "enabled" || only.is_some_and(|o| o != state_class(Some(state))) {
            continue;
        }
        groups
            .entry((&c.account_id, state, &c.message))
            .or_default()
            .push(c);
    }
    let mut out: Vec<ProblemGroup> = groups
        .into_iter()
        .map(|((account, state, message), members)| {
            let pairs: Vec<(&str, &str)> = members
                .iter()
                .map(|m| (m.source.as_str(), m.region.as_str()))
                .collect();
            let places = places(&pairs);
            ProblemGroup {
                account_id: account.to_owned(),
                account_name: name_of(account),
                state: state_class(Some(state)),
                label: state_label(Some(state)),
                message: message.to_owned(),
                places,
                count: members.len(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (
            a.account_name.to_lowercase(),
            &a.account_id,
            a.state,
            &a.places,
        )
            .cmp(&(
                b.account_name.to_lowercase(),
                &b.account_id,
                b.state,
                &b.places,
            ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_summed_up() {
        let all: Vec<(&str, &str)> = Source::ALL
            .iter()
            .flat_map(|s| [(s.as_str(), "us-east-1"), (s.as_str(), "eu-west-1")])
            .collect();
        assert_eq!(places(&all), "all 5 services in eu-west-1, us-east-1");
        assert_eq!(
            places(&[
                ("macie", "us-east-1"),
                ("inspector", "sa-east-1"),
                ("macie", "eu-west-1")
            ]),
            "Inspector in sa-east-1; Macie in eu-west-1, us-east-1"
        );
        assert_eq!(
            places(&[("macie", "us-east-1"), ("guardduty", "us-east-1")]),
            "GuardDuty, Macie in us-east-1"
        );
    }

    #[test]
    fn narrowing_parameters_are_checked() {
        assert_eq!(Narrow::parse(None).unwrap(), Narrow::default());
        let n = Narrow::parse(Some("state=access_denied&region=eu-west-1")).unwrap();
        assert_eq!(n.state, Some("access_denied"));
        assert_eq!(
            n.href_with_state(Some("error")),
            "/coverage?region=eu-west-1&state=error"
        );
        let n = Narrow::parse(Some("state=error&page=3")).unwrap();
        assert_eq!(n.page, 3);
        assert_eq!(n.href(n.state, 4), "/coverage?state=error&page=4");
        // Another state starts again from the first page.
        assert_eq!(n.href_with_state(None), "/coverage");
        for (q, param) in [
            ("state=off", "state:"),
            ("account=12", "account:"),
            ("region=mars", "region:"),
            ("page=0", "page:"),
            ("page=two", "page:"),
            ("sort=name", "sort:"),
        ] {
            let Err(PageError::BadRequest(m)) = Narrow::parse(Some(q)) else {
                panic!("{q} accepted");
            };
            assert!(m.starts_with(param), "{m}");
        }
    }
}
