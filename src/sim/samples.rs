//! Security Hub control findings shaped exactly like AWS's (built from the real `GetFindings`
//! response in `fixtures/aws/`), already normalised, for tests and benchmarks of the write path.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::Value;

use crate::domain::{AccountId, CanonicalKey, Finding, Region, Severity, Source, Status};

const GET_FINDINGS: &str = include_str!("../../fixtures/aws/securityhub-get-findings.json");

/// The first finding of the fixture: an FSBP EC2.8 control finding of about 3.5 KB.
fn template() -> Value {
    let mut doc: Value = serde_json::from_str(GET_FINDINGS).unwrap_or_default();
    doc["Findings"][0].take()
}

/// `n` distinct control findings, numbered from `start`, spread over 20 accounts, 4 regions and
/// every severity, all seen at `seen_at`. Finding `i` is the same on every call.
pub fn control_findings(start: usize, n: usize, seen_at: DateTime<Utc>) -> Vec<Finding> {
    let template = template();
    let regions = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"];
    let severities = [
        Severity::Low,
        Severity::Medium,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
        Severity::Low,
    ];
    (start..start + n)
        .map(|i| {
            let account: AccountId = format!("{:012}", 100_000_000_000 + (i % 20) as u64)
                .parse()
                .expect("12 digits");
            let region: Region = regions[i % regions.len()].parse().expect("a region literal");
            let severity = severities[i % severities.len()];
            let updated = seen_at - Duration::minutes((i % 10_000) as i64);
            let first = updated - Duration::days(30);
            let product_arn = format!("arn:aws:securityhub:{region}::product/aws/securityhub");
            let id = format!(
                "arn:aws:securityhub:{region}:{account}:subscription/aws-foundational-security-best-practices/v/1.0.0/EC2.8/finding/{i:08x}-0000-4000-8000-000000000000"
            );
            let instance = format!("arn:aws:ec2:{region}:{account}:instance/i-{i:017x}");
            let mut raw = template.clone();
            raw["Id"] = Value::from(id.clone());
            raw["ProductArn"] = Value::from(product_arn.clone());
            raw["AwsAccountId"] = Value::from(account.to_string());
            raw["Region"] = Value::from(region.to_string());
            raw["UpdatedAt"] = Value::from(updated.to_rfc3339_opts(SecondsFormat::Millis, true));
            raw["FirstObservedAt"] = Value::from(first.to_rfc3339_opts(SecondsFormat::Millis, true));
            raw["Severity"]["Label"] = Value::from(severity.as_str().to_ascii_uppercase());
            raw["Resources"][0]["Id"] = Value::from(instance.clone());
            Finding {
                key: CanonicalKey::securityhub(&product_arn, &id),
                source: Source::SecurityHub,
                via: Source::SecurityHub,
                native_id: id,
                account_id: account,
                region,
                severity,
                status: Status::Open,
                title: "EC2 instances should use Instance Metadata Service Version 2 (IMDSv2)".into(),
                finding_type: "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices".into(),
                resource_type: Some("AwsEc2Instance".into()),
                resource_id: Some(instance),
                control_id: Some("EC2.8".into()),
                first_observed_at: first,
                updated_at: updated,
                seen_at,
                raw,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_realistic_and_distinct() {
        let now = Utc::now();
        let batch = control_findings(0, 100, now);
        let keys: std::collections::HashSet<_> = batch.iter().map(|f| f.key.clone()).collect();
        assert_eq!(keys.len(), 100);
        let size = serde_json::to_string(&batch[0].raw).unwrap().len();
        assert!(
            (3_000..5_000).contains(&size),
            "raw finding is {size} bytes"
        );
        assert_eq!(
            batch[7].raw["AwsAccountId"],
            batch[7].account_id.to_string()
        );
        assert_eq!(control_findings(7, 1, now)[0], batch[7]);
    }
}
