//! The poller: every (account, region, source) of the config, leased through Postgres so
//! several pollers share the work, read incrementally from its watermark (a full sweep once a
//! day), paced below AWS's limits, every outcome recorded as coverage and a poll run.
//!
//! A failure is a fact about one target: recorded, shown, retried next cycle; it never stops
//! the others and never deletes data.

pub mod baseline;
pub mod capture;
pub mod clients;
pub mod errors;
pub mod sink;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use self::clients::Clients;
use self::errors::FailureKind;
use self::sink::{PageSink, Stop};
use crate::config::{AccountConfig, Config};
use crate::db;
use crate::db::poll::Target;
use crate::domain::{AccountId, Region, Source};
use crate::sources::{self, Enabled, TargetCtx};

/// Leases last this long unless renewed; a poller that dies holds its targets no longer.
const LEASE_SECONDS: i32 = 30;
/// How often the finding counts the pages read are refreshed while a cycle runs, at most.
const COUNTS_REFRESH: Duration = Duration::from_secs(60);

/// The pause before the next refresh of the counts while a cycle runs: `COUNTS_REFRESH`, or
/// four times the last refresh when that is longer, so that refreshing takes at most a fifth
/// of the time. A refresh takes 3.5–4.5 s at a million findings (BENCHMARKS.md) and grows with
/// them; at ten million, refreshing every minute would keep the database busy most of it.
fn counts_refresh_pause(last: Duration) -> Duration {
    COUNTS_REFRESH.max(last.saturating_mul(4))
}

pub struct Poller {
    pool: PgPool,
    config: Arc<Config>,
    clients: Arc<Clients>,
    /// This process's name on its leases.
    owner: String,
}

/// What one cycle did, for the one-line summary and the logs.
#[derive(Debug, Clone, Default)]
pub struct CycleSummary {
    pub cycle_id: Uuid,
    pub targets: usize,
    pub enabled: usize,
    pub not_enabled: usize,
    pub access_denied: usize,
    pub errors: usize,
    pub unknown: usize,
    pub findings_seen: i64,
    pub findings_changed: i64,
    pub unparseable: i64,
    pub seconds: f64,
    pub interrupted: bool,
}

impl std::fmt::Display for CycleSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "poll cycle {}: {} targets in {:.1}s: {} enabled, {} not enabled, {} access denied, {} errors, {} unknown; {} findings read, {} changed, {} unparseable{}",
            self.cycle_id,
            self.targets,
            self.seconds,
            self.enabled,
            self.not_enabled,
            self.access_denied,
            self.errors,
            self.unknown,
            self.findings_seen,
            self.findings_changed,
            self.unparseable,
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        )
    }
}

impl Poller {
    pub async fn new(pool: PgPool, config: Arc<Config>) -> Poller {
        let clients = Arc::new(Clients::new(&config).await);
        let owner = format!("{}-{}", hostname(), Uuid::new_v4());
        Poller {
            pool,
            config,
            clients,
            owner,
        }
    }

