//! The simulated IAM Access Analyzer through the real aws-sdk-accessanalyzer client: both
//! analyzers, every finding once, filters, `GetFindingV2` details and the modeled errors.

use std::collections::HashSet;

use aws_sdk_accessanalyzer::types::{
    AnalyzerStatus, Criterion, FindingDetails, FindingStatus, FindingSummaryV2, FindingType,
    OrderBy, ResourceType, SortCriteria, Type,
};
use sightline::sim::catalogue::ANALYZER_TYPES;
use sightline::sim::org::{Service, State};
use sightline::sim::server::spawn;

use crate::support;

/// One finding of the target as the estate holds it.
struct Expected {
    unused: bool,
    public: bool,
    state: State,
}

async fn list(
    client: &aws_sdk_accessanalyzer::Client,
    analyzer: &str,
    filter: Option<(&str, Criterion)>,
    sort: Option<SortCriteria>,
) -> Vec<FindingSummaryV2> {
    let mut request = client
        .list_findings_v2()
        .analyzer_arn(analyzer)
        .max_results(2)
        .set_sort(sort);
    if let Some((key, criterion)) = filter {
        request = request.filter(key, criterion);
    }
    request
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn access_analyzer_findings_through_the_sdk() {
    let sim = spawn(support::sim_options()).await.unwrap();
    let (account_id, region, expected, disabled, denied, org) = {
        let e = sim.state.estate.read().unwrap();
        let (a, r) = support::busiest(&e, Service::AccessAnalyzer).unwrap();
        let disabled = support::disabled(&e, Service::AccessAnalyzer).unwrap();
        let expected: Vec<Expected> = e
            .target_findings(a, r, Service::AccessAnalyzer)
            .map(|f| Expected {
                unused: ANALYZER_TYPES[f.kind as usize].unused,
                public: ANALYZER_TYPES[f.kind as usize].public,
                state: f.state,
            })
            .collect();
        let denied = e.accounts[support::services_denied(&e).unwrap()].id.clone();
        let org: HashSet<String> = e.accounts.iter().map(|a| a.id.clone()).collect();
        let (account_id, region) = support::target_ids(&e, (a, r));
        (
            account_id,
            region,
            expected,
            support::target_ids(&e, disabled),
            denied,
            org,
        )
    };
    let client = aws_sdk_accessanalyzer::Client::new(&sim.client_config(&account_id, &region));

    let analyzers: Vec<_> = client
        .list_analyzers()
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(analyzers.len(), 2);
    assert!(
        analyzers
            .iter()
            .all(|a| a.status() == &AnalyzerStatus::Active)
    );
    let external = analyzers
        .iter()
        .find(|a| a.r#type() == &Type::Account)
        .unwrap()
        .arn()
        .to_owned();
    let unused = analyzers
        .iter()
        .find(|a| a.r#type() == &Type::AccountUnusedAccess)
        .unwrap()
        .arn()
        .to_owned();
    assert_eq!(
        external,
        format!("arn:aws:access-analyzer:{region}:{account_id}:analyzer/sightline-sim")
    );
    let only_unused = client
        .list_analyzers()
        .r#type(Type::AccountUnusedAccess)
        .send()
        .await
        .unwrap();
    assert_eq!(only_unused.analyzers().len(), 1);
    assert_eq!(only_unused.analyzers()[0].arn(), unused);

    for (arn, is_unused) in [(&external, false), (&unused, true)] {
        let own: Vec<&Expected> = expected.iter().filter(|x| x.unused == is_unused).collect();
        let findings = list(&client, arn, None, None).await;
        assert_eq!(findings.len(), own.len(), "{arn}");
        let ids: HashSet<&str> = findings.iter().map(|f| f.id()).collect();
        assert_eq!(ids.len(), findings.len());
        for (state, status) in [
            (State::Active, FindingStatus::Active),
            (State::Suppressed, FindingStatus::Archived),
            (State::Resolved, FindingStatus::Resolved),
        ] {
            let want = own.iter().filter(|x| x.state == state).count();
            assert_eq!(
                findings.iter().filter(|f| f.status() == &status).count(),
                want
            );
            let filtered = list(
                &client,
                arn,
                Some(("status", Criterion::builder().eq(status.as_str()).build())),
                None,
            )
            .await;
            assert_eq!(filtered.len(), want, "{arn} {status:?}");
        }
        for f in &findings {
            assert_eq!(f.resource_owner_account(), account_id);
            assert!(f.resource().is_some());
            assert!(ResourceType::values().contains(&f.resource_type().as_str()));
            assert!(f.updated_at() >= f.created_at());
            let kind = f.finding_type().unwrap();
            assert_eq!(kind == &FindingType::ExternalAccess, !is_unused, "{kind:?}");

            let got = client
                .get_finding_v2()
                .analyzer_arn(arn)
                .id(f.id())
                .send()
                .await
                .unwrap();
            assert_eq!(got.id(), f.id());
            assert_eq!(got.resource(), f.resource());
            assert_eq!(got.updated_at(), f.updated_at());
            let details = got.finding_details();
            assert!(!details.is_empty());
            for d in details {
                match (kind, d) {
                    (FindingType::ExternalAccess, FindingDetails::ExternalAccessDetails(x)) => {
                        let principal = &x.principal().unwrap()["AWS"];
                        if x.is_public() == Some(true) {
                            assert_eq!(principal, "*");
                        } else {
                            assert_ne!(principal, &account_id);
                            assert!(principal == "222222222222" || org.contains(principal));
                        }
                        assert!(!x.action().is_empty());
                    }
                    (FindingType::UnusedIamRole, FindingDetails::UnusedIamRoleDetails(_)) => {}
                    (
                        FindingType::UnusedIamUserAccessKey,
                        FindingDetails::UnusedIamUserAccessKeyDetails(x),
                    ) => assert!(x.access_key_id().starts_with("AKIA")),
                    (FindingType::UnusedPermission, FindingDetails::UnusedPermissionDetails(x)) => {
                        assert!(!x.service_namespace().is_empty())
                    }
                    other => panic!("details do not match the finding type: {other:?}"),
                }
            }
        }
    }

    let public = expected.iter().filter(|x| !x.unused && x.public).count();
    let listed = list(
        &client,
        &external,
        Some(("isPublic", Criterion::builder().eq("true").build())),
        None,
    )
    .await;
    assert_eq!(listed.len(), public);
    let newest_first = list(
        &client,
        &external,
        None,
        Some(
            SortCriteria::builder()
                .attribute_name("updatedAt")
                .order_by(OrderBy::Desc)
                .build(),
        ),
    )
    .await;
    assert!(
        newest_first
            .windows(2)
            .all(|w| w[0].updated_at() >= w[1].updated_at())
    );

    // Modeled errors: an analyzer that is not there, a finding it does not hold, bad input.
    let elsewhere = external.replace(&account_id, "222222222222");
    let err = client
        .list_findings_v2()
        .analyzer_arn(&elsewhere)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let err = client
        .get_finding_v2()
        .analyzer_arn(&external)
        .id("00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let err = client
        .list_findings_v2()
        .analyzer_arn(&external)
        .max_results(0)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");

    // Not enabled: no analyzers (Access Analyzer has no "not enabled" error).
    let off = aws_sdk_accessanalyzer::Client::new(&sim.client_config(&disabled.0, &disabled.1));
    assert!(
        off.list_analyzers()
            .send()
            .await
            .unwrap()
            .analyzers()
            .is_empty()
    );

    let no = aws_sdk_accessanalyzer::Client::new(&sim.client_config(&denied, &region));
    let err = no
        .list_analyzers()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_access_denied_exception(), "{err:?}");
}
