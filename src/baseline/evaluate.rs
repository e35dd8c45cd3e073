//! Decides the ten results of one account from what was read. Pure: every rule is tested here,
//! case by case, without AWS.
//!
//! "The trails" are the account's multi-region trails whose status says they are logging (an
//! organisation trail of the management account counts in each member). A check about the
//! trail passes when one of those trails passes it; with no such trail it fails.

use std::collections::HashMap;

use super::{Check, CheckResult, Outcome};

/// One multi-region trail as DescribeTrails, GetTrailStatus and GetEventSelectors describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trail {
    pub arn: String,
    pub home_region: String,
    pub organization: bool,
    pub logging: bool,
    pub validation: bool,
    pub kms_key: Option<String>,
    pub bucket: Option<String>,
    pub log_group: Option<String>,
    /// The selector that records S3 object data events, described.
    pub s3_data_events: Option<String>,
    /// The selector that records Lambda function data events, described.
    pub lambda_data_events: Option<String>,
}

/// One lifecycle rule of a bucket, as far as the check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    /// (storage class, days) of each transition.
    pub transitions: Vec<(String, Option<i32>)>,
    pub expiration_days: Option<i32>,
}

/// Who owns a trail's bucket, as far as the log-archive account's `ListBuckets` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketOwner {
    LogArchive,
    NotLogArchive,
    /// No log-archive account configured, or its listing was refused.
    Unknown(String),
}

/// One coverage cell of the account, as the poller recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub region: String,
    pub source: String,
    pub state: String,
}

/// Everything read about one account.
#[derive(Debug, Clone)]
pub struct Observation {
    pub account_id: String,
    /// Its environment is one of `[baseline] production_environments`.
    pub production: bool,
    /// The organisation's management account (SCPs never apply to it).
    pub management: bool,
    /// Multi-region trails, or why they could not be read.
    pub trails: Result<Vec<Trail>, String>,
    /// Per trail bucket.
    pub bucket_owners: HashMap<String, BucketOwner>,
    /// Per trail bucket: its rules (`None`: it has no lifecycle), or why it could not be read.
    pub lifecycles: HashMap<String, Result<Option<Vec<LifecycleRule>>, String>>,
    pub log_retention_days: u32,
    /// (policy id, name, where it is attached, the protected actions it denies), or why the
    /// policies could not be read.
    pub scps: Result<Vec<ScpSeen>, String>,
    /// Security Hub controls `CloudWatch.*` with an open finding in the account, with counts.
    pub cloudwatch_failures: Vec<(String, i64)>,
    /// Every watched region × configured source.
    pub expected_cells: Vec<(String, String)>,
    pub coverage: Vec<Cell>,
    /// Unapproved watched regions with open findings, and how many.
    pub unapproved_open: Vec<(String, i64)>,
}

/// A service control policy that applies to the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScpSeen {
    pub id: String,
    pub name: String,
    /// The account, an OU or the root it is attached to.
    pub target: String,
    pub denies: Vec<&'static str>,
}

const GLACIER_CLASSES: [&str; 3] = ["GLACIER", "DEEP_ARCHIVE", "GLACIER_IR"];

