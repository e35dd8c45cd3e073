//! The web server: HTML pages (askama), static assets, health endpoints, security headers.
//! Every route is listed in `router`; each page's handler and page struct live in the file
//! named after the page.

pub mod accounts;
pub mod auth;
pub mod baseline;
pub mod cache;
pub mod charts;
pub mod coverage;
pub mod error;
pub mod findings;
pub mod format;
pub mod metrics;
pub mod overview;
pub mod regions;
pub mod reports;
pub mod series;
pub mod status;
pub mod trends;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sqlx::PgPool;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use self::error::PageError;
use crate::db;
use crate::domain::Region;

/// What every handler can reach: the database and the facts of the deployment the pages show.
#[derive(Clone)]
pub struct AppState {
    /// Where pages and the API read: a replica when `DATABASE_READ_URL` is set, else the primary.
    pub pool: PgPool,
    /// The primary: writes, and reads that must see them (API tokens).
    pub primary: PgPool,
    pub site: Arc<Site>,
    /// Aggregates computed once per refresh of the counts.
    pub counts: Arc<cache::CountsCache>,
}

impl AppState {
    /// Reads and writes on `pool`.
    pub fn new(pool: PgPool, site: Site) -> Self {
        Self {
            primary: pool.clone(),
            pool,
            site: Arc::new(site),
            counts: Arc::default(),
        }
    }

    /// Pages and the API read from `reads` (a replica); writes stay on the primary.
    pub fn with_reads(mut self, reads: PgPool) -> Self {
        self.pool = reads;
        self
    }
}

/// The deployment's settings that pages need (from the config file).
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// The regions watched.
    pub regions: Vec<Region>,
    /// The regions where workloads are allowed; activity anywhere else is called out.
    pub approved_regions: Vec<Region>,
    /// `[auth] mode = "proxy"`; `None` serves loopback only, to whoever can connect.
    pub auth: Option<auth::ProxyAuth>,
    /// Days a finding of each severity may stay open (`[sla]`).
    pub sla: crate::config::SlaConfig,
    /// Delegated-administrator mode: the account every finding is read through.
    pub delegated_admin: Option<crate::domain::AccountId>,
}

impl Site {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            regions: config.aws.regions.clone(),
            approved_regions: config.aws.approved_regions.clone(),
            auth: config.auth.as_ref().map(|a| auth::ProxyAuth {
                // Checked when the config was loaded; never fall back to no checking.
                user_header: axum::http::HeaderName::from_bytes(a.user_header.as_bytes())
                    .unwrap_or(axum::http::HeaderName::from_static("x-forwarded-email")),
                trusted_proxies: a.trusted_proxies.clone(),
            }),
            sla: config.sla.clone(),
            delegated_admin: config.aws.delegated_admin_account_id.clone(),
        }
    }

    /// Whether workloads may run in `region`.
    pub fn is_approved(&self, region: &str) -> bool {
        self.approved_regions.iter().any(|r| r.as_str() == region)
    }
}

/// The signed-in user, when a trusted proxy names one (see `[auth]`).
#[derive(Debug, Clone, Default)]
pub struct Viewer(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Viewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Viewer>()
            .cloned()
            .unwrap_or_default())
    }
}

/// What the layout around every page needs: the active tab and who is signed in.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub active: &'static str,
    pub user: Option<String>,
    pub version: &'static str,
}

impl Chrome {
    pub fn new(active: &'static str) -> Self {
        Self {
            active,
            user: None,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    pub fn for_viewer(active: &'static str, viewer: Viewer) -> Self {
        Self {
            user: viewer.0,
            ..Self::new(active)
        }
    }
}

/// Renders a page template as a 200 HTML response.
pub fn render(page: &impl askama::Template) -> Result<Response, PageError> {
    Ok(Html(page.render()?).into_response())
}

/// Every route, in one place.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(overview::show_overview))
        .route("/accounts", get(accounts::list_accounts))
        .route("/accounts/{id}", get(accounts::show_account))
        .route("/regions", get(regions::list_regions))
        .route("/regions/{code}", get(regions::show_region))
        .route("/findings", get(findings::list_findings))
        .route("/findings.csv", get(findings::export_csv))
        .route("/findings.json", get(findings::export_json))
        .route("/findings/{id}", get(findings::show_finding))
        .route("/coverage", get(coverage::show_coverage))
        .route("/status", get(status::show_status))
        .route("/trends", get(trends::show_trends))
        .route("/trends/open.csv", get(trends::open_csv))
        .route("/trends/flow.csv", get(trends::flow_csv))
        .route("/trends/sla.csv", get(trends::sla_csv))
        .route("/trends/mttr.csv", get(trends::mttr_csv))
        .route("/reports/monthly", get(reports::show_monthly_report))
        .route("/baseline", get(baseline::show_baseline))
        .route("/static/sightline.css", get(stylesheet))
        .route("/static/favicon.svg", get(favicon))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::show_metrics))
        .merge(crate::api::router(state.clone()))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_proxy_user,
        ))
        .with_state(state)
        .layer(TraceLayer::new_for_http())
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

async fn not_found() -> PageError {
    PageError::NotFound("There is no page at this address.".into())
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/sightline.css"),
    )
        .into_response()
}

async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../static/favicon.svg"),
    )
        .into_response()
}

/// Binds `listen` and serves until Ctrl-C or SIGTERM.
pub async fn serve(listen: SocketAddr, state: AppState) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr().context("no local address")?;
    tracing::info!(%addr, "serving on http://{addr}");
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("the web server failed")
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    let primary = sqlx::query("SELECT 1")
        .execute(&state.primary)
        .await
        .map(|_| ());
    match primary.and(db::findings::count(&state.pool).await.map(|_| ())) {
        Ok(()) => "ready\n".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}
