//! What the simulated organisation's findings are about: real finding types, controls, CVEs.
//! Each entry carries the severity its service gives it, in that service's own terms.

use std::sync::OnceLock;

/// A Security Hub control (AWS Foundational Security Best Practices or CIS), as AWS names it.
#[derive(Debug)]
pub struct Control {
    pub id: &'static str,
    pub title: &'static str,
    /// ASFF `Severity.Label` of a FAILED finding.
    pub severity: &'static str,
    /// ASFF resource type the control evaluates.
    pub resource_type: &'static str,
}

pub const CONTROLS: &[Control] = &[
    Control {
        id: "EC2.8",
        title: "EC2 instances should use Instance Metadata Service Version 2 (IMDSv2)",
        severity: "HIGH",
        resource_type: "AwsEc2Instance",
    },
    Control {
        id: "EC2.2",
        title: "VPC default security groups should not allow inbound or outbound traffic",
        severity: "HIGH",
        resource_type: "AwsEc2SecurityGroup",
    },
    Control {
        id: "EC2.19",
        title: "Security groups should not allow unrestricted access to ports with high risk",
        severity: "CRITICAL",
        resource_type: "AwsEc2SecurityGroup",
    },
    Control {
        id: "EC2.7",
        title: "EBS default encryption should be enabled",
        severity: "MEDIUM",
        resource_type: "AwsAccount",
    },
    Control {
        id: "EC2.18",
        title: "Security groups should only allow unrestricted incoming traffic for authorized ports",
        severity: "HIGH",
        resource_type: "AwsEc2SecurityGroup",
    },
    Control {
        id: "S3.1",
        title: "S3 general purpose buckets should have block public access settings enabled",
        severity: "MEDIUM",
        resource_type: "AwsAccount",
    },
    Control {
        id: "S3.2",
        title: "S3 general purpose buckets should block public read access",
        severity: "CRITICAL",
        resource_type: "AwsS3Bucket",
    },
    Control {
        id: "S3.5",
        title: "S3 general purpose buckets should require requests to use SSL",
        severity: "MEDIUM",
        resource_type: "AwsS3Bucket",
    },
    Control {
        id: "S3.8",
        title: "S3 general purpose buckets should block public access",
        severity: "HIGH",
        resource_type: "AwsS3Bucket",
    },
    Control {
        id: "S3.9",
        title: "S3 general purpose buckets should have server access logging enabled",
        severity: "MEDIUM",
        resource_type: "AwsS3Bucket",
    },
    Control {
        id: "IAM.1",
        title: "IAM policies should not allow full \"*\" administrative privileges",
        severity: "HIGH",
        resource_type: "AwsIamPolicy",
    },
    Control {
        id: "IAM.3",
        title: "IAM users' access keys should be rotated every 90 days or less",
        severity: "MEDIUM",
        resource_type: "AwsIamUser",
    },
    Control {
        id: "IAM.4",
        title: "IAM root user access key should not exist",
        severity: "CRITICAL",
        resource_type: "AwsAccount",
    },
    Control {
        id: "IAM.6",
        title: "Hardware MFA should be enabled for the root user",
        severity: "CRITICAL",
        resource_type: "AwsAccount",
    },
    Control {
        id: "IAM.8",
        title: "Unused IAM user credentials should be removed",
        severity: "MEDIUM",
        resource_type: "AwsIamUser",
    },
    Control {
        id: "CloudTrail.1",
        title: "CloudTrail should be enabled and configured with at least one multi-Region trail that includes read and write management events",
        severity: "HIGH",
        resource_type: "AwsAccount",
    },
    Control {
        id: "CloudTrail.2",
        title: "CloudTrail should have encryption at-rest enabled",
        severity: "MEDIUM",
        resource_type: "AwsCloudTrailTrail",
    },
    Control {
        id: "CloudTrail.4",
        title: "CloudTrail log file validation should be enabled",
        severity: "LOW",
        resource_type: "AwsCloudTrailTrail",
    },
    Control {
        id: "CloudTrail.5",
        title: "CloudTrail trails should be integrated with Amazon CloudWatch Logs",
        severity: "LOW",
        resource_type: "AwsCloudTrailTrail",
    },
    Control {
        id: "RDS.2",
        title: "RDS DB Instances should prohibit public access, as determined by the PubliclyAccessible configuration",
        severity: "CRITICAL",
        resource_type: "AwsRdsDbInstance",
    },
    Control {
        id: "RDS.3",
        title: "RDS DB instances should have encryption at-rest enabled",
        severity: "MEDIUM",
        resource_type: "AwsRdsDbInstance",
    },
    Control {
        id: "Lambda.1",
        title: "Lambda function policies should prohibit public access",
        severity: "CRITICAL",
        resource_type: "AwsLambdaFunction",
    },
    Control {
        id: "Lambda.2",
        title: "Lambda functions should use supported runtimes",
        severity: "MEDIUM",
        resource_type: "AwsLambdaFunction",
    },
    Control {
        id: "KMS.4",
        title: "AWS KMS key rotation should be enabled",
        severity: "MEDIUM",
        resource_type: "AwsKmsKey",
    },
    Control {
        id: "GuardDuty.1",
        title: "GuardDuty should be enabled",
        severity: "HIGH",
        resource_type: "AwsAccount",
    },
    Control {
        id: "Config.1",
        title: "AWS Config should be enabled and use the service-linked role for resource recording",
        severity: "MEDIUM",
        resource_type: "AwsAccount",
    },
    Control {
        id: "ELB.1",
        title: "Application Load Balancer should be configured to redirect all HTTP requests to HTTPS",
        severity: "MEDIUM",
        resource_type: "AwsElbv2LoadBalancer",
    },
    Control {
        id: "ECR.1",
        title: "ECR private repositories should have image scanning configured",
        severity: "HIGH",
        resource_type: "AwsEcrRepository",
    },
    Control {
        id: "SSM.1",
        title: "Amazon EC2 instances should be managed by AWS Systems Manager",
        severity: "MEDIUM",
        resource_type: "AwsEc2Instance",
    },
    Control {
        id: "CloudWatch.1",
        title: "A log metric filter and alarm should exist for usage of the \"root\" user",
        severity: "LOW",
        resource_type: "AwsAccount",
    },
];

