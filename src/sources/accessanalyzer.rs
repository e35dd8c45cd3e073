//! IAM Access Analyzer: `ListAnalyzers`, `ListFindingsV2`, `GetFindingV2`. It reports no
//! severity, so Sightline derives one: public access is high, cross-account access medium,
//! unused access low. The analyzer's region is the finding's region.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    Enabled, NormaliseError, TargetCtx, account, next_page, opt_text, parse_time, region, text,
    time,
};
use aws_sdk_accessanalyzer::types::{AnalyzerStatus, Type as AnalyzerType};

use crate::domain::{AccountId, CanonicalKey, Finding, Region, Severity, Source, Status};
use crate::poller::capture::RawCapture;
use crate::poller::clients::Pace;
use crate::poller::errors::{CallError, classify};
use crate::poller::sink::{Normalised, PageSink, Stop};

/// Reads the target: `ListAnalyzers` (none: not enabled; a delegated administrator's
/// organisation analyzers only), then for each analyzer every
/// `ListFindingsV2` page (there is no time filter), fetching with `GetFindingV2` only the
/// findings updated since `since`. Pages are not sorted: the watermark moves at the end.
pub async fn poll(t: &TargetCtx<'_>, sink: &mut PageSink<'_>) -> Result<Enabled, Stop> {
    let client = aws_sdk_accessanalyzer::Client::new(&t.sdk);
    let arns: Vec<String> = if t.delegated_admin {
        // Its organisation analyzers only: its account analyzers report a subset of theirs,
        // under other ARNs, so they would count its own findings twice.
        organisation_analyzers(t).await?
    } else {
        t.pace("ListAnalyzers", Pace::Default).await;
        let analyzers = client
            .list_analyzers()
            .send()
            .await
            .map_err(|e| classify(&e))?;
        analyzers
            .analyzers()
            .iter()
            .map(|a| a.arn().to_owned())
            .collect()
    };
    if arns.is_empty() {
        return Ok(Enabled::No(if t.delegated_admin {
            format!(
                "no active organisation analyzer of IAM Access Analyzer in {}",
                t.region
            )
        } else {
            format!("no IAM Access Analyzer analyzer in {}", t.region)
        }));
    }
    for analyzer in arns {
        let mut token: Option<String> = None;
        loop {
            t.pace("ListFindingsV2", Pace::Default).await;
            let capture = RawCapture::default();
            let list = client
                .list_findings_v2()
                .analyzer_arn(&analyzer)
                .set_next_token(token.take())
                .customize()
                .interceptor(capture.clone())
                .send()
                .await
                .map_err(|e| classify(&e))?;
            let summaries = capture.json();
            let mut page: Vec<Normalised> = Vec::new();
            for summary in summaries["findings"].as_array().into_iter().flatten() {
                let changed = match (
                    t.since,
                    summary
                        .pointer("/updatedAt")
                        .and_then(serde_json::Value::as_str)
                        .and_then(parse_time),
                ) {
                    (Some(since), Some(updated)) => updated >= since,
                    _ => true,
                };
                if !changed {
                    continue;
                }
                let Some(id) = summary.pointer("/id").and_then(serde_json::Value::as_str) else {
                    page.push(Err((summary.clone(), "missing id".into())));
                    continue;
                };
                t.pace("GetFindingV2", Pace::Default).await;
                let capture = RawCapture::default();
                client
                    .get_finding_v2()
                    .analyzer_arn(&analyzer)
                    .id(id)
                    .customize()
                    .interceptor(capture.clone())
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                let raw = capture.json();
                page.push(
                    normalise(&raw, &analyzer, &t.region, t.seen_at)
                        .map_err(|e| (raw.clone(), e.0)),
                );
            }
            if !page.is_empty() {
                sink.page(page, false).await?;
            }
            token = next_page(list.next_token());
            if token.is_none() {
                break;
            }
        }
    }
    Ok(Enabled::Yes)
}

/// Maps one `GetFindingV2` answer of the analyzer `analyzer_arn` in `region`.
pub fn normalise(
    raw: &Value,
    analyzer_arn: &str,
    region: &Region,
    seen_at: DateTime<Utc>,
) -> Result<Finding, NormaliseError> {
    let id = text(raw, "/id")?;
    let finding_type = text(raw, "/findingType")?;
    let external = finding_type == "ExternalAccess";
    let resource = opt_text(raw, "/resource");
    let key = if external {
        let resource = resource
            .as_deref()
            .ok_or_else(|| NormaliseError("missing resource".into()))?;
        CanonicalKey::access_analyzer_external(analyzer_arn, resource)
    } else {
        CanonicalKey::access_analyzer_unused(analyzer_arn, id)
    };
    let public = raw
        .pointer("/findingDetails")
        .and_then(Value::as_array)
        .is_some_and(|d| {
            d.iter().any(|x| {
                x.pointer("/externalAccessDetails/isPublic")
                    .and_then(Value::as_bool)
                    == Some(true)
            })
        });
    let severity = severity_of(external, public);
    let status = match text(raw, "/status")? {
        "ACTIVE" => Status::Open,
        "ARCHIVED" => Status::Suppressed,
        "RESOLVED" => Status::Resolved,
        other => return Err(NormaliseError(format!("status: unknown value {other:?}"))),
    };
    let resource_type = opt_text(raw, "/resourceType");
    let title = match (external, public) {
        (true, true) => format!(
            "{} is publicly accessible",
            resource.as_deref().unwrap_or("resource")
        ),
        (true, false) => format!(
            "{} is shared outside the zone of trust",
            resource.as_deref().unwrap_or("resource")
        ),
        (false, _) => format!("{finding_type}: {}", resource.as_deref().unwrap_or(id)),
    };
    let updated_at = time(raw, "/updatedAt")?;
    Ok(Finding {
        key,
        source: Source::AccessAnalyzer,
        via: Source::AccessAnalyzer,
        native_id: id.to_owned(),
        account_id: account(raw, "/resourceOwnerAccount")?,
        region: region.clone(),
        severity,
        status,
        title,
        finding_type: finding_type.to_owned(),
        resource_type,
        resource_id: resource,
        control_id: None,
        first_observed_at: time(raw, "/createdAt").unwrap_or(updated_at),
        updated_at,
        seen_at,
        raw: raw.clone(),
    })
}

