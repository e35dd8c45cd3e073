//! `GET /api/v1/trends/open`, `/trends/flow`, `/trends/mttr` and `/sla/breaches`: the history
//! Sightline keeps (`db::trends`, over the daily rollups), as JSON or, with `format=csv`, as CSV.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::ApiError;
use crate::db;
use crate::db::trends::{Interval, TrendFilter, TrendGroup};
use crate::domain::{AccountId, Region, Source};
use crate::web::AppState;
use crate::web::series::KeptSeries;

/// The longest range a request may cover, in days (three years, a leap day included).
pub const MAX_DAYS: i64 = 1096;
/// Days covered when `from` is not given: `to` and the 89 days before.
pub const DEFAULT_DAYS: i64 = 90;
/// Breaches listed when `limit` is not given, and the most one request may ask for.
const DEFAULT_BREACHES: i64 = 100;
const MAX_BREACHES: i64 = 1000;

/// A trend request, parsed from the query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub interval: Interval,
    pub group: TrendGroup,
    pub filter: TrendFilter,
    pub csv: bool,
    pub limit: i64,
}

const FILTERS: [&str; 5] = ["account", "region", "source", "environment", "owner"];

/// Parses a raw query string (without the `?`), accepting only the parameters in `allowed`
/// (and the filters). Filters take comma-separated values and may repeat. `today` is the
/// default `to`.
pub fn parse_trend_query(
    query: &str,
    allowed: &[&str],
    today: NaiveDate,
) -> Result<TrendQuery, ApiError> {
    let mut from = None;
    let mut to = None;
    let mut q = TrendQuery {
        from: today,
        to: today,
        interval: Interval::Day,
        group: TrendGroup::None,
        filter: TrendFilter::default(),
        csv: false,
        limit: DEFAULT_BREACHES,
    };
    let date = |name: &str, v: &str| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
            ApiError::invalid_parameter(format!("{name}: {v:?} is not a date: expected YYYY-MM-DD"))
        })
    };
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let key = key.as_ref();
        if !allowed.contains(&key) && !FILTERS.contains(&key) {
            let mut names: Vec<&str> = allowed.iter().chain(&FILTERS).copied().collect();
            names.sort_unstable();
            return Err(ApiError::invalid_parameter(format!(
                "{key}: not a parameter of this endpoint: expected any of {}",
                names.join(", ")
            )));
        }
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        crate::domain::filter::check_text(key, value)
            .map_err(|e| ApiError::invalid_parameter(e.to_string()))?;
        let values = || value.split(',').map(str::trim).filter(|v| !v.is_empty());
        match key {
            "from" => from = Some(date("from", value)?),
            "to" => to = Some(date("to", value)?),
            "interval" => {
                q.interval = Interval::parse(value).ok_or_else(|| {
                    ApiError::invalid_parameter(format!(
                        "interval: {value:?}: expected one of {}",
                        Interval::NAMES
                    ))
                })?;
            }
            "group_by" => {
                q.group = TrendGroup::parse(value).ok_or_else(|| {
                    ApiError::invalid_parameter(format!(
                        "group_by: {value:?}: expected one of {}",
                        TrendGroup::NAMES
                    ))
                })?;
            }
            "format" => {
                q.csv = match value {
                    "csv" => true,
                    "json" => false,
                    other => {
                        return Err(ApiError::invalid_parameter(format!(
                            "format: {other:?}: expected json or csv"
                        )));
                    }
                }
            }
            "limit" => {
                q.limit = value
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=MAX_BREACHES).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid_parameter(format!(
                            "limit: {value:?}: expected a number from 1 to {MAX_BREACHES}"
                        ))
                    })?;
            }
            "account" => {
                for v in values() {
                    let id: AccountId = v.parse().map_err(|e: crate::domain::ParseError| {
                        ApiError::invalid_parameter(format!("account: {}", e.0))
                    })?;
                    q.filter.accounts.push(id.to_string());
                }
            }
            "region" => {
                for v in values() {
                    let region: Region = v.parse().map_err(|e: crate::domain::ParseError| {
                        ApiError::invalid_parameter(format!("region: {}", e.0))
                    })?;
                    q.filter.regions.push(region.to_string());
                }
            }
            "source" => {
                for v in values() {
                    let source: Source = v.parse().map_err(|_| {
                        ApiError::invalid_parameter(format!(
                            "source: {v:?}: expected one of securityhub, guardduty, inspector, macie, accessanalyzer"
                        ))
                    })?;
                    q.filter.sources.push(source.as_str().to_owned());
                }
            }
            "environment" => q.filter.environments.extend(values().map(str::to_owned)),
            "owner" => q.filter.owners.extend(values().map(str::to_owned)),
            _ => {}
        }
    }
    q.to = to.unwrap_or(today);
    q.from = from.unwrap_or(q.to - Duration::days(DEFAULT_DAYS - 1));
    if q.from > q.to {
        return Err(ApiError::invalid_parameter(format!(
            "from: {} is after to ({})",
            q.from, q.to
        )));
    }
    let days = (q.to - q.from).num_days() + 1;
    if days > MAX_DAYS {
        return Err(ApiError::invalid_parameter(format!(
            "from: {} to {} is {days} days: at most {MAX_DAYS} (3 years)",
            q.from, q.to
        )));
    }
    Ok(q)
}

