//! What the trend pages and the trend API read: series over `daily_rollups` (never a scan of
//! `findings`), and the two answers per-day counts cannot give: time to resolve (from the
//! resolution events) and the list of SLA breaches (from the open findings).
//!
//! Each series reads the smallest table that holds its keys (`Table`): the estate's (or some
//! sources') from `daily_totals`, the rollups summed per day, source and severity (at most 25
//! rows a day); one filtered by account, environment or owner, or grouped by account or
//! environment, from `daily_account_totals` (per day, account, source and severity); only a
//! series that names regions reads the rollups themselves. Triggers keep both sums equal to
//! the rollups (migrations `20261127000007_daily_totals`, `…08_account_totals_by_severity`).
//! A year of the estate at 200 accounts × 16 regions is ~20 M rollups: summing them took
//! 2–12 s a request, the totals take milliseconds (BENCHMARKS.md, "Trends").

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::config::SlaConfig;
use crate::domain::Severity;

/// Which findings a series counts. Every empty list means "all"; a non-empty one keeps the
/// listed values. Environment and owner are the account's (from the `accounts` table): an
/// account Sightline has no record of matches no environment or owner filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrendFilter {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub sources: Vec<String>,
    pub environments: Vec<String>,
    pub owners: Vec<String>,
}

/// The table a series reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    /// `daily_totals`: per day × source × severity.
    Totals,
    /// `daily_account_totals`: per day × account × source × severity.
    AccountTotals,
    /// `daily_rollups`: per day × account × region × source × severity.
    Rollups,
}

impl TrendFilter {
    /// The smallest table that holds the keys this filter and `group` need.
    fn table(&self, group: TrendGroup) -> Table {
        if !self.regions.is_empty() || group == TrendGroup::Region {
            Table::Rollups
        } else if self.accounts.is_empty()
            && self.environments.is_empty()
            && self.owners.is_empty()
            && matches!(
                group,
                TrendGroup::None | TrendGroup::Severity | TrendGroup::Source
            )
        {
            Table::Totals
        } else {
            Table::AccountTotals
        }
    }
}

/// When the series' inputs (`daily_rollups`, and `accounts` for the environment, owner and
/// name) last changed: a series computed since is still right. Kept by triggers (migration
/// `20261127000008`).
pub async fn inputs_changed_at(pool: &PgPool) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!("SELECT at FROM trend_inputs_changed")
        .fetch_one(pool)
        .await
}

/// The length of a series' periods (UTC days). A week starts on Monday, a month on the 1st.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Interval {
    #[default]
    Day,
    Week,
    Month,
}

impl Interval {
    pub const NAMES: &'static str = "day, week, month";

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "day" => Some(Interval::Day),
            "week" => Some(Interval::Week),
            "month" => Some(Interval::Month),
            _ => None,
        }
    }
}

/// What an open series is broken down by (`None`: one total per period).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TrendGroup {
    #[default]
    None,
    Severity,
    Source,
    Account,
    Region,
    Environment,
}

impl TrendGroup {
    pub const NAMES: &'static str = "severity, source, account, region, environment";

    pub fn as_str(self) -> &'static str {
        match self {
            TrendGroup::None => "none",
            TrendGroup::Severity => "severity",
            TrendGroup::Source => "source",
            TrendGroup::Account => "account",
            TrendGroup::Region => "region",
            TrendGroup::Environment => "environment",
        }
    }

    /// A `group_by` value; `none` is not one (leave the parameter out instead).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "severity" => Some(TrendGroup::Severity),
            "source" => Some(TrendGroup::Source),
            "account" => Some(TrendGroup::Account),
            "region" => Some(TrendGroup::Region),
            "environment" => Some(TrendGroup::Environment),
            _ => None,
        }
    }
}

/// Open findings in one period (and group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPoint {
    /// The period's first day (a Monday for weeks, the 1st for months; may precede `from`).
    pub date: NaiveDate,
    /// The group's value (severity, source, account id, region or environment); `None`
    /// without grouping.
    pub key: Option<String>,
    /// Open findings at the end of the period's last day within `[from, to]`.
    pub count: i64,
}

