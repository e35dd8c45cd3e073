//! Past one machine: two `sightline serve` and two `sightline poll` processes on one database
//! and the simulator. The pollers share the targets through their leases, the servers keep no
//! state of their own, and both servers' open counts equal the simulator's truth, before and
//! after the organisation changes.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sightline::sim::org::Options;
use sightline::sim::server::spawn;
use sqlx::PgPool;

use crate::support::{free_port, http, http_get, http_request, url_of};

/// A child process killed when dropped (on a panic too).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sightline(db: &str, config: &Path, args: &[&str], log: &Path) -> Proc {
    let out = File::create(log).unwrap();
    Proc(
        Command::new(env!("CARGO_BIN_EXE_sightline"))
            .env("DATABASE_URL", db)
            .env("RUST_LOG", "warn")
            .arg("--config")
            .arg(config)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap(),
    )
}

type Counts = BTreeMap<(String, String, String, String), i64>;

fn open_truth(t: &Value) -> Counts {
    let mut c = Counts::new();
    for g in t["findings"].as_array().unwrap() {
        if g["status"] == "open" {
            let s = |k: &str| g[k].as_str().unwrap().to_owned();
            *c.entry((s("account_id"), s("region"), s("source"), s("severity")))
                .or_default() += g["count"].as_i64().unwrap();
        }
    }
    c
}

/// A server's open counts by account, region, source and severity (`/api/v1/stats/open`).
async fn served(origin: &str, token: &str) -> Option<Counts> {
    let url = format!("{origin}/api/v1/stats/open?group_by=account,region,source,severity");
    let auth = format!("Bearer {token}");
    let (status, body) = http_request("GET", &url, &[("authorization", &auth)], "")
        .await
        .ok()?;
    if status != 200 {
        return None;
    }
    let v: Value = serde_json::from_str(&body).ok()?;
    Some(
        v["groups"]
            .as_array()?
            .iter()
            .map(|g| {
                let s = |k: &str| g[k].as_str().unwrap_or_default().to_owned();
                (
                    (s("account_id"), s("region"), s("source"), s("severity")),
                    g["count"].as_i64().unwrap_or_default(),
                )
            })
            .collect(),
    )
}

/// Waits until both servers answer `want`, failing with the difference after `limit`.
async fn until_both_serve(origins: &[String], token: &str, want: &Counts, limit: Duration) {
    let started = Instant::now();
    loop {
        let mut all = true;
        let mut last = None;
        for o in origins {
            let got = served(o, token).await;
            if got.as_ref() != Some(want) {
                all = false;
                last = got;
            }
        }
        if all {
            return;
        }
        if started.elapsed() > limit {
            let got = last.unwrap_or_default();
            let diff: Vec<String> = want
                .iter()
                .filter(|(k, v)| got.get(*k) != Some(v))
                .take(5)
                .map(|(k, v)| format!("{k:?}: truth {v}, served {:?}", got.get(k)))
                .collect();
            panic!(
                "the servers did not converge on the truth within {limit:?}: {}",
                diff.join("; ")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn two_servers_and_two_pollers_serve_the_truth(pool: PgPool) {
    let sim = spawn(Options::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sim_config = http_get(&format!("{}/_sim/config", sim.url)).await.unwrap();
    let db = url_of(&pool).await;
    let mut origins = Vec::new();
    let mut configs = Vec::new();
    for i in 0..2 {
        let port = free_port();
        origins.push(format!("http://127.0.0.1:{port}"));
        let path = dir.path().join(format!("sightline-{i}.toml"));
        std::fs::write(
            &path,
            format!(
                "listen = \"127.0.0.1:{port}\"\n[poller]\ninterval = \"3s\"\nconcurrency = 8\n# GuardDuty and Macie forget resolved findings: only a full sweep sees them go.\nfull_sweep_interval = \"0s\"\n{sim_config}"
            ),
        )
        .unwrap();
        configs.push(path);
    }
    // The schema and a token, as an operator would make them.
    let out = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .env("DATABASE_URL", &db)
        .arg("--config")
        .arg(&configs[0])
        .args(["token", "create", "--name", "two-by-two"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();

    let mut procs = Vec::new();
    for (i, config) in configs.iter().enumerate() {
        procs.push(sightline(
            &db,
            config,
            &["serve", "--no-poller"],
            &dir.path().join(format!("serve-{i}.log")),
        ));
        procs.push(sightline(
            &db,
            config,
            &["poll"],
            &dir.path().join(format!("poll-{i}.log")),
        ));
    }
    for o in &origins {
        let started = Instant::now();
        while http("GET", &format!("{o}/readyz")).await.map(|r| r.0).ok() != Some(200) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{o} never ready"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let truth: Value =
        serde_json::from_str(&http_get(&format!("{}/_sim/truth", sim.url)).await.unwrap()).unwrap();
    let want = open_truth(&truth);
    assert!(want.values().sum::<i64>() > 1000);
    until_both_serve(&origins, &token, &want, Duration::from_secs(180)).await;

    // Within each cycle the two pollers shared, no target was polled twice.
    let doubled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT cycle_id, account_id, region, source FROM poll_runs
          WHERE account_id IS NOT NULL GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(doubled, 0, "a target was polled twice in one cycle");

    // The organisation moves on: both servers follow.
    let (status, _) = http("POST", &format!("{}/_sim/advance?days=3", sim.url))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let truth: Value =
        serde_json::from_str(&http_get(&format!("{}/_sim/truth", sim.url)).await.unwrap()).unwrap();
    let after = open_truth(&truth);
    assert_ne!(after, want);
    until_both_serve(&origins, &token, &after, Duration::from_secs(180)).await;
    drop(procs);
}
