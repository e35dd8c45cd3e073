//! `/metrics` through `Router::oneshot`: the numbers it reports for rows in the database.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, TimeZone, Utc};
use sightline::db::poll::{RunStats, Target};
use sightline::db::{coverage, findings, poll};
use sightline::domain::Status;
use sightline::sim::samples;
use sqlx::PgPool;

const ACCOUNT: &str = "111111111111";

async fn scrape(pool: &PgPool) -> (StatusCode, String, String) {
    crate::support::oneshot_get(pool, "/metrics").await
}

/// The value of the one sample written exactly as `series` (name and labels).
fn value(text: &str, series: &str) -> f64 {
    let found: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .collect();
    assert_eq!(found.len(), 1, "{series} in\n{text}");
    match found[0] {
        "+Inf" => f64::INFINITY,
        v => v.parse().unwrap(),
    }
}

/// Every sample belongs to the family announced just before it, and each family is announced
/// once, with HELP then TYPE gauge: what Prometheus' parser insists on.
fn assert_well_formed(text: &str) {
    let mut families = std::collections::HashSet::new();
    let mut current = String::new();
    let mut help_of = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help_of = rest.split(' ').next().unwrap().to_owned();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!((name, kind), (help_of.as_str(), "gauge"), "{line}");
            assert!(families.insert(name.to_owned()), "{name} announced twice");
            current = name.to_owned();
        } else {
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(name, current, "{line} outside its family");
        }
    }
    assert!(text.ends_with('\n'));
}

fn target(region: &str, source: &str) -> Target {
    Target {
        account_id: ACCOUNT.into(),
        region: region.into(),
        source: source.into(),
        watermark: None,
        last_full_sweep_at: None,
    }
}

/// Moves a run to fixed times so its duration is exact.
async fn set_times(pool: &PgPool, run: i64, started: DateTime<Utc>, ended: Option<DateTime<Utc>>) {
    sqlx::query("UPDATE poll_runs SET started_at = $2, ended_at = $3 WHERE id = $1")
        .bind(run)
        .bind(started)
        .bind(ended)
        .execute(pool)
        .await
        .unwrap();
}

async fn set_last_success(pool: &PgPool, region: &str, source: &str, seconds_ago: i32) {
    sqlx::query(
        "UPDATE poll_targets SET last_success_at = now() - make_interval(secs => $3)
         WHERE account_id = $4 AND region = $1 AND source::text = $2",
    )
    .bind(region)
    .bind(source)
    .bind(f64::from(seconds_ago))
    .bind(ACCOUNT)
    .execute(pool)
    .await
    .unwrap();
}

