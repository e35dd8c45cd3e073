//! The observability baseline's ground truth: the ten checks of every account, decided from the
//! simulator's own model of the organisation (its trails, buckets, SCPs, services and findings),
//! following the rules of the contract with Sightline's evaluator but sharing no code with it.

use serde::Serialize;

use super::audit::{Audit, LAMBDA_FUNCTION, S3_OBJECT, Selectors, Statement, TRAIL_ACTIONS, Trail};
use super::catalogue::CONTROLS;
use super::org::{Access, Estate, Service, State};

/// The checks, in the order the truth lists them.
pub const CHECKS: [&str; 10] = [
    "cloudtrail_multi_region",
    "log_file_validation",
    "trail_kms_encryption",
    "log_archive_separate_account",
    "log_bucket_lifecycle",
    "data_events_s3_lambda",
    "scp_protects_cloudtrail",
    "cloudwatch_integration",
    "services_all_regions",
    "no_unapproved_region_activity",
];

/// How long the config says logs must be kept (`[baseline] log_retention_days`).
pub const LOG_RETENTION_DAYS: u32 = 1825;

/// Storage classes that archive logs.
const ARCHIVE_CLASSES: [&str; 3] = ["GLACIER", "DEEP_ARCHIVE", "GLACIER_IR"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Unknown,
}

impl Outcome {
    fn of(pass: bool) -> Outcome {
        if pass { Outcome::Pass } else { Outcome::Fail }
    }
}

#[derive(Debug, Serialize)]
pub struct BaselineCell {
    pub account_id: String,
    pub check: &'static str,
    pub result: Outcome,
}

/// What reading a trail bucket's lifecycle gives.
enum LifecycleRead {
    Qualifies,
    DoesNotQualify,
    Unreadable,
}

/// Every account's ten checks, account by account in the estate's order.
pub fn compute(estate: &Estate) -> Vec<BaselineCell> {
    let audit = &estate.audit;
    let mut out = Vec::with_capacity(estate.accounts.len() * CHECKS.len());
    for (a, account) in estate.accounts.iter().enumerate() {
        let readable = account.access == Access::Allowed;
        // The trails the account's DescribeTrails shows that are multi-region and logging.
        let logging: Vec<&Trail> = audit
            .trails
            .iter()
            .filter(|t| audit.sees(a, t) && t.multi_region && t.logging)
            .collect();
        let any = |f: &dyn Fn(&Trail) -> bool| Outcome::of(logging.iter().any(|t| f(t)));
        let trail_check = |outcome: Outcome| {
            if readable { outcome } else { Outcome::Unknown }
        };
        // Checks 8 and 9 read Sightline's coverage and findings: through a delegated
        // administrator they are known even where the account's own role is refused.
        let data_check = |outcome: Outcome| {
            if readable || estate.delegated_admin.is_some() {
                outcome
            } else {
                Outcome::Unknown
            }
        };
        let results = [
            trail_check(Outcome::of(!logging.is_empty())),
            trail_check(any(&|t| t.validation)),
            trail_check(any(&|t| t.kms_key.is_some())),
            match audit.log_archive {
                None => Outcome::Unknown,
                Some(archive) => trail_check(any(&|t| {
                    audit.bucket(&t.bucket).is_some_and(|b| b.owner == archive)
                })),
            },
            trail_check(lifecycle(audit, a, &logging)),
            trail_check(data_events(&logging)),
            scp(estate, a),
            trail_check(if logging.iter().any(|t| t.log_group.is_some()) {
                Outcome::of(!open_cloudwatch_finding(estate, a))
            } else {
                Outcome::Fail
            }),
            data_check(Outcome::of((0..estate.regions.len()).all(|r| {
                Service::ALL
                    .into_iter()
                    .all(|s| super::truth::service_on(estate, a, r, s))
            }))),
            data_check(Outcome::of(!open_in_unapproved_region(estate, a))),
        ];
        for (check, result) in CHECKS.into_iter().zip(results) {
            out.push(BaselineCell {
                account_id: account.id.clone(),
                check,
                result,
            });
        }
    }
    out
}

