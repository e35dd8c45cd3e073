//! The baseline end to end: the real `sightline poll` binary reads the simulator's CloudTrail,
//! S3 and Organizations, and every account's ten results equal the simulator's truth; a refused
//! Organizations account turns the SCP check (and only the reads that needed it) to unknown.

use std::collections::BTreeMap;

use serde_json::Value;
use sightline::db;
use sightline::sim::org::Options;
use sightline::sim::server::spawn;
use sqlx::PgPool;

use crate::support::{http_get, http_with_body, url_of};

/// Runs `sightline poll --once` with the config the simulator at `sim_url` serves (which reads
/// the baseline at every cycle).
async fn poll_once(pool: &PgPool, sim_url: &str, dir: &tempfile::TempDir) {
    poll_once_every(pool, sim_url, dir, "0s").await;
}

/// `poll_once` with `[baseline] interval = interval`.
async fn poll_once_every(pool: &PgPool, sim_url: &str, dir: &tempfile::TempDir, interval: &str) {
    let config = http_get(&format!("{sim_url}/_sim/config")).await.unwrap();
    assert!(config.contains("\ninterval = \"0s\"\n"), "{config}");
    let config = config.replace(
        "\ninterval = \"0s\"\n",
        &format!("\ninterval = \"{interval}\"\n"),
    );
    let path = dir.path().join("sightline.toml");
    std::fs::write(&path, format!("listen = \"127.0.0.1:1\"\n{config}")).unwrap();
    crate::support::poll_once(&url_of(pool).await, &path).await;
}

/// The simulator's count of CloudTrail, S3 and Organizations requests so far.
async fn baseline_requests(sim_url: &str) -> u64 {
    let counts: BTreeMap<String, u64> =
        serde_json::from_str(&http_get(&format!("{sim_url}/_sim/requests")).await.unwrap())
            .unwrap();
    counts
        .iter()
        .filter(|(k, _)| {
            let service = k.split('/').nth(2).unwrap_or("");
            matches!(service, "cloudtrail" | "s3" | "organizations")
        })
        .map(|(_, n)| n)
        .sum()
}

/// Within `[baseline] interval` a cycle leaves the baseline alone (no CloudTrail, S3 or
/// Organizations call, results as read); a newly watched account is read all the same.
#[sqlx::test(migrations = "./migrations")]
async fn the_baseline_is_read_again_only_after_its_interval(pool: PgPool) {
    let sim = spawn(Options::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    poll_once_every(&pool, &sim.url, &dir, "1h").await;
    let first = baseline_requests(&sim.url).await;
    assert!(first > 0);
    let read_at: Vec<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT DISTINCT read_at FROM baseline_results")
            .fetch_all(&pool)
            .await
            .unwrap();
    poll_once_every(&pool, &sim.url, &dir, "1h").await;
    assert_eq!(
        baseline_requests(&sim.url).await,
        first,
        "read again within the hour"
    );
    let again: Vec<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT DISTINCT read_at FROM baseline_results")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(again, read_at);

    // An account without results (as one just discovered would be) is read at the next cycle.
    let some: String = sqlx::query_scalar("SELECT min(account_id) FROM baseline_results")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM baseline_results WHERE account_id = $1")
        .bind(&some)
        .execute(&pool)
        .await
        .unwrap();
    poll_once_every(&pool, &sim.url, &dir, "1h").await;
    assert!(baseline_requests(&sim.url).await > first);
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM baseline_results WHERE account_id = $1")
            .bind(&some)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(rows, 10);
}

pub type Results = BTreeMap<(String, String), String>;

/// Every stored result, by (account, check).
pub async fn stored(pool: &PgPool) -> Results {
    db::baseline::list(pool, None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| ((r.account_id, r.check_name), r.result))
        .collect()
}

/// Every result of the simulator's truth, by (account, check).
pub async fn truth(sim_url: &str) -> Results {
    let t: Value =
        serde_json::from_str(&http_get(&format!("{sim_url}/_sim/truth")).await.unwrap()).unwrap();
    t["baseline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_owned();
            ((s("account_id"), s("check")), s("result"))
        })
        .collect()
}

