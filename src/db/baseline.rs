//! The baseline's results and their history: what the poller stores after each read, and what
//! the pages and `/api/v1/baseline` show.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::baseline::CheckResult;
use crate::baseline::evaluate::Cell;

/// Stores one account's results read at `read_at`: each row is replaced, and a result that
/// differs from the stored one (or is the first) is recorded as an event, in one statement.
/// Returns how many results changed.
pub async fn store(
    pool: &PgPool,
    account_id: &str,
    results: &[CheckResult],
    read_at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let checks: Vec<String> = results.iter().map(|r| r.check.name().to_owned()).collect();
    let outcomes: Vec<String> = results
        .iter()
        .map(|r| r.outcome.as_str().to_owned())
        .collect();
    let required: Vec<bool> = results.iter().map(|r| r.required).collect();
    let evidence: Vec<String> = results.iter().map(|r| r.evidence.clone()).collect();
    let changed = sqlx::query_scalar!(
        r#"
        WITH incoming AS (
            SELECT * FROM UNNEST($2::text[], $3::text[], $4::bool[], $5::text[])
                AS t(check_name, result, required, evidence)
        ),
        previous AS (
            SELECT r.check_name, r.result FROM baseline_results r
            WHERE r.account_id = $1 AND r.check_name = ANY($2::text[])
            FOR UPDATE
        ),
        upserted AS (
            INSERT INTO baseline_results AS b
                (account_id, check_name, result, required, evidence, read_at, changed_at)
            SELECT $1, check_name, result, required, evidence, $6, $6 FROM incoming
            ON CONFLICT (account_id, check_name) DO UPDATE SET
                result = excluded.result,
                required = excluded.required,
                evidence = excluded.evidence,
                read_at = excluded.read_at,
                changed_at = CASE WHEN b.result = excluded.result THEN b.changed_at
                                  ELSE excluded.changed_at END
            RETURNING b.check_name
        ),
        events AS (
            INSERT INTO baseline_events (account_id, check_name, at, previous_result, result, evidence)
            SELECT $1, i.check_name, $6, p.result, i.result, i.evidence
            FROM incoming i LEFT JOIN previous p USING (check_name)
            WHERE p.result IS DISTINCT FROM i.result
            RETURNING 1
        )
        SELECT count(*) AS "n!" FROM events
        "#,
        account_id,
        &checks,
        &outcomes,
        &required,
        &evidence,
        read_at
    )
    .fetch_one(pool)
    .await?;
    Ok(changed as u64)
}

/// One stored result, with the account's name and environment.
#[derive(Debug, Clone)]
pub struct ResultRow {
    pub account_id: String,
    pub account_name: String,
    pub environment: String,
    pub check_name: String,
    pub result: String,
    pub required: bool,
    pub evidence: String,
    pub read_at: DateTime<Utc>,
    pub changed_at: DateTime<Utc>,
}

/// The oldest of the accounts' last reads: when the least recently read of them was read.
/// `None` when one of them has no result yet (or none is given).
pub async fn oldest_read(
    pool: &PgPool,
    account_ids: &[String],
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        SELECT CASE WHEN count(*) < cardinality($1::text[]) THEN NULL ELSE min(r.last) END
        FROM (
            SELECT account_id, max(read_at) AS last
            FROM baseline_results
            WHERE account_id = ANY($1)
            GROUP BY account_id
        ) r
        "#,
        account_ids
    )
    .fetch_one(pool)
    .await
}

/// Every stored result (of `account_id` only, when given), by account name, then check in the
/// order of [`crate::baseline::Check::ALL`].
pub async fn list(pool: &PgPool, account_id: Option<&str>) -> Result<Vec<ResultRow>, sqlx::Error> {
    let order: Vec<String> = crate::baseline::Check::ALL
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    sqlx::query_as!(
        ResultRow,
        r#"
        SELECT b.account_id, coalesce(a.name, b.account_id) AS "account_name!",
               coalesce(a.environment, '') AS "environment!",
               b.check_name, b.result, b.required, b.evidence, b.read_at, b.changed_at
        FROM baseline_results b
        LEFT JOIN accounts a ON a.id = b.account_id
        WHERE ($1::text IS NULL OR b.account_id = $1)
        ORDER BY coalesce(a.name, b.account_id), b.account_id,
                 array_position($2::text[], b.check_name)
        "#,
        account_id,
        &order
    )
    .fetch_all(pool)
    .await
}

/// One change of result.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub account_id: String,
    pub check_name: String,
    pub at: DateTime<Utc>,
    pub previous_result: Option<String>,
    pub result: String,
    pub evidence: String,
}

/// The latest `limit` changes of `account_id`'s results, newest first.
pub async fn events(
    pool: &PgPool,
    account_id: &str,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as!(
        EventRow,
        r#"
        SELECT account_id, check_name, at, previous_result, result, evidence
        FROM baseline_events WHERE account_id = $1
        ORDER BY at DESC, id DESC LIMIT $2
        "#,
        account_id,
        limit
    )
    .fetch_all(pool)
    .await
}

/// What Sightline's own data says, per account, for the checks that read it.
#[derive(Debug, Default)]
pub struct OwnData {
    /// By account id; an account with no rows has no entry.
    pub accounts: HashMap<String, AccountData>,
}

/// One account's part of [`OwnData`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AccountData {
    /// (control id, open findings) of Security Hub `CloudWatch.*` controls.
    pub cloudwatch_failures: Vec<(String, i64)>,
    /// (region, open findings) in the given regions.
    pub open_in_regions: Vec<(String, i64)>,
    /// Every coverage cell.
    pub coverage: Vec<Cell>,
}

impl OwnData {
    /// The account's data, empty when Sightline has none for it.
    pub fn account(&self, account_id: &str) -> AccountData {
        self.accounts.get(account_id).cloned().unwrap_or_default()
    }
}

/// Reads [`OwnData`]; `unapproved` are the watched regions that are not approved.
pub async fn own_data(pool: &PgPool, unapproved: &[String]) -> Result<OwnData, sqlx::Error> {
    // Grouped by account once: at 1,000 accounts there are ~85,000 coverage cells, and a scan
    // of every row for each account would compare 85 million.
    let mut own = OwnData::default();
    let cloudwatch_failures = sqlx::query!(
        r#"
        SELECT account_id, control_id AS "control_id!", count(*) AS "n!"
        FROM findings
        WHERE status = 'open' AND control_id LIKE 'CloudWatch.%'
        GROUP BY 1, 2 ORDER BY 1, 2
        "#
    )
    .fetch_all(pool)
    .await?;
    for r in cloudwatch_failures {
        own.accounts
            .entry(r.account_id)
            .or_default()
            .cloudwatch_failures
            .push((r.control_id, r.n));
    }
    let open_in_regions = sqlx::query!(
        r#"
        SELECT account_id, region, count(*) AS "n!"
        FROM findings
        WHERE status = 'open' AND region = ANY($1::text[])
        GROUP BY 1, 2 ORDER BY 1, 2
        "#,
        unapproved
    )
    .fetch_all(pool)
    .await?;
    for r in open_in_regions {
        own.accounts
            .entry(r.account_id)
            .or_default()
            .open_in_regions
            .push((r.region, r.n));
    }
    let coverage = sqlx::query!(
        r#"SELECT account_id, region, source::text AS "source!", state::text AS "state!" FROM coverage"#
    )
    .fetch_all(pool)
    .await?;
    for r in coverage {
        own.accounts
            .entry(r.account_id)
            .or_default()
            .coverage
            .push(Cell {
                region: r.region,
                source: r.source,
                state: r.state,
            });
    }
    Ok(own)
}
