//! Findings: the canonical rows and their events.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::Finding;

/// What one `upsert_batch` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// Findings not in the database before.
    pub inserted: u64,
    /// Existing findings whose row changed (content, or a new or newer provenance).
    pub updated: u64,
    /// Finding events recorded (new, status and severity changes).
    pub events: u64,
}

/// Stores a batch of normalised findings in one statement and records an event for each real
/// change. Idempotent: the same batch twice changes no row and records no event.
///
/// Merging rules, per canonical finding:
/// - the native service's report is authoritative: a Security Hub copy fills the row only
///   until the native report has been seen, and never overwrites it afterwards;
/// - within one reporter, an older `updated_at` never overwrites a newer one;
/// - `provenance` accumulates every service that reported the finding; `first_seen_at` only
///   moves back and `last_seen_at` only forward.
/// - A report identical to what is stored writes nothing, not even `last_seen_at`: re-reading
///   unchanged findings (the incremental overlap, the daily full sweep) costs no writes. So
///   `last_seen_at` is when Sightline last received a changed report; that a source still
///   reports an unchanged finding is recorded per target (`poll_targets.last_success_at`).
///
/// Reports of the same finding within one batch are reduced to the newest (native first), and
/// rows are written in id order, so concurrent batches cannot deadlock on each other. Each
/// row's old and new state come from the same atomic write (`previous_status`), so events stay
/// right when two pollers write the same finding at once.
pub async fn upsert_batch(
    conn: &mut PgConnection,
    findings: &[Finding],
) -> Result<UpsertOutcome, sqlx::Error> {
    if findings.is_empty() {
        return Ok(UpsertOutcome::default());
    }
    let mut newest: HashMap<Uuid, &Finding> = HashMap::with_capacity(findings.len());
    for f in findings {
        let id = f.key.finding_id();
        match newest.get(&id) {
            Some(kept) if (kept.is_native(), kept.updated_at) >= (f.is_native(), f.updated_at) => {}
            _ => {
                newest.insert(id, f);
            }
        }
    }
    let mut batch: Vec<(Uuid, &Finding)> = newest.into_iter().collect();
    batch.sort_unstable_by_key(|(id, _)| *id);

    let n = batch.len();
    let mut ids = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    let mut sources = Vec::with_capacity(n);
    let mut provenances = Vec::with_capacity(n);
    let mut accounts = Vec::with_capacity(n);
    let mut regions = Vec::with_capacity(n);
    let mut severities = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut titles = Vec::with_capacity(n);
    let mut types = Vec::with_capacity(n);
    let mut resource_types = Vec::with_capacity(n);
    let mut resource_ids = Vec::with_capacity(n);
    let mut control_ids = Vec::with_capacity(n);
    let mut first_seen = Vec::with_capacity(n);
    let mut updated = Vec::with_capacity(n);
    let mut last_seen = Vec::with_capacity(n);
    let mut raws = Vec::with_capacity(n);
    for (id, f) in batch {
        ids.push(id);
        keys.push(f.key.as_str().to_owned());
        sources.push(f.source.as_str().to_owned());
        provenances.push(json!({
            f.via.as_str(): {
                "native_id": f.native_id,
                "updated_at": f.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            }
        }));
        accounts.push(f.account_id.to_string());
        regions.push(f.region.to_string());
        severities.push(f.severity.as_str().to_owned());
        statuses.push(f.status.as_str().to_owned());
        titles.push(f.title.clone());
        types.push(f.finding_type.clone());
        resource_types.push(f.resource_type.clone());
        resource_ids.push(f.resource_id.clone());
        control_ids.push(f.control_id.clone());
        first_seen.push(f.first_observed_at);
        updated.push(f.updated_at);
        last_seen.push(f.seen_at);
        raws.push(f.raw.clone());
    }

    // `finding_report_wins` (in the migrations) decides whether the incoming report may
    // overwrite the row's fields; the sub-select picks the winner's values in one place.
    let row = sqlx::query!(
        r#"
        WITH input AS (
            SELECT * FROM UNNEST(
                $1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::text[], $7::text[],
                $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
                $14::timestamptz[], $15::timestamptz[], $16::timestamptz[], $17::jsonb[]
            ) AS t(id, canonical_key, source, provenance, account_id, region, severity, status,
                   title, finding_type, resource_type, resource_id, control_id,
                   first_seen_at, updated_at, last_seen_at, raw)
        ),
        up AS (
            INSERT INTO findings AS f (
                id, canonical_key, source, provenance, account_id, region, severity, status, title,
                finding_type, resource_type, resource_id, control_id, first_seen_at, last_seen_at,
                updated_at, raw)
            SELECT id, canonical_key, source::finding_source, provenance, account_id, region,
                   severity::severity, status::finding_status, title, finding_type, resource_type,
                   resource_id, control_id, first_seen_at, last_seen_at, updated_at, raw
            FROM input
            ON CONFLICT (id) DO UPDATE SET
                (account_id, region, severity, status, title, finding_type, resource_type,
                 resource_id, control_id, updated_at, raw) = (
                    SELECT excluded.account_id, excluded.region, excluded.severity, excluded.status,
                           excluded.title, excluded.finding_type, excluded.resource_type,
                           excluded.resource_id, excluded.control_id, excluded.updated_at, excluded.raw
                    WHERE finding_report_wins(excluded.provenance, excluded.source, excluded.updated_at, f.provenance, f.source, f.updated_at)
                    UNION ALL
                    SELECT f.account_id, f.region, f.severity, f.status, f.title, f.finding_type,
                           f.resource_type, f.resource_id, f.control_id, f.updated_at, f.raw
                    WHERE NOT finding_report_wins(excluded.provenance, excluded.source, excluded.updated_at, f.provenance, f.source, f.updated_at)
                ),
                previous_status = f.status,
                previous_severity = f.severity,
                provenance = merge_provenance(f.provenance, excluded.provenance),
                first_seen_at = LEAST(f.first_seen_at, excluded.first_seen_at),
                last_seen_at = GREATEST(f.last_seen_at, excluded.last_seen_at)
            WHERE excluded.first_seen_at < f.first_seen_at
               OR merge_provenance(f.provenance, excluded.provenance) <> f.provenance
               OR (finding_report_wins(excluded.provenance, excluded.source, excluded.updated_at, f.provenance, f.source, f.updated_at)
                   AND (f.account_id, f.region, f.severity, f.status, f.title, f.finding_type,
                        f.resource_type, f.resource_id, f.control_id, f.updated_at, f.raw)
                       IS DISTINCT FROM
                       (excluded.account_id, excluded.region, excluded.severity, excluded.status,
                        excluded.title, excluded.finding_type, excluded.resource_type,
                        excluded.resource_id, excluded.control_id, excluded.updated_at, excluded.raw))
            RETURNING f.id, f.account_id, f.severity, f.status, f.previous_severity, f.previous_status, f.first_seen_at, f.updated_at
        ),
        ev AS (
            INSERT INTO finding_events (finding_id, account_id, kind, at, from_status, to_status, from_severity, to_severity)
            SELECT up.id, up.account_id, e.kind, e.at, up.previous_status, up.status, up.previous_severity, up.severity
            FROM up
            CROSS JOIN LATERAL (
                SELECT 'new' AS kind, up.first_seen_at AS at WHERE up.previous_status IS NULL
                UNION ALL
                SELECT CASE
                           WHEN up.status = 'resolved' THEN 'resolved'
                           WHEN up.previous_status = 'resolved' THEN 'reopened'
                           WHEN up.status = 'suppressed' THEN 'suppressed'
                           ELSE 'unsuppressed'
                       END,
                       up.updated_at
                WHERE up.previous_status <> up.status
                UNION ALL
                SELECT 'severity_changed', up.updated_at WHERE up.previous_severity <> up.severity
            ) e
            RETURNING 1
        )
        SELECT
            (SELECT count(*) FROM up WHERE previous_status IS NULL) AS "inserted!",
            (SELECT count(*) FROM up WHERE previous_status IS NOT NULL) AS "updated!",
            (SELECT count(*) FROM ev) AS "events!"
        "#,
        &ids,
        &keys,
        &sources,
        &provenances,
        &accounts,
        &regions,
        &severities,
        &statuses,
        &titles,
        &types,
        &resource_types as &[Option<String>],
        &resource_ids as &[Option<String>],
        &control_ids as &[Option<String>],
        &first_seen,
        &updated,
        &last_seen,
        &raws,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(UpsertOutcome {
        inserted: row.inserted as u64,
        updated: row.updated as u64,
        events: row.events as u64,
    })
}

/// A stored canonical finding.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FindingRow {
    pub id: Uuid,
    pub canonical_key: String,
    pub source: String,
    pub provenance: serde_json::Value,
    pub account_id: String,
    pub region: String,
    pub severity: String,
    pub status: String,
    pub title: String,
    pub finding_type: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub control_id: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub raw: serde_json::Value,
}

