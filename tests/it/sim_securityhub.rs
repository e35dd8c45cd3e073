//! The simulated Security Hub through the real aws-sdk-securityhub client: `DescribeHub`,
//! `GetFindings` paged to the end, each filter Sightline sends, and the modeled errors.

use aws_sdk_securityhub::Client;
use aws_sdk_securityhub::error::ProvideErrorMetadata;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, ComplianceStatus, ControlFindingGenerator,
    DateFilter, DateRange, DateRangeUnit, RecordState, SeverityLabel, SortCriterion, SortOrder,
    StringFilter, StringFilterComparison, WorkflowStatus,
};
use sightline::sim::org::{Estate, Options, Service, State};
use sightline::sim::server::{SimHandle, spawn};
use sightline::sim::wire;

use crate::support;

const DAY: i64 = 86_400;

/// Runs a test on a runtime whose threads have 32 MiB stacks: in an unoptimised build the SDK's
/// `GetFindings` deserializer (ASFF's `ResourceDetails` has hundreds of members) needs more
/// than 8 MiB, and the default test thread has 2.
fn run(test: impl std::future::Future<Output = ()> + Send + 'static) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(32 << 20)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            if let Err(e) = tokio::spawn(test).await {
                std::panic::resume_unwind(e.into_panic());
            }
        });
}

fn options(seed: u64) -> Options {
    Options {
        seed,
        ..support::sim_options()
    }
}

/// The first seed whose estate has an allowed account with Security Hub and every product on
/// (with findings) in some region, and an allowed account with Security Hub off somewhere.
fn pick_seed() -> u64 {
    (1..200)
        .find(|&seed| {
            let e = Estate::generate(&options(seed));
            busy(&e).is_some() && disabled(&e).is_some()
        })
        .unwrap()
}

fn busy(e: &Estate) -> Option<(usize, usize)> {
    support::allowed_targets(e).find(|&(a, r)| {
        e.is_enabled(a, r, Service::SecurityHub)
            && Service::ALL
                .iter()
                .all(|&s| e.is_enabled(a, r, s) && e.target_findings(a, r, s).count() > 0)
    })
}

fn disabled(e: &Estate) -> Option<(usize, usize)> {
    support::disabled(e, Service::SecurityHub)
}

/// A simulator without rate limits (paging in small pages would otherwise be throttled), and
/// the ids of its busy and disabled targets.
async fn simulator() -> (SimHandle, (String, String), (String, String)) {
    let sim = spawn(options(pick_seed())).await.unwrap();
    let (status, _) = support::http_with_body(
        "POST",
        &format!("{}/_sim/faults", sim.url),
        r#"{"no_rate_limits": true}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let (busy, disabled) = {
        let e = sim.state.estate.read().unwrap();
        (
            support::target_ids(&e, busy(&e).unwrap()),
            support::target_ids(&e, disabled(&e).unwrap()),
        )
    };
    (sim, busy, disabled)
}

fn client(sim: &SimHandle, (account, region): &(String, String)) -> Client {
    Client::new(&sim.client_config(account, region))
}

/// Every finding the filters select, through the SDK's paginator in pages of `page`.
async fn all(
    client: &Client,
    filters: Option<AwsSecurityFindingFilters>,
    page: i32,
) -> Vec<AwsSecurityFinding> {
    client
        .get_findings()
        .set_filters(filters)
        .sort_criteria(
            SortCriterion::builder()
                .field("UpdatedAt")
                .sort_order(SortOrder::Ascending)
                .build(),
        )
        .max_results(page)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
}

fn equals(value: &str) -> StringFilter {
    StringFilter::builder()
        .value(value)
        .comparison(StringFilterComparison::Equals)
        .build()
}

fn not_equals(value: &str) -> StringFilter {
    StringFilter::builder()
        .value(value)
        .comparison(StringFilterComparison::NotEquals)
        .build()
}

/// What the estate holds in the target: (service, state, updated) of each finding.
fn truth(
    sim: &SimHandle,
    (account, region): &(String, String),
) -> (Vec<(Service, State, i64)>, i64) {
    let e = sim.state.estate.read().unwrap();
    let (a, r) = (
        e.account_index(account).unwrap(),
        e.region_index(region).unwrap(),
    );
    let rows = Service::ALL
        .iter()
        .flat_map(|&s| e.target_findings(a, r, s))
        .map(|f| (f.service, f.state, f.updated))
        .collect();
    (rows, e.now)
}

#[test]
fn describe_hub_and_not_subscribed_through_the_sdk() {
    run(describe_hub_and_not_subscribed_through_the_sdk_body());
}

