//! AWS Security Hub: `GetFindings` in ASFF. Its own control findings, third-party products,
//! and the copies it publishes of GuardDuty, Inspector, Macie and Access Analyzer findings,
//! which map to the same canonical key as the native report.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use aws_sdk_securityhub::types::{AwsSecurityFindingFilters, DateFilter, SortCriterion, SortOrder};

use super::{
    Enabled, NormaliseError, TargetCtx, account, iso, next_page, normalise_all, not_enabled_or,
    opt_text, region, text, time,
};
use crate::domain::{CanonicalKey, Finding, Severity, Source, Status};
use crate::poller::capture::RawCapture;
use crate::poller::clients::Pace;
use crate::poller::errors::{CallError, classify};
use crate::poller::sink::{PageSink, Stop};

/// Reads the target: `DescribeHub` for coverage, then `GetFindings` pages of 100, oldest
/// update first, from `since` on (all findings in a full sweep).
pub async fn poll(t: &TargetCtx<'_>, sink: &mut PageSink<'_>) -> Result<Enabled, Stop> {
    let client = aws_sdk_securityhub::Client::new(&t.sdk);
    t.pace("DescribeHub", Pace::Default).await;
    if let Err(e) = client.describe_hub().send().await {
        return Ok(not_enabled_or(classify(&e))?);
    }
    let mut filters = AwsSecurityFindingFilters::builder();
    if let Some(since) = t.since {
        let end = chrono::Utc::now() + chrono::Duration::days(1);
        filters = filters.updated_at(
            DateFilter::builder()
                .start(iso(since))
                .end(iso(end))
                .build(),
        );
    }
    let filters = filters.build();
    let sort = SortCriterion::builder()
        .field("UpdatedAt")
        .sort_order(SortOrder::Ascending)
        .build();
    let mut token: Option<String> = None;
    loop {
        t.pace("GetFindings", Pace::SecurityHubGetFindings).await;
        let capture = RawCapture::default();
        let out = client
            .get_findings()
            .filters(filters.clone())
            .sort_criteria(sort.clone())
            .max_results(100)
            .set_next_token(token.take())
            .customize()
            .interceptor(capture.clone())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let raw = capture.json();
        let page = normalise_all(raw["Findings"].as_array(), |f| normalise(f, t.seen_at));
        sink.page(page, true).await?;
        token = next_page(out.next_token());
        if token.is_none() {
            return Ok(Enabled::Yes);
        }
    }
}

/// Maps one ASFF finding.
pub fn normalise(raw: &Value, seen_at: DateTime<Utc>) -> Result<Finding, NormaliseError> {
    let id = text(raw, "/Id")?;
    let product_arn = text(raw, "/ProductArn")?;
    let account_id = account(raw, "/AwsAccountId")?;
    let region = region(text(raw, "/Region").or_else(|_| {
        super::arn_region(product_arn).ok_or_else(|| NormaliseError("missing Region".into()))
    })?)?;
    // `product/aws/<product>` names the AWS service that produced the finding.
    let product = product_arn
        .rsplit_once("product/")
        .map(|(_, p)| p)
        .unwrap_or("");
    let (source, key) = match product {
        "aws/guardduty" => (Source::GuardDuty, CanonicalKey::guardduty(id)),
        "aws/inspector" => (Source::Inspector, CanonicalKey::inspector(id)),
        // Assumed (not documented publicly): the copy's Id is the Macie finding id, possibly as
        // the last segment of an ARN.
        "aws/macie" => (
            Source::Macie,
            CanonicalKey::macie(&account_id, &region, id.rsplit('/').next().unwrap_or(id)),
        ),
        "aws/access-analyzer" => (Source::AccessAnalyzer, access_analyzer_key(raw, id)?),
        _ => (
            Source::SecurityHub,
            CanonicalKey::securityhub(product_arn, id),
        ),
    };
    let label = text(raw, "/Severity/Label")?;
    let severity = Severity::from_aws_label(label)
        .ok_or_else(|| NormaliseError(format!("Severity.Label: unknown label {label:?}")))?;
    let workflow = opt_text(raw, "/Workflow/Status").or_else(|| opt_text(raw, "/WorkflowState"));
    let record_state = opt_text(raw, "/RecordState");
    let compliance = opt_text(raw, "/Compliance/Status");
    let status = if record_state.as_deref() == Some("ARCHIVED")
        || workflow.as_deref() == Some("RESOLVED")
        || compliance.as_deref() == Some("PASSED")
    {
        Status::Resolved
    } else if workflow.as_deref() == Some("SUPPRESSED") {
        Status::Suppressed
    } else {
        Status::Open
    };
    let control_id = opt_text(raw, "/Compliance/SecurityControlId")
        .or_else(|| opt_text(raw, "/ProductFields/ControlId"))
        .or_else(|| {
            opt_text(raw, "/GeneratorId")
                .and_then(|g| g.strip_prefix("security-control/").map(str::to_owned))
        });
    let updated_at = time(raw, "/UpdatedAt")?;
    let first_observed_at = time(raw, "/FirstObservedAt")
        .or_else(|_| time(raw, "/CreatedAt"))
        .unwrap_or(updated_at);
    Ok(Finding {
        key,
        source,
        via: Source::SecurityHub,
        native_id: id.to_owned(),
        account_id,
        region,
        severity,
        status,
        title: text(raw, "/Title")?.to_owned(),
        finding_type: opt_text(raw, "/Types/0").unwrap_or_default(),
        resource_type: opt_text(raw, "/Resources/0/Type"),
        resource_id: opt_text(raw, "/Resources/0/Id"),
        control_id: if source == Source::SecurityHub {
            control_id
        } else {
            None
        },
        first_observed_at,
        updated_at,
        seen_at,
        raw: raw.clone(),
    })
}

