//! Amazon GuardDuty: `ListFindings` then `GetFindings` (at most 50 ids) per detector.
//! Severity is a 0–10 score; an archived finding is suppressed; a finding GuardDuty no longer
//! returns is resolved (by the full sweep).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use aws_sdk_guardduty::types::{Condition, FindingCriteria, OrderBy, SortCriteria};

use super::{
    Enabled, NormaliseError, TargetCtx, account, next_page, normalise_all, opt_text, region, text,
    time,
};
use crate::domain::{CanonicalKey, Finding, Severity, Source, Status};
use crate::poller::capture::RawCapture;
use crate::poller::clients::Pace;
use crate::poller::errors::{CallError, classify};
use crate::poller::sink::{PageSink, Stop};

/// Reads the target: `ListDetectors` (none: not enabled), then per detector `ListFindings`
/// pages of 50 ids, oldest update first, each fetched with one `GetFindings`.
pub async fn poll(t: &TargetCtx<'_>, sink: &mut PageSink<'_>) -> Result<Enabled, Stop> {
    let client = aws_sdk_guardduty::Client::new(&t.sdk);
    let detectors = detector_ids(t, &client).await?;
    if detectors.is_empty() {
        return Ok(Enabled::No(format!(
            "no GuardDuty detector in {}",
            t.region
        )));
    }
    let sort = SortCriteria::builder()
        .attribute_name("updatedAt")
        .order_by(OrderBy::Asc)
        .build();
    for detector in detectors {
        let mut criteria = FindingCriteria::builder();
        if let Some(since) = t.since {
            // greaterThanOrEqual takes 64-bit epoch milliseconds; `gte` is 32-bit.
            criteria = criteria.criterion(
                "updatedAt",
                Condition::builder()
                    .greater_than_or_equal(since.timestamp_millis())
                    .build(),
            );
        }
        let criteria = criteria.build();
        let mut token: Option<String> = None;
        loop {
            t.pace("ListFindings", Pace::Default).await;
            let list = client
                .list_findings()
                .detector_id(&detector)
                .finding_criteria(criteria.clone())
                .sort_criteria(sort.clone())
                .max_results(50)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify(&e))?;
            let ids = list.finding_ids().to_vec();
            if !ids.is_empty() {
                t.pace("GetFindings", Pace::Default).await;
                let capture = RawCapture::default();
                client
                    .get_findings()
                    .detector_id(&detector)
                    .set_finding_ids(Some(ids))
                    .sort_criteria(sort.clone())
                    .customize()
                    .interceptor(capture.clone())
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                let raw = capture.json();
                sink.page(
                    normalise_all(raw["findings"].as_array(), |f| normalise(f, t.seen_at)),
                    true,
                )
                .await?;
            }
            token = next_page(list.next_token());
            if token.is_none() {
                break;
            }
        }
    }
    Ok(Enabled::Yes)
}

/// Maps one finding of a `GetFindings` answer.
pub fn normalise(raw: &Value, seen_at: DateTime<Utc>) -> Result<Finding, NormaliseError> {
    let arn = text(raw, "/arn")?;
    let score = raw
        .pointer("/severity")
        .and_then(Value::as_f64)
        .ok_or_else(|| NormaliseError("missing severity".into()))?;
    let archived = raw
        .pointer("/service/archived")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let updated_at = time(raw, "/updatedAt")?;
    let (resource_type, resource_id) = resource(raw);
    Ok(Finding {
        key: CanonicalKey::guardduty(arn),
        source: Source::GuardDuty,
        via: Source::GuardDuty,
        native_id: arn.to_owned(),
        account_id: account(raw, "/accountId")?,
        region: region(text(raw, "/region")?)?,
        severity: Severity::from_guardduty_score(score),
        status: if archived {
            Status::Suppressed
        } else {
            Status::Open
        },
        title: text(raw, "/title")?.trim().to_owned(),
        finding_type: text(raw, "/type")?.to_owned(),
        resource_type,
        resource_id,
        control_id: None,
        first_observed_at: time(raw, "/createdAt").unwrap_or(updated_at),
        updated_at,
        seen_at,
        raw: raw.clone(),
    })
}