async fn describe_hub_and_not_subscribed_through_the_sdk_body() {
    let (sim, busy, disabled) = simulator().await;
    let hub = client(&sim, &busy).describe_hub().send().await.unwrap();
    assert_eq!(
        hub.hub_arn(),
        Some(format!("arn:aws:securityhub:{}:{}:hub/default", busy.1, busy.0).as_str())
    );
    assert!(wire::parse_iso(hub.subscribed_at().unwrap()).is_some());
    assert_eq!(hub.auto_enable_controls(), Some(true));
    assert_eq!(
        hub.control_finding_generator(),
        Some(&ControlFindingGenerator::SecurityControl)
    );

    let off = client(&sim, &disabled);
    let err = off.describe_hub().send().await.unwrap_err();
    let err = err.into_service_error();
    assert!(err.is_invalid_access_exception(), "{err:?}");
    assert_eq!(
        err.message(),
        Some(
            format!(
                "Account {} is not subscribed to AWS Security Hub",
                disabled.0
            )
            .as_str()
        )
    );
    let err = off
        .get_findings()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_access_exception(), "{err:?}");

    // An account whose role lacks permissions: the unmodeled AccessDeniedException.
    let denied = {
        let e = sim.state.estate.read().unwrap();
        support::services_denied(&e).map(|a| support::target_ids(&e, (a, 0)))
    };
    if let Some(denied) = denied {
        let err = client(&sim, &denied)
            .get_findings()
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(err.code(), Some("AccessDeniedException"));
    }
}

#[test]
fn get_findings_pages_to_the_end_with_every_field_sightline_reads() {
    run(get_findings_pages_to_the_end_with_every_field_sightline_reads_body());
}

async fn get_findings_pages_to_the_end_with_every_field_sightline_reads_body() {
    let (sim, busy, _) = simulator().await;
    let (rows, _) = truth(&sim, &busy);
    let findings = all(&client(&sim, &busy), None, 17).await;
    assert_eq!(findings.len(), rows.len());
    let mut ids: Vec<&str> = findings.iter().map(|f| f.id().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows.len(), "every finding exactly once");
    let updated: Vec<&str> = findings.iter().map(|f| f.updated_at().unwrap()).collect();
    assert!(
        updated.windows(2).all(|w| w[0] <= w[1]),
        "ascending UpdatedAt"
    );

    let mut products = std::collections::BTreeMap::<&str, usize>::new();
    for f in &findings {
        assert_eq!(f.aws_account_id(), Some(busy.0.as_str()));
        assert_eq!(f.region(), Some(busy.1.as_str()));
        let product_arn = f.product_arn().unwrap();
        assert!(product_arn.starts_with(&format!("arn:aws:securityhub:{}::product/aws/", busy.1)));
        assert!(f.generator_id().is_some() && f.title().is_some() && f.description().is_some());
        assert!(!f.types().is_empty());
        for t in [f.created_at(), f.updated_at()] {
            assert!(wire::parse_iso(t.unwrap()).is_some());
        }
        // Every enum value is one the SDK knows (none falls into its `Unknown` variant).
        let label = f.severity().unwrap().label().unwrap();
        assert!(
            SeverityLabel::values().contains(&label.as_str()),
            "{label:?}"
        );
        let workflow = f.workflow().unwrap().status().unwrap();
        assert!(
            WorkflowStatus::values().contains(&workflow.as_str()),
            "{workflow:?}"
        );
        let record = f.record_state().unwrap();
        assert!(
            RecordState::values().contains(&record.as_str()),
            "{record:?}"
        );
        let resource = &f.resources()[0];
        assert!(resource.r#type().is_some() && resource.id().is_some());
        let fields = f.product_fields().unwrap();
        assert_eq!(
            fields.get("aws/securityhub/FindingId").map(String::as_str),
            Some(format!("{product_arn}/{}", f.id().unwrap()).as_str())
        );
        let name = f.product_name().unwrap();
        *products.entry(name).or_default() += 1;
        match name {
            "Security Hub" => {
                let compliance = f.compliance().unwrap();
                let control = compliance.security_control_id().unwrap();
                assert_eq!(
                    f.generator_id(),
                    Some(format!("security-control/{control}").as_str())
                );
                assert!(f.first_observed_at().is_some());
                if compliance.status() == Some(&ComplianceStatus::Passed) {
                    assert_eq!(label, &SeverityLabel::Informational);
                    assert_eq!(workflow, &WorkflowStatus::Resolved);
                } else {
                    assert_eq!(compliance.status(), Some(&ComplianceStatus::Failed));
                }
            }
            "GuardDuty" => {
                assert!(f.id().unwrap().starts_with("arn:aws:guardduty:"));
                assert!(f.severity().unwrap().product().is_some());
            }
            "Inspector" => {
                assert!(f.id().unwrap().starts_with("arn:aws:inspector2:"));
                assert!(f.vulnerabilities()[0].id().unwrap().starts_with("CVE-"));
            }
            "Macie" => assert_eq!(f.id().unwrap().len(), 32),
            "IAM Access Analyzer" => {
                assert!(f.id().unwrap().contains(":analyzer/sightline-sim"));
                if f.id().unwrap().contains("sightline-sim-unused/") {
                    assert_eq!(fields.get("findingId").map(String::len), Some(36));
                }
            }
            other => panic!("unexpected product {other}"),
        }
        if record == &RecordState::Archived {
            assert_eq!(workflow, &WorkflowStatus::Resolved);
        }
    }
    assert_eq!(products.len(), 5, "{products:?}");
    let own = rows.iter().filter(|r| r.0 == Service::SecurityHub).count();
    assert_eq!(products["Security Hub"], own);

    // The largest page works; a larger one is the modeled InvalidInputException.
    let c = client(&sim, &busy);
    let page = c.get_findings().max_results(100).send().await.unwrap();
    assert_eq!(page.findings().len(), rows.len().min(100));
    assert_eq!(page.next_token().is_some(), rows.len() > 100);
    let err = c
        .get_findings()
        .max_results(101)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_input_exception(), "{err:?}");
    let err = c
        .get_findings()
        .next_token("not-a-token")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_input_exception(), "{err:?}");
}

