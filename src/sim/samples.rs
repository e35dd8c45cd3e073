//! Sample findings, already normalised, for tests and benchmarks: Security Hub control
//! findings shaped exactly like AWS's (built from the real `GetFindings` response in
//! `fixtures/aws/`) for the write path, and an organisation's estate of findings of all five
//! sources with a realistic mix (`estate_findings`) for the read path.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::Value;

use super::catalogue::{ANALYZER_TYPES, CONTROLS, MACIE_TYPES, VULNERABILITIES, threat_types};
use super::rng::Rng;
use crate::domain::{AccountId, CanonicalKey, Finding, Region, Severity, Source, Status};

const GET_FINDINGS: &str = include_str!("../../fixtures/aws/securityhub-get-findings.json");
const GUARDDUTY_FINDINGS: &str = include_str!("../../fixtures/aws/guardduty-get-findings.json");
const INSPECTOR_FINDINGS: &str = include_str!("../../fixtures/aws/inspector2-list-findings.json");
const MACIE_FINDINGS: &str = include_str!("../../fixtures/aws/macie2-get-findings.json");
const ANALYZER_FINDING: &str =
    include_str!("../../fixtures/aws/accessanalyzer-get-finding-v2.json");

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

/// The regions `estate_findings` spreads findings over, the busiest first: real region codes.
pub const ESTATE_REGIONS: [&str; 16] = [
    "us-east-1",
    "eu-west-1",
    "us-west-2",
    "eu-central-1",
    "ap-southeast-2",
    "us-east-2",
    "eu-west-2",
    "ap-northeast-1",
    "ca-central-1",
    "ap-southeast-1",
    "eu-north-1",
    "ap-south-1",
    "sa-east-1",
    "us-west-1",
    "eu-west-3",
    "ap-northeast-2",
];

/// Account `k` (from 0) of an estate: `200000000000`, `200000000001`, …
pub fn estate_account(k: usize) -> AccountId {
    format!("{:012}", 200_000_000_000 + k as u64)
        .parse()
        .expect("12 digits")
}

/// The fixture findings each source's raw JSON is built from (the first of each response).
struct Templates {
    securityhub: Value,
    guardduty: Value,
    inspector: Value,
    macie: Value,
    analyzer: Value,
}

impl Templates {
    fn load() -> Self {
        let first = |body: &str, list: &str| -> Value {
            let mut doc: Value = serde_json::from_str(body).unwrap_or_default();
            doc[list][0].take()
        };
        Self {
            securityhub: template(),
            guardduty: first(GUARDDUTY_FINDINGS, "findings"),
            inspector: first(INSPECTOR_FINDINGS, "findings"),
            macie: first(MACIE_FINDINGS, "findings"),
            analyzer: serde_json::from_str(ANALYZER_FINDING).unwrap_or_default(),
        }
    }
}

