//! The real `sightline poll` binary against the simulator: counts equal the simulator's truth,
//! a quiet second cycle is cheap, changes are picked up, and faults never lose data.

use std::collections::{BTreeMap, HashMap};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use sightline::db::stats;
use sightline::sim::org::Options;
use sightline::sim::server::{SimHandle, spawn};
use sqlx::PgPool;

use crate::support::{http_get, http_with_body, oneshot_with, url_of};

type Key = (String, String, String, String, String);

/// A config for the simulated organisation, with `extra` TOML appended.
async fn write_config(sim: &SimHandle, dir: &tempfile::TempDir, extra: &str) -> std::path::PathBuf {
    let config = http_get(&format!("{}/_sim/config", sim.url)).await.unwrap();
    let path = dir.path().join("sightline.toml");
    std::fs::write(
        &path,
        format!("listen = \"127.0.0.1:1\"\n{config}\n{extra}"),
    )
    .unwrap();
    path
}

/// A simulator of `seed`, a config for it with `extra` TOML, and the test database's URL.
async fn setup(
    pool: &PgPool,
    seed: u64,
    extra: &str,
) -> (SimHandle, tempfile::TempDir, std::path::PathBuf, String) {
    setup_with(
        pool,
        Options {
            seed,
            ..Options::default()
        },
        extra,
    )
    .await
}

/// `setup` of a simulator generated with `opts`.
async fn setup_with(
    pool: &PgPool,
    opts: Options,
    extra: &str,
) -> (SimHandle, tempfile::TempDir, std::path::PathBuf, String) {
    let sim = spawn(opts).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&sim, &dir, extra).await;
    let db = url_of(pool).await;
    (sim, dir, config, db)
}

fn poll_command(db: &str, config: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sightline"));
    cmd.env("DATABASE_URL", db)
        .env("RUST_LOG", "error")
        .arg("--config")
        .arg(config)
        .args(["poll", "--once"]);
    cmd
}

