//! The real `sightline poll --once` against moto, an independent AWS emulator (`MOTO_URL`,
//! started by `scripts/test`): three accounts reached by AssumeRole in two regions, seeded with
//! Security Hub and Inspector findings and GuardDuty detectors. The stored counts must equal
//! the seeds, and GuardDuty's failures (moto has no `ListFindings`) must be recorded on their
//! targets without stopping the others.
//!
//! moto keeps one state for the whole run and scopes it by the account of the calling key (an
//! assumed role's key belongs to the role's account) and the request's region; each test
//! therefore seeds fresh account ids.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::process::{Command, Output};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, RecordState, Resource, Severity,
    SeverityLabel, Workflow, WorkflowStatus,
};
use serde_json::Value;
use sightline::db::stats;
use sqlx::PgPool;

use crate::support::{http_with_body, url_of};

type Key = (String, String, String, String, String);

const ROLE: &str = "SightlineReadOnly";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
/// The account the fixtures were written for, replaced before seeding.
const FIXTURE_ACCOUNT: &str = "111111111111";

/// One Security Hub control finding as seeded (`Severity.Label`, `Workflow.Status`,
/// `Compliance.Status`, `RecordState`) and the (severity, status) Sightline must store.
#[rustfmt::skip]
const CONTROL_SEEDS: [(&str, &str, &str, &str, &str, &str); 12] = [
    ("CRITICAL",      "NEW",        "FAILED", "ACTIVE",   "critical",      "open"),
    ("HIGH",          "NOTIFIED",   "FAILED", "ACTIVE",   "high",          "open"),
    ("MEDIUM",        "NEW",        "FAILED", "ACTIVE",   "medium",        "open"),
    ("LOW",           "NEW",        "FAILED", "ACTIVE",   "low",           "open"),
    ("HIGH",          "SUPPRESSED", "FAILED", "ACTIVE",   "high",          "suppressed"),
    ("MEDIUM",        "RESOLVED",   "FAILED", "ACTIVE",   "medium",        "resolved"),
    // A passed control is resolved whatever its workflow says; so is an archived finding.
    ("INFORMATIONAL", "NEW",        "PASSED", "ACTIVE",   "informational", "resolved"),
    ("CRITICAL",      "NEW",        "FAILED", "ARCHIVED", "critical",      "resolved"),
    ("LOW",           "SUPPRESSED", "FAILED", "ACTIVE",   "low",           "suppressed"),
    ("HIGH",          "NEW",        "FAILED", "ACTIVE",   "high",          "open"),
    ("MEDIUM",        "NOTIFIED",   "FAILED", "ACTIVE",   "medium",        "open"),
    ("CRITICAL",      "SUPPRESSED", "FAILED", "ACTIVE",   "critical",      "suppressed"),
];

/// One Inspector finding as seeded (`severity`, `status`) and as Sightline must store it.
#[rustfmt::skip]
const INSPECTOR_SEEDS: [(&str, &str, &str, &str); 7] = [
    ("CRITICAL",      "ACTIVE",     "critical",      "open"),
    ("HIGH",          "ACTIVE",     "high",          "open"),
    ("MEDIUM",        "SUPPRESSED", "medium",        "suppressed"),
    ("LOW",           "CLOSED",     "low",           "resolved"),
    ("UNTRIAGED",     "ACTIVE",     "informational", "open"),
    ("INFORMATIONAL", "ACTIVE",     "informational", "open"),
    ("HIGH",          "CLOSED",     "high",          "resolved"),
];

/// Security Hub findings seeded in (account index, region index): one target holds more than
/// a page of 100, so the poller follows moto's `NextToken`.
fn securityhub_count(a: usize, r: usize) -> usize {
    if (a, r) == (0, 0) {
        130
    } else {
        5 + 4 * a + 3 * r
    }
}

/// Inspector findings seeded in (account index, region index); the first target has none.
fn inspector_count(a: usize, r: usize) -> usize {
    3 * a + 2 * r
}

/// Where a GuardDuty detector exists (account index, region index); elsewhere there is none.
const DETECTORS: [(usize, usize); 3] = [(0, 0), (1, 1), (2, 0)];

fn moto_url() -> Option<String> {
    match std::env::var("MOTO_URL") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_owned()),
        _ => None,
    }
}

/// Three account ids no other test of this run uses: moto is shared by all of them.
/// `RandomState` is randomly keyed, so the ids change with every test and every run.
pub(crate) fn fresh_accounts(db: &str) -> [String; 3] {
    let base = 100_000_000_000 + RandomState::new().hash_one(db) % 800_000_000_000;
    [0, 1, 2].map(|i| (base + i).to_string())
}