/// Access Analyzer has no severity: public → high, cross-account → medium, unused → low.
pub fn severity_of(external: bool, public: bool) -> Severity {
    match (external, public) {
        (true, true) => Severity::High,
        (true, false) => Severity::Medium,
        (false, _) => Severity::Low,
    }
}

/// The analyzer ARN's region is where its findings live.
pub fn region_of(analyzer_arn: &str) -> Result<Region, NormaliseError> {
    region(
        super::arn_region(analyzer_arn)
            .ok_or_else(|| NormaliseError(format!("{analyzer_arn:?} has no region")))?,
    )
}

/// An active organisation analyzer (external or unused access) covers every account.
pub async fn member_coverage(
    t: &TargetCtx<'_>,
    accounts: &[AccountId],
) -> Result<Vec<(AccountId, Enabled)>, CallError> {
    let active = organisation_analyzers(t).await?.is_empty().then(|| {
        Enabled::No(format!(
            "no active organisation analyzer in the delegated administrator {} in {}",
            t.account, t.region
        ))
    });
    let state = active.unwrap_or(Enabled::Yes);
    Ok(accounts
        .iter()
        .map(|a| (a.clone(), state.clone()))
        .collect())
}

/// The ARNs of the active organisation analyzers (types `ORGANIZATION` and
/// `ORGANIZATION_UNUSED_ACCESS`) in the target: what a delegated administrator reads.
pub async fn organisation_analyzers(t: &TargetCtx<'_>) -> Result<Vec<String>, CallError> {
    let client = aws_sdk_accessanalyzer::Client::new(&t.sdk);
    let mut out = Vec::new();
    for kind in [
        AnalyzerType::Organization,
        AnalyzerType::OrganizationUnusedAccess,
    ] {
        let mut token = None;
        loop {
            t.pace("ListAnalyzers", Pace::Default).await;
            let page = client
                .list_analyzers()
                .r#type(kind.clone())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| classify(&e))?;
            out.extend(
                page.analyzers()
                    .iter()
                    .filter(|a| *a.status() == AnalyzerStatus::Active)
                    .map(|a| a.arn().to_owned()),
            );
            token = next_page(page.next_token());
            if token.is_none() {
                break;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::fixtures;

    const ANALYZER: &str = "arn:aws:access-analyzer:us-west-2:111111111111:analyzer/my-analyzer";

    #[test]
    fn external_access() {
        let raw = fixtures::load("accessanalyzer-get-finding-v2.json");
        let r = region_of(ANALYZER).unwrap();
        let f = normalise(&raw, ANALYZER, &r, Utc::now()).unwrap();
        assert_eq!(
            f.key,
            CanonicalKey::access_analyzer_external(ANALYZER, "arn:aws:s3:::amzn-s3-demo-bucket")
        );
        assert_eq!(
            (f.severity, f.status),
            (Severity::Medium, Status::Open),
            "cross-account, not public"
        );
        assert_eq!(f.region.as_str(), "us-west-2");
        assert_eq!(f.resource_type.as_deref(), Some("AWS::S3::Bucket"));
        // Its Security Hub copy lands on the same key.
        let copy = &fixtures::load("securityhub-get-findings.json")["Findings"][6];
        assert_eq!(
            crate::sources::securityhub::normalise(copy, Utc::now())
                .unwrap()
                .key,
            f.key
        );
    }

    #[test]
    fn public_is_high_and_statuses_map() {
        let mut raw = fixtures::load("accessanalyzer-get-finding-v2.json");
        raw["findingDetails"][0]["externalAccessDetails"]["isPublic"] = true.into();
        raw["status"] = "ARCHIVED".into();
        let r = region_of(ANALYZER).unwrap();
        let f = normalise(&raw, ANALYZER, &r, Utc::now()).unwrap();
        assert_eq!((f.severity, f.status), (Severity::High, Status::Suppressed));
        raw["status"] = "RESOLVED".into();
        assert_eq!(
            normalise(&raw, ANALYZER, &r, Utc::now()).unwrap().status,
            Status::Resolved
        );
    }

    #[test]
    fn unused_access_is_low() {
        let list = fixtures::load("accessanalyzer-list-findings-v2-unused.json");
        let summary = &list["findings"][0];
        let r = region_of(ANALYZER).unwrap();
        let f = normalise(summary, ANALYZER, &r, Utc::now()).unwrap();
        assert_eq!(f.severity, Severity::Low);
        assert_eq!(
            f.key,
            CanonicalKey::access_analyzer_unused(ANALYZER, summary["id"].as_str().unwrap())
        );
    }
}
