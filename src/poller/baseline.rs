//! The baseline of a poll cycle: while the cycle's finding targets run, read every account's
//! trails (CloudTrail), its log bucket (S3, from the log-archive account) and the service
//! control policies that apply to it (Organizations); at the cycle's end read Sightline's own
//! coverage and findings, decide the ten results, store them and their changes.
//!
//! Every read that fails makes the checks that needed it `unknown`, with the reason as evidence;
//! nothing else is affected and nothing stored is lost. One poller at a time runs it (an
//! advisory lock): pollers sharing a cycle do not read the same accounts twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures_util::StreamExt;
use sqlx::PgPool;

use super::clients::Clients;
use crate::baseline::Outcome;
use crate::baseline::evaluate::{self, BucketOwner, LifecycleRule, Observation, ScpSeen, Trail};
use crate::config::{AccountConfig, Config};
use crate::db;
use crate::sources::{cloudtrail, organizations, s3};

/// `pg_try_advisory_lock` key of the baseline run ("baseline" in ASCII).
const LOCK_KEY: i64 = 0x6261_7365_6c69_6e65;

/// What one run did.
#[derive(Debug, Clone, Default)]
pub struct BaselineSummary {
    pub accounts: usize,
    pub pass: usize,
    pub fail: usize,
    pub unknown: usize,
    /// Results that differ from the ones stored before (first reads included).
    pub changed: u64,
}

impl std::fmt::Display for BaselineSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "baseline: {} accounts, {} pass, {} fail, {} unknown, {} changed",
            self.accounts, self.pass, self.fail, self.unknown, self.changed
        )
    }
}

/// Why a cycle did not read the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipped {
    /// Another poller is reading it.
    Busy,
    /// Every watched account's results are younger than `[baseline] interval`.
    Fresh,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Skipped::Busy => "baseline: another poller is reading it",
            Skipped::Fresh => "baseline: every account was read within [baseline] interval",
        })
    }
}

/// The baseline's reads of AWS for one cycle, started beside the cycle's finding targets (they
/// ask other operations, so they share no rate limit): `finish` decides and stores the
/// results once the cycle's coverage and findings are in. Holds the baseline's advisory lock.
pub struct Reading {
    /// The connection holding the advisory lock; `None` once unlocked.
    lock: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
    read_at: chrono::DateTime<Utc>,
    task: tokio::task::JoinHandle<Vec<AccountReads>>,
}

/// What AWS said about one account.
struct AccountReads {
    account: AccountConfig,
    is_management: bool,
    trails: Result<Vec<Trail>, String>,
    bucket_owners: HashMap<String, BucketOwner>,
    lifecycles: HashMap<String, Result<Option<Vec<LifecycleRule>>, String>>,
    scps: Result<Vec<ScpSeen>, String>,
}

/// Starts the baseline's AWS reads unless another poller is reading it, or every watched
/// account was read within `[baseline] interval`. `refused_roles` are the roles STS refused
/// in this cycle so far (account → why): not asked again.
pub async fn start(
    pool: &PgPool,
    config: Arc<Config>,
    clients: Arc<Clients>,
    accounts: Vec<AccountConfig>,
    refused_roles: Arc<Mutex<HashMap<String, String>>>,
) -> anyhow::Result<Result<Reading, Skipped>> {
    let ids: Vec<String> = accounts.iter().map(|a| a.id.to_string()).collect();
    let interval =
        chrono::Duration::from_std(config.baseline.interval).unwrap_or(chrono::Duration::MAX);
    let oldest = db::baseline::oldest_read(pool, &ids).await?;
    if oldest.is_some_and(|at| Utc::now() - at < interval) {
        return Ok(Err(Skipped::Fresh));
    }
    let mut lock = pool.acquire().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(LOCK_KEY)
        .fetch_one(&mut *lock)
        .await?;
    if !locked {
        return Ok(Err(Skipped::Busy));
    }
    let read_at = Utc::now();
    let task = tokio::spawn(read_aws(config, clients, accounts, refused_roles));
    Ok(Ok(Reading {
        lock: Some(lock),
        read_at,
        task,
    }))
}