/// Open findings per period of `[from, to]`, optionally per group. Every period has a point
/// (per group seen anywhere in the range): a day without rollups counts 0. Reads one day per
/// period (its last within the range), from the smallest table that holds the keys (`Table`).
///
/// The reads are statements of their own, not one with a switch: the totals' is planned once
/// for every request (a generic plan), while a statement with filters is planned again for
/// each (0.4 ms a request, beside 1.7 ms of execution, for a 90-day series).
pub async fn open_series(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
    interval: Interval,
    group: TrendGroup,
    filter: &TrendFilter,
) -> Result<Vec<OpenPoint>, sqlx::Error> {
    let table = filter.table(group);
    if table == Table::Totals {
        return sqlx::query_as!(
            OpenPoint,
            r#"
            WITH days AS (
                SELECT $1::date + g.n AS day FROM generate_series(0, $2::date - $1::date) AS g(n)
            ),
            periods AS (
                SELECT CASE $3::text
                           WHEN 'week' THEN date_trunc('week', day::timestamp)::date
                           WHEN 'month' THEN date_trunc('month', day::timestamp)::date
                           ELSE day
                       END AS period,
                       max(day) AS last_day
                FROM days
                GROUP BY 1
            ),
            counts AS (
                -- The periods' last days; grouped by the enums, named after (a cast per group,
                -- not per row).
                SELECT t.day, coalesce(t.severity::text, t.source::text) AS key, t.n
                FROM (
                    SELECT d.day,
                           CASE WHEN $4::text = 'severity' THEN d.severity END AS severity,
                           CASE WHEN $4::text = 'source' THEN d.source END AS source,
                           sum(d.open_count)::int8 AS n
                    FROM periods p
                    JOIN daily_totals d ON d.day = p.last_day
                    WHERE cardinality($5::text[]) = 0 OR d.source::text = ANY($5)
                    GROUP BY 1, 2, 3
                ) t
            ),
            keys AS (
                SELECT key FROM counts
                UNION
                SELECT NULL::text WHERE $4::text = 'none'
            )
            SELECT p.period AS "date!", k.key AS "key?", coalesce(c.n, 0)::int8 AS "count!"
            FROM periods p
            CROSS JOIN keys k
            LEFT JOIN counts c ON c.day = p.last_day AND c.key IS NOT DISTINCT FROM k.key
            ORDER BY p.period, k.key
            "#,
            from,
            to,
            interval.as_str(),
            group.as_str(),
            &filter.sources,
        )
        .fetch_all(pool)
        .await;
    }
    if table == Table::AccountTotals {
        return sqlx::query_as!(
            OpenPoint,
            r#"
            WITH days AS (
                SELECT $1::date + g.n AS day FROM generate_series(0, $2::date - $1::date) AS g(n)
            ),
            periods AS (
                SELECT CASE $3::text
                           WHEN 'week' THEN date_trunc('week', day::timestamp)::date
                           WHEN 'month' THEN date_trunc('month', day::timestamp)::date
                           ELSE day
                       END AS period,
                       max(day) AS last_day
                FROM days
                GROUP BY 1
            ),
            counts AS (
                SELECT t.day,
                       CASE $4::text
                           WHEN 'severity' THEN t.severity::text
                           WHEN 'source' THEN t.source::text
                           WHEN 'account' THEN t.account_id
                           WHEN 'environment' THEN coalesce(a.environment, '')
                       END AS key,
                       sum(t.open_count)::int8 AS n
                FROM daily_account_totals t
                LEFT JOIN accounts a ON a.id = t.account_id
                WHERE t.day BETWEEN $1 AND $2
                  AND t.day IN (SELECT last_day FROM periods)
                  AND (cardinality($5::text[]) = 0 OR t.account_id = ANY($5))
                  AND (cardinality($6::text[]) = 0 OR t.source::text = ANY($6))
                  AND (cardinality($7::text[]) = 0 OR a.environment = ANY($7))
                  AND (cardinality($8::text[]) = 0 OR a.owner = ANY($8))
                GROUP BY 1, 2
            ),
            keys AS (
                SELECT key FROM counts
                UNION
                SELECT NULL::text WHERE $4::text = 'none'
            )
            SELECT p.period AS "date!", k.key AS "key?", coalesce(c.n, 0)::int8 AS "count!"
            FROM periods p
            CROSS JOIN keys k
            LEFT JOIN counts c ON c.day = p.last_day AND c.key IS NOT DISTINCT FROM k.key
            ORDER BY p.period, k.key
            "#,
            from,
            to,
            interval.as_str(),
            group.as_str(),
            &filter.accounts,
            &filter.sources,
            &filter.environments,
            &filter.owners,
        )
        .fetch_all(pool)
        .await;
    }
    sqlx::query_as!(
        OpenPoint,
        r#"
        WITH days AS (
            SELECT $1::date + g.n AS day FROM generate_series(0, $2::date - $1::date) AS g(n)
        ),
        periods AS (
            SELECT CASE $3::text
                       WHEN 'week' THEN date_trunc('week', day::timestamp)::date
                       WHEN 'month' THEN date_trunc('month', day::timestamp)::date
                       ELSE day
                   END AS period,
                   max(day) AS last_day
            FROM days
            GROUP BY 1
        ),
        counts AS (
            SELECT r.day,
                   CASE $4::text
                       WHEN 'severity' THEN r.severity::text
                       WHEN 'source' THEN r.source::text
                       WHEN 'account' THEN r.account_id
                       WHEN 'region' THEN r.region
                       WHEN 'environment' THEN coalesce(a.environment, '')
                   END AS key,
                   sum(r.open_count)::int8 AS n
            FROM daily_rollups r
            LEFT JOIN accounts a ON a.id = r.account_id
            WHERE r.day BETWEEN $1 AND $2
              AND r.day IN (SELECT last_day FROM periods)
              AND (cardinality($5::text[]) = 0 OR r.account_id = ANY($5))
              AND (cardinality($6::text[]) = 0 OR r.region = ANY($6))
              AND (cardinality($7::text[]) = 0 OR r.source::text = ANY($7))
              AND (cardinality($8::text[]) = 0 OR a.environment = ANY($8))
              AND (cardinality($9::text[]) = 0 OR a.owner = ANY($9))
            GROUP BY 1, 2
        ),
        keys AS (
            SELECT key FROM counts
            UNION
            SELECT NULL::text WHERE $4::text = 'none'
        )
        SELECT p.period AS "date!", k.key AS "key?", coalesce(c.n, 0)::int8 AS "count!"
        FROM periods p
        CROSS JOIN keys k
        LEFT JOIN counts c ON c.day = p.last_day AND c.key IS NOT DISTINCT FROM k.key
        ORDER BY p.period, k.key
        "#,
        from,
        to,
        interval.as_str(),
        group.as_str(),
        &filter.accounts,
        &filter.regions,
        &filter.sources,
        &filter.environments,
        &filter.owners,
    )
    .fetch_all(pool)
    .await
}