pub fn evaluate(o: &Observation) -> Vec<CheckResult> {
    let result = |check, outcome, evidence: String| CheckResult {
        check,
        outcome,
        evidence,
        required: check != Check::DataEventsS3Lambda || o.production,
    };
    let mut out = Vec::with_capacity(Check::ALL.len());
    match &o.trails {
        Err(why) => {
            for check in [
                Check::CloudtrailMultiRegion,
                Check::LogFileValidation,
                Check::TrailKmsEncryption,
                Check::LogArchiveSeparateAccount,
                Check::LogBucketLifecycle,
                Check::DataEventsS3Lambda,
                Check::CloudwatchIntegration,
            ] {
                out.push(result(
                    check,
                    Outcome::Unknown,
                    format!("the trails could not be read: {why}"),
                ));
            }
        }
        Ok(trails) => {
            let logging: Vec<&Trail> = trails.iter().filter(|t| t.logging).collect();
            let none = || {
                if trails.is_empty() {
                    "no multi-region trail".to_owned()
                } else {
                    format!(
                        "no multi-region trail is logging ({} stopped: {})",
                        trails.len(),
                        trails
                            .iter()
                            .map(|t| t.arn.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            };
            let first_with =
                |pred: &dyn Fn(&Trail) -> bool| logging.iter().copied().find(|t| pred(t));
            // 1
            out.push(match logging.first() {
                Some(t) => result(
                    Check::CloudtrailMultiRegion,
                    Outcome::Pass,
                    format!(
                        "{} is logging in every region{}",
                        t.arn,
                        if t.organization {
                            " (organisation trail)"
                        } else {
                            ""
                        }
                    ),
                ),
                None => result(Check::CloudtrailMultiRegion, Outcome::Fail, none()),
            });
            // 2
            out.push(if logging.is_empty() {
                result(Check::LogFileValidation, Outcome::Fail, none())
            } else if let Some(t) = first_with(&|t| t.validation) {
                result(
                    Check::LogFileValidation,
                    Outcome::Pass,
                    format!("{}: LogFileValidationEnabled", t.arn),
                )
            } else {
                result(
                    Check::LogFileValidation,
                    Outcome::Fail,
                    format!("log file validation is off on {}", arns(&logging)),
                )
            });
            out.push(if logging.is_empty() {
                result(Check::TrailKmsEncryption, Outcome::Fail, none())
            } else if let Some(t) = first_with(&|t| t.kms_key.is_some()) {
                result(
                    Check::TrailKmsEncryption,
                    Outcome::Pass,
                    format!(
                        "{}: KMS key {}",
                        t.arn,
                        t.kms_key.as_deref().unwrap_or_default()
                    ),
                )
            } else {
                result(
                    Check::TrailKmsEncryption,
                    Outcome::Fail,
                    format!("no KMS key on {}", arns(&logging)),
                )
            });
            // 3
            out.push(log_archive(o, &logging, &none, &result));
            // 4
            out.push(lifecycle(o, &logging, &none, &result));
            // 5
            out.push(data_events(&logging, &none, &result));
            // 7 (placed in order below)
            out.push(cloudwatch(o, &logging, &none, &result));
        }
    }
    out.push(scp(o, &result));
    out.push(services(o, &result));
    out.push(unapproved(o, &result));
    out.sort_by_key(|r| r.check);
    out
}

type Make<'a> = dyn Fn(Check, Outcome, String) -> CheckResult + 'a;

fn arns(trails: &[&Trail]) -> String {
    trails
        .iter()
        .map(|t| t.arn.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn log_archive(
    o: &Observation,
    logging: &[&Trail],
    none: &dyn Fn() -> String,
    result: &Make<'_>,
) -> CheckResult {
    let check = Check::LogArchiveSeparateAccount;
    if logging.is_empty() {
        return result(check, Outcome::Fail, none());
    }
    let mut unknown = None;
    let mut elsewhere = Vec::new();
    for t in logging {
        let Some(bucket) = &t.bucket else { continue };
        match o.bucket_owners.get(bucket) {
            Some(BucketOwner::LogArchive) => {
                return result(
                    check,
                    Outcome::Pass,
                    format!(
                        "{} delivers to s3://{bucket}, owned by the log-archive account",
                        t.arn
                    ),
                );
            }
            Some(BucketOwner::NotLogArchive) => elsewhere.push(format!("s3://{bucket}")),
            Some(BucketOwner::Unknown(why)) => {
                unknown.get_or_insert_with(|| why.clone());
            }
            None => {
                unknown.get_or_insert_with(|| format!("the owner of {bucket} was not read"));
            }
        }
    }
    match unknown {
        Some(why) => result(check, Outcome::Unknown, why),
        None => result(
            check,
            Outcome::Fail,
            format!(
                "{} not owned by the log-archive account",
                if elsewhere.is_empty() {
                    "the trails name no bucket".to_owned()
                } else {
                    format!("{} is", elsewhere.join(", "))
                }
            ),
        ),
    }
}

fn lifecycle(
    o: &Observation,
    logging: &[&Trail],
    none: &dyn Fn() -> String,
    result: &Make<'_>,
) -> CheckResult {
    let check = Check::LogBucketLifecycle;
    if logging.is_empty() {
        return result(check, Outcome::Fail, none());
    }
    let retention = i64::from(o.log_retention_days);
    let mut unreadable = None;
    let mut shortfalls = Vec::new();
    for bucket in logging.iter().filter_map(|t| t.bucket.as_ref()) {
        match o.lifecycles.get(bucket) {
            None => {
                unreadable.get_or_insert_with(|| format!("the lifecycle of {bucket} was not read"));
            }
            Some(Err(why)) => {
                unreadable.get_or_insert_with(|| why.clone());
            }
            Some(Ok(None)) => shortfalls.push(format!("s3://{bucket} has no lifecycle")),
            Some(Ok(Some(rules))) => {
                let enabled = rules.iter().filter(|r| r.enabled);
                let glacier = enabled.clone().find_map(|r| {
                    r.transitions
                        .iter()
                        .find(|(class, _)| GLACIER_CLASSES.contains(&class.as_str()))
                        .map(|(class, days)| {
                            format!(
                                "rule {} moves logs to {class}{}",
                                r.id,
                                days.map(|d| format!(" after {d} days")).unwrap_or_default()
                            )
                        })
                });
                let expiry = enabled
                    .filter_map(|r| r.expiration_days.map(|d| (r, d)))
                    .min_by_key(|(_, d)| *d);
                match (glacier, expiry) {
                    (Some(g), Some((r, d))) if i64::from(d) <= retention => {
                        return result(
                            check,
                            Outcome::Pass,
                            format!(
                                "s3://{bucket}: {g}; rule {} expires them after {d} days (retention {retention})",
                                r.id
                            ),
                        );
                    }
                    (g, e) => {
                        let mut why = Vec::new();
                        if g.is_none() {
                            why.push("no transition to Glacier-class storage".to_owned());
                        }
                        match e {
                            None => why.push("no expiration".to_owned()),
                            Some((_, d)) if i64::from(d) > retention => why.push(format!(
                                "logs expire after {d} days, later than the retention of {retention}"
                            )),
                            Some(_) => {}
                        }
                        shortfalls.push(format!("s3://{bucket}: {}", why.join(", ")));
                    }
                }
            }
        }
    }
    match unreadable {
        Some(why) => result(check, Outcome::Unknown, why),
        None if shortfalls.is_empty() => {
            result(check, Outcome::Fail, "the trails name no bucket".to_owned())
        }
        None => result(check, Outcome::Fail, shortfalls.join("; ")),
    }
}

fn data_events(logging: &[&Trail], none: &dyn Fn() -> String, result: &Make<'_>) -> CheckResult {
    let check = Check::DataEventsS3Lambda;
    if logging.is_empty() {
        return result(check, Outcome::Fail, none());
    }
    let s3 = logging
        .iter()
        .find_map(|t| t.s3_data_events.as_ref().map(|e| format!("{}: {e}", t.arn)));
    let lambda = logging.iter().find_map(|t| {
        t.lambda_data_events
            .as_ref()
            .map(|e| format!("{}: {e}", t.arn))
    });
    match (s3, lambda) {
        (Some(s), Some(l)) => result(check, Outcome::Pass, format!("{s}; {l}")),
        (Some(s), None) => result(
            check,
            Outcome::Fail,
            format!("Lambda data events are not recorded ({s})"),
        ),
        (None, Some(l)) => result(
            check,
            Outcome::Fail,
            format!("S3 data events are not recorded ({l})"),
        ),
        (None, None) => result(
            check,
            Outcome::Fail,
            format!("no data events recorded on {}", arns(logging)),
        ),
    }
}

fn cloudwatch(
    o: &Observation,
    logging: &[&Trail],
    none: &dyn Fn() -> String,
    result: &Make<'_>,
) -> CheckResult {
    let check = Check::CloudwatchIntegration;
    if logging.is_empty() {
        return result(check, Outcome::Fail, none());
    }
    let Some(t) = logging.iter().find(|t| t.log_group.is_some()) else {
        return result(
            check,
            Outcome::Fail,
            format!("no CloudWatch Logs group on {}", arns(logging)),
        );
    };
    let group = t.log_group.as_deref().unwrap_or_default();
    if o.cloudwatch_failures.is_empty() {
        result(
            check,
            Outcome::Pass,
            format!(
                "{} feeds {group}; no open Security Hub CloudWatch control finding",
                t.arn
            ),
        )
    } else {
        let failing: Vec<String> = o
            .cloudwatch_failures
            .iter()
            .map(|(control, n)| format!("{control} ({n})"))
            .collect();
        result(
            check,
            Outcome::Fail,
            format!(
                "{} feeds {group}, but Security Hub controls fail: {}",
                t.arn,
                failing.join(", ")
            ),
        )
    }
}

fn scp(o: &Observation, result: &Make<'_>) -> CheckResult {
    let check = Check::ScpProtectsCloudtrail;
    if o.management {
        return result(
            check,
            Outcome::Fail,
            "service control policies do not apply to the organisation's management account: keep workloads and people out of it".to_owned(),
        );
    }
    match &o.scps {
        Err(why) => result(check, Outcome::Unknown, why.clone()),
        Ok(policies) => {
            let mut covered: Vec<&'static str> = Vec::new();
            let mut by = Vec::new();
            for p in policies.iter().filter(|p| !p.denies.is_empty()) {
                by.push(format!("{} ({}, on {})", p.id, p.name, p.target));
                for a in &p.denies {
                    if !covered.contains(a) {
                        covered.push(a);
                    }
                }
            }
            let missing: Vec<&str> = super::scp::PROTECTED_ACTIONS
                .into_iter()
                .filter(|a| !covered.contains(a))
                .collect();
            if missing.is_empty() {
                result(check, Outcome::Pass, format!("denied by {}", by.join(", ")))
            } else if by.is_empty() {
                result(
                    check,
                    Outcome::Fail,
                    format!(
                        "none of the {} policies that apply denies a CloudTrail action",
                        policies.len()
                    ),
                )
            } else {
                result(
                    check,
                    Outcome::Fail,
                    format!(
                        "{} not denied (partial: {})",
                        missing.join(", "),
                        by.join(", ")
                    ),
                )
            }
        }
    }
}

fn services(o: &Observation, result: &Make<'_>) -> CheckResult {
    let check = Check::ServicesAllRegions;
    let state = |region: &str, source: &str| {
        o.coverage
            .iter()
            .find(|c| c.region == region && c.source == source)
            .map(|c| c.state.as_str())
    };
    let mut off = Vec::new();
    let mut unread = Vec::new();
    for (region, source) in &o.expected_cells {
        match state(region, source) {
            Some("enabled") => {}
            Some("not_enabled") => off.push(format!("{source} in {region}")),
            Some(other) => unread.push(format!("{source} in {region}: {other}")),
            None => unread.push(format!("{source} in {region}: not polled yet")),
        }
    }
    if !off.is_empty() {
        result(
            check,
            Outcome::Fail,
            format!("{} off: {}", off.len(), off.join(", ")),
        )
    } else if !unread.is_empty() {
        result(
            check,
            Outcome::Unknown,
            format!("{} not readable: {}", unread.len(), unread.join(", ")),
        )
    } else {
        result(
            check,
            Outcome::Pass,
            format!(
                "all {} sources enabled in all {} watched regions",
                o.expected_cells
                    .iter()
                    .map(|(_, s)| s)
                    .collect::<std::collections::HashSet<_>>()
                    .len(),
                o.expected_cells
                    .iter()
                    .map(|(r, _)| r)
                    .collect::<std::collections::HashSet<_>>()
                    .len()
            ),
        )
    }
}

fn unapproved(o: &Observation, result: &Make<'_>) -> CheckResult {
    let check = Check::NoUnapprovedRegionActivity;
    if !o.unapproved_open.is_empty() {
        let total: i64 = o.unapproved_open.iter().map(|(_, n)| n).sum();
        let where_: Vec<String> = o
            .unapproved_open
            .iter()
            .map(|(r, n)| format!("{r} ({n})"))
            .collect();
        return result(
            check,
            Outcome::Fail,
            format!(
                "{total} open findings in unapproved regions: {}",
                where_.join(", ")
            ),
        );
    }
    let readable = o
        .coverage
        .iter()
        .any(|c| c.state != "access_denied" && c.state != "error");
    if readable {
        result(
            check,
            Outcome::Pass,
            "no open finding in an unapproved region".to_owned(),
        )
    } else {
        result(
            check,
            Outcome::Unknown,
            "no service of the account could be read".to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good_trail() -> Trail {
        Trail {
            arn: "arn:aws:cloudtrail:us-east-1:111111111111:trail/org".into(),
            home_region: "us-east-1".into(),
            organization: true,
            logging: true,
            validation: true,
            kms_key: Some("arn:aws:kms:us-east-1:111111111111:key/k".into()),
            bucket: Some("org-logs".into()),
            log_group: Some("arn:aws:logs:us-east-1:111111111111:log-group:ct:*".into()),
            s3_data_events: Some("advanced selector \"s3\"".into()),
            lambda_data_events: Some("advanced selector \"lambda\"".into()),
        }
    }

    fn good_rules() -> Vec<LifecycleRule> {
        vec![LifecycleRule {
            id: "archive".into(),
            enabled: true,
            transitions: vec![("GLACIER".into(), Some(90))],
            expiration_days: Some(1825),
        }]
    }

    fn good() -> Observation {
        Observation {
            account_id: "222222222222".into(),
            production: true,
            management: false,
            trails: Ok(vec![good_trail()]),
            bucket_owners: HashMap::from([("org-logs".into(), BucketOwner::LogArchive)]),
            lifecycles: HashMap::from([("org-logs".into(), Ok(Some(good_rules())))]),
            log_retention_days: 1825,
            scps: Ok(vec![ScpSeen {
                id: "p-protect".into(),
                name: "ProtectTrail".into(),
                target: "r-root".into(),
                denies: super::super::scp::PROTECTED_ACTIONS.to_vec(),
            }]),
            cloudwatch_failures: vec![],
            expected_cells: vec![
                ("us-east-1".into(), "guardduty".into()),
                ("eu-west-1".into(), "guardduty".into()),
            ],
            coverage: vec![
                Cell {
                    region: "us-east-1".into(),
                    source: "guardduty".into(),
                    state: "enabled".into(),
                },
                Cell {
                    region: "eu-west-1".into(),
                    source: "guardduty".into(),
                    state: "enabled".into(),
                },
            ],
            unapproved_open: vec![],
        }
    }

    fn outcome(o: &Observation, check: Check) -> (Outcome, String) {
        let r = evaluate(o)
            .into_iter()
            .find(|r| r.check == check)
            .expect("every check has a result");
        (r.outcome, r.evidence)
    }

    #[test]
    fn a_careful_account_passes_everything_in_order() {
        let results = evaluate(&good());
        assert_eq!(
            results.iter().map(|r| r.check).collect::<Vec<_>>(),
            Check::ALL
        );
        for r in &results {
            assert_eq!(r.outcome, Outcome::Pass, "{:?}: {}", r.check, r.evidence);
            assert!(r.required);
        }
    }

    #[test]
    fn unreadable_trails_make_the_trail_checks_unknown_only() {
        let mut o = good();
        o.trails = Err("AssumeRole denied".into());
        let r = evaluate(&o);
        let unknown: Vec<Check> = r
            .iter()
            .filter(|r| r.outcome == Outcome::Unknown)
            .map(|r| r.check)
            .collect();
        assert_eq!(
            unknown,
            [
                Check::CloudtrailMultiRegion,
                Check::LogFileValidation,
                Check::TrailKmsEncryption,
                Check::LogArchiveSeparateAccount,
                Check::LogBucketLifecycle,
                Check::DataEventsS3Lambda,
                Check::CloudwatchIntegration,
            ]
        );
    }

    #[test]
    fn a_stopped_or_missing_trail_fails_every_trail_check() {
        for trails in [vec![], {
            let mut t = good_trail();
            t.logging = false;
            vec![t]
        }] {
            let mut o = good();
            o.trails = Ok(trails);
            for check in [
                Check::CloudtrailMultiRegion,
                Check::LogFileValidation,
                Check::TrailKmsEncryption,
                Check::LogArchiveSeparateAccount,
                Check::LogBucketLifecycle,
                Check::DataEventsS3Lambda,
                Check::CloudwatchIntegration,
            ] {
                assert_eq!(outcome(&o, check).0, Outcome::Fail, "{check:?}");
            }
        }
    }

    #[test]
    fn one_good_trail_among_several_is_enough() {
        let mut o = good();
        let mut plain = good_trail();
        plain.arn = "arn:aws:cloudtrail:eu-west-1:222222222222:trail/own".into();
        plain.validation = false;
        plain.kms_key = None;
        o.trails = Ok(vec![plain, good_trail()]);
        assert_eq!(outcome(&o, Check::LogFileValidation).0, Outcome::Pass);
        assert_eq!(outcome(&o, Check::TrailKmsEncryption).0, Outcome::Pass);
    }

    #[test]
    fn validation_and_kms() {
        let mut o = good();
        let mut t = good_trail();
        t.validation = false;
        t.kms_key = None;
        o.trails = Ok(vec![t]);
        assert_eq!(outcome(&o, Check::LogFileValidation).0, Outcome::Fail);
        let (r, e) = outcome(&o, Check::TrailKmsEncryption);
        assert_eq!(r, Outcome::Fail);
        assert!(e.contains("no KMS key"), "{e}");
    }

    #[test]
    fn log_archive_pass_fail_unknown() {
        let mut o = good();
        o.bucket_owners = HashMap::from([("org-logs".into(), BucketOwner::NotLogArchive)]);
        let (r, e) = outcome(&o, Check::LogArchiveSeparateAccount);
        assert_eq!(r, Outcome::Fail);
        assert!(e.contains("s3://org-logs"), "{e}");
        o.bucket_owners = HashMap::from([(
            "org-logs".into(),
            BucketOwner::Unknown("no log_archive_account_id configured".into()),
        )]);
        assert_eq!(
            outcome(&o, Check::LogArchiveSeparateAccount),
            (
                Outcome::Unknown,
                "no log_archive_account_id configured".into()
            )
        );
    }

    #[test]
    fn lifecycle_needs_glacier_and_an_expiry_within_retention() {
        let rule = |transitions: Vec<(&str, Option<i32>)>, exp: Option<i32>, enabled: bool| {
            LifecycleRule {
                id: "r".into(),
                enabled,
                transitions: transitions
                    .into_iter()
                    .map(|(c, d)| (c.to_owned(), d))
                    .collect(),
                expiration_days: exp,
            }
        };
        let cases = [
            (
                vec![rule(vec![("DEEP_ARCHIVE", Some(30))], Some(1825), true)],
                Outcome::Pass,
            ),
            // Exactly at the retention boundary passes; a day later fails.
            (
                vec![rule(vec![("GLACIER", Some(90))], Some(1826), true)],
                Outcome::Fail,
            ),
            (
                vec![rule(vec![("STANDARD_IA", Some(30))], Some(365), true)],
                Outcome::Fail,
            ),
            (
                vec![rule(vec![("GLACIER", Some(90))], None, true)],
                Outcome::Fail,
            ),
            (
                vec![rule(vec![("GLACIER", Some(90))], Some(365), false)],
                Outcome::Fail,
            ),
            // Transition and expiry may come from two rules.
            (
                vec![
                    rule(vec![("GLACIER_IR", Some(0))], None, true),
                    rule(vec![], Some(400), true),
                ],
                Outcome::Pass,
            ),
        ];
        for (rules, want) in cases {
            let mut o = good();
            o.lifecycles = HashMap::from([("org-logs".into(), Ok(Some(rules.clone())))]);
            assert_eq!(outcome(&o, Check::LogBucketLifecycle).0, want, "{rules:?}");
        }
        let mut o = good();
        o.lifecycles = HashMap::from([("org-logs".into(), Ok(None))]);
        let (r, e) = outcome(&o, Check::LogBucketLifecycle);
        assert_eq!(
            (r, e.as_str()),
            (Outcome::Fail, "s3://org-logs has no lifecycle")
        );
        o.lifecycles = HashMap::from([("org-logs".into(), Err("AccessDenied".into()))]);
        assert_eq!(outcome(&o, Check::LogBucketLifecycle).0, Outcome::Unknown);
    }

    #[test]
    fn data_events_need_both_and_are_advisory_outside_production() {
        let mut o = good();
        let mut t = good_trail();
        t.lambda_data_events = None;
        o.trails = Ok(vec![t.clone()]);
        assert_eq!(outcome(&o, Check::DataEventsS3Lambda).0, Outcome::Fail);
        // Lambda recorded by a second logging trail: both are recorded.
        let mut other = good_trail();
        other.arn = "arn:aws:cloudtrail:us-east-1:222222222222:trail/data".into();
        other.s3_data_events = None;
        o.trails = Ok(vec![t, other]);
        assert_eq!(outcome(&o, Check::DataEventsS3Lambda).0, Outcome::Pass);
        o.production = false;
        let r = evaluate(&o);
        assert!(
            r.iter()
                .all(|r| r.required == (r.check != Check::DataEventsS3Lambda))
        );
    }

    #[test]
    fn scp_pass_partial_none_unknown_and_management() {
        let mut o = good();
        o.scps = Ok(vec![ScpSeen {
            id: "p-partial".into(),
            name: "Partial".into(),
            target: "ou-x".into(),
            denies: vec!["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"],
        }]);
        let (r, e) = outcome(&o, Check::ScpProtectsCloudtrail);
        assert_eq!(r, Outcome::Fail);
        assert!(
            e.contains("cloudtrail:UpdateTrail, cloudtrail:PutEventSelectors not denied"),
            "{e}"
        );
        o.scps = Ok(vec![]);
        assert_eq!(outcome(&o, Check::ScpProtectsCloudtrail).0, Outcome::Fail);
        o.scps = Err("not in the organisation".into());
        assert_eq!(
            outcome(&o, Check::ScpProtectsCloudtrail).0,
            Outcome::Unknown
        );
        let mut m = good();
        m.management = true;
        assert_eq!(outcome(&m, Check::ScpProtectsCloudtrail).0, Outcome::Fail);
    }

    #[test]
    fn cloudwatch_needs_a_log_group_and_no_failing_alarm_control() {
        let mut o = good();
        o.cloudwatch_failures = vec![("CloudWatch.1".into(), 2)];
        let (r, e) = outcome(&o, Check::CloudwatchIntegration);
        assert_eq!(r, Outcome::Fail);
        assert!(e.contains("CloudWatch.1 (2)"), "{e}");
        let mut o = good();
        let mut t = good_trail();
        t.log_group = None;
        o.trails = Ok(vec![t]);
        assert_eq!(outcome(&o, Check::CloudwatchIntegration).0, Outcome::Fail);
    }

    #[test]
    fn services_off_unreadable_or_missing() {
        let mut o = good();
        o.coverage[1].state = "not_enabled".into();
        let (r, e) = outcome(&o, Check::ServicesAllRegions);
        assert_eq!(
            (r, e.as_str()),
            (Outcome::Fail, "1 off: guardduty in eu-west-1")
        );
        o.coverage[1].state = "access_denied".into();
        assert_eq!(outcome(&o, Check::ServicesAllRegions).0, Outcome::Unknown);
        o.coverage.pop();
        assert_eq!(outcome(&o, Check::ServicesAllRegions).0, Outcome::Unknown);
    }

    #[test]
    fn unapproved_region_activity() {
        let mut o = good();
        o.unapproved_open = vec![("sa-east-1".into(), 2)];
        let (r, e) = outcome(&o, Check::NoUnapprovedRegionActivity);
        assert_eq!(r, Outcome::Fail);
        assert!(e.contains("sa-east-1 (2)"), "{e}");
        let mut o = good();
        for c in &mut o.coverage {
            c.state = "access_denied".into();
        }
        assert_eq!(
            outcome(&o, Check::NoUnapprovedRegionActivity).0,
            Outcome::Unknown
        );
    }
}
