//! `/status`: the poller's health. Its last cycles, the targets of the latest one that failed
//! or were throttled, how old each source's data is, and the findings that could not be read.

use std::collections::BTreeMap;
use std::future::Future;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use chrono::Utc;

use super::accounts::AccountNames;
use super::cache::CountsCache;
use super::coverage::places;
use super::error::PageError;
use super::format::Count;
use super::overview::{Moment, source_name};
use super::{AppState, Chrome, Viewer, render};
use crate::db;
use crate::db::posture::TroubledRun;

/// How many cycles and failing targets the page lists.
const CYCLES: i64 = 10;
const TROUBLED: i64 = 5_000;
const THROTTLED_SHOWN: usize = 50;
const UNPARSEABLE: i64 = 10;

struct CycleRow {
    started: Moment,
    duration: String,
    running: bool,
    pollers: Count,
    targets: Count,
    full_sweeps: Count,
    pages: Count,
    seen: Count,
    changed: Count,
    unparseable: Count,
    errors: Count,
    throttles: Count,
    retries: Count,
}

/// The targets of one account that failed with one error in the latest cycle.
struct ErrorGroup {
    account_id: String,
    account_name: String,
    error: String,
    targets: Count,
    places: String,
}

/// A target of the latest cycle that AWS throttled (and that did not fail).
struct ThrottledRow {
    account_id: String,
    account_name: String,
    region: String,
    source: &'static str,
    throttles: Count,
    retries: Count,
}

struct AgeRow {
    source: &'static str,
    age: Option<String>,
    never: Count,
}

struct UnparseableRow {
    account_id: String,
    region: String,
    via: &'static str,
    error: String,
    received: Moment,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    chrome: Chrome,
    targets: Count,
    leased: Count,
    never_polled: Count,
    unparseable: Count,
    unparseable_last_day: Count,
    cycles: Vec<CycleRow>,
    latest: Option<Moment>,
    /// When the counts the pages show were last refreshed (`finding_counts`).
    counts_refreshed: Moment,
    errors: Vec<ErrorGroup>,
    throttled: Vec<ThrottledRow>,
    /// Throttled targets beyond those listed.
    throttled_more: Count,
    /// More troubled runs than were read: the lists are partial.
    truncated: bool,
    ages: Vec<AgeRow>,
    recent_unparseable: Vec<UnparseableRow>,
    /// Delegated-administrator mode: (account id, name).
    delegated_admin: Option<(String, String)>,
}

/// What `load` reads of the cycle `head`: kept by its end once it has ended (an ended cycle
/// never changes; summing one of 80,000 runs takes ~30 ms), read afresh while it runs.
async fn of_cycle<T, F, Fut>(
    counts: &CountsCache,
    head: &db::posture::CycleHead,
    what: &str,
    load: F,
) -> Result<T, sqlx::Error>
where
    T: Clone + Send + Sync + 'static,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    match head.ended_at {
        Some(end) => Ok((*counts
            .get_at(end, format!("{what}:{}", head.cycle_id), load)
            .await?)
            .clone()),
        None => load().await,
    }
}

