//! `sightline simulate`: one loopback HTTP server that answers as STS, the five finding
//! services, and CloudTrail, S3 and Organizations (which the observability baseline reads),
//! plus the private `/_sim/*` paths for tests and the demo.
//!
//! Every AWS request is routed by its SigV4 credential scope (`…/<region>/<service>/aws4_request`)
//! and its access key (whose account it is), then through the denied accounts, the rate limits
//! and the fault knobs, before the service module answers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::limits::{self, Limiter};
use super::org::{Access, Estate, Options, Service};
use super::wire::{self, Ctx, SimRequest};
use super::{services, sts, truth};

/// Fault knobs, set through `POST /_sim/faults` (JSON) for tests.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Share of service requests answered with a 500 InternalServerException.
    pub error_rate: f64,
    /// Share of service requests answered with the service's throttling error.
    pub throttle_rate: f64,
    /// Added to every service request.
    pub latency_ms: u64,
    /// Accounts whose service calls are refused (AccessDeniedException), on top of the estate's.
    pub deny_accounts: Vec<String>,
    /// Turns the documented rate limits off (benchmarks of everything but pacing).
    pub no_rate_limits: bool,
}

pub struct SimState {
    pub estate: RwLock<Estate>,
    limiter: Limiter,
    faults: RwLock<Faults>,
    /// Requests per `account/region/service/operation`, for tests that count calls.
    requests: Mutex<HashMap<String, u64>>,
    serial: AtomicU64,
    /// The URL the server is reachable at, written into `/_sim/config`.
    pub url: String,
}

/// A running simulator (for tests and the demo): its URL, and a way to build SDK configs.
pub struct SimHandle {
    pub url: String,
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    task: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    /// An SDK config whose credentials are `account_id`'s (as `AssumeRole` would issue them) and
    /// whose endpoint is the simulator.
    pub fn client_config(&self, account_id: &str, region: &str) -> aws_config::SdkConfig {
        let credentials = aws_credential_types::Credentials::from_keys(
            format!("ASIASIM{account_id}X"),
            "simulated-secret",
            Some("simulated-session".into()),
        );
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_owned()))
            .endpoint_url(&self.url)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
            )
            .build()
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a simulator on a free loopback port in the current runtime.
pub async fn spawn(opts: Options) -> std::io::Result<SimHandle> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let state = Arc::new(SimState::new(Estate::generate(&opts), url.clone()));
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(SimHandle {
        url,
        addr,
        state,
        task,
    })
}

/// `sightline simulate`: serves until Ctrl-C or SIGTERM.
pub async fn serve(listen: SocketAddr, opts: Options) -> anyhow::Result<()> {
    use anyhow::Context;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr().context("no local address")?;
    let url = format!("http://{addr}");
    let estate = Estate::generate(&opts);
    tracing::info!(
        accounts = estate.accounts.len(),
        regions = estate.regions.len(),
        findings = estate.findings.len(),
        seed = opts.seed,
        "simulated AWS organisation at {url} (config: {url}/_sim/config, truth: {url}/_sim/truth)"
    );
    let state = Arc::new(SimState::new(estate, url));
    axum::serve(listener, router(state))
        .with_graceful_shutdown(crate::web::shutdown_signal())
        .await
        .context("the simulator failed")
}

