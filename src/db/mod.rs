//! All SQL lives here: free functions over a pool, a connection or a transaction.

pub mod accounts;
pub mod baseline;
pub mod counts;
pub mod coverage;
pub mod findings;
pub mod findings_list;
pub mod metrics;
pub mod poll;
pub mod posture;
pub mod rollups;
pub mod stats;
pub mod tokens;
pub mod trends;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::DatabaseUrl;

/// The embedded migrations (`migrations/`), applied by `sightline migrate` and at start of
/// `serve`, `poll` and `demo`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Why the database could not be used, phrased for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to the database at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot apply the database migrations: {0}")]
    Migrate(String),
}

/// Opens a pool; fails within a few seconds, in one line, when the server cannot be reached.
pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> Result<PgPool, ConnectError> {
    let options = url
        .expose()
        .parse::<PgConnectOptions>()
        .map_err(|e| ConnectError::Connect {
            url: url.redacted(),
            reason: one_line(&e),
        })?
        // Our statements are short; compiling them costs more than it saves (6–13 ms measured
        // on the pages' queries at a million findings).
        .options([("jit", "off")]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| ConnectError::Connect {
            url: url.redacted(),
            reason: one_line(&e),
        })
}

/// Brings the schema up to date. Safe to run from several processes at once (sqlx takes an
/// advisory lock).
pub async fn migrate(pool: &PgPool) -> Result<(), ConnectError> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| ConnectError::Migrate(one_line(&e)))
}

fn one_line(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s.replace('\n', " ")
}
