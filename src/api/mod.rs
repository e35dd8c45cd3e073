//! The versioned JSON API (`/api/v1`): bearer tokens, errors as `{"error": {"code", "message"}}`.
//! So far: `/api/v1/stats/open`. The rest of the API (findings, accounts, coverage, OpenAPI)
//! is not built yet.

pub mod error;
pub mod stats;
pub mod tokens;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;

use self::error::ApiError;
use crate::db;
use crate::web::AppState;

/// Every `/api/v1` route, behind the bearer-token check.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/stats/open", get(stats::open_stats))
        .route_layer(middleware::from_fn_with_state(state, require_token))
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
    match db::tokens::authenticate(&state.pool, &tokens::hash(presented)).await? {
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
