//! Daily rollups (`db::rollups`) and what reads them (`db::trends`, `/api/v1/trends/*`,
//! `/api/v1/sla/breaches`), on fixture histories written through `upsert_batch` with the
//! source's own timestamps: rollups against counts recomputed from the events, today against
//! the current count, time to resolve and SLA boundaries with known answers, the API's 400s
//! and CSV.

use std::collections::{BTreeMap, HashMap};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use serde_json::Value;
use sightline::api::tokens;
use sightline::config::SlaConfig;
use sightline::db::trends::{Interval, TrendFilter, TrendGroup};
use sightline::db::{self, rollups, trends};
use sightline::domain::{Finding, Severity, Status};
use sightline::sim::samples;
use sqlx::PgPool;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// Noon (UTC) `days_ago` days before today.
fn noon(days_ago: i64) -> DateTime<Utc> {
    (today() - Duration::days(days_ago))
        .and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap())
        .and_utc()
}

/// Control finding `i`, first seen at `first` with `severity` and `status`.
fn finding(i: usize, severity: Severity, status: Status, first: DateTime<Utc>) -> Finding {
    let mut f = samples::control_findings(i, 1, first).remove(0);
    f.severity = severity;
    f.status = status;
    f.first_observed_at = first;
    f.updated_at = first;
    f.seen_at = first;
    f
}

/// The same finding as the source reports it at `at` in `status`.
fn changed(f: &Finding, status: Status, at: DateTime<Utc>) -> Finding {
    let mut g = f.clone();
    g.status = status;
    g.updated_at = at;
    g.seen_at = at;
    g
}

async fn write(pool: &PgPool, batch: &[Finding]) {
    let mut conn = pool.acquire().await.unwrap();
    db::findings::upsert_batch(&mut conn, batch).await.unwrap();
}

type Key = (NaiveDate, String, String, String, String);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Counts {
    open: i64,
    past_sla: i64,
    new: i64,
    resolved: i64,
    reopened: i64,
}

#[allow(clippy::type_complexity)]
async fn stored_rollups(pool: &PgPool) -> BTreeMap<Key, Counts> {
    let rows: Vec<(
        NaiveDate,
        String,
        String,
        String,
        String,
        i32,
        i32,
        i32,
        i32,
        i32,
    )> = sqlx::query_as(
        "SELECT day, account_id, region, source::text, severity::text, open_count, \
             past_sla_count, new_count, resolved_count, reopened_count FROM daily_rollups",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(d, a, r, s, sev, open, past, new, res, reo)| {
            (
                (d, a, r, s, sev),
                Counts {
                    open: open.into(),
                    past_sla: past.into(),
                    new: new.into(),
                    resolved: res.into(),
                    reopened: reo.into(),
                },
            )
        })
        .collect()
}

/// The rollups of `[from, to]` computed here, in Rust, straight from the events: a finding's
/// state at the end of a day is its last recorded event stamped before the day ends (today:
/// every event).
async fn expected_rollups(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
    sla: &SlaConfig,
) -> BTreeMap<Key, Counts> {
    #[allow(clippy::type_complexity)]
    let events: Vec<(
        i64,
        uuid::Uuid,
        String,
        DateTime<Utc>,
        Option<String>,
        String,
        String,
        String,
        String,
        String,
        DateTime<Utc>,
    )> = sqlx::query_as(
        "SELECT e.id, e.finding_id, e.kind, e.at, e.from_status::text, e.to_status::text, \
         e.to_severity::text, f.account_id, f.region, f.source::text, f.first_seen_at \
         FROM finding_events e JOIN findings f ON f.id = e.finding_id ORDER BY e.id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let today = today();
    let mut out: BTreeMap<Key, Counts> = BTreeMap::new();
    let mut by_finding: HashMap<uuid::Uuid, Vec<usize>> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        by_finding.entry(e.1).or_default().push(i);
    }
    let mut day = from;
    while day <= to {
        let end = (day + Duration::days(1)).and_time(NaiveTime::MIN).and_utc();
        for idx in by_finding.values() {
            let last = idx
                .iter()
                .map(|&i| &events[i])
                .filter(|e| day >= today || e.3 < end)
                .max_by_key(|e| e.0);
            let Some(e) = last else { continue };
            if e.5 != "open" {
                continue;
            }
            let severity: Severity = e.6.parse().unwrap();
            let age = (day - e.10.date_naive()).num_days();
            let c = out
                .entry((day, e.7.clone(), e.8.clone(), e.9.clone(), e.6.clone()))
                .or_default();
            c.open += 1;
            if sla.days(severity).is_some_and(|d| age > i64::from(d)) {
                c.past_sla += 1;
            }
        }
        for e in &events {
            if e.3.date_naive().min(today) != day {
                continue;
            }
            let c = out
                .entry((day, e.7.clone(), e.8.clone(), e.9.clone(), e.6.clone()))
                .or_default();
            match (e.2.as_str(), e.4.as_deref(), e.5.as_str()) {
                ("new", _, "open") => c.new += 1,
                ("resolved", Some("open"), _) => c.resolved += 1,
                ("reopened", _, "open") => c.reopened += 1,
                _ => {}
            }
        }
        day += Duration::days(1);
    }
    out.retain(|_, c| *c != Counts::default());
    out
}