impl SimState {
    pub fn new(estate: Estate, url: String) -> Self {
        Self {
            estate: RwLock::new(estate),
            limiter: Limiter::default(),
            faults: RwLock::new(Faults::default()),
            requests: Mutex::new(HashMap::new()),
            serial: AtomicU64::new(0),
            url,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Estate> {
        self.estate.read().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/_sim/truth", get(show_truth))
        .route("/_sim/config", get(show_config))
        .route("/_sim/advance", post(advance))
        .route("/_sim/faults", get(show_faults).post(set_faults))
        .route("/_sim/requests", get(show_requests))
        .fallback(aws_request)
        .with_state(state)
}

async fn show_truth(State(state): State<Arc<SimState>>) -> Response {
    let truth = truth::compute(&state.read());
    axum::Json(truth).into_response()
}

async fn show_config(State(state): State<Arc<SimState>>) -> Response {
    let text = truth::config_toml(&state.read(), &state.url);
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

#[derive(Deserialize)]
struct AdvanceParams {
    days: u32,
}

async fn advance(
    State(state): State<Arc<SimState>>,
    params: Result<Query<AdvanceParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(AdvanceParams { days })) = params else {
        return (
            StatusCode::BAD_REQUEST,
            "days: expected a whole number of days, e.g. ?days=3\n",
        )
            .into_response();
    };
    if days > 3_650 {
        return (StatusCode::BAD_REQUEST, "days: at most 3650\n").into_response();
    }
    let mut estate = state.estate.write().unwrap_or_else(|e| e.into_inner());
    estate.advance(days);
    axum::Json(
        serde_json::json!({ "now": wire::iso(estate.now), "findings": estate.findings.len() }),
    )
    .into_response()
}

async fn show_faults(State(state): State<Arc<SimState>>) -> Response {
    let faults = state
        .faults
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    axum::Json(faults).into_response()
}

async fn set_faults(State(state): State<Arc<SimState>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(f) => {
            *state.faults.write().unwrap_or_else(|e| e.into_inner()) = f.clone();
            axum::Json(f).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("faults: {e}\n")).into_response(),
    }
}

async fn show_requests(State(state): State<Arc<SimState>>) -> Response {
    let requests = state
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    axum::Json(requests).into_response()
}

/// What the SigV4 `Authorization` header says: access key, region, service.
#[derive(Debug, PartialEq, Eq)]
pub struct Scope {
    pub access_key: String,
    pub region: String,
    pub service: String,
}

/// Parses `AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/guardduty/aws4_request, …`.
/// Signatures are not verified: the simulator trusts its loopback callers.
pub fn parse_scope(authorization: &str) -> Option<Scope> {
    let credential = authorization
        .split("Credential=")
        .nth(1)?
        .split([',', ' '])
        .next()?;
    let mut parts = credential.split('/');
    let access_key = parts.next()?.to_owned();
    let _date = parts.next()?;
    let region = parts.next()?.to_owned();
    let service = parts.next()?.to_owned();
    (parts.next()? == "aws4_request").then_some(Scope {
        access_key,
        region,
        service,
    })
}

/// An operation's name for rate limits and counters: method and path, ids replaced by `*`.
fn operation_key(method: &Method, path: &str) -> String {
    let shape: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if seg.bytes().any(|b| b.is_ascii_digit()) {
                "*"
            } else {
                seg
            }
        })
        .collect();
    format!("{method} {}", shape.join("/"))
}

fn throttling_code(service: Service) -> &'static str {
    match service {
        // What a throttled GetFindings really answers (prowler issue #5004); the SDK retries it.
        Service::SecurityHub | Service::GuardDuty => "TooManyRequestsException",
        _ => "ThrottlingException",
    }
}

/// What the fault knobs and the rate limit make of a request.
enum Gate {
    Open,
    Throttled,
    Failed,
}

/// Counts a request under `counter`, then applies the fault knobs' latency, the rate limit
/// `limit` and the injected throttles and errors.
async fn gate(state: &SimState, counter: String, limit: limits::Limit) -> (Gate, Faults) {
    *state
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(counter.clone())
        .or_default() += 1;
    let faults = state
        .faults
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let roll = (state
        .serial
        .fetch_add(1, Ordering::Relaxed)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        >> 11) as f64
        / (1u64 << 53) as f64;
    let gate = if (!faults.no_rate_limits && !state.limiter.admit(&counter, limit))
        || roll < faults.throttle_rate
    {
        Gate::Throttled
    } else if roll < faults.throttle_rate + faults.error_rate {
        Gate::Failed
    } else {
        Gate::Open
    };
    (gate, faults)
}

