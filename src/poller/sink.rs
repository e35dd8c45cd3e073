//! Where a source's pages go: each page is stored in one transaction with its watermark, so a
//! crash loses at most the page in flight.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use super::errors::CallError;
use crate::db;
use crate::db::poll::{RunStats, Target};
use crate::domain::Finding;

/// A normalised finding, or the raw one that could not be normalised and why.
pub type Normalised = Result<Finding, (Value, String)>;

pub struct PageSink<'a> {
    pool: &'a PgPool,
    target: &'a Target,
    shutdown: watch::Receiver<bool>,
    pub stats: RunStats,
    /// Ids seen in a full sweep (None in an incremental poll).
    seen: Option<HashSet<Uuid>>,
    /// Newest `updated_at` stored, for sources whose pages are not sorted by it.
    newest: Option<DateTime<Utc>>,
    /// The accounts whose findings are stored (a delegated administrator reports accounts
    /// Sightline may not watch); `None`: every finding's.
    keep: Option<HashSet<String>>,
    /// Findings of other accounts passed over (`keep`).
    pub outside: u64,
    /// The accounts whose findings a full sweep resolves when the source no longer returns
    /// them: the target's own, or the members a delegated administrator covers.
    resolve_in: Vec<String>,
}

/// Why a poll stopped early.
#[derive(Debug)]
pub enum Stop {
    /// An AWS call failed after its retries.
    Call(CallError),
    /// The database refused a write: nothing of the page was stored.
    Database(sqlx::Error),
    /// Ctrl-C or SIGTERM: the page in flight was stored first.
    Shutdown,
}

impl From<CallError> for Stop {
    fn from(e: CallError) -> Self {
        Stop::Call(e)
    }
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Stop::Database(e)
    }
}

impl<'a> PageSink<'a> {
    pub fn new(
        pool: &'a PgPool,
        target: &'a Target,
        full_sweep: bool,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self {
            pool,
            target,
            shutdown,
            stats: RunStats::default(),
            seen: full_sweep.then(HashSet::new),
            newest: None,
            keep: None,
            outside: 0,
            resolve_in: vec![target.account_id.clone()],
        }
    }

    /// Stores the findings of these accounts only.
    pub fn keep_only(&mut self, accounts: impl IntoIterator<Item = String>) {
        self.keep = Some(accounts.into_iter().collect());
    }

    /// After a full sweep, resolves the unseen findings of these accounts (instead of the
    /// target's own account's).
    pub fn resolve_in(&mut self, accounts: Vec<String>) {
        self.resolve_in = accounts;
    }

    /// Stores one page. `sorted`: the source returns findings oldest first, so the watermark
    /// may move to this page's newest update now; otherwise it moves when the listing ends.
    pub async fn page(&mut self, items: Vec<Normalised>, sorted: bool) -> Result<(), Stop> {
        let mut good = Vec::with_capacity(items.len());
        let mut bad = Vec::new();
        for item in items {
            match item {
                Ok(f) => {
                    if self
                        .keep
                        .as_ref()
                        .is_some_and(|k| !k.contains(f.account_id.as_str()))
                    {
                        self.outside += 1;
                    } else {
                        good.push(f);
                    }
                }
                Err(raw_and_reason) => bad.push(raw_and_reason),
            }
        }
        let page_newest = good.iter().map(|f| f.updated_at).max();
        let mut tx = self.pool.begin().await?;
        let outcome = db::findings::upsert_batch(&mut tx, &good).await?;
        db::findings::store_unparseable(
            &mut tx,
            &self.target.account_id,
            &self.target.region,
            &self.target.source,
            &bad,
        )
        .await?;
        if sorted && let Some(newest) = page_newest {
            db::poll::advance_watermark(&mut tx, self.target, newest).await?;
        }
        tx.commit().await?;
        self.stats.pages += 1;
        self.stats.seen += (good.len() + bad.len()) as i32;
        self.stats.changed += (outcome.inserted + outcome.updated) as i32;
        self.stats.unparseable += bad.len() as i32;
        if let Some(seen) = &mut self.seen {
            seen.extend(good.iter().map(|f| f.key.finding_id()));
        }
        self.newest = self.newest.max(page_newest);
        if *self.shutdown.borrow() {
            return Err(Stop::Shutdown);
        }
        Ok(())
    }

    /// After the whole listing: moves the watermark of unsorted sources and, after a full
    /// sweep, resolves what the source no longer returns. Returns how many were resolved.
    pub async fn finish(&mut self) -> Result<u64, Stop> {
        let mut tx = self.pool.begin().await?;
        if let Some(newest) = self.newest {
            db::poll::advance_watermark(&mut tx, self.target, newest).await?;
        }
        let mut resolved = 0;
        if let Some(seen) = &self.seen {
            let ids: Vec<Uuid> = seen.iter().copied().collect();
            resolved = db::findings::resolve_unseen(
                &mut tx,
                &self.resolve_in,
                &self.target.region,
                &self.target.source,
                &ids,
                Utc::now(),
            )
            .await?;
        }
        tx.commit().await?;
        self.stats.changed += resolved as i32;
        Ok(resolved)
    }
}
