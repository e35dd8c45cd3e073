//! The simulated CloudTrail, S3 and Organizations through the real `aws-sdk-cloudtrail`,
//! `aws-sdk-s3` (path-style) and `aws-sdk-organizations` clients: every operation the baseline
//! reads, paging, classic and advanced event selectors, the typed errors, the denied accounts,
//! and the baseline truth agreeing with what the wire serves.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use aws_sdk_organizations::types::{ParentType, PolicyType};
use serde_json::Value;
use sightline::sim::audit::{Selectors, Trail};
use sightline::sim::org::{Access, Options};
use sightline::sim::server::{SimHandle, spawn};

use crate::support::{http_get, http_with_body};

fn cloudtrail(sim: &SimHandle, account: &str, region: &str) -> aws_sdk_cloudtrail::Client {
    aws_sdk_cloudtrail::Client::new(&sim.client_config(account, region))
}

fn s3(sim: &SimHandle, account: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&sim.client_config(account, "us-east-1"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn organizations(sim: &SimHandle, account: &str) -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::new(&sim.client_config(account, "us-east-1"))
}

/// The estate's facts a test needs, read before any request.
struct Facts {
    management: String,
    log_archive: String,
    first_approved: String,
    /// (id, member of the organisation, lets Sightline in).
    accounts: Vec<(String, bool, bool)>,
    services_denied: String,
    /// The ARN and data event types of a logging trail with classic selectors that record data
    /// events, and of one with advanced selectors.
    classic: (String, String, Vec<String>),
    advanced: (String, String, Vec<String>),
}

fn facts(sim: &SimHandle) -> Facts {
    let e = sim.state.estate.read().unwrap();
    let find = |advanced: bool| {
        let t: &Trail = e
            .audit
            .trails
            .iter()
            .find(|t| {
                e.accounts[t.owner].access == Access::Allowed
                    && match &t.selectors {
                        Selectors::Advanced(d) => advanced && !d.is_empty(),
                        Selectors::Classic(d) => !advanced && !d.is_empty(),
                    }
            })
            .unwrap();
        (
            e.accounts[t.owner].id.clone(),
            t.arn(),
            t.selectors
                .data_types()
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        )
    };
    Facts {
        management: e.management.clone(),
        log_archive: e.accounts[1].id.clone(),
        first_approved: e.approved[0].clone(),
        accounts: e
            .accounts
            .iter()
            .enumerate()
            .map(|(a, x)| {
                (
                    x.id.clone(),
                    e.audit.is_member(a),
                    x.access == Access::Allowed,
                )
            })
            .collect(),
        services_denied: e
            .accounts
            .iter()
            .find(|a| a.access == Access::ServicesDenied)
            .unwrap()
            .id
            .clone(),
        classic: find(false),
        advanced: find(true),
    }
}

/// The region of a trail ARN (`arn:aws:cloudtrail:<region>:…`).
fn arn_region(arn: &str) -> &str {
    arn.split(':').nth(3).unwrap()
}

#[tokio::test]
async fn cloudtrail_trails_status_and_selectors_through_the_sdk() {
    let sim = spawn(Options::default()).await.unwrap();
    let f = facts(&sim);
    let member = f
        .accounts
        .iter()
        .find(|(id, member, allowed)| *member && *allowed && *id != f.management)
        .unwrap()
        .0
        .clone();
    let client = cloudtrail(&sim, &member, &f.first_approved);
    let trails = client
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .unwrap();
    let org: Vec<_> = trails
        .trail_list()
        .iter()
        .filter(|t| t.is_organization_trail() == Some(true))
        .collect();
    assert_eq!(org.len(), 1);
    let org = org[0];
    let org_arn = org.trail_arn().unwrap().to_owned();
    assert!(org_arn.contains(&f.management), "{org_arn}");
    assert_eq!(org.is_multi_region_trail(), Some(true));
    assert_eq!(org.log_file_validation_enabled(), Some(true));
    assert!(org.kms_key_id().is_some());
    assert!(org.cloud_watch_logs_log_group_arn().is_some());
    assert_eq!(
        org.s3_bucket_name(),
        Some(format!("org-cloudtrail-{}", f.log_archive).as_str())
    );
    assert_eq!(org.home_region(), Some(arn_region(&org_arn)));

    // Without shadow trails, the organisation trail is not the member's.
    let own = client
        .describe_trails()
        .include_shadow_trails(false)
        .send()
        .await
        .unwrap();
    assert!(
        own.trail_list()
            .iter()
            .all(|t| t.is_organization_trail() == Some(false))
    );
    // Named by ARN, it is.
    let named = client
        .describe_trails()
        .trail_name_list(&org_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(named.trail_list().len(), 1);

    let home = cloudtrail(&sim, &member, arn_region(&org_arn));
    let status = home.get_trail_status().name(&org_arn).send().await.unwrap();
    assert_eq!(status.is_logging(), Some(true));
    assert!(status.latest_delivery_time().is_some());
    assert!(status.start_logging_time().is_some());
    assert!(
        status
            .time_logging_started()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(status.time_logging_stopped(), Some(""));
    let selectors = home
        .get_event_selectors()
        .trail_name(&org_arn)
        .send()
        .await
        .unwrap();
    assert!(selectors.event_selectors().is_empty());
    let management = &selectors.advanced_event_selectors()[0];
    assert_eq!(management.field_selectors()[0].field(), "eventCategory");
    assert_eq!(management.field_selectors()[0].equals(), ["Management"]);

    // Classic selectors: DataResources with their types.
    let (owner, arn, types) = &f.classic;
    let classic = cloudtrail(&sim, owner, arn_region(arn))
        .get_event_selectors()
        .trail_name(arn)
        .send()
        .await
        .unwrap();
    assert!(classic.advanced_event_selectors().is_empty());
    let seen: Vec<String> = classic.event_selectors()[0]
        .data_resources()
        .iter()
        .map(|r| r.r#type().unwrap().to_owned())
        .collect();
    assert_eq!(&seen, types);
    assert_eq!(
        classic.event_selectors()[0].include_management_events(),
        Some(true)
    );

    // Advanced selectors: a data selector per type, by eventCategory and resources.type.
    let (owner, arn, types) = &f.advanced;
    let advanced = cloudtrail(&sim, owner, arn_region(arn))
        .get_event_selectors()
        .trail_name(arn)
        .send()
        .await
        .unwrap();
    assert!(advanced.event_selectors().is_empty());
    let mut seen = Vec::new();
    for s in advanced.advanced_event_selectors() {
        let equals = |field: &str| {
            s.field_selectors()
                .iter()
                .find(|x| x.field() == field)
                .map(|x| x.equals().to_vec())
                .unwrap_or_default()
        };
        if equals("eventCategory") == ["Data"] {
            seen.extend(equals("resources.type"));
        }
    }
    assert_eq!(&seen, types);

    // A trail the caller cannot see, and a name that is nobody's.
    let err = home
        .get_trail_status()
        .name("no-such-trail")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_trail_not_found_exception(), "{err:?}");
    let standalone = f.accounts.iter().find(|(_, member, _)| !member).unwrap();
    let err = cloudtrail(&sim, &standalone.0, arn_region(&org_arn))
        .get_event_selectors()
        .trail_name(&org_arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_trail_not_found_exception(), "{err:?}");
}

#[tokio::test]
async fn s3_buckets_and_lifecycles_through_the_sdk() {
    let sim = spawn(Options::default()).await.unwrap();
    let f = facts(&sim);
    let (expected, no_lifecycle, others): (BTreeSet<String>, String, String) = {
        let e = sim.state.estate.read().unwrap();
        let own = e.audit.buckets.iter().filter(|b| b.owner == 1);
        (
            own.clone().map(|b| b.name.clone()).collect(),
            e.audit
                .buckets
                .iter()
                .find(|b| b.owner == 1 && b.lifecycle.is_none())
                .or_else(|| e.audit.buckets.iter().find(|b| b.lifecycle.is_none()))
                .map(|b| format!("{}/{}", e.accounts[b.owner].id, b.name))
                .unwrap(),
            e.audit
                .buckets
                .iter()
                .find(|b| b.owner != 1)
                .unwrap()
                .name
                .clone(),
        )
    };
    let archive = s3(&sim, &f.log_archive);
    let pages: Vec<_> = archive
        .list_buckets()
        .max_buckets(2)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert!(pages.len() > 1, "paged by two");
    let mut names = BTreeSet::new();
    for page in &pages {
        assert!(page.buckets().len() <= 2);
        assert!(
            page.owner()
                .and_then(|o| o.id())
                .is_some_and(|id| id.len() == 64)
        );
        for b in page.buckets() {
            assert!(b.bucket_region().is_some());
            assert!(b.creation_date().is_some());
            names.insert(b.name().unwrap().to_owned());
        }
    }
    assert_eq!(names, expected);

    let org_bucket = format!("org-cloudtrail-{}", f.log_archive);
    let lifecycle = archive
        .get_bucket_lifecycle_configuration()
        .bucket(&org_bucket)
        .send()
        .await
        .unwrap();
    let rule = &lifecycle.rules()[0];
    assert_eq!(rule.status().as_str(), "Enabled");
    assert_eq!(
        rule.transitions()[0].storage_class().map(|c| c.as_str()),
        Some("GLACIER")
    );
    assert_eq!(rule.transitions()[0].days(), Some(90));
    assert_eq!(rule.expiration().and_then(|x| x.days()), Some(1825));

    let (owner, bucket) = no_lifecycle.split_once('/').unwrap();
    let err = s3(&sim, owner)
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchLifecycleConfiguration"), "{err:?}");
    let err = archive
        .get_bucket_lifecycle_configuration()
        .bucket(&others)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
    let err = archive
        .get_bucket_lifecycle_configuration()
        .bucket("no-such-bucket-anywhere")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NoSuchBucket"), "{err:?}");
    let err = archive
        .get_bucket_lifecycle_configuration()
        .bucket(&org_bucket)
        .expected_bucket_owner(&f.management)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
}

#[tokio::test]
async fn organizations_through_the_sdk() {
    let sim = spawn(Options::default()).await.unwrap();
    let f = facts(&sim);
    let org = organizations(&sim, &f.management);
    let pages: Vec<_> = org
        .list_accounts()
        .max_results(5)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert!(pages.len() > 1);
    let listed: BTreeSet<String> = pages
        .iter()
        .flat_map(|p| p.accounts())
        .map(|a| {
            assert_eq!(a.status().map(|s| s.as_str()), Some("ACTIVE"));
            assert!(a.joined_timestamp().is_some());
            assert!(
                a.arn()
                    .is_some_and(|arn| arn.starts_with("arn:aws:organizations::"))
            );
            a.id().unwrap().to_owned()
        })
        .collect();
    let members: BTreeSet<String> = f
        .accounts
        .iter()
        .filter(|(_, member, _)| *member)
        .map(|(id, _, _)| id.clone())
        .collect();
    assert_eq!(listed, members);

    let roots = org.list_roots().send().await.unwrap();
    let root = roots.roots()[0].id().unwrap().to_owned();
    assert!(root.starts_with("r-"));

    // A production member: its OU, the Workloads OU, then the root.
    let prod = {
        let e = sim.state.estate.read().unwrap();
        (3..e.accounts.len())
            .find(|&a| e.audit.is_member(a) && e.accounts[a].environment == "prod")
            .map(|a| e.accounts[a].id.clone())
            .unwrap()
    };
    let mut chain = Vec::new();
    let mut child = prod.clone();
    loop {
        let parents = org.list_parents().child_id(&child).send().await.unwrap();
        let p = &parents.parents()[0];
        chain.push(p.id().unwrap().to_owned());
        if p.r#type() == Some(&ParentType::Root) {
            break;
        }
        assert_eq!(p.r#type(), Some(&ParentType::OrganizationalUnit));
        child = p.id().unwrap().to_owned();
    }
    assert_eq!(chain.last(), Some(&root));
    let names: Vec<String> = {
        let mut out = Vec::new();
        for ou in &chain[..chain.len() - 1] {
            let d = org
                .describe_organizational_unit()
                .organizational_unit_id(ou)
                .send()
                .await
                .unwrap();
            let unit = d.organizational_unit().unwrap();
            assert!(unit.arn().unwrap().ends_with(ou.as_str()));
            out.push(unit.name().unwrap().to_owned());
        }
        out
    };
    assert_eq!(names, ["Prod", "Workloads"]);

    // The Prod OU's policies, a page at a time, and their documents.
    let pages: Vec<_> = org
        .list_policies_for_target()
        .target_id(&chain[0])
        .filter(PolicyType::ServiceControlPolicy)
        .max_results(1)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 2);
    let mut denied = BTreeSet::new();
    for summary in pages.iter().flat_map(|p| p.policies()) {
        let policy = org
            .describe_policy()
            .policy_id(summary.id().unwrap())
            .send()
            .await
            .unwrap();
        let policy = policy.policy().unwrap();
        assert_eq!(policy.policy_summary().unwrap().id(), summary.id());
        let doc: Value = serde_json::from_str(policy.content().unwrap()).unwrap();
        for s in doc["Statement"].as_array().unwrap() {
            if s["Effect"] == "Deny" {
                for a in s["Action"].as_array().unwrap() {
                    denied.insert(a.as_str().unwrap().to_owned());
                }
            }
        }
    }
    for action in sightline::sim::audit::TRAIL_ACTIONS {
        assert!(denied.contains(action), "{action}: {denied:?}");
    }

    // Outside the organisation: ChildNotFoundException. Not the management account: denied.
    let standalone = &f.accounts.iter().find(|(_, member, _)| !member).unwrap().0;
    let err = org
        .list_parents()
        .child_id(standalone)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_child_not_found_exception(), "{err:?}");
    let err = org
        .describe_policy()
        .policy_id("p-00000000")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_policy_not_found_exception(), "{err:?}");
    let err = organizations(&sim, &f.log_archive)
        .list_accounts()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_access_denied_exception(), "{err:?}");
}