fn parse(query: Option<String>, allowed: &[&str]) -> Result<TrendQuery, ApiError> {
    parse_trend_query(
        query.as_deref().unwrap_or(""),
        allowed,
        Utc::now().date_naive(),
    )
}

/// A CSV answer: a header row, then `rows`.
fn csv_response<const N: usize>(
    header_row: [&str; N],
    rows: impl IntoIterator<Item = [String; N]>,
) -> Result<Response, ApiError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let written = w
        .write_record(header_row)
        .and_then(|()| rows.into_iter().try_for_each(|r| w.write_record(&r)));
    let body = written
        .map_err(|e| e.to_string())
        .and_then(|()| w.into_inner().map_err(|e| e.to_string()))
        .map_err(|e| {
            tracing::error!(error = %e, "cannot write CSV");
            ApiError::invalid_parameter("format: the CSV could not be written")
        })?;
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
}

/// Open findings in one period (and group); only the requested group's key is present.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenPointResponse {
    /// The period's first day (YYYY-MM-DD): the day itself, the Monday of a week, the 1st of a
    /// month (the first period may start before `from`).
    pub date: NaiveDate,
    /// Open canonical findings at the end of the period's last day within the range (today:
    /// now). Days without history count 0.
    pub count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The severity, with group_by=severity.
    pub severity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The producing service, with group_by=source.
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The account, with group_by=account.
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The region, with group_by=region.
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The account's environment (empty when not set), with group_by=environment.
    pub environment: Option<String>,
}

/// Open findings over time.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenTrendResponse {
    /// One point per period (per group with group_by), oldest first.
    pub points: Vec<OpenPointResponse>,
}

const OPEN_PARAMS: [&str; 5] = ["interval", "from", "to", "group_by", "format"];

