//! The simulated GuardDuty through the real `aws-sdk-guardduty` client: detectors, paging to
//! the end, every filter Sightline uses, the typed errors, and every field Sightline reads.

use aws_sdk_guardduty::Client;
use aws_sdk_guardduty::error::ProvideErrorMetadata;
use aws_sdk_guardduty::types::{Condition, FindingCriteria, OrderBy, SortCriteria};
use sightline::sim::org::{Estate, Options, Service, State};
use sightline::sim::server::{self, SimHandle};
use sightline::sim::services::guardduty::{detector_id, finding_id};

use crate::support;

/// What a target should serve, read from the simulator's own estate before any request.
struct Target {
    account_id: String,
    region: String,
    /// Served findings (resolved ones are gone), oldest first: (id, updated, archived, level).
    served: Vec<(String, i64, bool, u8)>,
    resolved: Vec<String>,
}

fn targets(estate: &Estate) -> Vec<Target> {
    let mut out = Vec::new();
    for t in support::served_targets(estate, Service::GuardDuty) {
        out.push(Target {
            account_id: t.account_id,
            region: t.region,
            served: t
                .served
                .iter()
                .map(|f| {
                    (
                        finding_id(estate.seed, f.serial),
                        f.updated,
                        f.state == State::Suppressed,
                        f.level,
                    )
                })
                .collect(),
            resolved: t
                .resolved
                .iter()
                .map(|f| finding_id(estate.seed, f.serial))
                .collect(),
        });
    }
    out
}

fn client(sim: &SimHandle, account_id: &str, region: &str) -> Client {
    Client::new(&sim.client_config(account_id, region))
}

/// Every id ListFindings returns for `criteria` and `sort`, paging `page_size` at a time.
async fn list_ids(
    client: &Client,
    detector: &str,
    criteria: Option<FindingCriteria>,
    sort: Option<SortCriteria>,
    page_size: i32,
) -> Vec<String> {
    let pages = client
        .list_findings()
        .detector_id(detector)
        .set_finding_criteria(criteria)
        .set_sort_criteria(sort)
        .max_results(page_size)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .unwrap();
    for page in &pages {
        assert!(page.finding_ids().len() <= page_size as usize);
    }
    pages
        .into_iter()
        .flat_map(|p| p.finding_ids().to_vec())
        .collect()
}

