//! Amazon Inspector (v2): `ListFindings`. Timestamps arrive as epoch seconds; `UNTRIAGED` is
//! informational; `CLOSED` is resolved.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{NormaliseError, account, arn_region, opt_text, region, text, time};
use crate::domain::{CanonicalKey, Finding, Severity, Source, Status};

/// Maps one finding of a `ListFindings` answer.
pub fn normalise(raw: &Value, seen_at: DateTime<Utc>) -> Result<Finding, NormaliseError> {
    let arn = text(raw, "/findingArn")?;
    let label = text(raw, "/severity")?;
    let severity = Severity::from_aws_label(label)
        .ok_or_else(|| NormaliseError(format!("severity: unknown label {label:?}")))?;
    let status = match text(raw, "/status")? {
        "ACTIVE" => Status::Open,
        "SUPPRESSED" => Status::Suppressed,
        "CLOSED" => Status::Resolved,
        other => return Err(NormaliseError(format!("status: unknown value {other:?}"))),
    };
    // The resource's region, else the finding ARN's.
    let region_code = opt_text(raw, "/resources/0/region")
        .or_else(|| arn_region(arn).map(str::to_owned))
        .ok_or_else(|| NormaliseError("no region in resources.0.region or findingArn".into()))?;
    let updated_at = time(raw, "/updatedAt")?;
    Ok(Finding {
        key: CanonicalKey::inspector(arn),
        source: Source::Inspector,
        via: Source::Inspector,
        native_id: arn.to_owned(),
        account_id: account(raw, "/awsAccountId")?,
        region: region(&region_code)?,
        severity,
        status,
        title: text(raw, "/title")?.to_owned(),
        finding_type: text(raw, "/type")?.to_owned(),
        resource_type: opt_text(raw, "/resources/0/type"),
        resource_id: opt_text(raw, "/resources/0/id"),
        control_id: None,
        first_observed_at: time(raw, "/firstObservedAt").unwrap_or(updated_at),
        updated_at,
        seen_at,
        raw: raw.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::fixtures;

    #[test]
    fn real_findings() {
        let doc = fixtures::load("inspector2-list-findings.json");
        let found: Vec<Finding> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| normalise(f, Utc::now()).unwrap())
            .collect();
        let f = &found[0];
        assert_eq!(
            f.key,
            CanonicalKey::inspector(
                "arn:aws:inspector2:eu-central-1:111111111111:finding/bfb33634cadfb4eb500aa9db13dcdbfc"
            )
        );
        assert_eq!((f.severity, f.status), (Severity::High, Status::Open));
        assert_eq!(f.region.as_str(), "eu-central-1");
        assert_eq!(f.title, "CVE-2020-13988 - open-iscsi");
        assert_eq!(
            (f.resource_type.as_deref(), f.resource_id.as_deref()),
            (Some("AWS_EC2_INSTANCE"), Some("i-07b035550fa86717d"))
        );
        assert_eq!(f.updated_at.timestamp_millis(), 1_694_200_050_366);
    }

    #[test]
    fn statuses_and_untriaged() {
        let mut f = fixtures::load("inspector2-list-findings.json")["findings"][0].clone();
        f["status"] = "CLOSED".into();
        f["severity"] = "UNTRIAGED".into();
        let n = normalise(&f, Utc::now()).unwrap();
        assert_eq!(
            (n.status, n.severity),
            (Status::Resolved, Severity::Informational)
        );
        f["status"] = "SUPPRESSED".into();
        assert_eq!(
            normalise(&f, Utc::now()).unwrap().status,
            Status::Suppressed
        );
        f["status"] = "GONE".into();
        assert_eq!(
            normalise(&f, Utc::now()).unwrap_err().0,
            "status: unknown value \"GONE\""
        );
    }
}