impl Reading {
    /// Waits for the AWS reads, reads Sightline's own coverage and findings, and decides and
    /// stores every account's results.
    pub async fn finish(
        mut self,
        pool: &PgPool,
        config: &Config,
    ) -> anyhow::Result<BaselineSummary> {
        let result = match (&mut self.task).await {
            Ok(reads) => store(pool, config, reads, self.read_at).await,
            Err(e) => Err(anyhow::anyhow!("the baseline's reads stopped: {e}")),
        };
        self.unlock().await;
        result
    }

    /// Stops the reads (a shutdown) and lets another poller read the baseline.
    pub async fn abandon(mut self) {
        self.task.abort();
        self.unlock().await;
    }

    async fn unlock(&mut self) {
        if let Some(mut lock) = self.lock.take() {
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(LOCK_KEY)
                .execute(&mut *lock)
                .await;
        }
    }
}

/// Dropped without `finish` or `abandon` (a panic): the reads stop, and the lock's connection
/// is closed rather than returned to the pool, which releases the lock.
impl Drop for Reading {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(lock) = &mut self.lock {
            lock.close_on_drop();
        }
    }
}

/// Every account's CloudTrail, S3 and Organizations reads, `[poller] concurrency` at a time.
async fn read_aws(
    config: Arc<Config>,
    clients: Arc<Clients>,
    accounts: Vec<AccountConfig>,
    refused: Arc<Mutex<HashMap<String, String>>>,
) -> Vec<AccountReads> {
    let refused_now = |id: &str| {
        refused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    };
    let aws = &config.aws;
    // Trails are listed in one region: shadow trails bring every multi-region trail into it.
    let listing_region = aws
        .approved_regions
        .first()
        .or(aws.regions.first())
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".to_owned());

    // The log-archive account's buckets, once.
    let archive = &config.baseline.log_archive_account_id;
    let archive_buckets: Result<HashMap<String, Option<String>>, String> = match archive {
        None => Err("no [baseline] log_archive_account_id configured".to_owned()),
        Some(id) => match refused_now(id.as_str()) {
            Some(why) => Err(why),
            None => s3::list_buckets(&clients, id).await.map_err(|e| e.message),
        }
        .map(|b| b.into_iter().collect())
        .map_err(|e| format!("the log-archive account's buckets could not be listed: {e}")),
    };
    // The organisation's management account, once.
    let org_cache = organizations::OrgCache::default();
    let management: Result<String, String> = match &aws.organizations_account_id {
        None => Err("no aws.organizations_account_id configured".to_owned()),
        Some(org) => match refused_now(org.as_str()) {
            Some(why) => Err(why),
            None => organizations::management_account(&clients, org)
                .await
                .map_err(|e| e.message),
        }
        .map_err(|e| format!("the organisation could not be read: {e}")),
    };

    let ctx = Ctx {
        config: &config,
        clients: &clients,
        listing_region: &listing_region,
        archive_buckets: &archive_buckets,
        management: &management,
        org_cache: &org_cache,
        refused: &refused_now,
    };
    // Accounts are read side by side, `[poller] concurrency` at a time.
    let reads: Vec<_> = accounts
        .into_iter()
        .map(|account| ctx.account(account))
        .collect();
    futures_util::stream::iter(reads)
        .buffer_unordered(config.poller.concurrency.max(1))
        .collect()
        .await
}

/// Decides every account's results from its reads and Sightline's own data, and stores them.
async fn store(
    pool: &PgPool,
    config: &Config,
    reads: Vec<AccountReads>,
    read_at: chrono::DateTime<Utc>,
) -> anyhow::Result<BaselineSummary> {
    let aws = &config.aws;
    let unapproved: Vec<String> = if aws.approved_regions.is_empty() {
        Vec::new()
    } else {
        aws.regions
            .iter()
            .filter(|r| !aws.approved_regions.contains(r))
            .map(|r| r.to_string())
            .collect()
    };
    let own = db::baseline::own_data(pool, &unapproved).await?;
    let mut summary = BaselineSummary::default();
    for reads in reads {
        let account_id = reads.account.id.to_string();
        let checks = evaluate::evaluate(&observation(config, &own, reads));
        summary.changed += db::baseline::store(pool, &account_id, &checks, read_at).await?;
        summary.accounts += 1;
        for r in &checks {
            match r.outcome {
                Outcome::Pass => summary.pass += 1,
                Outcome::Fail => summary.fail += 1,
                Outcome::Unknown => summary.unknown += 1,
            }
        }
    }
    Ok(summary)
}