async fn poll_once(db: &str, config: &std::path::Path) -> String {
    let cmd = poll_command(db, config);
    let out: Output = tokio::task::spawn_blocking(move || {
        let mut cmd = cmd;
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "poll failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn truth(sim: &SimHandle) -> Value {
    serde_json::from_str(&http_get(&format!("{}/_sim/truth", sim.url)).await.unwrap()).unwrap()
}

fn truth_counts(t: &Value) -> BTreeMap<Key, i64> {
    t["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let s = |k: &str| g[k].as_str().unwrap().to_owned();
            (
                (
                    s("account_id"),
                    s("region"),
                    s("source"),
                    s("severity"),
                    s("status"),
                ),
                g["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn db_counts(pool: &PgPool) -> BTreeMap<Key, i64> {
    stats::all_counts(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, r, s, v, st, n)| ((a, r, s, v, st), n))
        .collect()
}

/// The groups whose counts differ, for a readable failure.
fn diff(
    expected: &BTreeMap<Key, i64>,
    actual: &BTreeMap<Key, i64>,
    statuses: &[&str],
) -> Vec<String> {
    let keys: std::collections::BTreeSet<&Key> = expected.keys().chain(actual.keys()).collect();
    keys.into_iter()
        .filter(|k| statuses.contains(&k.4.as_str()))
        .filter(|k| expected.get(*k).unwrap_or(&0) != actual.get(*k).unwrap_or(&0))
        .map(|k| {
            format!(
                "{k:?}: expected {} got {}",
                expected.get(k).unwrap_or(&0),
                actual.get(k).unwrap_or(&0)
            )
        })
        .collect()
}

async fn assert_matches_truth(sim: &SimHandle, pool: &PgPool, statuses: &[&str]) {
    let t = truth(sim).await;
    let expected = truth_counts(&t);
    let actual = db_counts(pool).await;
    let bad = diff(&expected, &actual, statuses);
    assert!(
        bad.is_empty(),
        "{} groups differ from the truth, e.g. {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    let open: i64 = expected
        .iter()
        .filter(|(k, _)| k.4 == "open")
        .map(|(_, n)| n)
        .sum();
    assert!(
        open > 500,
        "the simulated organisation has {open} open findings"
    );
}

async fn coverage_matches_truth(sim: &SimHandle, pool: &PgPool) {
    let t = truth(sim).await;
    let expected: HashMap<(String, String, String), String> = t["coverage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_owned();
            ((s("account_id"), s("region"), s("source")), s("state"))
        })
        .collect();
    let actual: HashMap<(String, String, String), String> = stats::coverage_states(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, r, s, st)| ((a, r, s), st))
        .collect();
    let bad: Vec<_> = expected
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(*v))
        .collect();
    assert!(
        bad.is_empty(),
        "{} coverage cells differ, e.g. {:?}",
        bad.len(),
        &bad[..bad.len().min(3)]
    );
    assert_eq!(actual.len(), expected.len());
}

async fn set_faults(sim: &SimHandle, json: &str) {
    let (status, body) = http_with_body("POST", &format!("{}/_sim/faults", sim.url), json)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
}

/// Requests the simulator has counted, per `account/region/service/operation`.
async fn requests(sim: &SimHandle) -> HashMap<String, u64> {
    serde_json::from_str(
        &http_get(&format!("{}/_sim/requests", sim.url))
            .await
            .unwrap(),
    )
    .unwrap()
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn one_cycle_equals_the_truth_and_a_quiet_second_cycle_is_cheap(pool: PgPool) {
    let (sim, _dir, config, db) = setup(&pool, 7, "").await;

    let summary = poll_once(&db, &config).await;
    assert!(
        summary.contains("720 targets") && summary.contains(" 0 errors"),
        "{summary}"
    );
    assert_matches_truth(&sim, &pool, &["open", "suppressed", "resolved"]).await;
    coverage_matches_truth(&sim, &pool).await;

    // One STS session per account serves all its regions and services; an account whose role
    // is refused is asked once a cycle, and every one of its targets is recorded as denied.
    let before = requests(&sim).await;
    let sts_calls: u64 = before
        .iter()
        .filter(|(k, _)| k.contains("/sts/"))
        .map(|(_, n)| n)
        .sum();
    // 23 accounts let Sightline in: one session each. The refused role is asked only by those
    // of its account's targets that start before the first refusal is known: at most its
    // targets among the first 32 leases (one per worker), in the poller's lease order.
    let refused_account = {
        let e = sim.state.estate.read().unwrap();
        e.accounts
            .iter()
            .find(|a| a.access == sightline::sim::org::Access::RoleDenied)
            .unwrap()
            .id
            .clone()
    };
    let early: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT account_id FROM poll_targets
           ORDER BY md5(account_id || region || source::text) LIMIT 32) t WHERE account_id = $1",
    )
    .bind(&refused_account)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        sts_calls <= 23 + early.max(1) as u64,
        "{sts_calls} AssumeRole calls for 24 accounts ({early} early targets of the refused one)"
    );
    let refused: Vec<String> =
        sqlx::query_scalar("SELECT message FROM coverage WHERE state = 'access_denied'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(
        refused
            .iter()
            .filter(|m| m.starts_with("AssumeRole denied: "))
            .count()
            >= 30,
        "{refused:?}"
    );

    // Nothing changed at the source: the next cycle lists each target once and writes nothing.
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM finding_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    let summary = poll_once(&db, &config).await;
    assert!(summary.contains(" 0 changed"), "{summary}");
    let after = requests(&sim).await;
    let list_ops = [
        "POST /findings",
        "POST /detector/*/findings",
        "POST /findings/list",
        "POST /findingv2",
    ];
    let mut per_target: HashMap<String, u64> = HashMap::new();
    for (key, n) in &after {
        let grew = n - before.get(key).unwrap_or(&0);
        // account/region/service/operation, where the operation holds slashes itself.
        let parts: Vec<&str> = key.splitn(4, '/').collect();
        let (target, op) = (parts[..3].join("/"), parts[3]);
        if list_ops.contains(&op) && grew > 0 {
            *per_target.entry(target).or_default() += grew;
        }
    }
    for (target, n) in &per_target {
        // Access Analyzer keeps two analyzers per region (external and unused access).
        let allowed = if target.ends_with("accessanalyzer") {
            2
        } else {
            1
        };
        assert!(*n <= allowed, "{target}: {n} list calls in a quiet cycle");
    }
    assert!(
        per_target.len() > 200,
        "{} targets listed",
        per_target.len()
    );
    let events_after: i64 = sqlx::query_scalar("SELECT count(*) FROM finding_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events, events_after);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn a_delegated_administrator_is_read_once_per_region_for_the_whole_organisation(
    pool: PgPool,
) {
    // Every cycle is a full sweep, so findings GuardDuty and Macie forget get resolved.
    let opts = Options {
        seed: 7,
        delegated_admin: true,
        ..Options::default()
    };
    let (sim, _dir, config, db) =
        setup_with(&pool, opts, "[poller]\nfull_sweep_interval = \"0s\"\n").await;
    let (admin, refused) = {
        let e = sim.state.estate.read().unwrap();
        let refused = e
            .accounts
            .iter()
            .find(|a| a.access == sightline::sim::org::Access::RoleDenied)
            .unwrap()
            .id
            .clone();
        (e.accounts[e.delegated_admin.unwrap()].id.clone(), refused)
    };
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains(&format!("delegated_admin_account_id = \"{admin}\""))
    );

    // Targets left from reading every account (as before the switch) are dropped.
    sightline::db::poll::ensure_targets(
        &pool,
        &[refused.clone(), admin.clone()],
        &["eu-west-1".to_owned()],
        &["guardduty".to_owned()],
    )
    .await
    .unwrap();

    // 6 regions x 5 sources of one account, instead of 24 accounts' 720 targets.
    let summary = poll_once(&db, &config).await;
    assert!(
        summary.contains(" 30 targets") && summary.contains(" 0 errors"),
        "{summary}"
    );
    let targets: Vec<String> = sqlx::query_scalar("SELECT DISTINCT account_id FROM poll_targets")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(targets, vec![admin.clone()]);
    // Every member's findings and coverage, even of the account whose role Sightline cannot
    // assume: the administrator reads for it.
    assert_matches_truth(&sim, &pool, &["open", "suppressed", "resolved"]).await;
    coverage_matches_truth(&sim, &pool).await;
    let of_refused: i64 = sqlx::query_scalar("SELECT count(*) FROM findings WHERE account_id = $1")
        .bind(&refused)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(of_refused > 0, "no findings of the account without a role");
    // The baseline too: its checks 8 and 9 (coverage, findings) are known for every account.
    let want = crate::baseline::truth(&sim.url).await;
    let stored = crate::baseline::stored(&pool).await;
    assert_eq!(want.len(), 240);
    let differ = crate::baseline::differences(&want, &stored);
    assert!(differ.is_empty(), "{differ:?}");
    assert_eq!(
        stored
            .get(&(refused.clone(), "services_all_regions".to_owned()))
            .map(String::as_str),
        Some("fail")
    );
    // No finding service was asked by any other account.
    let finding_services = [
        "securityhub",
        "guardduty",
        "inspector",
        "macie",
        "accessanalyzer",
    ];
    let asked: Vec<String> = requests(&sim)
        .await
        .into_keys()
        .filter(|k| {
            let parts: Vec<&str> = k.splitn(4, '/').collect();
            finding_services.contains(&parts[2]) && parts[0] != admin
        })
        .collect();
    assert!(asked.is_empty(), "{asked:?}");
    let runs: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT account_id) FROM poll_runs WHERE account_id IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(runs, 1);

    // The pages say how the data was read; the coverage page counts every member.
    let site = sightline::web::Site {
        delegated_admin: Some(admin.parse().unwrap()),
        ..Default::default()
    };
    for uri in ["/status", "/coverage"] {
        let request = axum::http::Request::get(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let (status, _, body) = oneshot_with(&pool, site.clone(), request).await;
        assert_eq!(status, 200, "{uri}");
        assert!(
            body.contains("Delegated-administrator mode")
                && body.contains(&format!("security-tooling ({admin})")),
            "{uri}"
        );
    }

    // Three days later, one cycle picks up the changes in every member.
    let (status, _) = http_with_body("POST", &format!("{}/_sim/advance?days=3", sim.url), "")
        .await
        .unwrap();
    assert_eq!(status, 200);
    poll_once(&db, &config).await;
    assert_matches_truth(&sim, &pool, &["open", "suppressed"]).await;
    let resolved_accounts: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT account_id) FROM finding_events WHERE kind = 'resolved'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        resolved_accounts > 5,
        "{resolved_accounts} accounts saw resolutions"
    );

    // The administrator refuses: every member's coverage says so, and nothing stored is lost.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM findings")
        .fetch_one(&pool)
        .await
        .unwrap();
    set_faults(&sim, &format!(r#"{{"deny_accounts": ["{admin}"]}}"#)).await;
    let summary = poll_once(&db, &config).await;
    assert!(summary.contains(" 30 access denied"), "{summary}");
    let states: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT state::text, left(message, 40), count(*) FROM coverage GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        states,
        vec![
            (
                "access_denied".into(),
                "AccessDeniedException: User: arn:aws:sts".into(),
                30
            ),
            (
                "access_denied".into(),
                format!("through the delegated administrator {admin}")[..40].to_owned(),
                690
            ),
        ],
        "{states:?}"
    );
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM findings")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(after, stored);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn changes_after_three_days_are_picked_up_with_their_events(pool: PgPool) {
    // Every cycle is a full sweep, so findings GuardDuty and Macie forget get resolved.
    let (sim, _dir, config, db) =
        setup(&pool, 11, "[poller]\nfull_sweep_interval = \"0s\"\n").await;
    poll_once(&db, &config).await;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM finding_events")
        .fetch_one(&pool)
        .await
        .unwrap();

    let (status, _) = http_with_body("POST", &format!("{}/_sim/advance?days=3", sim.url), "")
        .await
        .unwrap();
    assert_eq!(status, 200);
    poll_once(&db, &config).await;
    // Open and suppressed are exact; Sightline also remembers resolutions a fresh poll cannot see.
    assert_matches_truth(&sim, &pool, &["open", "suppressed"]).await;
    let kinds: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, count(*) FROM finding_events GROUP BY kind ORDER BY kind")
            .fetch_all(&pool)
            .await
            .unwrap();
    let after: i64 = kinds.iter().map(|(_, n)| n).sum();
    assert!(after > events, "no events recorded: {kinds:?}");
    for kind in ["new", "resolved"] {
        assert!(
            kinds.iter().any(|(k, n)| k == kind && *n > 0),
            "no {kind} events: {kinds:?}"
        );
    }
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn a_throttling_storm_and_denied_accounts_lose_nothing(pool: PgPool) {
    let (sim, _dir, config, db) = setup(&pool, 3, "").await;
    let denied: Vec<String> = {
        let e = sim.state.estate.read().unwrap();
        e.accounts
            .iter()
            .filter(|a| a.access == sightline::sim::org::Access::Allowed)
            .skip(5)
            .take(2)
            .map(|a| a.id.clone())
            .collect()
    };
    set_faults(
        &sim,
        &format!(r#"{{"throttle_rate": 0.3, "deny_accounts": {denied:?}}}"#),
    )
    .await;
    let summary = poll_once(&db, &config).await;
    assert!(summary.contains(" 0 errors"), "{summary}");
    // The denied accounts are recorded as such; everyone else is complete.
    let cov = stats::coverage_states(&pool).await.unwrap();
    for id in &denied {
        assert!(
            cov.iter()
                .filter(|c| &c.0 == id)
                .all(|c| c.3 == "access_denied"),
            "{id} not recorded as denied"
        );
    }
    let t = truth(&sim).await;
    let expected: BTreeMap<Key, i64> = truth_counts(&t)
        .into_iter()
        .filter(|(k, _)| !denied.contains(&k.0))
        .collect();
    let actual = db_counts(&pool).await;
    let bad = diff(&expected, &actual, &["open", "suppressed", "resolved"]);
    assert!(bad.is_empty(), "{bad:?}");

    // The storm passes and access comes back: the next cycle fills in the rest.
    set_faults(&sim, "{}").await;
    poll_once(&db, &config).await;
    assert_matches_truth(&sim, &pool, &["open", "suppressed", "resolved"]).await;
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn two_pollers_share_a_cycle_and_poll_each_target_once(pool: PgPool) {
    let (sim, _dir, config, db) = setup(&pool, 5, "").await;
    let (c1, c2) = (config.clone(), config.clone());
    let (d1, d2) = (db.clone(), db.clone());
    let a = tokio::spawn(async move { poll_once(&d1, &c1).await });
    let b = tokio::spawn(async move { poll_once(&d2, &c2).await });
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let polled: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT account_id, region, source::text, count(*) FROM poll_runs WHERE account_id IS NOT NULL GROUP BY 1, 2, 3",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(polled.len(), 720, "{a}\n{b}");
    let twice: Vec<_> = polled.iter().filter(|p| p.3 != 1).collect();
    assert!(twice.is_empty(), "targets polled more than once: {twice:?}");
    assert_matches_truth(&sim, &pool, &["open", "suppressed", "resolved"]).await;
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn a_poller_killed_mid_cycle_loses_nothing(pool: PgPool) {
    let (sim, _dir, config, db) = setup(&pool, 9, "[poller]\nconcurrency = 4\n").await;
    // Slow the simulator down so the kill lands mid-cycle.
    set_faults(&sim, r#"{"latency_ms": 40}"#).await;
    let mut child = poll_command(&db, &config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial: i64 = sqlx::query_scalar("SELECT count(*) FROM findings")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(partial > 0, "the kill came before any page was stored");

    set_faults(&sim, "{}").await;
    // The new cycle waits for the dead poller's leases to expire, then polls those targets too.
    poll_once(&db, &config).await;
    assert_matches_truth(&sim, &pool, &["open", "suppressed", "resolved"]).await;
    let dupes: i64 =
        sqlx::query_scalar("SELECT count(*) - count(DISTINCT canonical_key) FROM findings")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(dupes, 0);
}

#[sqlx::test(migrator = "sightline::db::MIGRATOR")]
async fn sigterm_stores_the_page_in_flight_and_exits(pool: PgPool) {
    let (sim, _dir, config, db) = setup(&pool, 13, "[poller]\nconcurrency = 4\n").await;
    set_faults(&sim, r#"{"latency_ms": 40}"#).await;
    let child = poll_command(&db, &config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "poll exited with {}", out.status);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?} to stop",
        started.elapsed()
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("(interrupted)"), "{summary}");
    // Every run row that started was closed, and what was stored is consistent: each stored
    // finding has its `new` event.
    let open_runs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM poll_runs WHERE ended_at IS NULL AND account_id IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(open_runs, 0);
    let (findings, news): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM findings), (SELECT count(DISTINCT finding_id) FROM finding_events WHERE kind = 'new')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(findings > 0);
    assert_eq!(findings, news);
}