/// `log_bucket_lifecycle`: some logging trail's bucket archives to Glacier and expires within
/// the retention; unknown when none does and some bucket could not be read.
fn lifecycle(audit: &Audit, account: usize, logging: &[&Trail]) -> Outcome {
    if logging.is_empty() {
        return Outcome::Fail;
    }
    let reads: Vec<LifecycleRead> = logging
        .iter()
        .map(|t| {
            // Log-archive's buckets are read with its session; any other with the account's
            // own, which can read only the account's own buckets.
            let Some(bucket) = audit.bucket(&t.bucket) else {
                return LifecycleRead::Unreadable;
            };
            if Some(bucket.owner) != audit.log_archive && bucket.owner != account {
                return LifecycleRead::Unreadable;
            }
            let rules = bucket.lifecycle.as_deref().unwrap_or_default();
            let archives = rules.iter().any(|r| {
                r.enabled
                    && r.transitions
                        .iter()
                        .any(|(_, class)| ARCHIVE_CLASSES.contains(class))
            });
            let expires = rules.iter().any(|r| {
                r.enabled
                    && r.expiration_days
                        .is_some_and(|days| days <= LOG_RETENTION_DAYS)
            });
            if archives && expires {
                LifecycleRead::Qualifies
            } else {
                LifecycleRead::DoesNotQualify
            }
        })
        .collect();
    if reads.iter().any(|r| matches!(r, LifecycleRead::Qualifies)) {
        Outcome::Pass
    } else if reads.iter().any(|r| matches!(r, LifecycleRead::Unreadable)) {
        Outcome::Unknown
    } else {
        Outcome::Fail
    }
}

/// `data_events_s3_lambda`: S3 object and Lambda function data events, on one logging trail or
/// across several. Classic and advanced selectors record the same types in this model.
fn data_events(logging: &[&Trail]) -> Outcome {
    let records = |ty: &str| {
        logging.iter().any(|t| match &t.selectors {
            Selectors::Classic(types) | Selectors::Advanced(types) => types.contains(&ty),
        })
    };
    Outcome::of(records(S3_OBJECT) && records(LAMBDA_FUNCTION))
}

/// `scp_protects_cloudtrail`: the Deny statements of the SCPs on the account, its OUs and the
/// root cover all four trail actions. The management account fails (SCPs never apply to it);
/// an account outside the organisation is unknown.
fn scp(estate: &Estate, account: usize) -> Outcome {
    let org = &estate.audit.organization;
    if account == 0 {
        return Outcome::Fail;
    }
    let Some(Some(member)) = org.members.get(account) else {
        return Outcome::Unknown;
    };
    let mut targets = vec![estate.accounts[account].id.as_str()];
    let mut parent = Some(member.parent.as_str());
    while let Some(p) = parent {
        targets.push(p);
        parent = org.ou_parent(p);
    }
    let statements: Vec<&Statement> = targets
        .iter()
        .flat_map(|t| org.policies_of(t))
        .flat_map(|p| &p.statements)
        .collect();
    Outcome::of(
        TRAIL_ACTIONS
            .iter()
            .all(|action| statements.iter().any(|s| denies(s, action))),
    )
}

/// Whether a statement denies `action` (conditions are allowed: they narrow who is denied, not
/// what).
fn denies(s: &Statement, action: &str) -> bool {
    let listed = s.actions.iter().any(|p| glob(p, action));
    s.deny && (listed != s.not_action)
}

/// IAM's action matching: case-insensitive, `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    // matched[j]: p[..i] matches t[..j].
    let mut matched = vec![false; t.len() + 1];
    matched[0] = true;
    for &c in &p {
        let mut next = vec![false; t.len() + 1];
        if c == '*' {
            let mut seen = false;
            for j in 0..=t.len() {
                seen |= matched[j];
                next[j] = seen;
            }
        } else {
            for j in 1..=t.len() {
                next[j] = matched[j - 1] && (c == '?' || c == t[j - 1]);
            }
        }
        matched = next;
    }
    matched[t.len()]
}

/// Whether a finding is open and a full poll sees it: active, its service on in its target or
/// (for the four that Security Hub copies) Security Hub on there.
fn open_and_visible(estate: &Estate, f: &super::org::Finding) -> bool {
    f.state == State::Active && super::truth::visible(estate, f)
}

/// An open Security Hub control finding of a `CloudWatch.` control, in any region.
fn open_cloudwatch_finding(estate: &Estate, account: usize) -> bool {
    (0..estate.regions.len()).any(|r| {
        estate
            .target_findings(account, r, Service::SecurityHub)
            .any(|f| {
                CONTROLS
                    .get(f.kind as usize)
                    .is_some_and(|c| c.id.starts_with("CloudWatch."))
                    && open_and_visible(estate, f)
            })
    })
}

