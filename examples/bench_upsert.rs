//! Upsert throughput of normalised findings against a plain COPY of the same rows (issue 2).
//!
//! Run it through `./scripts/bench upsert [--findings N]`, which provides a Postgres server when
//! DATABASE_URL is unset. It (re)creates the database `sightline_bench` on that server, applies
//! the migrations, generates N Security Hub control findings (about 3.5 KB of raw JSON each),
//! and measures in one run, each time starting from empty `findings` and `finding_events`:
//!
//! - `upsert_batch` of all N findings in batches of 100, one transaction per batch;
//! - the same in batches of 1,000, then the same batches again (the idempotent no-op path);
//! - one `COPY findings (...) FROM STDIN` (text format) of the very same rows.
//!
//! Every timing covers the client-side encoding as well as the server's work, from the same
//! `&[Finding]`. Each measurement runs `--runs` times (default 3), interleaved with the others,
//! and the best run counts. It prints a markdown table of rows/s and the ratio to COPY's rows/s.
#![allow(clippy::unwrap_used)]

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Parser;
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use sightline::db::findings::{UpsertOutcome, upsert_batch};
use sightline::domain::Finding;
use sightline::sim::samples::control_findings;

#[derive(Debug, Parser)]
#[command(about = "Upsert throughput of findings against a plain COPY of the same rows")]
struct Args {
    /// Findings written by each measurement.
    #[arg(long, default_value_t = 100_000)]
    findings: usize,
    /// Runs of each measurement, interleaved; the best one is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The server to benchmark on (any database of it: the benchmark creates its own).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The database the benchmark drops, creates, and drops again at the end.
    #[arg(long, default_value = "sightline_bench")]
    database: String,
    /// Leave the benchmark database in place at the end.
    #[arg(long)]
    keep: bool,
}

