//! The ground truth: what one full poll of the simulated organisation can see, counted by the
//! simulator on its own terms (no code shared with Sightline's normalisers, so a mapping bug
//! cannot hide in both).

use std::collections::BTreeMap;

use serde::Serialize;

use super::baseline::{self, BaselineCell};
use super::org::{Access, Estate, Finding, Service, State};

#[derive(Debug, Serialize)]
pub struct Truth {
    pub findings: Vec<FindingCount>,
    pub coverage: Vec<CoverageCell>,
    /// The observability baseline: every account's ten checks.
    pub baseline: Vec<BaselineCell>,
}

#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct FindingCount {
    pub account_id: String,
    pub region: String,
    pub source: &'static str,
    pub severity: &'static str,
    pub status: &'static str,
    pub count: u64,
}

#[derive(Debug, Serialize)]
pub struct CoverageCell {
    pub account_id: String,
    pub region: String,
    pub source: &'static str,
    pub state: &'static str,
}

const LEVELS: [&str; 5] = ["informational", "low", "medium", "high", "critical"];

/// Whether one full poll sees `f`: the account lets Sightline in (or the delegated
/// administrator is read instead), and the finding's service serves it there, or Security Hub
/// serves its copy.
pub fn visible(estate: &Estate, f: &Finding) -> bool {
    let (a, r) = (f.account as usize, f.region as usize);
    // Through a delegated administrator, the members' own roles are never asked.
    if estate.delegated_admin.is_none() && estate.accounts[a].access != Access::Allowed {
        return false;
    }
    // GuardDuty and Macie forget resolved findings; Security Hub keeps its copy, archived.
    let native = estate.is_enabled(a, r, f.service)
        && !(matches!(f.service, Service::GuardDuty | Service::Macie)
            && f.state == State::Resolved);
    let copy = f.service != Service::SecurityHub && estate.is_enabled(a, r, Service::SecurityHub);
    native || copy
}

/// Whether `service` covers (account, region): switched on there, or for Access Analyzer with a
/// delegated administrator, inside its organisation analyzer's zone of trust (every account).
pub fn service_on(estate: &Estate, account: usize, region: usize, service: Service) -> bool {
    (service == Service::AccessAnalyzer && estate.delegated_admin.is_some())
        || estate.is_enabled(account, region, service)
}

/// Counts canonical findings (a Security Hub copy and its native finding are one) visible to a
/// poll of every account, region and source, and the coverage of every target.
pub fn compute(estate: &Estate) -> Truth {
    let mut counts: BTreeMap<(usize, usize, Service, &'static str, &'static str), u64> =
        BTreeMap::new();
    for f in &estate.findings {
        let (a, r) = (f.account as usize, f.region as usize);
        if !visible(estate, f) {
            continue;
        }
        // A passed control is informational, whatever the control's severity when it fails.
        let severity = if f.service == Service::SecurityHub && f.state == State::Resolved {
            LEVELS[0]
        } else {
            LEVELS[(f.level as usize).min(4)]
        };
        let status = match f.state {
            State::Active => "open",
            State::Suppressed => "suppressed",
            State::Resolved => "resolved",
        };
        *counts
            .entry((a, r, f.service, severity, status))
            .or_default() += 1;
    }
    let findings = counts
        .into_iter()
        .map(|((a, r, s, severity, status), count)| FindingCount {
            account_id: estate.accounts[a].id.clone(),
            region: estate.regions[r].clone(),
            source: s.name(),
            severity,
            status,
            count,
        })
        .collect();
    let mut coverage = Vec::new();
    for (a, account) in estate.accounts.iter().enumerate() {
        for (r, region) in estate.regions.iter().enumerate() {
            for s in Service::ALL {
                let state = match account.access {
                    _ if estate.delegated_admin.is_some() => {
                        if service_on(estate, a, r, s) {
                            "enabled"
                        } else {
                            "not_enabled"
                        }
                    }
                    Access::RoleDenied | Access::ServicesDenied => "access_denied",
                    Access::Allowed if estate.is_enabled(a, r, s) => "enabled",
                    Access::Allowed => "not_enabled",
                };
                coverage.push(CoverageCell {
                    account_id: account.id.clone(),
                    region: region.clone(),
                    source: s.name(),
                    state,
                });
            }
        }
    }
    Truth {
        findings,
        coverage,
        baseline: baseline::compute(estate),
    }
}

