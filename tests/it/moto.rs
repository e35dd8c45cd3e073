//! A cross-check against moto, an independent AWS emulator that `scripts/test` starts (its URL
//! in `MOTO_URL`): the same SDK calls must succeed against moto and against the simulator, and
//! for each kind of item the simulator must populate every field that moto populates.
//!
//! moto answers what it is seeded with, so seeding it from the public fixtures makes it a
//! second, independent witness of the real shapes, reached through the real SDK both ways.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_inspector2::primitives::DateTime;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, Compliance, ComplianceStatus, DateFilter,
    Partition, Recommendation, RecordState, Remediation, Resource, Severity, SeverityLabel,
    SortCriterion, SortOrder, Workflow, WorkflowStatus,
};
use serde_json::Value;
use sightline::sim::org::{Access, Options, Service};
use sightline::sim::server::{SimHandle, spawn};

/// The account moto answers as for any key it did not issue itself.
const MOTO_ACCOUNT: &str = "123456789012";
/// The account the fixtures were written for; replaced by moto's before seeding.
const FIXTURE_ACCOUNT: &str = "111111111111";
const REGION: &str = "us-east-1";

/// The populated fields of one item, named after the SDK getters that read them.
type Shape = BTreeSet<&'static str>;

pub(crate) fn moto_url() -> Option<String> {
    match std::env::var("MOTO_URL") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_owned()),
        _ => {
            eprintln!("moto cross-check skipped: MOTO_URL is not set (scripts/test starts moto)");
            None
        }
    }
}

/// An SDK config for `endpoint` with fixed credentials (moto accepts any).
fn config(endpoint: &str, credentials: Credentials) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build()
}

fn moto_config(url: &str) -> aws_config::SdkConfig {
    config(url, Credentials::from_keys("testing", "testing", None))
}

fn put(shape: &mut Shape, field: &'static str, populated: bool) {
    if populated {
        shape.insert(field);
    }
}

/// An enum value the SDK recognises (a missing required one reads as "no value was set").
fn known(value: &str, values: &[&str]) -> bool {
    values.contains(&value)
}

/// Fails unless every field moto populates for a kind is populated in each simulator item of
/// that kind, naming every gap and how many items show it. Returns the kinds both answered.
fn assert_covers(
    what: &str,
    moto: &BTreeMap<String, Shape>,
    sim: &BTreeMap<String, Vec<(String, Shape)>>,
) -> BTreeSet<String> {
    let mut common = BTreeSet::new();
    let mut gaps = Vec::new();
    for (kind, wanted) in moto {
        let Some(items) = sim.get(kind) else {
            eprintln!("{what}: the simulator served no `{kind}` item to compare");
            continue;
        };
        common.insert(kind.clone());
        eprintln!(
            "{what}: `{kind}`: {} simulator items checked for {wanted:?}",
            items.len()
        );
        for field in wanted {
            let lacking: Vec<&str> = items
                .iter()
                .filter(|(_, shape)| !shape.contains(field))
                .map(|(id, _)| id.as_str())
                .collect();
            if let Some(example) = lacking.first() {
                gaps.push(format!(
                    "`{kind}` {field}: missing in {} of {} items (e.g. {example})",
                    lacking.len(),
                    items.len()
                ));
            }
        }
    }
    assert!(
        gaps.is_empty(),
        "{what}: the simulator lacks fields that moto populates:\n  {}",
        gaps.join("\n  ")
    );
    common
}

/// The fields populated in every one of `items`, per kind.
fn common_shape_per_kind(items: &[(String, Shape)]) -> BTreeMap<String, Shape> {
    let mut out: BTreeMap<String, Shape> = BTreeMap::new();
    for (kind, shape) in items {
        out.entry(kind.clone())
            .and_modify(|s| s.retain(|f| shape.contains(f)))
            .or_insert_with(|| shape.clone());
    }
    out
}

fn group(items: Vec<(String, String, Shape)>) -> BTreeMap<String, Vec<(String, Shape)>> {
    let mut out: BTreeMap<String, Vec<(String, Shape)>> = BTreeMap::new();
    for (kind, id, shape) in items {
        out.entry(kind).or_default().push((id, shape));
    }
    out
}