/// The columns COPY writes: every column `upsert_batch` inserts.
const COPY_COLUMNS: &str = "id, canonical_key, source, provenance, account_id, region, severity, \
     status, title, finding_type, resource_type, resource_id, control_id, first_seen_at, \
     last_seen_at, updated_at, raw";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.findings >= 1_000, "--findings must be at least 1000");
    ensure!(args.runs >= 1, "--runs must be at least 1");
    ensure!(
        args.database
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "--database must be a plain lower-case identifier"
    );

    let server = PgConnectOptions::from_str(&args.database_url).context("DATABASE_URL")?;
    let mut admin = PgConnection::connect_with(&server)
        .await
        .context("connecting to DATABASE_URL")?;
    let version: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&mut admin)
        .await?;
    let mut settings = Vec::new();
    for name in [
        "shared_buffers",
        "fsync",
        "synchronous_commit",
        "full_page_writes",
        "max_wal_size",
    ] {
        let value: String = sqlx::query_scalar(&format!("SHOW {name}"))
            .fetch_one(&mut admin)
            .await?;
        settings.push(format!("{name}={value}"));
    }
    recreate_database(&mut admin, &args.database).await?;

    let mut conn = PgConnection::connect_with(&server.clone().database(&args.database)).await?;
    sightline::db::MIGRATOR.run(&mut conn).await?;

    let n = args.findings;
    let seen_at = Utc::now();
    let started = Instant::now();
    let findings = control_findings(0, n, seen_at);
    let raw_bytes: usize = findings
        .iter()
        .map(|f| serde_json::to_string(&f.raw).unwrap().len())
        .sum();
    eprintln!(
        "generated {n} findings in {:.1?}, raw JSON {:.0} bytes each on average",
        started.elapsed(),
        raw_bytes as f64 / n as f64
    );

    // Warm-up on findings outside the measured range: plans, caches, the connection.
    let warm = control_findings(n, 2_000, seen_at);
    upsert_in_batches(&mut conn, &warm, 1_000).await?;
    upsert_in_batches(&mut conn, &warm, 100).await?;
    truncate(&mut conn).await?;
    copy_in(&mut conn, &warm).await?;
    truncate(&mut conn).await?;

    // Runs are interleaved (a, b, c, then a, b, c again...) so that anything else the machine
    // does slows every measurement alike; the best run of each is kept.
    let mut best = [Duration::MAX; 4];
    for run in 0..args.runs {
        // a. Batches of 100.
        prepare(&mut conn).await?;
        let t = Instant::now();
        let outcome = upsert_in_batches(&mut conn, &findings, 100).await?;
        let took = t.elapsed();
        report("upsert, batches of 100", run, n, took, Some(outcome));
        expect_fresh(outcome, n)?;
        best[0] = best[0].min(took);
        truncate(&mut conn).await?;

        // b. Batches of 1,000, then the same batches again: nothing may change.
        prepare(&mut conn).await?;
        let t = Instant::now();
        let outcome = upsert_in_batches(&mut conn, &findings, 1_000).await?;
        let took = t.elapsed();
        report("upsert, batches of 1,000", run, n, took, Some(outcome));
        expect_fresh(outcome, n)?;
        best[1] = best[1].min(took);
        let upserted_sum = checksum(&mut conn).await?;

        prepare(&mut conn).await?;
        let t = Instant::now();
        let again = upsert_in_batches(&mut conn, &findings, 1_000).await?;
        let took = t.elapsed();
        report("re-upsert, batches of 1,000", run, n, took, Some(again));
        ensure!(
            again == UpsertOutcome::default(),
            "re-upserting stored findings changed something: {again:?}"
        );
        best[2] = best[2].min(took);
        truncate(&mut conn).await?;

        // c. One COPY of the same rows.
        prepare(&mut conn).await?;
        let t = Instant::now();
        let copied = copy_in(&mut conn, &findings).await?;
        let took = t.elapsed();
        report("COPY", run, n, took, None);
        ensure!(copied == n as u64, "COPY wrote {copied} rows, not {n}");
        best[3] = best[3].min(took);
        let copied_sum = checksum(&mut conn).await?;
        ensure!(
            copied_sum == upserted_sum,
            "COPY stored other rows than upsert_batch: {copied_sum:?} vs {upserted_sum:?}"
        );
        truncate(&mut conn).await?;
    }
    eprintln!("COPY stored exactly the rows upsert_batch stored (checksum of every column)");
    let results = [
        ("upsert_batch, new findings", "100", best[0]),
        ("upsert_batch, new findings", "1,000", best[1]),
        ("upsert_batch, unchanged (no-op)", "1,000", best[2]),
        ("COPY (text format), one statement", "all", best[3]),
    ];
    let copy_best = best[3];

    drop(conn);
    if !args.keep {
        sqlx::query(&format!("DROP DATABASE {} WITH (FORCE)", args.database))
            .execute(&mut admin)
            .await?;
    }

    let copy_rate = rate(n, copy_best);
    println!();
    println!(
        "{n} findings, raw JSON {:.0} bytes each on average; {}",
        raw_bytes as f64 / n as f64,
        if args.runs == 1 {
            "one run of each measurement".to_owned()
        } else {
            format!("best of {} runs of each measurement", args.runs)
        }
    );
    println!();
    println!("| Write | Batch | Seconds | Rows/s | vs COPY |");
    println!("|---|---:|---:|---:|---:|");
    for (what, batch, took) in &results {
        let r = rate(n, *took);
        println!(
            "| {what} | {batch} | {:.2} | {} | {:.2} |",
            took.as_secs_f64(),
            thousands(r),
            r / copy_rate
        );
    }
    println!();
    println!(
        "Machine: {} cores (nproc), {} memory, {}",
        std::thread::available_parallelism().map_or(0, |p| p.get()),
        mem_total(),
        cpu_model()
    );
    println!("Postgres: {version}");
    println!("Settings: {}", settings.join(", "));
    println!(
        "Date: {}",
        Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    Ok(())
}

async fn recreate_database(admin: &mut PgConnection, name: &str) -> Result<()> {
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut *admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut *admin)
        .await?;
    Ok(())
}

/// `upsert_batch` over `findings` in batches of `size`, each batch in its own transaction.
async fn upsert_in_batches(
    conn: &mut PgConnection,
    findings: &[Finding],
    size: usize,
) -> Result<UpsertOutcome> {
    let mut total = UpsertOutcome::default();
    for batch in findings.chunks(size) {
        let mut tx = conn.begin().await?;
        let o = upsert_batch(&mut tx, batch).await?;
        tx.commit().await?;
        total.inserted += o.inserted;
        total.updated += o.updated;
        total.events += o.events;
    }
    Ok(total)
}