pub(crate) fn sdk_config(
    url: &str,
    region: &str,
    credentials: Credentials,
) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .endpoint_url(url)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build()
}

/// Keys of `ROLE` in `account`, as the poller will get them: moto files whatever they create
/// under that account.
pub(crate) async fn assume_role(url: &str, account: &str) -> Credentials {
    let operator = Credentials::from_keys("AKIAMOTOPOLLSEED", "moto", None);
    let out = aws_sdk_sts::Client::new(&sdk_config(url, REGIONS[0], operator))
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/{ROLE}"))
        .role_session_name("seed")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let keys = Credentials::from_keys(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
    );
    let me = aws_sdk_sts::Client::new(&sdk_config(url, REGIONS[0], keys.clone()))
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.account(), Some(account), "moto scopes keys by account");
    keys
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The `k`th control finding of (account, region), from the fixture's CloudTrail.2 finding.
fn control_finding(template: &str, account: &str, region: &str, k: usize) -> AwsSecurityFinding {
    let v: Value = serde_json::from_str(
        &template
            .replace(FIXTURE_ACCOUNT, account)
            .replace("us-east-1", region),
    )
    .unwrap();
    let (label, workflow, compliance, record, _, _) = CONTROL_SEEDS[k % CONTROL_SEEDS.len()];
    let resources = v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            Resource::builder()
                .set_type(text(r, "/Type"))
                .set_id(text(r, "/Id"))
                .set_region(text(r, "/Region"))
                .build()
        })
        .collect();
    AwsSecurityFinding::builder()
        .set_schema_version(text(&v, "/SchemaVersion"))
        .id(format!(
            "arn:aws:securityhub:{region}:{account}:security-control/CloudTrail.2/finding/moto-poll-{k:04}"
        ))
        .set_product_arn(text(&v, "/ProductArn"))
        .set_product_name(text(&v, "/ProductName"))
        .set_company_name(text(&v, "/CompanyName"))
        .region(region)
        .set_generator_id(text(&v, "/GeneratorId"))
        .aws_account_id(account)
        .types(text(&v, "/Types/0").unwrap())
        .set_first_observed_at(text(&v, "/FirstObservedAt"))
        .set_last_observed_at(text(&v, "/LastObservedAt"))
        .set_created_at(text(&v, "/CreatedAt"))
        .set_updated_at(text(&v, "/UpdatedAt"))
        .severity(Severity::builder().label(SeverityLabel::from(label)).build())
        .set_title(text(&v, "/Title"))
        .set_description(text(&v, "/Description"))
        .set_resources(Some(resources))
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::from(compliance))
                .set_security_control_id(text(&v, "/Compliance/SecurityControlId"))
                .build(),
        )
        .workflow(
            Workflow::builder()
                .status(WorkflowStatus::from(workflow))
                .build(),
        )
        .record_state(RecordState::from(record))
        .build()
}

/// The `k`th Inspector finding of (account index `a`, region), from the fixture's first.
fn inspector_finding(template: &str, account: &str, a: usize, region: &str, k: usize) -> Value {
    let mut v: Value = serde_json::from_str(
        &template
            .replace(FIXTURE_ACCOUNT, account)
            .replace("eu-central-1", region),
    )
    .unwrap();
    let (severity, status, _, _) = INSPECTOR_SEEDS[k % INSPECTOR_SEEDS.len()];
    v["findingArn"] =
        format!("arn:aws:inspector2:{region}:{account}:finding/{a:08x}{k:024x}").into();
    v["severity"] = severity.into();
    v["status"] = status.into();
    v
}