/// Findings that became open or stopped being open in one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowPoint {
    /// The period's first day (a Monday for weeks, the 1st for months; may precede `from`).
    pub date: NaiveDate,
    /// Findings first seen open (see `db::rollups::recompute`).
    pub new: i64,
    /// Open findings resolved.
    pub resolved: i64,
    /// Resolved findings open again.
    pub reopened: i64,
}

/// New, resolved and reopened findings per period, summed over the days of `[from, to]` in
/// each period; every period has a point. From the smallest table that holds the filter's keys.
pub async fn flow_series(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
    interval: Interval,
    filter: &TrendFilter,
) -> Result<Vec<FlowPoint>, sqlx::Error> {
    let table = filter.table(TrendGroup::None);
    if table == Table::Totals {
        return sqlx::query_as!(
            FlowPoint,
            r#"
            WITH days AS (
                SELECT $1::date + g.n AS day FROM generate_series(0, $2::date - $1::date) AS g(n)
            ),
            periods AS (
                SELECT DISTINCT CASE $3::text
                           WHEN 'week' THEN date_trunc('week', day::timestamp)::date
                           WHEN 'month' THEN date_trunc('month', day::timestamp)::date
                           ELSE day
                       END AS period
                FROM days
            ),
            flows AS (
                SELECT CASE $3::text
                           WHEN 'week' THEN date_trunc('week', day::timestamp)::date
                           WHEN 'month' THEN date_trunc('month', day::timestamp)::date
                           ELSE day
                       END AS period,
                       sum(new_count)::int8 AS new_n,
                       sum(resolved_count)::int8 AS resolved_n,
                       sum(reopened_count)::int8 AS reopened_n
                FROM daily_totals
                WHERE day BETWEEN $1 AND $2
                  AND (cardinality($4::text[]) = 0 OR source::text = ANY($4))
                GROUP BY 1
            )
            SELECT p.period AS "date!", coalesce(f.new_n, 0)::int8 AS "new!",
                   coalesce(f.resolved_n, 0)::int8 AS "resolved!",
                   coalesce(f.reopened_n, 0)::int8 AS "reopened!"
            FROM periods p
            LEFT JOIN flows f ON f.period = p.period
            ORDER BY p.period
            "#,
            from,
            to,
            interval.as_str(),
            &filter.sources,
        )
        .fetch_all(pool)
        .await;
    }
    if table == Table::AccountTotals {
        return sqlx::query_as!(
            FlowPoint,
            r#"
            WITH days AS (
                SELECT $1::date + g.n AS day FROM generate_series(0, $2::date - $1::date) AS g(n)
            ),
            periods AS (
                SELECT DISTINCT CASE $3::text
                           WHEN 'week' THEN date_trunc('week', day::timestamp)::date
                           WHEN 'month' THEN date_trunc('month', day::timestamp)::date
                           ELSE day
                       END AS period
                FROM days
            ),
            flows AS (
                SELECT CASE $3::text
                           WHEN 'week' THEN date_trunc('week', t.day::timestamp)::date
                           WHEN 'month' THEN date_trunc('month', t.day::timestamp)::date
                           ELSE t.day
                       END AS period,
                       sum(t.new_count)::int8 AS new_n,
                       sum(t.resolved_count)::int8 AS resolved_n,
                       sum(t.reopened_count)::int8 AS reopened_n
                FROM daily_account_totals t
                LEFT JOIN accounts a ON a.id = t.account_id
                WHERE t.day BETWEEN $1 AND $2
                  AND (cardinality($4::text[]) = 0 OR t.account_id = ANY($4))
                  AND (cardinality($5::text[]) = 0 OR t.source::text = ANY($5))
                  AND (cardinality($6::text[]) = 0 OR a.environment = ANY($6))
                  AND (cardinality($7::text[]) = 0 OR a.owner = ANY($7))
                GROUP BY 1
            )
            SELECT p.period AS "date!", coalesce(f.new_n, 0)::int8 AS "new!",
                   coalesce(f.resolved_n, 0)::int8 AS "resolved!",
                   coalesce(f.reopened_n, 0)::int8 AS "reopened!"
            FROM periods p
            LEFT JOIN flows f ON f.period = p.period
            ORDER BY p.period
            "#,
            from,
            to,
            interval.as_str(),
            &filter.accounts,
            &filter.sources,
            &filter.environments,
            &filter.owners,
        )
        .fetch_all(pool)
        .await;
    }
    sqlx::query_as!(
        FlowPoint,
        r#"
        WITH days AS (
            SELECT $1::date + g.n AS day FROM generate_series(0, $2::date - $1::date) AS g(n)
        ),
        periods AS (
            SELECT DISTINCT CASE $3::text
                       WHEN 'week' THEN date_trunc('week', day::timestamp)::date
                       WHEN 'month' THEN date_trunc('month', day::timestamp)::date
                       ELSE day
                   END AS period
            FROM days
        ),
        flows AS (
            SELECT CASE $3::text
                       WHEN 'week' THEN date_trunc('week', r.day::timestamp)::date
                       WHEN 'month' THEN date_trunc('month', r.day::timestamp)::date
                       ELSE r.day
                   END AS period,
                   sum(r.new_count)::int8 AS new_n,
                   sum(r.resolved_count)::int8 AS resolved_n,
                   sum(r.reopened_count)::int8 AS reopened_n
            FROM daily_rollups r
            LEFT JOIN accounts a ON a.id = r.account_id
            WHERE r.day BETWEEN $1 AND $2
              AND (cardinality($4::text[]) = 0 OR r.account_id = ANY($4))
              AND (cardinality($5::text[]) = 0 OR r.region = ANY($5))
              AND (cardinality($6::text[]) = 0 OR r.source::text = ANY($6))
              AND (cardinality($7::text[]) = 0 OR a.environment = ANY($7))
              AND (cardinality($8::text[]) = 0 OR a.owner = ANY($8))
            GROUP BY 1
        )
        SELECT p.period AS "date!", coalesce(f.new_n, 0)::int8 AS "new!",
               coalesce(f.resolved_n, 0)::int8 AS "resolved!",
               coalesce(f.reopened_n, 0)::int8 AS "reopened!"
        FROM periods p
        LEFT JOIN flows f ON f.period = p.period
        ORDER BY p.period
        "#,
        from,
        to,
        interval.as_str(),
        &filter.accounts,
        &filter.regions,
        &filter.sources,
        &filter.environments,
        &filter.owners,
    )
    .fetch_all(pool)
    .await
}

