//! What the posture pages read (overview, accounts, regions, coverage, status): open findings
//! grouped the way each page shows them, coverage beside the poll targets, and the poller's
//! recent cycles. Each page is a few GROUP BY statements, never a loop of queries per account
//! or region. Counts are of canonical findings (one row per finding), summed from the
//! `finding_counts` view (see `db::counts`), as of its last refresh.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Open findings with one value of a dimension (source, account, region) and one severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedCount {
    pub key: String,
    pub severity: String,
    pub count: i64,
}

/// Open findings per source and severity, the whole organisation.
pub async fn open_by_source(pool: &PgPool) -> Result<Vec<KeyedCount>, sqlx::Error> {
    // Grouping the enum columns before casting lets Postgres hash small keys; the inner scan
    // can be answered from `findings_source_idx (source, status, severity)` alone.
    sqlx::query_as!(
        KeyedCount,
        r#"
        SELECT source::text AS "key!", severity::text AS "severity!", sum(n)::bigint AS "count!"
        FROM finding_counts WHERE status = 'open'
        GROUP BY source, severity
        "#
    )
    .fetch_all(pool)
    .await
}

/// Open findings per account and severity (from `findings_account_idx`).
pub async fn open_by_account(pool: &PgPool) -> Result<Vec<KeyedCount>, sqlx::Error> {
    sqlx::query_as!(
        KeyedCount,
        r#"
        SELECT account_id AS "key!", severity::text AS "severity!", sum(n)::bigint AS "count!"
        FROM finding_counts WHERE status = 'open'
        GROUP BY account_id, severity
        "#
    )
    .fetch_all(pool)
    .await
}

/// Open findings with one (region, account, severity): a region's totals, and how many
/// accounts have open findings there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionAccountCount {
    pub region: String,
    pub account_id: String,
    pub severity: String,
    pub count: i64,
}

/// Open findings per region, account and severity, the whole organisation.
pub async fn open_by_region_account(pool: &PgPool) -> Result<Vec<RegionAccountCount>, sqlx::Error> {
    sqlx::query_as!(
        RegionAccountCount,
        r#"
        SELECT region AS "region!", account_id AS "account_id!", severity::text AS "severity!",
               sum(n)::bigint AS "count!"
        FROM finding_counts WHERE status = 'open'
        GROUP BY region, account_id, severity
        "#
    )
    .fetch_all(pool)
    .await
}

/// Open findings with one (account, region, source, severity) inside one account or region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellCount {
    pub account_id: String,
    pub region: String,
    pub source: String,
    pub severity: String,
    pub count: i64,
}

/// One account's open findings per region, source and severity (`findings_account_idx`).
pub async fn open_in_account(
    pool: &PgPool,
    account_id: &str,
) -> Result<Vec<CellCount>, sqlx::Error> {
    sqlx::query_as!(
        CellCount,
        r#"
        SELECT $1::text AS "account_id!", region AS "region!", source::text AS "source!",
               severity::text AS "severity!", sum(n)::bigint AS "count!"
        FROM finding_counts WHERE account_id = $1 AND status = 'open'
        GROUP BY region, source, severity
        "#,
        account_id
    )
    .fetch_all(pool)
    .await
}

/// One region's open findings per account, source and severity (`findings_region_idx`).
pub async fn open_in_region(pool: &PgPool, region: &str) -> Result<Vec<CellCount>, sqlx::Error> {
    sqlx::query_as!(
        CellCount,
        r#"
        SELECT account_id AS "account_id!", $1::text AS "region!", source::text AS "source!",
               severity::text AS "severity!", sum(n)::bigint AS "count!"
        FROM finding_counts WHERE region = $1 AND status = 'open'
        GROUP BY account_id, source, severity
        "#,
        region
    )
    .fetch_all(pool)
    .await
}

/// A kind of open finding in one account: a Security Hub control, or a finding type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingKind {
    pub source: String,
    pub finding_type: String,
    pub control_id: Option<String>,
    /// One of the titles (a control's findings share its title).
    pub title: String,
    /// The most severe open finding of the kind.
    pub worst: String,
    pub count: i64,
}

