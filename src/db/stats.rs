//! Counts of open canonical findings, grouped by any subset of their dimensions.

use sqlx::PgPool;

/// Which dimensions to group by; the others are summed over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupBy {
    pub account: bool,
    pub region: bool,
    pub source: bool,
    pub severity: bool,
    pub status: bool,
    pub environment: bool,
}

/// One group: the requested dimensions are `Some`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenGroup {
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub source: Option<String>,
    pub severity: Option<String>,
    pub status: Option<String>,
    pub environment: Option<String>,
    pub count: i64,
}

/// Open findings per group, as of the last refresh of `finding_counts`. One static statement
/// serves every combination: a dimension not asked for is NULL in every row, so it collapses
/// into one group.
pub async fn open_counts(pool: &PgPool, by: GroupBy) -> Result<Vec<OpenGroup>, sqlx::Error> {
    sqlx::query_as!(
        OpenGroup,
        r#"
        SELECT
            CASE WHEN $1 THEN f.account_id END AS account_id,
            CASE WHEN $2 THEN f.region END AS region,
            CASE WHEN $3 THEN f.source::text END AS source,
            CASE WHEN $4 THEN f.severity::text END AS severity,
            CASE WHEN $5 THEN f.status::text END AS status,
            CASE WHEN $6 THEN coalesce(a.environment, '') END AS environment,
            sum(f.n)::bigint AS "count!"
        FROM finding_counts f
        LEFT JOIN accounts a ON a.id = f.account_id AND $6
        WHERE f.status = 'open'
        GROUP BY 1, 2, 3, 4, 5, 6
        ORDER BY 7 DESC, 1, 2, 3, 4, 6
        "#,
        by.account,
        by.region,
        by.source,
        by.severity,
        by.status,
        by.environment
    )
    .fetch_all(pool)
    .await
}

/// Canonical findings per (account, region, source, severity, status), every status.
pub async fn all_counts(
    pool: &PgPool,
) -> Result<Vec<(String, String, String, String, String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"
        SELECT account_id, region, source::text AS "source!", severity::text AS "severity!",
               status::text AS "status!", count(*) AS "count!"
        FROM findings GROUP BY 1, 2, 3, 4, 5
        "#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.account_id,
                r.region,
                r.source,
                r.severity,
                r.status,
                r.count,
            )
        })
        .collect())
}

/// Coverage per (account, region, source): its state.
pub async fn coverage_states(
    pool: &PgPool,
) -> Result<Vec<(String, String, String, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT account_id, region, source::text AS "source!", state::text AS "state!" FROM coverage"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.account_id, r.region, r.source, r.state))
        .collect())
}
