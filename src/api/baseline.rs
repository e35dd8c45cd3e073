//! `GET /api/v1/baseline`: every account's result for each of the ten audit-trail checks.

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use crate::baseline::{Check, Outcome};
use crate::db;
use crate::domain::AccountId;
use crate::web::AppState;

/// One account's result for one check.
#[derive(Debug, Serialize, ToSchema)]
pub struct BaselineCheckResponse {
    /// The 12-digit AWS account.
    pub account_id: String,
    /// The account's name in the config.
    pub account_name: String,
    /// One of cloudtrail_multi_region, log_file_validation, trail_kms_encryption,
    /// log_archive_separate_account, log_bucket_lifecycle, data_events_s3_lambda,
    /// scp_protects_cloudtrail, cloudwatch_integration, services_all_regions,
    /// no_unapproved_region_activity.
    #[schema(example = "cloudtrail_multi_region")]
    pub check: String,
    /// pass, fail, or unknown (Sightline could not read what the check needs; the evidence says why).
    pub result: Outcome,
    /// What the result rests on: the trail ARN, the selector, the policy id, the bucket owner, or
    /// why it could not be read.
    pub evidence: String,
    /// False where the check is advisory for this account: data events outside the configured
    /// production environments.
    pub required: bool,
    /// When Sightline read it.
    pub read_at: DateTime<Utc>,
    /// Since when the check has had this result.
    pub changed_at: DateTime<Utc>,
}

/// Every result.
#[derive(Debug, Serialize, ToSchema)]
pub struct BaselineResponse {
    /// By account name, then check, in the order of the checks' numbering.
    pub checks: Vec<BaselineCheckResponse>,
}

/// The audit-trail baseline of every account, as last read at the end of a poll cycle.
#[utoipa::path(
    get,
    path = "/api/v1/baseline",
    tag = "baseline",
    params(
        ("account" = Option<String>, Query, description = "Only this account (12-digit id)"),
        ("check" = Option<String>, Query, description = "Only this check (its name)"),
        ("result" = Option<String>, Query, description = "Only this result: pass, fail or unknown"),
    ),
    responses(
        (status = 200, description = "The results", body = BaselineResponse),
        (status = 400, description = "An invalid parameter", body = super::error::ErrorResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
        (status = 404, description = "No such account", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn show_baseline(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<BaselineResponse>, ApiError> {
    let (mut account, mut check, mut result) = (None, None, None);
    for (k, v) in url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        if v.is_empty() {
            continue;
        }
        match k.as_ref() {
            "account" => {
                let id = v.parse::<AccountId>().map_err(|_| {
                    ApiError::invalid_parameter(format!(
                        "account: {v:?} is not a 12-digit AWS account id"
                    ))
                })?;
                account = Some(id.to_string());
            }
            "check" => {
                check = Some(Check::parse(&v).ok_or_else(|| {
                    let names: Vec<&str> = Check::ALL.iter().map(|c| c.name()).collect();
                    ApiError::invalid_parameter(format!(
                        "check: {v:?} is not a check: expected one of {}",
                        names.join(", ")
                    ))
                })?);
            }
            "result" => {
                result = Some(Outcome::parse(&v).ok_or_else(|| {
                    ApiError::invalid_parameter(format!(
                        "result: {v:?}: expected pass, fail or unknown"
                    ))
                })?);
            }
            other => {
                return Err(ApiError::invalid_parameter(format!(
                    "{other}: unknown parameter: expected account, check or result"
                )));
            }
        }
    }
    if let Some(id) = &account
        && db::accounts::name(&state.pool, id).await?.is_none()
    {
        return Err(ApiError::not_found(format!("no account {id} is watched")));
    }
    let checks = db::baseline::list(&state.pool, account.as_deref())
        .await?
        .into_iter()
        .filter_map(|r| {
            let outcome = Outcome::parse(&r.result)?;
            let keep = check.is_none_or(|c| c.name() == r.check_name)
                && result.is_none_or(|o| o == outcome);
            keep.then_some(BaselineCheckResponse {
                account_id: r.account_id,
                account_name: r.account_name,
                check: r.check_name,
                result: outcome,
                evidence: r.evidence,
                required: r.required,
                read_at: r.read_at,
                changed_at: r.changed_at,
            })
        })
        .collect();
    Ok(Json(BaselineResponse { checks }))
}
