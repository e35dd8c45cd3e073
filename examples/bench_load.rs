//! Loads an organisation's worth of data for the page and API benchmarks (issues 5 and 6).
//!
//! Run it through `./scripts/bench pages` (which then measures the pages against it), or alone:
//! `cargo run --release --example bench_load -- [--findings N] [--accounts A] [--regions R]`
//! with DATABASE_URL naming any database of the server to use. It (re)creates the database
//! `sightline_bench_pages` (`--database`) on that server, applies the migrations and fills:
//!
//! - `findings` (and their `new` events): N findings (default 1,000,000) of
//!   `sim::samples::estate_findings` over A accounts (default 200) × R regions (default 16),
//!   written with `db::findings::upsert_batch` in batches of 1,000, as the poller writes them;
//! - `accounts` (`db::accounts::sync`): names, environments, owners;
//! - `coverage` for every account × region × source: mostly enabled; Macie off in some
//!   regions, two accounts that refuse the role (access denied), a few errors;
//! - `poll_targets` with watermarks and last successes, and `--cycles` poll cycles in
//!   `poll_runs` (one row per cycle and one per target per cycle);
//! - `daily_rollups` for the last `--rollup-days` days (the overview's sparkline);
//!
//! then runs `VACUUM (ANALYZE)`, as autovacuum would have done on a database that has been
//! running, refreshes `finding_counts` (`db::counts::refresh`, as the poller does) twice and
//! times it, and prints what it loaded and how long each step took. The database is kept.
#![allow(clippy::unwrap_used)]

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use chrono::Utc;
use clap::Parser;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use sightline::config::AccountConfig;
use sightline::db::findings::{UpsertOutcome, upsert_batch};
use sightline::domain::Finding;
use sightline::sim::samples::{ESTATE_REGIONS, estate_account, estate_findings};