/// One `COPY ... FROM STDIN` of `findings`, with exactly the values `upsert_batch` inserts,
/// encoded and streamed in chunks of about 1 MiB. Returns the rows copied.
async fn copy_in(conn: &mut PgConnection, findings: &[Finding]) -> Result<u64> {
    const CHUNK: usize = 1 << 20;
    let mut copy = conn
        .copy_in_raw(&format!("COPY findings ({COPY_COLUMNS}) FROM STDIN"))
        .await?;
    let mut buf = String::with_capacity(CHUNK + 16 * 1024);
    for f in findings {
        push_row(&mut buf, f)?;
        if buf.len() >= CHUNK {
            copy.send(buf.as_bytes()).await?;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        copy.send(buf.as_bytes()).await?;
    }
    Ok(copy.finish().await?)
}

/// One row of COPY text format.
fn push_row(buf: &mut String, f: &Finding) -> Result<()> {
    // The same provenance object upsert_batch builds.
    let provenance = json!({
        f.via.as_str(): {
            "native_id": f.native_id,
            "updated_at": f.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    });
    write!(buf, "{}\t", f.key.finding_id())?;
    push_field(buf, f.key.as_str());
    push_field(buf, f.source.as_str());
    push_field(buf, &serde_json::to_string(&provenance)?);
    push_field(buf, f.account_id.as_str());
    push_field(buf, f.region.as_str());
    push_field(buf, f.severity.as_str());
    push_field(buf, f.status.as_str());
    push_field(buf, &f.title);
    push_field(buf, &f.finding_type);
    push_opt_field(buf, f.resource_type.as_deref());
    push_opt_field(buf, f.resource_id.as_deref());
    push_opt_field(buf, f.control_id.as_deref());
    push_time(buf, f.first_observed_at);
    push_time(buf, f.seen_at);
    push_time(buf, f.updated_at);
    escape_into(buf, &serde_json::to_string(&f.raw)?);
    buf.push('\n');
    Ok(())
}

fn push_field(buf: &mut String, s: &str) {
    escape_into(buf, s);
    buf.push('\t');
}

fn push_opt_field(buf: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_field(buf, s),
        None => buf.push_str("\\N\t"),
    }
}

/// Microseconds, as sqlx binds a timestamptz (it truncates to Postgres's precision).
fn push_time(buf: &mut String, t: DateTime<Utc>) {
    buf.push_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true));
    buf.push('\t');
}

/// COPY text format: a backslash, newline, carriage return or tab in a value is escaped.
fn escape_into(buf: &mut String, s: &str) {
    if !s
        .bytes()
        .any(|b| matches!(b, b'\\' | b'\n' | b'\r' | b'\t'))
    {
        buf.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c => buf.push(c),
        }
    }
}

async fn truncate(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("TRUNCATE findings, finding_events")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Every measurement starts alike: empty or just-filled tables, no dirty pages left over from
/// the previous one (a checkpoint, when the role may take one).
async fn prepare(conn: &mut PgConnection) -> Result<()> {
    if let Err(e) = sqlx::query("CHECKPOINT").execute(&mut *conn).await {
        eprintln!("(no checkpoint between measurements: {e})");
    }
    Ok(())
}

/// Row count and an order-independent hash of every column both writes set.
async fn checksum(conn: &mut PgConnection) -> Result<(i64, String)> {
    let row: (i64, String) = sqlx::query_as(&format!(
        "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)::bigint), 0)::text \
         FROM (SELECT {COPY_COLUMNS}, previous_status, previous_severity, search_text FROM findings) t"
    ))
    .fetch_one(&mut *conn)
    .await?;
    Ok(row)
}

fn expect_fresh(o: UpsertOutcome, n: usize) -> Result<()> {
    if o.inserted != n as u64 || o.updated != 0 || o.events != n as u64 {
        bail!("upserting {n} new findings did not insert them all with one event each: {o:?}");
    }
    Ok(())
}

fn report(what: &str, run: usize, n: usize, took: Duration, outcome: Option<UpsertOutcome>) {
    let detail = outcome.map_or(String::new(), |o| {
        format!(
            " (inserted {}, updated {}, events {})",
            o.inserted, o.updated, o.events
        )
    });
    eprintln!(
        "{what}, run {}: {n} rows in {:.2}s = {} rows/s{detail}",
        run + 1,
        took.as_secs_f64(),
        thousands(rate(n, took))
    );
}

fn rate(n: usize, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

fn thousands(x: f64) -> String {
    let digits = format!("{x:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mem_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
