//! The API against its own OpenAPI document, checked by schemathesis (PyPI; scripts/test
//! installs it and sets SIGHTLINE_SCHEMATHESIS) on a running server holding a polled simulated
//! organisation: no 5xx, and every response conforms to the documented status codes, content
//! types and schemas.

use std::process::Command;
use std::sync::Arc;

use sightline::api::tokens;
use sightline::config::Config;
use sightline::db;
use sightline::poller::Poller;
use sightline::sim::server::spawn;
use sqlx::PgPool;

use crate::support::http_get;

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn the_api_conforms_to_its_openapi_document(pool: PgPool) {
    let Some(st) = std::env::var("SIGHTLINE_SCHEMATHESIS")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!(
            "API contract test skipped: SIGHTLINE_SCHEMATHESIS is not set (scripts/test installs schemathesis)"
        );
        return;
    };
    let sim = spawn(Default::default()).await.unwrap();
    let text = format!(
        "listen = \"127.0.0.1:1\"\n{}",
        http_get(&format!("{}/_sim/config", sim.url)).await.unwrap()
    );
    let config = Arc::new(Config::parse(&text).unwrap());
    db::accounts::sync(&pool, &config.accounts).await.unwrap();
    let poller = Poller::new(pool.clone(), config.clone()).await;
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    poller.run_cycle(stopped).await.unwrap();
    assert!(db::findings::count(&pool).await.unwrap() > 100);

    let token = tokens::generate();
    db::tokens::create(&pool, "contract", &tokens::hash(&token), None)
        .await
        .unwrap();
    let state =
        sightline::web::AppState::new(pool.clone(), sightline::web::Site::from_config(&config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, sightline::web::router(state))
            .await
            .unwrap();
    });

    let schema = format!("{base}/api/v1/openapi.json");
    // schemathesis keeps files in its working directory: give it a throwaway one.
    let workdir = tempfile::tempdir().unwrap();
    let cwd = workdir.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(st)
            .current_dir(cwd)
            .args([
                "run",
                &schema,
                "--url",
                &base,
                "--header",
                &format!("Authorization: Bearer {token}"),
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                "40",
                "--workers",
                "2",
                "--generation-deterministic",
                "--no-color",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    eprintln!(
        "{}",
        stdout.lines().rev().take(6).collect::<Vec<_>>().join("\n")
    );
}