/// The results that differ from the truth, readably.
pub fn differences(want: &Results, got: &Results) -> Vec<String> {
    want.iter()
        .filter(|(k, v)| got.get(*k) != Some(v))
        .map(|(k, v)| format!("{k:?}: truth {v}, stored {:?}", got.get(k)))
        .collect()
}

fn tally(r: &Results) -> BTreeMap<(String, String), usize> {
    let mut t = BTreeMap::new();
    for ((_, check), result) in r {
        *t.entry((check.clone(), result.clone())).or_default() += 1;
    }
    t
}

#[sqlx::test(migrations = "./migrations")]
async fn every_account_and_check_equals_the_truth(pool: PgPool) {
    for seed in [1, 17] {
        let sim = spawn(Options {
            seed,
            ..Options::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        sqlx::query("TRUNCATE baseline_results, baseline_events, findings, coverage, poll_targets, poll_runs, accounts CASCADE")
            .execute(&pool)
            .await
            .unwrap();
        poll_once(&pool, &sim.url, &dir).await;
        let want = truth(&sim.url).await;
        let got = stored(&pool).await;
        assert_eq!(want.len(), 24 * 10, "seed {seed}");
        let diff = differences(&want, &got);
        assert!(diff.is_empty(), "seed {seed}: {}", diff.join("\n"));
        assert_eq!(got.len(), want.len());
        // Every check passes and fails somewhere, and the denied accounts are unknown.
        let t = tally(&got);
        for check in sightline::baseline::Check::ALL {
            for result in ["pass", "fail"] {
                assert!(
                    t.contains_key(&(check.name().to_owned(), result.to_owned())),
                    "seed {seed}: no {result} for {}",
                    check.name()
                );
            }
        }
        assert!(t[&("cloudtrail_multi_region".to_owned(), "unknown".to_owned())] >= 2);
        // A first read is an event per result.
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM baseline_events")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(events, 240);
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn refused_reads_are_unknown_with_the_reason_and_the_rest_still_decided(pool: PgPool) {
    let sim = spawn(Options::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    poll_once(&pool, &sim.url, &dir).await;
    let before = stored(&pool).await;
    let management = sim.state.estate.read().unwrap().management.clone();
    let archive = sim.state.estate.read().unwrap().accounts[1].id.clone();

    // The management account (Organizations) and the log-archive account (S3) refuse every call.
    let faults = serde_json::json!({ "deny_accounts": [management, archive] }).to_string();
    let (status, _) = http_with_body("POST", &format!("{}/_sim/faults", sim.url), &faults)
        .await
        .unwrap();
    assert_eq!(status, 200);
    poll_once(&pool, &sim.url, &dir).await;
    let rows = db::baseline::list(&pool, None).await.unwrap();
    for r in &rows {
        let was = &before[&(r.account_id.clone(), r.check_name.clone())];
        match r.check_name.as_str() {
            "scp_protects_cloudtrail" => {
                assert_eq!(r.result, "unknown", "{}: {}", r.account_id, r.evidence);
                assert!(
                    r.evidence.contains("organisation could not be read"),
                    "{}",
                    r.evidence
                );
            }
            // Unaffected: decided from each account's own trails and Sightline's data.
            "cloudtrail_multi_region"
            | "log_file_validation"
            | "trail_kms_encryption"
            | "data_events_s3_lambda"
                if r.account_id != management && r.account_id != archive =>
            {
                assert_eq!(&r.result, was, "{} {}", r.account_id, r.check_name)
            }
            // Passing accounts deliver to the archive, whose listing is now refused.
            "log_archive_separate_account"
                if r.account_id != management && r.account_id != archive && was == "pass" =>
            {
                assert_eq!(r.result, "unknown", "{}: {}", r.account_id, r.evidence);
                assert!(r.evidence.contains("could not be listed"), "{}", r.evidence);
            }
            _ => {}
        }
    }
    // Changes were recorded as events with the previous result.
    let changed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM baseline_events WHERE previous_result IS NOT NULL AND result = 'unknown'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(changed >= 20, "{changed}");
}
