//! The observability baseline: ten checks of each account's audit trail, each `pass`, `fail` or
//! `unknown`, with its evidence.
//!
//! `evaluate` decides the results from what was read (pure, tested case by case); the poller
//! reads AWS (`sources::cloudtrail`, `sources::s3`, `sources::organizations`) and Sightline's own
//! data, and `db::baseline` stores the results and every change of result.

pub mod evaluate;
pub mod scp;

use serde::Serialize;

/// The ten checks, under the names of DESIGN.md's interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    CloudtrailMultiRegion,
    LogFileValidation,
    TrailKmsEncryption,
    LogArchiveSeparateAccount,
    LogBucketLifecycle,
    DataEventsS3Lambda,
    ScpProtectsCloudtrail,
    CloudwatchIntegration,
    ServicesAllRegions,
    NoUnapprovedRegionActivity,
}

impl Check {
    pub const ALL: [Check; 10] = [
        Check::CloudtrailMultiRegion,
        Check::LogFileValidation,
        Check::TrailKmsEncryption,
        Check::LogArchiveSeparateAccount,
        Check::LogBucketLifecycle,
        Check::DataEventsS3Lambda,
        Check::ScpProtectsCloudtrail,
        Check::CloudwatchIntegration,
        Check::ServicesAllRegions,
        Check::NoUnapprovedRegionActivity,
    ];