#[tokio::test]
async fn guardduty_through_the_sdk() {
    let sim = server::spawn(support::sim_options()).await.unwrap();
    // A month on the virtual clock, so some findings are resolved (gone) and some archived.
    sim.state.estate.write().unwrap().advance(30);
    let targets = targets(&sim.state.estate.read().unwrap());
    assert!(targets.len() >= 8, "{}", targets.len());
    let (mut served, mut archived, mut resolved) = (0, 0, 0);

    for t in &targets {
        let gd = client(&sim, &t.account_id, &t.region);
        let detectors = gd.list_detectors().send().await.unwrap();
        let detector = detector_id(&t.account_id, &t.region);
        assert_eq!(detectors.detector_ids(), std::slice::from_ref(&detector));

        // Paging to the end: every served finding exactly once, in a stable order.
        let ids = list_ids(&gd, &detector, None, None, 4).await;
        let expected: Vec<String> = t.served.iter().map(|s| s.0.clone()).collect();
        assert_eq!(ids, expected);
        served += ids.len();

        // service.archived, as Sightline asks for open and suppressed findings.
        for want in [false, true] {
            let criteria = FindingCriteria::builder()
                .criterion(
                    "service.archived",
                    Condition::builder().equals(want.to_string()).build(),
                )
                .build();
            let ids = list_ids(&gd, &detector, Some(criteria), None, 50).await;
            let n = t.served.iter().filter(|s| s.2 == want).count();
            assert_eq!(ids.len(), n, "archived = {want}");
            if want {
                archived += n;
            }
        }

        // updatedAt >= watermark (epoch ms), oldest first: Sightline's incremental poll.
        if let Some(&(_, cut, _, _)) = t.served.get(t.served.len() / 2) {
            let criteria = FindingCriteria::builder()
                .criterion(
                    "updatedAt",
                    Condition::builder()
                        .greater_than_or_equal(cut * 1000)
                        .build(),
                )
                .criterion(
                    "accountId",
                    Condition::builder().equals(t.account_id.clone()).build(),
                )
                .build();
            let sort = SortCriteria::builder()
                .attribute_name("updatedAt")
                .order_by(OrderBy::Asc)
                .build();
            let ids = list_ids(&gd, &detector, Some(criteria), Some(sort), 2).await;
            let mut want: Vec<&(String, i64, bool, u8)> =
                t.served.iter().filter(|s| s.1 >= cut).collect();
            want.sort_by_key(|s| s.1);
            assert_eq!(ids.len(), want.len());
            let times: Vec<i64> = ids
                .iter()
                .map(|id| t.served.iter().find(|s| &s.0 == id).unwrap().1)
                .collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        }

        // severity >= 7: high and critical.
        let criteria = FindingCriteria::builder()
            .criterion(
                "severity",
                Condition::builder().greater_than_or_equal(7).build(),
            )
            .build();
        let high = list_ids(&gd, &detector, Some(criteria), None, 50).await;
        assert_eq!(high.len(), t.served.iter().filter(|s| s.3 >= 3).count());

        // GetFindings, 50 at a time, with every field Sightline reads.
        for chunk in t.served.chunks(50) {
            let ids: Vec<String> = chunk.iter().map(|s| s.0.clone()).collect();
            let got = gd
                .get_findings()
                .detector_id(&detector)
                .set_finding_ids(Some(ids.clone()))
                .send()
                .await
                .unwrap();
            assert_eq!(got.findings().len(), ids.len());
            for (f, s) in got.findings().iter().zip(chunk) {
                assert_eq!(f.id(), Some(s.0.as_str()));
                assert_eq!(
                    f.arn(),
                    Some(
                        format!(
                            "arn:aws:guardduty:{}:{}:detector/{detector}/finding/{}",
                            t.region, t.account_id, s.0
                        )
                        .as_str()
                    )
                );
                assert_eq!(f.account_id(), Some(t.account_id.as_str()));
                assert_eq!(f.region(), Some(t.region.as_str()));
                assert!(
                    f.r#type()
                        .is_some_and(|k| k.contains(':') && k.contains('/'))
                );
                assert!(f.title().is_some_and(|x| !x.is_empty()));
                assert!(f.description().is_some());
                assert_eq!(f.schema_version(), Some("2.0"));
                let severity = f.severity().unwrap();
                let band = match s.3 {
                    0 | 1 => 1.0..=3.9,
                    2 => 4.0..=6.9,
                    3 => 7.0..=8.9,
                    _ => 9.0..=10.0,
                };
                assert!(band.contains(&severity), "{severity}");
                let updated =
                    chrono::DateTime::parse_from_rfc3339(f.updated_at().unwrap()).unwrap();
                assert_eq!(updated.timestamp(), s.1);
                assert!(chrono::DateTime::parse_from_rfc3339(f.created_at().unwrap()).is_ok());
                let service = f.service().unwrap();
                assert_eq!(service.archived(), Some(s.2));
                assert!(service.count().unwrap() >= 1);
                assert_eq!(service.detector_id(), Some(detector.as_str()));
                let resource = f.resource().unwrap();
                match resource.resource_type().unwrap() {
                    "Instance" => {
                        assert!(resource.instance_details().unwrap().instance_id().is_some())
                    }
                    "AccessKey" => {
                        assert!(resource.access_key_details().unwrap().user_name().is_some())
                    }
                    "S3Bucket" => assert!(resource.s3_bucket_details()[0].created_at().is_some()),
                    "EKSCluster" => assert!(
                        resource
                            .eks_cluster_details()
                            .unwrap()
                            .created_at()
                            .is_some()
                    ),
                    "ECSCluster" => {
                        assert!(resource.ecs_cluster_details().unwrap().arn().is_some())
                    }
                    "RDSDBInstance" => assert!(
                        resource
                            .rds_db_instance_details()
                            .unwrap()
                            .db_instance_arn()
                            .is_some()
                    ),
                    "Lambda" => assert!(
                        resource
                            .lambda_details()
                            .unwrap()
                            .last_modified_at()
                            .is_some()
                    ),
                    other => panic!("unexpected resource type {other}"),
                }
            }
        }

        // Resolved findings are gone from GetFindings.
        if !t.resolved.is_empty() {
            let gone: Vec<String> = t.resolved.iter().take(50).cloned().collect();
            resolved += gone.len();
            let got = gd
                .get_findings()
                .detector_id(&detector)
                .set_finding_ids(Some(gone))
                .send()
                .await
                .unwrap();
            assert!(got.findings().is_empty());
        }
    }
    assert!(
        served > 20 && archived > 0 && resolved > 0,
        "{served} {archived} {resolved}"
    );

    // Errors, typed as the SDK models them.
    let t = &targets[0];
    let gd = client(&sim, &t.account_id, &t.region);
    let other = targets
        .iter()
        .find(|o| o.account_id != t.account_id)
        .unwrap();
    let err = gd
        .list_findings()
        .detector_id(detector_id(&other.account_id, &other.region))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
    assert_eq!(
        err.message(),
        Some(
            "The request is rejected because the input detectorId is not owned by the current account."
        )
    );
    let err = gd
        .list_findings()
        .detector_id(detector_id(&t.account_id, &t.region))
        .max_results(51)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
    let too_many: Vec<String> = (1..=51).map(|i| format!("{i:032x}")).collect();
    let err = gd
        .get_findings()
        .detector_id(detector_id(&t.account_id, &t.region))
        .set_finding_ids(Some(too_many))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");

    // An account whose role may not call GuardDuty: AccessDeniedException (unmodeled here).
    let denied = {
        let estate = sim.state.estate.read().unwrap();
        support::target_ids(&estate, (support::services_denied(&estate).unwrap(), 0))
    };
    let err = client(&sim, &denied.0, &denied.1)
        .list_detectors()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("AccessDeniedException"));
}

#[tokio::test]
async fn guardduty_not_enabled_has_no_detector() {
    // Six regions: GuardDuty is off only in some unapproved ones.
    let sim = server::spawn(Options {
        accounts: 8,
        regions: 6,
        ..Options::default()
    })
    .await
    .unwrap();
    let off = {
        let estate = sim.state.estate.read().unwrap();
        support::target_ids(
            &estate,
            support::disabled(&estate, Service::GuardDuty).unwrap(),
        )
    };
    let gd = client(&sim, &off.0, &off.1);
    let detectors = gd.list_detectors().send().await.unwrap();
    assert!(detectors.detector_ids().is_empty());
    let err = gd
        .list_findings()
        .detector_id(detector_id(&off.0, &off.1))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_bad_request_exception(), "{err:?}");
}
