//! `/regions`: each region's open findings, the accounts with findings there and its coverage;
//! `/regions/{code}`: one region across accounts and sources. Regions outside the approved list
//! are marked, and any activity in them (an open finding, an enabled service) is called out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;

use super::accounts::{AccountNames, Problem, StateCell, sources_present};
use super::error::PageError;
use super::format::Count;
use super::overview::{SevCounts, Tally, plural, scale_bars};
use super::{AppState, Chrome, Site, Viewer, render};
use crate::db;
use crate::db::posture::{CoverageCell, Scope};
use crate::domain::{Region, Source};

/// A region's page lists at most this many accounts, and this many services not reporting;
/// `/coverage?region=…` lists them all.
const SHOWN: usize = 100;

struct RegionRow {
    code: String,
    watched: bool,
    approved: bool,
    counts: SevCounts,
    accounts: Count,
    targets: Count,
    enabled: Count,
}

/// An unapproved region where something runs, and what.
struct Activity {
    code: String,
    what: String,
}

#[derive(Template)]
#[template(path = "regions.html")]
struct RegionsPage {
    chrome: Chrome,
    rows: Vec<RegionRow>,
    activity: Vec<Activity>,
    approved: Vec<String>,
}

/// The watched regions in config order, then any other the data names, alphabetically.
fn region_order<'a>(site: &Site, seen: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut order: Vec<String> = site.regions.iter().map(|r| r.to_string()).collect();
    let extra: BTreeSet<&str> = seen.filter(|r| !order.iter().any(|o| o == r)).collect();
    order.extend(extra.into_iter().map(str::to_owned));
    order
}

/// `3 open findings and 1 security service enabled`.
fn activity(open: i64, enabled: i64) -> String {
    let mut parts = Vec::new();
    if open > 0 {
        parts.push(plural(open, "open finding", "open findings"));
    }
    if enabled > 0 {
        parts.push(plural(
            enabled,
            "security service enabled",
            "security services enabled",
        ));
    }
    parts.join(" and ")
}

pub async fn list_regions(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let pool = &state.pool;
    let (tallies, coverage) = tokio::try_join!(
        // Per region: its open findings and how many accounts have any. Summed from one row per
        // (region, account, severity), 80,000 at 1,000 accounts: once per refresh, not per view.
        state.counts.get(pool, "open_by_region".into(), || async {
            let open = db::posture::open_by_region_account(pool).await?;
            let mut tallies: BTreeMap<String, (Tally, BTreeSet<String>)> = BTreeMap::new();
            for c in open {
                let (t, accounts) = tallies.entry(c.region).or_default();
                t.add(&c.severity, c.count);
                accounts.insert(c.account_id);
            }
            Ok(tallies
                .into_iter()
                .map(|(region, (t, accounts))| (region, (t, accounts.len())))
                .collect::<BTreeMap<String, (Tally, usize)>>())
        }),
        state
            .counts
            .get_cloned(pool, "coverage_by_region".into(), || {
                db::posture::coverage_by_region(pool)
            }),
    )?;
    let site = &state.site;
    let order = region_order(
        site,
        tallies
            .keys()
            .map(String::as_str)
            .chain(coverage.iter().map(|c| c.region.as_str())),
    );
    let mut rows: Vec<RegionRow> = order
        .iter()
        .map(|code| {
            let (tally, accounts) = tallies.get(code.as_str()).copied().unwrap_or_default();
            let cov = coverage.iter().find(|c| &c.region == code);
            RegionRow {
                code: code.clone(),
                watched: site.regions.iter().any(|r| r.as_str() == code),
                approved: site.is_approved(code),
                counts: SevCounts::new(&tally, &[("region", code)]),
                accounts: Count(accounts as i64),
                targets: Count(cov.map_or(0, |c| c.targets)),
                enabled: Count(cov.map_or(0, |c| c.enabled)),
            }
        })
        .collect();
    scale_bars(rows.iter_mut().map(|r| &mut r.counts));
    let activity = rows
        .iter()
        .filter(|r| !r.approved && (r.counts.total.n.0 > 0 || r.enabled.0 > 0))
        .map(|r| Activity {
            code: r.code.clone(),
            what: activity(r.counts.total.n.0, r.enabled.0),
        })
        .collect();
    let page = RegionsPage {
        chrome: Chrome::for_viewer("regions", viewer),
        rows,
        activity,
        approved: site
            .approved_regions
            .iter()
            .map(|r| r.to_string())
            .collect(),
    };
    render(&page)
}

struct AccountRow {
    id: String,
    name: String,
    counts: SevCounts,
    /// The account's services in this region, in the order of `source_heads`.
    cells: Vec<StateCell>,
}

struct SourceRow {
    name: &'static str,
    counts: SevCounts,
}

#[derive(Template)]
#[template(path = "region.html")]
struct RegionPage {
    chrome: Chrome,
    /// Its last 90 days, when there are rollups.
    trend: Option<super::trends::ScopeTrend>,
    code: String,
    watched: bool,
    approved: bool,
    open: SevCounts,
    accounts_with_open: Count,
    enabled: Count,
    targets: Count,
    /// What runs here, when the region is not approved.
    activity: String,
    /// The first `SHOWN` accounts, most severe first, of `accounts_total`.
    accounts: Vec<AccountRow>,
    accounts_total: Count,
    sources: Vec<SourceRow>,
    source_heads: Vec<&'static str>,
    /// The first `SHOWN` services not reporting, of `problems_total`.
    problems: Vec<Problem>,
    problems_total: Count,
}