/// The kinds of finding most often open in one account, most frequent first. Counted from
/// `findings_open_kinds_idx` alone; then one title per kind shown.
pub async fn top_kinds_in_account(
    pool: &PgPool,
    account_id: &str,
    limit: i64,
) -> Result<Vec<FindingKind>, sqlx::Error> {
    sqlx::query_as!(
        FindingKind,
        r#"
        WITH top AS (
            SELECT source, finding_type, control_id, max(severity) AS worst, count(*) AS n
            FROM findings
            WHERE account_id = $1 AND status = 'open'
            GROUP BY source, finding_type, control_id
            ORDER BY count(*) DESC, max(severity) DESC, source, finding_type, control_id
            LIMIT $2
        )
        SELECT t.source::text AS "source!", t.finding_type AS "finding_type!", t.control_id,
               k.title AS "title!", t.worst::text AS "worst!", t.n AS "count!"
        FROM top t
        CROSS JOIN LATERAL (
            SELECT f.title
            FROM findings f
            WHERE f.account_id = $1 AND f.status = 'open' AND f.source = t.source
              AND f.finding_type = t.finding_type
              AND (f.control_id = t.control_id OR (f.control_id IS NULL AND t.control_id IS NULL))
            LIMIT 1
        ) k
        ORDER BY t.n DESC, t.worst DESC, t.source, t.finding_type, t.control_id
        "#,
        account_id,
        limit
    )
    .fetch_all(pool)
    .await
}

/// An account as the config (or AWS Organizations) describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub id: String,
    pub name: String,
    pub environment: String,
    pub owner: String,
    pub ou_path: String,
}

/// Every known account.
pub async fn accounts(pool: &PgPool) -> Result<Vec<AccountInfo>, sqlx::Error> {
    sqlx::query_as!(
        AccountInfo,
        "SELECT id, name, environment, owner, ou_path FROM accounts ORDER BY name, id"
    )
    .fetch_all(pool)
    .await
}

/// One account, when it is known.
pub async fn account(pool: &PgPool, id: &str) -> Result<Option<AccountInfo>, sqlx::Error> {
    sqlx::query_as!(
        AccountInfo,
        "SELECT id, name, environment, owner, ou_path FROM accounts WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await
}

/// One poll target and its coverage. A target the poller has not read yet has no coverage
/// (`state` is `None`); coverage of a target no longer configured has no target row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageCell {
    pub account_id: String,
    pub region: String,
    pub source: String,
    pub state: Option<String>,
    pub message: String,
    pub checked_at: Option<DateTime<Utc>>,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
}

/// Which coverage cells to read.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    All,
    Account(&'a str),
    Region(&'a str),
}

/// Coverage cells (poll targets and coverage rows, matched on account, region and source).
/// The two tables hold one row per target, at most accounts × regions × sources.
pub async fn coverage_cells(
    pool: &PgPool,
    scope: Scope<'_>,
) -> Result<Vec<CoverageCell>, sqlx::Error> {
    let (account, region) = match scope {
        Scope::All => (None, None),
        Scope::Account(a) => (Some(a), None),
        Scope::Region(r) => (None, Some(r)),
    };
    sqlx::query_as!(
        CoverageCell,
        r#"
        SELECT coalesce(t.account_id, c.account_id) AS "account_id!",
               coalesce(t.region, c.region) AS "region!",
               coalesce(t.source, c.source)::text AS "source!",
               c.state::text AS state,
               coalesce(c.message, '') AS "message!",
               c.checked_at AS "checked_at?",
               t.last_polled_at AS "last_polled_at?",
               t.last_success_at AS "last_success_at?"
        FROM (SELECT * FROM poll_targets
              WHERE ($1::text IS NULL OR account_id = $1) AND ($2::text IS NULL OR region = $2)) t
        FULL JOIN (SELECT * FROM coverage
              WHERE ($1::text IS NULL OR account_id = $1) AND ($2::text IS NULL OR region = $2)) c
          ON c.account_id = t.account_id AND c.region = t.region AND c.source = t.source
        ORDER BY 1, 2, coalesce(t.source, c.source)
        "#,
        account,
        region
    )
    .fetch_all(pool)
    .await
}

/// Coverage and polling summed per account: the accounts table's "coverage" and "last polled".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCoverage {
    pub account_id: String,
    /// Targets known (polled or configured).
    pub targets: i64,
    pub enabled: i64,
    pub last_polled_at: Option<DateTime<Utc>>,
}

