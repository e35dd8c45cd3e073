//! The baseline's CloudTrail, S3 and Organizations reads against moto, an independent AWS
//! emulator (`MOTO_URL`, started by `scripts/test`), which implements those APIs.
//!
//! The test seeds moto through the real SDK clients: an organisation (all features, SCPs enabled
//! on the root) with two OUs and three member accounts, an SCP denying the four protected
//! CloudTrail actions on one OU and a partial one on the other; in the members, reached by
//! AssumeRole, log buckets with lifecycles and multi-region trails with classic and advanced
//! event selectors, plus trails that must be ignored or read as stopped. Sightline's own
//! readers (`sources::cloudtrail`, `sources::organizations`, `sources::s3`) then read them with
//! the `Clients` the poller uses, and `baseline::evaluate` decides the checks.
//!
//! The second test runs the real `sightline poll --once` against a second seeded organisation
//! and finds the same results stored.
//!
//! Where moto 5.2.5 differs from AWS, what it serves is asserted and the difference written down:
//! - `ListBuckets` names no `BucketRegion`: the log archive's bucket reads as `None` and its
//!   lifecycle is read in the trail's home region (moto's S3 answers in any region).
//! - `DescribeTrails` echoes `KmsKeyId` as given (AWS answers the key's ARN; the test gives an
//!   ARN), and answers unset fields (`CloudWatchLogsLogGroupArn`, `KmsKeyId`) as JSON `null`
//!   where AWS leaves them out; Sightline reads both as absent.
//! - Shadow trails: with `includeShadowTrails` moto lists the caller's multi-region trails of
//!   every region, as AWS does, but it has no organisation trails shown to members (a trail's
//!   `IsOrganizationTrail` is only a flag): that path is not exercised here.
//! - `GetTrailStatus` finds a multi-region trail from any region; `GetEventSelectors` only in
//!   its home region (as AWS): the advanced selectors of the trail homed in `OTHER` are read,
//!   so Sightline asks each trail's home region.
//! - `ListParents` of an account outside the organisation answers `AccountNotFoundException`
//!   (AWS: `ChildNotFoundException`, which Sightline words as "not a member").
//! - moto attaches SCPs whether or not the policy type is enabled on the root; the test
//!   enables it anyway, as AWS requires. Every account, OU and the root carry the AWS-managed
//!   `FullAWSAccess`, as in AWS.

use std::collections::HashMap;

use aws_credential_types::Credentials;
use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, ReadWriteType,
};
use aws_sdk_organizations::types::{OrganizationFeatureSet, PolicyType, PolicyTypeStatus};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, Transition,
    TransitionStorageClass,
};
use sightline::baseline::evaluate::{self, BucketOwner, Observation, ScpSeen, Trail};
use sightline::baseline::scp::PROTECTED_ACTIONS;
use sightline::baseline::{Check, CheckResult, Outcome};
use sightline::config::Config;
use sightline::domain::AccountId;
use sightline::poller::clients::Clients;
use sightline::sources::{cloudtrail, organizations, s3};
use sqlx::PgPool;

use crate::moto::moto_url;
use crate::moto_poll::{assume_role, fresh_accounts, poll_once, sdk_config};
use crate::support::url_of;

const ROLE: &str = "SightlineReadOnly";
/// Where trails are listed (the first approved region) and the organisation is read.
const HOME: &str = "us-east-1";
const OTHER: &str = "eu-west-1";
const RETENTION_DAYS: i32 = 1825;

/// What the test seeded, for its assertions.
struct Seeded {
    url: String,
    management: String,
    root: String,
    /// OUs: the one with the full SCP, the one with the partial SCP.
    protected_ou: String,
    partial_ou: String,
    /// Members: under `protected_ou`, under `partial_ou`, and the log archive (under the root).
    workload: String,
    sandbox: String,
    archive: String,
    protect_scp: String,
    partial_scp: String,
    /// The log archive's bucket (lifecycle to Glacier and expiry), in `HOME`.
    archive_bucket: String,
    /// The sandbox's own bucket (expiry only, later than the retention), in `OTHER`.
    sandbox_bucket: String,
    /// The workload's own bucket, named by its trails that must not count.
    workload_bucket: String,
    kms_key: String,
    log_group: String,
}

