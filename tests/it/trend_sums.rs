//! The sums the trend series read instead of the rollups (`daily_totals`,
//! `daily_account_totals`, kept by triggers) and the series each server keeps until its inputs
//! change (`web::series`): after inserts, updates and deletes of rollups, the sums equal the
//! rollups summed; every series read from a sum equals the same series read from the rollups;
//! a kept series follows a new rollup and an account's new environment.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, NaiveDate, Utc};
use http_body_util::BodyExt;
use serde_json::Value;
use sightline::api::tokens;
use sightline::db::trends::{self, Interval, TrendFilter, TrendGroup};
use sightline::db::{self};
use sightline::web::{AppState, Site};
use sqlx::PgPool;
use tower::ServiceExt;

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const SOURCES: [&str; 3] = ["securityhub", "guardduty", "inspector"];
const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "informational"];
/// prod/team-a, dev/team-b, prod/team-b, and one with rollups but no record.
const ACCOUNTS: [(&str, Option<(&str, &str)>); 4] = [
    ("111111111111", Some(("prod", "team-a"))),
    ("222222222222", Some(("dev", "team-b"))),
    ("333333333333", Some(("prod", "team-b"))),
    ("444444444444", None),
];
const DAYS: i64 = 45;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// A fixed pseudo-random number for a cell and a day.
fn noise(parts: &[usize]) -> i64 {
    let mut h: u64 = 1469598103934665603;
    for p in parts {
        h ^= *p as u64;
        h = h.wrapping_mul(1099511628211);
        h ^= h >> 29;
    }
    (h % 1000) as i64
}

/// Rollups for the last `DAYS` days, some cells missing, written one day per statement.
async fn history(pool: &PgPool) {
    for (id, attrs) in ACCOUNTS {
        if let Some((env, owner)) = attrs {
            sqlx::query(
                "INSERT INTO accounts (id, name, environment, owner) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(format!("acct-{id}"))
            .bind(env)
            .bind(owner)
            .execute(pool)
            .await
            .unwrap();
        }
    }
    for d in 0..DAYS {
        let day = today() - Duration::days(DAYS - 1 - d);
        let mut rows: (Vec<String>, Vec<String>, Vec<String>, Vec<String>) = Default::default();
        let mut counts: [Vec<i32>; 5] = Default::default();
        for (a, (id, _)) in ACCOUNTS.iter().enumerate() {
            for (r, region) in REGIONS.iter().enumerate() {
                for (s, source) in SOURCES.iter().enumerate() {
                    for (v, severity) in SEVERITIES.iter().enumerate() {
                        let n = noise(&[a, r, s, v, d as usize]);
                        // A fifth of the cells are missing on a day; an account starts late.
                        if n < 200 || (a == 3 && d < 20) {
                            continue;
                        }
                        rows.0.push(id.to_string());
                        rows.1.push(region.to_string());
                        rows.2.push(source.to_string());
                        rows.3.push(severity.to_string());
                        counts[0].push((n % 97) as i32 + 1);
                        counts[1].push((n % 7) as i32);
                        counts[2].push((n % 5) as i32);
                        counts[3].push((n % 3 == 0) as i32);
                        counts[4].push((n % 11) as i32);
                    }
                }
            }
        }
        sqlx::query(
            "INSERT INTO daily_rollups (day, account_id, region, source, severity, open_count,
                 new_count, resolved_count, reopened_count, past_sla_count)
             SELECT $1, a, r, s::finding_source, v::severity, o, n, re, ro, p
             FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::int4[],
                         $8::int4[], $9::int4[], $10::int4[]) AS t(a, r, s, v, o, n, re, ro, p)",
        )
        .bind(day)
        .bind(&rows.0)
        .bind(&rows.1)
        .bind(&rows.2)
        .bind(&rows.3)
        .bind(&counts[0])
        .bind(&counts[1])
        .bind(&counts[2])
        .bind(&counts[3])
        .bind(&counts[4])
        .execute(pool)
        .await
        .unwrap();
    }
}

