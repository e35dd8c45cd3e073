//! `db::findings::upsert_batch`: idempotency, events, deduplication, volume.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::json;
use sightline::db::findings::{self, UpsertOutcome};
use sightline::domain::{CanonicalKey, Finding, Severity, Source, Status};
use sightline::sim::samples;
use sqlx::PgPool;

fn t(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
}

async fn upsert(pool: &PgPool, batch: &[Finding]) -> UpsertOutcome {
    let mut tx = pool.begin().await.unwrap();
    let out = findings::upsert_batch(&mut tx, batch).await.unwrap();
    tx.commit().await.unwrap();
    out
}

/// A GuardDuty finding as read natively (`via` GuardDuty) or as its Security Hub copy.
fn guardduty(via: Source, severity: Severity, status: Status, updated: DateTime<Utc>) -> Finding {
    let arn = "arn:aws:guardduty:us-east-1:111111111111:detector/12abc34d/finding/8cb8d3ff";
    Finding {
        key: CanonicalKey::guardduty(arn),
        source: Source::GuardDuty,
        via,
        native_id: arn.into(),
        account_id: "111111111111".parse().unwrap(),
        region: "us-east-1".parse().unwrap(),
        severity,
        status,
        title: if via == Source::GuardDuty {
            "native title"
        } else {
            "copy title"
        }
        .into(),
        finding_type: "UnauthorizedAccess:EC2/SSHBruteForce".into(),
        resource_type: Some("AwsEc2Instance".into()),
        resource_id: Some("i-99999999".into()),
        control_id: None,
        first_observed_at: t(1, 0),
        updated_at: updated,
        seen_at: updated + Duration::minutes(5),
        raw: json!({ "via": via.as_str(), "updatedAt": updated.to_rfc3339() }),
    }
}