/// An Inspector package vulnerability: a real CVE in a real package.
#[derive(Debug)]
pub struct Vulnerability {
    pub cve: &'static str,
    pub package: &'static str,
    pub installed: &'static str,
    pub fixed: &'static str,
    pub manager: &'static str,
    /// Inspector `severity`.
    pub severity: &'static str,
    pub cvss: f64,
}

pub const VULNERABILITIES: &[Vulnerability] = &[
    Vulnerability {
        cve: "CVE-2021-44228",
        package: "log4j-core",
        installed: "2.14.1",
        fixed: "2.15.0",
        manager: "JAR",
        severity: "CRITICAL",
        cvss: 10.0,
    },
    Vulnerability {
        cve: "CVE-2022-22965",
        package: "spring-beans",
        installed: "5.3.17",
        fixed: "5.3.18",
        manager: "JAR",
        severity: "CRITICAL",
        cvss: 9.8,
    },
    Vulnerability {
        cve: "CVE-2022-42889",
        package: "commons-text",
        installed: "1.9",
        fixed: "1.10.0",
        manager: "JAR",
        severity: "CRITICAL",
        cvss: 9.8,
    },
    Vulnerability {
        cve: "CVE-2024-3094",
        package: "xz-utils",
        installed: "5.6.0-0.2",
        fixed: "5.6.1+really5.4.5-1",
        manager: "OS",
        severity: "CRITICAL",
        cvss: 10.0,
    },
    Vulnerability {
        cve: "CVE-2024-6387",
        package: "openssh-server",
        installed: "1:9.2p1-2+deb12u2",
        fixed: "1:9.2p1-2+deb12u3",
        manager: "OS",
        severity: "HIGH",
        cvss: 8.1,
    },
    Vulnerability {
        cve: "CVE-2023-4911",
        package: "glibc",
        installed: "2.34-52.amzn2023.0.3",
        fixed: "2.34-52.amzn2023.0.6",
        manager: "OS",
        severity: "HIGH",
        cvss: 7.8,
    },
    Vulnerability {
        cve: "CVE-2023-4863",
        package: "libwebp",
        installed: "1.2.4-0.2",
        fixed: "1.2.4-0.2+deb12u1",
        manager: "OS",
        severity: "HIGH",
        cvss: 8.8,
    },
    Vulnerability {
        cve: "CVE-2023-44487",
        package: "golang.org/x/net",
        installed: "0.15.0",
        fixed: "0.17.0",
        manager: "GOMOD",
        severity: "HIGH",
        cvss: 7.5,
    },
    Vulnerability {
        cve: "CVE-2024-21626",
        package: "runc",
        installed: "1.1.11-1.amzn2023.0.1",
        fixed: "1.1.12-1.amzn2023.0.1",
        manager: "OS",
        severity: "HIGH",
        cvss: 8.6,
    },
    Vulnerability {
        cve: "CVE-2023-38545",
        package: "curl",
        installed: "8.2.1-1.amzn2023.0.1",
        fixed: "8.3.0-1.amzn2023.0.1",
        manager: "OS",
        severity: "HIGH",
        cvss: 9.8,
    },
    Vulnerability {
        cve: "CVE-2022-0847",
        package: "kernel",
        installed: "5.10.96-90.460.amzn2",
        fixed: "5.10.102-99.473.amzn2",
        manager: "OS",
        severity: "HIGH",
        cvss: 7.8,
    },
    Vulnerability {
        cve: "CVE-2021-3156",
        package: "sudo",
        installed: "1.8.23-10.amzn2.1",
        fixed: "1.8.23-10.amzn2.2",
        manager: "OS",
        severity: "HIGH",
        cvss: 7.8,
    },
    Vulnerability {
        cve: "CVE-2023-0286",
        package: "openssl",
        installed: "3.0.7-1.amzn2023.0.1",
        fixed: "3.0.8-1.amzn2023.0.1",
        manager: "OS",
        severity: "HIGH",
        cvss: 7.4,
    },
    Vulnerability {
        cve: "CVE-2021-23337",
        package: "lodash",
        installed: "4.17.20",
        fixed: "4.17.21",
        manager: "NPM",
        severity: "HIGH",
        cvss: 7.2,
    },
    Vulnerability {
        cve: "CVE-2022-24999",
        package: "qs",
        installed: "6.5.2",
        fixed: "6.5.3",
        manager: "NPM",
        severity: "HIGH",
        cvss: 7.5,
    },
    Vulnerability {
        cve: "CVE-2023-5363",
        package: "openssl",
        installed: "3.0.8-1.amzn2023.0.4",
        fixed: "3.0.8-1.amzn2023.0.9",
        manager: "OS",
        severity: "MEDIUM",
        cvss: 7.5,
    },
    Vulnerability {
        cve: "CVE-2023-32681",
        package: "requests",
        installed: "2.28.2",
        fixed: "2.31.0",
        manager: "PYTHONPKG",
        severity: "MEDIUM",
        cvss: 6.1,
    },
    Vulnerability {
        cve: "CVE-2024-2961",
        package: "glibc",
        installed: "2.36-9+deb12u4",
        fixed: "2.36-9+deb12u7",
        manager: "OS",
        severity: "MEDIUM",
        cvss: 7.3,
    },
    Vulnerability {
        cve: "CVE-2023-45853",
        package: "zlib",
        installed: "1.2.13.dfsg-1",
        fixed: "1.3.dfsg-3",
        manager: "OS",
        severity: "MEDIUM",
        cvss: 9.8,
    },
    Vulnerability {
        cve: "CVE-2023-29383",
        package: "shadow-utils",
        installed: "4.9-12.amzn2023.0.2",
        fixed: "4.9-12.amzn2023.0.4",
        manager: "OS",
        severity: "LOW",
        cvss: 3.3,
    },
    Vulnerability {
        cve: "CVE-2022-3821",
        package: "systemd",
        installed: "252.16-1.amzn2023.0.1",
        fixed: "252.23-2.amzn2023",
        manager: "OS",
        severity: "LOW",
        cvss: 5.5,
    },
    Vulnerability {
        cve: "CVE-2023-7008",
        package: "systemd",
        installed: "252.16-1.amzn2023.0.1",
        fixed: "",
        manager: "OS",
        severity: "UNTRIAGED",
        cvss: 5.9,
    },
];