/// The `[aws]` table and `[[accounts]]` of a Sightline config that watches this organisation
/// through the simulator at `endpoint_url`.
pub fn config_toml(estate: &Estate, endpoint_url: &str) -> String {
    let list = |items: &[String]| {
        items
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::new();
    out.push_str("# A Sightline config for the simulated organisation (seed ");
    out.push_str(&estate.seed.to_string());
    out.push_str(").\n[aws]\n");
    out.push_str(&format!("regions = [{}]\n", list(&estate.regions)));
    out.push_str(&format!(
        "approved_regions = [{}]\n",
        list(&estate.approved)
    ));
    out.push_str("role_name = \"SightlineReadOnly\"\n");
    out.push_str(&format!("endpoint_url = {endpoint_url:?}\n"));
    // The simulator accepts any key; these let Sightline sign without an AWS credential chain.
    out.push_str("access_key_id = \"AKIASIMULATOR\"\nsecret_access_key = \"simulated\"\n");
    let sources: Vec<String> = Service::ALL.iter().map(|s| s.name().to_owned()).collect();
    out.push_str(&format!("sources = [{}]\n", list(&sources)));
    // Organizations is read in the management account; the baseline's log archive is the
    // second account.
    out.push_str(&format!(
        "organizations_account_id = {:?}\n",
        estate.management
    ));
    if let Some(admin) = estate.delegated_admin {
        out.push_str(&format!(
            "delegated_admin_account_id = {:?}\n",
            estate.accounts[admin].id
        ));
    }
    out.push_str("\n[baseline]\n");
    if let Some(archive) = estate.audit.log_archive {
        out.push_str(&format!(
            "log_archive_account_id = {:?}\n",
            estate.accounts[archive].id
        ));
    }
    out.push_str(&format!(
        "log_retention_days = {}\nproduction_environments = [\"prod\"]\n",
        baseline::LOG_RETENTION_DAYS
    ));
    // The simulator's days pass in seconds (`/_sim/advance`, the demo's history): read the
    // baseline at every cycle, not once an hour of wall-clock time.
    out.push_str("interval = \"0s\"\n");
    for account in &estate.accounts {
        out.push_str(&format!(
            "\n[[accounts]]\nid = {:?}\nname = {:?}\nenvironment = {:?}\nowner = {:?}\n",
            account.id, account.name, account.environment, account.owner
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::org::Options;

    #[test]
    fn same_seed_same_truth() {
        let a = serde_json::to_string(&compute(&Estate::generate(&Options::default()))).unwrap();
        let b = serde_json::to_string(&compute(&Estate::generate(&Options::default()))).unwrap();
        assert_eq!(a, b);
        let c = serde_json::to_string(&compute(&Estate::generate(&Options {
            seed: 9,
            ..Options::default()
        })))
        .unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn denied_accounts_are_counted_as_denied_and_hide_their_findings() {
        let e = Estate::generate(&Options::default());
        let t = compute(&e);
        let denied: Vec<&str> = e
            .accounts
            .iter()
            .filter(|a| a.access != Access::Allowed)
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(denied.len(), 2);
        assert!(
            t.findings
                .iter()
                .all(|f| !denied.contains(&f.account_id.as_str()))
        );
        assert_eq!(
            t.coverage
                .iter()
                .filter(|c| c.state == "access_denied")
                .count(),
            2 * 6 * 5
        );
        assert_eq!(t.coverage.len(), 24 * 6 * 5);
        let open: u64 = t
            .findings
            .iter()
            .filter(|f| f.status == "open")
            .map(|f| f.count)
            .sum();
        assert!(open > 1000, "{open}");
    }

    #[test]
    fn config_is_a_valid_sightline_config() {
        let e = Estate::generate(&Options::default());
        let text = format!(
            "listen = \"127.0.0.1:8080\"\n{}",
            config_toml(&e, "http://127.0.0.1:4566")
        );
        let config = crate::config::Config::parse(&text).unwrap();
        assert_eq!(config.accounts.len(), 24);
        assert_eq!(config.aws.regions.len(), 6);
        assert_eq!(
            config.aws.endpoint_url.as_deref(),
            Some("http://127.0.0.1:4566")
        );
        assert_eq!(
            config
                .aws
                .organizations_account_id
                .as_ref()
                .map(|a| a.as_str()),
            Some(e.management.as_str())
        );
        assert_eq!(
            config
                .baseline
                .log_archive_account_id
                .as_ref()
                .map(|a| a.as_str()),
            Some(e.accounts[1].id.as_str())
        );
        assert_eq!(config.baseline.log_retention_days, 1825);
        assert_eq!(config.baseline.production_environments, ["prod"]);
        assert_eq!(config.baseline.interval, std::time::Duration::ZERO);
    }
}
