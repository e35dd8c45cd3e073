//! Coverage: whether each service is on in each (account, region), as last read.

use sqlx::PgPool;

/// Records the state of one target (`enabled`, `not_enabled`, `access_denied`, `error`,
/// `unknown`) and the message that explains it.
pub async fn record(
    pool: &PgPool,
    account_id: &str,
    region: &str,
    source: &str,
    state: &str,
    message: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"
        INSERT INTO coverage (account_id, region, source, state, message, checked_at)
        VALUES ($1, $2, $3::text::finding_source, $4::text::coverage_state, $5, now())
        ON CONFLICT (account_id, region, source) DO UPDATE
        SET state = excluded.state, message = excluded.message, checked_at = excluded.checked_at
        "#,
        account_id,
        region,
        source,
        state,
        message
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// One (account, region, source) as last read.
#[derive(Debug, Clone)]
pub struct CoverageRow {
    pub account_id: String,
    pub region: String,
    pub source: String,
    pub state: String,
    pub message: String,
    pub checked_at: chrono::DateTime<chrono::Utc>,
}

/// Every coverage row, by account, region and source.
pub async fn list(pool: &PgPool) -> Result<Vec<CoverageRow>, sqlx::Error> {
    sqlx::query_as!(
        CoverageRow,
        r#"
        SELECT account_id, region, source::text AS "source!", state::text AS "state!", message, checked_at
        FROM coverage ORDER BY account_id, region, source
        "#
    )
    .fetch_all(pool)
    .await
}