/// Rows of `left` missing from `right`, both `SELECT`s of the same columns.
async fn missing(pool: &PgPool, left: &str, right: &str) -> i64 {
    sqlx::query_scalar(&format!(
        "SELECT count(*) FROM (({left}) EXCEPT ALL ({right})) x"
    ))
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn assert_sums_equal_rollups(pool: &PgPool, after: &str) {
    let sums = "day, source, severity, sum(open_count), sum(new_count), sum(resolved_count), \
                sum(reopened_count), sum(past_sla_count), count(*)";
    let totals = format!("SELECT {sums} FROM daily_rollups GROUP BY 1, 2, 3");
    let kept = "SELECT day, source, severity, open_count::numeric, new_count::numeric, \
                resolved_count::numeric, reopened_count::numeric, past_sla_count::numeric, \
                rollup_rows::int8 FROM daily_totals";
    let by_account = "SELECT day, account_id, source, severity, sum(open_count), \
                      sum(new_count), sum(resolved_count), sum(reopened_count), \
                      sum(past_sla_count), count(*) FROM daily_rollups GROUP BY 1, 2, 3, 4";
    let kept_by_account = "SELECT day, account_id, source, severity, open_count::numeric, \
                           new_count::numeric, resolved_count::numeric, \
                           reopened_count::numeric, past_sla_count::numeric, \
                           rollup_rows::int8 FROM daily_account_totals";
    for (l, r) in [
        (totals.as_str(), kept),
        (kept, totals.as_str()),
        (by_account, kept_by_account),
        (kept_by_account, by_account),
    ] {
        assert_eq!(
            missing(pool, l, r).await,
            0,
            "after {after}: ({l}) EXCEPT ({r})"
        );
    }
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn the_sums_follow_inserts_updates_deletes_and_truncate(pool: PgPool) {
    history(&pool).await;
    let rollups: i64 = sqlx::query_scalar("SELECT count(*) FROM daily_rollups")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(rollups > 1000, "{rollups} rollups");
    assert_sums_equal_rollups(&pool, "inserts").await;

    sqlx::query(
        "UPDATE daily_rollups SET open_count = open_count + 3, past_sla_count = 0
         WHERE account_id = '222222222222' AND day > $1",
    )
    .bind(today() - Duration::days(10))
    .execute(&pool)
    .await
    .unwrap();
    assert_sums_equal_rollups(&pool, "an update").await;

    // Every rollup of some days and keys goes: their sums must go too, not stay at zero.
    sqlx::query("DELETE FROM daily_rollups WHERE account_id = '444444444444' OR severity = 'low'")
        .execute(&pool)
        .await
        .unwrap();
    assert_sums_equal_rollups(&pool, "a delete").await;
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM daily_account_totals
         WHERE account_id = '444444444444' OR severity = 'low'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0);

    sqlx::query("TRUNCATE daily_rollups")
        .execute(&pool)
        .await
        .unwrap();
    assert_sums_equal_rollups(&pool, "truncate").await;
}

/// Each filter, with and without naming every region: naming them reads the rollups
/// themselves and keeps the same findings, so both must give the same series.
#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn every_sum_gives_the_series_the_rollups_give(pool: PgPool) {
    history(&pool).await;
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let filters = [
        TrendFilter::default(),
        TrendFilter {
            sources: strings(&["guardduty"]),
            ..Default::default()
        },
        TrendFilter {
            accounts: strings(&["111111111111"]),
            ..Default::default()
        },
        TrendFilter {
            accounts: strings(&["444444444444", "222222222222"]),
            sources: strings(&["inspector", "securityhub"]),
            ..Default::default()
        },
        TrendFilter {
            environments: strings(&["prod"]),
            ..Default::default()
        },
        TrendFilter {
            owners: strings(&["team-b"]),
            sources: strings(&["securityhub"]),
            ..Default::default()
        },
    ];
    let (from, to) = (today() - Duration::days(DAYS + 3), today());
    let mut compared = 0;
    for filter in &filters {
        let with_regions = TrendFilter {
            regions: strings(&REGIONS),
            ..filter.clone()
        };
        for interval in [Interval::Day, Interval::Week, Interval::Month] {
            for group in [
                TrendGroup::None,
                TrendGroup::Severity,
                TrendGroup::Source,
                TrendGroup::Account,
                TrendGroup::Environment,
            ] {
                let sums = trends::open_series(&pool, from, to, interval, group, filter)
                    .await
                    .unwrap();
                let rollups = trends::open_series(&pool, from, to, interval, group, &with_regions)
                    .await
                    .unwrap();
                assert!(sums.iter().any(|p| p.count > 0), "{filter:?} {group:?}");
                assert_eq!(sums, rollups, "open {filter:?} {interval:?} {group:?}");
                compared += 1;
            }
            let flow = trends::flow_series(&pool, from, to, interval, filter)
                .await
                .unwrap();
            assert!(
                flow.iter().any(|p| p.new > 0 && p.resolved > 0),
                "{filter:?}"
            );
            assert_eq!(
                flow,
                trends::flow_series(&pool, from, to, interval, &with_regions)
                    .await
                    .unwrap(),
                "flow {filter:?} {interval:?}"
            );
            let sla = trends::sla_series(&pool, from, to, interval, filter)
                .await
                .unwrap();
            assert!(sla.iter().any(|p| p.past_sla > 0), "{filter:?}");
            assert_eq!(
                sla,
                trends::sla_series(&pool, from, to, interval, &with_regions)
                    .await
                    .unwrap(),
                "sla {filter:?} {interval:?}"
            );
            compared += 2;
        }
        let start = today() - Duration::days(30);
        assert_eq!(
            trends::movers(&pool, start, to, filter).await.unwrap(),
            trends::movers(&pool, start, to, &with_regions)
                .await
                .unwrap(),
            "movers {filter:?}"
        );
    }
    assert_eq!(compared, 6 * 3 * 7);

    // One number by hand, so that both reads cannot be wrong the same way: today's open
    // findings of the production accounts.
    let prod: i64 = sqlx::query_scalar(
        "SELECT sum(open_count)::int8 FROM daily_rollups
         WHERE day = $1 AND account_id IN ('111111111111', '333333333333')",
    )
    .bind(today())
    .fetch_one(&pool)
    .await
    .unwrap();
    let series = trends::open_series(
        &pool,
        today() - Duration::days(6),
        today(),
        Interval::Day,
        TrendGroup::None,
        &filters[4],
    )
    .await
    .unwrap();
    assert_eq!(series.last().unwrap().count, prod);
    assert!(prod > 0);
}