/// Picks an index by weight.
fn weighted(r: &mut Rng, weights: &[u64]) -> usize {
    let mut x = r.below(weights.iter().sum());
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// `n` distinct findings of an organisation of `accounts` accounts (`estate_account(0..)`) and
/// `regions` regions (the first `regions` of `ESTATE_REGIONS`, at most 16), numbered from
/// `start`, all seen at `seen_at`. Finding `i` is the same on every call with the same
/// `accounts` and `regions`, so an estate can be generated batch by batch.
///
/// The mix, drawn independently per finding so that filters select realistic fractions:
/// - accounts: the first tenth (the big production accounts) hold 30% of the findings, the
///   rest are spread evenly; regions: 60% in the first four (where the workloads run), the
///   rest spread over all of them;
/// - sources: Security Hub controls 50%, Inspector 22%, GuardDuty 10%, Access Analyzer 10%,
///   Macie 8%;
/// - severity: critical 3%, high 14%, medium 36%, low 32%, informational 15%;
/// - status: open 70%, resolved 20%, suppressed 10%;
/// - titles, types and resource types from the simulator's catalogue (31 controls, real CVEs,
///   GuardDuty and Macie types, Access Analyzer resource types);
/// - updated in the last 90 days, first observed up to 180 days before that.
///
/// `raw` is the first finding of the source's real response in `fixtures/aws/`, with its
/// identifying fields (id or ARN, account, region, severity, status, title, times) set to the
/// finding's; the rest of the document is the fixture's.
pub fn estate_findings(
    start: usize,
    n: usize,
    accounts: usize,
    regions: usize,
    seen_at: DateTime<Utc>,
) -> Vec<Finding> {
    let accounts = accounts.max(1);
    let regions = regions.clamp(1, ESTATE_REGIONS.len());
    let t = Templates::load();
    (start..start + n)
        .map(|i| estate_finding(&t, i, accounts, regions, seen_at))
        .collect()
}

fn estate_finding(
    t: &Templates,
    i: usize,
    accounts: usize,
    regions: usize,
    seen_at: DateTime<Utc>,
) -> Finding {
    let mut r = Rng::derive(0xe57a_7e00, &[i as u64]);
    let big = (accounts / 10).max(1);
    let account = estate_account(if r.chance(0.3) {
        r.below(big as u64) as usize
    } else {
        r.below(accounts as u64) as usize
    });
    let busy = regions.min(4);
    let region_code = if r.chance(0.6) {
        ESTATE_REGIONS[r.below(busy as u64) as usize]
    } else {
        ESTATE_REGIONS[r.below(regions as u64) as usize]
    };
    let region: Region = region_code.parse().expect("a region literal");
    let source = [
        Source::SecurityHub,
        Source::Inspector,
        Source::GuardDuty,
        Source::AccessAnalyzer,
        Source::Macie,
    ][weighted(&mut r, &[50, 22, 10, 10, 8])];
    let severity = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
    ][weighted(&mut r, &[3, 14, 36, 32, 15])];
    let status =
        [Status::Open, Status::Resolved, Status::Suppressed][weighted(&mut r, &[70, 20, 10])];
    let updated = seen_at - Duration::minutes(r.below(90 * 24 * 60) as i64);
    let first = updated - Duration::minutes(r.below(180 * 24 * 60) as i64);
    let ms = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let hex = format!("{:016x}{:016x}", i as u64, r.next_u64());
    let label = severity.as_str().to_ascii_uppercase();

    let (key, native_id, title, finding_type, resource_type, resource_id, control_id, raw) =
        match source {
            Source::SecurityHub => {
                let c = r.pick(CONTROLS);
                let product_arn = format!("arn:aws:securityhub:{region}::product/aws/securityhub");
                let id = format!(
                    "arn:aws:securityhub:{region}:{account}:subscription/aws-foundational-security-best-practices/v/1.0.0/{}/finding/{}",
                    c.id,
                    uuid_like(&hex)
                );
                let resource = format!(
                    "arn:aws:{}:{region}:{account}:{}/{}",
                    service_of(c.resource_type),
                    c.resource_type
                        .trim_start_matches("Aws")
                        .to_ascii_lowercase(),
                    &hex[..17]
                );
                let mut raw = t.securityhub.clone();
                raw["Id"] = Value::from(id.clone());
                raw["ProductArn"] = Value::from(product_arn.clone());
                raw["AwsAccountId"] = Value::from(account.to_string());
                raw["Region"] = Value::from(region.to_string());
                raw["GeneratorId"] = Value::from(format!(
                    "aws-foundational-security-best-practices/v/1.0.0/{}",
                    c.id
                ));
                raw["Title"] = Value::from(c.title);
                raw["UpdatedAt"] = Value::from(ms(updated));
                raw["FirstObservedAt"] = Value::from(ms(first));
                raw["Severity"]["Label"] = Value::from(label.clone());
                raw["Resources"][0]["Type"] = Value::from(c.resource_type);
                raw["Resources"][0]["Id"] = Value::from(resource.clone());
                raw["Workflow"]["Status"] = Value::from(match status {
                    Status::Open => "NEW",
                    Status::Suppressed => "SUPPRESSED",
                    Status::Resolved => "RESOLVED",
                });
                (
                    CanonicalKey::securityhub(&product_arn, &id),
                    id,
                    c.title.to_owned(),
                    "Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices".to_owned(),
                    c.resource_type.to_owned(),
                    resource,
                    Some(c.id.to_owned()),
                    raw,
                )
            }
            Source::GuardDuty => {
                let types = threat_types();
                let kind = types
                    .get(r.below(types.len() as u64) as usize)
                    .map_or("UnauthorizedAccess:EC2/SSHBruteForce", |k| k.kind.as_str());
                let (purpose, family) = kind
                    .split_once(':')
                    .map(|(p, rest)| (p, rest.split('/').next().unwrap_or("EC2")))
                    .unwrap_or(("Recon", "EC2"));
                let (resource_type, resource_id) = match family {
                    "IAMUser" | "IAM" => (
                        "AccessKey",
                        format!("ASIA{}", hex[..16].to_ascii_uppercase()),
                    ),
                    "S3" => ("S3Bucket", format!("data-{account}-{}", &hex[24..32])),
                    "Kubernetes" | "EKS" => ("EKSCluster", format!("eks-{}", &hex[24..32])),
                    "ECS" => ("ECSCluster", format!("ecs-{}", &hex[24..32])),
                    "RDS" => ("RDSDBInstance", format!("db-{}", &hex[24..32])),
                    "Lambda" => ("Lambda", format!("fn-{}", &hex[24..32])),
                    _ => ("Instance", format!("i-{}", &hex[15..32])),
                };
                let detector = &hex[..32];
                let arn = format!(
                    "arn:aws:guardduty:{region}:{account}:detector/{detector}/finding/{hex}"
                );
                let title = format!("{purpose} activity ({kind}) involving {resource_id}.");
                let mut raw = t.guardduty.clone();
                raw["accountId"] = Value::from(account.to_string());
                raw["arn"] = Value::from(arn.clone());
                raw["id"] = Value::from(hex.clone());
                raw["region"] = Value::from(region.to_string());
                raw["type"] = Value::from(kind);
                raw["title"] = Value::from(title.clone());
                raw["severity"] = Value::from(match severity {
                    Severity::Critical => 9.0,
                    Severity::High => 7.5,
                    Severity::Medium => 5.0,
                    Severity::Low => 2.0,
                    Severity::Informational => 1.0,
                });
                raw["createdAt"] = Value::from(ms(first));
                raw["updatedAt"] = Value::from(ms(updated));
                raw["resource"]["resourceType"] = Value::from(resource_type);
                raw["service"]["archived"] = Value::from(status != Status::Open);
                (
                    CanonicalKey::guardduty(&arn),
                    arn,
                    title,
                    kind.to_owned(),
                    resource_type.to_owned(),
                    resource_id,
                    None,
                    raw,
                )
            }
            Source::Inspector => {
                let v = r.pick(VULNERABILITIES);
                let (resource_type, resource_id) = match r.below(3) {
                    0 => (
                        "AWS_ECR_CONTAINER_IMAGE",
                        format!(
                            "arn:aws:ecr:{region}:{account}:repository/app-{}/sha256:{}",
                            &hex[28..32],
                            &hex[..32]
                        ),
                    ),
                    1 => (
                        "AWS_LAMBDA_FUNCTION",
                        format!(
                            "arn:aws:lambda:{region}:{account}:function:fn-{}",
                            &hex[24..32]
                        ),
                    ),
                    _ => ("AWS_EC2_INSTANCE", format!("i-{}", &hex[15..32])),
                };
                let arn = format!("arn:aws:inspector2:{region}:{account}:finding/{hex}");
                let title = format!("{} - {}", v.cve, v.package);
                let mut raw = t.inspector.clone();
                raw["awsAccountId"] = Value::from(account.to_string());
                raw["findingArn"] = Value::from(arn.clone());
                raw["severity"] = Value::from(label.clone());
                raw["status"] = Value::from(match status {
                    Status::Open => "ACTIVE",
                    Status::Suppressed => "SUPPRESSED",
                    Status::Resolved => "CLOSED",
                });
                raw["title"] = Value::from(title.clone());
                raw["updatedAt"] = Value::from(updated.timestamp_millis() as f64 / 1000.0);
                raw["firstObservedAt"] = Value::from(first.timestamp_millis() as f64 / 1000.0);
                raw["resources"][0]["id"] = Value::from(resource_id.clone());
                raw["resources"][0]["type"] = Value::from(resource_type);
                raw["resources"][0]["region"] = Value::from(region.to_string());
                (
                    CanonicalKey::inspector(&arn),
                    arn,
                    title,
                    "PACKAGE_VULNERABILITY".to_owned(),
                    resource_type.to_owned(),
                    resource_id,
                    None,
                    raw,
                )
            }
            Source::Macie => {
                let m = r.pick(MACIE_TYPES);
                let bucket = format!("data-{account}-{}", &hex[28..32]);
                let (resource_type, resource_id) = if m.category == "CLASSIFICATION" {
                    ("S3Object", format!("{bucket}/exports/{}.csv", &hex[16..32]))
                } else {
                    ("S3Bucket", format!("arn:aws:s3:::{bucket}"))
                };
                let mut raw = t.macie.clone();
                raw["accountId"] = Value::from(account.to_string());
                raw["id"] = Value::from(hex.clone());
                raw["region"] = Value::from(region.to_string());
                raw["severity"]["description"] = Value::from(match severity {
                    Severity::Critical | Severity::High => "High",
                    Severity::Medium => "Medium",
                    Severity::Low | Severity::Informational => "Low",
                });
                raw["title"] = Value::from(m.title);
                raw["type"] = Value::from(m.kind);
                raw["category"] = Value::from(m.category);
                raw["archived"] = Value::from(status != Status::Open);
                raw["createdAt"] = Value::from(ms(first));
                raw["updatedAt"] = Value::from(ms(updated));
                raw["resourcesAffected"]["s3Bucket"]["arn"] =
                    Value::from(format!("arn:aws:s3:::{bucket}"));
                raw["resourcesAffected"]["s3Bucket"]["name"] = Value::from(bucket.clone());
                (
                    CanonicalKey::macie(&account, &region, &hex),
                    hex.clone(),
                    m.title.to_owned(),
                    m.kind.to_owned(),
                    resource_type.to_owned(),
                    resource_id,
                    None,
                    raw,
                )
            }
            Source::AccessAnalyzer => {
                let a = r.pick(ANALYZER_TYPES);
                let analyzer =
                    format!("arn:aws:access-analyzer:{region}:{account}:analyzer/organization");
                let mut raw = t.analyzer.clone();
                raw["id"] = Value::from(uuid_like(&hex));
                raw["resourceOwnerAccount"] = Value::from(account.to_string());
                raw["status"] = Value::from(match status {
                    Status::Open => "ACTIVE",
                    Status::Suppressed => "ARCHIVED",
                    Status::Resolved => "RESOLVED",
                });
                raw["createdAt"] = Value::from(ms(first));
                raw["updatedAt"] = Value::from(ms(updated));
                if a.unused {
                    let role = format!("arn:aws:iam::{account}:role/app-{}", &hex[24..32]);
                    raw["findingType"] = Value::from(a.kind);
                    raw["resource"] = Value::from(role.clone());
                    raw["resourceType"] = Value::from("AWS::IAM::Role");
                    let id = uuid_like(&hex);
                    (
                        CanonicalKey::access_analyzer_unused(&analyzer, &id),
                        id,
                        format!("{}: {role}", a.kind),
                        a.kind.to_owned(),
                        "AWS::IAM::Role".to_owned(),
                        role,
                        None,
                        raw,
                    )
                } else {
                    let resource = format!(
                        "arn:aws:{}:{region}:{account}:{}",
                        a.kind
                            .split("::")
                            .nth(1)
                            .unwrap_or("s3")
                            .to_ascii_lowercase(),
                        &hex[..24]
                    );
                    raw["findingType"] = Value::from("ExternalAccess");
                    raw["resource"] = Value::from(resource.clone());
                    raw["resourceType"] = Value::from(a.kind);
                    let who = if a.public {
                        "everyone"
                    } else {
                        "another account"
                    };
                    (
                        CanonicalKey::access_analyzer_external(&analyzer, &resource),
                        format!("{analyzer}/{resource}"),
                        format!("{} {resource} is shared with {who}", a.kind),
                        "ExternalAccess".to_owned(),
                        a.kind.to_owned(),
                        resource,
                        None,
                        raw,
                    )
                }
            }
        };
    Finding {
        key,
        source,
        via: source,
        native_id,
        account_id: account,
        region,
        severity,
        status,
        title,
        finding_type,
        resource_type: Some(resource_type),
        resource_id: Some(resource_id),
        control_id,
        first_observed_at: first,
        updated_at: updated,
        seen_at,
        raw,
    }
}

