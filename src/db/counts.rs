//! `finding_counts`: the materialized per-dimension counts of findings that the posture pages,
//! the stats API and the list's facets read, and when it was last refreshed.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// Recomputes the counts from `findings`. Readers keep reading the previous counts meanwhile;
/// two refreshes at once run one after the other.
pub async fn refresh(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query!("REFRESH MATERIALIZED VIEW CONCURRENTLY finding_counts")
        .execute(pool)
        .await?;
    sqlx::query!("UPDATE finding_counts_refreshed SET at = now()")
        .execute(pool)
        .await?;
    Ok(())
}

/// When the counts were last refreshed.
pub async fn refreshed_at(pool: &PgPool) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar!("SELECT at FROM finding_counts_refreshed")
        .fetch_one(pool)
        .await
}
