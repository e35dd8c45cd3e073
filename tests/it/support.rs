//! Helpers shared by the integration tests.

use sightline::sim::org::{Access, Estate, Finding, Options, Service, State};

/// A minimal HTTP/1.0 request, enough for health checks and the simulator's private paths
/// without an HTTP client dependency. Returns the status code and the body.
pub async fn http(method: &str, url: &str) -> std::io::Result<(u16, String)> {
    http_with_body(method, url, "").await
}

/// Like `http`, with a request body (sent as JSON: moto's private API needs the type; the
/// simulator reads raw bytes).
pub async fn http_with_body(method: &str, url: &str, body: &str) -> std::io::Result<(u16, String)> {
    http_request(method, url, &[], body).await
}

/// Like `http_with_body`, with extra request headers (`("authorization", "Bearer …")`).
pub async fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream
        .write_all(
            format!(
                "{method} /{path} HTTP/1.0\r\nHost: {host}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_owned()))
}

/// The text of the element carrying `data-count="{name}"`.
pub fn data_count(body: &str, name: &str) -> String {
    let at = body
        .find(&format!(r#"data-count="{name}""#))
        .unwrap_or_else(|| panic!("no data-count={name}"));
    let rest = &body[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = start + rest[start..].find('<').unwrap();
    rest[start..end].to_owned()
}

/// A TCP port free on 127.0.0.1 now, for a server a test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The database `pool` is connected to, as a URL on the server of DATABASE_URL: for the real
/// binary, started by a test on its `#[sqlx::test]` database.
pub async fn url_of(pool: &sqlx::PgPool) -> String {
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(pool)
        .await
        .unwrap();
    let server = std::env::var("DATABASE_URL").unwrap();
    format!("{}/{name}", server.rsplit_once('/').unwrap().0)
}

/// Runs `sightline --config CONFIG poll --once` on `db`, failing the test with its stderr unless
/// it succeeds; returns its stdout (the cycle's summary).
pub async fn poll_once(db: &str, config: &std::path::Path) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sightline"));
    cmd.env("DATABASE_URL", db)
        .env("RUST_LOG", "error")
        .arg("--config")
        .arg(config)
        .args(["poll", "--once"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "poll failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// GET that fails unless the answer is 200; returns the body.
pub async fn http_get(url: &str) -> std::io::Result<String> {
    match http("GET", url).await? {
        (200, body) => Ok(body),
        (status, _) => Err(std::io::Error::other(format!("HTTP {status}"))),
    }
}

/// The organisation the simulator tests simulate unless they need another: eight accounts in
/// two regions.
pub fn sim_options() -> Options {
    Options {
        accounts: 8,
        regions: 2,
        ..Options::default()
    }
}

/// A target's (account id, region code), as an SDK client config names it.
pub fn target_ids(e: &Estate, (account, region): (usize, usize)) -> (String, String) {
    (e.accounts[account].id.clone(), e.regions[region].clone())
}

/// Every (account, region) whose account lets Sightline in, account by account.
pub fn allowed_targets(e: &Estate) -> impl Iterator<Item = (usize, usize)> + '_ {
    (0..e.accounts.len())
        .flat_map(move |a| (0..e.regions.len()).map(move |r| (a, r)))
        .filter(|&(a, _)| e.accounts[a].access == Access::Allowed)
}

/// The allowed targets where `service` is on.
pub fn enabled_targets(e: &Estate, service: Service) -> impl Iterator<Item = (usize, usize)> + '_ {
    allowed_targets(e).filter(move |&(a, r)| e.is_enabled(a, r, service))
}

/// The allowed target where `service` is on with the most findings (the first of equals).
pub fn busiest(e: &Estate, service: Service) -> Option<(usize, usize)> {
    let mut best: Option<((usize, usize), usize)> = None;
    for (a, r) in enabled_targets(e, service) {
        let n = e.target_findings(a, r, service).count();
        if best.is_none_or(|(_, b)| n > b) {
            best = Some(((a, r), n));
        }
    }
    best.map(|(target, _)| target)
}

/// The first allowed target where `service` is off.
pub fn disabled(e: &Estate, service: Service) -> Option<(usize, usize)> {
    allowed_targets(e).find(|&(a, r)| !e.is_enabled(a, r, service))
}

/// The account whose role may be assumed but may call no service.
pub fn services_denied(e: &Estate) -> Option<usize> {
    e.accounts
        .iter()
        .position(|a| a.access == Access::ServicesDenied)
}

/// One target of a service that forgets resolved findings (GuardDuty, Macie), as the estate
/// holds it before any request.
pub struct ServedTarget<'e> {
    pub account_id: String,
    pub region: String,
    /// What the service still serves, oldest first.
    pub served: Vec<&'e Finding>,
    /// What it has forgotten.
    pub resolved: Vec<&'e Finding>,
}

/// Every allowed target where `service` is on, with its findings split into served and resolved.
pub fn served_targets(e: &Estate, service: Service) -> Vec<ServedTarget<'_>> {
    enabled_targets(e, service)
        .map(|(a, r)| {
            let (account_id, region) = target_ids(e, (a, r));
            let (resolved, served) = e
                .target_findings(a, r, service)
                .partition(|f| f.state == State::Resolved);
            ServedTarget {
                account_id,
                region,
                served,
                resolved,
            }
        })
        .collect()
}

/// Sends `request` through the router of a fresh server on `pool` (no cache carried over):
/// the status, the content type and the body.
pub async fn oneshot(
    pool: &sqlx::PgPool,
    request: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, String, String) {
    oneshot_with(pool, Default::default(), request).await
}

/// `oneshot` on a server configured as `site`.
pub async fn oneshot_with(
    pool: &sqlx::PgPool,
    site: sightline::web::Site,
    request: axum::http::Request<axum::body::Body>,
) -> (axum::http::StatusCode, String, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = sightline::web::router(sightline::web::AppState::new(pool.clone(), site))
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

/// `oneshot` of a plain GET.
pub async fn oneshot_get(
    pool: &sqlx::PgPool,
    uri: &str,
) -> (axum::http::StatusCode, String, String) {
    oneshot(
        pool,
        axum::http::Request::get(uri)
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
}