    /// The name in the API, the database and URLs.
    pub fn name(self) -> &'static str {
        match self {
            Check::CloudtrailMultiRegion => "cloudtrail_multi_region",
            Check::LogFileValidation => "log_file_validation",
            Check::TrailKmsEncryption => "trail_kms_encryption",
            Check::LogArchiveSeparateAccount => "log_archive_separate_account",
            Check::LogBucketLifecycle => "log_bucket_lifecycle",
            Check::DataEventsS3Lambda => "data_events_s3_lambda",
            Check::ScpProtectsCloudtrail => "scp_protects_cloudtrail",
            Check::CloudwatchIntegration => "cloudwatch_integration",
            Check::ServicesAllRegions => "services_all_regions",
            Check::NoUnapprovedRegionActivity => "no_unapproved_region_activity",
        }
    }

    pub fn parse(name: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.name() == name)
    }

    /// A short column heading.
    pub fn short(self) -> &'static str {
        match self {
            Check::CloudtrailMultiRegion => "Multi-region trail",
            Check::LogFileValidation => "Log validation",
            Check::TrailKmsEncryption => "KMS",
            Check::LogArchiveSeparateAccount => "Log archive",
            Check::LogBucketLifecycle => "Lifecycle",
            Check::DataEventsS3Lambda => "Data events",
            Check::ScpProtectsCloudtrail => "SCP",
            Check::CloudwatchIntegration => "CloudWatch",
            Check::ServicesAllRegions => "All services",
            Check::NoUnapprovedRegionActivity => "Approved regions",
        }
    }

    /// What the check asks, as a sentence.
    pub fn title(self) -> &'static str {
        match self {
            Check::CloudtrailMultiRegion => {
                "A multi-region CloudTrail trail (the account's own or an organisation trail) is logging"
            }
            Check::LogFileValidation => "Log-file integrity validation is on for that trail",
            Check::TrailKmsEncryption => "That trail's logs are encrypted with a KMS key",
            Check::LogArchiveSeparateAccount => {
                "The trail delivers to a bucket owned by the separate log-archive account"
            }
            Check::LogBucketLifecycle => {
                "The log bucket moves old logs to Glacier-class storage and expires them after the retention period"
            }
            Check::DataEventsS3Lambda => "S3 object and Lambda function data events are recorded",
            Check::ScpProtectsCloudtrail => {
                "A service control policy denies StopLogging, DeleteTrail, UpdateTrail and PutEventSelectors"
            }
            Check::CloudwatchIntegration => {
                "The trail feeds CloudWatch Logs, and Security Hub's CloudWatch alarm controls pass"
            }
            Check::ServicesAllRegions => {
                "Every security service is enabled in every watched region"
            }
            Check::NoUnapprovedRegionActivity => "Nothing runs in an unapproved region",
        }
    }

    /// Why a failure matters, in one sentence.
    pub fn why(self) -> &'static str {
        match self {
            Check::CloudtrailMultiRegion => {
                "Without a trail that is logging in every region, API activity in an unwatched region leaves no record."
            }
            Check::LogFileValidation => {
                "Without digest files nobody can prove that a log was not edited or deleted after delivery."
            }
            Check::TrailKmsEncryption => {
                "With S3-managed keys anyone who can read the bucket can read the logs; a KMS key adds its own access control and an audit of every decryption."
            }
            Check::LogArchiveSeparateAccount => {
                "A compromised account can rewrite or delete the history kept in its own bucket; a separate log-archive account keeps it out of reach."
            }
            Check::LogBucketLifecycle => {
                "Without a lifecycle, logs either grow in cost forever or are deleted by hand, and nothing guarantees they are kept for the retention period."
            }
            Check::DataEventsS3Lambda => {
                "Management events do not show who read or changed which object or invoked which function: a data breach leaves no trace without data events."
            }
            Check::ScpProtectsCloudtrail => {
                "Whoever gains administrator rights in the account can switch off or narrow the trail first and act unseen."
            }
            Check::CloudwatchIntegration => {
                "Without CloudWatch Logs and its alarms nobody is told in minutes about root logins, policy changes or a stopped trail."
            }
            Check::ServicesAllRegions => {
                "Attackers start where nobody watches: a region without GuardDuty or Security Hub raises no finding."
            }
            Check::NoUnapprovedRegionActivity => {
                "Resources in regions the organisation does not use are a classic sign of a compromised account (crypto-mining, exfiltration)."
            }
        }
    }

    /// How to fix a failure: the console path and the CLI command.
    pub fn fix(self) -> &'static str {
        match self {
            Check::CloudtrailMultiRegion => {
                "CloudTrail console → Trails → Create trail (apply to all regions), or from the management account an organisation trail: aws cloudtrail create-trail --name org-trail --s3-bucket-name BUCKET --is-multi-region-trail --is-organization-trail && aws cloudtrail start-logging --name org-trail"
            }
            Check::LogFileValidation => {
                "CloudTrail console → Trails → the trail → General details → Edit → Log file validation: Enabled, or: aws cloudtrail update-trail --name TRAIL --enable-log-file-validation"
            }
            Check::TrailKmsEncryption => {
                "CloudTrail console → Trails → the trail → General details → Edit → SSE-KMS encryption, or: aws cloudtrail update-trail --name TRAIL --kms-key-id KEY_ARN"
            }
            Check::LogArchiveSeparateAccount => {
                "Create the bucket in the log-archive account with a bucket policy that lets cloudtrail.amazonaws.com write, then: aws cloudtrail update-trail --name TRAIL --s3-bucket-name ARCHIVE_BUCKET"
            }
            Check::LogBucketLifecycle => {
                "S3 console (log-archive account) → the bucket → Management → Create lifecycle rule: transition to Glacier Flexible Retrieval or Deep Archive, expire after the retention period; or: aws s3api put-bucket-lifecycle-configuration --bucket BUCKET --lifecycle-configuration file://lifecycle.json"
            }
            Check::DataEventsS3Lambda => {
                "CloudTrail console → Trails → the trail → Data events → Edit → add S3 and Lambda, or: aws cloudtrail put-event-selectors --trail-name TRAIL --advanced-event-selectors '[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Data\"]},{\"Field\":\"resources.type\",\"Equals\":[\"AWS::S3::Object\"]}]},{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Data\"]},{\"Field\":\"resources.type\",\"Equals\":[\"AWS::Lambda::Function\"]}]}]'"
            }
            Check::ScpProtectsCloudtrail => {
                "Organizations console (management account) → Policies → Service control policies → Create policy denying cloudtrail:StopLogging, cloudtrail:DeleteTrail, cloudtrail:UpdateTrail and cloudtrail:PutEventSelectors, then attach it to the root or the account's OU: aws organizations attach-policy --policy-id P --target-id ROOT_OR_OU"
            }
            Check::CloudwatchIntegration => {
                "CloudTrail console → Trails → the trail → CloudWatch Logs → Edit → Enabled (or aws cloudtrail update-trail --name TRAIL --cloud-watch-logs-log-group-arn ARN --cloud-watch-logs-role-arn ROLE), then create the metric filters and alarms of Security Hub's CloudWatch.1–14 controls"
            }
            Check::ServicesAllRegions => {
                "Enable each service organisation-wide from its delegated administrator with auto-enable for all regions (Security Hub central configuration, GuardDuty, Inspector, Macie, and an Access Analyzer analyzer per region); see the coverage page for the missing cells"
            }
            Check::NoUnapprovedRegionActivity => {
                "Investigate the findings listed for the unapproved regions, remove what should not be there, and deny those regions with an SCP on aws:RequestedRegion"
            }
        }
    }
}

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "pass" => Some(Outcome::Pass),
            "fail" => Some(Outcome::Fail),
            "unknown" => Some(Outcome::Unknown),
            _ => None,
        }
    }
}

/// One account's result for one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub check: Check,
    pub outcome: Outcome,
    /// What the result rests on: the trail ARN, the selector, the policy id, the bucket owner,
    /// or why it could not be read.
    pub evidence: String,
    /// False where the check is advisory for this account (data events outside production).
    pub required: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_the_design_names() {
        let names: Vec<&str> = Check::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "cloudtrail_multi_region",
                "log_file_validation",
                "trail_kms_encryption",
                "log_archive_separate_account",
                "log_bucket_lifecycle",
                "data_events_s3_lambda",
                "scp_protects_cloudtrail",
                "cloudwatch_integration",
                "services_all_regions",
                "no_unapproved_region_activity",
            ]
        );
        for c in Check::ALL {
            assert_eq!(Check::parse(c.name()), Some(c));
        }
        assert_eq!(Check::parse("nope"), None);
    }
}