/// The services the observability baseline reads. They are no finding sources, so they stay
/// out of [`Service`], which drives the findings' truth and coverage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuditApi {
    CloudTrail,
    S3,
    Organizations,
}

impl AuditApi {
    fn from_signing_name(s: &str) -> Option<AuditApi> {
        match s {
            "cloudtrail" => Some(AuditApi::CloudTrail),
            "s3" => Some(AuditApi::S3),
            "organizations" => Some(AuditApi::Organizations),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            AuditApi::CloudTrail => "cloudtrail",
            AuditApi::S3 => "s3",
            AuditApi::Organizations => "organizations",
        }
    }

    /// An error in this service's own format: awsJson1_1 `__type` for CloudTrail and
    /// Organizations (each with its own message key), S3's XML `<Error>`.
    fn error(self, status: StatusCode, code: &str, message: &str) -> Response {
        match self {
            AuditApi::CloudTrail => wire::json11_error(status, code, "message", message),
            AuditApi::Organizations => wire::json11_error(status, code, "Message", message),
            AuditApi::S3 => services::s3::error(status, code, message, None),
        }
    }

    fn throttled(self) -> Response {
        match self {
            AuditApi::CloudTrail => self.error(
                StatusCode::TOO_MANY_REQUESTS,
                "ThrottlingException",
                "Rate exceeded",
            ),
            AuditApi::Organizations => self.error(
                StatusCode::BAD_REQUEST,
                "TooManyRequestsException",
                "AWS Organizations can't complete your request because another request is already in progress. Try again later.",
            ),
            AuditApi::S3 => self.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "SlowDown",
                "Please reduce your request rate.",
            ),
        }
    }

    fn failed(self) -> Response {
        let code = match self {
            AuditApi::CloudTrail => "InternalFailure",
            AuditApi::Organizations => "ServiceException",
            AuditApi::S3 => "InternalError",
        };
        self.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            code,
            "simulated internal error",
        )
    }
}

/// A CloudTrail, S3 or Organizations request from `caller` in `region`: counted, gated like
/// the finding services', refused for the denied accounts, then answered by its module.
#[allow(clippy::too_many_arguments)] // the request's parts, as axum hands them over
async fn audit_request(
    state: &SimState,
    api: AuditApi,
    caller: String,
    region: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    let op = match api {
        AuditApi::CloudTrail => services::cloudtrail::operation(target),
        AuditApi::Organizations => services::organizations::operation(target),
        AuditApi::S3 => Some(services::s3::operation(&method, uri.path(), &query)),
    };
    let counter = format!(
        "{caller}/{region}/{}/{}",
        api.name(),
        op.unwrap_or("Unknown")
    );
    let (gate, faults) = gate(state, counter, limits::DEFAULT).await;
    match gate {
        Gate::Open => {}
        Gate::Throttled => return api.throttled(),
        Gate::Failed => return api.failed(),
    }
    let estate = state.read();
    let Some(account) = estate.account_index(&caller) else {
        return api.error(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        );
    };
    // CloudTrail is regional: it answers in the organisation's regions. S3 and Organizations
    // are global enough that any region reaches them.
    if api == AuditApi::CloudTrail && estate.region_index(&region).is_none() {
        return api.error(
            StatusCode::BAD_REQUEST,
            "UnrecognizedClientException",
            &format!("region {region} is not simulated"),
        );
    }
    if estate.accounts[account].access != Access::Allowed || faults.deny_accounts.contains(&caller)
    {
        let action = format!("{}:{}", api.name(), op.unwrap_or("Unknown"));
        return match api {
            AuditApi::S3 => api.error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied"),
            _ => api.error(
                StatusCode::BAD_REQUEST,
                "AccessDeniedException",
                &format!(
                    "User: arn:aws:sts::{caller}:assumed-role/SightlineReadOnly/sightline is not authorized to perform: {action} because no identity-based policy allows the {action} action"
                ),
            ),
        };
    }
    match api {
        AuditApi::CloudTrail => services::cloudtrail::handle(&estate, account, &region, op, &body),
        AuditApi::Organizations => services::organizations::handle(&estate, account, op, &body),
        AuditApi::S3 => {
            services::s3::handle(&estate, account, &method, uri.path(), &query, &headers)
        }
    }
}

