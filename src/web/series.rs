//! The trend series of `db::trends` that pages and the API show, kept by each server until
//! their inputs change. The rollups change once per poll cycle (at its end) and the accounts
//! more rarely, while a manager's page asks for the same year of series on every view: a
//! filtered year reads up to a million account sums (BENCHMARKS.md, "Trends"). The version is
//! `db::trends::inputs_changed_at`, read once per request; a series computed for it is exact,
//! never an approximation. Time to resolve and today's SLA breaches read findings and events,
//! which change all the time: those are read on every request.

use std::fmt::Debug;
use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};

use super::AppState;
use crate::db;
use crate::db::trends::{
    FlowPoint, Interval, Mover, OpenPoint, SlaBreach, SlaPoint, TrendFilter, TrendGroup,
};

/// The series as of the last change of their inputs.
pub struct KeptSeries<'a> {
    state: &'a AppState,
    version: DateTime<Utc>,
}

impl<'a> KeptSeries<'a> {
    /// Reads the version the series will be kept for.
    pub async fn of(state: &'a AppState) -> Result<Self, sqlx::Error> {
        let version = db::trends::inputs_changed_at(&state.pool).await?;
        Ok(Self { state, version })
    }

    async fn kept<T, F, Fut>(&self, key: impl Debug, load: F) -> Result<Vec<T>, sqlx::Error>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, sqlx::Error>>,
    {
        // Debug of the arguments, filter included, names every one of them: distinct
        // arguments give distinct keys. The prefix keeps them apart from the counts' keys.
        let key = format!("trends {key:?}");
        let value = self.state.counts.get_at(self.version, key, load).await?;
        Ok((*value).clone())
    }

    /// `db::trends::open_series`.
    pub async fn open(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        interval: Interval,
        group: TrendGroup,
        filter: &TrendFilter,
    ) -> Result<Vec<OpenPoint>, sqlx::Error> {
        let pool = &self.state.pool;
        self.kept(("open", from, to, interval, group, filter), || {
            db::trends::open_series(pool, from, to, interval, group, filter)
        })
        .await
    }

    /// `db::trends::flow_series`.
    pub async fn flow(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        interval: Interval,
        filter: &TrendFilter,
    ) -> Result<Vec<FlowPoint>, sqlx::Error> {
        let pool = &self.state.pool;
        self.kept(("flow", from, to, interval, filter), || {
            db::trends::flow_series(pool, from, to, interval, filter)
        })
        .await
    }

    /// `db::trends::sla_series`.
    pub async fn sla(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        interval: Interval,
        filter: &TrendFilter,
    ) -> Result<Vec<SlaPoint>, sqlx::Error> {
        let pool = &self.state.pool;
        self.kept(("sla", from, to, interval, filter), || {
            db::trends::sla_series(pool, from, to, interval, filter)
        })
        .await
    }

    /// `db::trends::sla_breaches_on` with the server's SLA: the overdue list at the end of a
    /// past day, from the events (seconds at a million findings). Kept like the series: the
    /// events of the last cycle count from its end, when its rollups are written, as the
    /// rollups' past-SLA counts do.
    pub async fn breaches_on(
        &self,
        day: NaiveDate,
        filter: &TrendFilter,
        limit: i64,
    ) -> Result<Vec<SlaBreach>, sqlx::Error> {
        let pool = &self.state.pool;
        let sla = &self.state.site.sla;
        self.kept(("breaches_on", day, filter, limit), || {
            db::trends::sla_breaches_on(pool, day, filter, sla, limit)
        })
        .await
    }

    /// `db::trends::movers`.
    pub async fn movers(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        filter: &TrendFilter,
    ) -> Result<Vec<Mover>, sqlx::Error> {
        let pool = &self.state.pool;
        self.kept(("movers", from, to, filter), || {
            db::trends::movers(pool, from, to, filter)
        })
        .await
    }
}