/// `8-4-4-4-12` hex from 32 hex digits.
fn uuid_like(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The ARN service of an ASFF resource type (`AwsEc2Instance` → `ec2`).
fn service_of(resource_type: &str) -> String {
    let rest = resource_type.trim_start_matches("Aws");
    let end = rest
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_ascii_uppercase())
        .map_or(rest.len(), |(i, _)| i);
    rest[..end].to_ascii_lowercase()
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

    #[test]
    fn an_estate_has_a_realistic_mix() {
        let now = Utc::now();
        let n = 20_000;
        let estate = estate_findings(0, n, 200, 16, now);
        let keys: std::collections::HashSet<_> = estate.iter().map(|f| f.key.clone()).collect();
        assert_eq!(keys.len(), n, "every finding is distinct");
        assert_eq!(estate_findings(1234, 1, 200, 16, now)[0], estate[1234]);
        let share =
            |p: &dyn Fn(&Finding) -> bool| estate.iter().filter(|f| p(f)).count() as f64 / n as f64;
        let open = share(&|f| f.status == Status::Open);
        assert!((0.67..0.73).contains(&open), "open {open}");
        assert!((0.18..0.22).contains(&share(&|f| f.status == Status::Resolved)));
        let critical = share(&|f| f.severity == Severity::Critical);
        let medium = share(&|f| f.severity == Severity::Medium);
        assert!(
            critical > 0.01 && critical < medium,
            "critical {critical}, medium {medium}"
        );
        for s in Source::ALL {
            assert!(share(&|f| f.source == s) > 0.05, "{s:?}");
        }
        let regions: std::collections::HashSet<_> = estate.iter().map(|f| &f.region).collect();
        assert_eq!(regions.len(), 16);
        let accounts: std::collections::HashSet<_> = estate.iter().map(|f| &f.account_id).collect();
        assert_eq!(accounts.len(), 200);
        for f in &estate[..200] {
            assert!(f.resource_type.is_some() && !f.title.is_empty());
            let account = f.account_id.as_str();
            let raw = f.raw.to_string();
            assert!(raw.contains(account), "{raw}");
        }
        let guardduty = estate
            .iter()
            .find(|f| f.source == Source::GuardDuty)
            .unwrap();
        assert_eq!(guardduty.raw["arn"], guardduty.native_id.as_str());
    }
}
