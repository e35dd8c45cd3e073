//! The simulated Inspector2 through the real aws-sdk-inspector2 client: every field Sightline
//! reads deserialises, pagination reaches every finding once, filters and errors are modeled.

use std::collections::HashSet;

use aws_sdk_inspector2::error::ProvideErrorMetadata;
use aws_sdk_inspector2::primitives::DateTime;
use aws_sdk_inspector2::types::{
    DateFilter, FilterCriteria, Finding, FindingStatus, FindingType, ResourceType, Severity,
    SortCriteria, SortField, SortOrder, Status, StringComparison, StringFilter,
};
use sightline::sim::org::{Service, State};
use sightline::sim::server::spawn;

use crate::support;

/// What the estate holds in one target, to check the answers against.
struct Target {
    account_id: String,
    region: String,
    states: Vec<State>,
    updated: Vec<i64>,
}

fn string_filter(comparison: StringComparison, value: &str) -> StringFilter {
    StringFilter::builder()
        .comparison(comparison)
        .value(value)
        .build()
        .unwrap()
}

async fn all(
    client: &aws_sdk_inspector2::Client,
    criteria: Option<FilterCriteria>,
    sort: Option<SortCriteria>,
) -> Vec<Finding> {
    client
        .list_findings()
        .set_filter_criteria(criteria)
        .set_sort_criteria(sort)
        .max_results(10)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn inspector_findings_through_the_sdk() {
    let sim = spawn(support::sim_options()).await.unwrap();
    let (target, disabled, denied) = {
        let e = sim.state.estate.read().unwrap();
        let (a, r) = support::busiest(&e, Service::Inspector).unwrap();
        let disabled = support::disabled(&e, Service::Inspector).unwrap();
        let findings: Vec<_> = e.target_findings(a, r, Service::Inspector).collect();
        let (account_id, region) = support::target_ids(&e, (a, r));
        let target = Target {
            account_id,
            region,
            states: findings.iter().map(|f| f.state).collect(),
            updated: findings.iter().map(|f| f.updated).collect(),
        };
        let denied = e.accounts[support::services_denied(&e).unwrap()].id.clone();
        (target, support::target_ids(&e, disabled), denied)
    };
    let client =
        aws_sdk_inspector2::Client::new(&sim.client_config(&target.account_id, &target.region));

    // Status: the caller's own account, enabled everywhere.
    let status = client.batch_get_account_status().send().await.unwrap();
    assert_eq!(status.accounts().len(), 1);
    let account = &status.accounts()[0];
    assert_eq!(account.account_id(), target.account_id);
    assert_eq!(account.state().unwrap().status(), &Status::Enabled);
    let resources = account.resource_state().unwrap();
    assert_eq!(resources.ec2().unwrap().status(), &Status::Enabled);
    assert_eq!(resources.ecr().unwrap().status(), &Status::Enabled);

    // Every finding once, with every field Sightline reads.
    let findings = all(&client, None, None).await;
    assert_eq!(findings.len(), target.states.len());
    assert!(findings.len() > 10, "{}", findings.len());
    let arns: HashSet<&str> = findings.iter().map(|f| f.finding_arn()).collect();
    assert_eq!(arns.len(), findings.len());
    let prefix = format!(
        "arn:aws:inspector2:{}:{}:finding/",
        target.region, target.account_id
    );
    for f in &findings {
        assert!(f.finding_arn().starts_with(&prefix));
        assert_eq!(f.aws_account_id(), target.account_id);
        assert_eq!(f.r#type(), &FindingType::PackageVulnerability);
        assert!(Severity::values().contains(&f.severity().as_str()));
        assert!(FindingStatus::values().contains(&f.status().as_str()));
        assert!(f.first_observed_at().secs() > 1_700_000_000);
        assert!(f.last_observed_at() >= f.first_observed_at());
        assert_eq!(f.updated_at(), Some(f.last_observed_at()));
        assert!(f.title().unwrap().contains(" - "));
        assert!(f.inspector_score().unwrap() > 0.0);
        let details = f.package_vulnerability_details().unwrap();
        assert!(details.vulnerability_id().starts_with("CVE-"));
        assert!(!details.vulnerable_packages().is_empty());
        let resource = &f.resources()[0];
        assert_eq!(resource.region(), Some(target.region.as_str()));
        assert!(ResourceType::values().contains(&resource.r#type().as_str()));
        assert!(resource.details().is_some());
        assert!(f.remediation().is_some());
    }
    for (state, status) in [
        (State::Active, FindingStatus::Active),
        (State::Suppressed, FindingStatus::Suppressed),
        (State::Resolved, FindingStatus::Closed),
    ] {
        let want = target.states.iter().filter(|s| **s == state).count();
        assert_eq!(
            findings.iter().filter(|f| f.status() == &status).count(),
            want,
            "{status:?}"
        );
        let filtered = all(
            &client,
            Some(
                FilterCriteria::builder()
                    .finding_status(string_filter(StringComparison::Equals, status.as_str()))
                    .build(),
            ),
            None,
        )
        .await;
        assert_eq!(filtered.len(), want, "filter {status:?}");
    }
    let not_closed = all(
        &client,
        Some(
            FilterCriteria::builder()
                .finding_status(string_filter(StringComparison::NotEquals, "CLOSED"))
                .aws_account_id(string_filter(StringComparison::Equals, &target.account_id))
                .build(),
        ),
        None,
    )
    .await;
    assert_eq!(
        not_closed.len(),
        target
            .states
            .iter()
            .filter(|s| **s != State::Resolved)
            .count()
    );

    // Changed since a moment: what an incremental poll asks for.
    let mut updated = target.updated.clone();
    updated.sort();
    let since = updated[updated.len() / 2];
    let recent = all(
        &client,
        Some(
            FilterCriteria::builder()
                .updated_at(
                    DateFilter::builder()
                        .start_inclusive(DateTime::from_secs(since))
                        .build(),
                )
                .build(),
        ),
        None,
    )
    .await;
    assert_eq!(
        recent.len(),
        updated.iter().filter(|t| **t >= since).count()
    );
    assert!(
        recent
            .iter()
            .all(|f| f.updated_at().unwrap().secs() >= since)
    );

    let by_severity = all(
        &client,
        None,
        Some(
            SortCriteria::builder()
                .field(SortField::Severity)
                .sort_order(SortOrder::Desc)
                .build()
                .unwrap(),
        ),
    )
    .await;
    let rank = |s: &Severity| match s {
        Severity::Critical => 4,
        Severity::High => 3,
        Severity::Medium => 2,
        Severity::Low => 1,
        _ => 0,
    };
    assert!(
        by_severity
            .windows(2)
            .all(|w| rank(w[0].severity()) >= rank(w[1].severity()))
    );

    // More than the documented page size is a modeled ValidationException.
    let err = client
        .list_findings()
        .max_results(101)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");

    // Inspector off: the status says so and the findings are refused.
    let off = aws_sdk_inspector2::Client::new(&sim.client_config(&disabled.0, &disabled.1));
    let status = off.batch_get_account_status().send().await.unwrap();
    assert_eq!(
        status.accounts()[0].state().unwrap().status(),
        &Status::Disabled
    );
    let err = off.list_findings().send().await.unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"), "{err:?}");

    // An account whose role lacks the permissions: the modeled AccessDeniedException.
    let no = aws_sdk_inspector2::Client::new(&sim.client_config(&denied, &target.region));
    let err = no
        .batch_get_account_status()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_access_denied_exception(), "{err:?}");
}