struct Ctx<'a> {
    config: &'a Config,
    clients: &'a Clients,
    listing_region: &'a str,
    archive_buckets: &'a Result<HashMap<String, Option<String>>, String>,
    management: &'a Result<String, String>,
    org_cache: &'a organizations::OrgCache,
    /// Why STS refused an account's role in this cycle, if it did: not asked again.
    refused: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

impl Ctx<'_> {
    async fn account(&self, account: AccountConfig) -> AccountReads {
        let id = &account.id;
        let trails = match (self.refused)(id.as_str()) {
            Some(why) => Err(why),
            None => cloudtrail::read_trails(self.clients, id, self.listing_region)
                .await
                .map_err(|e| e.message),
        };
        let mut bucket_owners = HashMap::new();
        let mut lifecycles = HashMap::new();
        if let Ok(trails) = &trails {
            for t in trails.iter().filter(|t| t.logging) {
                let Some(bucket) = &t.bucket else { continue };
                if bucket_owners.contains_key(bucket) {
                    continue;
                }
                let (owner, reader, region) = match self.archive_buckets {
                    Err(why) => (
                        BucketOwner::Unknown(why.clone()),
                        id.clone(),
                        t.home_region.clone(),
                    ),
                    Ok(listed) => match listed.get(bucket) {
                        Some(region) => (
                            BucketOwner::LogArchive,
                            self.config
                                .baseline
                                .log_archive_account_id
                                .clone()
                                .unwrap_or_else(|| id.clone()),
                            region.clone().unwrap_or_else(|| t.home_region.clone()),
                        ),
                        // Not the archive's: assumed to be the account's own bucket.
                        None => (
                            BucketOwner::NotLogArchive,
                            id.clone(),
                            t.home_region.clone(),
                        ),
                    },
                };
                let rules = s3::lifecycle(self.clients, &reader, bucket, &region)
                    .await
                    .map_err(|e| format!("the lifecycle of s3://{bucket} could not be read: {e}"));
                bucket_owners.insert(bucket.clone(), owner);
                lifecycles.insert(bucket.clone(), rules);
            }
        }
        let scps = match (&self.config.aws.organizations_account_id, self.management) {
            (_, Err(why)) => Err(why.clone()),
            (Some(org), Ok(_)) => {
                organizations::policies_for(self.clients, self.org_cache, org, id)
                    .await
                    .map_err(|e| e.message)
            }
            (None, Ok(_)) => Err("no aws.organizations_account_id configured".to_owned()),
        };
        AccountReads {
            is_management: self
                .management
                .as_ref()
                .is_ok_and(|m| m.as_str() == id.as_str()),
            account,
            trails,
            bucket_owners,
            lifecycles,
            scps,
        }
    }
}

/// One account's observation: its AWS reads and Sightline's own data about it.
fn observation(config: &Config, own: &db::baseline::OwnData, reads: AccountReads) -> Observation {
    let account_id = reads.account.id.to_string();
    let own = own.account(&account_id);
    Observation {
        production: config
            .baseline
            .production_environments
            .contains(&reads.account.environment),
        management: reads.is_management,
        trails: reads.trails,
        bucket_owners: reads.bucket_owners,
        lifecycles: reads.lifecycles,
        log_retention_days: config.baseline.log_retention_days,
        scps: reads.scps,
        cloudwatch_failures: own.cloudwatch_failures,
        expected_cells: config
            .aws
            .regions
            .iter()
            .flat_map(|r| {
                config
                    .aws
                    .sources
                    .iter()
                    .map(move |s| (r.to_string(), s.as_str().to_owned()))
            })
            .collect(),
        coverage: own.coverage,
        unapproved_open: own.open_in_regions,
        account_id,
    }
}
