//! IAM Access Analyzer: `ListAnalyzers`, `ListFindingsV2`, `GetFindingV2`. It reports no
//! severity, so Sightline derives one: public access is high, cross-account access medium,
//! unused access low. The analyzer's region is the finding's region.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{NormaliseError, account, opt_text, region, text, time};
use crate::domain::{CanonicalKey, Finding, Region, Severity, Source, Status};

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