/// 2015-01-01 and 2100-01-01: a timestamp outside is a unit or parsing mistake.
const SANE: (i64, i64) = (1_420_070_400, 4_102_444_800);

fn assert_sane(what: &str, id: &str, name: &str, secs: i64) {
    assert!(
        (SANE.0..SANE.1).contains(&secs),
        "{what}: {id}: {name} = {secs} s since the epoch is not a plausible time"
    );
}

/// A simulator account whose role can be assumed and whose services answer.
fn allowed_accounts(sim: &SimHandle) -> Vec<(usize, String)> {
    let e = sim.state.estate.read().unwrap();
    e.accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.access == Access::Allowed && a.id != e.management)
        .map(|(i, a)| (i, a.id.clone()))
        .collect()
}

/// Runs an async test on its own runtime on a thread with a 32 MiB stack. In debug builds the
/// SDK's Security Hub deserializer needs more than a test thread's 2 MiB for one finding with
/// `Resources[].Details` (measured: ~1.8 MiB down to `de_resource`, then `de_resource_details`'
/// frame overflows).
fn on_big_stack<F, Fut>(test: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let thread = std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(test())
        })
        .unwrap();
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

// ---------------------------------------------------------------------------------------------
// STS AssumeRole

fn assume_role_shape(out: &aws_sdk_sts::operation::assume_role::AssumeRoleOutput) -> Shape {
    let mut s = Shape::new();
    if let Some(c) = out.credentials() {
        put(
            &mut s,
            "credentials.access_key_id",
            !c.access_key_id().is_empty(),
        );
        put(
            &mut s,
            "credentials.secret_access_key",
            !c.secret_access_key().is_empty(),
        );
        put(
            &mut s,
            "credentials.session_token",
            !c.session_token().is_empty(),
        );
        put(&mut s, "credentials.expiration", c.expiration().secs() > 0);
    }
    if let Some(u) = out.assumed_role_user() {
        put(&mut s, "assumed_role_user.arn", !u.arn().is_empty());
        put(
            &mut s,
            "assumed_role_user.assumed_role_id",
            !u.assumed_role_id().is_empty(),
        );
    }
    put(
        &mut s,
        "packed_policy_size",
        out.packed_policy_size().is_some(),
    );
    put(&mut s, "source_identity", out.source_identity().is_some());
    s
}

/// `AssumeRole` into `account`, then `GetCallerIdentity` with the credentials it gave.
async fn assume_and_ask(endpoint: &str, caller: Credentials, account: &str) -> Shape {
    let sts = aws_sdk_sts::Client::new(&config(endpoint, caller));
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/SightlineReadOnly"))
        .role_session_name("sightline")
        .external_id("sightline-crosscheck")
        .send()
        .await
        .unwrap_or_else(|e| panic!("AssumeRole at {endpoint}: {e:?}"));
    let c = out.credentials().unwrap();
    let now = chrono::Utc::now().timestamp();
    let expires = c.expiration().secs();
    assert!(
        expires > now + 600 && expires <= now + 12 * 3600,
        "AssumeRole at {endpoint}: expiration {expires} is not in the next 10 min to 12 h (now {now})"
    );
    let user = out.assumed_role_user().unwrap();
    assert!(
        user.arn().starts_with(&format!(
            "arn:aws:sts::{account}:assumed-role/SightlineReadOnly/"
        )),
        "AssumeRole at {endpoint}: assumed role ARN {}",
        user.arn()
    );
    let issued = Credentials::from_keys(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
    );
    let me = aws_sdk_sts::Client::new(&config(endpoint, issued))
        .get_caller_identity()
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetCallerIdentity at {endpoint}: {e:?}"));
    assert_eq!(
        me.account(),
        Some(account),
        "{endpoint}: the issued credentials must be the role account's"
    );
    assume_role_shape(&out)
}

