//! The binary as an operator meets it: help, config errors, database errors,
//! `migrate` and `serve` for real.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::support::{http_get, url_of};

fn sightline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sightline"));
    cmd.env_remove("DATABASE_URL")
        .env_remove("SIGHTLINE_CONFIG")
        .env("RUST_LOG", "warn");
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A failure an operator sees: a non-zero exit and exactly one line, no panic, no backtrace.
fn assert_one_line_failure(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("sightline.toml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

const CONFIG: &str = r#"
listen = "127.0.0.1:LISTEN_PORT"
[aws]
regions = ["us-east-1", "eu-west-1"]
approved_regions = ["us-east-1"]
role_name = "SightlineReadOnly"
[[accounts]]
id = "111111111111"
name = "prod-payments"
environment = "prod"
owner = "payments"
"#;

#[test]
fn help_explains_every_subcommand() {
    let out = sightline().arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for sub in ["serve", "poll", "migrate", "demo", "simulate", "token"] {
        assert!(text.contains(sub), "{sub} missing from --help");
        let out = sightline().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "{sub} --help failed");
        assert!(
            String::from_utf8(out.stdout)
                .unwrap()
                .contains("Usage: sightline"),
            "{sub}"
        );
    }
}

#[test]
fn bad_config_is_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = CONFIG.replace("LISTEN_PORT", "8080")
        + "[[accounts]]\nid = \"222222222222\"\nname = \"b\"\n[[accounts]]\nid = \"12345\"\nname = \"c\"\n";
    let path = write_config(&dir, &text);
    let out = sightline()
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .output()
        .unwrap();
    assert_one_line_failure(
        &out,
        1,
        r#"accounts[2].id: "12345" is not a 12-digit AWS account id"#,
    );

    let path = write_config(&dir, &CONFIG.replace("role_name", "rol_name"));
    let out = sightline()
        .env("SIGHTLINE_CONFIG", &path)
        .arg("serve")
        .output()
        .unwrap();
    assert_one_line_failure(&out, 1, "aws.rol_name: unknown field `rol_name`");
}

#[test]
fn missing_config_file_says_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = sightline()
        .current_dir(dir.path())
        .arg("serve")
        .output()
        .unwrap();
    assert_one_line_failure(&out, 1, "sightline.toml: cannot read");
    assert!(stderr(&out).contains("--config"));
}

#[test]
fn unreachable_database_is_one_line() {
    let started = Instant::now();
    let out = sightline()
        .env(
            "DATABASE_URL",
            "postgres://sightline:hunter2@127.0.0.1:1/sightline",
        )
        .arg("migrate")
        .output()
        .unwrap();
    assert_one_line_failure(
        &out,
        1,
        "cannot connect to the database at postgres://sightline:****@127.0.0.1:1/sightline",
    );
    assert!(!stderr(&out).contains("hunter2"), "password leaked");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn test_script_without_postgres_binaries_is_one_clear_line() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg("source scripts/lib/pg.sh; pg_ensure")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DATABASE_URL")
        .env("PATH", "/usr/bin/nonexistent:/bin")
        .env("SIGHTLINE_PG_SEARCH", empty.path())
        .output()
        .unwrap();
    assert_one_line_failure(&out, 1, "install the 'postgresql' package");
    assert!(stderr(&out).contains("DATABASE_URL"));
}

#[sqlx::test(migrations = false)]
async fn migrate_creates_the_schema_and_is_repeatable(pool: PgPool) {
    let url = url_of(&pool).await;
    for _ in 0..2 {
        let out = sightline()
            .env("DATABASE_URL", &url)
            .arg("migrate")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("is up to date"));
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for t in [
        "accounts",
        "coverage",
        "daily_rollups",
        "finding_events",
        "findings",
        "poll_runs",
        "poll_targets",
    ] {
        assert!(tables.iter().any(|x| x == t), "{t} missing from {tables:?}");
    }
}

#[sqlx::test(migrations = false)]
async fn serve_migrates_stores_accounts_answers_health_and_stops_on_sigterm(pool: PgPool) {
    let url = url_of(&pool).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(&dir, &CONFIG.replace("LISTEN_PORT", &port.to_string()));
    let mut child = sightline()
        .env("DATABASE_URL", &url)
        .arg("--config")
        .arg(&path)
        .args(["serve", "--no-poller"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = None;
    for _ in 0..100 {
        if let Ok(body) = http_get(&format!("{base}/readyz")).await {
            ready = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready.as_deref(), Some("ready\n"));
    assert_eq!(http_get(&format!("{base}/healthz")).await.unwrap(), "ok\n");
    let name: String = sqlx::query_scalar("SELECT name FROM accounts WHERE id = '111111111111'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(name, "prod-payments");

    // SIGTERM: a clean exit.
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
}
