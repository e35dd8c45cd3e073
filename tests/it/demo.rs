//! The real `sightline demo` as a newcomer runs it, with no DATABASE_URL: it starts its own
//! Postgres, serves pages the poller fills, and Ctrl-C leaves no process and no files behind.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{free_port, http, http_get, url_of};

/// The first `http://` URL in `log`, read as the README's check reads it.
fn first_url(log: &str) -> Option<String> {
    let start = log.find("http://")?;
    let rest = &log[start + "http://".len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c.is_ascii_lowercase() || c == '.' || c == ':'))
        .unwrap_or(rest.len());
    Some(format!("http://{}", &rest[..end]))
}

/// The private cluster's temp dir, from the line the demo prints on stderr.
fn private_dir(log: &str) -> Option<PathBuf> {
    let line = log
        .lines()
        .find(|l| l.contains("started a private Postgres in "))?;
    let rest = line.split("started a private Postgres in ").nth(1)?;
    Some(PathBuf::from(rest.split(" (").next()?))
}

/// Live processes whose command line mentions `needle` (a postgres server started with `-D`).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

/// Live processes in process group `pgid` (what `pgrep -g` lists).
fn processes_in_group(pgid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp …`
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2) == Some(&pgid.to_string().as_str()) && fields.first() != Some(&"Z") {
            found.push(stat);
        }
    }
    found
}

/// Sum of every `sightline_findings{…}` sample in a `/metrics` answer.
fn findings_in_metrics(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("sightline_findings{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn read_log(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// Stops the demo if the test fails midway: Ctrl-C first, so that it removes its Postgres (a
/// kill would leave the server running), then a kill of its process group.
struct Demo {
    child: Child,
    log: PathBuf,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        for signal in ["-INT", "-KILL"] {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            let _ = Command::new("kill").args([signal, "--", &group]).status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_without_database_url_serves_data_and_ctrl_c_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("demo.log");
    let out = std::fs::File::create(&log).unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("DATABASE_URL")
        .env_remove("SIGHTLINE_CONFIG")
        .env_remove("SIGHTLINE_LOG_FORMAT")
        .env_remove("RUST_LOG")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        // Its own process group, so that Ctrl-C can be sent to the group, as a terminal does.
        .process_group(0)
        .spawn()
        .unwrap();
    let mut demo = Demo { child, log };

    // The URL line: the first http:// URL in the output is the web server's.
    let started = Instant::now();
    let base = loop {
        let text = read_log(&demo.log);
        if let Some(url) = first_url(&text) {
            break url;
        }
        if let Some(status) = demo.child.try_wait().unwrap() {
            panic!("demo exited with {status} before printing its URL:\n{text}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "no URL within 180 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(base, format!("http://127.0.0.1:{port}"));
    let text = read_log(&demo.log);
    assert!(
        text.contains(&format!(
            "Sightline demo: open http://127.0.0.1:{port}/ (Ctrl-C to stop)"
        )),
        "{text}"
    );
    let pg_dir = private_dir(&text).unwrap_or_else(|| panic!("no private Postgres line:\n{text}"));
    let data_dir = pg_dir.join("data").display().to_string();
    assert!(pg_dir.is_dir(), "{} is missing", pg_dir.display());
    assert!(
        !processes_mentioning(&data_dir).is_empty(),
        "no postgres runs on {data_dir}"
    );

    let mut health = None;
    for _ in 0..100 {
        if let Ok(body) = http_get(&format!("{base}/healthz")).await {
            health = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(health.as_deref(), Some("ok\n"));
    assert_eq!(
        http_get(&format!("{base}/readyz")).await.unwrap(),
        "ready\n"
    );
    let (status, body) = http("GET", &format!("{base}/")).await.unwrap();
    assert_eq!(status, 200, "{body}");

    // The first poll cycle starts at once: findings are stored within seconds.
    let polled = Instant::now();
    let findings = loop {
        let metrics = http_get(&format!("{base}/metrics")).await.unwrap();
        let n = findings_in_metrics(&metrics);
        if n > 0.0 {
            break n;
        }
        assert!(
            polled.elapsed() < Duration::from_secs(120),
            "no findings after 120 s:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!(
        "demo: {findings} findings stored {:.1}s after the URL",
        polled.elapsed().as_secs_f64()
    );

    // Ctrl-C: SIGINT to the whole process group.
    let pid = demo.child.id();
    let interrupted = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-INT", "--", &format!("-{pid}")])
            .status()
            .unwrap()
            .success()
    );
    let status = loop {
        if let Some(status) = demo.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            interrupted.elapsed() < Duration::from_secs(15),
            "still running 15 s after Ctrl-C:\n{}",
            read_log(&demo.log)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let text = read_log(&demo.log);
    eprintln!(
        "demo: exited with {status} {:.1}s after Ctrl-C",
        interrupted.elapsed().as_secs_f64()
    );
    assert!(status.success(), "demo exited with {status}:\n{text}");
    assert!(
        text.contains("the private Postgres is stopped and removed"),
        "{text}"
    );
    assert!(!pg_dir.exists(), "{} is left behind", pg_dir.display());
    assert_eq!(processes_mentioning(&data_dir), Vec::<String>::new());
    assert_eq!(processes_in_group(pid), Vec::<String>::new());
}

/// `sightline demo` on the database at `url`, its output in `log`.
fn start_demo(url: &str, log: PathBuf) -> Demo {
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", url)
        .env_remove("SIGHTLINE_CONFIG")
        .env_remove("SIGHTLINE_LOG_FORMAT")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .process_group(0)
        .spawn()
        .unwrap();
    Demo { child, log }
}

/// Waits until the demo's log holds `needle`.
async fn wait_for_log(demo: &mut Demo, needle: &str, within: Duration) -> String {
    let started = Instant::now();
    loop {
        let text = read_log(&demo.log);
        if text.contains(needle) {
            return text;
        }
        if let Some(status) = demo.child.try_wait().unwrap() {
            panic!("demo exited with {status} before logging {needle:?}:\n{text}");
        }
        assert!(
            started.elapsed() < within,
            "no {needle:?} within {within:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Ctrl-C, and a clean exit.
async fn interrupt(demo: &mut Demo) {
    let pid = demo.child.id();
    assert!(
        Command::new("kill")
            .args(["-INT", "--", &format!("-{pid}")])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = demo.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "still running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}:\n{}", read_log(&demo.log));
}

/// The demo fills its history day by day: the simulated organisation starts 90 days ago, so
/// what the poller stores is dated in the past, day after day, while the pages serve. A second
/// start on the same database does not fill it again. (The whole 90 days take minutes; the
/// first days show that each lands where it belongs. `../shared/checks/60-trends` waits for
/// all of them.)
#[sqlx::test(migrations = false)]
async fn demo_fills_its_history_day_by_day_and_only_once(pool: sqlx::PgPool) {
    let url = url_of(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let mut demo = start_demo(&url, dir.path().join("first.log"));
    let text = wait_for_log(&mut demo, "history: day 3 of 90 ", Duration::from_secs(300)).await;
    let base = first_url(&text).unwrap();
    assert_eq!(http_get(&format!("{base}/healthz")).await.unwrap(), "ok\n");
    assert!(!text.contains("not filling"), "{text}");
    // No progress line names a URL: the first http:// of the output stays the web server's.
    assert!(
        text.lines()
            .filter(|l| l.contains("history:"))
            .all(|l| !l.contains("http://")),
        "{text}"
    );

    // First-seen dates, in whole days before today (0 is today).
    let ages: Vec<i32> = sqlx::query_scalar(
        "SELECT DISTINCT (now()::date - first_seen_at::date)::int FROM findings ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let (newest, oldest) = (ages[0], *ages.last().unwrap());
    // The organisation's findings of its first day go back a further 90 days.
    assert!(
        oldest - newest >= 85,
        "first seen from {oldest} to {newest} days ago"
    );
    // Days 1 to 3 of the history are 89 to 87 days ago, and nothing is newer than the
    // simulator's clock (a day polled, at most, after the third).
    for age in 87..=89 {
        assert!(
            ages.contains(&age),
            "no finding first seen {age} days ago: {ages:?}"
        );
    }
    assert!(
        newest >= 85,
        "a finding first seen {newest} days ago, too early in the history"
    );
    // The changes of those days are recorded on them too, not on the day the demo runs.
    let resolved_days: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT at::date) FROM finding_events \
         WHERE kind = 'resolved' AND at::date BETWEEN now()::date - 89 AND now()::date - 87",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(resolved_days, 3);
    interrupt(&mut demo).await;

    // Again on the same database: the history is there already.
    let mut again = start_demo(&url, dir.path().join("second.log"));
    let text = wait_for_log(
        &mut again,
        "history: the database holds findings already",
        Duration::from_secs(120),
    )
    .await;
    assert!(!text.contains("history: day 0 of 90"), "{text}");
    interrupt(&mut again).await;
}

#[test]
fn demo_without_postgres_binaries_or_database_url_says_what_to_install() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("SIGHTLINE_CONFIG")
        .env("RUST_LOG", "warn")
        .env("PATH", empty.path())
        .env("SIGHTLINE_PG_SEARCH", empty.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(
        err.contains("install the `postgresql` package") && err.contains("DATABASE_URL"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "printed a URL without a database");
}
