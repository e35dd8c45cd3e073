//! Amazon Macie: `ListFindings` then `GetFindings` (at most 50 ids). Severity is Low, Medium or
//! High; an archived finding is suppressed; a finding Macie no longer returns is resolved.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use aws_sdk_macie2::types::{
    CriterionAdditionalProperties, FindingCriteria, MacieStatus, OrderBy, RelationshipStatus,
    SortCriteria,
};

use super::{
    Enabled, NormaliseError, TargetCtx, account, next_page, normalise_all, not_enabled_or,
    opt_text, region, text, time,
};
use crate::domain::{CanonicalKey, Finding, Severity, Source, Status};
use crate::poller::capture::RawCapture;
use crate::poller::clients::Pace;
use crate::poller::errors::{CallError, classify};
use crate::poller::sink::{PageSink, Stop};

/// Reads the target: `GetMacieSession` for coverage, then `ListFindings` pages of 50 ids,
/// oldest update first, each fetched with one `GetFindings`.
pub async fn poll(t: &TargetCtx<'_>, sink: &mut PageSink<'_>) -> Result<Enabled, Stop> {
    let client = aws_sdk_macie2::Client::new(&t.sdk);
    t.pace("GetMacieSession", Pace::Default).await;
    let session = match client.get_macie_session().send().await {
        Ok(s) => s,
        Err(e) => return Ok(not_enabled_or(classify(&e))?),
    };
    match session.status() {
        Some(MacieStatus::Enabled) => {}
        // A paused Macie still answers with the findings it has.
        Some(MacieStatus::Paused) => {}
        Some(other) => {
            return Ok(Enabled::Unknown(format!(
                "Macie session status {}",
                other.as_str()
            )));
        }
        None => {
            return Ok(Enabled::Unknown(
                "GetMacieSession returned no status".into(),
            ));
        }
    }
    let mut criteria = FindingCriteria::builder();
    if let Some(since) = t.since {
        criteria = criteria.criterion(
            "updatedAt",
            CriterionAdditionalProperties::builder()
                .gte(since.timestamp_millis())
                .build(),
        );
    }
    let criteria = criteria.build();
    let sort = SortCriteria::builder()
        .attribute_name("updatedAt")
        .order_by(OrderBy::Asc)
        .build();
    let mut token: Option<String> = None;
    loop {
        t.pace("ListFindings", Pace::Default).await;
        let list = client
            .list_findings()
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
            return Ok(Enabled::Yes);
        }
    }
}

/// Maps one finding of a `GetFindings` answer.
pub fn normalise(raw: &Value, seen_at: DateTime<Utc>) -> Result<Finding, NormaliseError> {
    let id = text(raw, "/id")?;
    let account_id = account(raw, "/accountId")?;
    let region = region(text(raw, "/region")?)?;
    let label = text(raw, "/severity/description")?;
    let severity = Severity::from_aws_label(label)
        .ok_or_else(|| NormaliseError(format!("severity.description: unknown label {label:?}")))?;
    let archived = raw
        .pointer("/archived")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (resource_type, resource_id) = match opt_text(raw, "/resourcesAffected/s3Object/path") {
        Some(path) => (Some("S3Object".to_owned()), Some(path)),
        None => (
            Some("S3Bucket".to_owned()),
            opt_text(raw, "/resourcesAffected/s3Bucket/arn"),
        ),
    };
    let updated_at = time(raw, "/updatedAt")?;
    Ok(Finding {
        key: CanonicalKey::macie(&account_id, &region, id),
        source: Source::Macie,
        via: Source::Macie,
        native_id: id.to_owned(),
        account_id,
        region,
        severity,
        status: if archived {
            Status::Suppressed
        } else {
            Status::Open
        },
        title: text(raw, "/title")?.to_owned(),
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

/// `ListMembers` (associated only): `Enabled` members are covered, and `Paused` ones too (a
/// paused Macie still holds its findings).
pub async fn members(t: &TargetCtx<'_>) -> Result<HashMap<String, Enabled>, CallError> {
    let client = &aws_sdk_macie2::Client::new(&t.sdk);
    super::members::all_pages(|token| async move {
        t.pace("ListMembers", Pace::Default).await;
        let page = client
            .list_members()
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
                let state = match m.relationship_status() {
                    Some(RelationshipStatus::Enabled) | Some(RelationshipStatus::Paused) => {
                        Enabled::Yes
                    }
                    Some(other) => Enabled::No(format!("Macie member status {}", other.as_str())),
                    None => Enabled::Unknown("Macie member with no status".into()),
                };
                Some((m.account_id()?.to_owned(), state))
            })
            .collect();
        Ok((members, page.next_token().map(str::to_owned)))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::fixtures;

    #[test]
    fn real_findings() {
        let doc = fixtures::load("macie2-get-findings.json");
        let found: Vec<Finding> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| normalise(f, Utc::now()).unwrap())
            .collect();
        let f = &found[0];
        assert_eq!(f.native_id, "4e958e42874e5e24ae7e92257cf2783e");
        assert_eq!((f.severity, f.status), (Severity::Low, Status::Open));
        assert_eq!(f.finding_type, "SensitiveData:S3Object/Personal");
        assert_eq!(f.resource_type.as_deref(), Some("S3Object"));
        assert_eq!(f.updated_at.timestamp_millis(), 1_603_720_023_127);
        // The Security Hub copy of the same finding lands on the same key.
        let copy = &crate::sources::fixtures::load("securityhub-get-findings.json")["Findings"][5];
        assert_eq!(
            crate::sources::securityhub::normalise(copy, Utc::now())
                .unwrap()
                .key,
            f.key
        );
    }

    #[test]
    fn archived_is_suppressed() {
        let mut f = fixtures::load("macie2-get-findings.json")["findings"][0].clone();
        f["archived"] = true.into();
        assert_eq!(
            normalise(&f, Utc::now()).unwrap().status,
            Status::Suppressed
        );
    }
}
