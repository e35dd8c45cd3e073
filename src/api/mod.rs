//! The versioned JSON API (`/api/v1`): bearer tokens, errors as `{"error": {"code", "message"}}`,
//! lists as `{"items", "next_cursor"}`, and its OpenAPI document.

pub mod accounts;
pub mod baseline;
pub mod coverage;
pub mod error;
pub mod findings;
pub mod openapi;
pub mod poll_runs;
pub mod stats;
pub mod tokens;
pub mod trends;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

use self::error::ApiError;
use crate::db;
use crate::web::AppState;

/// Every `/api/v1` route, behind the bearer-token check; the API's description is public.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/findings", get(findings::list_findings))
        .route("/api/v1/findings/{id}", get(findings::show_finding))
        .route("/api/v1/accounts", get(accounts::list_accounts))
        .route("/api/v1/accounts/{id}", get(accounts::show_account))
        .route("/api/v1/regions", get(accounts::list_regions))
        .route("/api/v1/stats/open", get(stats::open_stats))
        .route("/api/v1/coverage", get(coverage::list_coverage))
        .route("/api/v1/baseline", get(baseline::show_baseline))
        .route("/api/v1/poll-runs", get(poll_runs::list_poll_runs))
        .route("/api/v1/trends/open", get(trends::show_open_trend))
        .route("/api/v1/trends/flow", get(trends::show_flow_trend))
        .route("/api/v1/trends/mttr", get(trends::show_mttr))
        .route("/api/v1/sla/breaches", get(trends::list_sla_breaches))
        .route("/api/v1/{*rest}", get(unknown_endpoint))
        .route_layer(middleware::from_fn_with_state(state, require_token))
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route("/api/docs", get(openapi::show_api_docs))
}

async fn unknown_endpoint() -> ApiError {
    ApiError::not_found("no such endpoint: see /api/v1/openapi.json")
}

/// Answers 401 unless the request carries a valid, unrevoked, unexpired token.
async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing bearer token: send Authorization: Bearer <token> (sightline token create)",
            )
        })?;
    match db::tokens::authenticate(&state.primary, &tokens::hash(presented)).await? {
        Ok(_name) => Ok(next.run(request).await),
        Err(db::tokens::Rejection::Unknown) => Err(ApiError::unauthorized("unknown token")),
        Err(db::tokens::Rejection::Revoked) => {
            Err(ApiError::unauthorized("this token has been revoked"))
        }
        Err(db::tokens::Rejection::Expired) => {
            Err(ApiError::unauthorized("this token has expired"))
        }
    }
}