#[tokio::test]
async fn denied_accounts_are_refused_cloudtrail_and_s3() {
    let sim = spawn(Options::default()).await.unwrap();
    let f = facts(&sim);
    let err = cloudtrail(&sim, &f.services_denied, &f.first_approved)
        .describe_trails()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"), "{err:?}");
    let err = s3(&sim, &f.services_denied)
        .list_buckets()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");

    // The fault knob denies an account that is otherwise readable.
    let (status, body) = http_with_body(
        "POST",
        &format!("{}/_sim/faults", sim.url),
        &format!(r#"{{"deny_accounts": ["{}"]}}"#, f.log_archive),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let err = s3(&sim, &f.log_archive)
        .list_buckets()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"), "{err:?}");
    let err = cloudtrail(&sim, &f.log_archive, &f.first_approved)
        .describe_trails()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"), "{err:?}");

    // Every call was counted, by operation.
    let requests: BTreeMap<String, u64> = serde_json::from_str(
        &http_get(&format!("{}/_sim/requests", sim.url))
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        requests.contains_key(&format!(
            "{}/{}/cloudtrail/DescribeTrails",
            f.services_denied, f.first_approved
        )),
        "{requests:?}"
    );
    assert!(requests.contains_key(&format!("{}/us-east-1/s3/ListBuckets", f.log_archive)));
}

/// What the wire says of checks 1–4 and 6 for an account, read as the contract says Sightline
/// reads them: DescribeTrails in the first approved region, then each multi-region trail's
/// status and selectors in its home region; log-archive's buckets.
async fn wire_checks(
    sim: &SimHandle,
    account: &str,
    region: &str,
    archive_buckets: &BTreeSet<String>,
) -> [&'static str; 5] {
    let trails = cloudtrail(sim, account, region)
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .unwrap();
    let mut logging = Vec::new();
    let mut data = BTreeSet::new();
    for t in trails.trail_list() {
        if t.is_multi_region_trail() != Some(true) {
            continue;
        }
        let arn = t.trail_arn().unwrap();
        let home = cloudtrail(sim, account, t.home_region().unwrap());
        let status = home.get_trail_status().name(arn).send().await.unwrap();
        if status.is_logging() != Some(true) {
            continue;
        }
        let selectors = home
            .get_event_selectors()
            .trail_name(arn)
            .send()
            .await
            .unwrap();
        for s in selectors.event_selectors() {
            for r in s.data_resources() {
                data.insert(r.r#type().unwrap().to_owned());
            }
        }
        for s in selectors.advanced_event_selectors() {
            let equals = |field: &str| {
                s.field_selectors()
                    .iter()
                    .find(|x| x.field() == field)
                    .map(|x| x.equals().to_vec())
                    .unwrap_or_default()
            };
            if equals("eventCategory") == ["Data"] {
                data.extend(equals("resources.type"));
            }
        }
        logging.push(t.clone());
    }
    let verdict = |pass: bool| if pass { "pass" } else { "fail" };
    [
        verdict(!logging.is_empty()),
        verdict(
            logging
                .iter()
                .any(|t| t.log_file_validation_enabled() == Some(true)),
        ),
        verdict(logging.iter().any(|t| t.kms_key_id().is_some())),
        verdict(
            logging
                .iter()
                .any(|t| archive_buckets.contains(t.s3_bucket_name().unwrap())),
        ),
        verdict(data.contains("AWS::S3::Object") && data.contains("AWS::Lambda::Function")),
    ]
}

#[tokio::test]
async fn the_baseline_truth_agrees_with_the_wire() {
    let sim = spawn(Options {
        seed: 17,
        ..Options::default()
    })
    .await
    .unwrap();
    let f = facts(&sim);
    let truth: Value =
        serde_json::from_str(&http_get(&format!("{}/_sim/truth", sim.url)).await.unwrap()).unwrap();
    let cells = truth["baseline"].as_array().unwrap();
    assert_eq!(cells.len(), f.accounts.len() * 10);
    let result = |account: &str, check: &str| -> String {
        cells
            .iter()
            .find(|c| c["account_id"] == account && c["check"] == check)
            .unwrap_or_else(|| panic!("{account} {check}"))["result"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let archive_buckets: BTreeSet<String> = s3(&sim, &f.log_archive)
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .map(|b| b.name().unwrap().to_owned())
        .collect();
    let checks = [
        "cloudtrail_multi_region",
        "log_file_validation",
        "trail_kms_encryption",
        "log_archive_separate_account",
        "data_events_s3_lambda",
    ];
    for (id, member, allowed) in &f.accounts {
        if !allowed {
            for check in checks {
                assert_eq!(result(id, check), "unknown", "{id} {check}");
            }
            continue;
        }
        let wire = wire_checks(&sim, id, &f.first_approved, &archive_buckets).await;
        for (check, verdict) in checks.iter().zip(wire) {
            assert_eq!(result(id, check), verdict, "{id} {check}");
        }
        if !member {
            assert_eq!(result(id, "scp_protects_cloudtrail"), "unknown");
        }
    }
    assert_eq!(result(&f.management, "scp_protects_cloudtrail"), "fail");

    // The config names where Organizations is read and the log archive.
    let config = http_get(&format!("{}/_sim/config", sim.url)).await.unwrap();
    let parsed =
        sightline::config::Config::parse(&format!("listen = \"127.0.0.1:1\"\n{config}")).unwrap();
    assert_eq!(
        parsed
            .aws
            .organizations_account_id
            .map(|a| a.as_str().to_owned()),
        Some(f.management.clone())
    );
    assert_eq!(
        parsed
            .baseline
            .log_archive_account_id
            .map(|a| a.as_str().to_owned()),
        Some(f.log_archive.clone())
    );
}