/// A Macie finding type and its `severity.description`.
#[derive(Debug)]
pub struct MacieType {
    pub kind: &'static str,
    pub category: &'static str,
    pub severity: &'static str,
    pub title: &'static str,
}

pub const MACIE_TYPES: &[MacieType] = &[
    MacieType {
        kind: "SensitiveData:S3Object/Personal",
        category: "CLASSIFICATION",
        severity: "Low",
        title: "The S3 object contains personal information.",
    },
    MacieType {
        kind: "SensitiveData:S3Object/Financial",
        category: "CLASSIFICATION",
        severity: "Medium",
        title: "The S3 object contains financial information.",
    },
    MacieType {
        kind: "SensitiveData:S3Object/Credentials",
        category: "CLASSIFICATION",
        severity: "High",
        title: "The S3 object contains credentials data.",
    },
    MacieType {
        kind: "SensitiveData:S3Object/Multiple",
        category: "CLASSIFICATION",
        severity: "High",
        title: "The S3 object contains multiple categories of sensitive information.",
    },
    MacieType {
        kind: "Policy:IAMUser/S3BucketPublic",
        category: "POLICY",
        severity: "High",
        title: "The S3 bucket is publicly accessible.",
    },
    MacieType {
        kind: "Policy:IAMUser/S3BlockPublicAccessDisabled",
        category: "POLICY",
        severity: "High",
        title: "Block public access settings are disabled for the S3 bucket.",
    },
    MacieType {
        kind: "Policy:IAMUser/S3BucketSharedExternally",
        category: "POLICY",
        severity: "High",
        title: "The S3 bucket is shared with an external AWS account.",
    },
    MacieType {
        kind: "Policy:IAMUser/S3BucketEncryptionDisabled",
        category: "POLICY",
        severity: "Low",
        title: "Default encryption is disabled for the S3 bucket.",
    },
];