pub async fn show_status(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    let pool = &state.pool;
    let (heads, totals, ages, unparseable, infos, counts_refreshed) = tokio::try_join!(
        db::posture::recent_cycles(pool, CYCLES),
        db::posture::poller_totals(pool),
        // How old each source's data is moves as targets are polled: kept, like the other
        // pages' coverage and freshness, until the poller next refreshes the counts.
        state.counts.get(pool, "data_age".into(), || async {
            let mut conn = pool.acquire().await?;
            Ok((Utc::now(), db::metrics::data_age(&mut conn).await?))
        }),
        db::posture::recent_unparseable(pool, UNPARSEABLE),
        db::posture::accounts(pool),
        db::counts::refreshed_at(pool),
    )?;
    let counts = &state.counts;
    let cycles = futures_util::future::try_join_all(heads.iter().map(|h| async move {
        let totals = of_cycle(counts, h, "cycle_totals", || {
            db::posture::cycle_totals(pool, h.cycle_id)
        })
        .await?;
        Ok::<_, sqlx::Error>((h, totals))
    }))
    .await?;
    let troubled: Vec<TroubledRun> = match heads.first() {
        Some(h) => {
            of_cycle(counts, h, "troubled_runs", || {
                db::posture::troubled_runs(pool, h.cycle_id, TROUBLED + 1)
            })
            .await?
        }
        None => Vec::new(),
    };
    let now = Utc::now();
    let names = AccountNames::new(&infos);
    let name_of = |id: &str| names.of(id);
    // The ages as read, plus the time since.
    let (aged_at, ages) = &*ages;
    let since = (now - *aged_at).num_milliseconds().max(0) as f64 / 1000.0;

    let page = StatusPage {
        delegated_admin: state
            .site
            .delegated_admin
            .as_ref()
            .map(|a| (a.to_string(), name_of(a.as_str()))),
        chrome: Chrome::for_viewer("status", viewer),
        targets: Count(totals.targets),
        leased: Count(totals.leased),
        never_polled: Count(totals.never_polled),
        unparseable: Count(totals.unparseable),
        unparseable_last_day: Count(totals.unparseable_last_day),
        latest: heads.first().map(|c| Moment::new(c.started_at, now)),
        counts_refreshed: Moment::new(counts_refreshed, now),
        cycles: cycles
            .iter()
            .map(|(h, c)| CycleRow {
                started: Moment::new(h.started_at, now),
                duration: duration(
                    (h.ended_at.unwrap_or(now) - h.started_at).num_milliseconds() as f64 / 1000.0,
                ),
                running: h.ended_at.is_none(),
                pollers: Count(h.pollers),
                targets: Count(c.targets),
                full_sweeps: Count(c.full_sweeps),
                pages: Count(c.pages),
                seen: Count(c.findings_seen),
                changed: Count(c.findings_changed),
                unparseable: Count(c.unparseable),
                errors: Count(c.errors),
                throttles: Count(c.throttles),
                retries: Count(c.retries),
            })
            .collect(),
        truncated: troubled.len() as i64 > TROUBLED,
        errors: error_groups(&troubled, &name_of),
        throttled_more: Count(
            troubled
                .iter()
                .filter(|r| r.error.is_none())
                .count()
                .saturating_sub(THROTTLED_SHOWN) as i64,
        ),
        throttled: troubled
            .iter()
            .filter(|r| r.error.is_none())
            .take(THROTTLED_SHOWN)
            .map(|r| ThrottledRow {
                account_name: name_of(&r.account_id),
                account_id: r.account_id.clone(),
                region: r.region.clone(),
                source: source_name(&r.source),
                throttles: Count(r.throttles.into()),
                retries: Count(r.retries.into()),
            })
            .collect(),
        ages: ages
            .iter()
            .map(|a| AgeRow {
                source: source_name(&a.source),
                age: a.oldest_success_seconds.map(|s| duration(s + since)),
                never: Count(a.never_succeeded),
            })
            .collect(),
        recent_unparseable: unparseable
            .into_iter()
            .map(|u| UnparseableRow {
                account_id: u.account_id,
                region: u.region,
                via: source_name(&u.via),
                error: u.error,
                received: Moment::new(u.received_at, now),
            })
            .collect(),
    };
    render(&page)
}

/// Failed runs grouped by account and error: a role STS refuses is one line, not thirty.
fn error_groups(runs: &[TroubledRun], name_of: &dyn Fn(&str) -> String) -> Vec<ErrorGroup> {
    let mut groups: BTreeMap<(&str, &str), Vec<(&str, &str)>> = BTreeMap::new();
    for r in runs {
        if let Some(e) = &r.error {
            groups
                .entry((&r.account_id, e))
                .or_default()
                .push((&r.source, &r.region));
        }
    }
    let mut out: Vec<ErrorGroup> = groups
        .into_iter()
        .map(|((account, error), pairs)| ErrorGroup {
            account_id: account.to_owned(),
            account_name: name_of(account),
            error: error.to_owned(),
            targets: Count(pairs.len() as i64),
            places: places(&pairs),
        })
        .collect();
    out.sort_by(|a, b| {
        b.targets
            .cmp(&a.targets)
            .then_with(|| a.account_name.cmp(&b.account_name))
            .then_with(|| a.account_id.cmp(&b.account_id))
    });
    out
}

/// A length of time for people: `850 ms`, `6.1 s`, `4 min 05 s`, `3 h 12 min`, `2 days 4 h`.
fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 1.0 {
        format!("{} ms", (s * 1000.0).round() as i64)
    } else if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3_600.0 {
        let s = s.round() as i64;
        format!("{} min {:02} s", s / 60, s % 60)
    } else if s < 172_800.0 {
        let m = (s / 60.0).round() as i64;
        format!("{} h {:02} min", m / 60, m % 60)
    } else {
        let h = (s / 3_600.0).round() as i64;
        format!("{} days {} h", h / 24, h % 24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0.25), "250 ms");
        assert_eq!(duration(6.14), "6.1 s");
        assert_eq!(duration(245.0), "4 min 05 s");
        assert_eq!(duration(3.0 * 3600.0 + 12.0 * 60.0), "3 h 12 min");
        assert_eq!(duration(52.0 * 3600.0), "2 days 4 h");
    }
}