/// Seeds one (account, region) and adds what Sightline must store to `expected`.
async fn seed_target(
    url: &str,
    keys: &Credentials,
    (a, account): (usize, &str),
    (r, region): (usize, &str),
    expected: &mut BTreeMap<Key, i64>,
) {
    let sdk = sdk_config(url, region, keys.clone());
    let mut expect = |source: &str, severity: &str, status: &str| {
        *expected
            .entry((
                account.to_owned(),
                region.to_owned(),
                source.to_owned(),
                severity.to_owned(),
                status.to_owned(),
            ))
            .or_default() += 1;
    };

    // Security Hub: on, then the findings, at most 100 a call as AWS allows.
    let securityhub = aws_sdk_securityhub::Client::new(&sdk);
    securityhub.enable_security_hub().send().await.unwrap();
    let fixture: Value = serde_json::from_str(include_str!(
        "../../fixtures/aws/securityhub-get-findings.json"
    ))
    .unwrap();
    let template = fixture["Findings"][1].to_string();
    let findings: Vec<AwsSecurityFinding> = (0..securityhub_count(a, r))
        .map(|k| control_finding(&template, account, region, k))
        .collect();
    for chunk in findings.chunks(100) {
        let out = securityhub
            .batch_import_findings()
            .set_findings(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.failed_count(), Some(0), "{:?}", out.failed_findings());
    }
    for k in 0..findings.len() {
        let (_, _, _, _, severity, status) = CONTROL_SEEDS[k % CONTROL_SEEDS.len()];
        expect("securityhub", severity, status);
    }

    // Inspector: moto reports no account status until `Enable`, and answers ListFindings from
    // a queue filled through its own API.
    let inspector = aws_sdk_inspector2::Client::new(&sdk);
    {
        use aws_sdk_inspector2::types::{ResourceScanType, Status};
        inspector
            .enable()
            .account_ids(account)
            .set_resource_types(Some(vec![
                ResourceScanType::Ec2,
                ResourceScanType::Ecr,
                ResourceScanType::Lambda,
                ResourceScanType::LambdaCode,
            ]))
            .send()
            .await
            .unwrap();
        let status = inspector
            .batch_get_account_status()
            .account_ids(account)
            .send()
            .await
            .unwrap();
        assert_eq!(
            status
                .accounts()
                .first()
                .and_then(|s| s.state())
                .map(|s| s.status()),
            Some(&Status::Enabled),
            "moto's Inspector status in {account}/{region}"
        );
    }
    let n = inspector_count(a, r);
    if n > 0 {
        let fixture: Value = serde_json::from_str(include_str!(
            "../../fixtures/aws/inspector2-list-findings.json"
        ))
        .unwrap();
        let template = fixture["findings"][0].to_string();
        let findings: Vec<Value> = (0..n)
            .map(|k| inspector_finding(&template, account, a, region, k))
            .collect();
        let body = serde_json::json!({
            "results": [findings],
            "account_id": account,
            "region": region,
        });
        let (status, answer) = http_with_body(
            "POST",
            &format!("{url}/moto-api/static/inspector2/findings-results"),
            &body.to_string(),
        )
        .await
        .unwrap();
        assert!(
            (200..300).contains(&status),
            "queueing Inspector findings in moto: {status} {answer}"
        );
        for k in 0..n {
            let (_, _, severity, status) = INSPECTOR_SEEDS[k % INSPECTOR_SEEDS.len()];
            expect("inspector", severity, status);
        }
    }

    // GuardDuty: a detector in some targets; moto implements no finding call behind it.
    if DETECTORS.contains(&(a, r)) {
        aws_sdk_guardduty::Client::new(&sdk)
            .create_detector()
            .enable(true)
            .send()
            .await
            .unwrap();
    }
}

fn write_config(dir: &tempfile::TempDir, url: &str, accounts: &[String; 3]) -> std::path::PathBuf {
    let mut config = format!(
        r#"listen = "127.0.0.1:1"

[aws]
regions = ["{r0}", "{r1}"]
approved_regions = ["{r0}", "{r1}"]
role_name = "{ROLE}"
endpoint_url = "{url}"
access_key_id = "AKIAMOTOPOLLER"
secret_access_key = "moto"
sources = ["securityhub", "guardduty", "inspector", "macie", "accessanalyzer"]
"#,
        r0 = REGIONS[0],
        r1 = REGIONS[1],
    );
    for (i, id) in accounts.iter().enumerate() {
        config.push_str(&format!(
            "\n[[accounts]]\nid = \"{id}\"\nname = \"moto-{i}\"\nenvironment = \"test\"\n"
        ));
    }
    let path = dir.path().join("sightline.toml");
    std::fs::write(&path, config).unwrap();
    path
}

