//! Poll targets (watermarks and leases) and poll runs.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// One (account, region, source) as the poller leases it.
#[derive(Debug, Clone)]
pub struct Target {
    pub account_id: String,
    pub region: String,
    pub source: String,
    pub watermark: Option<DateTime<Utc>>,
    pub last_full_sweep_at: Option<DateTime<Utc>>,
}

/// Makes the targets those of the configured (account, region, source) triples: creates the
/// missing ones and drops the rest (an account, region or source no longer watched, or every
/// account's own targets once a delegated administrator is read instead), with their
/// watermarks; their findings, runs and coverage stay. Returns how many were created.
pub async fn ensure_targets(
    pool: &PgPool,
    accounts: &[String],
    regions: &[String],
    sources: &[String],
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        r#"
        DELETE FROM poll_targets
        WHERE NOT (account_id = ANY($1) AND region = ANY($2) AND source::text = ANY($3))
        "#,
        accounts,
        regions,
        sources
    )
    .execute(&mut *tx)
    .await?;
    let r = sqlx::query!(
        r#"
        INSERT INTO poll_targets (account_id, region, source)
        SELECT a, r, s::finding_source
        FROM UNNEST($1::text[]) a CROSS JOIN UNNEST($2::text[]) r CROSS JOIN UNNEST($3::text[]) s
        ON CONFLICT DO NOTHING
        "#,
        accounts,
        regions,
        sources
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(r.rows_affected())
}

/// Joins the poll cycle in progress (begun by another poller less than `max_age_seconds` ago
/// and not ended), or begins one; either way records this poller's run row. Returns the cycle,
/// its start, and the run's id. An advisory lock makes pollers that start together join one
/// cycle instead of racing to begin two.
pub async fn join_or_start_cycle(
    pool: &PgPool,
    max_age_seconds: i64,
) -> Result<(Uuid, DateTime<Utc>, i64), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('sightline poll cycle'))")
        .execute(&mut *tx)
        .await?;
    let running = sqlx::query!(
        r#"
        SELECT cycle_id, min(started_at) AS "started!" FROM poll_runs
        WHERE account_id IS NULL
        GROUP BY cycle_id
        HAVING bool_or(ended_at IS NULL) AND min(started_at) > now() - make_interval(secs => $1)
        ORDER BY 2 DESC LIMIT 1
        "#,
        max_age_seconds as f64
    )
    .fetch_optional(&mut *tx)
    .await?;
    let (cycle_id, started) = match running {
        Some(r) => (r.cycle_id, r.started),
        None => (
            Uuid::new_v4(),
            sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
                .fetch_one(&mut *tx)
                .await?,
        ),
    };
    let run_id = sqlx::query_scalar!(
        "INSERT INTO poll_runs (cycle_id, started_at) VALUES ($1, now()) RETURNING id",
        cycle_id
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((cycle_id, started, run_id))
}

/// Leases the next target of the configured set still due in the cycle begun at
/// `cycle_started`: not polled since, or abandoned by a poller that died (its lease expired
/// unreleased). Targets another poller holds are skipped. The order is a fixed shuffle, so the
/// targets in flight at once spread over accounts (each has its own rate limits), regions and
/// sources, and a role that STS refuses is learnt from one target before most of the
/// account's others start.
pub async fn lease_next(
    pool: &PgPool,
    owner: &str,
    cycle_started: DateTime<Utc>,
    lease_seconds: i32,
    accounts: &[String],
    regions: &[String],
    sources: &[String],
) -> Result<Option<Target>, sqlx::Error> {
    sqlx::query_as!(
        Target,
        r#"
        WITH next AS (
            SELECT account_id, region, source FROM poll_targets
            WHERE account_id = ANY($4) AND region = ANY($5) AND source::text = ANY($6)
              AND (last_polled_at IS NULL OR last_polled_at < $2 OR lease_owner IS NOT NULL)
              AND (lease_expires_at IS NULL OR lease_expires_at < now())
            ORDER BY last_polled_at NULLS FIRST, md5(account_id || region || source::text)
            LIMIT 1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE poll_targets t
        SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $3), last_polled_at = now()
        FROM next
        WHERE t.account_id = next.account_id AND t.region = next.region AND t.source = next.source
        RETURNING t.account_id, t.region, t.source::text AS "source!", t.watermark, t.last_full_sweep_at
        "#,
        owner,
        cycle_started,
        lease_seconds as f64,
        accounts,
        regions,
        sources
    )
    .fetch_optional(pool)
    .await
}

