//! The simulated Macie through the real `aws-sdk-macie2` client: the session, paging to the
//! end, every filter Sightline uses, the typed errors, and every field Sightline reads.

use aws_sdk_macie2::Client;
use aws_sdk_macie2::types::{
    CriterionAdditionalProperties, FindingCategory, FindingCriteria, FindingType, MacieStatus,
    OrderBy, SeverityDescription, SortCriteria,
};
use sightline::sim::catalogue::MACIE_TYPES;
use sightline::sim::org::{Estate, Service, State};
use sightline::sim::server::{self, SimHandle};
use sightline::sim::services::macie::finding_id;

use crate::support;

/// A served finding as the estate knows it.
struct Expected {
    id: String,
    updated: i64,
    archived: bool,
    kind: usize,
    level: u8,
}

/// What a target should serve, read from the simulator's own estate before any request.
struct Target {
    account_id: String,
    region: String,
    served: Vec<Expected>,
    resolved: Vec<String>,
}

fn targets(estate: &Estate) -> Vec<Target> {
    let mut out = Vec::new();
    for t in support::served_targets(estate, Service::Macie) {
        out.push(Target {
            account_id: t.account_id,
            region: t.region,
            served: t
                .served
                .iter()
                .map(|f| Expected {
                    id: finding_id(estate.seed, f.serial),
                    updated: f.updated,
                    archived: f.state == State::Suppressed,
                    kind: f.kind as usize,
                    level: f.level,
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
    criteria: Option<FindingCriteria>,
    sort: Option<SortCriteria>,
    page_size: i32,
) -> Vec<String> {
    let pages = client
        .list_findings()
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
async fn macie_through_the_sdk() {
    let sim = server::spawn(support::sim_options()).await.unwrap();
    // Two months on the virtual clock, so some findings are resolved (gone) and some archived.
    sim.state.estate.write().unwrap().advance(60);
    let targets = targets(&sim.state.estate.read().unwrap());
    assert!(!targets.is_empty());
    let mut served = 0;

    for t in &targets {
        let macie = client(&sim, &t.account_id, &t.region);
        let session = macie.get_macie_session().send().await.unwrap();
        assert_eq!(session.status(), Some(&MacieStatus::Enabled));
        assert!(session.created_at().is_some() && session.updated_at().is_some());
        assert!(session.service_role().unwrap().contains(&t.account_id));

        // Paging to the end: every served finding exactly once, in a stable order.
        let ids = list_ids(&macie, None, None, 2).await;
        let expected: Vec<String> = t.served.iter().map(|s| s.id.clone()).collect();
        assert_eq!(ids, expected);
        served += ids.len();

        // archived = false, updatedAt >= watermark (epoch ms), oldest first: Sightline's poll.
        let cut = t.served.get(t.served.len() / 2).map_or(0, |s| s.updated);
        let criteria = FindingCriteria::builder()
            .criterion(
                "updatedAt",
                CriterionAdditionalProperties::builder()
                    .gte(cut * 1000)
                    .build(),
            )
            .criterion(
                "archived",
                CriterionAdditionalProperties::builder().eq("false").build(),
            )
            .build();
        let sort = SortCriteria::builder()
            .attribute_name("updatedAt")
            .order_by(OrderBy::Asc)
            .build();
        let ids = list_ids(&macie, Some(criteria), Some(sort), 1).await;
        let want = t
            .served
            .iter()
            .filter(|s| s.updated >= cut && !s.archived)
            .count();
        assert_eq!(ids.len(), want);
        let times: Vec<i64> = ids
            .iter()
            .map(|id| t.served.iter().find(|s| &s.id == id).unwrap().updated)
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

        let criteria = FindingCriteria::builder()
            .criterion(
                "archived",
                CriterionAdditionalProperties::builder().eq("true").build(),
            )
            .build();
        let archived = list_ids(&macie, Some(criteria), None, 50).await;
        assert_eq!(
            archived.len(),
            t.served.iter().filter(|s| s.archived).count()
        );

        // GetFindings, 50 at a time, with every field Sightline reads.
        for chunk in t.served.chunks(50) {
            let ids: Vec<String> = chunk.iter().map(|s| s.id.clone()).collect();
            let got = macie
                .get_findings()
                .set_finding_ids(Some(ids.clone()))
                .send()
                .await
                .unwrap();
            assert_eq!(got.findings().len(), ids.len());
            for (f, s) in got.findings().iter().zip(chunk) {
                let kind = &MACIE_TYPES[s.kind];
                assert_eq!(f.id(), Some(s.id.as_str()));
                assert_eq!(f.account_id(), Some(t.account_id.as_str()));
                assert_eq!(f.region(), Some(t.region.as_str()));
                assert_eq!(f.archived(), Some(s.archived));
                let finding_type = f.r#type().unwrap();
                assert!(FindingType::values().contains(&finding_type.as_str()));
                assert_eq!(finding_type.as_str(), kind.kind);
                let category = f.category().unwrap();
                assert!(FindingCategory::values().contains(&category.as_str()));
                assert_eq!(category.as_str(), kind.category);
                let severity = f.severity().unwrap();
                let (label, score) = match s.level {
                    0 | 1 => (SeverityDescription::Low, 1),
                    2 => (SeverityDescription::Medium, 2),
                    _ => (SeverityDescription::High, 3),
                };
                assert_eq!(severity.description(), Some(&label));
                assert_eq!(severity.score(), Some(score));
                assert_eq!(f.title(), Some(kind.title));
                assert!(f.description().is_some());
                assert!(f.count().unwrap() >= 1);
                assert_eq!(f.updated_at().unwrap().secs(), s.updated);
                assert!(f.created_at().unwrap().secs() <= s.updated);
                let bucket = f.resources_affected().unwrap().s3_bucket().unwrap();
                assert!(bucket.name().is_some() && bucket.arn().is_some());
                assert!(bucket.created_at().is_some());
                if kind.category == "CLASSIFICATION" {
                    let object = f.resources_affected().unwrap().s3_object().unwrap();
                    assert!(object.key().is_some() && object.last_modified().is_some());
                    assert!(f.classification_details().is_some());
                }
            }
        }

        // Resolved findings are gone from GetFindings.
        if !t.resolved.is_empty() {
            let gone: Vec<String> = t.resolved.iter().take(50).cloned().collect();
            let got = macie
                .get_findings()
                .set_finding_ids(Some(gone))
                .send()
                .await
                .unwrap();
            assert!(got.findings().is_empty());
        }
    }
    assert!(served > 0);

    // Bad input, typed as the SDK models it.
    let t = &targets[0];
    let macie = client(&sim, &t.account_id, &t.region);
    let err = macie
        .list_findings()
        .max_results(51)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");
    let too_many: Vec<String> = (1..=51).map(|i| format!("{i:032x}")).collect();
    let err = macie
        .get_findings()
        .set_finding_ids(Some(too_many))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");

    // Where Macie is off, and for an account whose role may not call it: AccessDeniedException.
    let (off, denied) = {
        let estate = sim.state.estate.read().unwrap();
        let off = support::disabled(&estate, Service::Macie).unwrap();
        let denied = (support::services_denied(&estate).unwrap(), 0);
        (
            support::target_ids(&estate, off),
            support::target_ids(&estate, denied),
        )
    };
    let off = client(&sim, &off.0, &off.1);
    let err = off
        .get_macie_session()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_access_denied_exception(), "{err:?}");
    assert_eq!(
        aws_sdk_macie2::error::ProvideErrorMetadata::message(&err),
        Some("Macie is not enabled.")
    );
    let err = off
        .list_findings()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_access_denied_exception(), "{err:?}");
    let err = client(&sim, &denied.0, &denied.1)
        .list_findings()
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_access_denied_exception(), "{err:?}");
}
