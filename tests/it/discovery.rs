//! Account discovery through AWS Organizations: with `aws.discover_accounts`, the real poller
//! watches every member account of the simulated organisation, with its OU path, while config
//! entries still name the accounts they list; when Organizations refuses, the cycle still polls
//! the accounts it already knows and records why.

use std::collections::BTreeMap;

use sightline::sim::org::Options;
use sightline::sim::server::spawn;
use sqlx::PgPool;

use crate::support::{http_get, http_with_body, poll_once, url_of};

#[sqlx::test(migrations = "./migrations")]
async fn members_are_discovered_with_their_ou_paths(pool: PgPool) {
    let sim = spawn(Options::default()).await.unwrap();
    let config = http_get(&format!("{}/_sim/config", sim.url)).await.unwrap();
    // Keep the [aws] and [baseline] tables and one [[accounts]] entry, renamed.
    let mut parts = config.split("\n[[accounts]]\n");
    let head = parts.next().unwrap();
    let first = parts.next().unwrap();
    let first_id = first
        .lines()
        .find_map(|l| l.strip_prefix("id = "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let renamed = first
        .lines()
        .map(|l| {
            if l.starts_with("name = ") {
                "name = \"renamed-in-config\"".to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let text = format!(
        "listen = \"127.0.0.1:1\"\n{}\n[[accounts]]\n{renamed}\n",
        head.replace("[aws]\n", "[aws]\ndiscover_accounts = true\n")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sightline.toml");
    std::fs::write(&path, &text).unwrap();

    // What the organisation holds: its members and their OU paths, as the simulator models them.
    let (members, standalone): (BTreeMap<String, String>, Vec<String>) = {
        let e = sim.state.estate.read().unwrap();
        let mut members = BTreeMap::new();
        let mut standalone = Vec::new();
        for (a, m) in e.accounts.iter().zip(&e.audit.organization.members) {
            match m {
                Some(_) => {
                    members.insert(a.id.clone(), a.ou_path.to_owned());
                }
                None => standalone.push(a.id.clone()),
            }
        }
        (members, standalone)
    };
    assert!(members.len() >= 10 && !standalone.is_empty());

    let db = url_of(&pool).await;
    let summary = poll_once(&db, &path).await;
    let stored: BTreeMap<String, (String, String)> =
        sqlx::query_as::<_, (String, String, String)>("SELECT id, name, ou_path FROM accounts")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .map(|(id, name, ou)| (id, (name, ou)))
            .collect();
    // Every member, plus the listed account whatever the organisation says; no standalone one.
    let mut want: Vec<&String> = members.keys().collect();
    if !members.contains_key(&first_id) {
        want.push(&first_id);
        want.sort();
    }
    assert_eq!(stored.keys().collect::<Vec<_>>(), want, "{summary}");
    assert_eq!(stored[&first_id].0, "renamed-in-config");
    for (id, ou) in &members {
        assert_eq!(&stored[id].1, ou, "{id}");
    }
    // Each discovered account was polled: 6 regions × 5 sources of coverage each.
    let cells: i64 = sqlx::query_scalar("SELECT count(*) FROM coverage")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(cells as usize, stored.len() * 30, "{summary}");

    // Organizations refuses: the accounts already known are still polled, and the cycle says why.
    let first_cycle: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT max(checked_at) FROM coverage")
            .fetch_one(&pool)
            .await
            .unwrap();
    let management = sim.state.estate.read().unwrap().management.clone();
    let faults = serde_json::json!({ "deny_accounts": [management] }).to_string();
    let (status, _) = http_with_body("POST", &format!("{}/_sim/faults", sim.url), &faults)
        .await
        .unwrap();
    assert_eq!(status, 200);
    poll_once(&db, &path).await;
    let error: Option<String> = sqlx::query_scalar(
        "SELECT error FROM poll_runs WHERE account_id IS NULL ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let error = error.unwrap_or_default();
    assert!(
        error.contains("account discovery through AWS Organizations failed"),
        "{error}"
    );
    let polled: i64 =
        sqlx::query_scalar("SELECT count(DISTINCT account_id) FROM coverage WHERE checked_at > $1")
            .bind(first_cycle)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(polled as usize, stored.len());
}