/// Access Analyzer copies: external access is `Id` = `<analyzer ARN>/<resource ARN>`; unused
/// access carries the native id in `ProductFields.findingId`.
fn access_analyzer_key(raw: &Value, id: &str) -> Result<CanonicalKey, NormaliseError> {
    let analyzer_end = id
        .find("analyzer/")
        .and_then(|at| {
            id[at + "analyzer/".len()..]
                .find('/')
                .map(|slash| at + "analyzer/".len() + slash)
        })
        .ok_or_else(|| NormaliseError(format!("Id: {id:?} is not <analyzer ARN>/<resource>")))?;
    let analyzer = &id[..analyzer_end];
    match opt_text(raw, "/ProductFields/findingId") {
        Some(finding_id) => Ok(CanonicalKey::access_analyzer_unused(analyzer, &finding_id)),
        None => Ok(CanonicalKey::access_analyzer_external(
            analyzer,
            &id[analyzer_end + 1..],
        )),
    }
}

/// `ListMembers` (associated only): `ENABLED` members are covered.
pub async fn members(t: &TargetCtx<'_>) -> Result<HashMap<String, Enabled>, CallError> {
    let client = &aws_sdk_securityhub::Client::new(&t.sdk);
    super::members::all_pages(|token| async move {
        t.pace("ListMembers", Pace::Default).await;
        let page = client
            .list_members()
            .only_associated(true)
            .max_results(50)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let members = page
            .members()
            .iter()
            .filter_map(|m| {
                let status = m.member_status().unwrap_or("");
                Some((
                    m.account_id()?.to_owned(),
                    super::members::enabled_status("Security Hub", status),
                ))
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

    fn all() -> Vec<Finding> {
        let doc = fixtures::load("securityhub-get-findings.json");
        doc["Findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| normalise(f, Utc::now()).unwrap())
            .collect()
    }

    #[test]
    fn control_findings() {
        let f = &all()[0];
        assert_eq!(
            (f.source, f.via),
            (Source::SecurityHub, Source::SecurityHub)
        );
        assert_eq!((f.severity, f.status), (Severity::High, Status::Open));
        assert_eq!(f.control_id.as_deref(), Some("EC2.8"));
        assert_eq!(f.resource_type.as_deref(), Some("AwsEc2Instance"));
        assert_eq!(f.account_id.as_str(), "111111111111");
        assert_eq!(all()[1].control_id.as_deref(), Some("CloudTrail.2"));
        // A PASSED control is resolved, whatever its workflow says.
        let passed = &all()[2];
        assert_eq!(
            (passed.severity, passed.status),
            (Severity::Informational, Status::Resolved)
        );
        assert_eq!(
            passed.control_id.as_deref(),
            Some("S3.2"),
            "from ProductFields.ControlId"
        );
    }

    #[test]
    fn copies_get_the_native_key_and_source() {
        let f = all();
        let gd = crate::domain::CanonicalKey::guardduty(
            "arn:aws:guardduty:us-east-1:111111111111:detector/d4b040365221be2b54a6264dc9a4bc64/finding/46ba0ac2845071e23ccdeb2ae03bfdea",
        );
        assert_eq!(
            (f[3].source, &f[3].key, f[3].severity),
            (Source::GuardDuty, &gd, Severity::Medium)
        );
        assert_eq!(f[3].via, Source::SecurityHub);
        assert_eq!(
            f[4].key,
            CanonicalKey::inspector(
                "arn:aws:inspector2:us-east-1:111111111111:finding/3371dd4acbb7041a1feb7a7f82c1d20e"
            )
        );
        assert_eq!(f[4].severity, Severity::Critical);
        assert_eq!(
            f[5].key,
            CanonicalKey::macie(
                &f[5].account_id,
                &f[5].region,
                "4e958e42874e5e24ae7e92257cf2783e"
            )
        );
        assert_eq!(
            f[6].key,
            CanonicalKey::access_analyzer_external(
                "arn:aws:access-analyzer:us-west-2:111111111111:analyzer/my-analyzer",
                "arn:aws:s3:::amzn-s3-demo-bucket"
            )
        );
        assert_eq!(
            f[7].key,
            CanonicalKey::access_analyzer_unused(
                "arn:aws:access-analyzer:us-west-2:111111111111:analyzer/integTestAnalyzer-DO-NOT-DELETE",
                "DEMO24d8d-0d3f-4d3d-99f4-299fc8a62ee7"
            )
        );
        assert_eq!(f[7].status, Status::Resolved, "RecordState ARCHIVED");
        assert!(f.iter().skip(3).all(|x| x.control_id.is_none()));
    }

    #[test]
    fn bad_findings_say_what_is_wrong() {
        let mut f = fixtures::load("securityhub-get-findings.json")["Findings"][0].clone();
        f["Severity"]["Label"] = "SEVERE".into();
        assert_eq!(
            normalise(&f, Utc::now()).unwrap_err().0,
            "Severity.Label: unknown label \"SEVERE\""
        );
        f["AwsAccountId"] = "12".into();
        assert!(
            normalise(&f, Utc::now())
                .unwrap_err()
                .0
                .contains("12-digit")
        );
        let mut g = fixtures::load("securityhub-get-findings.json")["Findings"][0].clone();
        g.as_object_mut().unwrap().remove("UpdatedAt");
        assert_eq!(
            normalise(&g, Utc::now()).unwrap_err().0,
            "missing UpdatedAt"
        );
    }
}