/// A finished run of `t` in `cycle`, from `at` for `seconds`.
async fn run(
    pool: &PgPool,
    cycle: uuid::Uuid,
    t: &Target,
    at: DateTime<Utc>,
    seconds: f64,
    stats: RunStats,
    error: Option<&str>,
) {
    let id = poll::start_run(pool, cycle, Some(t), false).await.unwrap();
    poll::finish_run(pool, id, &stats, error).await.unwrap();
    let ended = at + Duration::milliseconds((seconds * 1000.0) as i64);
    set_times(pool, id, at, Some(ended)).await;
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn metrics_report_findings_coverage_last_runs_cycles_and_data_age(pool: PgPool) {
    // 42 open Security Hub control findings: severities cycle low, medium, medium, high,
    // critical, low, so 14 low, 14 medium, 7 high, 7 critical; then one low resolved and one
    // high suppressed.
    let mut batch = samples::control_findings(0, 42, Utc::now());
    batch[0].status = Status::Resolved;
    batch[3].status = Status::Suppressed;
    let mut conn = pool.acquire().await.unwrap();
    findings::upsert_batch(&mut conn, &batch).await.unwrap();
    drop(conn);

    let regions = ["us-east-1".to_owned(), "eu-west-1".to_owned()];
    let sources = ["securityhub", "guardduty", "macie"].map(String::from);
    poll::ensure_targets(&pool, &[ACCOUNT.to_owned()], &regions, &sources)
        .await
        .unwrap();
    for (region, source, state) in [
        ("us-east-1", "securityhub", "enabled"),
        ("eu-west-1", "securityhub", "enabled"),
        ("us-east-1", "guardduty", "access_denied"),
        ("eu-west-1", "guardduty", "error"),
        ("us-east-1", "macie", "not_enabled"),
    ] {
        coverage::record(&pool, ACCOUNT, region, source, state, "")
            .await
            .unwrap();
    }
    // Only enabled targets count for data age: guardduty's older successes do not.
    set_last_success(&pool, "us-east-1", "securityhub", 300).await;
    set_last_success(&pool, "eu-west-1", "securityhub", 60).await;
    set_last_success(&pool, "us-east-1", "guardduty", 5000).await;
    set_last_success(&pool, "eu-west-1", "guardduty", 9000).await;

    // Cycle 1, shared by two pollers: from t0 - 10 s to t0 + 1010 s.
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let s = |secs: i64| t0 + Duration::seconds(secs);
    let (cycle1, _, first) = poll::join_or_start_cycle(&pool, 3600).await.unwrap();
    let (joined, _, second) = poll::join_or_start_cycle(&pool, 3600).await.unwrap();
    assert_eq!(joined, cycle1);

    let (sh_use1, sh_euw1) = (
        target("us-east-1", "securityhub"),
        target("eu-west-1", "securityhub"),
    );
    let (gd_use1, gd_euw1) = (
        target("us-east-1", "guardduty"),
        target("eu-west-1", "guardduty"),
    );
    let stats = |pages, seen, throttles| RunStats {
        pages,
        seen,
        throttles,
        ..Default::default()
    };
    // An older run of the same target, which the newer one replaces.
    let old = stats(9, 900, 5);
    run(
        &pool,
        cycle1,
        &sh_use1,
        s(0),
        100.0,
        old,
        Some("old failure"),
    )
    .await;
    run(
        &pool,
        cycle1,
        &sh_use1,
        s(900),
        12.5,
        stats(3, 250, 2),
        None,
    )
    .await;
    run(
        &pool,
        cycle1,
        &sh_euw1,
        s(900),
        30.0,
        stats(2, 120, 0),
        None,
    )
    .await;
    let denied = Some("AccessDeniedException: not authorized");
    run(&pool, cycle1, &gd_use1, s(900), 4.0, stats(0, 0, 1), denied).await;
    let throttled = Some("ThrottlingException: rate exceeded");
    run(
        &pool,
        cycle1,
        &gd_euw1,
        s(900),
        1.25,
        stats(1, 7, 0),
        throttled,
    )
    .await;
    for id in [first, second] {
        poll::finish_run(&pool, id, &RunStats::default(), None)
            .await
            .unwrap();
    }
    set_times(&pool, first, s(-10), Some(s(1000))).await;
    set_times(&pool, second, s(5), Some(s(1010))).await;

    // Cycle 2 is not finished (its second poller still runs), nor is the run it started.
    let (cycle2, _, third) = poll::join_or_start_cycle(&pool, 3600).await.unwrap();
    let (_, _, fourth) = poll::join_or_start_cycle(&pool, 3600).await.unwrap();
    assert_ne!(cycle2, cycle1);
    poll::finish_run(&pool, third, &RunStats::default(), None)
        .await
        .unwrap();
    set_times(&pool, third, s(1790), Some(s(2000))).await;
    set_times(&pool, fourth, s(1795), None).await;
    let running = poll::start_run(&pool, cycle2, Some(&sh_use1), false)
        .await
        .unwrap();
    set_times(&pool, running, s(1800), None).await;

    let (status, content_type, text) = scrape(&pool).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert_well_formed(&text);
    assert_eq!(value(&text, "sightline_up"), 1.0);

    let findings = |status: &str, severity: &str| {
        value(
            &text,
            &format!(
                "sightline_findings{{source=\"securityhub\",status=\"{status}\",severity=\"{severity}\"}}"
            ),
        )
    };
    assert_eq!(findings("open", "low"), 13.0);
    assert_eq!(findings("resolved", "low"), 1.0);
    assert_eq!(findings("open", "medium"), 14.0);
    assert_eq!(findings("open", "high"), 6.0);
    assert_eq!(findings("suppressed", "high"), 1.0);
    assert_eq!(findings("open", "critical"), 7.0);
    assert_eq!(findings("open", "informational"), 0.0);
    assert!(text.contains(
        "\nsightline_findings{source=\"guardduty\",status=\"open\",severity=\"critical\"} 0\n"
    ));
    let listed: f64 = text
        .lines()
        .filter(|l| l.starts_with("sightline_findings{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(listed, 42.0);

    let targets = |source: &str, state: &str| {
        value(
            &text,
            &format!("sightline_poll_targets{{source=\"{source}\",state=\"{state}\"}}"),
        )
    };
    assert_eq!(targets("securityhub", "enabled"), 2.0);
    assert_eq!(targets("guardduty", "access_denied"), 1.0);
    assert_eq!(targets("guardduty", "error"), 1.0);
    assert_eq!(targets("macie", "not_enabled"), 1.0);
    assert_eq!(targets("inspector", "enabled"), 0.0);

    // Latest finished run per target: securityhub 12.5 s and 30 s, guardduty 4 s and 1.25 s.
    let last = |metric: &str, source: &str| {
        value(
            &text,
            &format!("sightline_poll_last_{metric}{{source=\"{source}\"}}"),
        )
    };
    assert_eq!(last("duration_seconds", "securityhub"), 30.0);
    assert_eq!(last("pages", "securityhub"), 5.0);
    assert_eq!(last("throttles", "securityhub"), 2.0);
    assert_eq!(last("errors", "securityhub"), 0.0);
    assert_eq!(last("findings_seen", "securityhub"), 370.0);
    assert_eq!(last("duration_seconds", "guardduty"), 4.0);
    assert_eq!(last("pages", "guardduty"), 1.0);
    assert_eq!(last("throttles", "guardduty"), 1.0);
    assert_eq!(last("errors", "guardduty"), 2.0);
    assert_eq!(last("findings_seen", "guardduty"), 7.0);
    assert!(!text.contains("sightline_poll_last_pages{source=\"macie\"}"));

    assert_eq!(
        value(&text, "sightline_poll_cycle_last_duration_seconds"),
        1020.0
    );
    assert_eq!(
        value(&text, "sightline_poll_cycle_last_end_timestamp_seconds"),
        s(1010).timestamp() as f64
    );

    // Ages are measured against the database clock at scrape time: a little over the offsets.
    let age = value(&text, "sightline_data_age_seconds{source=\"securityhub\"}");
    assert!((300.0..360.0).contains(&age), "{age}");
    assert_eq!(value(&text, "sightline_data_age_seconds"), age);
    assert!(!text.contains("sightline_data_age_seconds{source=\"guardduty\"}"));

    // An enabled target never polled successfully: its data is infinitely old.
    coverage::record(&pool, ACCOUNT, "eu-west-1", "macie", "enabled", "")
        .await
        .unwrap();
    let (_, _, text) = scrape(&pool).await;
    assert_eq!(
        value(&text, "sightline_data_age_seconds{source=\"macie\"}"),
        f64::INFINITY
    );
    assert_eq!(value(&text, "sightline_data_age_seconds"), f64::INFINITY);
    let age = value(&text, "sightline_data_age_seconds{source=\"securityhub\"}");
    assert!((300.0..360.0).contains(&age), "{age}");
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn metrics_of_an_empty_database_are_zeros_without_poll_families(pool: PgPool) {
    let (status, content_type, text) = scrape(&pool).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain; version=0.0.4"));
    assert_well_formed(&text);
    assert_eq!(value(&text, "sightline_up"), 1.0);
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("sightline_findings{") && l.ends_with(" 0"))
            .count(),
        5 * 3 * 5
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("sightline_poll_targets{") && l.ends_with(" 0"))
            .count(),
        5 * 5
    );
    for absent in [
        "sightline_poll_last_",
        "sightline_poll_cycle_",
        "sightline_data_age_seconds",
    ] {
        assert!(!text.contains(absent), "{absent}");
    }
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn metrics_answer_503_when_the_database_is_gone(pool: PgPool) {
    pool.close().await;
    let (status, _, text) = scrape(&pool).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(text, "database unavailable\n");
}
