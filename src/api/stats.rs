//! `GET /api/v1/stats/open?group_by=account,region,source,severity`: open canonical findings,
//! grouped by any subset (any order) of account, region, source, severity, status, environment.

use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use crate::db;
use crate::db::stats::GroupBy;
use crate::web::AppState;

#[derive(Debug, Deserialize)]
pub struct StatsParams {
    group_by: Option<String>,
}

/// One group; only the requested keys are present.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenGroupResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The account, when grouped by account.
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The region, when grouped by region.
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The producing service, when grouped by source.
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The severity, when grouped by severity.
    pub severity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The status (always open here), when grouped by status.
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The account's environment from the configuration, when grouped by environment.
    pub environment: Option<String>,
    /// Open findings in this group.
    pub count: i64,
}

/// Open canonical findings, grouped.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenStatsResponse {
    /// The groups, largest first.
    pub groups: Vec<OpenGroupResponse>,
    /// All open canonical findings.
    pub total: i64,
}

/// Parses `group_by`: comma-separated dimension names, each at most once.
pub fn parse_group_by(raw: Option<&str>) -> Result<GroupBy, ApiError> {
    let mut by = GroupBy::default();
    for key in raw
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        let slot = match key {
            "account" => &mut by.account,
            "region" => &mut by.region,
            "source" => &mut by.source,
            "severity" => &mut by.severity,
            "status" => &mut by.status,
            "environment" => &mut by.environment,
            other => {
                return Err(ApiError::invalid_parameter(format!(
                    "group_by: {other:?} is not a dimension: expected any of account, region, source, severity, status, environment"
                )));
            }
        };
        if *slot {
            return Err(ApiError::invalid_parameter(format!(
                "group_by: {key:?} is listed twice"
            )));
        }
        *slot = true;
    }
    Ok(by)
}

/// Counts open canonical findings, grouped by any subset of the dimensions.
///
/// `group_by` lists any of account, region, source, severity, status, environment, in any
/// order; each group carries only the requested keys. Without `group_by`, one group holds the
/// total.
#[utoipa::path(
    get,
    path = "/api/v1/stats/open",
    tag = "posture",
    params(("group_by" = Option<String>, Query, description = "Comma-separated: account, region, source, severity, status, environment")),
    responses(
        (status = 200, description = "The groups and the total", body = OpenStatsResponse),
        (status = 400, description = "An invalid parameter", body = super::error::ErrorResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn open_stats(
    State(state): State<AppState>,
    Query(params): Query<StatsParams>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let by = parse_group_by(params.group_by.as_deref())?;
    // The body only changes when the counts are refreshed: build it once per refresh.
    let body = state
        .counts
        .get(&state.pool, format!("stats_open:{by:?}"), || async {
            let rows = db::stats::open_counts(&state.pool, by).await?;
            let total = rows.iter().map(|r| r.count).sum();
            let groups = rows
                .into_iter()
                .map(|r| OpenGroupResponse {
                    account_id: r.account_id,
                    region: r.region,
                    source: r.source,
                    severity: r.severity,
                    status: r.status,
                    environment: r.environment,
                    count: r.count,
                })
                .collect();
            serde_json::to_vec(&OpenStatsResponse { groups, total })
                .map(axum::body::Bytes::from)
                .map_err(|e| sqlx::Error::Protocol(format!("cannot encode the stats: {e}")))
        })
        .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        (*body).clone(),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_by_parsing() {
        let by = parse_group_by(Some("severity,account")).unwrap();
        assert!(by.account && by.severity && !by.region);
        assert_eq!(parse_group_by(None).unwrap(), GroupBy::default());
        assert!(parse_group_by(Some("account,account")).is_err());
        assert!(parse_group_by(Some("colour")).is_err());
    }
}