/// The resource a finding is about, by GuardDuty's `resourceType`.
fn resource(raw: &Value) -> (Option<String>, Option<String>) {
    let kind = opt_text(raw, "/resource/resourceType");
    let id = [
        "/resource/instanceDetails/instanceId",
        "/resource/accessKeyDetails/userName",
        "/resource/s3BucketDetails/0/name",
        "/resource/eksClusterDetails/name",
        "/resource/rdsDbInstanceDetails/dbInstanceIdentifier",
        "/resource/lambdaDetails/functionName",
        "/resource/ecsClusterDetails/name",
        "/resource/containerDetails/name",
    ]
    .iter()
    .find_map(|p| opt_text(raw, p));
    (kind, id)
}

/// The target's detectors (`ListDetectors`): at most one per account and region.
async fn detector_ids(
    t: &TargetCtx<'_>,
    client: &aws_sdk_guardduty::Client,
) -> Result<Vec<String>, CallError> {
    t.pace("ListDetectors", Pace::Default).await;
    let out = client
        .list_detectors()
        .send()
        .await
        .map_err(|e| classify(&e))?;
    Ok(out.detector_ids().to_vec())
}

/// `ListMembers` of the administrator's detector (associated only): `Enabled` members are
/// covered.
pub async fn members(t: &TargetCtx<'_>) -> Result<HashMap<String, Enabled>, CallError> {
    let client = &aws_sdk_guardduty::Client::new(&t.sdk);
    let mut out = HashMap::new();
    for detector in detector_ids(t, client).await? {
        let detector = &detector;
        out.extend(
            super::members::all_pages(|token| async move {
                t.pace("ListMembers", Pace::Default).await;
                let page = client
                    .list_members()
                    .detector_id(detector)
                    .only_associated("true")
                    .max_results(50)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                let members = page
                    .members()
                    .iter()
                    .filter_map(|m| {
                        let status = m.relationship_status().unwrap_or("");
                        Some((
                            m.account_id()?.to_owned(),
                            super::members::enabled_status("GuardDuty", status),
                        ))
                    })
                    .collect();
                Ok((members, page.next_token().map(str::to_owned)))
            })
            .await?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::fixtures;

    #[test]
    fn real_findings() {
        let doc = fixtures::load("guardduty-get-findings.json");
        let found: Vec<Finding> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| normalise(f, Utc::now()).unwrap())
            .collect();
        assert_eq!(found.len(), 3);
        let f = &found[0];
        assert_eq!(
            f.native_id,
            "arn:aws:guardduty:us-east-1:111111111111:detector/d4b040365221be2b54a6264dc9a4bc64/finding/02be5693b63eea1d67e6f321c6aee4f3"
        );
        assert_eq!(
            (f.severity, f.status, f.source, f.via),
            (
                Severity::Low,
                Status::Open,
                Source::GuardDuty,
                Source::GuardDuty
            )
        );
        assert_eq!(f.finding_type, "UnauthorizedAccess:EC2/SSHBruteForce");
        assert_eq!(
            (f.resource_type.as_deref(), f.resource_id.as_deref()),
            (Some("Instance"), Some("i-99999999"))
        );
        assert_eq!(f.updated_at.timestamp_millis(), 1_526_050_599_976);
        for f in &found {
            assert_eq!(f.key, CanonicalKey::guardduty(&f.native_id));
        }
    }

    #[test]
    fn archived_is_suppressed_and_scores_map() {
        let mut f = fixtures::load("guardduty-get-findings.json")["findings"][0].clone();
        f["service"]["archived"] = true.into();
        f["severity"] = 8.5.into();
        let n = normalise(&f, Utc::now()).unwrap();
        assert_eq!((n.status, n.severity), (Status::Suppressed, Severity::High));
        f["severity"] = "high".into();
        assert_eq!(normalise(&f, Utc::now()).unwrap_err().0, "missing severity");
    }
}