async fn kinds(pool: &PgPool, f: &Finding) -> Vec<String> {
    findings::events(pool, f.key.finding_id())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn same_batch_twice_changes_nothing(pool: PgPool) {
    let batch = samples::control_findings(0, 500, t(20, 12));
    let first = upsert(&pool, &batch).await;
    assert_eq!(
        first,
        UpsertOutcome {
            inserted: 500,
            updated: 0,
            events: 500
        }
    );
    let before = findings::get(&pool, batch[42].key.finding_id())
        .await
        .unwrap()
        .unwrap();

    let second = upsert(&pool, &batch).await;
    assert_eq!(
        second,
        UpsertOutcome {
            inserted: 0,
            updated: 0,
            events: 0
        }
    );
    let after = findings::get(&pool, batch[42].key.finding_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(format!("{before:?}"), format!("{after:?}"));
    assert_eq!(findings::count(&pool).await.unwrap(), 500);
    assert_eq!(kinds(&pool, &batch[42]).await, ["new"]);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn open_resolved_open_records_new_resolved_reopened(pool: PgPool) {
    let open = guardduty(Source::GuardDuty, Severity::High, Status::Open, t(2, 0));
    let resolved = guardduty(Source::GuardDuty, Severity::High, Status::Resolved, t(3, 0));
    let reopened = guardduty(Source::GuardDuty, Severity::High, Status::Open, t(4, 0));
    assert_eq!(upsert(&pool, std::slice::from_ref(&open)).await.events, 1);
    assert_eq!(
        upsert(&pool, &[resolved]).await,
        UpsertOutcome {
            inserted: 0,
            updated: 1,
            events: 1
        }
    );
    assert_eq!(upsert(&pool, &[reopened]).await.events, 1);

    let events = findings::events(&pool, open.key.finding_id())
        .await
        .unwrap();
    let summary: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.kind.as_str(),
                e.from_status.as_deref(),
                e.to_status.as_str(),
                e.at,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("new", None, "open", t(1, 0)),
            ("resolved", Some("open"), "resolved", t(3, 0)),
            ("reopened", Some("resolved"), "open", t(4, 0)),
        ]
    );
    let row = findings::get(&pool, open.key.finding_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "open");
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn severity_change_and_suppression_are_events(pool: PgPool) {
    let f = guardduty(Source::GuardDuty, Severity::Medium, Status::Open, t(2, 0));
    upsert(&pool, std::slice::from_ref(&f)).await;
    let raised = guardduty(
        Source::GuardDuty,
        Severity::Critical,
        Status::Suppressed,
        t(5, 0),
    );
    assert_eq!(upsert(&pool, &[raised]).await.events, 2);
    let events = findings::events(&pool, f.key.finding_id()).await.unwrap();
    let sev = events
        .iter()
        .find(|e| e.kind == "severity_changed")
        .unwrap();
    assert_eq!(
        (sev.from_severity.as_deref(), sev.to_severity.as_str()),
        (Some("medium"), "critical")
    );
    let sup = events.iter().find(|e| e.kind == "suppressed").unwrap();
    assert_eq!(
        (sup.from_status.as_deref(), sup.to_status.as_str()),
        (Some("open"), "suppressed")
    );
    let row = findings::get(&pool, f.key.finding_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.severity.as_str(), row.status.as_str()),
        ("critical", "suppressed")
    );
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn an_older_update_never_overwrites_a_newer_one(pool: PgPool) {
    let newer = guardduty(Source::GuardDuty, Severity::Low, Status::Resolved, t(6, 0));
    let older = guardduty(Source::GuardDuty, Severity::High, Status::Open, t(2, 0));
    upsert(&pool, std::slice::from_ref(&newer)).await;
    let out = upsert(&pool, &[older]).await;
    assert_eq!(out.events, 0);
    let row = findings::get(&pool, newer.key.finding_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.severity.as_str(), row.status.as_str(), row.updated_at),
        ("low", "resolved", t(6, 0))
    );
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn security_hub_copy_then_native_is_one_finding(pool: PgPool) {
    let copy = guardduty(Source::SecurityHub, Severity::Medium, Status::Open, t(2, 0));
    let native = guardduty(Source::GuardDuty, Severity::High, Status::Open, t(2, 0));
    assert_eq!(upsert(&pool, std::slice::from_ref(&copy)).await.inserted, 1);
    let out = upsert(&pool, std::slice::from_ref(&native)).await;
    assert_eq!((out.inserted, out.updated), (0, 1));
    assert_eq!(findings::count(&pool).await.unwrap(), 1);

    let row = findings::get(&pool, native.key.finding_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.source, "guardduty");
    assert_eq!(
        row.title, "native title",
        "the native report is authoritative"
    );
    assert_eq!(row.severity, "high");
    assert_eq!(row.raw["via"], "guardduty");
    let mut reporters: Vec<_> = row
        .provenance
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    reporters.sort();
    assert_eq!(reporters, ["guardduty", "securityhub"]);

    // A later copy from Security Hub still does not overwrite the native fields.
    let later_copy = guardduty(
        Source::SecurityHub,
        Severity::Low,
        Status::Resolved,
        t(9, 0),
    );
    assert_eq!(upsert(&pool, &[later_copy]).await.events, 0);
    let row = findings::get(&pool, native.key.finding_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            row.severity.as_str(),
            row.status.as_str(),
            row.title.as_str()
        ),
        ("high", "open", "native title")
    );
    assert_eq!(kinds(&pool, &native).await, ["new", "severity_changed"]);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn native_then_copy_keeps_native_and_records_both(pool: PgPool) {
    let native = guardduty(Source::GuardDuty, Severity::High, Status::Open, t(2, 0));
    let copy = guardduty(Source::SecurityHub, Severity::Medium, Status::Open, t(3, 0));
    upsert(&pool, std::slice::from_ref(&native)).await;
    let out = upsert(&pool, &[copy]).await;
    assert_eq!((out.inserted, out.updated, out.events), (0, 1, 0));
    let row = findings::get(&pool, native.key.finding_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.severity.as_str(), row.title.as_str()),
        ("high", "native title")
    );
    assert_eq!(row.provenance["securityhub"]["native_id"], native.native_id);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn duplicates_within_a_batch_keep_the_newest(pool: PgPool) {
    let old = guardduty(Source::GuardDuty, Severity::Low, Status::Open, t(2, 0));
    let new = guardduty(Source::GuardDuty, Severity::High, Status::Open, t(3, 0));
    let out = upsert(&pool, &[new.clone(), old]).await;
    assert_eq!((out.inserted, out.events), (1, 1));
    assert_eq!(
        findings::get(&pool, new.key.finding_id())
            .await
            .unwrap()
            .unwrap()
            .severity,
        "high"
    );
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn ten_thousand_findings_in_batches_lose_nothing(pool: PgPool) {
    let all = samples::control_findings(0, 10_000, t(20, 12));
    let mut inserted = 0;
    // Batches that overlap by 100 rows: the overlap is neither lost nor counted twice.
    for start in (0..10_000).step_by(900) {
        let end = (start + 1_000).min(10_000);
        inserted += upsert(&pool, &all[start..end]).await.inserted;
    }
    assert_eq!(inserted, 10_000);
    assert_eq!(findings::count(&pool).await.unwrap(), 10_000);
    for i in [0, 1, 899, 900, 999, 5_432, 9_999] {
        let row = findings::get(&pool, all[i].key.finding_id())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.canonical_key, all[i].key.as_str());
        assert_eq!(row.raw, all[i].raw);
    }
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM finding_events WHERE kind = 'new'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events, 10_000);
}

/// Every event carries its finding's account (written by `upsert_batch` and `resolve_unseen`),
/// and an account's recent events are its findings' newest events, newest first, no other
/// account's.
#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn events_carry_their_findings_account_and_an_accounts_newest_come_first(pool: PgPool) {
    let mut batch = samples::control_findings(0, 120, t(2, 0));
    upsert(&pool, &batch).await;
    // Later changes to some of them, at different times.
    for (i, f) in batch.iter_mut().enumerate().filter(|(i, _)| i % 3 == 0) {
        f.status = Status::Resolved;
        f.updated_at = t(3, (i % 24) as u32);
    }
    upsert(&pool, &batch).await;
    // A full sweep of one (account, region) that no longer sees anything resolves the rest.
    let (account, region) = (batch[1].account_id.to_string(), batch[1].region.to_string());
    let mut conn = pool.acquire().await.unwrap();
    let resolved = findings::resolve_unseen(
        &mut conn,
        std::slice::from_ref(&account),
        &region,
        "securityhub",
        &[],
        t(4, 0),
    )
    .await
    .unwrap();
    assert!(resolved > 0);

    let (events, astray): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE e.account_id <> f.account_id)
         FROM finding_events e JOIN findings f ON f.id = e.finding_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(events > 160, "{events} events");
    assert_eq!(astray, 0);

    let accounts: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT account_id FROM findings ORDER BY 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(accounts.len() > 1);
    for a in &accounts {
        // By the findings' account, not the events': the answer the page gave before events
        // carried one.
        let expected: Vec<(uuid::Uuid, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT e.finding_id, e.kind, e.at FROM finding_events e
             JOIN findings f ON f.id = e.finding_id
             WHERE f.account_id = $1 ORDER BY e.at DESC, e.id DESC LIMIT 5",
        )
        .bind(a)
        .fetch_all(&pool)
        .await
        .unwrap();
        let got: Vec<_> = sightline::db::posture::recent_events(&pool, a, 5)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.finding_id, e.kind, e.at))
            .collect();
        assert_eq!(got, expected, "account {a}");
    }
    let newest = sightline::db::posture::recent_events(&pool, &account, 1)
        .await
        .unwrap();
    assert_eq!(newest[0].kind, "resolved");
    assert_eq!(newest[0].at, t(4, 0));
}
