//! `GET /api/v1/findings` (every filter of the findings page, `updated_since`, cursor pages) and
//! `GET /api/v1/findings/{id}` (one finding with its provenances and events; `?include=raw`
//! adds the report exactly as AWS sent it).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::ApiError;
use crate::db;
use crate::db::findings_list::ListedFinding;
use crate::domain::filter::{self, ListRules, Sort};
use crate::web::AppState;

/// The API's list: by id (an order no update changes), 100 items a page, up to 1,000.
pub const API_RULES: ListRules = ListRules {
    default_sort: Sort::Id,
    default_limit: 100,
    max_limit: 1_000,
    extra: &[],
};

/// A canonical finding: one row however many services reported it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingResponse {
    /// Stable id: the UUIDv5 of the finding's canonical key, the same in every Sightline.
    pub id: Uuid,
    /// The 12-digit AWS account the finding is in.
    pub account_id: String,
    /// The account's name from the configuration, if known.
    pub account_name: Option<String>,
    /// The AWS region code.
    pub region: String,
    /// The service that produced the finding (not the one it was read through).
    #[schema(example = "guardduty")]
    pub source: String,
    /// Normalised severity.
    #[schema(example = "high")]
    pub severity: String,
    /// Normalised workflow status.
    #[schema(example = "open")]
    pub status: String,
    /// The finding's title as the source wrote it.
    pub title: String,
    /// The source's finding type (GuardDuty type, Security Hub `Types[0]`, …).
    #[serde(rename = "type")]
    pub finding_type: String,
    /// The affected resource's type (`AwsS3Bucket`, …), when the source names one.
    pub resource_type: Option<String>,
    /// The affected resource's id or ARN, when the source names one.
    pub resource_id: Option<String>,
    /// The Security Hub control (`S3.8`, …), for control findings.
    pub control_id: Option<String>,
    /// Every service that reported this finding (`guardduty`, `securityhub`, …).
    pub reported_by: Vec<String>,
    /// When the source first observed it.
    pub first_seen_at: DateTime<Utc>,
    /// When Sightline last received a changed report of it.
    pub last_seen_at: DateTime<Utc>,
    /// When the source last changed it.
    pub updated_at: DateTime<Utc>,
}

impl From<ListedFinding> for FindingResponse {
    fn from(f: ListedFinding) -> Self {
        Self {
            id: f.id,
            account_id: f.account_id,
            account_name: f.account_name,
            region: f.region,
            source: f.source,
            severity: f.severity,
            status: f.status,
            title: f.title,
            finding_type: f.finding_type,
            resource_type: f.resource_type,
            resource_id: f.resource_id,
            control_id: f.control_id,
            reported_by: f.reported_by,
            first_seen_at: f.first_seen_at,
            last_seen_at: f.last_seen_at,
            updated_at: f.updated_at,
        }
    }
}

/// A page of findings.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingListResponse {
    /// The findings of this page, in the requested order.
    pub items: Vec<FindingResponse>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Lists findings matching every given filter.
