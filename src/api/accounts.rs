//! `GET /api/v1/accounts` (every account with its open findings by severity, coverage and last
//! poll), `GET /api/v1/accounts/{id}` (one account's posture by region and by source) and
//! `GET /api/v1/regions`. The same queries as the pages (`db::posture`).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use crate::db;
use crate::db::posture::{KeyedCount, Scope};
use crate::web::AppState;

/// Open findings by severity.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct SeverityCounts {
    /// Open critical findings.
    pub critical: i64,
    /// Open high findings.
    pub high: i64,
    /// Open medium findings.
    pub medium: i64,
    /// Open low findings.
    pub low: i64,
    /// Open informational findings.
    pub informational: i64,
    /// All open findings.
    pub total: i64,
}

impl SeverityCounts {
    fn add(&mut self, severity: &str, n: i64) {
        match severity {
            "critical" => self.critical += n,
            "high" => self.high += n,
            "medium" => self.medium += n,
            "low" => self.low += n,
            _ => self.informational += n,
        }
        self.total += n;
    }
}

/// How many of an account's (or region's) account × region × source targets have their service
/// enabled.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CoverageSummary {
    /// Targets known (configured or polled).
    pub targets: i64,
    /// Targets whose service was enabled when last read.
    pub enabled: i64,
}

/// An account and its posture.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountResponse {
    /// The 12-digit AWS account id.
    pub id: String,
    /// Its name from the configuration.
    pub name: String,
    /// Its environment from the configuration (`prod`, `dev`, …; empty when not set).
    pub environment: String,
    /// Its owning team from the configuration (empty when not set).
    pub owner: String,
    /// Its organisational-unit path, when known (empty when not).
    pub ou_path: String,
    /// Its open findings by severity.
    pub open: SeverityCounts,
    /// Its coverage.
    pub coverage: CoverageSummary,
    /// When one of its targets was last polled; `null` before the first poll.
    pub last_polled_at: Option<DateTime<Utc>>,
}

/// Every account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountListResponse {
    /// Accounts by name.
    pub items: Vec<AccountResponse>,
}

/// Every known account with its open findings by severity, its coverage and its last poll.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "posture",
    responses(
        (status = 200, description = "Every account", body = AccountListResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn list_accounts(
    State(state): State<AppState>,
) -> Result<Json<AccountListResponse>, ApiError> {
    let (accounts, open, coverage) = tokio::try_join!(
        db::posture::accounts(&state.pool),
        state
            .counts
            .get_cloned(&state.pool, "open_by_account".into(), || {
                db::posture::open_by_account(&state.pool)
            }),
        state
            .counts
            .get_cloned(&state.pool, "coverage_by_account".into(), || {
                db::posture::coverage_by_account(&state.pool)
            }),
    )?;
    let mut counts: BTreeMap<String, SeverityCounts> = BTreeMap::new();
    for KeyedCount {
        key,
        severity,
        count,
    } in open
    {
        counts.entry(key).or_default().add(&severity, count);
    }
    let mut covered: BTreeMap<String, (CoverageSummary, Option<DateTime<Utc>>)> = coverage
        .into_iter()
        .map(|c| {
            (
                c.account_id,
                (
                    CoverageSummary {
                        targets: c.targets,
                        enabled: c.enabled,
                    },
                    c.last_polled_at,
                ),
            )
        })
        .collect();
    let items = accounts
        .into_iter()
        .map(|a| {
            let (coverage, last_polled_at) = covered.remove(&a.id).unwrap_or_default();
            AccountResponse {
                open: counts.remove(&a.id).unwrap_or_default(),
                id: a.id,
                name: a.name,
                environment: a.environment,
                owner: a.owner,
                ou_path: a.ou_path,
                coverage,
                last_polled_at,
            }
        })
        .collect();
    Ok(Json(AccountListResponse { items }))
}

/// Open findings of one value of a dimension.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakdownResponse {
    /// The region code or the source, per the list it is in.
    pub key: String,
    /// Its open findings by severity.
    pub open: SeverityCounts,
}

/// One coverage cell of an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountCoverageCell {
    /// The AWS region code.
    pub region: String,
    /// The service.
    pub source: String,
    /// enabled, not_enabled, access_denied, error or unknown; `null` when not polled yet.
    pub state: Option<String>,
    /// Why, when not enabled.
    pub message: String,
    /// When the poller last succeeded on it.
    pub last_success_at: Option<DateTime<Utc>>,
}

/// One account's posture.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDetailResponse {
    #[serde(flatten)]
    pub account: AccountResponse,
    /// Open findings per region, most first.
    pub by_region: Vec<BreakdownResponse>,
    /// Open findings per source, most first.
    pub by_source: Vec<BreakdownResponse>,
    /// Its coverage cells, by region and source.
    pub coverage_cells: Vec<AccountCoverageCell>,
}

