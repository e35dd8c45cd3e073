//! API tokens, stored as SHA-256 hashes: the token itself is shown once, at creation.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Stores a new token's hash. `Ok(false)` when the name is taken.
pub async fn create(
    pool: &PgPool,
    name: &str,
    hash: &[u8],
    expires_at: Option<DateTime<Utc>>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "INSERT INTO api_tokens (name, token_hash, expires_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        name,
        hash,
        expires_at
    )
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Why a presented token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Unknown,
    Revoked,
    Expired,
}

/// Checks a token's hash and records its use. The lookup is by hash, so nothing about a stored
/// token leaks through timing.
pub async fn authenticate(
    pool: &PgPool,
    hash: &[u8],
) -> Result<Result<String, Rejection>, sqlx::Error> {
    let row = sqlx::query!(
        r#"
        UPDATE api_tokens SET last_used_at = now()
        WHERE token_hash = $1
        RETURNING name, revoked_at, expires_at, (expires_at IS NOT NULL AND expires_at < now()) AS "expired!"
        "#,
        hash
    )
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        None => Err(Rejection::Unknown),
        Some(r) if r.revoked_at.is_some() => Err(Rejection::Revoked),
        Some(r) if r.expired => Err(Rejection::Expired),
        Some(r) => Ok(r.name),
    })
}

pub async fn list(pool: &PgPool) -> Result<Vec<TokenRow>, sqlx::Error> {
    sqlx::query_as!(
        TokenRow,
        "SELECT name, created_at, expires_at, revoked_at, last_used_at FROM api_tokens ORDER BY created_at"
    )
    .fetch_all(pool)
    .await
}

/// Revokes a token by name; `Ok(false)` when there is no such active token.
pub async fn revoke(pool: &PgPool, name: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
        name
    )
    .execute(pool)
    .await?;
    Ok(r.rows_affected() == 1)
}