    /// Polls every configured target once (sharing the work with any other poller), then
    /// returns. `shutdown` stops it after the pages in flight are stored.
    pub async fn run_cycle(&self, shutdown: watch::Receiver<bool>) -> anyhow::Result<CycleSummary> {
        let started = Instant::now();
        let (mut watched, ou_paths, discovery_error) = self.watched_accounts().await;
        let admin = self.config.aws.delegated_admin_account_id.clone();
        // The delegated administrator is watched too: its targets' coverage and runs are its.
        if let Some(admin) = &admin
            && !watched.iter().any(|a| &a.id == admin)
        {
            watched.push(AccountConfig {
                id: admin.clone(),
                name: "delegated administrator".into(),
                environment: String::new(),
                owner: String::new(),
                role_arn: None,
            });
        }
        let accounts: Vec<String> = watched.iter().map(|a| a.id.to_string()).collect();
        // Poll targets: every watched account's, or in delegated-administrator mode the
        // administrator's alone (it reads every member's findings, region by region).
        let polled: Vec<String> = match &admin {
            Some(admin) => vec![admin.to_string()],
            None => accounts.clone(),
        };
        let regions: Vec<String> = self
            .config
            .aws
            .regions
            .iter()
            .map(|r| r.to_string())
            .collect();
        let sources: Vec<String> = self
            .config
            .aws
            .sources
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        db::accounts::sync(&self.pool, &watched)
            .await
            .context("cannot store the accounts")?;
        db::accounts::set_ou_paths(&self.pool, &ou_paths)
            .await
            .context("cannot store the accounts' OU paths")?;
        db::poll::ensure_targets(&self.pool, &polled, &regions, &sources)
            .await
            .context("cannot create poll targets")?;
        // Pollers that start together share one cycle and poll each target once in it.
        let max_age = self.config.poller.interval.as_secs().max(60) as i64;
        let (cycle_id, cycle_started, run_id) =
            db::poll::join_or_start_cycle(&self.pool, max_age).await?;
        let summary = Arc::new(Mutex::new(CycleSummary {
            cycle_id,
            ..Default::default()
        }));

        let refused_roles = Arc::new(Mutex::new(HashMap::new()));
        let denied_logged = Arc::new(Mutex::new(HashSet::new()));
        // The baseline's AWS reads run beside the targets: they ask other operations.
        let baseline_reading = match baseline::start(
            &self.pool,
            self.config.clone(),
            self.clients.clone(),
            watched.clone(),
            refused_roles.clone(),
        )
        .await
        {
            Ok(Ok(reading)) => Some(reading),
            Ok(Err(skipped)) => {
                tracing::debug!("{skipped}");
                None
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "cannot start the baseline");
                None
            }
        };
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.config.poller.concurrency.max(1) {
            let worker = Worker {
                pool: self.pool.clone(),
                config: self.config.clone(),
                clients: self.clients.clone(),
                owner: self.owner.clone(),
                cycle_id,
                cycle_started,
                accounts: polled.clone(),
                watched: accounts.clone(),
                admin: admin.clone(),
                regions: regions.clone(),
                sources: sources.clone(),
                summary: summary.clone(),
                refused_roles: refused_roles.clone(),
                denied_logged: denied_logged.clone(),
                shutdown: shutdown.clone(),
            };
            workers.spawn(async move { worker.run().await });
        }
        // The pages' counts follow the cycle: refreshed every minute while it runs (less often
        // when a refresh is slow: `counts_refresh_pause`), and at its end.
        let refresher = {
            let pool = self.pool.clone();
            tokio::spawn(async move {
                let mut pause = COUNTS_REFRESH;
                loop {
                    tokio::time::sleep(pause).await;
                    let started = std::time::Instant::now();
                    if let Err(e) = db::counts::refresh(&pool).await {
                        tracing::warn!(error = %e, "cannot refresh the finding counts");
                    }
                    pause = counts_refresh_pause(started.elapsed());
                }
            })
        };
        let mut first_error = None;
        while let Some(joined) = workers.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %format!("{e:#}"), "a poll worker stopped");
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    tracing::error!(error = %e, "a poll worker panicked");
                }
            }
        }
        let mut s = summary.lock().unwrap_or_else(|e| e.into_inner()).clone();
        s.seconds = started.elapsed().as_secs_f64();
        s.interrupted = *shutdown.borrow();
        let stats = db::poll::RunStats {
            seen: s.findings_seen as i32,
            changed: s.findings_changed as i32,
            unparseable: s.unparseable as i32,
            ..Default::default()
        };
        refresher.abort();
        // The trends follow the cycle too: yesterday (its last hours may have arrived late)
        // and today, recomputed from the events; then rollups past retention go.
        let today = Utc::now().date_naive();
        let yesterday = today - chrono::Duration::days(1);
        match db::rollups::recompute(&self.pool, yesterday, today, &self.config.sla).await {
            Ok(rows) => tracing::debug!(rows, "daily rollups recomputed"),
            Err(e) => tracing::warn!(error = %e, "cannot recompute the daily rollups"),
        }
        if let Err(e) = db::rollups::purge(&self.pool, self.config.retention.rollup_days).await {
            tracing::warn!(error = %e, "cannot purge old daily rollups");
        }
        // The audit-trail baseline decides from its AWS reads (started with the targets) and
        // Sightline's coverage and findings of this cycle; a failure of it is logged, never
        // the cycle's.
        if let Some(reading) = baseline_reading {
            if *shutdown.borrow() {
                reading.abandon().await;
            } else {
                match reading.finish(&self.pool, &self.config).await {
                    Ok(b) => tracing::info!("{b}"),
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot run the baseline"),
                }
            }
        }
        // Last: its new `refreshed_at` tells the servers' caches that counts and rollups moved.
        if let Err(e) = db::counts::refresh(&self.pool).await {
            tracing::warn!(error = %e, "cannot refresh the finding counts");
        }
        let error = first_error
            .as_ref()
            .map(|e| format!("{e:#}"))
            .or(discovery_error);
        db::poll::finish_run(&self.pool, run_id, &stats, error.as_deref()).await?;
        match first_error {
            // The database went away: the cycle did not run.
            Some(e) => Err(e),
            None => Ok(s),
        }
    }

    /// The accounts this cycle watches: the config's, plus with `aws.discover_accounts` every
    /// active account of the organisation (config entries name, tag and override them; OU
    /// paths come back to be stored). When Organizations cannot be read, the accounts already
    /// stored are watched, and the reason comes back to be recorded on the cycle.
    async fn watched_accounts(
        &self,
    ) -> (Vec<AccountConfig>, Vec<(String, String)>, Option<String>) {
        let configured = self.config.accounts.clone();
        let (true, Some(org)) = (
            self.config.aws.discover_accounts,
            &self.config.aws.organizations_account_id,
        ) else {
            return (configured, Vec::new(), None);
        };
        let cache = sources::organizations::OrgCache::default();
        match sources::organizations::list_accounts(&self.clients, &cache, org).await {
            Ok(found) => {
                let mut watched = configured;
                for d in &found {
                    if !watched.iter().any(|a| a.id == d.id) {
                        watched.push(AccountConfig {
                            id: d.id.clone(),
                            name: d.name.clone(),
                            environment: String::new(),
                            owner: String::new(),
                            role_arn: None,
                        });
                    }
                }
                let paths = found
                    .iter()
                    .map(|d| (d.id.to_string(), d.ou_path.clone()))
                    .collect();
                tracing::info!(
                    discovered = found.len(),
                    watched = watched.len(),
                    "accounts discovered through AWS Organizations"
                );
                (watched, paths, None)
            }
            Err(e) => {
                let message = format!(
                    "account discovery through AWS Organizations failed, watching the accounts already known: {e}"
                );
                tracing::warn!("{message}");
                let mut watched = configured;
                if let Ok(stored) = db::accounts::all(&self.pool).await {
                    for a in stored {
                        if !watched.iter().any(|w| w.id == a.id) {
                            watched.push(a);
                        }
                    }
                }
                (watched, Vec::new(), Some(message))
            }
        }
    }

    /// Runs cycles every `[poller] interval` until `shutdown`.
    pub async fn run_forever(&self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let started = Instant::now();
            match self.run_cycle(shutdown.clone()).await {
                Ok(s) => tracing::info!("{s}"),
                Err(e) => tracing::error!(error = %format!("{e:#}"), "poll cycle failed"),
            }
            let wait = self
                .config
                .poller
                .interval
                .saturating_sub(started.elapsed());
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}