/// Open findings and those past their SLA in one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPoint {
    /// The period's first day (a Monday for weeks, the 1st for months; may precede `from`).
    pub date: NaiveDate,
    /// Open findings at the end of the period's last day within `[from, to]`.
    pub open: i64,
    /// Of those, the ones older than their severity's SLA (as configured when the day was
    /// rolled up).
    pub past_sla: i64,
}

/// Open and past-SLA findings per period (as `open_series`: the period's last day within
/// `[from, to]`); every period has a point. From the smallest table that holds the filter's
/// keys.
pub async fn sla_series(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
    interval: Interval,
    filter: &TrendFilter,
) -> Result<Vec<SlaPoint>, sqlx::Error> {
    let table = filter.table(TrendGroup::None);
    if table == Table::Totals {
        return sqlx::query_as!(
            SlaPoint,
            r#"
            WITH days AS (
                SELECT $1::date + g.n AS day FROM generate_series(0, $2::date - $1::date) AS g(n)
            ),
            periods AS (
                SELECT CASE $3::text
                           WHEN 'week' THEN date_trunc('week', day::timestamp)::date
                           WHEN 'month' THEN date_trunc('month', day::timestamp)::date
                           ELSE day
                       END AS period,
                       max(day) AS last_day
                FROM days
                GROUP BY 1
            ),
            counts AS (
                SELECT d.day, sum(d.open_count)::int8 AS open_n,
                       sum(d.past_sla_count)::int8 AS past_n
                FROM periods p
                JOIN daily_totals d ON d.day = p.last_day
                WHERE cardinality($4::text[]) = 0 OR d.source::text = ANY($4)
                GROUP BY 1
            )
            SELECT p.period AS "date!", coalesce(c.open_n, 0)::int8 AS "open!",
                   coalesce(c.past_n, 0)::int8 AS "past_sla!"
            FROM periods p
            LEFT JOIN counts c ON c.day = p.last_day
            ORDER BY p.period
            "#,
            from,
            to,
            interval.as_str(),
            &filter.sources,
        )
        .fetch_all(pool)
        .await;
    }
    if table == Table::AccountTotals {
        return sqlx::query_as!(
            SlaPoint,
            r#"
            WITH days AS (
                SELECT $1::date + g.n AS day FROM generate_series(0, $2::date - $1::date) AS g(n)
            ),
            periods AS (
                SELECT CASE $3::text
                           WHEN 'week' THEN date_trunc('week', day::timestamp)::date
                           WHEN 'month' THEN date_trunc('month', day::timestamp)::date
                           ELSE day
                       END AS period,
                       max(day) AS last_day
                FROM days
                GROUP BY 1
            ),
            counts AS (
                SELECT t.day, sum(t.open_count)::int8 AS open_n,
                       sum(t.past_sla_count)::int8 AS past_n
                FROM daily_account_totals t
                LEFT JOIN accounts a ON a.id = t.account_id
                WHERE t.day BETWEEN $1 AND $2
                  AND t.day IN (SELECT last_day FROM periods)
                  AND (cardinality($4::text[]) = 0 OR t.account_id = ANY($4))
                  AND (cardinality($5::text[]) = 0 OR t.source::text = ANY($5))
                  AND (cardinality($6::text[]) = 0 OR a.environment = ANY($6))
                  AND (cardinality($7::text[]) = 0 OR a.owner = ANY($7))
                GROUP BY 1
            )
            SELECT p.period AS "date!", coalesce(c.open_n, 0)::int8 AS "open!",
                   coalesce(c.past_n, 0)::int8 AS "past_sla!"
            FROM periods p
            LEFT JOIN counts c ON c.day = p.last_day
            ORDER BY p.period
            "#,
            from,
            to,
            interval.as_str(),
            &filter.accounts,
            &filter.sources,
            &filter.environments,
            &filter.owners,
        )
        .fetch_all(pool)
        .await;
    }
    sqlx::query_as!(
        SlaPoint,
        r#"
        WITH days AS (
            SELECT $1::date + g.n AS day FROM generate_series(0, $2::date - $1::date) AS g(n)
        ),
        periods AS (
            SELECT CASE $3::text
                       WHEN 'week' THEN date_trunc('week', day::timestamp)::date
                       WHEN 'month' THEN date_trunc('month', day::timestamp)::date
                       ELSE day
                   END AS period,
                   max(day) AS last_day
            FROM days
            GROUP BY 1
        ),
        counts AS (
            SELECT r.day, sum(r.open_count)::int8 AS open_n, sum(r.past_sla_count)::int8 AS past_n
            FROM daily_rollups r
            LEFT JOIN accounts a ON a.id = r.account_id
            WHERE r.day BETWEEN $1 AND $2
              AND r.day IN (SELECT last_day FROM periods)
              AND (cardinality($4::text[]) = 0 OR r.account_id = ANY($4))
              AND (cardinality($5::text[]) = 0 OR r.region = ANY($5))
              AND (cardinality($6::text[]) = 0 OR r.source::text = ANY($6))
              AND (cardinality($7::text[]) = 0 OR a.environment = ANY($7))
              AND (cardinality($8::text[]) = 0 OR a.owner = ANY($8))
            GROUP BY 1
        )
        SELECT p.period AS "date!", coalesce(c.open_n, 0)::int8 AS "open!",
               coalesce(c.past_n, 0)::int8 AS "past_sla!"
        FROM periods p
        LEFT JOIN counts c ON c.day = p.last_day
        ORDER BY p.period
        "#,
        from,
        to,
        interval.as_str(),
        &filter.accounts,
        &filter.regions,
        &filter.sources,
        &filter.environments,
        &filter.owners,
    )
    .fetch_all(pool)
    .await
}