/// How many targets of the set are still due in this cycle: not yet polled, or held (by a live
/// poller, or by a dead one until its lease expires).
pub async fn due_count(
    pool: &PgPool,
    cycle_started: DateTime<Utc>,
    accounts: &[String],
    regions: &[String],
    sources: &[String],
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        SELECT count(*) AS "n!" FROM poll_targets
        WHERE account_id = ANY($2) AND region = ANY($3) AND source::text = ANY($4)
          AND (last_polled_at IS NULL OR last_polled_at < $1 OR lease_owner IS NOT NULL)
        "#,
        cycle_started,
        accounts,
        regions,
        sources
    )
    .fetch_one(pool)
    .await
}

/// Extends a lease while its poll goes on.
pub async fn renew_lease(
    pool: &PgPool,
    t: &Target,
    owner: &str,
    lease_seconds: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE poll_targets SET lease_expires_at = now() + make_interval(secs => $5)
         WHERE account_id = $1 AND region = $2 AND source::text = $3 AND lease_owner = $4",
        t.account_id,
        t.region,
        t.source,
        owner,
        lease_seconds as f64
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Ends a lease, recording success and a completed full sweep.
pub async fn release(
    pool: &PgPool,
    t: &Target,
    owner: &str,
    success: bool,
    swept: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        UPDATE poll_targets SET lease_owner = NULL, lease_expires_at = NULL,
            last_success_at = CASE WHEN $5 THEN now() ELSE last_success_at END,
            last_full_sweep_at = CASE WHEN $6 THEN now() ELSE last_full_sweep_at END
        WHERE account_id = $1 AND region = $2 AND source::text = $3 AND lease_owner = $4
        "#,
        t.account_id,
        t.region,
        t.source,
        owner,
        success,
        swept
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Moves the watermark forward (never back), in the page's transaction.
pub async fn advance_watermark(
    conn: &mut PgConnection,
    t: &Target,
    watermark: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE poll_targets SET watermark = GREATEST(coalesce(watermark, $4), $4)
         WHERE account_id = $1 AND region = $2 AND source::text = $3",
        t.account_id,
        t.region,
        t.source,
        watermark
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Counters of one poll run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    pub pages: i32,
    pub seen: i32,
    pub changed: i32,
    pub unparseable: i32,
    pub throttles: i32,
    pub retries: i32,
}

/// Starts a run row: a cycle's (no target) or a target's.
pub async fn start_run(
    pool: &PgPool,
    cycle_id: Uuid,
    target: Option<&Target>,
    full_sweep: bool,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        INSERT INTO poll_runs (cycle_id, account_id, region, source, started_at, full_sweep)
        VALUES ($1, $2, $3, $4::text::finding_source, now(), $5)
        RETURNING id
        "#,
        cycle_id,
        target.map(|t| t.account_id.as_str()),
        target.map(|t| t.region.as_str()),
        target.map(|t| t.source.as_str()),
        full_sweep
    )
    .fetch_one(pool)
    .await
}

pub async fn finish_run(
    pool: &PgPool,
    id: i64,
    stats: &RunStats,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        UPDATE poll_runs SET ended_at = now(), pages = $2, findings_seen = $3, findings_changed = $4,
            unparseable = $5, throttles = $6, retries = $7, error = $8
        WHERE id = $1
        "#,
        id,
        stats.pages,
        stats.seen,
        stats.changed,
        stats.unparseable,
        stats.throttles,
        stats.retries,
        error
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A stored run: a cycle's (no target) or a target's.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub id: i64,
    pub cycle_id: Uuid,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub source: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub full_sweep: bool,
    pub pages: i32,
    pub findings_seen: i32,
    pub findings_changed: i32,
    pub unparseable: i32,
    pub throttles: i32,
    pub retries: i32,
    pub error: Option<String>,
}

/// Runs newest first, before run id `before` when given; only one cycle's when `cycle_id` is
/// given; only the runs that ended in an error when `errors_only`.
pub async fn list_runs(
    pool: &PgPool,
    before: Option<i64>,
    cycle_id: Option<Uuid>,
    errors_only: bool,
    limit: i64,
) -> Result<Vec<RunRow>, sqlx::Error> {
    sqlx::query_as!(
        RunRow,
        r#"
        SELECT id, cycle_id, account_id, region, source::text AS source, started_at, ended_at,
               full_sweep, pages, findings_seen, findings_changed, unparseable, throttles, retries,
               error
        FROM poll_runs
        WHERE ($1::bigint IS NULL OR id < $1)
          AND ($2::uuid IS NULL OR cycle_id = $2)
          AND (NOT $3 OR error IS NOT NULL)
        ORDER BY id DESC
        LIMIT $4
        "#,
        before,
        cycle_id,
        errors_only,
        limit
    )
    .fetch_all(pool)
    .await
}
