//! Aggregates that only change when the poller refreshes `finding_counts` (and the rollups
//! with it), computed once per refresh instead of once per page view. Coverage summaries and
//! data freshness are kept the same way: they move only as targets are polled, and the poller
//! refreshes every minute while it polls (less often when a refresh is slow). Each entry
//! remembers the `finding_counts_refreshed.at` it was computed for; a newer refresh makes it
//! stale. The trend series are kept the same way until the rollups or the accounts change
//! (`get_at`). Every server keeps its own cache, so servers stay stateless: a cache holds
//! nothing the database cannot give again.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::db;

/// At most this many entries (per-filter facets, per-account counts, …); beyond it the stale
/// entries go first, then everything.
const MAX_ENTRIES: usize = 1_000;

type Entry = (DateTime<Utc>, Arc<dyn Any + Send + Sync>);

#[derive(Default)]
pub struct CountsCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl CountsCache {
    /// The value of `key` for the current refresh: cached, or loaded by `load` and kept.
    pub async fn get<T, F, Fut>(
        &self,
        pool: &PgPool,
        key: String,
        load: F,
    ) -> Result<Arc<T>, sqlx::Error>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let version = db::counts::refreshed_at(pool).await?;
        self.get_at(version, key, load).await
    }

    /// The value of `key` computed for `version` (a time that moves whenever what `load`
    /// reads changes): cached, or loaded by `load` and kept. `get` is this with the counts'
    /// refresh as the version; the trend series use the last change of their inputs
    /// (`db::trends::inputs_changed_at`). Keys of different versions must not collide.
    pub async fn get_at<T, F, Fut>(
        &self,
        version: DateTime<Utc>,
        key: String,
        load: F,
    ) -> Result<Arc<T>, sqlx::Error>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        if let Some((at, value)) = self.lock().get(&key)
            && *at == version
            && let Ok(value) = value.clone().downcast::<T>()
        {
            return Ok(value);
        }
        let value = Arc::new(load().await?);
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            // Entries of another kind of version go too, current or not: they load again.
            entries.retain(|_, (at, _)| *at == version);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (version, value.clone()));
        Ok(value)
    }

    /// `get`, for callers that want their own copy.
    pub async fn get_cloned<T, F, Fut>(
        &self,
        pool: &PgPool,
        key: String,
        load: F,
    ) -> Result<T, sqlx::Error>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        Ok((*self.get(pool, key, load).await?).clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