/// An open finding, of any source, in a watched region that is not approved.
fn open_in_unapproved_region(estate: &Estate, account: usize) -> bool {
    (0..estate.regions.len())
        .filter(|&r| !estate.approved.contains(&estate.regions[r]))
        .any(|r| {
            Service::ALL.into_iter().any(|s| {
                estate
                    .target_findings(account, r, s)
                    .any(|f| open_and_visible(estate, f))
            })
        })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::sim::org::Options;

    fn counts(seed: u64) -> BTreeMap<&'static str, [usize; 3]> {
        let e = Estate::generate(&Options {
            seed,
            ..Options::default()
        });
        let cells = compute(&e);
        assert_eq!(cells.len(), e.accounts.len() * CHECKS.len());
        let mut out = BTreeMap::new();
        for c in &cells {
            let n: &mut [usize; 3] = out.entry(c.check).or_default();
            n[c.result as usize] += 1;
        }
        out
    }

    #[test]
    fn every_check_passes_and_fails_somewhere_with_seeds_1_and_17() {
        for seed in [1, 17] {
            let counts = counts(seed);
            for check in CHECKS {
                let [pass, fail, _] = counts[check];
                assert!(pass > 0 && fail > 0, "seed {seed}: {check}: {counts:?}");
            }
        }
    }

    #[test]
    fn denied_and_standalone_accounts_are_unknown_where_the_rules_say() {
        for seed in [1, 17] {
            let e = Estate::generate(&Options {
                seed,
                ..Options::default()
            });
            let cells = compute(&e);
            let result = |a: usize, check: &str| {
                cells
                    .iter()
                    .find(|c| c.account_id == e.accounts[a].id && c.check == check)
                    .unwrap()
                    .result
            };
            for (a, account) in e.accounts.iter().enumerate() {
                if account.access != Access::Allowed {
                    for check in CHECKS {
                        let r = result(a, check);
                        if check == "scp_protects_cloudtrail" {
                            assert_eq!(r == Outcome::Unknown, !e.audit.is_member(a), "seed {seed}");
                        } else {
                            assert_eq!(r, Outcome::Unknown, "seed {seed}: {check}");
                        }
                    }
                }
                if !e.audit.is_member(a) {
                    assert_eq!(result(a, "scp_protects_cloudtrail"), Outcome::Unknown);
                }
            }
            assert_eq!(result(0, "scp_protects_cloudtrail"), Outcome::Fail);
            // Members all see the organisation trail, which is right in every respect.
            for a in (0..e.accounts.len()).filter(|&a| e.audit.is_member(a)) {
                if e.accounts[a].access == Access::Allowed {
                    for check in &CHECKS[..5] {
                        assert_eq!(result(a, check), Outcome::Pass, "seed {seed}: {check}");
                    }
                }
            }
        }
    }

    #[test]
    fn scp_rules() {
        let s = |deny, not_action, actions: &[&str]| Statement {
            sid: None,
            deny,
            not_action,
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
            condition: None,
        };
        assert!(glob("cloudtrail:*", "cloudtrail:StopLogging"));
        assert!(glob("CloudTrail:stop*", "cloudtrail:StopLogging"));
        assert!(glob("cloudtrail:?eleteTrail", "cloudtrail:DeleteTrail"));
        assert!(!glob("cloudtrail:Stop", "cloudtrail:StopLogging"));
        assert!(glob("*", "cloudtrail:UpdateTrail"));
        assert!(denies(
            &s(true, false, &["cloudtrail:Update*"]),
            "cloudtrail:UpdateTrail"
        ));
        assert!(!denies(
            &s(false, false, &["cloudtrail:*"]),
            "cloudtrail:UpdateTrail"
        ));
        assert!(denies(&s(true, true, &["iam:*"]), "cloudtrail:UpdateTrail"));
        assert!(!denies(
            &s(true, true, &["cloudtrail:*"]),
            "cloudtrail:UpdateTrail"
        ));
    }

    #[test]
    fn the_fully_covered_account_passes_services_all_regions() {
        let e = Estate::generate(&Options::default());
        let cells = compute(&e);
        let cell = cells
            .iter()
            .find(|c| c.account_id == e.accounts[2].id && c.check == "services_all_regions")
            .unwrap();
        assert_eq!(cell.result, Outcome::Pass);
    }

    #[test]
    fn tiny_estates_have_a_baseline_too() {
        for accounts in 1..=4 {
            let e = Estate::generate(&Options {
                accounts,
                regions: 1,
                ..Options::default()
            });
            let cells = compute(&e);
            assert_eq!(cells.len(), accounts * CHECKS.len());
            let text = crate::sim::truth::config_toml(&e, "http://127.0.0.1:1");
            assert_eq!(
                text.contains("log_archive_account_id"),
                accounts >= 2,
                "{text}"
            );
        }
    }

    /// The mix, for the report: `cargo test --lib baseline_mix -- --nocapture`.
    #[test]
    fn baseline_mix() {
        for seed in [1, 17] {
            for (check, [pass, fail, unknown]) in counts(seed) {
                println!("seed {seed} {check}: {pass} pass, {fail} fail, {unknown} unknown");
            }
        }
    }
}