/// 60 findings with varied 20-day histories: opened, resolved, reopened, suppressed, first
/// seen resolved or suppressed, severity changes, and a few stamped after they were written.
async fn varied_history(pool: &PgPool) -> Vec<Finding> {
    let severities = Severity::ALL;
    let mut all = Vec::new();
    for i in 0..60usize {
        let first = noon(20 - (i % 15) as i64) + Duration::hours((i % 7) as i64);
        let status = match i % 9 {
            0 => Status::Resolved,
            1 => Status::Suppressed,
            _ => Status::Open,
        };
        let f = finding(i, severities[i % 5], status, first);
        write(pool, std::slice::from_ref(&f)).await;
        let mut cur = f.clone();
        let mut at = first;
        for step in 0..(i % 5) {
            at += Duration::hours(20 + (i * 7 + step * 13) as i64 % 60);
            let next = match (cur.status, (i + step) % 4) {
                (Status::Open, 0) => Status::Suppressed,
                (Status::Open, _) => Status::Resolved,
                (Status::Resolved, 3) => Status::Suppressed,
                (Status::Resolved, _) => Status::Open,
                (Status::Suppressed, 2) => Status::Resolved,
                (Status::Suppressed, _) => Status::Open,
            };
            let mut g = changed(&cur, next, at.min(Utc::now()));
            if (i + step) % 6 == 0 {
                g.severity = severities[(i + step + 2) % 5];
            }
            write(pool, std::slice::from_ref(&g)).await;
            cur = g;
        }
        all.push(cur);
    }
    all
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn a_days_rollup_equals_the_counts_recomputed_from_the_events(pool: PgPool) {
    varied_history(&pool).await;
    let sla = SlaConfig {
        critical: 2,
        high: 4,
        medium: 6,
        low: 8,
        informational: None,
    };
    let from = today() - Duration::days(25);
    let written = rollups::recompute(&pool, from, today(), &sla)
        .await
        .unwrap();
    let stored = stored_rollups(&pool).await;
    let expected = expected_rollups(&pool, from, today(), &sla).await;
    assert_eq!(written as usize, stored.len());
    assert!(stored.values().any(|c| c.reopened > 0), "{stored:?}");
    assert!(stored.values().any(|c| c.past_sla > 0), "{stored:?}");
    assert!(stored.values().any(|c| c.resolved > 0), "{stored:?}");
    for (key, want) in &expected {
        assert_eq!(stored.get(key), Some(want), "{key:?}");
    }
    assert_eq!(stored.len(), expected.len());
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn recompute_is_idempotent_and_replaces_only_its_days(pool: PgPool) {
    varied_history(&pool).await;
    let sla = SlaConfig::default();
    let from = today() - Duration::days(25);
    rollups::recompute(&pool, from, today(), &sla)
        .await
        .unwrap();
    let first = stored_rollups(&pool).await;
    rollups::recompute(&pool, from, today(), &sla)
        .await
        .unwrap();
    assert_eq!(stored_rollups(&pool).await, first);
    // A stray row inside a recomputed range goes; the days outside it stay.
    sqlx::query(
        "INSERT INTO daily_rollups (day, account_id, region, source, severity, open_count) \
         VALUES ($1, '999999999999', 'us-east-1', 'guardduty', 'high', 5), \
                ($2, '999999999999', 'us-east-1', 'guardduty', 'high', 7)",
    )
    .bind(today() - Duration::days(3))
    .bind(today() - Duration::days(40))
    .execute(&pool)
    .await
    .unwrap();
    rollups::recompute(&pool, today() - Duration::days(5), today(), &sla)
        .await
        .unwrap();
    let after = stored_rollups(&pool).await;
    let stray: Vec<_> = after
        .keys()
        .filter(|k| k.1 == "999999999999")
        .map(|k| k.0)
        .collect();
    assert_eq!(stray, [today() - Duration::days(40)]);
    // Retention: the 40-day-old row is past 30 days.
    assert_eq!(rollups::purge(&pool, 30).await.unwrap(), 1);
    assert_eq!(stored_rollups(&pool).await, first);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn reopened_findings_count_once_as_open(pool: PgPool) {
    let f = finding(1, Severity::High, Status::Open, noon(6));
    write(&pool, std::slice::from_ref(&f)).await;
    write(&pool, &[changed(&f, Status::Resolved, noon(4))]).await;
    write(&pool, &[changed(&f, Status::Open, noon(2))]).await;
    rollups::recompute(
        &pool,
        today() - Duration::days(8),
        today(),
        &SlaConfig::default(),
    )
    .await
    .unwrap();
    let all = TrendFilter::default();
    let from = today() - Duration::days(7);
    let open = trends::open_series(&pool, from, today(), Interval::Day, TrendGroup::None, &all)
        .await
        .unwrap();
    let counts: Vec<i64> = open.iter().map(|p| p.count).collect();
    // 7 days ago: nothing; 6 and 5: open; 4 and 3: resolved; 2, 1, today: open again.
    assert_eq!(counts, [0, 1, 1, 0, 0, 1, 1, 1]);
    let flow = trends::flow_series(&pool, from, today(), Interval::Day, &all)
        .await
        .unwrap();
    let flows: Vec<(i64, i64, i64)> = flow
        .iter()
        .map(|p| (p.new, p.resolved, p.reopened))
        .collect();
    assert_eq!(
        flows,
        [
            (0, 0, 0),
            (1, 0, 0),
            (0, 0, 0),
            (0, 1, 0),
            (0, 0, 0),
            (0, 0, 1),
            (0, 0, 0),
            (0, 0, 0)
        ]
    );
    // Grouped by severity, weekly: every period has a point for "high".
    let weekly = trends::open_series(
        &pool,
        from,
        today(),
        Interval::Week,
        TrendGroup::Severity,
        &all,
    )
    .await
    .unwrap();
    assert!(weekly.iter().all(|p| p.key.as_deref() == Some("high")));
    assert!(
        weekly
            .iter()
            .all(|p| p.date.weekday() == chrono::Weekday::Mon)
    );
    assert_eq!(weekly.last().unwrap().count, 1);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn findings_first_seen_closed_are_not_new(pool: PgPool) {
    // A passed control (first seen resolved) that fails later, and one first seen suppressed.
    let passed = finding(1, Severity::Medium, Status::Resolved, noon(5));
    let quiet = finding(2, Severity::Low, Status::Suppressed, noon(5));
    write(&pool, &[passed.clone(), quiet.clone()]).await;
    write(
        &pool,
        &[
            changed(&passed, Status::Open, noon(3)),
            changed(&quiet, Status::Open, noon(3)),
        ],
    )
    .await;
    rollups::recompute(
        &pool,
        today() - Duration::days(6),
        today(),
        &SlaConfig::default(),
    )
    .await
    .unwrap();
    let flow = trends::flow_series(
        &pool,
        today() - Duration::days(6),
        today(),
        Interval::Month,
        &TrendFilter::default(),
    )
    .await
    .unwrap();
    let total: (i64, i64, i64) = flow.iter().fold((0, 0, 0), |a, p| {
        (a.0 + p.new, a.1 + p.resolved, a.2 + p.reopened)
    });
    assert_eq!(total, (0, 0, 1));
    let open = trends::open_series(
        &pool,
        today() - Duration::days(4),
        today() - Duration::days(3),
        Interval::Day,
        TrendGroup::None,
        &TrendFilter::default(),
    )
    .await
    .unwrap();
    assert_eq!(open.iter().map(|p| p.count).collect::<Vec<_>>(), [0, 2]);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn mean_and_median_time_to_resolve(pool: PgPool) {
    // High: resolved after 2, 6 and 1 days: mean 3, median 2.
    for (i, days) in [(1usize, 2i64), (2, 6), (3, 1)] {
        let f = finding(i, Severity::High, Status::Open, noon(10));
        write(&pool, std::slice::from_ref(&f)).await;
        write(&pool, &[changed(&f, Status::Resolved, noon(10 - days))]).await;
    }
    // Critical: resolved after 1 day, reopened, resolved 3 days after reopening.
    let c = finding(4, Severity::Critical, Status::Open, noon(10));
    write(&pool, std::slice::from_ref(&c)).await;
    write(&pool, &[changed(&c, Status::Resolved, noon(9))]).await;
    write(&pool, &[changed(&c, Status::Open, noon(6))]).await;
    write(&pool, &[changed(&c, Status::Resolved, noon(3))]).await;
    // Still open: not counted.
    write(&pool, &[finding(5, Severity::High, Status::Open, noon(10))]).await;

    let all = TrendFilter::default();
    let m = trends::mttr(&pool, today() - Duration::days(10), today(), &all)
        .await
        .unwrap();
    let got: Vec<(String, i64, f64, f64)> = m
        .iter()
        .map(|m| (m.severity.clone(), m.resolved, m.mean_days, m.median_days))
        .collect();
    assert_eq!(
        got,
        [
            ("critical".to_owned(), 2, 2.0, 2.0),
            ("high".to_owned(), 3, 3.0, 2.0)
        ]
    );
    // Only what was resolved in the range: the 6-day high and the second critical episode.
    let m = trends::mttr(&pool, today() - Duration::days(5), today(), &all)
        .await
        .unwrap();
    let got: Vec<(String, i64, f64)> = m
        .iter()
        .map(|m| (m.severity.clone(), m.resolved, m.mean_days))
        .collect();
    assert_eq!(
        got,
        [("critical".to_owned(), 1, 3.0), ("high".to_owned(), 1, 6.0)]
    );
    let other_account = TrendFilter {
        accounts: vec!["999999999999".into()],
        ..Default::default()
    };
    assert!(
        trends::mttr(&pool, today() - Duration::days(10), today(), &other_account)
            .await
            .unwrap()
            .is_empty()
    );
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn sla_boundaries(pool: PgPool) {
    let sla = SlaConfig::default();
    // Critical (7 days): exactly at its SLA day, and one day past. High (30): 31 days.
    // Informational: no SLA, however old. A resolved critical: not open.
    let at_sla = finding(1, Severity::Critical, Status::Open, noon(7));
    let past = finding(2, Severity::Critical, Status::Open, noon(8));
    let high = finding(3, Severity::High, Status::Open, noon(31));
    let info = finding(4, Severity::Informational, Status::Open, noon(400));
    let gone = finding(5, Severity::Critical, Status::Resolved, noon(20));
    write(
        &pool,
        &[at_sla.clone(), past.clone(), high.clone(), info, gone],
    )
    .await;

    let all = TrendFilter::default();
    let breaches = trends::sla_breaches(&pool, &all, &sla, 100).await.unwrap();
    let got: Vec<(uuid::Uuid, i64, i64)> = breaches
        .iter()
        .map(|b| (b.id, b.age_days, b.sla_days))
        .collect();
    // Most overdue first: the high one is 1 day over, the critical one 1 day over too, and
    // older.
    assert_eq!(
        got,
        [
            (high.key.finding_id(), 31, 30),
            (past.key.finding_id(), 8, 7)
        ]
    );
    assert_eq!(
        trends::sla_breaches(&pool, &all, &sla, 1)
            .await
            .unwrap()
            .len(),
        1
    );

    rollups::recompute(&pool, today() - Duration::days(2), today(), &sla)
        .await
        .unwrap();
    let series = trends::sla_series(
        &pool,
        today() - Duration::days(2),
        today(),
        Interval::Day,
        &all,
    )
    .await
    .unwrap();
    let got: Vec<(i64, i64)> = series.iter().map(|p| (p.open, p.past_sla)).collect();
    // Two days ago: the "past" critical was 6 days old, the high one 29. Yesterday: the
    // critical exactly at 7 (not past), the high at 30 (not past). Today: both past.
    assert_eq!(got, [(4, 0), (4, 0), (4, 2)]);
}

/// A past day's overdue list: the findings open and past their SLA at that day's end, with
/// the severity and age they had then.
#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn a_past_days_overdue_list_is_that_days(pool: PgPool) {
    let sla = SlaConfig::default();
    let day = today() - Duration::days(10);
    // Critical, 10 days old then (3 over), resolved since: listed.
    let resolved_since = finding(1, Severity::Critical, Status::Open, noon(20));
    // Critical, 6 days old then: not yet past (past now).
    let young = finding(2, Severity::Critical, Status::Open, noon(16));
    // High, resolved 12 days ago: not open then.
    let resolved_before = finding(3, Severity::High, Status::Open, noon(60));
    // Medium then (30 days old of 90), critical since 3 days ago: not past then.
    let raised = finding(4, Severity::Medium, Status::Open, noon(40));
    // High, 40 days old then (10 over), still open: listed first.
    let old_high = finding(5, Severity::High, Status::Open, noon(50));
    // First seen after the day: not there then.
    let later = finding(6, Severity::Critical, Status::Open, noon(2));
    write(
        &pool,
        &[
            resolved_since.clone(),
            young.clone(),
            resolved_before.clone(),
            raised.clone(),
            old_high.clone(),
        ],
    )
    .await;
    let mut raised_now = changed(&raised, Status::Open, noon(3));
    raised_now.severity = Severity::Critical;
    write(
        &pool,
        &[
            changed(&resolved_since, Status::Resolved, noon(5)),
            changed(&resolved_before, Status::Resolved, noon(12)),
            raised_now,
        ],
    )
    .await;
    write(&pool, &[later]).await;

    let all = TrendFilter::default();
    let then = trends::sla_breaches_on(&pool, day, &all, &sla, 100)
        .await
        .unwrap();
    let got: Vec<(uuid::Uuid, &str, i64, i64)> = then
        .iter()
        .map(|b| (b.id, b.severity.as_str(), b.age_days, b.sla_days))
        .collect();
    assert_eq!(
        got,
        [
            (old_high.key.finding_id(), "high", 40, 30),
            (resolved_since.key.finding_id(), "critical", 10, 7),
        ]
    );
    // Now: the young critical and the raised one are overdue; the resolved ones are not.
    let now: Vec<uuid::Uuid> = trends::sla_breaches(&pool, &all, &sla, 100)
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(now.len(), 3, "{now:?}");
    assert!(now.contains(&young.key.finding_id()) && now.contains(&raised.key.finding_id()));
    // Filters apply to it as to the rest.
    let elsewhere = TrendFilter {
        accounts: vec!["000000000000".into()],
        ..Default::default()
    };
    assert!(
        trends::sla_breaches_on(&pool, day, &elsewhere, &sla, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// On every past day of a varied history, the overdue list is as long as the rollups'
/// past-SLA count: both read a finding's state at the day's end the same way.
#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn a_past_days_overdue_list_agrees_with_its_rollups(pool: PgPool) {
    varied_history(&pool).await;
    // Short SLAs, so that every severity has findings past them within the history.
    let sla = SlaConfig {
        critical: 1,
        high: 2,
        medium: 3,
        low: 4,
        informational: Some(5),
    };
    let from = today() - Duration::days(21);
    rollups::recompute(&pool, from, today(), &sla)
        .await
        .unwrap();
    let all = TrendFilter::default();
    let mut listed_in_all = 0;
    for n in 1..=21 {
        let day = today() - Duration::days(n);
        let counted: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(past_sla_count), 0)::int8 FROM daily_rollups WHERE day = $1",
        )
        .bind(day)
        .fetch_one(&pool)
        .await
        .unwrap();
        let listed = trends::sla_breaches_on(&pool, day, &all, &sla, 10_000)
            .await
            .unwrap();
        assert_eq!(listed.len() as i64, counted, "{day}");
        listed_in_all += listed.len();
    }
    assert!(listed_in_all > 50, "{listed_in_all}");
}

async fn call(pool: &PgPool, uri: &str, token: &str) -> (StatusCode, String, String) {
    let request = Request::get(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    crate::support::oneshot(pool, request).await
}

async fn json(pool: &PgPool, uri: &str, token: &str) -> Value {
    let (status, _, body) = call(pool, uri, token).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn token(pool: &PgPool) -> String {
    let t = tokens::generate();
    assert!(
        db::tokens::create(pool, "trends", &tokens::hash(&t), None)
            .await
            .unwrap()
    );
    t
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn todays_point_equals_the_current_open_count(pool: PgPool) {
    let t = token(&pool).await;
    // 240 findings first seen 30 days ago; 12 resolved, 5 suppressed, then 3 of the resolved
    // reopened, over the last days.
    let mut batch = samples::control_findings(0, 240, noon(5));
    write(&pool, &batch).await;
    for (n, f) in batch.iter_mut().take(17).enumerate() {
        let status = if n < 12 {
            Status::Resolved
        } else {
            Status::Suppressed
        };
        *f = changed(f, status, noon(3 - (n % 3) as i64));
    }
    write(&pool, &batch[..17]).await;
    for f in batch.iter_mut().take(3) {
        *f = changed(f, Status::Open, Utc::now() - Duration::minutes(5));
    }
    write(&pool, &batch[..3]).await;
    rollups::recompute(
        &pool,
        today() - Duration::days(1),
        today(),
        &SlaConfig::default(),
    )
    .await
    .unwrap();
    db::counts::refresh(&pool).await.unwrap();

    let stats = json(&pool, "/api/v1/stats/open", &t).await;
    let total = stats["total"].as_i64().unwrap();
    assert_eq!(total, 240 - 12 - 5 + 3);
    let open = json(&pool, "/api/v1/trends/open?interval=day", &t).await;
    let points = open["points"].as_array().unwrap();
    assert_eq!(points.len(), 90);
    let last = points.last().unwrap();
    assert_eq!(last["date"], today().to_string());
    assert_eq!(last["count"].as_i64().unwrap(), total);
    assert_eq!(last.as_object().unwrap().len(), 2, "{last}");
    // Grouped by severity: each point names its severity, and today's add up to the total.
    let by = json(
        &pool,
        "/api/v1/trends/open?interval=day&group_by=severity",
        &t,
    )
    .await;
    let todays: i64 = by["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["date"] == today().to_string())
        .map(|p| {
            assert!(p["severity"].is_string(), "{p}");
            p["count"].as_i64().unwrap()
        })
        .sum();
    assert_eq!(todays, total);
    // Filtered to one account.
    let one = json(
        &pool,
        "/api/v1/trends/open?account=100000000000&from=2020-01-01&to=2020-01-31",
        &t,
    )
    .await;
    assert_eq!(one["points"].as_array().unwrap().len(), 31);
    // Flow: the resolutions of the last days.
    let flow = json(&pool, "/api/v1/trends/flow?interval=month", &t).await;
    let resolved: i64 = flow["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["resolved"].as_i64().unwrap())
        .sum();
    // Only yesterday and today were rolled up.
    let since_yesterday = (0..12).filter(|n| 3 - (n % 3) <= 1).count() as i64;
    assert_eq!(resolved, since_yesterday);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn the_apis_400s_name_the_parameter(pool: PgPool) {
    let t = token(&pool).await;
    for (uri, name) in [
        ("/api/v1/trends/open?interval=hour", "interval"),
        ("/api/v1/trends/open?from=2026-02-30", "from"),
        ("/api/v1/trends/open?to=tomorrow", "to"),
        ("/api/v1/trends/open?group_by=status", "group_by"),
        ("/api/v1/trends/open?from=2020-01-01&to=2024-01-01", "from"),
        ("/api/v1/trends/open?from=2024-01-02&to=2024-01-01", "from"),
        ("/api/v1/trends/open?account=abc", "account"),
        ("/api/v1/trends/flow?group_by=severity", "group_by"),
        ("/api/v1/trends/flow?format=pdf", "format"),
        ("/api/v1/trends/mttr?interval=week", "interval"),
        ("/api/v1/trends/mttr?region=moon-1", "region"),
        ("/api/v1/sla/breaches?limit=0", "limit"),
        ("/api/v1/sla/breaches?source=ec2", "source"),
    ] {
        let (status, _, body) = call(&pool, uri, &t).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "invalid_parameter", "{uri}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{name}:")), "{uri}: {message}");
    }
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn every_endpoint_answers_csv(pool: PgPool) {
    let t = token(&pool).await;
    let f = finding(1, Severity::Critical, Status::Open, noon(12));
    let mut titled = f.clone();
    titled.title = "Bucket \"logs\", public".into();
    write(&pool, &[titled]).await;
    let r = finding(2, Severity::High, Status::Open, noon(5));
    write(&pool, std::slice::from_ref(&r)).await;
    write(&pool, &[changed(&r, Status::Resolved, noon(1))]).await;
    rollups::recompute(
        &pool,
        today() - Duration::days(13),
        today(),
        &SlaConfig::default(),
    )
    .await
    .unwrap();

    let from = today() - Duration::days(2);
    let (s, ct, body) = call(
        &pool,
        &format!("/api/v1/trends/open?from={from}&format=csv"),
        &t,
    )
    .await;
    assert_eq!(
        (s, ct.as_str()),
        (StatusCode::OK, "text/csv; charset=utf-8")
    );
    let want = format!(
        "date,count\n{},2\n{},1\n{},1\n",
        from,
        from + Duration::days(1),
        today()
    );
    assert_eq!(body, want);

    let (_, _, body) = call(
        &pool,
        &format!("/api/v1/trends/open?from={from}&to={from}&group_by=severity&format=csv"),
        &t,
    )
    .await;
    assert_eq!(
        body,
        format!("date,severity,count\n{from},critical,1\n{from},high,1\n")
    );

    let (_, _, body) = call(
        &pool,
        &format!("/api/v1/trends/flow?from={from}&format=csv"),
        &t,
    )
    .await;
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "date,new,resolved,reopened");
    assert_eq!(lines[2], format!("{},0,1,0", from + Duration::days(1)));

    let (_, _, body) = call(&pool, "/api/v1/trends/mttr?format=csv", &t).await;
    assert_eq!(
        body,
        "severity,resolved,mean_days,median_days\nhigh,1,4,4\n"
    );

    let (_, ct, body) = call(&pool, "/api/v1/sla/breaches?format=csv", &t).await;
    assert_eq!(ct, "text/csv; charset=utf-8");
    let mut rows = csv::Reader::from_reader(body.as_bytes());
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 1);
    assert_eq!(&records[0][0], f.key.finding_id().to_string());
    assert_eq!(&records[0][1], "Bucket \"logs\", public");
    assert_eq!((&records[0][7], &records[0][8]), ("12", "7"));

    let v = json(&pool, "/api/v1/sla/breaches", &t).await;
    assert_eq!(v["items"][0]["age_days"], 12);
    assert_eq!(v["items"][0]["severity"], "critical");
}