#[test]
fn filters_through_the_sdk() {
    run(filters_through_the_sdk_body());
}

async fn filters_through_the_sdk_body() {
    let (sim, busy, _) = simulator().await;
    let (rows, now) = truth(&sim, &busy);
    let c = client(&sim, &busy);
    let count = |filters: AwsSecurityFindingFilters| {
        let c = c.clone();
        async move { all(&c, Some(filters), 100).await.len() }
    };

    // UpdatedAt as the poller sends it: Start (watermark minus overlap) to End (now).
    let mut times: Vec<i64> = rows.iter().map(|r| r.2).collect();
    times.sort_unstable();
    let watermark = times[times.len() / 3];
    let since = rows.iter().filter(|r| r.2 >= watermark).count();
    let window = DateFilter::builder()
        .start(wire::iso(watermark))
        .end(wire::iso(now))
        .build();
    assert_eq!(
        count(
            AwsSecurityFindingFilters::builder()
                .updated_at(window)
                .build()
        )
        .await,
        since
    );
    let within = DateFilter::builder()
        .date_range(
            DateRange::builder()
                .value(10)
                .unit(DateRangeUnit::Days)
                .build(),
        )
        .build();
    assert_eq!(
        count(
            AwsSecurityFindingFilters::builder()
                .updated_at(within)
                .build()
        )
        .await,
        rows.iter().filter(|r| r.2 >= now - 10 * DAY).count()
    );

    let archived = rows
        .iter()
        .filter(|r| r.0 != Service::SecurityHub && r.1 == State::Resolved)
        .count();
    assert_eq!(
        count(
            AwsSecurityFindingFilters::builder()
                .record_state(equals("ARCHIVED"))
                .build()
        )
        .await,
        archived
    );
    assert_eq!(
        count(
            AwsSecurityFindingFilters::builder()
                .record_state(equals("ACTIVE"))
                .build()
        )
        .await,
        rows.len() - archived
    );
    let open = rows.iter().filter(|r| r.1 == State::Active).count();
    assert_eq!(
        count(
            AwsSecurityFindingFilters::builder()
                .workflow_status(equals("NEW"))
                .workflow_status(equals("NOTIFIED"))
                .build()
        )
        .await,
        open
    );
    assert_eq!(
        count(
            AwsSecurityFindingFilters::builder()
                .workflow_status(not_equals("RESOLVED"))
                .workflow_status(not_equals("SUPPRESSED"))
                .build()
        )
        .await,
        open
    );
    assert_eq!(
        count(
            AwsSecurityFindingFilters::builder()
                .aws_account_id(equals(&busy.0))
                .build()
        )
        .await,
        rows.len()
    );
    assert_eq!(
        count(
            AwsSecurityFindingFilters::builder()
                .aws_account_id(not_equals(&busy.0))
                .build()
        )
        .await,
        0
    );
    let inspector = rows.iter().filter(|r| r.0 == Service::Inspector).count();
    assert_eq!(
        count(
            AwsSecurityFindingFilters::builder()
                .product_name(equals("Inspector"))
                .build()
        )
        .await,
        inspector
    );
    let combined = rows
        .iter()
        .filter(|r| r.0 == Service::Inspector && r.2 >= watermark && r.1 == State::Active)
        .count();
    assert_eq!(
        count(
            AwsSecurityFindingFilters::builder()
                .product_name(equals("Inspector"))
                .workflow_status(equals("NEW"))
                .updated_at(DateFilter::builder().start(wire::iso(watermark)).build())
                .build()
        )
        .await,
        combined
    );
    let err = c
        .get_findings()
        .filters(
            AwsSecurityFindingFilters::builder()
                .product_name(equals("Inspector"))
                .product_name(not_equals("Macie"))
                .build(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_input_exception(), "{err:?}");
}