/// Per account: its targets, how many are enabled, and when one was last polled.
pub async fn coverage_by_account(pool: &PgPool) -> Result<Vec<AccountCoverage>, sqlx::Error> {
    sqlx::query_as!(
        AccountCoverage,
        r#"
        SELECT coalesce(t.account_id, c.account_id) AS "account_id!",
               count(*) AS "targets!",
               count(*) FILTER (WHERE c.state = 'enabled') AS "enabled!",
               max(t.last_polled_at) AS last_polled_at
        FROM poll_targets t
        FULL JOIN coverage c
          ON c.account_id = t.account_id AND c.region = t.region AND c.source = t.source
        GROUP BY 1
        "#
    )
    .fetch_all(pool)
    .await
}

/// Coverage and activity summed per region, for `/regions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionCoverage {
    pub region: String,
    pub targets: i64,
    pub enabled: i64,
}

/// Per region: its targets and how many of them have their service enabled.
pub async fn coverage_by_region(pool: &PgPool) -> Result<Vec<RegionCoverage>, sqlx::Error> {
    sqlx::query_as!(
        RegionCoverage,
        r#"
        SELECT coalesce(t.region, c.region) AS "region!",
               count(*) AS "targets!",
               count(*) FILTER (WHERE c.state = 'enabled') AS "enabled!"
        FROM poll_targets t
        FULL JOIN coverage c
          ON c.account_id = t.account_id AND c.region = t.region AND c.source = t.source
        GROUP BY 1
        "#
    )
    .fetch_all(pool)
    .await
}

/// Coverage cells per state; `state` is `None` for targets not polled yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    pub state: Option<String>,
    pub count: i64,
}

/// How many targets are in each coverage state, the whole organisation.
pub async fn coverage_states(pool: &PgPool) -> Result<Vec<StateCount>, sqlx::Error> {
    sqlx::query_as!(
        StateCount,
        r#"
        SELECT c.state::text AS state, count(*) AS "count!"
        FROM poll_targets t
        FULL JOIN coverage c
          ON c.account_id = t.account_id AND c.region = t.region AND c.source = t.source
        GROUP BY c.state
        "#
    )
    .fetch_all(pool)
    .await
}

/// How current the data is, over the targets whose service is enabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freshness {
    pub enabled_targets: i64,
    /// The stalest and the most recent last successful poll.
    pub oldest_success: Option<DateTime<Utc>>,
    pub newest_success: Option<DateTime<Utc>>,
    /// Enabled targets never polled successfully.
    pub never_succeeded: i64,
    pub now: DateTime<Utc>,
}

/// The oldest and newest last successful poll among enabled targets.
pub async fn freshness(pool: &PgPool) -> Result<Freshness, sqlx::Error> {
    sqlx::query_as!(
        Freshness,
        r#"
        SELECT count(*) AS "enabled_targets!",
               min(t.last_success_at) AS oldest_success,
               max(t.last_success_at) AS newest_success,
               count(*) FILTER (WHERE t.last_success_at IS NULL) AS "never_succeeded!",
               now() AS "now!"
        FROM poll_targets t
        JOIN coverage c
          ON c.account_id = t.account_id AND c.region = t.region AND c.source = t.source
        WHERE c.state = 'enabled'
        "#
    )
    .fetch_one(pool)
    .await
}

/// Open findings on one day, summed over the daily rollups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub day: NaiveDate,
    pub open: i64,
}