#[tokio::test]
async fn assume_role_answers_like_moto() {
    let Some(url) = moto_url() else { return };
    let sim = spawn(Options::default()).await.unwrap();
    let (_, target) = allowed_accounts(&sim).into_iter().next().unwrap();

    // A second account in moto, so the issued keys must carry it.
    let moto = assume_and_ask(
        &url,
        Credentials::from_keys("testing", "testing", None),
        FIXTURE_ACCOUNT,
    )
    .await;
    let simulated = assume_and_ask(
        &sim.url,
        Credentials::from_keys("AKIAOPERATOR", "operator-secret", None),
        &target,
    )
    .await;
    eprintln!("AssumeRole: moto {moto:?}\nAssumeRole: simulator {simulated:?}");
    assert!(moto.contains("credentials.session_token"), "{moto:?}");
    let missing: Vec<_> = moto.difference(&simulated).collect();
    assert!(
        missing.is_empty(),
        "AssumeRole: the simulator lacks {missing:?}, which moto populates"
    );
}

// ---------------------------------------------------------------------------------------------
// Security Hub GetFindings

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    })
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A `BatchImportFindings` entry built from a fixture finding (its top-level shape, the first
/// level of the nested members the poller reads).
fn asff(v: &Value) -> AwsSecurityFinding {
    let severity = v.get("Severity").map(|s| {
        Severity::builder()
            .set_label(text(s, "Label").map(|l| SeverityLabel::from(l.as_str())))
            .set_normalized(s["Normalized"].as_i64().map(|n| n as i32))
            .set_original(text(s, "Original"))
            .set_product(s["Product"].as_f64())
            .build()
    });
    let resources = v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            Resource::builder()
                .set_type(text(r, "Type"))
                .set_id(text(r, "Id"))
                .set_partition(text(r, "Partition").map(|p| Partition::from(p.as_str())))
                .set_region(text(r, "Region"))
                .build()
        })
        .collect();
    let compliance = v.get("Compliance").map(|c| {
        Compliance::builder()
            .set_status(text(c, "Status").map(|s| ComplianceStatus::from(s.as_str())))
            .set_security_control_id(text(c, "SecurityControlId"))
            .build()
    });
    let remediation = v.get("Remediation").map(|r| {
        let rec = &r["Recommendation"];
        Remediation::builder()
            .recommendation(
                Recommendation::builder()
                    .set_text(text(rec, "Text"))
                    .set_url(text(rec, "Url"))
                    .build(),
            )
            .build()
    });
    let product_fields: Option<HashMap<String, String>> =
        v.get("ProductFields").and_then(Value::as_object).map(|m| {
            m.iter()
                .map(|(k, x)| (k.clone(), x.as_str().unwrap_or_default().to_owned()))
                .collect()
        });
    AwsSecurityFinding::builder()
        .set_schema_version(text(v, "SchemaVersion"))
        .set_id(text(v, "Id"))
        .set_product_arn(text(v, "ProductArn"))
        .set_product_name(text(v, "ProductName"))
        .set_company_name(text(v, "CompanyName"))
        .set_region(text(v, "Region"))
        .set_generator_id(text(v, "GeneratorId"))
        .set_aws_account_id(text(v, "AwsAccountId"))
        .set_types(strings(&v["Types"]))
        .set_first_observed_at(text(v, "FirstObservedAt"))
        .set_last_observed_at(text(v, "LastObservedAt"))
        .set_created_at(text(v, "CreatedAt"))
        .set_updated_at(text(v, "UpdatedAt"))
        .set_severity(severity)
        .set_title(text(v, "Title"))
        .set_description(text(v, "Description"))
        .set_source_url(text(v, "SourceUrl"))
        .set_remediation(remediation)
        .set_product_fields(product_fields)
        .set_resources(Some(resources))
        .set_compliance(compliance)
        .set_workflow(v.get("Workflow").map(|w| {
            Workflow::builder()
                .set_status(text(w, "Status").map(|s| WorkflowStatus::from(s.as_str())))
                .build()
        }))
        .set_record_state(text(v, "RecordState").map(|s| RecordState::from(s.as_str())))
        .build()
}

/// ASFF timestamps are ISO 8601 strings; `None` when absent or unparsable.
fn iso_secs(s: Option<&str>) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s?)
        .ok()
        .map(|t| t.timestamp())
}

