//! `/api/v1` through `Router::oneshot`: every endpoint, every token case, the error shape, and
//! cursor walks, on fixture data in a fresh database.

use std::collections::HashSet;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use serde_json::Value;
use sightline::api::tokens;
use sightline::db;
use sqlx::PgPool;
use tower::ServiceExt;

async fn call(pool: &PgPool, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::get(uri);
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let response = sightline::web::router(sightline::web::AppState::new(
        pool.clone(),
        Default::default(),
    ))
    .oneshot(request.body(Body::empty()).unwrap())
    .await
    .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("{uri}: not JSON: {}", String::from_utf8_lossy(&body)));
    (status, value)
}

async fn token(pool: &PgPool, name: &str, expires_in: Option<Duration>) -> String {
    let t = tokens::generate();
    assert!(
        db::tokens::create(
            pool,
            name,
            &tokens::hash(&t),
            expires_in.map(|d| Utc::now() + d)
        )
        .await
        .unwrap()
    );
    t
}

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.is_empty());
    assert!(
        !message.to_lowercase().contains("select "),
        "SQL in a message: {message}"
    );
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn every_token_case(pool: PgPool) {
    let valid = token(&pool, "valid", Some(Duration::days(90))).await;
    let revoked = token(&pool, "revoked", None).await;
    assert!(db::tokens::revoke(&pool, "revoked").await.unwrap());
    let expired = token(&pool, "expired", Some(Duration::seconds(-1))).await;
    for uri in [
        "/api/v1/findings",
        "/api/v1/coverage",
        "/api/v1/poll-runs",
        "/api/v1/stats/open",
        "/api/v1/findings/00000000-0000-0000-0000-000000000000",
    ] {
        let (s, b) = call(&pool, uri, None).await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized");
        let (s, b) = call(&pool, uri, Some("not-a-token")).await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized");
        let (s, b) = call(&pool, uri, Some(&revoked)).await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized");
        assert!(b["error"]["message"].as_str().unwrap().contains("revoked"));
        let (s, b) = call(&pool, uri, Some(&expired)).await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized");
        assert!(b["error"]["message"].as_str().unwrap().contains("expired"));
    }
    let (s, _) = call(&pool, "/api/v1/findings", Some(&valid)).await;
    assert_eq!(s, StatusCode::OK);
    let used = db::tokens::list(&pool).await.unwrap();
    assert!(
        used.iter()
            .find(|t| t.name == "valid")
            .unwrap()
            .last_used_at
            .is_some()
    );
    // The description of the API is public.
    let (s, doc) = call(&pool, "/api/v1/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn findings_list_filters_and_walks_every_finding_once(pool: PgPool) {
    super::findings::seed(&pool).await;
    let t = token(&pool, "t", None).await;
    let (s, b) = call(
        &pool,
        "/api/v1/findings?status=open&severity=high",
        Some(&t),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["items"].as_array().unwrap().len(), 38);
    assert!(b["next_cursor"].is_null());
    let item = &b["items"][0];
    for key in [
        "id",
        "account_id",
        "region",
        "source",
        "severity",
        "status",
        "title",
        "type",
        "first_seen_at",
        "updated_at",
        "reported_by",
    ] {
        assert!(item.get(key).is_some(), "item lacks {key}: {item}");
    }
    assert_eq!(item["severity"], "high");

    let mut seen = HashSet::new();
    let mut uri = "/api/v1/findings?limit=25".to_owned();
    let mut pages = 0;
    loop {
        let (s, b) = call(&pool, &uri, Some(&t)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        pages += 1;
        for i in b["items"].as_array().unwrap() {
            assert!(seen.insert(i["id"].as_str().unwrap().to_owned()));
        }
        match b["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/findings?limit=25&cursor={c}"),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (240, 10));

    let (s, b) = call(
        &pool,
        "/api/v1/findings?updated_since=2000-01-01T00:00:00Z&limit=1000",
        Some(&t),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["items"].as_array().unwrap().len(), 240);
    let (s, b) = call(&pool, "/api/v1/findings?updated_since=2999-01-01", Some(&t)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["items"].as_array().unwrap().len(), 0);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn bad_parameters_answer_400_with_the_parameter_named(pool: PgPool) {
    let t = token(&pool, "t", None).await;
    for (uri, param) in [
        (
            "/api/v1/findings?severity=bogus",
            "severity: expected one of critical, high, medium, low, informational",
        ),
        ("/api/v1/findings?limit=1001", "limit:"),
        ("/api/v1/findings?cursor=abc", "cursor:"),
        (
            "/api/v1/findings?cursor=76317c73657665726974797c686967687c317c78",
            "cursor:",
        ),
        ("/api/v1/findings?updated_since=last-week", "updated_since:"),
        ("/api/v1/findings?colour=red", "colour:"),
        (
            "/api/v1/findings/00000000-0000-0000-0000-000000000000?include=everything",
            "include:",
        ),
        ("/api/v1/stats/open?group_by=colour", "group_by:"),
        ("/api/v1/poll-runs?limit=0", "limit:"),
        ("/api/v1/poll-runs?cursor=x", "cursor:"),
    ] {
        let (s, b) = call(&pool, uri, Some(&t)).await;
        assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_parameter");
        assert!(
            b["error"]["message"].as_str().unwrap().starts_with(param),
            "{uri}: {b}"
        );
    }
    let (s, b) = call(&pool, "/api/v1/findings/not-an-id", Some(&t)).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = call(&pool, "/api/v1/no-such-endpoint", Some(&t)).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn one_finding_with_provenance_events_and_raw_on_request(pool: PgPool) {
    let batch = super::findings::seed(&pool).await;
    let t = token(&pool, "t", None).await;
    let id = batch[3].key.finding_id();
    let (s, b) = call(&pool, &format!("/api/v1/findings/{id}"), Some(&t)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["id"], id.to_string());
    assert_eq!(b["severity"], "high");
    assert_eq!(b["provenance"][0]["reporter"], "securityhub");
    assert_eq!(b["provenance"][0]["native_id"], batch[3].native_id);
    assert_eq!(b["events"][0]["kind"], "new");
    assert!(b.get("raw").is_none());
    let (_, b) = call(
        &pool,
        &format!("/api/v1/findings/{id}?include=raw"),
        Some(&t),
    )
    .await;
    assert_eq!(b["raw"]["Id"], batch[3].native_id);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn coverage_and_poll_runs(pool: PgPool) {
    let t = token(&pool, "t", None).await;
    db::coverage::record(
        &pool,
        "111111111111",
        "eu-west-1",
        "macie",
        "not_enabled",
        "Macie is not enabled",
    )
    .await
    .unwrap();
    db::coverage::record(
        &pool,
        "111111111111",
        "eu-west-1",
        "guardduty",
        "enabled",
        "",
    )
    .await
    .unwrap();
    let (s, b) = call(&pool, "/api/v1/coverage", Some(&t)).await;
    assert_eq!(s, StatusCode::OK);
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["source"], "macie");
    assert_eq!(items[1]["state"], "not_enabled");
    assert_eq!(items[1]["message"], "Macie is not enabled");

    let cycle = uuid::Uuid::new_v4();
    let run = db::poll::start_run(&pool, cycle, None, false)
        .await
        .unwrap();
    db::poll::finish_run(&pool, run, &Default::default(), None)
        .await
        .unwrap();
    for i in 0..3 {
        let target = db::poll::Target {
            account_id: "111111111111".into(),
            region: "eu-west-1".into(),
            source: if i == 0 { "macie" } else { "guardduty" }.into(),
            watermark: None,
            last_full_sweep_at: None,
        };
        let id = db::poll::start_run(&pool, cycle, Some(&target), false)
            .await
            .unwrap();
        let stats = db::poll::RunStats {
            pages: 2,
            seen: 10 * i,
            throttles: i,
            ..Default::default()
        };
        db::poll::finish_run(&pool, id, &stats, (i == 0).then_some("not enabled"))
            .await
            .unwrap();
    }
    let (s, b) = call(&pool, "/api/v1/poll-runs?limit=2", Some(&t)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["items"].as_array().unwrap().len(), 2);
    assert_eq!(b["items"][0]["findings_seen"], 20);
    let cursor = b["next_cursor"].as_str().unwrap().to_owned();
    let (_, b) = call(
        &pool,
        &format!("/api/v1/poll-runs?limit=2&cursor={cursor}"),
        Some(&t),
    )
    .await;
    let kinds: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["target", "cycle"]);
    assert!(b["next_cursor"].is_null());
    let (_, b) = call(&pool, "/api/v1/poll-runs?errors_only=true", Some(&t)).await;
    assert_eq!(b["items"].as_array().unwrap().len(), 1);
    assert_eq!(b["items"][0]["error"], "not enabled");
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn the_openapi_document_describes_every_endpoint_and_field(pool: PgPool) {
    let (_, doc) = call(&pool, "/api/v1/openapi.json", None).await;
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/findings",
        "/api/v1/findings/{id}",
        "/api/v1/stats/open",
        "/api/v1/coverage",
        "/api/v1/poll-runs",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut undescribed = Vec::new();
    for (name, schema) in schemas {
        for (field, prop) in schema["properties"].as_object().into_iter().flatten() {
            if prop.get("description").is_none() && !prop.to_string().contains("$ref") {
                undescribed.push(format!("{name}.{field}"));
            }
        }
    }
    assert!(
        undescribed.is_empty(),
        "fields without a description: {undescribed:?}"
    );
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn a_cursor_walk_sees_each_finding_once_while_the_poller_writes(pool: PgPool) {
    let mut batch = sightline::sim::samples::control_findings(0, 10_000, Utc::now());
    let mut conn = pool.acquire().await.unwrap();
    for chunk in batch.chunks(1_000) {
        db::findings::upsert_batch(&mut conn, chunk).await.unwrap();
    }
    drop(conn);
    let t = token(&pool, "t", None).await;
    // A writer changes severity, status and update time of existing findings and adds new
    // ones, as a poll does, for as long as the walk runs.
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let writer_pool = pool.clone();
    let writer = tokio::spawn(async move {
        let mut round = 0_usize;
        let mut conn = writer_pool.acquire().await.unwrap();
        while !*stopped.borrow_and_update() {
            round += 1;
            let now = Utc::now() + Duration::seconds(round as i64);
            let mut changed = Vec::new();
            for (i, f) in batch
                .iter_mut()
                .enumerate()
                .skip(round % 7)
                .step_by(7)
                .take(500)
            {
                f.updated_at = now;
                f.severity = sightline::domain::Severity::ALL[(i + round) % 5];
                f.status = if round.is_multiple_of(2) {
                    sightline::domain::Status::Resolved
                } else {
                    sightline::domain::Status::Open
                };
                f.raw["UpdatedAt"] = now.to_rfc3339().into();
                changed.push(f.clone());
            }
            db::findings::upsert_batch(&mut conn, &changed)
                .await
                .unwrap();
            let new = sightline::sim::samples::control_findings(10_000 + round * 50, 50, now);
            db::findings::upsert_batch(&mut conn, &new).await.unwrap();
        }
        round
    });
    let mut seen = HashSet::new();
    let mut uri = "/api/v1/findings?limit=100".to_owned();
    loop {
        let (s, b) = call(&pool, &uri, Some(&t)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        for i in b["items"].as_array().unwrap() {
            assert!(
                seen.insert(i["id"].as_str().unwrap().to_owned()),
                "{} returned twice",
                i["id"]
            );
        }
        match b["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/findings?limit=100&cursor={c}"),
            None => break,
        }
    }
    stop.send(true).unwrap();
    let rounds = writer.await.unwrap();
    assert!(
        rounds >= 2,
        "the writer ran {rounds} rounds during the walk"
    );
    let originals = sightline::sim::samples::control_findings(0, 10_000, Utc::now());
    let missing = originals
        .iter()
        .filter(|f| !seen.contains(&f.key.finding_id().to_string()))
        .count();
    assert_eq!(
        missing, 0,
        "every one of the 10,000 findings present throughout was returned"
    );
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn accounts_and_regions_show_the_open_counts(pool: PgPool) {
    super::findings::seed(&pool).await;
    let accounts: Vec<sightline::config::AccountConfig> = (0..20)
        .map(|i| sightline::config::AccountConfig {
            id: format!("{:012}", 100_000_000_000_u64 + i).parse().unwrap(),
            name: format!("acct-{i:02}"),
            environment: if i < 5 { "prod" } else { "dev" }.into(),
            owner: "team".into(),
            role_arn: None,
        })
        .collect();
    db::accounts::sync(&pool, &accounts).await.unwrap();
    db::coverage::record(
        &pool,
        "100000000003",
        "ap-southeast-2",
        "macie",
        "not_enabled",
        "off",
    )
    .await
    .unwrap();
    let t = token(&pool, "t", None).await;

    let (s, b) = call(&pool, "/api/v1/accounts", Some(&t)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    let total: i64 = items
        .iter()
        .map(|a| a["open"]["total"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 228);
    // Account …03 holds findings 3, 23, 43, …, 223 (4 high, 4 low, 4 medium); 3 is resolved.
    let a3 = items.iter().find(|a| a["id"] == "100000000003").unwrap();
    assert_eq!(a3["name"], "acct-03");
    assert_eq!(
        (
            a3["open"]["total"].as_i64(),
            a3["open"]["high"].as_i64(),
            a3["open"]["critical"].as_i64()
        ),
        (Some(11), Some(3), Some(0))
    );
    assert_eq!(a3["coverage"]["targets"], 1);
    assert_eq!(a3["coverage"]["enabled"], 0);

    let (s, b) = call(&pool, "/api/v1/accounts/100000000003", Some(&t)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["open"]["total"], 11);
    assert_eq!(b["by_region"][0]["key"], "ap-southeast-2");
    assert_eq!(b["by_source"][0]["key"], "securityhub");
    assert_eq!(b["coverage_cells"][0]["state"], "not_enabled");
    let (s, b) = call(&pool, "/api/v1/accounts/000000000000", Some(&t)).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, b) = call(&pool, "/api/v1/accounts/12", Some(&t)).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");

    let (s, b) = call(&pool, "/api/v1/regions", Some(&t)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let regions = b["items"].as_array().unwrap();
    assert_eq!(regions.len(), 4);
    let eu = regions.iter().find(|r| r["region"] == "eu-west-1").unwrap();
    assert_eq!(
        eu["open"]["total"], 57,
        "60 findings there, 3 of them resolved (i = 1, 5, 9)"
    );
    assert_eq!(
        eu["accounts_with_open_findings"], 5,
        "accounts 1, 5, 9, 13, 17"
    );
}

/// `/api/v1/baseline`: every stored result in DESIGN.md's shape, its filters, and its 4xx.
#[sqlx::test(migrations = "./migrations")]
async fn baseline_results_filters_and_errors(pool: PgPool) {
    use sightline::baseline::{Check, CheckResult, Outcome};
    sqlx::query(
        "INSERT INTO accounts (id, name, environment) VALUES ('111111111111', 'prod-payments', 'prod'), ('222222222222', 'dev-data', 'dev')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let results = |outcome: Outcome, required_data_events: bool| -> Vec<CheckResult> {
        Check::ALL
            .iter()
            .map(|&check| CheckResult {
                check,
                outcome: if check == Check::ScpProtectsCloudtrail {
                    Outcome::Unknown
                } else {
                    outcome
                },
                evidence: format!("evidence of {}", check.name()),
                required: check != Check::DataEventsS3Lambda || required_data_events,
            })
            .collect()
    };
    let read_at = Utc::now();
    db::baseline::store(
        &pool,
        "111111111111",
        &results(Outcome::Pass, true),
        read_at,
    )
    .await
    .unwrap();
    let changed = db::baseline::store(
        &pool,
        "222222222222",
        &results(Outcome::Fail, false),
        read_at,
    )
    .await
    .unwrap();
    assert_eq!(changed, 10, "a first read is ten changes");
    let t = token(&pool, "ci", None).await;

    let (status, body) = call(&pool, "/api/v1/baseline", Some(&t)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let checks = body["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 20);
    // By account name (dev-data first), then in the checks' order.
    assert_eq!(checks[0]["account_id"], "222222222222");
    assert_eq!(checks[0]["check"], "cloudtrail_multi_region");
    assert_eq!(checks[0]["result"], "fail");
    assert_eq!(checks[0]["evidence"], "evidence of cloudtrail_multi_region");
    assert_eq!(checks[9]["check"], "no_unapproved_region_activity");
    let data_events = &checks[5];
    assert_eq!(
        (
            data_events["check"].as_str(),
            data_events["required"].as_bool()
        ),
        (Some("data_events_s3_lambda"), Some(false))
    );
    for c in checks {
        for key in ["account_id", "check", "result", "evidence"] {
            assert!(c.get(key).is_some(), "{key} missing: {c}");
        }
    }

    let (_, body) = call(&pool, "/api/v1/baseline?result=unknown", Some(&t)).await;
    let unknown = body["checks"].as_array().unwrap();
    assert_eq!(unknown.len(), 2);
    assert!(
        unknown
            .iter()
            .all(|c| c["check"] == "scp_protects_cloudtrail")
    );
    let (_, body) = call(
        &pool,
        "/api/v1/baseline?account=111111111111&check=log_file_validation",
        Some(&t),
    )
    .await;
    assert_eq!(body["checks"].as_array().unwrap().len(), 1);
    assert_eq!(body["checks"][0]["result"], "pass");

    // A second read that changes one result records one change and keeps the other's time.
    let mut next = results(Outcome::Pass, true);
    next[1].outcome = Outcome::Fail;
    let later = read_at + Duration::minutes(5);
    let changed = db::baseline::store(&pool, "111111111111", &next, later)
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let events = db::baseline::events(&pool, "111111111111", 50)
        .await
        .unwrap();
    assert_eq!(events.len(), 11);
    assert_eq!(
        (
            events[0].check_name.as_str(),
            events[0].previous_result.as_deref(),
            events[0].result.as_str()
        ),
        ("log_file_validation", Some("pass"), "fail")
    );
    let (_, body) = call(&pool, "/api/v1/baseline?account=111111111111", Some(&t)).await;
    let rows = body["checks"].as_array().unwrap();
    assert_eq!(rows[0]["changed_at"], rows[2]["changed_at"]);
    assert_ne!(rows[1]["changed_at"], rows[0]["changed_at"]);

    for (uri, status, code) in [
        (
            "/api/v1/baseline?result=maybe",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/v1/baseline?check=nope",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/v1/baseline?account=12",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/v1/baseline?colour=red",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "/api/v1/baseline?account=333333333333",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ] {
        let (s, body) = call(&pool, uri, Some(&t)).await;
        assert_error(s, &body, status, code);
    }
    let (s, body) = call(&pool, "/api/v1/baseline", None).await;
    assert_error(s, &body, StatusCode::UNAUTHORIZED, "unauthorized");
}

/// With a read replica (`DATABASE_READ_URL`), pages and the API read from it while tokens are
/// checked on the primary, where `sightline token create` wrote them. The "replica" here is a
/// second database holding different accounts, so each answer shows where it was read.
#[sqlx::test(migrations = "./migrations")]
async fn reads_go_to_the_replica_and_tokens_to_the_primary(pool: PgPool) {
    // Database names are at most 63 bytes: the test database's own name is already that long.
    let replica_name = format!("replica_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("DROP DATABASE IF EXISTS {replica_name}"))
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {replica_name}"))
        .execute(&pool)
        .await
        .unwrap();
    let server = std::env::var("DATABASE_URL").unwrap();
    let replica_url = format!("{}/{replica_name}", server.rsplit_once('/').unwrap().0);
    let replica = PgPool::connect(&replica_url).await.unwrap();
    db::migrate(&replica).await.unwrap();
    for (p, id, name) in [
        (&pool, "111111111111", "on-the-primary"),
        (&replica, "222222222222", "on-the-replica"),
    ] {
        sqlx::query("INSERT INTO accounts (id, name) VALUES ($1, $2)")
            .bind(id)
            .bind(name)
            .execute(p)
            .await
            .unwrap();
    }
    let t = token(&pool, "primary-only", None).await;
    let in_replica: Vec<String> = sqlx::query_scalar("SELECT name FROM accounts")
        .fetch_all(&replica)
        .await
        .unwrap();
    assert_eq!(in_replica, ["on-the-replica"], "{replica_url}");

    let app = sightline::web::router(
        sightline::web::AppState::new(pool.clone(), Default::default()).with_reads(replica.clone()),
    );
    let response = app
        .clone()
        .oneshot(
            Request::get("/api/v1/accounts")
                .header("authorization", format!("Bearer {t}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["on-the-replica"]);
    // The token's use was recorded on the primary.
    let used: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("SELECT last_used_at FROM api_tokens WHERE name = 'primary-only'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(used.is_some());
    let page = app
        .oneshot(Request::get("/accounts").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let html = String::from_utf8(
        page.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(html.contains("on-the-replica") && !html.contains("on-the-primary"));
    replica.close().await;
    // A closed connection's backend can still be exiting when the DROP arrives; FORCE waits
    // for it (and ends any left over) instead of failing with "being accessed by other users".
    sqlx::query(&format!("DROP DATABASE {replica_name} WITH (FORCE)"))
        .execute(&pool)
        .await
        .unwrap();
}

/// `stats/open` answers gzip to a client that accepts it (its grouped body is megabytes at
/// scale), the same JSON once decoded, and plain JSON to one that does not.
#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn stats_are_gzipped_for_clients_that_accept_it(pool: PgPool) {
    use std::io::Read;
    super::findings::seed(&pool).await;
    let t = token(&pool, "t", None).await;
    let uri = "/api/v1/stats/open?group_by=account,region,source,severity";
    let app = sightline::web::router(sightline::web::AppState::new(
        pool.clone(),
        Default::default(),
    ));
    let mut bodies = Vec::new();
    for encoding in [None, Some("gzip, deflate"), Some("br")] {
        let mut request = Request::get(uri).header("authorization", format!("Bearer {t}"));
        if let Some(e) = encoding {
            request = request.header("accept-encoding", e);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["vary"], "accept-encoding");
        let gzipped = response
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned());
        let raw = response.into_body().collect().await.unwrap().to_bytes();
        let json = if encoding == Some("gzip, deflate") {
            assert_eq!(gzipped.as_deref(), Some("gzip"));
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .unwrap();
            assert!(raw.len() < out.len());
            out
        } else {
            assert_eq!(gzipped, None, "{encoding:?}");
            raw.to_vec()
        };
        bodies.push(serde_json::from_slice::<Value>(&json).unwrap());
    }
    // seed(): 240 findings, the first 12 resolved.
    assert_eq!(bodies[0]["total"], 228);
    assert!(bodies.iter().all(|b| *b == bodies[0]));
}
