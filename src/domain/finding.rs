//! The normalised finding and its canonical key.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{AccountId, Region, Severity, Source, Status};

/// The identity of a finding across polls and across the services that report it.
///
/// Security Hub re-publishes GuardDuty, Inspector, Macie and Access Analyzer findings; the copy
/// and the native report build the same key, so they land on one row. The constructors are the
/// only way to make one, and each documents which native id it is built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CanonicalKey(String);

/// Namespace of the finding ids (UUIDv5 of the canonical key): fixed forever.
const FINDING_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5f1c_8e2a_93d4_4b7e_a1c6_0d2f_7b39_e845);

impl CanonicalKey {
    /// A Security Hub finding of its own (a control check) or of a third-party product:
    /// identified by `ProductArn` and `Id`.
    pub fn securityhub(product_arn: &str, id: &str) -> Self {
        Self(format!("securityhub|{product_arn}|{id}"))
    }

    /// A GuardDuty finding, by its ARN (the `Id` of its Security Hub copy).
    pub fn guardduty(finding_arn: &str) -> Self {
        Self(format!("guardduty|{finding_arn}"))
    }

    /// An Inspector finding, by its `findingArn` (the `Id` of its Security Hub copy).
    pub fn inspector(finding_arn: &str) -> Self {
        Self(format!("inspector|{finding_arn}"))
    }

    /// A Macie finding: its `id` is unique only within an account and region.
    pub fn macie(account: &AccountId, region: &Region, id: &str) -> Self {
        Self(format!("macie|{account}|{region}|{id}"))
    }

    /// An Access Analyzer external-access finding: the analyzer and the resource it is about,
    /// which is what its Security Hub copy is keyed on (`Id` = `<analyzer ARN>/<resource ARN>`).
    pub fn access_analyzer_external(analyzer_arn: &str, resource_arn: &str) -> Self {
        Self(format!("accessanalyzer|{analyzer_arn}|{resource_arn}"))
    }

    /// An Access Analyzer unused-access finding: the analyzer and the native finding id (which
    /// its Security Hub copy carries in `ProductFields.findingId`).
    pub fn access_analyzer_unused(analyzer_arn: &str, finding_id: &str) -> Self {
        Self(format!("accessanalyzer|{analyzer_arn}|unused|{finding_id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The finding's public id: stable across polls, sources and Sightline databases.
    pub fn finding_id(&self) -> Uuid {
        Uuid::new_v5(&FINDING_ID_NAMESPACE, self.0.as_bytes())
    }
}

impl fmt::Display for CanonicalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One report of one problem, normalised. A poll produces these; `db::findings::upsert_batch`
/// merges them into the canonical rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub key: CanonicalKey,
    /// The service that produced the finding.
    pub source: Source,
    /// The service this report was read from: `source` itself, or Security Hub for a copy.
    pub via: Source,
    /// The id the reporting service gives it (`Id`, `Arn`, `findingArn`, `id`).
    pub native_id: String,
    pub account_id: AccountId,
    pub region: Region,
    pub severity: Severity,
    pub status: Status,
    pub title: String,
    /// Type or category (`Software and Configuration Checks/…`, `Recon:EC2/PortProbeUnprotectedPort`).
    pub finding_type: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// Security Hub control id (`EC2.8`), for control findings.
    pub control_id: Option<String>,
    /// When the source first observed the problem.
    pub first_observed_at: DateTime<Utc>,
    /// When the source last changed the finding.
    pub updated_at: DateTime<Utc>,
    /// When Sightline read this report.
    pub seen_at: DateTime<Utc>,
    /// The finding exactly as the service sent it.
    pub raw: serde_json::Value,
}

impl Finding {
    /// Whether this report comes from the producing service itself, not a Security Hub copy.
    pub fn is_native(&self) -> bool {
        self.source == self.via
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_share_a_key_and_an_id() {
        let arn = "arn:aws:guardduty:us-east-1:111111111111:detector/d1/finding/f1";
        assert_eq!(CanonicalKey::guardduty(arn), CanonicalKey::guardduty(arn));
        assert_eq!(
            CanonicalKey::guardduty(arn).finding_id(),
            CanonicalKey::guardduty(arn).finding_id()
        );
        assert_ne!(
            CanonicalKey::guardduty(arn).finding_id(),
            CanonicalKey::inspector(arn).finding_id()
        );
    }

    #[test]
    fn finding_ids_never_change() {
        // The id is part of the API and of bookmarked URLs: this value must stay as it is.
        let key = CanonicalKey::securityhub(
            "arn:aws:securityhub:us-east-1::product/aws/securityhub",
            "x",
        );
        assert_eq!(
            key.finding_id().to_string(),
            "8973a806-e89e-5354-8c63-5097b3ae52f2"
        );
    }

    #[test]
    fn macie_ids_are_scoped_to_account_and_region() {
        let a: AccountId = "111111111111".parse().unwrap();
        let b: AccountId = "222222222222".parse().unwrap();
        let r: Region = "us-east-1".parse().unwrap();
        assert_ne!(
            CanonicalKey::macie(&a, &r, "1"),
            CanonicalKey::macie(&b, &r, "1")
        );
    }
}