#[derive(Debug, Parser)]
#[command(about = "Loads findings, accounts, coverage and poll history for the page benchmarks")]
struct Args {
    /// Findings to load.
    #[arg(long, default_value_t = 1_000_000)]
    findings: usize,
    /// Accounts the findings are spread over.
    #[arg(long, default_value_t = 200)]
    accounts: usize,
    /// Regions (1 to 16) the findings are spread over.
    #[arg(long, default_value_t = 16)]
    regions: usize,
    /// Findings per `upsert_batch` (one transaction each).
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Connections writing batches at once.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// Poll cycles recorded in `poll_runs`.
    #[arg(long, default_value_t = 4)]
    cycles: u32,
    /// Days of `daily_rollups` (0 for none).
    #[arg(long, default_value_t = 30)]
    rollup_days: u32,
    /// The server to load (any database of it: the loader creates its own).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The database the loader drops and creates.
    #[arg(long, default_value = "sightline_bench_pages")]
    database: String,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        (1..=ESTATE_REGIONS.len()).contains(&args.regions),
        "--regions must be 1 to {}",
        ESTATE_REGIONS.len()
    );
    ensure!(args.accounts >= 1, "--accounts must be at least 1");
    ensure!(
        args.batch >= 1 && args.writers >= 1,
        "--batch and --writers must be at least 1"
    );
    ensure!(
        args.database
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "--database must be a plain lower-case identifier"
    );
    let all = Instant::now();

    let server = PgConnectOptions::from_str(&args.database_url).context("DATABASE_URL")?;
    let mut admin = PgConnection::connect_with(&server)
        .await
        .context("connecting to DATABASE_URL")?;
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        args.database
    ))
    .execute(&mut admin)
    .await?;
    sqlx::query(&format!("CREATE DATABASE {}", args.database))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    let pool = PgPoolOptions::new()
        .max_connections(args.writers as u32 + 1)
        .connect_with(server.clone().database(&args.database))
        .await?;
    sightline::db::MIGRATOR.run(&pool).await?;
    eprintln!(
        "created database {} and applied the migrations",
        args.database
    );

    let t = Instant::now();
    let accounts = account_configs(args.accounts);
    sightline::db::accounts::sync(&pool, &accounts).await?;
    eprintln!("accounts: {} in {:.1?}", accounts.len(), t.elapsed());

    let t = Instant::now();
    let outcome = load_findings(&pool, &args).await?;
    let load_secs = t.elapsed().as_secs_f64();
    ensure!(
        outcome.inserted == args.findings as u64,
        "inserted {} findings, not {}",
        outcome.inserted,
        args.findings
    );
    eprintln!(
        "findings: {} inserted ({} events) in {load_secs:.1} s = {:.0} rows/s",
        outcome.inserted,
        outcome.events,
        outcome.inserted as f64 / load_secs
    );

    let regions: Vec<String> = ESTATE_REGIONS[..args.regions]
        .iter()
        .map(|r| (*r).to_owned())
        .collect();
    let ids: Vec<String> = accounts.iter().map(|a| a.id.to_string()).collect();
    let t = Instant::now();
    load_coverage_and_targets(&pool, &ids, &regions).await?;
    eprintln!("coverage and poll targets in {:.1?}", t.elapsed());

    let t = Instant::now();
    load_poll_runs(&pool, args.cycles).await?;
    eprintln!("poll runs: {} cycles in {:.1?}", args.cycles, t.elapsed());

    let t = Instant::now();
    load_rollups(&pool, args.rollup_days).await?;
    eprintln!(
        "daily rollups: {} days in {:.1?}",
        args.rollup_days,
        t.elapsed()
    );

    let t = Instant::now();
    sqlx::query("VACUUM (ANALYZE)").execute(&pool).await?;
    eprintln!("VACUUM (ANALYZE) in {:.1?}", t.elapsed());

    // The counts the pages read, as the poller refreshes them during and after each cycle: the
    // first refresh fills the view, the second is what each later one costs.
    let mut refreshes = Vec::new();
    for _ in 0..2 {
        let t = Instant::now();
        sightline::db::counts::refresh(&pool).await?;
        refreshes.push(t.elapsed().as_secs_f64());
    }
    sqlx::query("ANALYZE finding_counts").execute(&pool).await?;

    println!(
        "loaded database {} in {:.0} s:",
        args.database,
        all.elapsed().as_secs_f64()
    );
    for table in [
        "accounts",
        "findings",
        "finding_events",
        "coverage",
        "poll_targets",
        "poll_runs",
        "daily_rollups",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&pool)
            .await?;
        println!("  {table}: {n} rows");
    }
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM findings WHERE status = 'open'")
        .fetch_one(&pool)
        .await?;
    let size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_database_size(current_database()))")
            .fetch_one(&pool)
            .await?;
    let counts: i64 = sqlx::query_scalar("SELECT count(*) FROM finding_counts")
        .fetch_one(&pool)
        .await?;
    println!(
        "  finding_counts: {counts} rows; db::counts::refresh took {:.1} s (first), {:.1} s (again)",
        refreshes[0], refreshes[1]
    );
    println!("  open findings: {open}; database size {size}");
    println!(
        "  findings written at {:.0} rows/s ({} writers, batches of {})",
        args.findings as f64 / load_secs,
        args.writers,
        args.batch
    );
    Ok(())
}

/// Accounts named like an organisation's: an environment, a team, a number.
fn account_configs(n: usize) -> Vec<AccountConfig> {
    const ENVS: [&str; 5] = ["prod", "prod", "staging", "dev", "sandbox"];
    const TEAMS: [&str; 10] = [
        "payments", "identity", "search", "data", "platform", "mobile", "web", "ml", "billing",
        "security",
    ];
    (0..n)
        .map(|k| {
            // The first tenth, which hold the most findings, are production accounts.
            let env = if k < n.div_ceil(10) {
                "prod"
            } else {
                ENVS[k % ENVS.len()]
            };
            let team = TEAMS[(k / ENVS.len()) % TEAMS.len()];
            AccountConfig {
                id: estate_account(k),
                name: format!("{env}-{team}-{k:03}"),
                environment: env.to_owned(),
                owner: team.to_owned(),
                role_arn: None,
            }
        })
        .collect()
}