struct Worker {
    pool: PgPool,
    config: Arc<Config>,
    clients: Arc<Clients>,
    owner: String,
    cycle_id: Uuid,
    cycle_started: DateTime<Utc>,
    /// The accounts whose targets are polled: the watched ones, or the delegated administrator.
    accounts: Vec<String>,
    /// Every watched account.
    watched: Vec<String>,
    /// Delegated-administrator mode: the administrator.
    admin: Option<AccountId>,
    regions: Vec<String>,
    sources: Vec<String>,
    summary: Arc<Mutex<CycleSummary>>,
    /// Accounts whose role `AssumeRole` refused in this cycle, with STS's answer: their other
    /// targets are recorded as denied without asking STS again.
    refused_roles: Arc<Mutex<HashMap<String, String>>>,
    /// Accounts whose access denial was logged this cycle: the rest of their targets log at
    /// debug level (every one is still recorded as a run and in coverage).
    denied_logged: Arc<Mutex<HashSet<String>>>,
    shutdown: watch::Receiver<bool>,
}

impl Worker {
    /// Leases and polls targets until none is due in this cycle. Only a database failure is an
    /// error here: AWS failures are recorded on their target.
    async fn run(self) -> anyhow::Result<()> {
        loop {
            if *self.shutdown.borrow() {
                return Ok(());
            }
            let leased = db::poll::lease_next(
                &self.pool,
                &self.owner,
                self.cycle_started,
                LEASE_SECONDS,
                &self.accounts,
                &self.regions,
                &self.sources,
            )
            .await
            .context("cannot lease a poll target")?;
            match leased {
                Some(target) => self.poll_target(target).await?,
                None => {
                    // Others may still hold due targets (or a dead poller's lease may expire).
                    let due = db::poll::due_count(
                        &self.pool,
                        self.cycle_started,
                        &self.accounts,
                        &self.regions,
                        &self.sources,
                    )
                    .await?;
                    if due == 0 {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    #[tracing::instrument(skip_all, fields(account = %target.account_id, region = %target.region, source = %target.source))]
    async fn poll_target(&self, target: Target) -> anyhow::Result<()> {
        let due_sweep = target.last_full_sweep_at.is_none_or(|at| {
            Utc::now() - at
                >= chrono::Duration::from_std(self.config.poller.full_sweep_interval)
                    .unwrap_or_default()
        });
        let since = if due_sweep {
            None
        } else {
            target.watermark.map(|w| {
                w - chrono::Duration::from_std(self.config.poller.overlap).unwrap_or_default()
            })
        };
        let run_id =
            db::poll::start_run(&self.pool, self.cycle_id, Some(&target), since.is_none()).await?;

        // Keep the lease while the poll goes on.
        let heartbeat = {
            let (pool, t, owner) = (self.pool.clone(), target.clone(), self.owner.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs((LEASE_SECONDS / 3) as u64)).await;
                    if let Err(e) = db::poll::renew_lease(&pool, &t, &owner, LEASE_SECONDS).await {
                        tracing::warn!(error = %e, "cannot renew a lease");
                    }
                }
            })
        };
        let refused = self
            .refused_roles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&target.account_id)
            .cloned();
        let outcome = match refused {
            Some(message) => Err((
                Stop::Call(errors::CallError {
                    kind: FailureKind::AccessDenied,
                    message,
                }),
                db::poll::RunStats::default(),
            )),
            None => self.read_source(&target, since).await,
        };
        if let Err((Stop::Call(e), _)) = &outcome
            && e.kind == FailureKind::AccessDenied
            && e.message.starts_with(errors::ASSUME_ROLE_DENIED)
        {
            self.refused_roles
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(target.account_id.clone(), e.message.clone());
        }
        heartbeat.abort();

        let mut members = None;
        let (state, message, stats, error, complete) = match outcome {
            Ok((enabled, stats, listed)) => {
                members = listed;
                let (state, message) = enabled.coverage();
                (state, message, stats, None, true)
            }
            Err((stop, stats)) => match stop {
                Stop::Call(e) => {
                    let state = e.kind.coverage_state();
                    let first_denial = e.kind != FailureKind::AccessDenied
                        || self
                            .denied_logged
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(target.account_id.clone());
                    if first_denial {
                        tracing::warn!(error = %e, state, "poll target failed");
                    } else {
                        tracing::debug!(error = %e, state, "poll target failed (access denied, as for this account's other targets)");
                    }
                    (state, e.message.clone(), stats, Some(e.message), false)
                }
                Stop::Shutdown => (
                    "enabled",
                    String::new(),
                    stats,
                    Some("stopped by shutdown".into()),
                    false,
                ),
                Stop::Database(e) => {
                    release_after_failure(&self.pool, &target, &self.owner).await;
                    return Err(anyhow::Error::new(e).context("cannot store a page of findings"));
                }
            },
        };
        db::coverage::record(
            &self.pool,
            &target.account_id,
            &target.region,
            &target.source,
            state,
            &message,
        )
        .await?;
        if self.admin.as_ref().map(AccountId::as_str) == Some(target.account_id.as_str()) {
            self.record_members(&target, state, &message, members)
                .await?;
        }
        db::poll::finish_run(&self.pool, run_id, &stats, error.as_deref()).await?;
        db::poll::release(
            &self.pool,
            &target,
            &self.owner,
            complete,
            complete && since.is_none(),
        )
        .await?;

        let mut s = self.summary.lock().unwrap_or_else(|e| e.into_inner());
        s.targets += 1;
        match state {
            "enabled" => s.enabled += 1,
            "not_enabled" => s.not_enabled += 1,
            "access_denied" => s.access_denied += 1,
            "unknown" => s.unknown += 1,
            _ => s.errors += 1,
        }
        s.findings_seen += stats.seen as i64;
        s.findings_changed += stats.changed as i64;
        s.unparseable += stats.unparseable as i64;
        Ok(())
    }

    /// The coverage of the watched accounts other than the delegated administrator, from its
    /// target `target`: what it listed of its members, or when it could not be read, its own
    /// state (`state`, `message`) for every member.
    async fn record_members(
        &self,
        target: &Target,
        state: &str,
        message: &str,
        members: Members,
    ) -> anyhow::Result<()> {
        let admin = &target.account_id;
        let rows: Vec<(String, &str, String)> = match members {
            Some(Ok(list)) => list
                .into_iter()
                .map(|(account, enabled)| {
                    let (state, message) = enabled.coverage();
                    (account.to_string(), state, message)
                })
                .collect(),
            Some(Err(e)) => {
                let state = e.kind.coverage_state();
                let message = format!(
                    "cannot list the members of the delegated administrator {admin}: {}",
                    e.message
                );
                tracing::warn!("{message}");
                self.others(admin)
                    .map(|a| (a, state, message.clone()))
                    .collect()
            }
            // Stopped by shutdown: nothing was learnt.
            None if state == "enabled" => Vec::new(),
            None => {
                let message = format!("through the delegated administrator {admin}: {message}");
                self.others(admin)
                    .map(|a| (a, state, message.clone()))
                    .collect()
            }
        };
        db::coverage::record_many(&self.pool, &target.region, &target.source, &rows).await?;
        Ok(())
    }

    /// The watched accounts other than `admin`.
    fn others<'a>(&'a self, admin: &'a str) -> impl Iterator<Item = String> + 'a {
        self.watched.iter().filter(move |a| *a != admin).cloned()
    }

    /// Reads one target through its source; on success finishes the listing (watermark, sweep).
    /// A delegated administrator's target also lists its members (`Members`).
    async fn read_source(
        &self,
        target: &Target,
        since: Option<DateTime<Utc>>,
    ) -> Result<(Enabled, db::poll::RunStats, Members), (Stop, db::poll::RunStats)> {
        let bad = |m: String| {
            (
                Stop::Call(errors::CallError::other(m)),
                db::poll::RunStats::default(),
            )
        };
        let account: AccountId = target
            .account_id
            .parse()
            .map_err(|e: crate::domain::ParseError| bad(e.0))?;
        let region: Region = target
            .region
            .parse()
            .map_err(|e: crate::domain::ParseError| bad(e.0))?;
        let source: Source = target
            .source
            .parse()
            .map_err(|e: crate::domain::ParseError| bad(e.0))?;
        let delegated_admin = self.admin.as_ref() == Some(&account);
        let ctx = TargetCtx {
            clients: &self.clients,
            sdk: self.clients.config_for(&account, region.as_str()).await,
            account,
            region,
            since,
            seen_at: Utc::now(),
            delegated_admin,
        };
        let mut sink = PageSink::new(&self.pool, target, since.is_none(), self.shutdown.clone());
        if delegated_admin {
            sink.keep_only(self.watched.iter().cloned());
        }
        let result = match source {
            Source::SecurityHub => sources::securityhub::poll(&ctx, &mut sink).await,
            Source::GuardDuty => sources::guardduty::poll(&ctx, &mut sink).await,
            Source::Inspector => sources::inspector::poll(&ctx, &mut sink).await,
            Source::Macie => sources::macie::poll(&ctx, &mut sink).await,
            Source::AccessAnalyzer => sources::accessanalyzer::poll(&ctx, &mut sink).await,
        };
        if sink.outside > 0 {
            tracing::info!(
                passed_over = sink.outside,
                "findings of accounts Sightline does not watch were not stored"
            );
        }
        match result {
            Ok(Enabled::Yes) => {
                let members = if delegated_admin {
                    let others: Vec<AccountId> = self
                        .others(ctx.account.as_str())
                        .filter_map(|a| a.parse().ok())
                        .collect();
                    let listed = sources::members::coverage(&ctx, source, &others).await;
                    // A full sweep resolves what it no longer returns in the accounts it
                    // covers: itself and its enabled members.
                    let mut covered = vec![ctx.account.to_string()];
                    if let Ok(list) = &listed {
                        covered.extend(
                            list.iter()
                                .filter(|(_, e)| *e == Enabled::Yes)
                                .map(|(a, _)| a.to_string()),
                        );
                    }
                    sink.resolve_in(covered);
                    Some(listed)
                } else {
                    None
                };
                match sink.finish().await {
                    Ok(_) => Ok((Enabled::Yes, sink.stats, members)),
                    Err(stop) => Err((stop, sink.stats)),
                }
            }
            Ok(other) => Ok((other, sink.stats, None)),
            Err(stop) => Err((stop, sink.stats)),
        }
    }
}

/// What a delegated administrator's target said of its members: their coverage, or why it could
/// not list them; `None` for any other target, or when the administrator's read failed.
type Members = Option<Result<Vec<(AccountId, Enabled)>, errors::CallError>>;

/// Lets a target go after a database failure, so another poller may take it.
async fn release_after_failure(pool: &PgPool, target: &Target, owner: &str) {
    let _ = db::poll::release(pool, target, owner, false, false).await;
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_owned())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "poller".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_refreshes_of_the_counts_are_spaced_out() {
        let s = Duration::from_secs;
        assert_eq!(counts_refresh_pause(s(0)), s(60));
        assert_eq!(counts_refresh_pause(s(4)), s(60));
        assert_eq!(counts_refresh_pause(s(15)), s(60));
        assert_eq!(counts_refresh_pause(s(40)), s(160));
        assert_eq!(counts_refresh_pause(Duration::MAX), Duration::MAX);
    }
}