pub async fn show_region(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let region: Region = code
        .parse()
        .map_err(|_| PageError::NotFound(format!("{code:?} is not an AWS region code.")))?;
    let site = &state.site;
    let rc = region.as_str();
    let pool = &state.pool;
    let watched = site.regions.iter().any(|r| r == &region);
    let (cells, coverage, infos, known, trend) = tokio::try_join!(
        state.counts.get(pool, format!("open_in_region:{rc}"), || {
            db::posture::open_in_region(pool, rc)
        }),
        // 5,000 cells at 1,000 accounts: kept, like the region list's coverage, until the
        // poller next refreshes the counts.
        state
            .counts
            .get(pool, format!("coverage_in_region:{rc}"), || {
                db::posture::coverage_cells(pool, Scope::Region(rc))
            }),
        db::posture::accounts(pool),
        async {
            if watched {
                Ok(true)
            } else {
                db::posture::region_known(pool, rc).await
            }
        },
        state.counts.get_cloned(
            pool,
            format!("trend_region:{rc}:{}", chrono::Utc::now().date_naive()),
            || {
                super::trends::scope_trend(
                    pool,
                    db::trends::TrendFilter {
                        regions: vec![rc.to_owned()],
                        ..Default::default()
                    },
                    format!("/trends?region={rc}"),
                )
            }
        ),
    )?;
    if !known {
        return Err(PageError::NotFound(format!(
            "Region {rc} is not watched and Sightline holds no data about it."
        )));
    }

    let mut total = Tally::default();
    let mut by_account: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut by_source: BTreeMap<&str, Tally> = BTreeMap::new();
    for c in cells.iter() {
        total.add(&c.severity, c.count);
        by_account
            .entry(&c.account_id)
            .or_default()
            .add(&c.severity, c.count);
        by_source
            .entry(&c.source)
            .or_default()
            .add(&c.severity, c.count);
    }
    let sources_polled = sources_present(&coverage);
    let names = AccountNames::new(&infos);
    let name_of = |id: &str| names.of(id);
    let cell_of: HashMap<(&str, &str), &CoverageCell> = coverage
        .iter()
        .map(|c| ((c.account_id.as_str(), c.source.as_str()), c))
        .collect();

    // The accounts with findings or coverage here: the most severe open findings first, and
    // only the first `SHOWN` of them (a region of 1,000 accounts would be a 2 MB page).
    let mut ids: Vec<&str> = by_account
        .keys()
        .copied()
        .chain(coverage.iter().map(|c| c.account_id.as_str()))
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .collect();
    let tally_of = |id: &str| by_account.get(id).copied().unwrap_or_default();
    ids.sort_by_cached_key(|id| {
        (
            std::cmp::Reverse(tally_of(id).gravity()),
            name_of(id),
            id.to_string(),
        )
    });
    let accounts_total = ids.len();
    let mut accounts: Vec<AccountRow> = ids
        .into_iter()
        .take(SHOWN)
        .map(|id| AccountRow {
            id: id.to_owned(),
            name: name_of(id),
            counts: SevCounts::new(&tally_of(id), &[("region", rc), ("account", id)]),
            cells: sources_polled
                .iter()
                .map(|s| StateCell::of(cell_of.get(&(id, s.as_str())).copied()))
                .collect(),
        })
        .collect();
    scale_bars(accounts.iter_mut().map(|r| &mut r.counts));

    let mut sources: Vec<SourceRow> = Source::ALL
        .iter()
        .map(|s| SourceRow {
            name: s.display_name(),
            counts: SevCounts::new(
                by_source.get(s.as_str()).unwrap_or(&Tally::default()),
                &[("region", rc), ("source", s.as_str())],
            ),
        })
        .collect();
    scale_bars(sources.iter_mut().map(|r| &mut r.counts));

    let not_enabled: Vec<&CoverageCell> = coverage
        .iter()
        .filter(|c| c.state.as_deref() != Some("enabled"))
        .collect();
    let problems_total = not_enabled.len();
    let problems = not_enabled
        .into_iter()
        .take(SHOWN)
        .map(|c| Problem::of(c, &name_of(&c.account_id)))
        .collect();
    let enabled = coverage
        .iter()
        .filter(|c| c.state.as_deref() == Some("enabled"))
        .count() as i64;

    let page = RegionPage {
        chrome: Chrome::for_viewer("regions", viewer),
        trend,
        code: rc.to_owned(),
        watched,
        approved: site.is_approved(rc),
        open: SevCounts::new(&total, &[("region", rc)]),
        accounts_with_open: Count(by_account.values().filter(|t| t.total() > 0).count() as i64),
        enabled: Count(enabled),
        targets: Count(coverage.len() as i64),
        activity: activity(total.total(), enabled),
        accounts,
        accounts_total: Count(accounts_total as i64),
        sources,
        source_heads: sources_polled.iter().map(|s| s.display_name()).collect(),
        problems,
        problems_total: Count(problems_total as i64),
    };
    render(&page)
}