/// Open findings per day over the last `days` days (today included), from `daily_rollups`.
/// Days without rollups are missing.
pub async fn open_per_day(pool: &PgPool, days: i32) -> Result<Vec<DayCount>, sqlx::Error> {
    sqlx::query_as!(
        DayCount,
        r#"
        SELECT day AS "day!", sum(open_count)::int8 AS "open!"
        FROM daily_rollups
        WHERE day > current_date - $1::int4
        GROUP BY day
        ORDER BY day
        "#,
        days
    )
    .fetch_all(pool)
    .await
}

/// A change of one of an account's findings, with what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentEvent {
    pub finding_id: Uuid,
    pub kind: String,
    pub at: DateTime<Utc>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub from_severity: Option<String>,
    pub to_severity: String,
    pub title: String,
    pub region: String,
    pub source: String,
}

/// The account's most recent finding events, newest first: the first entries of
/// `finding_events_account_idx` (each event carries its finding's account), joined to their
/// findings.
pub async fn recent_events(
    pool: &PgPool,
    account_id: &str,
    limit: i64,
) -> Result<Vec<RecentEvent>, sqlx::Error> {
    sqlx::query_as!(
        RecentEvent,
        r#"
        SELECT e.finding_id AS "finding_id!", e.kind AS "kind!", e.at AS "at!",
               e.from_status::text AS from_status, e.to_status::text AS "to_status!",
               e.from_severity::text AS from_severity, e.to_severity::text AS "to_severity!",
               f.title, f.region, f.source::text AS "source!"
        FROM finding_events e
        JOIN findings f ON f.id = e.finding_id
        WHERE e.account_id = $1
        ORDER BY e.at DESC, e.id DESC
        LIMIT $2
        "#,
        account_id,
        limit
    )
    .fetch_all(pool)
    .await
}

/// Whether a region has any data: findings, coverage or poll targets.
pub async fn region_known(pool: &PgPool, region: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"
        SELECT EXISTS (SELECT 1 FROM poll_targets WHERE region = $1)
            OR EXISTS (SELECT 1 FROM coverage WHERE region = $1)
            OR EXISTS (SELECT 1 FROM findings WHERE region = $1) AS "known!"
        "#,
        region
    )
    .fetch_one(pool)
    .await
}

/// One poll cycle: when it ran and how many pollers joined it.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleHead {
    pub cycle_id: Uuid,
    pub started_at: DateTime<Utc>,
    /// When the last of its pollers ended it; `None` while one still runs.
    pub ended_at: Option<DateTime<Utc>>,
    pub pollers: i64,
}

/// The most recent poll cycles, newest first. A cycle's own rows (one per poller that joined
/// it) have no target; they are found through `poll_runs_target_idx` (NULL keys are indexed).
pub async fn recent_cycles(pool: &PgPool, limit: i64) -> Result<Vec<CycleHead>, sqlx::Error> {
    sqlx::query_as!(
        CycleHead,
        r#"
        WITH heads AS (
            SELECT cycle_id, started_at, ended_at FROM poll_runs
            WHERE account_id IS NULL AND region IS NULL AND source IS NULL
            ORDER BY started_at DESC
            LIMIT 20 * $1::int8
        )
        SELECT cycle_id, min(started_at) AS "started_at!",
               CASE WHEN bool_and(ended_at IS NOT NULL) THEN max(ended_at) END AS ended_at,
               count(*) AS "pollers!"
        FROM heads GROUP BY cycle_id
        ORDER BY min(started_at) DESC
        LIMIT $1::int8
        "#,
        limit
    )
    .fetch_all(pool)
    .await
}

/// A poll cycle's runs, summed over its targets.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleTotals {
    pub targets: i64,
    pub full_sweeps: i64,
    pub pages: i64,
    pub findings_seen: i64,
    pub findings_changed: i64,
    pub unparseable: i64,
    pub errors: i64,
    pub throttles: i64,
    pub retries: i64,
}