/// One service's report of a stored finding, from its `provenance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The reporting service (`guardduty`, `securityhub`, …).
    pub reporter: String,
    /// The finding's id in that service.
    pub native_id: String,
    /// When that service last changed its report (as it sent it).
    pub updated_at: Option<String>,
}

impl FindingRow {
    /// Every service's report of this finding, the producing service's own first.
    pub fn reports(&self) -> Vec<Report> {
        let mut reports: Vec<Report> = self
            .provenance
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(reporter, v)| Report {
                        reporter: reporter.clone(),
                        native_id: v
                            .get("native_id")
                            .and_then(|x| x.as_str())
                            .unwrap_or("")
                            .to_owned(),
                        updated_at: v
                            .get("updated_at")
                            .and_then(|x| x.as_str())
                            .map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default();
        reports.sort_by_key(|r| (r.reporter != self.source, r.reporter.clone()));
        reports
    }

    /// The finding in the AWS console, through the producing service's own report if there is
    /// one (else the first reporter's).
    pub fn console_url(&self, report: &Report) -> String {
        report
            .reporter
            .parse::<crate::domain::Source>()
            .map(|s| crate::domain::console::finding_url(s, &self.region, &report.native_id))
            .unwrap_or_default()
    }
}

/// One finding by id, `None` when there is no such finding.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<FindingRow>, sqlx::Error> {
    sqlx::query_as!(
        FindingRow,
        r#"
        SELECT id, canonical_key, source::text AS "source!", provenance, account_id, region,
               severity::text AS "severity!", status::text AS "status!", title, finding_type,
               resource_type, resource_id, control_id, first_seen_at, last_seen_at, updated_at, raw
        FROM findings WHERE id = $1
        "#,
        id
    )
    .fetch_optional(pool)
    .await
}

