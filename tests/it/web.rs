//! Handlers through `Router::oneshot`: what the pages show for data in the database.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::Utc;
use http_body_util::BodyExt;
use sightline::db::findings;
use sightline::sim::samples;
use sqlx::PgPool;
use tower::ServiceExt;

async fn get(pool: &PgPool, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let response = sightline::web::router(sightline::web::AppState::new(
        pool.clone(),
        Default::default(),
    ))
    .oneshot(Request::get(uri).body(Body::empty()).unwrap())
    .await
    .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn overview_counts_stored_findings_and_sends_security_headers(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    findings::upsert_batch(&mut conn, &samples::control_findings(0, 37, Utc::now()))
        .await
        .unwrap();
    drop(conn);
    sightline::db::counts::refresh(&pool).await.unwrap();
    let (status, headers, body) = get(&pool, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains(r#"<a data-count="open-total" href="/findings?status=open">37</a>"#),
        "{body}"
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'self'")
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn health_and_readiness(pool: PgPool) {
    assert_eq!(get(&pool, "/healthz").await.2, "ok\n");
    assert_eq!(get(&pool, "/readyz").await.2, "ready\n");
    let (status, _, _) = get(&pool, "/no-such-page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
