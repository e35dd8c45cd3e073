//! `[auth] mode = "proxy"`: the pages believe the proxy's user header only on connections from
//! the trusted proxies; the API keeps its bearer tokens; probes need nothing.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use sightline::web::auth::ProxyAuth;
use sightline::web::{AppState, Site};
use sqlx::PgPool;
use tower::ServiceExt;

async fn get(pool: &PgPool, uri: &str, peer: &str, user: Option<&str>) -> (StatusCode, String) {
    let site = Site {
        auth: Some(ProxyAuth {
            user_header: "x-forwarded-email".parse().unwrap(),
            trusted_proxies: vec!["10.0.0.5".parse().unwrap()],
        }),
        ..Default::default()
    };
    let mut request = Request::get(uri);
    if let Some(u) = user {
        request = request.header("X-Forwarded-Email", u);
    }
    let mut request = request.body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    let response = sightline::web::router(AppState::new(pool.clone(), site))
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn pages_need_the_proxy_and_a_user(pool: PgPool) {
    let (status, html) = get(
        &pool,
        "/findings",
        "10.0.0.5:40000",
        Some("ana@example.com"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Signed in as ana@example.com"));
    // Around the proxy: the header is not believed.
    let (status, _) = get(
        &pool,
        "/findings",
        "10.0.0.9:40000",
        Some("ana@example.com"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Through the proxy, but nobody signed in.
    let (status, _) = get(&pool, "/findings", "10.0.0.5:40000", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A forged name is escaped like any other text.
    let (_, html) = get(&pool, "/findings", "10.0.0.5:40000", Some("<b>x</b>")).await;
    assert!(!html.contains("<b>x</b>"));
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn probes_and_the_api_do_not_go_through_the_proxy_check(pool: PgPool) {
    let (status, body) = get(&pool, "/healthz", "192.0.2.1:1", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    let (status, _) = get(&pool, "/metrics", "192.0.2.1:1", None).await;
    assert_eq!(status, StatusCode::OK);
    // The API answers with its own 401 (bearer token), not the proxy's 403.
    let (status, body) = get(&pool, "/api/v1/findings", "192.0.2.1:1", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("\"unauthorized\""), "{body}");
}