/// (kind, id, shape): the kind is the product that reported the finding.
fn asff_shape(f: &AwsSecurityFinding) -> (String, String, Shape) {
    let mut s = Shape::new();
    let present = |x: Option<&str>| x.is_some_and(|x| !x.is_empty());
    put(&mut s, "schema_version", present(f.schema_version()));
    put(&mut s, "id", present(f.id()));
    put(&mut s, "product_arn", present(f.product_arn()));
    put(&mut s, "product_name", present(f.product_name()));
    put(&mut s, "company_name", present(f.company_name()));
    put(&mut s, "region", present(f.region()));
    put(&mut s, "generator_id", present(f.generator_id()));
    put(&mut s, "aws_account_id", present(f.aws_account_id()));
    put(&mut s, "types", !f.types().is_empty());
    put(
        &mut s,
        "first_observed_at",
        iso_secs(f.first_observed_at()).is_some(),
    );
    put(
        &mut s,
        "last_observed_at",
        iso_secs(f.last_observed_at()).is_some(),
    );
    put(&mut s, "created_at", iso_secs(f.created_at()).is_some());
    put(&mut s, "updated_at", iso_secs(f.updated_at()).is_some());
    if let Some(sev) = f.severity() {
        put(
            &mut s,
            "severity.label",
            sev.label()
                .is_some_and(|l| known(l.as_str(), SeverityLabel::values())),
        );
        put(&mut s, "severity.normalized", sev.normalized().is_some());
        put(&mut s, "severity.original", present(sev.original()));
    }
    put(&mut s, "title", present(f.title()));
    put(&mut s, "description", present(f.description()));
    put(&mut s, "source_url", present(f.source_url()));
    put(
        &mut s,
        "remediation.recommendation",
        f.remediation()
            .and_then(|r| r.recommendation())
            .is_some_and(|r| r.text().is_some() || r.url().is_some()),
    );
    put(
        &mut s,
        "product_fields",
        f.product_fields().is_some_and(|m| !m.is_empty()),
    );
    if let Some(r) = f.resources().first() {
        put(&mut s, "resources[0].type", present(r.r#type()));
        put(&mut s, "resources[0].id", present(r.id()));
        put(
            &mut s,
            "resources[0].partition",
            r.partition()
                .is_some_and(|p| known(p.as_str(), Partition::values())),
        );
        put(&mut s, "resources[0].region", present(r.region()));
    }
    if let Some(c) = f.compliance() {
        put(
            &mut s,
            "compliance.status",
            c.status()
                .is_some_and(|x| known(x.as_str(), ComplianceStatus::values())),
        );
        put(
            &mut s,
            "compliance.security_control_id",
            present(c.security_control_id()),
        );
    }
    put(
        &mut s,
        "workflow.status",
        f.workflow()
            .and_then(|w| w.status())
            .is_some_and(|x| known(x.as_str(), WorkflowStatus::values())),
    );
    put(
        &mut s,
        "record_state",
        f.record_state()
            .is_some_and(|x| known(x.as_str(), RecordState::values())),
    );
    (
        f.product_name().unwrap_or("?").to_owned(),
        f.id().unwrap_or("?").to_owned(),
        s,
    )
}

/// The poller's kind of call: everything updated in a wide window, oldest first, 100 a page.
async fn get_all_findings(
    what: &str,
    client: &aws_sdk_securityhub::Client,
) -> Vec<AwsSecurityFinding> {
    client
        .get_findings()
        .filters(
            AwsSecurityFindingFilters::builder()
                .updated_at(
                    DateFilter::builder()
                        .start("2015-01-01T00:00:00.000Z")
                        .end("2099-12-31T23:59:59.999Z")
                        .build(),
                )
                .build(),
        )
        .sort_criteria(
            SortCriterion::builder()
                .field("UpdatedAt")
                .sort_order(SortOrder::Ascending)
                .build(),
        )
        .max_results(100)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("GetFindings against {what}: {e:?}"))
}

/// Timestamps parse, lie in a plausible range and are in order (created ≤ updated, first
/// observed ≤ last observed).
fn assert_asff_times(what: &str, f: &AwsSecurityFinding) {
    let id = f.id().unwrap_or("?");
    let fields = [
        ("created_at", f.created_at()),
        ("updated_at", f.updated_at()),
        ("first_observed_at", f.first_observed_at()),
        ("last_observed_at", f.last_observed_at()),
    ];
    for (name, value) in fields {
        if let Some(v) = value {
            let secs = iso_secs(Some(v))
                .unwrap_or_else(|| panic!("{what}: {id}: {name} {v:?} is not ISO 8601"));
            assert_sane(what, id, name, secs);
        }
    }
    if let (Some(c), Some(u)) = (iso_secs(f.created_at()), iso_secs(f.updated_at())) {
        assert!(c <= u, "{what}: {id}: created_at after updated_at");
    }
    if let (Some(a), Some(b)) = (
        iso_secs(f.first_observed_at()),
        iso_secs(f.last_observed_at()),
    ) {
        assert!(
            a <= b,
            "{what}: {id}: first_observed_at after last_observed_at"
        );
    }
}

/// The simulator target holding findings of the most products (every product, normally).
fn richest_securityhub_target(sim: &SimHandle) -> (String, String) {
    let accounts = allowed_accounts(sim);
    let e = sim.state.estate.read().unwrap();
    let mut best = None;
    let mut best_count = 0;
    for (a, id) in &accounts {
        for (r, region) in e.regions.iter().enumerate() {
            if !e.is_enabled(*a, r, Service::SecurityHub) {
                continue;
            }
            let products = Service::ALL
                .into_iter()
                .filter(|s| e.target_findings(*a, r, *s).next().is_some())
                .count();
            if products > best_count {
                best_count = products;
                best = Some((id.clone(), region.clone()));
            }
        }
    }
    best.unwrap()
}

#[test]
fn securityhub_get_findings_answers_like_moto() {
    on_big_stack(securityhub_get_findings);
}

async fn securityhub_get_findings() {
    let Some(url) = moto_url() else { return };

    // Seed moto with the fixture's findings, as moto's account's.
    let fixture = include_str!("../../fixtures/aws/securityhub-get-findings.json")
        .replace(FIXTURE_ACCOUNT, MOTO_ACCOUNT);
    let fixture: Value = serde_json::from_str(&fixture).unwrap();
    let seeds: Vec<AwsSecurityFinding> = fixture["Findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(asff)
        .collect();
    let moto = aws_sdk_securityhub::Client::new(&moto_config(&url));
    let imported = moto
        .batch_import_findings()
        .set_findings(Some(seeds.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        imported.failed_count(),
        Some(0),
        "{:?}",
        imported.failed_findings()
    );

    let from_moto = get_all_findings("moto", &moto).await;
    let seeded_ids: BTreeSet<_> = seeds.iter().filter_map(|f| f.id()).collect();
    let moto_items: Vec<_> = from_moto
        .iter()
        .filter(|f| f.id().is_some_and(|id| seeded_ids.contains(id)))
        .collect();
    assert_eq!(
        moto_items.len(),
        seeds.len(),
        "moto answers every seeded finding"
    );
    for f in &moto_items {
        assert_asff_times("moto", f);
    }
    let moto_shapes = common_shape_per_kind(
        &moto_items
            .iter()
            .map(|f| {
                let (kind, _, shape) = asff_shape(f);
                (kind, shape)
            })
            .collect::<Vec<_>>(),
    );

    let sim = spawn(Options::default()).await.unwrap();
    let (account, region) = richest_securityhub_target(&sim);
    let now = sim.state.estate.read().unwrap().now;
    let simulated = aws_sdk_securityhub::Client::new(&sim.client_config(&account, &region));
    let from_sim = get_all_findings("the simulator", &simulated).await;
    assert!(!from_sim.is_empty(), "the simulator served no finding");
    for f in &from_sim {
        assert_asff_times("the simulator", f);
        let updated = iso_secs(f.updated_at()).unwrap();
        assert!(
            updated <= now,
            "the simulator: {:?} updated after its clock's now",
            f.id()
        );
        assert_eq!(f.aws_account_id(), Some(account.as_str()));
    }
    let sim_shapes = group(from_sim.iter().map(asff_shape).collect());

    let common = assert_covers("Security Hub GetFindings", &moto_shapes, &sim_shapes);
    for product in [
        "Security Hub",
        "GuardDuty",
        "Inspector",
        "Macie",
        "IAM Access Analyzer",
    ] {
        assert!(
            common.contains(product),
            "`{product}` findings were not compared (moto kinds {:?}, simulator kinds {:?})",
            moto_shapes.keys().collect::<Vec<_>>(),
            sim_shapes.keys().collect::<Vec<_>>()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Inspector2 ListFindings

/// (kind, id, shape): the kind is the finding type.
fn inspector_shape(f: &aws_sdk_inspector2::types::Finding) -> (String, String, Shape) {
    use aws_sdk_inspector2::types::{
        ExploitAvailable, FindingStatus, FindingType, FixAvailable, ResourceType, Severity,
    };
    let mut s = Shape::new();
    put(&mut s, "finding_arn", !f.finding_arn().is_empty());
    put(&mut s, "aws_account_id", !f.aws_account_id().is_empty());
    put(
        &mut s,
        "type",
        known(f.r#type().as_str(), FindingType::values()),
    );
    put(&mut s, "description", !f.description().is_empty());
    put(&mut s, "title", f.title().is_some_and(|t| !t.is_empty()));
    put(
        &mut s,
        "remediation.recommendation.text",
        f.remediation()
            .and_then(|r| r.recommendation())
            .and_then(|r| r.text())
            .is_some_and(|t| !t.is_empty()),
    );
    put(
        &mut s,
        "severity",
        known(f.severity().as_str(), Severity::values()),
    );
    put(
        &mut s,
        "status",
        known(f.status().as_str(), FindingStatus::values()),
    );
    put(
        &mut s,
        "first_observed_at",
        f.first_observed_at().secs() > 0,
    );
    put(&mut s, "last_observed_at", f.last_observed_at().secs() > 0);
    put(
        &mut s,
        "updated_at",
        f.updated_at().is_some_and(|t| t.secs() > 0),
    );
    if let Some(r) = f.resources().first() {
        put(
            &mut s,
            "resources[0].type",
            known(r.r#type().as_str(), ResourceType::values()),
        );
        put(&mut s, "resources[0].id", !r.id().is_empty());
        put(&mut s, "resources[0].partition", r.partition().is_some());
        put(&mut s, "resources[0].region", r.region().is_some());
        put(&mut s, "resources[0].details", r.details().is_some());
    }
    put(&mut s, "inspector_score", f.inspector_score().is_some());
    put(
        &mut s,
        "fix_available",
        f.fix_available()
            .is_some_and(|x| known(x.as_str(), FixAvailable::values())),
    );
    put(
        &mut s,
        "exploit_available",
        f.exploit_available()
            .is_some_and(|x| known(x.as_str(), ExploitAvailable::values())),
    );
    put(&mut s, "epss", f.epss().is_some());
    if let Some(p) = f.package_vulnerability_details() {
        put(
            &mut s,
            "package_vulnerability_details.vulnerability_id",
            !p.vulnerability_id().is_empty(),
        );
        put(
            &mut s,
            "package_vulnerability_details.source",
            !p.source().is_empty(),
        );
        put(
            &mut s,
            "package_vulnerability_details.vulnerable_packages[0].name/version",
            p.vulnerable_packages()
                .first()
                .is_some_and(|v| !v.name().is_empty() && !v.version().is_empty()),
        );
        put(
            &mut s,
            "package_vulnerability_details.vendor_severity",
            p.vendor_severity().is_some(),
        );
    }
    put(
        &mut s,
        "network_reachability_details",
        f.network_reachability_details().is_some(),
    );
    (
        f.r#type().as_str().to_owned(),
        f.finding_arn().to_owned(),
        s,
    )
}

fn assert_inspector_times(what: &str, f: &aws_sdk_inspector2::types::Finding) {
    let id = f.finding_arn();
    let first = f.first_observed_at().secs();
    let last = f.last_observed_at().secs();
    assert_sane(what, id, "first_observed_at", first);
    assert_sane(what, id, "last_observed_at", last);
    assert!(first <= last, "{what}: {id}: first observed after last");
    if let Some(u) = f.updated_at() {
        assert_sane(what, id, "updated_at", u.secs());
        assert!(
            u.secs() >= first,
            "{what}: {id}: updated before first observed"
        );
    }
}

/// The poller's kind of call: everything updated in a wide window, 100 a page.
async fn list_all_findings(
    what: &str,
    client: &aws_sdk_inspector2::Client,
) -> Vec<aws_sdk_inspector2::types::Finding> {
    use aws_sdk_inspector2::types::{DateFilter, FilterCriteria};
    client
        .list_findings()
        .filter_criteria(
            FilterCriteria::builder()
                .updated_at(
                    DateFilter::builder()
                        .start_inclusive(DateTime::from_secs(SANE.0))
                        .end_inclusive(DateTime::from_secs(SANE.1))
                        .build(),
                )
                .build(),
        )
        .max_results(100)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("ListFindings against {what}: {e:?}"))
}

#[test]
fn inspector2_list_findings_answers_like_moto() {
    on_big_stack(inspector2_list_findings);
}

async fn inspector2_list_findings() {
    let Some(url) = moto_url() else { return };

    // moto's ListFindings answers from a queue of canned results, filled through its API.
    let fixture = include_str!("../../fixtures/aws/inspector2-list-findings.json")
        .replace(FIXTURE_ACCOUNT, MOTO_ACCOUNT);
    let fixture: Value = serde_json::from_str(&fixture).unwrap();
    let seeded = fixture["findings"].as_array().unwrap().len();
    let body = serde_json::json!({
        "results": [fixture["findings"]],
        "account_id": MOTO_ACCOUNT,
        "region": REGION,
    });
    let (status, answer) = crate::support::http_with_body(
        "POST",
        &format!("{url}/moto-api/static/inspector2/findings-results"),
        &body.to_string(),
    )
    .await
    .unwrap();
    assert!(
        (200..300).contains(&status),
        "queueing findings in moto: {status} {answer}"
    );

    let moto = aws_sdk_inspector2::Client::new(&moto_config(&url));
    let from_moto = list_all_findings("moto", &moto).await;
    assert_eq!(from_moto.len(), seeded, "moto answers the queued findings");
    for f in &from_moto {
        assert_inspector_times("moto", f);
    }
    let moto_shapes = common_shape_per_kind(
        &from_moto
            .iter()
            .map(|f| {
                let (kind, _, shape) = inspector_shape(f);
                (kind, shape)
            })
            .collect::<Vec<_>>(),
    );

    let sim = spawn(Options::default()).await.unwrap();
    let (account, region) = {
        let accounts = allowed_accounts(&sim);
        let e = sim.state.estate.read().unwrap();
        accounts
            .iter()
            .flat_map(|(a, id)| e.regions.iter().enumerate().map(move |r| (*a, id, r)))
            .find(|(a, _, (r, _))| {
                e.is_enabled(*a, *r, Service::Inspector)
                    && e.target_findings(*a, *r, Service::Inspector).count() > 1
            })
            .map(|(_, id, (_, region))| (id.clone(), region.clone()))
            .unwrap()
    };
    let simulated = aws_sdk_inspector2::Client::new(&sim.client_config(&account, &region));
    let from_sim = list_all_findings("the simulator", &simulated).await;
    assert!(!from_sim.is_empty(), "the simulator served no finding");
    for f in &from_sim {
        assert_inspector_times("the simulator", f);
        assert_eq!(f.aws_account_id(), account);
    }
    let sim_shapes = group(from_sim.iter().map(inspector_shape).collect());

    let common = assert_covers("Inspector2 ListFindings", &moto_shapes, &sim_shapes);
    assert!(
        common.contains("PACKAGE_VULNERABILITY"),
        "package vulnerabilities were not compared (moto kinds {:?}, simulator kinds {:?})",
        moto_shapes.keys().collect::<Vec<_>>(),
        sim_shapes.keys().collect::<Vec<_>>()
    );
}
