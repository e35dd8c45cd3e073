//! `GET /api/v1/coverage`: whether each service is on in each account and region, as last read.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use crate::db;
use crate::web::AppState;

/// One (account, region, source).
#[derive(Debug, Serialize, ToSchema)]
pub struct CoverageResponse {
    /// The 12-digit AWS account.
    pub account_id: String,
    /// The AWS region code.
    pub region: String,
    /// securityhub, guardduty, inspector, macie or accessanalyzer.
    pub source: String,
    /// enabled, not_enabled, access_denied, error or unknown.
    #[schema(example = "enabled")]
    pub state: String,
    /// Why, when not enabled (the service's or AWS's own words).
    pub message: String,
    /// When the poller last read this state.
    pub checked_at: DateTime<Utc>,
}

/// Every coverage cell.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoverageListResponse {
    /// Every cell, by account, region and source.
    pub items: Vec<CoverageResponse>,
}

/// Coverage of every account × region × source the poller has read.
#[utoipa::path(
    get,
    path = "/api/v1/coverage",
    tag = "posture",
    responses(
        (status = 200, description = "Every coverage cell", body = CoverageListResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn list_coverage(
    State(state): State<AppState>,
) -> Result<Json<CoverageListResponse>, ApiError> {
    let items = db::coverage::list(&state.pool)
        .await?
        .into_iter()
        .map(|c| CoverageResponse {
            account_id: c.account_id,
            region: c.region,
            source: c.source,
            state: c.state,
            message: c.message,
            checked_at: c.checked_at,
        })
        .collect();
    Ok(Json(CoverageListResponse { items }))
}
