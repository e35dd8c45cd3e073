//! `GET /api/v1/poll-runs`: the poller's cycles and target runs, newest first.

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::ApiError;
use crate::db;
use crate::web::AppState;

/// A cycle (no target) or one target's run within it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PollRunResponse {
    /// The run's id; newer runs have larger ids.
    pub id: i64,
    /// The cycle this run belongs to.
    pub cycle_id: Uuid,
    /// `cycle` for a cycle's own row, `target` for a target's run.
    #[schema(example = "target")]
    pub kind: String,
    /// The target's account (`null` for a cycle).
    pub account_id: Option<String>,
    /// The target's region (`null` for a cycle).
    pub region: Option<String>,
    /// The target's source (`null` for a cycle).
    pub source: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// `null` while running (or when the poller died mid-run).
    pub ended_at: Option<DateTime<Utc>>,
    /// Whether it read every finding (to resolve the ones no longer reported), not only changes.
    pub full_sweep: bool,
    /// Pages of findings read.
    pub pages: i32,
    /// Findings read.
    pub findings_seen: i32,
    /// Findings whose stored row changed (new, or a changed report).
    pub findings_changed: i32,
    /// Findings the source sent that could not be normalised (kept raw).
    pub unparseable: i32,
    /// Times AWS answered "slow down".
    pub throttles: i32,
    /// Requests retried (throttling, timeouts, 5xx).
    pub retries: i32,
    /// Why it failed (access denied, service not enabled, …); `null` when it succeeded.
    pub error: Option<String>,
}

/// A page of runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct PollRunListResponse {
    /// Runs, newest first.
    pub items: Vec<PollRunResponse>,
    /// Pass as `cursor` for older runs; `null` when there are none.
    pub next_cursor: Option<String>,
}

/// The poller's runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/poll-runs",
    tag = "poller",
    params(
        ("cycle_id" = Option<Uuid>, Query, description = "Only this cycle's runs"),
        ("errors_only" = Option<bool>, Query, description = "true: only runs that ended in an error"),
        ("limit" = Option<u32>, Query, description = "Items per page, 1 to 1000 (default 100)"),
        ("cursor" = Option<String>, Query, description = "The previous page's next_cursor"),
    ),
    responses(
        (status = 200, description = "A page of runs", body = PollRunListResponse),
        (status = 400, description = "An invalid parameter", body = super::error::ErrorResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn list_poll_runs(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<PollRunListResponse>, ApiError> {
    let (mut before, mut cycle_id, mut errors_only, mut limit) = (None, None, false, 100_i64);
    for (k, v) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        if v.is_empty() {
            continue;
        }
        match k.as_ref() {
            "cycle_id" => {
                cycle_id = Some(v.parse::<Uuid>().map_err(|_| {
                    ApiError::invalid_parameter(format!("cycle_id: {v:?} is not a UUID"))
                })?);
            }
            "errors_only" => {
                errors_only = match v.as_ref() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(ApiError::invalid_parameter(
                            "errors_only: expected true or false",
                        ));
                    }
                };
            }
            "limit" => {
                limit = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid_parameter("limit: expected a whole number from 1 to 1000")
                    })?;
            }
            "cursor" => {
                before = Some(
                    v.strip_prefix("r")
                        .and_then(|n| n.parse::<i64>().ok())
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            ApiError::invalid_parameter("cursor: not a cursor this server issued: pass next_cursor back unchanged")
                        })?,
                );
            }
            other => {
                return Err(ApiError::invalid_parameter(format!(
                    "{other}: unknown parameter: expected one of cycle_id, errors_only, limit, cursor"
                )));
            }
        }
    }
    let mut rows =
        db::poll::list_runs(&state.pool, before, cycle_id, errors_only, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = rows.last().filter(|_| more).map(|r| format!("r{}", r.id));
    let items = rows
        .into_iter()
        .map(|r| PollRunResponse {
            id: r.id,
            cycle_id: r.cycle_id,
            kind: if r.account_id.is_some() {
                "target"
            } else {
                "cycle"
            }
            .to_owned(),
            account_id: r.account_id,
            region: r.region,
            source: r.source,
            started_at: r.started_at,
            ended_at: r.ended_at,
            full_sweep: r.full_sweep,
            pages: r.pages,
            findings_seen: r.findings_seen,
            findings_changed: r.findings_changed,
            unparseable: r.unparseable,
            throttles: r.throttles,
            retries: r.retries,
            error: r.error,
        })
        .collect();
    Ok(Json(PollRunListResponse { items, next_cursor }))
}