async fn aws_request(
    State(state): State<Arc<SimState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(scope) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_scope)
    else {
        return wire::rest_error(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        );
    };
    let caller = sts::account_of_key(&state.read(), &scope.access_key);
    if scope.service == "sts" {
        // Counted too: tests check that sessions are reused, not assumed per call.
        let counter = format!("{caller}/{}/sts/POST /", scope.region);
        *state
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(counter)
            .or_default() += 1;
        return sts::handle(&state.read(), &caller, &body);
    }
    if let Some(api) = AuditApi::from_signing_name(&scope.service) {
        return audit_request(
            &state,
            api,
            caller,
            scope.region,
            method,
            uri,
            headers,
            body,
        )
        .await;
    }
    let Some(service) = Service::from_signing_name(&scope.service) else {
        return wire::rest_error(
            StatusCode::BAD_REQUEST,
            "UnknownServiceException",
            &format!("the simulator does not serve {}", scope.service),
        );
    };
    let path = uri.path().to_owned();
    let op = operation_key(&method, &path);
    let counter = format!("{caller}/{}/{}/{op}", scope.region, service.name());
    let limit = if service == Service::SecurityHub && op == "POST /findings" {
        limits::SECURITYHUB_GET_FINDINGS
    } else {
        limits::DEFAULT
    };
    let (gate, faults) = gate(&state, counter, limit).await;
    match gate {
        Gate::Open => {}
        Gate::Throttled => {
            return wire::rest_error(
                StatusCode::TOO_MANY_REQUESTS,
                throttling_code(service),
                "Rate exceeded",
            );
        }
        Gate::Failed => {
            return wire::rest_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerException",
                "simulated internal error",
            );
        }
    }

    let estate = state.read();
    let (Some(account), Some(region)) = (
        estate.account_index(&caller),
        estate.region_index(&scope.region),
    ) else {
        // A region the organisation does not use: every service is off there.
        return wire::rest_error(
            StatusCode::BAD_REQUEST,
            "UnrecognizedClientException",
            &format!("region {} is not simulated", scope.region),
        );
    };
    if estate.accounts[account].access != Access::Allowed || faults.deny_accounts.contains(&caller)
    {
        let message = format!(
            "User: arn:aws:sts::{caller}:assumed-role/SightlineReadOnly/sightline is not authorized to perform this operation"
        );
        return if service == Service::SecurityHub {
            wire::securityhub_error(StatusCode::FORBIDDEN, "AccessDeniedException", &message)
        } else {
            wire::rest_error(StatusCode::FORBIDDEN, "AccessDeniedException", &message)
        };
    }
    let ctx = Ctx {
        account,
        account_id: caller,
        region,
        region_code: scope.region,
        service,
    };
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let request = SimRequest {
        method,
        path,
        query,
        body,
    };
    match services::handler(service) {
        Some(handle) => handle(&estate, &ctx, &request),
        None => wire::rest_error(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            &format!("{} is not simulated yet", service.name()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigv4_scope() {
        let h = "AWS4-HMAC-SHA256 Credential=ASIASIM111111111111X/20261127/eu-west-1/guardduty/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(
            parse_scope(h),
            Some(Scope {
                access_key: "ASIASIM111111111111X".into(),
                region: "eu-west-1".into(),
                service: "guardduty".into()
            })
        );
        assert_eq!(parse_scope("Bearer x"), None);
    }

    #[test]
    fn operations_are_named_without_ids() {
        assert_eq!(
            operation_key(&Method::POST, "/detector/12abc34d/findings/get"),
            "POST /detector/*/findings/get"
        );
        assert_eq!(operation_key(&Method::POST, "/findings"), "POST /findings");
    }
}