/// One account's open findings at the start and at the end of a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mover {
    pub account_id: String,
    /// Its name, when Sightline has a record of the account.
    pub name: Option<String>,
    /// Open findings at the end of `from`.
    pub open_at_start: i64,
    /// Open findings at the end of `to`.
    pub open_at_end: i64,
}

/// Every account (known ones, and any with rollups on `from` or `to`) matching the filter, with
/// its open findings on `from` and on `to`, by account id; the caller sorts by the change.
/// From `daily_account_totals` unless regions are chosen.
pub async fn movers(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
    filter: &TrendFilter,
) -> Result<Vec<Mover>, sqlx::Error> {
    if filter.table(TrendGroup::Account) == Table::AccountTotals {
        return sqlx::query_as!(
            Mover,
            r#"
            WITH counts AS (
                SELECT t.account_id,
                       sum(t.open_count) FILTER (WHERE t.day = $1)::int8 AS at_start,
                       sum(t.open_count) FILTER (WHERE t.day = $2)::int8 AS at_end
                FROM daily_account_totals t
                LEFT JOIN accounts a ON a.id = t.account_id
                WHERE t.day IN ($1, $2)
                  AND (cardinality($3::text[]) = 0 OR t.account_id = ANY($3))
                  AND (cardinality($4::text[]) = 0 OR t.source::text = ANY($4))
                  AND (cardinality($5::text[]) = 0 OR a.environment = ANY($5))
                  AND (cardinality($6::text[]) = 0 OR a.owner = ANY($6))
                GROUP BY 1
            ),
            known AS (
                SELECT a.id, a.name
                FROM accounts a
                WHERE (cardinality($3::text[]) = 0 OR a.id = ANY($3))
                  AND (cardinality($5::text[]) = 0 OR a.environment = ANY($5))
                  AND (cardinality($6::text[]) = 0 OR a.owner = ANY($6))
            )
            SELECT coalesce(c.account_id, k.id) AS "account_id!", k.name AS "name?",
                   coalesce(c.at_start, 0)::int8 AS "open_at_start!",
                   coalesce(c.at_end, 0)::int8 AS "open_at_end!"
            FROM counts c
            FULL JOIN known k ON k.id = c.account_id
            ORDER BY 1
            "#,
            from,
            to,
            &filter.accounts,
            &filter.sources,
            &filter.environments,
            &filter.owners,
        )
        .fetch_all(pool)
        .await;
    }
    sqlx::query_as!(
        Mover,
        r#"
        WITH counts AS (
            SELECT r.account_id,
                   sum(r.open_count) FILTER (WHERE r.day = $1)::int8 AS at_start,
                   sum(r.open_count) FILTER (WHERE r.day = $2)::int8 AS at_end
            FROM daily_rollups r
            LEFT JOIN accounts a ON a.id = r.account_id
            WHERE r.day IN ($1, $2)
              AND (cardinality($3::text[]) = 0 OR r.account_id = ANY($3))
              AND (cardinality($4::text[]) = 0 OR r.region = ANY($4))
              AND (cardinality($5::text[]) = 0 OR r.source::text = ANY($5))
              AND (cardinality($6::text[]) = 0 OR a.environment = ANY($6))
              AND (cardinality($7::text[]) = 0 OR a.owner = ANY($7))
            GROUP BY 1
        ),
        known AS (
            SELECT a.id, a.name
            FROM accounts a
            WHERE (cardinality($3::text[]) = 0 OR a.id = ANY($3))
              AND (cardinality($6::text[]) = 0 OR a.environment = ANY($6))
              AND (cardinality($7::text[]) = 0 OR a.owner = ANY($7))
        )
        SELECT coalesce(c.account_id, k.id) AS "account_id!", k.name AS "name?",
               coalesce(c.at_start, 0)::int8 AS "open_at_start!",
               coalesce(c.at_end, 0)::int8 AS "open_at_end!"
        FROM counts c
        FULL JOIN known k ON k.id = c.account_id
        ORDER BY 1
        "#,
        from,
        to,
        &filter.accounts,
        &filter.regions,
        &filter.sources,
        &filter.environments,
        &filter.owners,
    )
    .fetch_all(pool)
    .await
}