impl Seeded {
    fn trail_arn(&self, region: &str, account: &str, name: &str) -> String {
        format!("arn:aws:cloudtrail:{region}:{account}:trail/{name}")
    }
}

fn organizations_client(url: &str, keys: &Credentials) -> aws_sdk_organizations::Client {
    aws_sdk_organizations::Client::new(&sdk_config(url, HOME, keys.clone()))
}

fn cloudtrail_client(url: &str, region: &str, keys: &Credentials) -> aws_sdk_cloudtrail::Client {
    aws_sdk_cloudtrail::Client::new(&sdk_config(url, region, keys.clone()))
}

fn s3_client(url: &str, region: &str, keys: &Credentials) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&sdk_config(url, region, keys.clone()))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn scp_document(actions: &[&str]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ProtectCloudTrail",
            "Effect": "Deny",
            "Action": actions,
            "Resource": "*",
        }],
    })
    .to_string()
}

/// Seeds a fresh organisation and its members' trails and buckets in moto.
async fn seed(url: &str) -> Seeded {
    // A management account no other test of this run uses (moto is shared; member ids are
    // moto's random choice).
    let management = fresh_accounts(url)[0].clone();
    let keys = assume_role(url, &management).await;
    let org = organizations_client(url, &keys);

    org.create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let roots = org.list_roots().send().await.unwrap();
    let root = roots.roots()[0].id().unwrap().to_owned();
    let enabled = org
        .enable_policy_type()
        .root_id(&root)
        .policy_type(PolicyType::ServiceControlPolicy)
        .send()
        .await
        .unwrap();
    assert!(
        enabled.root().unwrap().policy_types().iter().any(|p| {
            p.r#type() == Some(&PolicyType::ServiceControlPolicy)
                && p.status() == Some(&PolicyTypeStatus::Enabled)
        }),
        "SCPs enabled on {root}: {enabled:?}"
    );

    let mut ous = Vec::new();
    for name in ["Protected", "Partial"] {
        let ou = org
            .create_organizational_unit()
            .parent_id(&root)
            .name(name)
            .send()
            .await
            .unwrap();
        ous.push(ou.organizational_unit().unwrap().id().unwrap().to_owned());
    }
    let mut members = Vec::new();
    for (name, parent) in [
        ("workload", Some(&ous[0])),
        ("sandbox", Some(&ous[1])),
        ("log-archive", None),
    ] {
        let out = org
            .create_account()
            .account_name(name)
            .email(format!("{name}@example.com"))
            .send()
            .await
            .unwrap();
        let id = out
            .create_account_status()
            .unwrap()
            .account_id()
            .unwrap()
            .to_owned();
        if let Some(ou) = parent {
            org.move_account()
                .account_id(&id)
                .source_parent_id(&root)
                .destination_parent_id(ou)
                .send()
                .await
                .unwrap();
        }
        members.push(id);
    }
    let mut policies = Vec::new();
    for (name, actions, target) in [
        ("ProtectCloudTrail", &PROTECTED_ACTIONS[..], &ous[0]),
        ("PartialTrailGuard", &PROTECTED_ACTIONS[..2], &ous[1]),
    ] {
        let out = org
            .create_policy()
            .name(name)
            .description("Keeps the audit trail on")
            .r#type(PolicyType::ServiceControlPolicy)
            .content(scp_document(actions))
            .send()
            .await
            .unwrap();
        let id = out
            .policy()
            .unwrap()
            .policy_summary()
            .unwrap()
            .id()
            .unwrap()
            .to_owned();
        org.attach_policy()
            .policy_id(&id)
            .target_id(target)
            .send()
            .await
            .unwrap();
        policies.push(id);
    }

    let [workload, sandbox, archive] = <[String; 3]>::try_from(members).unwrap();
    let [protected_ou, partial_ou] = <[String; 2]>::try_from(ous).unwrap();
    let [protect_scp, partial_scp] = <[String; 2]>::try_from(policies).unwrap();
    let s = Seeded {
        url: url.to_owned(),
        archive_bucket: format!("sightline-moto-archive-{management}"),
        sandbox_bucket: format!("sightline-moto-sandbox-{management}"),
        workload_bucket: format!("sightline-moto-workload-{management}"),
        kms_key: format!("arn:aws:kms:{HOME}:{archive}:key/0b6e1b7c-moto-baseline"),
        log_group: format!("arn:aws:logs:{HOME}:{workload}:log-group:cloudtrail:*"),
        management,
        root,
        protected_ou,
        partial_ou,
        workload,
        sandbox,
        archive,
        protect_scp,
        partial_scp,
    };

    // The log archive: its bucket moves logs to Glacier after 90 days and expires them at the
    // retention.
    let keys = assume_role(url, &s.archive).await;
    let bucket = s3_client(url, HOME, &keys);
    bucket
        .create_bucket()
        .bucket(&s.archive_bucket)
        .send()
        .await
        .unwrap();
    bucket
        .put_bucket_lifecycle_configuration()
        .bucket(&s.archive_bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(
                    LifecycleRule::builder()
                        .id("archive")
                        .status(ExpirationStatus::Enabled)
                        .filter(LifecycleRuleFilter::builder().prefix("").build())
                        .transitions(
                            Transition::builder()
                                .days(90)
                                .storage_class(TransitionStorageClass::Glacier)
                                .build(),
                        )
                        .expiration(LifecycleExpiration::builder().days(RETENTION_DAYS).build())
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();

    // The workload: one trail that passes every CloudTrail check (classic selectors), plus a
    // single-region trail that must be ignored and a multi-region one that is not logging.
    let keys = assume_role(url, &s.workload).await;
    s3_client(url, HOME, &keys)
        .create_bucket()
        .bucket(&s.workload_bucket)
        .send()
        .await
        .unwrap();
    let home = cloudtrail_client(url, HOME, &keys);
    home.create_trail()
        .name("org-audit")
        .s3_bucket_name(&s.archive_bucket)
        .is_multi_region_trail(true)
        .include_global_service_events(true)
        .enable_log_file_validation(true)
        .kms_key_id(&s.kms_key)
        .cloud_watch_logs_log_group_arn(&s.log_group)
        .cloud_watch_logs_role_arn(format!(
            "arn:aws:iam::{}:role/CloudTrailToCloudWatch",
            s.workload
        ))
        .send()
        .await
        .unwrap();
    home.start_logging().name("org-audit").send().await.unwrap();
    home.put_event_selectors()
        .trail_name("org-audit")
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::All)
                .include_management_events(true)
                .data_resources(
                    DataResource::builder()
                        .r#type("AWS::S3::Object")
                        .values("arn:aws:s3")
                        .build(),
                )
                .data_resources(
                    DataResource::builder()
                        .r#type("AWS::Lambda::Function")
                        .values("arn:aws:lambda")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    home.create_trail()
        .name("regional")
        .s3_bucket_name(&s.workload_bucket)
        .enable_log_file_validation(true)
        .send()
        .await
        .unwrap();
    home.start_logging().name("regional").send().await.unwrap();
    let other = cloudtrail_client(url, OTHER, &keys);
    other
        .create_trail()
        .name("stopped")
        .s3_bucket_name(&s.workload_bucket)
        .is_multi_region_trail(true)
        .include_global_service_events(true)
        .enable_log_file_validation(true)
        .send()
        .await
        .unwrap();

    // The sandbox: a multi-region trail homed in the other region, recording data events
    // through advanced selectors, into its own bucket, without validation, KMS or CloudWatch.
    let keys = assume_role(url, &s.sandbox).await;
    let bucket = s3_client(url, OTHER, &keys);
    bucket
        .create_bucket()
        .bucket(&s.sandbox_bucket)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    bucket
        .put_bucket_lifecycle_configuration()
        .bucket(&s.sandbox_bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(
                    LifecycleRule::builder()
                        .id("expire")
                        .status(ExpirationStatus::Enabled)
                        .filter(LifecycleRuleFilter::builder().prefix("").build())
                        .expiration(LifecycleExpiration::builder().days(3650).build())
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let other = cloudtrail_client(url, OTHER, &keys);
    other
        .create_trail()
        .name("sandbox-trail")
        .s3_bucket_name(&s.sandbox_bucket)
        .is_multi_region_trail(true)
        .include_global_service_events(true)
        .send()
        .await
        .unwrap();
    other
        .start_logging()
        .name("sandbox-trail")
        .send()
        .await
        .unwrap();
    let data = |name: &str, kind: &str| {
        AdvancedEventSelector::builder()
            .name(name)
            .field_selectors(
                AdvancedFieldSelector::builder()
                    .field("eventCategory")
                    .equals("Data")
                    .build()
                    .unwrap(),
            )
            .field_selectors(
                AdvancedFieldSelector::builder()
                    .field("resources.type")
                    .equals(kind)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    other
        .put_event_selectors()
        .trail_name("sandbox-trail")
        .advanced_event_selectors(
            AdvancedEventSelector::builder()
                .name("Management events")
                .field_selectors(
                    AdvancedFieldSelector::builder()
                        .field("eventCategory")
                        .equals("Management")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .advanced_event_selectors(data("S3 objects", "AWS::S3::Object"))
        .advanced_event_selectors(data("Lambda functions", "AWS::Lambda::Function"))
        .send()
        .await
        .unwrap();
    s
}

/// Sightline's configuration for the seeded organisation (`sandbox` is not production).
fn config_text(s: &Seeded) -> String {
    format!(
        r#"listen = "127.0.0.1:1"

[aws]
regions = ["{HOME}", "{OTHER}"]
approved_regions = ["{HOME}", "{OTHER}"]
role_name = "{ROLE}"
endpoint_url = "{url}"
access_key_id = "AKIAMOTOBASELINE"
secret_access_key = "moto"
sources = ["securityhub"]
organizations_account_id = "{management}"

[baseline]
log_archive_account_id = "{archive}"
log_retention_days = {RETENTION_DAYS}
production_environments = ["prod"]

[[accounts]]
id = "{workload}"
name = "moto-workload"
environment = "prod"

[[accounts]]
id = "{sandbox}"
name = "moto-sandbox"
environment = "dev"

[[accounts]]
id = "{archive}"
name = "moto-log-archive"
environment = "prod"

[[accounts]]
id = "{management}"
name = "moto-management"
environment = "prod"
"#,
        url = s.url,
        management = s.management,
        archive = s.archive,
        workload = s.workload,
        sandbox = s.sandbox,
    )
}

fn id(s: &str) -> AccountId {
    s.parse().unwrap()
}

/// What the poller reads for one account, read the same way (`poller::baseline`), and the
/// results `evaluate` decides from it.
async fn observe(
    clients: &Clients,
    config: &Config,
    cache: &organizations::OrgCache,
    management: &str,
    archive_buckets: &HashMap<String, Option<String>>,
    account: &str,
    trails: Result<Vec<Trail>, String>,
) -> (Observation, Vec<CheckResult>) {
    let archive = config.baseline.log_archive_account_id.clone().unwrap();
    let mut bucket_owners = HashMap::new();
    let mut lifecycles = HashMap::new();
    for t in trails.iter().flatten().filter(|t| t.logging) {
        let Some(bucket) = &t.bucket else { continue };
        let (owner, reader, region) = match archive_buckets.get(bucket) {
            Some(region) => (
                BucketOwner::LogArchive,
                archive.clone(),
                region.clone().unwrap_or_else(|| t.home_region.clone()),
            ),
            None => (
                BucketOwner::NotLogArchive,
                id(account),
                t.home_region.clone(),
            ),
        };
        let rules = s3::lifecycle(clients, &reader, bucket, &region)
            .await
            .map_err(|e| e.message);
        bucket_owners.insert(bucket.clone(), owner);
        lifecycles.insert(bucket.clone(), rules);
    }
    let org = config.aws.organizations_account_id.clone().unwrap();
    let scps = organizations::policies_for(clients, cache, &org, &id(account))
        .await
        .map_err(|e| e.message);
    let production = config
        .accounts
        .iter()
        .any(|a| a.id.as_str() == account && a.environment == "prod");
    let observation = Observation {
        account_id: account.to_owned(),
        production,
        management: account == management,
        trails,
        bucket_owners,
        lifecycles,
        log_retention_days: config.baseline.log_retention_days,
        scps,
        cloudwatch_failures: Vec::new(),
        expected_cells: Vec::new(),
        coverage: Vec::new(),
        unapproved_open: Vec::new(),
    };
    let results = evaluate::evaluate(&observation);
    (observation, results)
}

/// The checks that rest on what moto served (the other two read Sightline's own data).
const READ_CHECKS: [Check; 8] = [
    Check::CloudtrailMultiRegion,
    Check::LogFileValidation,
    Check::TrailKmsEncryption,
    Check::LogArchiveSeparateAccount,
    Check::LogBucketLifecycle,
    Check::DataEventsS3Lambda,
    Check::ScpProtectsCloudtrail,
    Check::CloudwatchIntegration,
];

fn scp_seen(id: &str, name: &str, target: &str, denies: &[&'static str]) -> ScpSeen {
    ScpSeen {
        id: id.to_owned(),
        name: name.to_owned(),
        target: target.to_owned(),
        denies: denies.to_vec(),
    }
}

/// Per (account, check): the result, its evidence, and whether it is required.
type Decided = HashMap<(String, Check), (String, String, bool)>;

/// The results the seeded estate must give for `READ_CHECKS`, and the evidence of the main
/// ones: what `evaluate` decides from the readers' answers, and what the poller stores.
fn assert_decided(s: &Seeded, decided: &Decided) {
    use Outcome::{Fail, Pass};
    let expected = [
        (&s.workload, [Pass; 8]),
        (&s.sandbox, [Pass, Fail, Fail, Fail, Fail, Pass, Fail, Fail]),
        (&s.archive, [Fail; 8]),
        (&s.management, [Fail; 8]),
    ];
    for (account, outcomes) in expected {
        for (check, outcome) in READ_CHECKS.into_iter().zip(outcomes) {
            let (result, evidence, _) = decided
                .get(&(account.clone(), check))
                .unwrap_or_else(|| panic!("{account} {}: not decided", check.name()));
            assert_eq!(
                result,
                outcome.as_str(),
                "{account} {}: {evidence}",
                check.name()
            );
        }
    }
    let evidence = |account: &String, check: Check| decided[&(account.clone(), check)].1.as_str();

    // The workload passes on its classic-selector trail, protected by the OU's SCP.
    let org_audit = s.trail_arn(HOME, &s.workload, "org-audit");
    let w = |check| evidence(&s.workload, check);
    assert_eq!(
        w(Check::CloudtrailMultiRegion),
        format!("{org_audit} is logging in every region")
    );
    assert_eq!(
        w(Check::LogFileValidation),
        format!("{org_audit}: LogFileValidationEnabled")
    );
    assert_eq!(
        w(Check::TrailKmsEncryption),
        format!("{org_audit}: KMS key {}", s.kms_key)
    );
    assert_eq!(
        w(Check::LogArchiveSeparateAccount),
        format!(
            "{org_audit} delivers to s3://{}, owned by the log-archive account",
            s.archive_bucket
        )
    );
    assert_eq!(
        w(Check::LogBucketLifecycle),
        format!(
            "s3://{}: rule archive moves logs to GLACIER after 90 days; rule archive expires \
             them after {RETENTION_DAYS} days (retention {RETENTION_DAYS})",
            s.archive_bucket
        )
    );
    assert_eq!(
        w(Check::DataEventsS3Lambda),
        format!(
            "{org_audit}: event selector DataResources AWS::S3::Object arn:aws:s3; \
             {org_audit}: event selector DataResources AWS::Lambda::Function arn:aws:lambda"
        )
    );
    assert_eq!(
        w(Check::ScpProtectsCloudtrail),
        format!(
            "denied by {} (ProtectCloudTrail, on {})",
            s.protect_scp, s.protected_ou
        )
    );
    assert!(
        w(Check::CloudwatchIntegration).starts_with(&format!("{org_audit} feeds {}", s.log_group)),
        "{}",
        w(Check::CloudwatchIntegration)
    );

    // The sandbox's trail, homed in the other region, records data events through advanced
    // selectors (advisory outside production) and fails the rest; its SCP is partial.
    let sandbox_trail = s.trail_arn(OTHER, &s.sandbox, "sandbox-trail");
    let p = |check| evidence(&s.sandbox, check);
    assert_eq!(
        p(Check::CloudtrailMultiRegion),
        format!("{sandbox_trail} is logging in every region")
    );
    assert_eq!(
        p(Check::DataEventsS3Lambda),
        format!(
            "{sandbox_trail}: advanced event selector \"S3 objects\" (AWS::S3::Object); \
             {sandbox_trail}: advanced event selector \"Lambda functions\" (AWS::Lambda::Function)"
        )
    );
    assert!(!decided[&(s.sandbox.clone(), Check::DataEventsS3Lambda)].2);
    assert!(decided[&(s.workload.clone(), Check::DataEventsS3Lambda)].2);
    assert_eq!(
        p(Check::LogArchiveSeparateAccount),
        format!(
            "s3://{} is not owned by the log-archive account",
            s.sandbox_bucket
        )
    );
    assert_eq!(
        p(Check::LogBucketLifecycle),
        format!(
            "s3://{}: no transition to Glacier-class storage, logs expire after 3650 days, \
             later than the retention of {RETENTION_DAYS}",
            s.sandbox_bucket
        )
    );
    assert_eq!(
        p(Check::ScpProtectsCloudtrail),
        format!(
            "cloudtrail:UpdateTrail, cloudtrail:PutEventSelectors not denied (partial: {} \
             (PartialTrailGuard, on {}))",
            s.partial_scp, s.partial_ou
        )
    );

    // The log archive has no trail of its own and only FullAWSAccess above it; SCPs never
    // apply to the management account.
    assert_eq!(
        evidence(&s.archive, Check::CloudtrailMultiRegion),
        "no multi-region trail"
    );
    assert_eq!(
        evidence(&s.archive, Check::ScpProtectsCloudtrail),
        "none of the 2 policies that apply denies a CloudTrail action"
    );
    assert!(
        evidence(&s.management, Check::ScpProtectsCloudtrail).starts_with(
            "service control policies do not apply to the organisation's management account"
        ),
        "{}",
        evidence(&s.management, Check::ScpProtectsCloudtrail)
    );
}

#[tokio::test]
async fn baseline_reads_cloudtrail_s3_and_organizations_from_moto() {
    let Some(url) = moto_url() else { return };
    let s = seed(&url).await;
    let config = Config::parse(&config_text(&s)).unwrap();
    let clients = Clients::new(&config).await;
    let cache = organizations::OrgCache::default();

    // Organizations: the management account, and the SCPs above each account with the
    // protected actions they deny.
    let management = organizations::management_account(&clients, &id(&s.management))
        .await
        .unwrap();
    assert_eq!(management, s.management);
    let org = id(&s.management);
    let full = "p-FullAWSAccess";
    let name = "FullAWSAccess";
    let policies = |account: String| {
        let (clients, cache, org) = (&clients, &cache, &org);
        async move {
            organizations::policies_for(clients, cache, org, &id(&account))
                .await
                .unwrap()
        }
    };
    assert_eq!(
        policies(s.workload.clone()).await,
        vec![
            scp_seen(full, name, &s.workload, &[]),
            scp_seen(full, name, &s.protected_ou, &[]),
            scp_seen(
                &s.protect_scp,
                "ProtectCloudTrail",
                &s.protected_ou,
                &PROTECTED_ACTIONS
            ),
            scp_seen(full, name, &s.root, &[]),
        ]
    );
    assert_eq!(
        policies(s.sandbox.clone()).await,
        vec![
            scp_seen(full, name, &s.sandbox, &[]),
            scp_seen(full, name, &s.partial_ou, &[]),
            scp_seen(
                &s.partial_scp,
                "PartialTrailGuard",
                &s.partial_ou,
                &PROTECTED_ACTIONS[..2]
            ),
            scp_seen(full, name, &s.root, &[]),
        ]
    );
    assert_eq!(
        policies(s.archive.clone()).await,
        vec![
            scp_seen(full, name, &s.archive, &[]),
            scp_seen(full, name, &s.root, &[]),
        ]
    );
    // An account outside the organisation is an error, not an empty list. AWS answers
    // ListParents with ChildNotFoundException, which Sightline words as "not a member of the
    // organisation"; moto 5.2.5 answers AccountNotFoundException, passed on as it came.
    let stranger = fresh_accounts(&s.management)[1].clone();
    let refused = organizations::policies_for(&clients, &cache, &org, &id(&stranger))
        .await
        .unwrap_err();
    assert!(
        refused.message.contains("AccountNotFoundException"),
        "{refused:?}"
    );

    // S3: the log archive lists its own bucket only (moto names no region), and the lifecycle
    // rules as seeded; the workload's bucket has none.
    let archive_buckets: HashMap<String, Option<String>> =
        s3::list_buckets(&clients, &id(&s.archive))
            .await
            .unwrap()
            .into_iter()
            .collect();
    assert_eq!(
        archive_buckets,
        HashMap::from([(s.archive_bucket.clone(), None)]),
        "moto's ListBuckets answers the caller's buckets, without BucketRegion"
    );
    let rules = s3::lifecycle(&clients, &id(&s.archive), &s.archive_bucket, HOME)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rules,
        vec![evaluate::LifecycleRule {
            id: "archive".into(),
            enabled: true,
            transitions: vec![("GLACIER".into(), Some(90))],
            expiration_days: Some(RETENTION_DAYS),
        }]
    );
    assert_eq!(
        s3::lifecycle(&clients, &id(&s.workload), &s.workload_bucket, HOME)
            .await
            .unwrap(),
        None,
        "NoSuchLifecycleConfiguration reads as no lifecycle"
    );

    // What moto's DescribeTrails serves the workload in HOME with shadow trails: its three
    // trails, the one homed in OTHER included, the single-region one too.
    let keys = assume_role(&url, &s.workload).await;
    let listed = cloudtrail_client(&url, HOME, &keys)
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
        .unwrap();
    let mut served: Vec<(&str, &str, bool)> = listed
        .trail_list()
        .iter()
        .map(|t| {
            (
                t.name().unwrap(),
                t.home_region().unwrap(),
                t.is_multi_region_trail().unwrap(),
            )
        })
        .collect();
    served.sort();
    assert_eq!(
        served,
        [
            ("org-audit", HOME, true),
            ("regional", HOME, false),
            ("stopped", OTHER, true),
        ]
    );

    // CloudTrail: listed in one region, shadow trails bring the other region's multi-region
    // trails; the single-region trail is left out; status and selectors come from each
    // trail's home region.
    let read = |account: String| {
        let clients = &clients;
        async move { cloudtrail::read_trails(clients, &id(&account), HOME).await }
    };
    let workload_trails = read(s.workload.clone()).await.unwrap();
    assert_eq!(
        workload_trails,
        vec![
            Trail {
                arn: s.trail_arn(OTHER, &s.workload, "stopped"),
                home_region: OTHER.into(),
                organization: false,
                logging: false,
                validation: true,
                kms_key: None,
                bucket: Some(s.workload_bucket.clone()),
                log_group: None,
                s3_data_events: None,
                lambda_data_events: None,
            },
            Trail {
                arn: s.trail_arn(HOME, &s.workload, "org-audit"),
                home_region: HOME.into(),
                organization: false,
                logging: true,
                validation: true,
                kms_key: Some(s.kms_key.clone()),
                bucket: Some(s.archive_bucket.clone()),
                log_group: Some(s.log_group.clone()),
                s3_data_events: Some(
                    "event selector DataResources AWS::S3::Object arn:aws:s3".into()
                ),
                lambda_data_events: Some(
                    "event selector DataResources AWS::Lambda::Function arn:aws:lambda".into()
                ),
            },
        ]
    );
    let sandbox_trails = read(s.sandbox.clone()).await.unwrap();
    assert_eq!(
        sandbox_trails,
        vec![Trail {
            arn: s.trail_arn(OTHER, &s.sandbox, "sandbox-trail"),
            home_region: OTHER.into(),
            organization: false,
            logging: true,
            validation: false,
            kms_key: None,
            bucket: Some(s.sandbox_bucket.clone()),
            log_group: None,
            s3_data_events: Some("advanced event selector \"S3 objects\" (AWS::S3::Object)".into()),
            lambda_data_events: Some(
                "advanced event selector \"Lambda functions\" (AWS::Lambda::Function)".into()
            ),
        }]
    );
    let archive_trails = read(s.archive.clone()).await.unwrap();
    assert_eq!(archive_trails, vec![]);

    // The checks, decided from what was read.
    let mut decided = Decided::new();
    for (account, trails) in [
        (&s.workload, Ok(workload_trails)),
        (&s.sandbox, Ok(sandbox_trails)),
        (&s.archive, Ok(archive_trails)),
        (
            &s.management,
            read(s.management.clone()).await.map_err(|e| e.message),
        ),
    ] {
        let (observation, results) = observe(
            &clients,
            &config,
            &cache,
            &management,
            &archive_buckets,
            account,
            trails,
        )
        .await;
        eprintln!("{account}: {observation:#?}");
        for r in results {
            eprintln!("  {} {:?}: {}", r.check.name(), r.outcome, r.evidence);
            decided.insert(
                (account.clone(), r.check),
                (r.outcome.as_str().to_owned(), r.evidence, r.required),
            );
        }
    }
    assert_decided(&s, &decided);
}

/// The real `sightline poll --once` against the seeded organisation: the stored baseline must
/// be what the readers above decide.
#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn poll_once_against_moto_stores_the_baseline(pool: PgPool) {
    let Some(url) = moto_url() else { return };
    let s = seed(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sightline.toml");
    std::fs::write(&path, config_text(&s)).unwrap();
    let db = url_of(&pool).await;
    let out = poll_once(&db, &path).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "poll failed: {stdout}\n{stderr}");

    let rows = sightline::db::baseline::list(&pool, None).await.unwrap();
    assert_eq!(rows.len(), 4 * Check::ALL.len(), "{stdout}\n{stderr}");
    let decided: Decided = rows
        .into_iter()
        .map(|r| {
            let check = Check::parse(&r.check_name).unwrap();
            ((r.account_id, check), (r.result, r.evidence, r.required))
        })
        .collect();
    assert_decided(&s, &decided);
}