/// An Access Analyzer finding shape: external access to a resource type, or unused access.
#[derive(Debug)]
pub struct AnalyzerType {
    /// `resourceType` (external access) or `findingType` (unused access).
    pub kind: &'static str,
    pub unused: bool,
    /// Whether the access is public (external access only): public → high in Sightline.
    pub public: bool,
}

pub const ANALYZER_TYPES: &[AnalyzerType] = &[
    AnalyzerType {
        kind: "AWS::S3::Bucket",
        unused: false,
        public: true,
    },
    AnalyzerType {
        kind: "AWS::S3::Bucket",
        unused: false,
        public: false,
    },
    AnalyzerType {
        kind: "AWS::IAM::Role",
        unused: false,
        public: false,
    },
    AnalyzerType {
        kind: "AWS::KMS::Key",
        unused: false,
        public: false,
    },
    AnalyzerType {
        kind: "AWS::Lambda::Function",
        unused: false,
        public: true,
    },
    AnalyzerType {
        kind: "AWS::SQS::Queue",
        unused: false,
        public: false,
    },
    AnalyzerType {
        kind: "AWS::SecretsManager::Secret",
        unused: false,
        public: false,
    },
    AnalyzerType {
        kind: "UnusedIAMRole",
        unused: true,
        public: false,
    },
    AnalyzerType {
        kind: "UnusedIAMUserAccessKey",
        unused: true,
        public: false,
    },
    AnalyzerType {
        kind: "UnusedPermission",
        unused: true,
        public: false,
    },
];

/// A GuardDuty finding type with a documented default severity.
#[derive(Debug)]
pub struct ThreatType {
    pub kind: String,
    /// "Low", "Medium", "High" or "Critical".
    pub severity: String,
}

/// The GuardDuty finding types of `fixtures/aws/guardduty-finding-types.txt` whose severity is
/// fixed (not "Varies"), read once.
pub fn threat_types() -> &'static [ThreatType] {
    static TYPES: OnceLock<Vec<ThreatType>> = OnceLock::new();
    TYPES.get_or_init(|| {
        include_str!("../../fixtures/aws/guardduty-finding-types.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.contains("(retired)"))
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let kind = cols.next()?.trim();
                let severity = cols.next()?.trim();
                matches!(severity, "Low" | "Medium" | "High" | "Critical").then(|| ThreatType {
                    kind: kind.to_owned(),
                    severity: severity.to_owned(),
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guardduty_types_come_from_the_fixture() {
        let types = threat_types();
        assert!(types.len() > 100, "{}", types.len());
        assert!(
            types
                .iter()
                .any(|t| t.kind == "CryptoCurrency:EC2/BitcoinTool.B")
        );
        assert!(
            types
                .iter()
                .all(|t| ["Low", "Medium", "High", "Critical"].contains(&t.severity.as_str()))
        );
    }
}