/// Time to resolve the findings of one severity.
#[derive(Debug, Clone, PartialEq)]
pub struct Mttr {
    pub severity: String,
    /// Open findings of this severity resolved in the period.
    pub resolved: i64,
    /// Mean days from opening to resolution.
    pub mean_days: f64,
    /// Median days from opening to resolution.
    pub median_days: f64,
}

/// Mean and median time to resolve, per severity (most severe first; severities with no
/// resolution are left out), of the open findings resolved on the UTC days `[from, to]`.
///
/// Per-day counts cannot give durations, so this reads `finding_events`: the period's
/// `resolved` events from open (`finding_events_resolved_at_idx`), each with the event that
/// opened the episode it ends: the finding's last `new` or `reopened` event recorded before it
/// (`finding_events_finding_idx`). A finding resolved, reopened and resolved again counts
/// twice, each episode from its own opening; time suppressed within an episode counts. The
/// severity is the one at resolution; account, region and source are the finding's.
pub async fn mttr(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
    filter: &TrendFilter,
) -> Result<Vec<Mttr>, sqlx::Error> {
    sqlx::query_as!(
        Mttr,
        r#"
        SELECT d.severity::text AS "severity!", count(*)::int8 AS "resolved!",
               avg(d.days)::float8 AS "mean_days!",
               percentile_cont(0.5) WITHIN GROUP (ORDER BY d.days)::float8 AS "median_days!"
        FROM (
            SELECT e.to_severity AS severity,
                   greatest(0, extract(epoch FROM e.at - o.at) / 86400)::float8 AS days
            FROM finding_events e
            JOIN findings f ON f.id = e.finding_id
            LEFT JOIN accounts a ON a.id = f.account_id
            CROSS JOIN LATERAL (
                SELECT o.at FROM finding_events o
                WHERE o.finding_id = e.finding_id AND o.id < e.id AND o.kind IN ('new', 'reopened')
                ORDER BY o.id DESC
                LIMIT 1
            ) o
            WHERE e.kind = 'resolved' AND e.from_status = 'open'
              AND e.at >= $1::date::timestamp AT TIME ZONE 'UTC'
              AND e.at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
              AND (cardinality($3::text[]) = 0 OR f.account_id = ANY($3))
              AND (cardinality($4::text[]) = 0 OR f.region = ANY($4))
              AND (cardinality($5::text[]) = 0 OR f.source::text = ANY($5))
              AND (cardinality($6::text[]) = 0 OR a.environment = ANY($6))
              AND (cardinality($7::text[]) = 0 OR a.owner = ANY($7))
        ) d
        GROUP BY d.severity
        ORDER BY d.severity DESC
        "#,
        from,
        to,
        &filter.accounts,
        &filter.regions,
        &filter.sources,
        &filter.environments,
        &filter.owners,
    )
    .fetch_all(pool)
    .await
}

