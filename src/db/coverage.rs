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

/// Records the state and message of many accounts' cells of one region and source, in one
/// statement: a delegated administrator's members (1,000 accounts would be 1,000 round trips).
/// `rows` are (account id, state, message); of an account listed twice, the last counts.
pub async fn record_many(
    pool: &PgPool,
    region: &str,
    source: &str,
    rows: &[(String, &str, String)],
) -> Result<(), sqlx::Error> {
    let accounts: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let states: Vec<String> = rows.iter().map(|r| r.1.to_owned()).collect();
    let messages: Vec<String> = rows.iter().map(|r| r.2.clone()).collect();
    sqlx::query!(
        r#"
        INSERT INTO coverage (account_id, region, source, state, message, checked_at)
        SELECT DISTINCT ON (a) a, $1, $2::text::finding_source, s::coverage_state, m, now()
        FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS r(a, s, m, i)
        ORDER BY a, i DESC
        ON CONFLICT (account_id, region, source) DO UPDATE
        SET state = excluded.state, message = excluded.message, checked_at = excluded.checked_at
        "#,
        region,
        source,
        &accounts,
        &states,
        &messages
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