pub(crate) async fn poll_once(db: &str, config: &std::path::Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sightline"));
    cmd.env("DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .arg("--config")
        .arg(config)
        .args(["poll", "--once"]);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

async fn db_counts(pool: &PgPool) -> BTreeMap<Key, i64> {
    stats::all_counts(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, r, s, v, st, n)| ((a, r, s, v, st), n))
        .collect()
}

/// A target's poll run: finished, findings seen, error.
type Run = (bool, i32, Option<String>);

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn one_cycle_against_moto_stores_what_was_seeded_and_records_guardduty_failures(
    pool: PgPool,
) {
    let Some(url) = moto_url() else {
        eprintln!("moto poll test skipped: MOTO_URL is not set (scripts/test starts moto)");
        return;
    };
    let db = url_of(&pool).await;
    let accounts = fresh_accounts(&db);

    let mut expected = BTreeMap::new();
    for (a, account) in accounts.iter().enumerate() {
        let keys = assume_role(&url, account).await;
        for (r, region) in REGIONS.iter().enumerate() {
            seed_target(&url, &keys, (a, account), (r, region), &mut expected).await;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&dir, &url, &accounts);

    let out = poll_once(&db, &config).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "poll failed: {stdout}\n{stderr}");
    assert!(stdout.contains(" 30 targets "), "{stdout}");

    // Every seeded finding, normalised, and nothing else.
    let actual = db_counts(&pool).await;
    assert_eq!(actual, expected, "stored counts differ from the seeds");
    let unparseable: i64 = sqlx::query_scalar("SELECT count(*) FROM unparseable_findings")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(unparseable, 0);

    let coverage: HashMap<(String, String, String), (String, String)> =
        sqlx::query_as::<_, (String, String, String, String, String)>(
            "SELECT account_id, region, source::text, state::text, message FROM coverage",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, r, s, st, m)| ((a, r, s), (st, m)))
        .collect();
    let runs: Vec<(String, String, String, bool, i32, Option<String>)> = sqlx::query_as(
        "SELECT account_id, region, source::text, ended_at IS NOT NULL, findings_seen, error
         FROM poll_runs WHERE account_id IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut run_of: HashMap<(String, String, String), Vec<Run>> = HashMap::new();
    for (a, r, s, ended, seen, error) in runs {
        run_of
            .entry((a, r, s))
            .or_default()
            .push((ended, seen, error));
    }
    let succeeded: HashMap<(String, String, String), bool> = sqlx::query_as::<
        _,
        (String, String, String, bool),
    >(
        "SELECT account_id, region, source::text, last_success_at IS NOT NULL FROM poll_targets",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(a, r, s, ok)| ((a, r, s), ok))
    .collect();

    assert_eq!(coverage.len(), 30, "{coverage:?}");
    for (a, account) in accounts.iter().enumerate() {
        for (r, region) in REGIONS.iter().enumerate() {
            let key = |source: &str| (account.clone(), region.to_string(), source.to_owned());
            // The cycle reached every target, whatever its service answered: moto's Macie is on
            // by default but has no ListFindings (404), and moto has no Access Analyzer at all
            // (500, retried by the SDK, then recorded).
            for source in [
                "securityhub",
                "guardduty",
                "inspector",
                "macie",
                "accessanalyzer",
            ] {
                let runs = run_of.get(&key(source)).map_or(&[][..], Vec::as_slice);
                assert!(
                    runs.len() == 1 && runs[0].0,
                    "{account}/{region}/{source}: one finished run expected, got {runs:?}"
                );
                assert!(coverage.contains_key(&key(source)));
            }

            for (source, seeded) in [
                ("securityhub", securityhub_count(a, r)),
                ("inspector", inspector_count(a, r)),
            ] {
                let (state, message) = &coverage[&key(source)];
                assert_eq!(
                    (state.as_str(), message.as_str()),
                    ("enabled", ""),
                    "{account}/{region}/{source}"
                );
                assert_eq!(
                    run_of[&key(source)][0],
                    (true, seeded as i32, None),
                    "{account}/{region}/{source}: its run"
                );
                assert!(succeeded[&key(source)], "{account}/{region}/{source}");
            }

            let (state, message) = &coverage[&key("guardduty")];
            let (_, _, error) = &run_of[&key("guardduty")][0];
            if DETECTORS.contains(&(a, r)) {
                // moto 5.2.5 has no route for ListFindings: it answers 404 with an HTML page.
                assert_eq!(state, "error", "{account}/{region}/guardduty: {message}");
                let error = error.as_deref().unwrap_or_default();
                assert_eq!(message, error, "coverage and run tell the same failure");
                assert!(
                    error.contains("404"),
                    "{account}/{region}/guardduty: the recorded error {error:?} must say what \
                     failed (moto answered HTTP 404 without an error code)"
                );
                assert!(!succeeded[&key("guardduty")]);
            } else {
                assert_eq!(state, "not_enabled", "{account}/{region}/guardduty");
                assert_eq!(message, &format!("no GuardDuty detector in {region}"));
                assert_eq!(error, &None);
            }
        }
    }

    // The cycle itself finished cleanly.
    let cycles: Vec<(bool, Option<String>)> = sqlx::query_as(
        "SELECT ended_at IS NOT NULL, error FROM poll_runs WHERE account_id IS NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(cycles, vec![(true, None)]);
}