///
/// Comma-separated values (or a repeated parameter) match any of them. Walking `next_cursor`
/// in the default order (`sort=id`) returns each finding exactly once even while the poller
/// writes.
#[utoipa::path(
    get,
    path = "/api/v1/findings",
    tag = "findings",
    params(
        ("account" = Option<String>, Query, description = "12-digit account ids, comma-separated"),
        ("region" = Option<String>, Query, description = "Region codes, comma-separated"),
        ("source" = Option<String>, Query, description = "securityhub, guardduty, inspector, macie, accessanalyzer"),
        ("severity" = Option<String>, Query, description = "critical, high, medium, low, informational"),
        ("status" = Option<String>, Query, description = "open, suppressed, resolved"),
        ("resource_type" = Option<String>, Query, description = "Resource types, e.g. AwsS3Bucket"),
        ("environment" = Option<String>, Query, description = "Account environments from the configuration"),
        ("q" = Option<String>, Query, description = "Case-insensitive text in title, resource or type (at most 200 characters)"),
        ("updated_since" = Option<String>, Query, description = "RFC 3339 time or date: only findings the source changed since then"),
        ("sort" = Option<String>, Query, description = "id (default, stable), severity (most severe first), updated (newest first)"),
        ("limit" = Option<u32>, Query, description = "Items per page, 1 to 1000 (default 100)"),
        ("cursor" = Option<String>, Query, description = "The previous page's next_cursor"),
    ),
    responses(
        (status = 200, description = "A page of findings", body = FindingListResponse),
        (status = 400, description = "An invalid parameter", body = super::error::ErrorResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn list_findings(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<FindingListResponse>, ApiError> {
    let request = filter::parse_list_request(query.as_deref().unwrap_or(""), API_RULES)?;
    let page = db::findings_list::list(&state.pool, &request).await?;
    Ok(Json(FindingListResponse {
        items: page.items.into_iter().map(FindingResponse::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// One service's report of a finding.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProvenanceResponse {
    /// The reporting service.
    pub reporter: String,
    /// The finding's id in that service.
    pub native_id: String,
    /// When that service last changed its report.
    pub updated_at: Option<String>,
    /// The finding in the AWS console (for Inspector and Access Analyzer, the service's
    /// findings list in that region).
    pub console_url: String,
}

/// A state change of a finding.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventResponse {
    /// new, severity_changed, suppressed, unsuppressed, resolved or reopened.
    pub kind: String,
    /// When the source made the change.
    pub at: DateTime<Utc>,
    /// The status before (`null` for `new`).
    pub from_status: Option<String>,
    /// The status after.
    pub to_status: String,
    /// The severity before (`null` for `new`).
    pub from_severity: Option<String>,
    /// The severity after.
    pub to_severity: String,
}

/// A finding with its provenances and its events (and the raw report, when asked for).
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingDetailResponse {
    #[serde(flatten)]
    pub finding: FindingResponse,
    /// Every service's report of it, the producing service first.
    pub provenance: Vec<ProvenanceResponse>,
    /// Its state changes, oldest first.
    pub events: Vec<EventResponse>,
    /// The authoritative report exactly as AWS sent it; only with `include=raw`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Value>,
}

/// One finding by id.
#[utoipa::path(
    get,
    path = "/api/v1/findings/{id}",
    tag = "findings",
    params(
        ("id" = Uuid, Path, description = "The finding's id"),
        ("include" = Option<String>, Query, description = "raw: add the report exactly as AWS sent it"),
    ),
    responses(
        (status = 200, description = "The finding", body = FindingDetailResponse),
        (status = 400, description = "An invalid parameter", body = super::error::ErrorResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
        (status = 404, description = "No such finding", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn show_finding(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<FindingDetailResponse>, ApiError> {
    let mut include_raw = false;
    for (k, v) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match (k.as_ref(), v.as_ref()) {
            ("include", "raw") => include_raw = true,
            ("include", "") => {}
            ("include", other) => {
                return Err(ApiError::invalid_parameter(format!(
                    "include: {other:?} is not something to include: expected raw"
                )));
            }
            (other, _) => {
                return Err(ApiError::invalid_parameter(format!(
                    "{other}: unknown parameter: expected include"
                )));
            }
        }
    }
    let missing = || ApiError::not_found(format!("no finding with id {id:?}"));
    let uuid: Uuid = id.parse().map_err(|_| missing())?;
    let (row, listed, events) = tokio::try_join!(
        db::findings::get(&state.pool, uuid),
        db::findings_list::one(&state.pool, uuid),
        db::findings::events(&state.pool, uuid),
    )?;
    let (Some(f), Some(listed)) = (row, listed) else {
        return Err(missing());
    };
    let provenance: Vec<ProvenanceResponse> = f
        .reports()
        .into_iter()
        .map(|r| ProvenanceResponse {
            console_url: f.console_url(&r),
            reporter: r.reporter,
            native_id: r.native_id,
            updated_at: r.updated_at,
        })
        .collect();
    Ok(Json(FindingDetailResponse {
        finding: FindingResponse::from(listed),
        provenance,
        events: events
            .into_iter()
            .map(|e| EventResponse {
                kind: e.kind,
                at: e.at,
                from_status: e.from_status,
                to_status: e.to_status,
                from_severity: e.from_severity,
                to_severity: e.to_severity,
            })
            .collect(),
        raw: include_raw.then_some(f.raw),
    }))
}