async fn open_today(app: &axum::Router, token: &str, query: &str) -> i64 {
    let uri = format!("/api/v1/trends/open?interval=day&from={}&{query}", today());
    let response = app
        .clone()
        .oneshot(
            Request::get(&uri)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{uri}");
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let points = body["points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{body}");
    points[0]["count"].as_i64().unwrap()
}

async fn page_open_total(app: &axum::Router, query: &str) -> String {
    let response = app
        .clone()
        .oneshot(
            Request::get(format!("/trends?{query}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    crate::support::data_count(&html, "open-now")
}

/// One server (one cache) across changes: a kept series is never shown after its inputs move.
#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn a_kept_series_follows_new_rollups_and_an_accounts_new_environment(pool: PgPool) {
    history(&pool).await;
    let t = tokens::generate();
    db::tokens::create(&pool, "sums", &tokens::hash(&t), None)
        .await
        .unwrap();
    let app = sightline::web::router(AppState::new(pool.clone(), Site::default()));
    let sum_today = |accounts: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!(
                "SELECT coalesce(sum(open_count), 0)::int8 FROM daily_rollups
                 WHERE day = CURRENT_DATE AND account_id IN ({accounts})"
            ))
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let prod = sum_today("'111111111111', '333333333333'").await;
    assert_eq!(open_today(&app, &t, "environment=prod").await, prod);
    assert_eq!(open_today(&app, &t, "environment=prod").await, prod);
    let page = page_open_total(&app, "environment=prod").await;

    // The end of a cycle writes today's rollups again.
    sqlx::query(
        "UPDATE daily_rollups SET open_count = open_count + 1000
         WHERE day = CURRENT_DATE AND account_id = '111111111111' AND source = 'guardduty'
           AND severity = 'high' AND region = 'us-east-1'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let grown = sum_today("'111111111111', '333333333333'").await;
    assert!(grown > prod);
    assert_eq!(open_today(&app, &t, "environment=prod").await, grown);
    assert_ne!(page_open_total(&app, "environment=prod").await, page);

    // The config moves an account out of production: no rollup changes, the series does.
    sightline::db::accounts::sync(
        &pool,
        &[sightline::config::AccountConfig {
            id: "333333333333".parse().unwrap(),
            name: "acct-333333333333".into(),
            environment: "dev".into(),
            owner: "team-b".into(),
            role_arn: None,
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        open_today(&app, &t, "environment=prod").await,
        sum_today("'111111111111'").await
    );
}