/// An open finding past its SLA (now, or at the end of a past day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaBreach {
    pub id: Uuid,
    pub title: String,
    pub account_id: String,
    pub region: String,
    pub source: String,
    pub severity: String,
    /// When it was first seen (its age counts from there, reopenings included).
    pub open_since: DateTime<Utc>,
    /// Whole UTC days from `open_since`'s day to today (or to the past day asked about).
    pub age_days: i64,
    /// Its severity's SLA in days; `age_days` exceeds it.
    pub sla_days: i64,
}

/// The open findings past their severity's SLA now, most overdue (age minus SLA) first, at
/// most `limit`. A finding exactly at its SLA day is not past it (the rule of the rollups'
/// `past_sla_count`, so today's count there matches this list's length without a limit).
///
/// A list of findings cannot come from the rollups: this reads the open findings of each
/// severity with an SLA first seen before today minus that SLA
/// (`findings_open_first_seen_idx`), a range of the index per severity.
pub async fn sla_breaches(
    pool: &PgPool,
    filter: &TrendFilter,
    sla: &SlaConfig,
    limit: i64,
) -> Result<Vec<SlaBreach>, sqlx::Error> {
    let days = |s| sla.days(s).map(|d| d.min(i32::MAX as u32) as i32);
    let today = Utc::now().date_naive();
    sqlx::query_as!(
        SlaBreach,
        r#"
        SELECT f.id, f.title, f.account_id, f.region, f.source::text AS "source!",
               f.severity::text AS "severity!", f.first_seen_at AS open_since,
               ($1::date - (f.first_seen_at AT TIME ZONE 'UTC')::date)::int8 AS "age_days!",
               s.days::int8 AS "sla_days!"
        FROM (VALUES ('critical'::severity, $2::int4), ('high'::severity, $3::int4),
                     ('medium'::severity, $4::int4), ('low'::severity, $5::int4),
                     ('informational'::severity, $6::int4)) AS s(severity, days)
        JOIN findings f
          ON f.status = 'open' AND f.severity = s.severity
         AND f.first_seen_at < ($1::date - s.days)::timestamp AT TIME ZONE 'UTC'
        LEFT JOIN accounts a ON a.id = f.account_id
        WHERE s.days IS NOT NULL
          AND (cardinality($7::text[]) = 0 OR f.account_id = ANY($7))
          AND (cardinality($8::text[]) = 0 OR f.region = ANY($8))
          AND (cardinality($9::text[]) = 0 OR f.source::text = ANY($9))
          AND (cardinality($10::text[]) = 0 OR a.environment = ANY($10))
          AND (cardinality($11::text[]) = 0 OR a.owner = ANY($11))
        ORDER BY ($1::date - (f.first_seen_at AT TIME ZONE 'UTC')::date) - s.days DESC, f.first_seen_at, f.id
        LIMIT $12
        "#,
        today,
        days(Severity::Critical),
        days(Severity::High),
        days(Severity::Medium),
        days(Severity::Low),
        days(Severity::Informational),
        &filter.accounts,
        &filter.regions,
        &filter.sources,
        &filter.environments,
        &filter.owners,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// The findings that were open and past their SLA at the end of the UTC day `day` (before
/// today), most overdue first, at most `limit`: what `sla_breaches` said that night. A
/// finding's state then is its last event recorded with a time before the day's end, and its
/// severity that event's, as `db::rollups::recompute` reads them, so the list's length without
/// a limit equals that day's rollups' `past_sla_count`. Reads the events of that time
/// (seconds at millions of findings): for reports on past months, not every page view.
pub async fn sla_breaches_on(
    pool: &PgPool,
    day: NaiveDate,
    filter: &TrendFilter,
    sla: &SlaConfig,
    limit: i64,
) -> Result<Vec<SlaBreach>, sqlx::Error> {
    let days = |s| sla.days(s).map(|d| d.min(i32::MAX as u32) as i32);
    sqlx::query_as!(
        SlaBreach,
        r#"
        WITH state AS (
            SELECT DISTINCT ON (e.finding_id) e.finding_id, e.to_status, e.to_severity
            FROM finding_events e
            WHERE e.at < ($1::date + 1)::timestamp AT TIME ZONE 'UTC'
            ORDER BY e.finding_id, e.id DESC
        )
        SELECT f.id, f.title, f.account_id, f.region, f.source::text AS "source!",
               st.to_severity::text AS "severity!", f.first_seen_at AS open_since,
               ($1::date - (f.first_seen_at AT TIME ZONE 'UTC')::date)::int8 AS "age_days!",
               s.days::int8 AS "sla_days!"
        FROM state st
        JOIN (VALUES ('critical'::severity, $2::int4), ('high'::severity, $3::int4),
                     ('medium'::severity, $4::int4), ('low'::severity, $5::int4),
                     ('informational'::severity, $6::int4)) AS s(severity, days)
          ON s.severity = st.to_severity
        JOIN findings f ON f.id = st.finding_id
        LEFT JOIN accounts a ON a.id = f.account_id
        WHERE st.to_status = 'open' AND s.days IS NOT NULL
          AND ($1::date - (f.first_seen_at AT TIME ZONE 'UTC')::date) > s.days
          AND (cardinality($7::text[]) = 0 OR f.account_id = ANY($7))
          AND (cardinality($8::text[]) = 0 OR f.region = ANY($8))
          AND (cardinality($9::text[]) = 0 OR f.source::text = ANY($9))
          AND (cardinality($10::text[]) = 0 OR a.environment = ANY($10))
          AND (cardinality($11::text[]) = 0 OR a.owner = ANY($11))
        ORDER BY ($1::date - (f.first_seen_at AT TIME ZONE 'UTC')::date) - s.days DESC, f.first_seen_at, f.id
        LIMIT $12
        "#,
        day,
        days(Severity::Critical),
        days(Severity::High),
        days(Severity::Medium),
        days(Severity::Low),
        days(Severity::Informational),
        &filter.accounts,
        &filter.regions,
        &filter.sources,
        &filter.environments,
        &filter.owners,
        limit,
    )
    .fetch_all(pool)
    .await
}
