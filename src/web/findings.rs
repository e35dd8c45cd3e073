//! `/findings` (the filtered list with facets and keyset pages), `/findings/{id}` (one finding,
//! its provenances, events and raw JSON), and `/findings.csv` / `/findings.json`, which stream
//! every row of the current filter.

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::stream::{self, StreamExt};
use uuid::Uuid;

use super::error::PageError;
use super::format::{AtLeast, Count, ago, when};
use super::{AppState, Chrome, Viewer, render};
use crate::db;
use crate::db::findings_list::{Facets, ListedFinding};
use crate::domain::filter::{self, FindingFilter, ListRequest, ListRules, Sort};
use crate::domain::{Severity, Source, Status};

/// The pages' list: most severe first, 50 rows a page, up to 500.
pub const PAGE_RULES: ListRules = ListRules {
    default_sort: Sort::Severity,
    default_limit: 50,
    max_limit: 500,
    extra: &[],
};

/// Rows fetched per query while an export streams.
const EXPORT_BATCH: u32 = 2_000;

/// One choice in a `<select>`.
struct Choice {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// One value of a facet, its count and the list filtered to it.
struct FacetItem {
    label: String,
    /// A lower bound (`12+`) when the matches were too many to count them all.
    count: AtLeast,
    href: String,
    selected: bool,
}

struct FacetGroup {
    title: &'static str,
    items: Vec<FacetItem>,
    /// How many values were left out (only the top values are listed).
    more: usize,
}

/// An active filter, with the link that removes it.
struct Chip {
    label: String,
    remove_href: String,
}

struct Row {
    href: String,
    /// The other services that reported it (Security Hub copies, mostly).
    also_via: String,
    f: ListedFinding,
    updated_ago: String,
    updated_at: String,
}

#[derive(Template)]
#[template(path = "findings.html")]
struct FindingsPage {
    chrome: Chrome,
    /// `1,000+` when counting stopped at `LIVE_COUNT_CAP` matches.
    total: AtLeast,
    /// The cap, for the note that says the counts are of the first matches only.
    cap: Count,
    rows: Vec<Row>,
    facets: Vec<FacetGroup>,
    chips: Vec<Chip>,
    severities: Vec<Choice>,
    statuses: Vec<Choice>,
    sources: Vec<Choice>,
    sorts: Vec<Choice>,
    account: String,
    region: String,
    resource_type: String,
    environment: String,
    q: String,
    limit: u32,
    next_href: Option<String>,
    first_href: Option<String>,
    csv_href: String,
    json_href: String,
    shown_from: Count,
    shown_to: Count,
    /// When the counts come from the periodically refreshed totals: how old they are.
    counts_as_of: Option<String>,
}

/// A query string: the filter, then the given extra pairs.
fn query_with(filter: &FindingFilter, extra: &[(&str, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.extend_pairs(filter.to_pairs());
    for (k, v) in extra {
        s.append_pair(k, v);
    }
    s.finish()
}

fn href(path: &str, query: String) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

pub async fn list_findings(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let request = filter::parse_list_request(query.as_deref().unwrap_or(""), PAGE_RULES)?;
    let (page, facets, accounts) = tokio::try_join!(
        db::findings_list::list(&state.pool, &request),
        async {
            // Facets of dimension filters come from the counts: computed once per refresh.
            if request.filter.q.is_none() && request.filter.updated_since.is_none() {
                let key = format!("facets:{:?}", request.filter.to_pairs());
                state
                    .counts
                    .get_cloned(&state.pool, key, || {
                        db::findings_list::facets(&state.pool, &request.filter)
                    })
                    .await
            } else {
                db::findings_list::facets(&state.pool, &request.filter).await
            }
        },
        db::posture::accounts(&state.pool),
    )?;
    let names: std::collections::HashMap<String, String> =
        accounts.into_iter().map(|a| (a.id, a.name)).collect();
    let f = &request.filter;
    let mut extra = Vec::new();
    if request.sort != PAGE_RULES.default_sort {
        extra.push(("sort", request.sort.as_str().to_owned()));
    }
    if request.limit != PAGE_RULES.default_limit {
        extra.push(("limit", request.limit.to_string()));
    }
    let next_href = page.next.map(|c| {
        let mut e = extra.clone();
        e.push(("cursor", c.encode()));
        href("/findings", query_with(f, &e))
    });
    let first_href = request
        .cursor
        .map(|_| href("/findings", query_with(f, &extra)));
    let now = Utc::now();
    let shown = page.items.len() as i64;
    let rows = page
        .items
        .into_iter()
        .map(|f| Row {
            href: format!("/findings/{}", f.id),
            also_via: f
                .reported_by
                .iter()
                .filter(|p| **p != f.source)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            updated_ago: ago(f.updated_at, now),
            updated_at: when(f.updated_at),
            f,
        })
        .collect();
    let sort_extra = |sort: Sort| {
        let mut e = Vec::new();
        if sort != Sort::Severity {
            e.push(("sort", sort.as_str().to_owned()));
        }
        e
    };
    let export_query = query_with(f, &sort_extra(request.sort));
    let page = FindingsPage {
        chrome: Chrome::for_viewer("findings", viewer),
        total: AtLeast {
            n: facets.total,
            capped: facets.capped,
        },
        cap: Count(db::findings_list::LIVE_COUNT_CAP),
        facets: facet_groups(&request, &facets, &names),
        chips: chips(f),
        severities: choices(
            &Severity::ALL.map(|s| (s.as_str(), s.as_str())),
            &f.severities.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        ),
        statuses: choices(
            &Status::ALL.map(|s| (s.as_str(), s.as_str())),
            &f.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        ),
        sources: choices(
            &Source::ALL.map(|s| (s.as_str(), s.display_name())),
            &f.sources.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        ),
        sorts: vec![
            Choice {
                value: "severity",
                label: "Most severe first",
                selected: request.sort == Sort::Severity,
            },
            Choice {
                value: "updated",
                label: "Recently changed first",
                selected: request.sort == Sort::Updated,
            },
            Choice {
                value: "id",
                label: "By id (stable)",
                selected: request.sort == Sort::Id,
            },
        ],
        account: join(&f.accounts),
        region: join(&f.regions),
        resource_type: f.resource_types.join(","),
        environment: f.environments.join(","),
        q: f.q.clone().unwrap_or_default(),
        limit: request.limit,
        next_href,
        first_href,
        csv_href: href("/findings.csv", export_query.clone()),
        json_href: href("/findings.json", export_query),
        counts_as_of: facets
            .as_of
            .map(|t| format!("{} ({})", when(t), ago(t, now))),
        shown_from: Count(i64::from(shown > 0)),
        shown_to: Count(shown),
        rows,
    };
    render(&page)
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn choices(all: &[(&'static str, &'static str)], selected: &[&str]) -> Vec<Choice> {
    all.iter()
        .map(|(value, label)| Choice {
            value,
            label,
            selected: selected.len() == 1 && selected[0] == *value,
        })
        .collect()
}

/// The filter with one dimension set to `value` (replacing what it had).
fn with_value(f: &FindingFilter, dimension: &str, value: &str) -> FindingFilter {
    let mut f = f.clone();
    match dimension {
        "severity" => f.severities = value.parse().into_iter().collect(),
        "status" => f.statuses = value.parse().into_iter().collect(),
        "source" => f.sources = value.parse().into_iter().collect(),
        "region" => f.regions = value.parse().into_iter().collect(),
        "account" => f.accounts = value.parse().into_iter().collect(),
        "resource_type" => f.resource_types = vec![value.to_owned()],
        _ => {}
    }
    f
}

const FACET_TOP: usize = 12;

fn facet_groups(
    request: &ListRequest,
    facets: &Facets,
    names: &std::collections::HashMap<String, String>,
) -> Vec<FacetGroup> {
    let f = &request.filter;
    let group = |title: &'static str,
                 dimension: &str,
                 values: Vec<(String, String, i64)>,
                 selected: &[String]| {
        let more = values.len().saturating_sub(FACET_TOP);
        FacetGroup {
            title,
            items: values
                .into_iter()
                .take(FACET_TOP)
                .map(|(value, label, n)| FacetItem {
                    href: href(
                        "/findings",
                        query_with(&with_value(f, dimension, &value), &[]),
                    ),
                    selected: selected.contains(&value),
                    label,
                    count: AtLeast {
                        n,
                        capped: facets.capped,
                    },
                })
                .collect(),
            more,
        }
    };
    let plain = |v: &[(String, i64)]| {
        v.iter()
            .map(|(k, n)| (k.clone(), k.clone(), *n))
            .collect::<Vec<_>>()
    };
    let strings = |v: &[String]| v.to_vec();
    vec![
        group(
            "Severity",
            "severity",
            plain(&facets.severity),
            &strings(
                &f.severities
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            ),
        ),
        group(
            "Status",
            "status",
            plain(&facets.status),
            &f.statuses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        ),
        group(
            "Source",
            "source",
            facets
                .source
                .iter()
                .map(|(k, n)| {
                    let label = k
                        .parse::<Source>()
                        .map(|s| s.display_name().to_owned())
                        .unwrap_or_else(|_| k.clone());
                    (k.clone(), label, *n)
                })
                .collect(),
            &f.sources
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        ),
        group(
            "Account",
            "account",
            facets
                .account
                .iter()
                .map(|(id, n)| {
                    let label = names
                        .get(id)
                        .map_or_else(|| id.clone(), |name| format!("{name} ({id})"));
                    (id.clone(), label, *n)
                })
                .collect(),
            &f.accounts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        ),
        group(
            "Region",
            "region",
            plain(&facets.region),
            &f.regions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
        ),
        group(
            "Resource type",
            "resource_type",
            facets
                .resource_type
                .iter()
                .filter_map(|(k, n)| k.as_ref().map(|k| (k.clone(), k.clone(), *n)))
                .collect(),
            &f.resource_types,
        ),
    ]
}

fn chips(f: &FindingFilter) -> Vec<Chip> {
    let mut chips = Vec::new();
    let mut add = |label: String, without: FindingFilter| {
        chips.push(Chip {
            label,
            remove_href: href("/findings", query_with(&without, &[])),
        });
    };
    if !f.accounts.is_empty() {
        add(
            format!("account: {}", join(&f.accounts)),
            FindingFilter {
                accounts: vec![],
                ..f.clone()
            },
        );
    }
    if !f.regions.is_empty() {
        add(
            format!("region: {}", join(&f.regions)),
            FindingFilter {
                regions: vec![],
                ..f.clone()
            },
        );
    }
    if !f.sources.is_empty() {
        add(
            format!("source: {}", join(&f.sources)),
            FindingFilter {
                sources: vec![],
                ..f.clone()
            },
        );
    }
    if !f.severities.is_empty() {
        add(
            format!("severity: {}", join(&f.severities)),
            FindingFilter {
                severities: vec![],
                ..f.clone()
            },
        );
    }
    if !f.statuses.is_empty() {
        add(
            format!("status: {}", join(&f.statuses)),
            FindingFilter {
                statuses: vec![],
                ..f.clone()
            },
        );
    }
    if !f.resource_types.is_empty() {
        add(
            format!("resource type: {}", f.resource_types.join(",")),
            FindingFilter {
                resource_types: vec![],
                ..f.clone()
            },
        );
    }
    if !f.environments.is_empty() {
        add(
            format!("environment: {}", f.environments.join(",")),
            FindingFilter {
                environments: vec![],
                ..f.clone()
            },
        );
    }
    if let Some(q) = &f.q {
        add(
            format!("text: \u{201c}{q}\u{201d}"),
            FindingFilter {
                q: None,
                ..f.clone()
            },
        );
    }
    if let Some(t) = f.updated_since {
        add(
            format!("changed since {}", when(t)),
            FindingFilter {
                updated_since: None,
                ..f.clone()
            },
        );
    }
    chips
}

struct Provenance {
    reporter: String,
    native_id: String,
    updated_at: String,
    console_url: String,
}

struct EventLine {
    kind: String,
    at: String,
    change: String,
}

#[derive(Template)]
#[template(path = "finding.html")]
struct FindingPage {
    chrome: Chrome,
    f: db::findings::FindingRow,
    account_name: Option<String>,
    source_name: &'static str,
    first_seen: String,
    last_seen: String,
    updated: String,
    provenances: Vec<Provenance>,
    events: Vec<EventLine>,
    raw: String,
    console_url: Option<String>,
    /// The source's own description of the finding, when it gives one.
    description: Option<String>,
    /// Security Hub's remediation advice and its link, when given.
    remediation: Option<String>,
    remediation_url: Option<String>,
}

pub async fn show_finding(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let missing = || PageError::NotFound(format!("There is no finding with id {id:?}."));
    let uuid: Uuid = id.parse().map_err(|_| missing())?;
    let Some(f) = db::findings::get(&state.pool, uuid).await? else {
        return Err(missing());
    };
    let (events, account) = tokio::try_join!(
        db::findings::events(&state.pool, uuid),
        db::accounts::name(&state.pool, &f.account_id),
    )?;
    let provenances = provenances(&f);
    // The producing service's own report first; else the Security Hub copy.
    let console_url = provenances
        .iter()
        .find(|p| p.reporter == f.source)
        .or_else(|| provenances.first())
        .map(|p| p.console_url.clone());
    let source_name = f
        .source
        .parse::<Source>()
        .map(Source::display_name)
        .unwrap_or("unknown");
    let text_at = |pointer: &str| {
        f.raw
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let description = text_at("/Description").or_else(|| text_at("/description"));
    let remediation = text_at("/Remediation/Recommendation/Text");
    // Only web links: the URL comes from outside.
    let remediation_url =
        text_at("/Remediation/Recommendation/Url").filter(|u| u.starts_with("https://"));
    let page = FindingPage {
        chrome: Chrome::for_viewer("findings", viewer),
        account_name: account,
        source_name,
        first_seen: when(f.first_seen_at),
        last_seen: when(f.last_seen_at),
        updated: when(f.updated_at),
        events: events.into_iter().map(event_line).collect(),
        raw: serde_json::to_string_pretty(&f.raw).unwrap_or_else(|_| f.raw.to_string()),
        console_url,
        provenances,
        description,
        remediation,
        remediation_url,
        f,
    };
    render(&page)
}

fn provenances(f: &db::findings::FindingRow) -> Vec<Provenance> {
    f.reports()
        .into_iter()
        .map(|r| Provenance {
            console_url: f.console_url(&r),
            reporter: r.reporter,
            native_id: r.native_id,
            updated_at: r.updated_at.unwrap_or_default(),
        })
        .collect()
}

fn event_line(e: db::findings::EventRow) -> EventLine {
    let change = match e.kind.as_str() {
        "new" => format!("first seen, {} and {}", e.to_status, e.to_severity),
        "severity_changed" => format!(
            "severity {} → {}",
            e.from_severity.as_deref().unwrap_or("?"),
            e.to_severity
        ),
        _ => format!(
            "status {} → {}",
            e.from_status.as_deref().unwrap_or("?"),
            e.to_status
        ),
    };
    EventLine {
        kind: e.kind.replace('_', " "),
        at: when(e.at),
        change,
    }
}

/// Every finding of the filter, in batches, as they are read: memory stays flat whatever the
/// size of the export.
fn export_stream(
    state: AppState,
    mut request: ListRequest,
) -> impl futures_util::Stream<Item = Result<Vec<ListedFinding>, sqlx::Error>> {
    request.limit = EXPORT_BATCH;
    request.cursor = None;
    stream::unfold(Some(request), move |request| {
        let pool = state.pool.clone();
        async move {
            let mut request = request?;
            match db::findings_list::list(&pool, &request).await {
                Ok(page) => {
                    let next = page.next.map(|c| {
                        request.cursor = Some(c);
                        request
                    });
                    Some((Ok(page.items), next))
                }
                Err(e) => {
                    tracing::error!(error = %e, "export stopped by a database error");
                    Some((Err(e), None))
                }
            }
        }
    })
}

/// The export's parameters: the page's filter and sort, no cursor, no limit.
fn export_request(query: Option<&str>) -> Result<ListRequest, PageError> {
    let request = filter::parse_list_request(query.unwrap_or(""), PAGE_RULES)?;
    if request.cursor.is_some() {
        return Err(PageError::BadRequest(
            "cursor: an export always holds every finding of the filter; leave the cursor out"
                .into(),
        ));
    }
    Ok(request)
}

const CSV_HEADER: [&str; 16] = [
    "id",
    "severity",
    "status",
    "title",
    "source",
    "reported_by",
    "account_id",
    "account_name",
    "region",
    "type",
    "resource_type",
    "resource_id",
    "control_id",
    "first_seen_at",
    "last_seen_at",
    "updated_at",
];

/// A cell that a spreadsheet would run as a formula is prefixed with `'`: titles and resource
/// names come from outside.
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

fn csv_rows(rows: &[ListedFinding], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 300));
    if header {
        w.write_record(CSV_HEADER)?;
    }
    for f in rows {
        let ts = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        w.write_record([
            f.id.to_string(),
            f.severity.clone(),
            f.status.clone(),
            cell(&f.title),
            f.source.clone(),
            f.reported_by.join(" "),
            f.account_id.clone(),
            cell(f.account_name.as_deref().unwrap_or("")),
            f.region.clone(),
            cell(&f.finding_type),
            cell(f.resource_type.as_deref().unwrap_or("")),
            cell(f.resource_id.as_deref().unwrap_or("")),
            cell(f.control_id.as_deref().unwrap_or("")),
            ts(f.first_seen_at),
            ts(f.last_seen_at),
            ts(f.updated_at),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

fn export_name(ext: &str) -> String {
    format!(
        "attachment; filename=\"sightline-findings-{}.{ext}\"",
        Utc::now().format("%Y%m%d-%H%M%S")
    )
}

pub async fn export_csv(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let request = export_request(query.as_deref())?;
    let mut first = true;
    let body = export_stream(state, request).map(move |batch| {
        let header = std::mem::take(&mut first);
        batch
            .map_err(std::io::Error::other)
            .and_then(|rows| csv_rows(&rows, header).map_err(std::io::Error::other))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, export_name("csv")),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

pub async fn export_json(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let request = export_request(query.as_deref())?;
    let mut first = true;
    let items = export_stream(state, request).map(move |batch| {
        let rows = batch.map_err(std::io::Error::other)?;
        let mut out = Vec::with_capacity(rows.len() * 500);
        for f in rows {
            out.extend_from_slice(if std::mem::take(&mut first) {
                b"\n"
            } else {
                b",\n"
            });
            serde_json::to_writer(&mut out, &crate::api::findings::FindingResponse::from(f))
                .map_err(std::io::Error::other)?;
        }
        Ok::<_, std::io::Error>(out)
    });
    let body = stream::once(async { Ok::<_, std::io::Error>(b"[".to_vec()) })
        .chain(items)
        .chain(stream::once(async { Ok(b"\n]\n".to_vec()) }));
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, export_name("json")),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("S3 bucket is public"), "S3 bucket is public");
    }
}