/// The runs of one cycle, summed (through `poll_runs_cycle_idx`). At 1,000 accounts a cycle
/// has 80,000 runs, about 30 ms to sum: an ended cycle never changes, so callers keep it.
pub async fn cycle_totals(pool: &PgPool, cycle_id: Uuid) -> Result<CycleTotals, sqlx::Error> {
    sqlx::query_as!(
        CycleTotals,
        r#"
        SELECT count(*) AS "targets!",
               count(*) FILTER (WHERE full_sweep) AS "full_sweeps!",
               coalesce(sum(pages), 0)::int8 AS "pages!",
               coalesce(sum(findings_seen), 0)::int8 AS "findings_seen!",
               coalesce(sum(findings_changed), 0)::int8 AS "findings_changed!",
               coalesce(sum(unparseable), 0)::int8 AS "unparseable!",
               count(*) FILTER (WHERE error IS NOT NULL) AS "errors!",
               coalesce(sum(throttles), 0)::int8 AS "throttles!",
               coalesce(sum(retries), 0)::int8 AS "retries!"
        FROM poll_runs
        WHERE cycle_id = $1 AND account_id IS NOT NULL
        "#,
        cycle_id
    )
    .fetch_one(pool)
    .await
}

/// One target's run in a cycle that failed or was throttled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TroubledRun {
    pub account_id: String,
    pub region: String,
    pub source: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub throttles: i32,
    pub retries: i32,
    pub error: Option<String>,
}

/// The runs of a cycle that ended with an error or were throttled: errors first, then the
/// most throttled. At most `limit` of them.
pub async fn troubled_runs(
    pool: &PgPool,
    cycle_id: Uuid,
    limit: i64,
) -> Result<Vec<TroubledRun>, sqlx::Error> {
    sqlx::query_as!(
        TroubledRun,
        r#"
        SELECT account_id AS "account_id!", region AS "region!", source::text AS "source!",
               started_at, ended_at, throttles, retries, error
        FROM poll_runs
        WHERE cycle_id = $1 AND account_id IS NOT NULL AND (error IS NOT NULL OR throttles > 0)
        ORDER BY error IS NULL, throttles DESC, account_id, region, source
        LIMIT $2
        "#,
        cycle_id,
        limit
    )
    .fetch_all(pool)
    .await
}

/// The poll targets, what is leased right now, and the unparseable findings stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollerTotals {
    pub targets: i64,
    pub leased: i64,
    pub never_polled: i64,
    pub unparseable: i64,
    pub unparseable_last_day: i64,
}

pub async fn poller_totals(pool: &PgPool) -> Result<PollerTotals, sqlx::Error> {
    sqlx::query_as!(
        PollerTotals,
        r#"
        SELECT t.targets AS "targets!", t.leased AS "leased!", t.never_polled AS "never_polled!",
               u.total AS "unparseable!", u.last_day AS "unparseable_last_day!"
        FROM (SELECT count(*) AS targets,
                     count(*) FILTER (WHERE lease_expires_at > now()) AS leased,
                     count(*) FILTER (WHERE last_polled_at IS NULL) AS never_polled
              FROM poll_targets) t,
             (SELECT count(*) AS total,
                     count(*) FILTER (WHERE received_at > now() - interval '1 day') AS last_day
              FROM unparseable_findings) u
        "#
    )
    .fetch_one(pool)
    .await
}

/// A finding a source sent that could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unparseable {
    pub account_id: String,
    pub region: String,
    pub via: String,
    pub error: String,
    pub received_at: DateTime<Utc>,
}

/// The most recent unparseable findings, newest first.
pub async fn recent_unparseable(
    pool: &PgPool,
    limit: i64,
) -> Result<Vec<Unparseable>, sqlx::Error> {
    sqlx::query_as!(
        Unparseable,
        r#"
        SELECT account_id, region, via::text AS "via!", error, received_at
        FROM unparseable_findings
        ORDER BY received_at DESC, id DESC
        LIMIT $1
        "#,
        limit
    )
    .fetch_all(pool)
    .await
}
