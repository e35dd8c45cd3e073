//! `[auth] mode = "proxy"`: a reverse proxy signs users in and names them in a header. The
//! header is believed only on connections from the configured proxies; the pages answer 403 to
//! anyone else and 401 when the proxy named nobody. The API has its own bearer tokens, and the
//! health and metrics endpoints stay open to probes and scrapers.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{AppState, Viewer};

/// The proxy's header and the addresses it connects from.
#[derive(Debug, Clone)]
pub struct ProxyAuth {
    pub user_header: HeaderName,
    pub trusted_proxies: Vec<IpAddr>,
}

/// Paths that do not go through the proxy check.
fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
        || path.starts_with("/api/v1/")
        || path.starts_with("/static/")
}

pub async fn require_proxy_user(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(auth) = &state.site.auth else {
        return next.run(request).await;
    };
    if exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let trusted = peer.is_some_and(|ip| {
        auth.trusted_proxies
            .iter()
            .any(|t| *t == ip || ip.to_canonical() == *t)
    });
    if !trusted {
        tracing::warn!(
            ?peer,
            "refused a request that did not come through the proxy"
        );
        return (
            StatusCode::FORBIDDEN,
            "Sightline is served through its signing-in proxy; connect through it.\n",
        )
            .into_response();
    }
    let user = request
        .headers()
        .get(&auth.user_header)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|u| !u.is_empty() && u.len() <= 320)
        .map(str::to_owned);
    let Some(user) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            format!(
                "The proxy did not name a signed-in user (header {}).\n",
                auth.user_header
            ),
        )
            .into_response();
    };
    request.extensions_mut().insert(Viewer(Some(user)));
    next.run(request).await
}