/// Generates the findings batch by batch on a blocking thread while `writers` connections
/// upsert them, each batch in its own transaction.
async fn load_findings(pool: &PgPool, args: &Args) -> Result<UpsertOutcome> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<Finding>>(args.writers * 4);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let (n, size, accounts, regions) = (args.findings, args.batch, args.accounts, args.regions);
    let seen_at = Utc::now();
    let generator = tokio::task::spawn_blocking(move || {
        let mut start = 0;
        while start < n {
            let len = size.min(n - start);
            let batch = estate_findings(start, len, accounts, regions, seen_at);
            if tx.blocking_send(batch).is_err() {
                break;
            }
            start += len;
        }
    });
    let progress = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut writers = Vec::new();
    for _ in 0..args.writers {
        let (rx, pool, progress) = (rx.clone(), pool.clone(), progress.clone());
        writers.push(tokio::spawn(async move {
            let mut conn = pool.acquire().await?;
            let mut total = UpsertOutcome::default();
            loop {
                let next = rx.lock().await.recv().await;
                let Some(batch) = next else { break };
                let mut t = conn.begin().await?;
                let o = upsert_batch(&mut t, &batch).await?;
                t.commit().await?;
                total.inserted += o.inserted;
                total.updated += o.updated;
                total.events += o.events;
                let done = progress.fetch_add(batch.len(), Ordering::Relaxed) + batch.len();
                if done % 100_000 < batch.len() {
                    eprintln!(
                        "  {done} findings in {:.0} s",
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            anyhow::Ok(total)
        }));
    }
    let mut total = UpsertOutcome::default();
    for w in writers {
        let o = w.await??;
        total.inserted += o.inserted;
        total.updated += o.updated;
        total.events += o.events;
    }
    generator.await?;
    Ok(total)
}

/// Coverage of every account × region × source, and its poll target. Mostly enabled; Macie
/// not enabled outside the first four regions in most accounts and Inspector in a fifth of the
/// (account, region)s; the last two accounts refuse the role (every target access denied); a
/// few targets ended in an error. Enabled targets succeeded within the last 15 minutes.
async fn load_coverage_and_targets(
    pool: &PgPool,
    accounts: &[String],
    regions: &[String],
) -> Result<()> {
    let denied: Vec<String> = accounts
        .iter()
        .rev()
        .take(2.min(accounts.len() / 10))
        .cloned()
        .collect();
    sqlx::query(
        r#"
        WITH cells AS (
            SELECT a, r, ri, s::finding_source AS s,
                   abs(hashtext(a || r || s)) % 100 AS h
            FROM UNNEST($1::text[]) a
            CROSS JOIN UNNEST($2::text[]) WITH ORDINALITY AS rr(r, ri)
            CROSS JOIN UNNEST(ARRAY['securityhub', 'guardduty', 'inspector', 'macie', 'accessanalyzer']) s
        ), states AS (
            SELECT a, r, s, h,
                   CASE
                       WHEN a = ANY($3::text[]) THEN 'access_denied'
                       WHEN s = 'macie' AND ri > 4 AND h < 70 THEN 'not_enabled'
                       WHEN s = 'inspector' AND h < 20 THEN 'not_enabled'
                       WHEN h = 99 THEN 'error'
                       ELSE 'enabled'
                   END::coverage_state AS state
            FROM cells
        )
        INSERT INTO coverage (account_id, region, source, state, message, checked_at)
        SELECT a, r, s, state,
               CASE state
                   WHEN 'access_denied' THEN 'AssumeRole: User: arn:aws:sts::' || a
                        || ':assumed-role/sightline is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::'
                        || a || ':role/SightlineReadOnly'
                   WHEN 'not_enabled' THEN s::text || ' is not enabled in ' || r
                   WHEN 'error' THEN 'InternalServerError: the service did not answer after 10 attempts'
                   ELSE ''
               END,
               now() - make_interval(secs => h * 6)
        FROM states
        "#,
    )
    .bind(accounts)
    .bind(regions)
    .bind(&denied)
    .execute(pool)
    .await?;
    sqlx::query(
        r#"
        INSERT INTO poll_targets (account_id, region, source, watermark, last_full_sweep_at,
                                  last_polled_at, last_success_at)
        SELECT account_id, region, source,
               CASE WHEN state = 'enabled' THEN now() - interval '20 minutes' END,
               CASE WHEN state = 'enabled' THEN now() - make_interval(hours => abs(hashtext(account_id || region)) % 24) END,
               checked_at,
               CASE WHEN state IN ('enabled', 'not_enabled') THEN checked_at END
        FROM coverage
        "#,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// `cycles` poll cycles, 15 minutes apart, the last one ended a minute ago: one row per cycle
/// (no target) and one per target, with pages, findings seen and changed, throttles, and the
/// error of each target whose coverage is not enabled or failed.
async fn load_poll_runs(pool: &PgPool, cycles: u32) -> Result<()> {
    for c in 0..cycles {
        let ago = (cycles - c - 1) as f64 * 900.0 + 840.0;
        sqlx::query(
            r#"
            WITH cycle AS (
                INSERT INTO poll_runs (cycle_id, started_at, ended_at)
                VALUES (gen_random_uuid(), now() - make_interval(secs => $1::float8),
                        now() - make_interval(secs => $1::float8 - 780))
                RETURNING cycle_id, started_at
            )
            INSERT INTO poll_runs (cycle_id, account_id, region, source, started_at, ended_at,
                                   full_sweep, pages, findings_seen, findings_changed,
                                   throttles, retries, error)
            SELECT cycle.cycle_id, t.account_id, t.region, t.source,
                   cycle.started_at + make_interval(secs => h % 700),
                   cycle.started_at + make_interval(secs => h % 700 + 1 + h % 30),
                   h % 96 = $2::int4,
                   CASE WHEN c.state = 'enabled' THEN 1 + h % 3 ELSE 0 END,
                   CASE WHEN c.state = 'enabled' THEN h % 250 ELSE 0 END,
                   CASE WHEN c.state = 'enabled' THEN h % 7 ELSE 0 END,
                   CASE WHEN h % 50 = 0 THEN 1 + h % 4 ELSE 0 END,
                   CASE WHEN h % 50 = 0 THEN 1 + h % 4 ELSE 0 END,
                   CASE WHEN c.state IN ('access_denied', 'error') THEN c.message END
            FROM cycle, poll_targets t
            JOIN coverage c USING (account_id, region, source)
            CROSS JOIN LATERAL (SELECT abs(hashtext(t.account_id || t.region || t.source::text || $2::int4::text)) AS h) x
            "#,
        )
        .bind(ago)
        .bind(c as i32)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Open findings per day, account, region, source and severity over the last `days` days,
/// drifting towards today's counts (the overview's 30-day sparkline reads them).
async fn load_rollups(pool: &PgPool, days: u32) -> Result<()> {
    if days == 0 {
        return Ok(());
    }
    sqlx::query(
        r#"
        INSERT INTO daily_rollups (day, account_id, region, source, severity, open_count,
                                   new_count, resolved_count, reopened_count)
        SELECT current_date - d, account_id, region, source, severity,
               greatest(0, round(n * (1 + d * 0.005)))::int,
               (n / 40)::int, (n / 50)::int, 0
        FROM (SELECT account_id, region, source, severity, count(*) AS n FROM findings
              WHERE status = 'open' GROUP BY 1, 2, 3, 4) g
        CROSS JOIN generate_series(0, $1::int4 - 1) d
        "#,
    )
    .bind(days as i32)
    .execute(pool)
    .await?;
    Ok(())
}
