//! `sightline demo`'s history: the simulated organisation starts [`HISTORY_DAYS`] days in the
//! past, and the demo polls it day by day up to today, so a first-time user sees real trends.
//!
//! The simulator's virtual clock starts `HISTORY_DAYS` before the demo starts. The demo polls,
//! advances the simulator one day, polls again, …, until virtual time reaches the start: the
//! findings carry their virtual timestamps, so the events the poller records land on their days
//! in the past, and the daily rollups recomputed from them cover the whole period. The web
//! server serves meanwhile; progress goes to the log ("history: day 37 of 90").
//!
//! Between days the poller reads incrementally (what changed since its watermark): the sources
//! report resolved, archived and reopened findings as updates (in the story GuardDuty and Macie
//! findings are closed by archiving, since a finding they forget is only noticed by a full
//! sweep, which can date it only now). A full sweep runs on the first day and on the last.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::watch;

use crate::config::Config;
use crate::db;
use crate::poller::Poller;
use crate::sim::org::Options;
use crate::sim::server::SimState;

/// How many days of history the demo fills.
pub const HISTORY_DAYS: u32 = 90;
/// The days the rollups are recomputed for once history is filled (the trend pages' longest
/// default period, with the history's oldest findings).
const ROLLUP_DAYS: i64 = 120;
const DAY: i64 = 86_400;

/// The simulated organisation of the demo: the story (a baseline, an account that joins, a
/// remediation push), its virtual clock `HISTORY_DAYS` days before `now`, to the second.
pub fn sim_options(now: DateTime<Utc>) -> Options {
    Options {
        start: now.timestamp() - i64::from(HISTORY_DAYS) * DAY,
        story: true,
        ..Options::default()
    }
}

/// The demo's poller: fills the history when the database holds no findings yet (brings the
/// simulator to today without polling when it does), then polls as `serve` does, until `stop`.
pub async fn poll(
    pool: PgPool,
    config: Arc<Config>,
    sim: Arc<SimState>,
    stop: watch::Receiver<bool>,
) {
    let fill = match has_findings(&pool).await {
        Ok(has) => !has,
        Err(e) => {
            tracing::warn!(error = %e, "history: cannot tell whether the database holds findings");
            false
        }
    };
    if fill {
        if let Err(e) = backfill(&pool, &config, &sim, &stop).await {
            tracing::error!(error = %format!("{e:#}"), "history: filling the history failed");
        }
    } else {
        tracing::info!(
            "history: the database holds findings already: not filling {HISTORY_DAYS} days of history again"
        );
    }
    // Whatever happened, the organisation is at today before the ordinary polling goes on.
    {
        let mut estate = sim.estate.write().unwrap_or_else(|e| e.into_inner());
        let behind = (Utc::now().timestamp() - estate.now) / DAY;
        if behind > 0 {
            estate.advance(behind.min(i64::from(HISTORY_DAYS)) as u32);
        }
    }
    if *stop.borrow() {
        return;
    }
    Poller::new(pool, config).await.run_forever(stop).await;
}

async fn has_findings(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM findings)")
        .fetch_one(pool)
        .await
}

/// Polls the simulator on each of the `HISTORY_DAYS` days up to today, then recomputes the
/// rollups of the period and the pages' counts.
async fn backfill(
    pool: &PgPool,
    config: &Config,
    sim: &SimState,
    stop: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    tracing::info!("history: filling {HISTORY_DAYS} days of history before polling as today");
    // Incremental polls between the first day and the last: no full sweep in between.
    let mut daily = config.clone();
    daily.poller.full_sweep_interval = Duration::from_secs(100 * 365 * DAY as u64);
    let daily = Poller::new(pool.clone(), Arc::new(daily)).await;
    for day in 0..=HISTORY_DAYS {
        let date = {
            let mut estate = sim.estate.write().unwrap_or_else(|e| e.into_inner());
            if day > 0 {
                estate.advance(1);
            }
            DateTime::from_timestamp(estate.now, 0).map(|t| t.date_naive())
        };
        let cycle = Instant::now();
        let summary = if day == HISTORY_DAYS {
            // The last day sweeps everything: findings gone from their source are resolved.
            let mut sweep = config.clone();
            sweep.poller.full_sweep_interval = Duration::ZERO;
            Poller::new(pool.clone(), Arc::new(sweep))
                .await
                .run_cycle(stop.clone())
                .await
        } else {
            daily.run_cycle(stop.clone()).await
        }
        .with_context(|| format!("the poll of day {day}"))?;
        if *stop.borrow() {
            return Ok(());
        }
        tracing::info!(
            "history: day {day} of {HISTORY_DAYS} ({}): {} findings read, {} changed, {} errors, in {:.1}s",
            date.map_or_else(|| "?".to_owned(), |d| d.to_string()),
            summary.findings_seen,
            summary.findings_changed,
            summary.errors,
            cycle.elapsed().as_secs_f64()
        );
    }
    let today = Utc::now().date_naive();
    db::rollups::recompute(
        pool,
        today - chrono::Days::new(ROLLUP_DAYS as u64),
        today,
        &config.sla,
    )
    .await
    .context("cannot recompute the daily rollups of the history")?;
    db::counts::refresh(pool)
        .await
        .context("cannot refresh the finding counts")?;
    tracing::info!(
        "history: {HISTORY_DAYS} days of history filled in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulator_starts_history_days_ago_with_the_story() {
        let now = DateTime::from_timestamp(1_800_000_123, 0).unwrap();
        let opts = sim_options(now);
        assert!(opts.story);
        assert_eq!(opts.start, 1_800_000_123 - 90 * 86_400);
        let mut e = crate::sim::org::Estate::generate(&opts);
        e.advance(HISTORY_DAYS);
        assert_eq!(e.now, now.timestamp());
    }
}
