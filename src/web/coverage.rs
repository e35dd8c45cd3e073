//! `/coverage`: every account × region × source and the state its service was last read in
//! (enabled, not enabled, access denied, error, unknown, or not polled yet), with the message
//! that explains each state, and how many targets are in each.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::accounts::{StateCell, sources_present, state_class};
use super::error::PageError;
use super::format::Count;
use super::overview::{source_name, state_label};
use super::{AppState, Chrome, Viewer, render};
use crate::db;
use crate::db::posture::{CoverageCell, Scope};
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

/// What `/coverage` is narrowed to.
#[derive(Debug, Default, PartialEq, Eq)]
struct Narrow {
    account: Option<AccountId>,
    region: Option<Region>,
    state: Option<&'static str>,
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
                other => {
                    return Err(bad(
                        other,
                        "unknown parameter: expected account, region or state",
                    ));
                }
            }
        }
        Ok(n)
    }

    /// This page's URL with `state` set (or cleared), keeping the rest.
    fn href_with_state(&self, state: Option<&str>) -> String {
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
    problems: Vec<ProblemGroup>,
    /// Delegated-administrator mode: (account id, name).
    delegated_admin: Option<(String, String)>,
}

pub async fn show_coverage(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let narrow = Narrow::parse(query.as_deref())?;
    let pool = &state.pool;
    let scope = match (&narrow.account, &narrow.region) {
        (Some(a), _) => Scope::Account(a.as_str()),
        (None, Some(r)) => Scope::Region(r.as_str()),
        (None, None) => Scope::All,
    };
    let (cells, infos) = tokio::try_join!(
        db::posture::coverage_cells(pool, scope),
        db::posture::accounts(pool),
    )?;
    let cells: Vec<CoverageCell> = cells
        .into_iter()
        .filter(|c| {
            narrow
                .region
                .as_ref()
                .is_none_or(|r| r.as_str() == c.region)
        })
        .collect();
    let site = &state.site;
    let sources = sources_present(&cells);
    let name_of = |id: &str| {
        infos
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.name.clone())
            .unwrap_or_default()
    };

    // Accounts: the configured ones (by name) and any other the data names.
    let mut account_ids: Vec<String> = infos
        .iter()
        .map(|a| a.id.clone())
        .filter(|id| narrow.account.as_ref().is_none_or(|a| a.as_str() == id))
        .collect();
    let extra: BTreeSet<&str> = cells
        .iter()
        .map(|c| c.account_id.as_str())
        .filter(|id| !account_ids.iter().any(|a| a == id))
        .collect();
    account_ids.extend(extra.into_iter().map(str::to_owned));

    let mut index: BTreeMap<(&str, &str, &str), &CoverageCell> = BTreeMap::new();
    for c in &cells {
        index.insert((&c.account_id, &c.region, &c.source), c);
    }
    let watched: Vec<String> = site
        .regions
        .iter()
        .map(|r| r.to_string())
        .filter(|r| narrow.region.as_ref().is_none_or(|n| n.as_str() == r))
        .collect();

    let mut counts = [0i64; STATES.len()];
    let mut rows = Vec::new();
    for id in &account_ids {
        let name = name_of(id);
        let mut regions = watched.clone();
        let extra: BTreeSet<&str> = cells
            .iter()
            .filter(|c| &c.account_id == id)
            .map(|c| c.region.as_str())
            .filter(|r| !regions.iter().any(|w| w == r))
            .collect();
        regions.extend(extra.into_iter().map(str::to_owned));
        let first = rows.len();
        for region in regions {
            let row_cells: Vec<StateCell> = sources
                .iter()
                .map(|s| {
                    StateCell::of(
                        index
                            .get(&(id.as_str(), region.as_str(), s.as_str()))
                            .copied(),
                    )
                })
                .collect();
            for c in &row_cells {
                if let Some(i) = STATES.iter().position(|s| *s == c.state) {
                    counts[i] += 1;
                }
            }
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

    let problems = problem_groups(&cells, &name_of, narrow.state);
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
        for (q, param) in [
            ("state=off", "state:"),
            ("account=12", "account:"),
            ("region=mars", "region:"),
            ("page=2", "page:"),
        ] {
            let Err(PageError::BadRequest(m)) = Narrow::parse(Some(q)) else {
                panic!("{q} accepted");
            };
            assert!(m.starts_with(param), "{m}");
        }
    }
}
