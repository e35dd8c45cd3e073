//! What `/metrics` reports, read from Postgres on each scrape: the server keeps no state, and
//! pollers may run in other processes, so the tables are the only shared truth.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

/// Canonical findings with one (source, status, severity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingCount {
    pub source: String,
    pub status: String,
    pub severity: String,
    pub count: i64,
}

/// Coverage cells of one source in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageCount {
    pub source: String,
    pub state: String,
    pub count: i64,
}

/// The most recent finished run of every target of one source, summed up.
#[derive(Debug, Clone, PartialEq)]
pub struct LastRuns {
    pub source: String,
    /// Targets with at least one finished run.
    pub targets: i64,
    /// The longest of those runs: targets run in parallel, so the slowest one paces a cycle.
    pub max_seconds: f64,
    pub pages: i64,
    pub throttles: i64,
    /// Targets whose last run ended with an error.
    pub errors: i64,
    pub findings_seen: i64,
}

/// The latest poll cycle all of whose pollers have finished it.
#[derive(Debug, Clone, PartialEq)]
pub struct LastCycle {
    /// From the first poller's start to the last poller's end.
    pub seconds: f64,
    pub ended_at: DateTime<Utc>,
}

/// How stale the data of one source is, over its targets whose coverage is `enabled`.
#[derive(Debug, Clone, PartialEq)]
pub struct DataAge {
    pub source: String,
    /// Seconds since the oldest last successful poll; `None` when none has succeeded yet.
    pub oldest_success_seconds: Option<f64>,
    /// Enabled targets that have never been polled successfully.
    pub never_succeeded: i64,
}

/// Everything `/metrics` shows, read in one consistent snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub findings: Vec<FindingCount>,
    pub coverage: Vec<CoverageCount>,
    pub last_runs: Vec<LastRuns>,
    pub last_cycle: Option<LastCycle>,
    pub data_age: Vec<DataAge>,
}

/// Reads every metric in one read-only repeatable-read transaction, so the numbers agree with
/// each other. Each statement is cut off after 10 s (Prometheus' default scrape timeout): a
/// scraper that gave up must not leave queries piling up behind it.
pub async fn snapshot(pool: &PgPool) -> Result<Snapshot, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    sqlx::query!("SET LOCAL statement_timeout = '10s'")
        .execute(&mut *tx)
        .await?;
    let snapshot = Snapshot {
        findings: finding_counts(&mut tx).await?,
        coverage: coverage_counts(&mut tx).await?,
        last_runs: last_runs(&mut tx).await?,
        last_cycle: last_cycle(&mut tx).await?,
        data_age: data_age(&mut tx).await?,
    };
    tx.commit().await?;
    Ok(snapshot)
}

/// Canonical findings per (source, status, severity). One pass over `findings`: grouping on
/// the enum columns before casting them lets Postgres hash three small keys per row (about
/// 0.2 s per million findings on a 2-core dev box); when that is too slow, it becomes a counter
/// maintained by the writes.
pub async fn finding_counts(conn: &mut PgConnection) -> Result<Vec<FindingCount>, sqlx::Error> {
    sqlx::query_as!(
        FindingCount,
        r#"
        SELECT source::text AS "source!", status::text AS "status!", severity::text AS "severity!",
               n AS "count!"
        FROM (SELECT source, status, severity, count(*) AS n FROM findings
              GROUP BY source, status, severity) g
        ORDER BY source, status, severity
        "#
    )
    .fetch_all(&mut *conn)
    .await
}

/// Coverage cells per (source, state).
pub async fn coverage_counts(conn: &mut PgConnection) -> Result<Vec<CoverageCount>, sqlx::Error> {
    sqlx::query_as!(
        CoverageCount,
        r#"
        SELECT source::text AS "source!", state::text AS "state!", n AS "count!"
        FROM (SELECT source, state, count(*) AS n FROM coverage GROUP BY source, state) g
        ORDER BY source, state
        "#
    )
    .fetch_all(&mut *conn)
    .await
}

/// Per source, the most recent finished run of each target. One index probe per target
/// (`poll_runs_target_idx`, newest first) rather than `DISTINCT ON` over `poll_runs`: the cost
/// follows the number of targets, not the run history, which grows by a row per target per
/// cycle. Every run belongs to a target (runs are started on leased targets).
pub async fn last_runs(conn: &mut PgConnection) -> Result<Vec<LastRuns>, sqlx::Error> {
    sqlx::query_as!(
        LastRuns,
        r#"
        SELECT t.source::text AS "source!",
               count(*) AS "targets!",
               coalesce(max(extract(epoch FROM r.ended_at - r.started_at))::float8, 0) AS "max_seconds!",
               coalesce(sum(r.pages), 0)::int8 AS "pages!",
               coalesce(sum(r.throttles), 0)::int8 AS "throttles!",
               count(*) FILTER (WHERE r.error IS NOT NULL) AS "errors!",
               coalesce(sum(r.findings_seen), 0)::int8 AS "findings_seen!"
        FROM poll_targets t
        CROSS JOIN LATERAL (
            SELECT started_at, ended_at, pages, throttles, findings_seen, error FROM poll_runs r
            WHERE r.account_id = t.account_id AND r.region = t.region AND r.source = t.source
              AND r.ended_at IS NOT NULL
            ORDER BY r.started_at DESC
            LIMIT 1
        ) r
        GROUP BY t.source
        ORDER BY t.source
        "#
    )
    .fetch_all(&mut *conn)
    .await
}

/// The latest cycle whose every poller has ended its cycle row (rows without a target). A
/// cycle is shared by the pollers that joined it, each with its own row: it lasts from the
/// first start to the last end.
pub async fn last_cycle(conn: &mut PgConnection) -> Result<Option<LastCycle>, sqlx::Error> {
    sqlx::query_as!(
        LastCycle,
        r#"
        SELECT extract(epoch FROM max(ended_at) - min(started_at))::float8 AS "seconds!",
               max(ended_at) AS "ended_at!"
        FROM poll_runs
        WHERE account_id IS NULL
        GROUP BY cycle_id
        HAVING bool_and(ended_at IS NOT NULL)
        ORDER BY max(ended_at) DESC
        LIMIT 1
        "#
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Per source, the age of the stalest data among targets whose coverage is `enabled`: what an
/// analyst reads as current. Targets in another state (off, denied, failing) are counted by
/// state in `coverage_counts`, not here.
pub async fn data_age(conn: &mut PgConnection) -> Result<Vec<DataAge>, sqlx::Error> {
    sqlx::query_as!(
        DataAge,
        r#"
        SELECT t.source::text AS "source!",
               extract(epoch FROM now() - min(t.last_success_at))::float8 AS oldest_success_seconds,
               count(*) FILTER (WHERE t.last_success_at IS NULL) AS "never_succeeded!"
        FROM poll_targets t
        JOIN coverage c
          ON c.account_id = t.account_id AND c.region = t.region AND c.source = t.source
        WHERE c.state = 'enabled'
        GROUP BY t.source
        ORDER BY t.source
        "#
    )
    .fetch_all(&mut *conn)
    .await
}