/// A state transition of a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub kind: String,
    pub at: DateTime<Utc>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub from_severity: Option<String>,
    pub to_severity: String,
}

/// A finding's events, oldest first.
pub async fn events(pool: &PgPool, id: Uuid) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as!(
        EventRow,
        r#"
        SELECT kind, at, from_status::text AS from_status, to_status::text AS "to_status!",
               from_severity::text AS from_severity, to_severity::text AS "to_severity!"
        FROM finding_events WHERE finding_id = $1 ORDER BY at, id
        "#,
        id
    )
    .fetch_all(pool)
    .await
}

/// Number of canonical findings stored.
pub async fn count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let n = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM findings"#)
        .fetch_one(pool)
        .await?;
    Ok(n)
}

/// Keeps findings that could not be normalised, raw, with the reason.
pub async fn store_unparseable(
    conn: &mut PgConnection,
    account_id: &str,
    region: &str,
    via: &str,
    items: &[(serde_json::Value, String)],
) -> Result<(), sqlx::Error> {
    if items.is_empty() {
        return Ok(());
    }
    let raws: Vec<serde_json::Value> = items.iter().map(|(v, _)| v.clone()).collect();
    let errors: Vec<String> = items.iter().map(|(_, e)| e.clone()).collect();
    sqlx::query!(
        r#"
        INSERT INTO unparseable_findings (account_id, region, via, error, raw)
        SELECT $1, $2, $3::text::finding_source, e, r FROM UNNEST($4::text[], $5::jsonb[]) AS t(e, r)
        "#,
        account_id,
        region,
        via,
        &errors,
        &raws
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// After a complete full sweep of the accounts in a region read through `via` (one account, or
/// the members a delegated administrator covers): the findings that `via` reported before and
/// no longer returns are resolved (GuardDuty and Macie forget resolved findings). A finding whose own service still reports it is left alone when only
/// its Security Hub copy disappeared. Returns how many were resolved.
pub async fn resolve_unseen(
    conn: &mut PgConnection,
    account_ids: &[String],
    region: &str,
    via: &str,
    seen: &[Uuid],
    at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let n = sqlx::query_scalar!(
        r#"
        WITH gone AS (
            UPDATE findings f
            SET previous_status = f.status, previous_severity = f.severity, status = 'resolved', updated_at = $5
            WHERE f.account_id = ANY($1) AND f.region = $2 AND f.provenance ? $3 AND f.status <> 'resolved'
              AND (f.source::text = $3 OR NOT f.provenance ? f.source::text)
              AND f.id <> ALL($4)
            RETURNING f.id, f.account_id, f.previous_status, f.severity
        ),
        ev AS (
            INSERT INTO finding_events (finding_id, account_id, kind, at, from_status, to_status, from_severity, to_severity)
            SELECT id, account_id, 'resolved', $5, previous_status, 'resolved', severity, severity FROM gone
            RETURNING 1
        )
        SELECT count(*) AS "n!" FROM ev
        "#,
        account_ids,
        region,
        via,
        seen,
        at
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(n as u64)
}
