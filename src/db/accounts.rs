//! The accounts table: what the config (or AWS Organizations) says about each account.

use sqlx::PgPool;

use crate::config::AccountConfig;

/// Inserts or updates the configured accounts. Accounts no longer in the config are kept: their
/// findings and history stay readable.
pub async fn sync(pool: &PgPool, accounts: &[AccountConfig]) -> Result<u64, sqlx::Error> {
    let ids: Vec<String> = accounts.iter().map(|a| a.id.to_string()).collect();
    let names: Vec<String> = accounts.iter().map(|a| a.name.clone()).collect();
    let envs: Vec<String> = accounts.iter().map(|a| a.environment.clone()).collect();
    let owners: Vec<String> = accounts.iter().map(|a| a.owner.clone()).collect();
    let role_arns: Vec<Option<String>> = accounts.iter().map(|a| a.role_arn.clone()).collect();
    let result = sqlx::query!(
        r#"
        INSERT INTO accounts (id, name, environment, owner, role_arn)
        SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
        ON CONFLICT (id) DO UPDATE SET
            name = excluded.name, environment = excluded.environment, owner = excluded.owner,
            role_arn = excluded.role_arn, updated_at = now()
        WHERE (accounts.name, accounts.environment, accounts.owner, accounts.role_arn)
              IS DISTINCT FROM (excluded.name, excluded.environment, excluded.owner, excluded.role_arn)
        "#,
        &ids,
        &names,
        &envs,
        &owners,
        &role_arns as &[Option<String>],
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// An account's name, `None` when the account is not known.
pub async fn name(pool: &PgPool, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT name FROM accounts WHERE id = $1", id)
        .fetch_optional(pool)
        .await
}

/// Stores each account's OU path (`Root/Workloads/Prod`), as Organizations tells it.
pub async fn set_ou_paths(pool: &PgPool, paths: &[(String, String)]) -> Result<u64, sqlx::Error> {
    let ids: Vec<String> = paths.iter().map(|(id, _)| id.clone()).collect();
    let ous: Vec<String> = paths.iter().map(|(_, p)| p.clone()).collect();
    let result = sqlx::query!(
        r#"
        UPDATE accounts a SET ou_path = p.ou_path, updated_at = now()
        FROM UNNEST($1::text[], $2::text[]) AS p(id, ou_path)
        WHERE a.id = p.id AND a.ou_path IS DISTINCT FROM p.ou_path
        "#,
        &ids,
        &ous
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// Every stored account as a config entry: what a cycle watches when discovery fails.
pub async fn all(pool: &PgPool) -> Result<Vec<AccountConfig>, sqlx::Error> {
    let rows =
        sqlx::query!("SELECT id, name, environment, owner, role_arn FROM accounts ORDER BY id")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(AccountConfig {
                id: r.id.parse().ok()?,
                name: r.name,
                environment: r.environment,
                owner: r.owner,
                role_arn: r.role_arn,
            })
        })
        .collect())
}