/// One account's posture: open findings by region and by source, and its coverage.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{id}",
    tag = "posture",
    params(("id" = String, Path, description = "The 12-digit AWS account id")),
    responses(
        (status = 200, description = "The account", body = AccountDetailResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
        (status = 404, description = "No such account", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn show_account(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AccountDetailResponse>, ApiError> {
    let missing = || ApiError::not_found(format!("no account with id {id:?}"));
    if id.parse::<crate::domain::AccountId>().is_err() {
        return Err(missing());
    }
    let account = db::posture::account(&state.pool, &id)
        .await?
        .ok_or_else(missing)?;
    let (cells, coverage) = tokio::try_join!(
        state
            .counts
            .get_cloned(&state.pool, format!("open_in_account:{id}"), || {
                db::posture::open_in_account(&state.pool, &id)
            }),
        db::posture::coverage_cells(&state.pool, Scope::Account(&id)),
    )?;
    let mut total = SeverityCounts::default();
    let mut by_region: BTreeMap<String, SeverityCounts> = BTreeMap::new();
    let mut by_source: BTreeMap<String, SeverityCounts> = BTreeMap::new();
    for c in &cells {
        total.add(&c.severity, c.count);
        by_region
            .entry(c.region.clone())
            .or_default()
            .add(&c.severity, c.count);
        by_source
            .entry(c.source.clone())
            .or_default()
            .add(&c.severity, c.count);
    }
    let sorted = |m: BTreeMap<String, SeverityCounts>| {
        let mut v: Vec<BreakdownResponse> = m
            .into_iter()
            .map(|(key, open)| BreakdownResponse { key, open })
            .collect();
        v.sort_by(|a, b| {
            b.open
                .total
                .cmp(&a.open.total)
                .then_with(|| a.key.cmp(&b.key))
        });
        v
    };
    let targets = coverage.len() as i64;
    let enabled = coverage
        .iter()
        .filter(|c| c.state.as_deref() == Some("enabled"))
        .count() as i64;
    let last_polled_at = coverage.iter().filter_map(|c| c.last_polled_at).max();
    Ok(Json(AccountDetailResponse {
        account: AccountResponse {
            id: account.id,
            name: account.name,
            environment: account.environment,
            owner: account.owner,
            ou_path: account.ou_path,
            open: total,
            coverage: CoverageSummary { targets, enabled },
            last_polled_at,
        },
        by_region: sorted(by_region),
        by_source: sorted(by_source),
        coverage_cells: coverage
            .into_iter()
            .map(|c| AccountCoverageCell {
                region: c.region,
                source: c.source,
                state: c.state,
                message: c.message,
                last_success_at: c.last_success_at,
            })
            .collect(),
    }))
}

/// A region and its posture across accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionResponse {
    /// The AWS region code.
    pub region: String,
    /// Whether the configuration lists it to watch.
    pub watched: bool,
    /// Whether workloads are allowed there (`aws.approved_regions`).
    pub approved: bool,
    /// Its open findings by severity, across accounts.
    pub open: SeverityCounts,
    /// How many accounts have open findings there.
    pub accounts_with_open_findings: i64,
    /// Its coverage across accounts and sources.
    pub coverage: CoverageSummary,
}

/// Every region.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionListResponse {
    /// Regions by code: the watched ones and any other with findings or coverage.
    pub items: Vec<RegionResponse>,
}

/// Every watched region (and any other with data), with its open findings, the accounts with
/// findings there, coverage, and whether it is approved.
#[utoipa::path(
    get,
    path = "/api/v1/regions",
    tag = "posture",
    responses(
        (status = 200, description = "Every region", body = RegionListResponse),
        (status = 401, description = "Missing, unknown, revoked or expired token", body = super::error::ErrorResponse),
    ),
    security(("bearer" = []))
)]
pub async fn list_regions(
    State(state): State<AppState>,
) -> Result<Json<RegionListResponse>, ApiError> {
    let (open, coverage) = tokio::try_join!(
        state
            .counts
            .get_cloned(&state.pool, "open_by_region_account".into(), || {
                db::posture::open_by_region_account(&state.pool)
            }),
        state
            .counts
            .get_cloned(&state.pool, "coverage_by_region".into(), || {
                db::posture::coverage_by_region(&state.pool)
            }),
    )?;
    let mut regions: BTreeMap<
        String,
        (
            SeverityCounts,
            std::collections::BTreeSet<String>,
            CoverageSummary,
        ),
    > = BTreeMap::new();
    for r in &state.site.regions {
        regions.entry(r.to_string()).or_default();
    }
    for c in open {
        let entry = regions.entry(c.region).or_default();
        entry.0.add(&c.severity, c.count);
        entry.1.insert(c.account_id);
    }
    for c in coverage {
        regions.entry(c.region).or_default().2 = CoverageSummary {
            targets: c.targets,
            enabled: c.enabled,
        };
    }
    let items = regions
        .into_iter()
        .map(|(region, (open, accounts, coverage))| RegionResponse {
            watched: state.site.regions.iter().any(|r| r.as_str() == region),
            approved: state.site.is_approved(&region),
            accounts_with_open_findings: accounts.len() as i64,
            region,
            open,
            coverage,
        })
        .collect();
    Ok(Json(RegionListResponse { items }))
}