/// Open findings per day, week or month, optionally by severity, source, account, region or
/// environment, from the daily rollups.
///
/// A week starts on Monday, a month on the 1st; a period's count is the one of its last day
/// within the range. Every period has a point (per group seen in the range). `format=csv`
/// answers `text/csv` with the columns `date,count` (and the group's key).
#[utoipa::path(
    get,
    path = "/api/v1/trends/open",
    tag = "trends",
    params(
        ("interval" = Option<String>, Query, description = "day (default), week or month"),
        ("from" = Option<String>, Query, description = "First day, YYYY-MM-DD (default: 89 days before to); at most 3 years before to"),
        ("to" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default: today, UTC)"),
        ("group_by" = Option<String>, Query, description = "severity, source, account, region or environment"),
        ("account" = Option<String>, Query, description = "Account ids, comma-separated"),
        ("region" = Option<String>, Query, description = "Region codes, comma-separated"),
        ("source" = Option<String>, Query, description = "Sources, comma-separated"),
        ("environment" = Option<String>, Query, description = "Account environments, comma-separated"),
        ("owner" = Option<String>, Query, description = "Account owners, comma-separated"),
        ("format" = Option<String>, Query, description = "json (default) or csv"),
    ),
    responses(
        (status = 200, description = "The points", content(
            (OpenTrendResponse = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "An invalid parameter", body = super::error::ErrorResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn show_open_trend(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse(query, &OPEN_PARAMS)?;
    let points = KeptSeries::of(&state)
        .await?
        .open(q.from, q.to, q.interval, q.group, &q.filter)
        .await?;
    let group = q.group;
    let key_of = |wanted: TrendGroup, key: &Option<String>| {
        if group == wanted { key.clone() } else { None }
    };
    let points: Vec<OpenPointResponse> = points
        .into_iter()
        .map(|p| OpenPointResponse {
            date: p.date,
            count: p.count,
            severity: key_of(TrendGroup::Severity, &p.key),
            source: key_of(TrendGroup::Source, &p.key),
            account_id: key_of(TrendGroup::Account, &p.key),
            region: key_of(TrendGroup::Region, &p.key),
            environment: key_of(TrendGroup::Environment, &p.key),
        })
        .collect();
    if !q.csv {
        return Ok(Json(OpenTrendResponse { points }).into_response());
    }
    let key_name = match group {
        TrendGroup::None => None,
        TrendGroup::Account => Some("account_id"),
        other => Some(other.as_str()),
    };
    match key_name {
        None => csv_response(
            ["date", "count"],
            points
                .iter()
                .map(|p| [p.date.to_string(), p.count.to_string()]),
        ),
        Some(name) => csv_response(
            ["date", name, "count"],
            points.iter().map(|p| {
                let key = p
                    .severity
                    .iter()
                    .chain(&p.source)
                    .chain(&p.account_id)
                    .chain(&p.region)
                    .chain(&p.environment)
                    .next()
                    .cloned()
                    .unwrap_or_default();
                [p.date.to_string(), key, p.count.to_string()]
            }),
        ),
    }
}

/// Findings that became open or stopped being open in one period.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowPointResponse {
    /// The period's first day (YYYY-MM-DD): the day itself, the Monday of a week, the 1st of a
    /// month (the first period may start before `from`).
    pub date: NaiveDate,
    /// Findings first seen open in the period (one first seen resolved or suppressed is not
    /// new work).
    pub new: i64,
    /// Open findings resolved in the period.
    pub resolved: i64,
    /// Resolved findings open again in the period.
    pub reopened: i64,
}

/// New, resolved and reopened findings over time.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowTrendResponse {
    /// One point per period, oldest first.
    pub points: Vec<FlowPointResponse>,
}

const FLOW_PARAMS: [&str; 4] = ["interval", "from", "to", "format"];

/// New, resolved and reopened findings per day, week or month, from the daily rollups.
///
/// Days are UTC; a week starts on Monday, a month on the 1st; only the days within the range
/// are summed. `format=csv` answers `text/csv` with the columns `date,new,resolved,reopened`.
#[utoipa::path(
    get,
    path = "/api/v1/trends/flow",
    tag = "trends",
    params(
        ("interval" = Option<String>, Query, description = "day (default), week or month"),
        ("from" = Option<String>, Query, description = "First day, YYYY-MM-DD (default: 89 days before to); at most 3 years before to"),
        ("to" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default: today, UTC)"),
        ("account" = Option<String>, Query, description = "Account ids, comma-separated"),
        ("region" = Option<String>, Query, description = "Region codes, comma-separated"),
        ("source" = Option<String>, Query, description = "Sources, comma-separated"),
        ("environment" = Option<String>, Query, description = "Account environments, comma-separated"),
        ("owner" = Option<String>, Query, description = "Account owners, comma-separated"),
        ("format" = Option<String>, Query, description = "json (default) or csv"),
    ),
    responses(
        (status = 200, description = "The points", content(
            (FlowTrendResponse = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "An invalid parameter", body = super::error::ErrorResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn show_flow_trend(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse(query, &FLOW_PARAMS)?;
    let points = KeptSeries::of(&state)
        .await?
        .flow(q.from, q.to, q.interval, &q.filter)
        .await?;
    if q.csv {
        return csv_response(
            ["date", "new", "resolved", "reopened"],
            points.iter().map(|p| {
                [
                    p.date.to_string(),
                    p.new.to_string(),
                    p.resolved.to_string(),
                    p.reopened.to_string(),
                ]
            }),
        );
    }
    let points = points
        .into_iter()
        .map(|p| FlowPointResponse {
            date: p.date,
            new: p.new,
            resolved: p.resolved,
            reopened: p.reopened,
        })
        .collect();
    Ok(Json(FlowTrendResponse { points }).into_response())
}

/// Time to resolve the findings of one severity.
#[derive(Debug, Serialize, ToSchema)]
pub struct MttrResponse {
    /// The severity at resolution.
    pub severity: String,
    /// Open findings of this severity resolved in the range (a finding resolved twice counts
    /// twice).
    pub resolved: i64,
    /// Mean days from opening (first seen, or reopened) to resolution.
    pub mean_days: f64,
    /// Median days from opening (first seen, or reopened) to resolution.
    pub median_days: f64,
}

/// Time to resolve by severity.
#[derive(Debug, Serialize, ToSchema)]
pub struct MttrListResponse {
    /// One item per severity with resolutions in the range, most severe first.
    pub items: Vec<MttrResponse>,
}

const MTTR_PARAMS: [&str; 3] = ["from", "to", "format"];

/// Mean and median time to resolve, by severity, of the findings resolved between `from` and
/// `to` (UTC days), from the findings' events.
///
/// `format=csv` answers `text/csv` with the columns `severity,resolved,mean_days,median_days`.
#[utoipa::path(
    get,
    path = "/api/v1/trends/mttr",
    tag = "trends",
    params(
        ("from" = Option<String>, Query, description = "First day, YYYY-MM-DD (default: 89 days before to); at most 3 years before to"),
        ("to" = Option<String>, Query, description = "Last day, YYYY-MM-DD (default: today, UTC)"),
        ("account" = Option<String>, Query, description = "Account ids, comma-separated"),
        ("region" = Option<String>, Query, description = "Region codes, comma-separated"),
        ("source" = Option<String>, Query, description = "Sources, comma-separated"),
        ("environment" = Option<String>, Query, description = "Account environments, comma-separated"),
        ("owner" = Option<String>, Query, description = "Account owners, comma-separated"),
        ("format" = Option<String>, Query, description = "json (default) or csv"),
    ),
    responses(
        (status = 200, description = "Time to resolve by severity", content(
            (MttrListResponse = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "An invalid parameter", body = super::error::ErrorResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn show_mttr(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse(query, &MTTR_PARAMS)?;
    let rows = db::trends::mttr(&state.pool, q.from, q.to, &q.filter).await?;
    if q.csv {
        return csv_response(
            ["severity", "resolved", "mean_days", "median_days"],
            rows.iter().map(|m| {
                [
                    m.severity.clone(),
                    m.resolved.to_string(),
                    m.mean_days.to_string(),
                    m.median_days.to_string(),
                ]
            }),
        );
    }
    let items = rows
        .into_iter()
        .map(|m| MttrResponse {
            severity: m.severity,
            resolved: m.resolved,
            mean_days: m.mean_days,
            median_days: m.median_days,
        })
        .collect();
    Ok(Json(MttrListResponse { items }).into_response())
}

/// An open finding past its SLA.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaBreachResponse {
    /// The finding's stable id (as in /api/v1/findings/{id}).
    pub id: Uuid,
    /// Its title.
    pub title: String,
    /// Its account.
    pub account_id: String,
    /// Its region.
    pub region: String,
    /// The service that produced it.
    pub source: String,
    /// Its severity now.
    pub severity: String,
    /// When it was first seen: its age counts from there.
    pub open_since: DateTime<Utc>,
    /// Whole UTC days from open_since's day to today.
    pub age_days: i64,
    /// The SLA of its severity in days (from the `[sla]` config); age_days exceeds it.
    pub sla_days: i64,
}

/// Open findings past their SLA.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaBreachListResponse {
    /// The breaches, most overdue (age minus SLA) first, at most `limit`.
    pub items: Vec<SlaBreachResponse>,
}

const BREACH_PARAMS: [&str; 2] = ["limit", "format"];

/// The open findings older than their severity's SLA (`[sla]` in the config: days per
/// severity, by default critical 7, high 30, medium 90, low 180, informational none), most
/// overdue first.
///
/// A finding exactly at its SLA day is not past it. `format=csv` answers `text/csv` with the
/// columns of an item.
#[utoipa::path(
    get,
    path = "/api/v1/sla/breaches",
    tag = "trends",
    params(
        ("account" = Option<String>, Query, description = "Account ids, comma-separated"),
        ("region" = Option<String>, Query, description = "Region codes, comma-separated"),
        ("source" = Option<String>, Query, description = "Sources, comma-separated"),
        ("environment" = Option<String>, Query, description = "Account environments, comma-separated"),
        ("owner" = Option<String>, Query, description = "Account owners, comma-separated"),
        ("limit" = Option<i64>, Query, description = "At most this many, 1 to 1000 (default 100)"),
        ("format" = Option<String>, Query, description = "json (default) or csv"),
    ),
    responses(
        (status = 200, description = "The breaches", content(
            (SlaBreachListResponse = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "An invalid parameter", body = super::error::ErrorResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn list_sla_breaches(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let q = parse(query, &BREACH_PARAMS)?;
    let rows = db::trends::sla_breaches(&state.pool, &q.filter, &state.site.sla, q.limit).await?;
    if q.csv {
        return csv_response(
            [
                "id",
                "title",
                "account_id",
                "region",
                "source",
                "severity",
                "open_since",
                "age_days",
                "sla_days",
            ],
            rows.iter().map(|b| {
                [
                    b.id.to_string(),
                    b.title.clone(),
                    b.account_id.clone(),
                    b.region.clone(),
                    b.source.clone(),
                    b.severity.clone(),
                    b.open_since
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    b.age_days.to_string(),
                    b.sla_days.to_string(),
                ]
            }),
        );
    }
    let items = rows
        .into_iter()
        .map(|b| SlaBreachResponse {
            id: b.id,
            title: b.title,
            account_id: b.account_id,
            region: b.region,
            source: b.source,
            severity: b.severity,
            open_since: b.open_since,
            age_days: b.age_days,
            sla_days: b.sla_days,
        })
        .collect();
    Ok(Json(SlaBreachListResponse { items }).into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_are_the_last_90_days() {
        let q = parse_trend_query("", &OPEN_PARAMS, day("2026-11-27")).unwrap();
        assert_eq!((q.from, q.to), (day("2026-08-30"), day("2026-11-27")));
        assert_eq!(
            (q.interval, q.group, q.csv),
            (Interval::Day, TrendGroup::None, false)
        );
    }

    #[test]
    fn filters_accept_commas_and_repeats() {
        let q = parse_trend_query(
            "account=111111111111,222222222222&account=333333333333&source=guardduty&environment=prod",
            &OPEN_PARAMS,
            day("2026-11-27"),
        )
        .unwrap();
        assert_eq!(q.filter.accounts.len(), 3);
        assert_eq!(q.filter.sources, ["guardduty"]);
        assert_eq!(q.filter.environments, ["prod"]);
    }

    #[test]
    fn bad_parameters_are_named() {
        let today = day("2026-11-27");
        for (query, name) in [
            ("from=2026-13-01", "from"),
            ("to=yesterday", "to"),
            ("interval=year", "interval"),
            ("group_by=colour", "group_by"),
            ("from=2026-11-28&to=2026-11-27", "from"),
            ("from=2023-11-26&to=2026-11-27", "from"),
            ("account=12", "account"),
            ("source=s3", "source"),
            ("format=xml", "format"),
            ("colour=red", "colour"),
        ] {
            let e = parse_trend_query(query, &OPEN_PARAMS, today).unwrap_err();
            let text = format!("{e:?}");
            assert!(text.contains(&format!("{name}:")), "{query}: {text}");
        }
        // Three years (1096 days, a leap day included) is allowed.
        assert!(parse_trend_query("from=2023-11-28&to=2026-11-27", &OPEN_PARAMS, today).is_ok());
        assert!(parse_trend_query("group_by=severity", &FLOW_PARAMS, today).is_err());
    }
}
