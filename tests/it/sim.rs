//! The simulator's own interfaces and STS, through the real aws-sdk-sts client.

use aws_sdk_sts::error::ProvideErrorMetadata;
use sightline::sim::org::{Access, Options};
use sightline::sim::server::spawn;

use crate::support::{http, http_get};

#[tokio::test]
async fn assume_role_and_caller_identity_through_the_sdk() {
    let sim = spawn(Options::default()).await.unwrap();
    let (management, target, denied) = {
        let e = sim.state.estate.read().unwrap();
        let target = e
            .accounts
            .iter()
            .find(|a| a.access == Access::Allowed && a.id != e.management)
            .unwrap()
            .id
            .clone();
        let denied = e
            .accounts
            .iter()
            .find(|a| a.access == Access::RoleDenied)
            .unwrap()
            .id
            .clone();
        (e.management.clone(), target, denied)
    };
    // The caller's own keys are the management account's.
    let sts = aws_sdk_sts::Client::new(&sim.client_config("AKIAOPERATOR", "us-east-1"));
    let me = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(me.account(), Some(management.as_str()));

    let assumed = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{target}:role/SightlineReadOnly"))
        .role_session_name("sightline")
        .external_id("x")
        .send()
        .await
        .unwrap();
    let creds = assumed.credentials().unwrap();
    assert!(creds.access_key_id().contains(&target));
    assert!(creds.expiration().secs() > 0);
    assert_eq!(
        assumed.assumed_role_user().unwrap().arn(),
        format!("arn:aws:sts::{target}:assumed-role/SightlineReadOnly/sightline")
    );
    let as_target = aws_sdk_sts::Client::new(&sim.client_config(&target, "eu-west-1"));
    assert_eq!(
        as_target
            .get_caller_identity()
            .send()
            .await
            .unwrap()
            .account(),
        Some(target.as_str())
    );

    let err = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{denied}:role/SightlineReadOnly"))
        .role_session_name("sightline")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDenied"));
}

#[tokio::test]
async fn truth_config_and_advance() {
    let sim = spawn(Options {
        seed: 7,
        ..Options::default()
    })
    .await
    .unwrap();
    let truth: serde_json::Value =
        serde_json::from_str(&http_get(&format!("{}/_sim/truth", sim.url)).await.unwrap()).unwrap();
    let open = |t: &serde_json::Value| -> u64 {
        t["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["status"] == "open")
            .map(|g| g["count"].as_u64().unwrap())
            .sum()
    };
    let before = open(&truth);
    assert!(before > 1000);
    assert_eq!(truth["coverage"].as_array().unwrap().len(), 24 * 6 * 5);
    for key in [
        "account_id",
        "region",
        "source",
        "severity",
        "status",
        "count",
    ] {
        assert!(truth["findings"][0].get(key).is_some(), "{key}");
    }

    let config = http_get(&format!("{}/_sim/config", sim.url)).await.unwrap();
    let parsed =
        sightline::config::Config::parse(&format!("listen = \"127.0.0.1:1\"\n{config}")).unwrap();
    assert_eq!(parsed.aws.endpoint_url.as_deref(), Some(sim.url.as_str()));
    assert_eq!(parsed.accounts.len(), 24);

    let (status, _) = http("POST", &format!("{}/_sim/advance?days=3", sim.url))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let after: serde_json::Value =
        serde_json::from_str(&http_get(&format!("{}/_sim/truth", sim.url)).await.unwrap()).unwrap();
    assert_ne!(open(&after), before, "three days change the open count");
    let (status, _) = http("POST", &format!("{}/_sim/advance?days=soon", sim.url))
        .await
        .unwrap();
    assert_eq!(status, 400);
}

#[tokio::test]
async fn throttled_calls_succeed_after_the_sdks_retries() {
    let sim = spawn(Options::default()).await.unwrap();
    let (account, region) = {
        let e = sim.state.estate.read().unwrap();
        let a = e
            .accounts
            .iter()
            .position(|a| a.access == Access::Allowed && a.id != e.management)
            .unwrap();
        let r = (0..e.regions.len())
            .find(|&r| e.is_enabled(a, r, sightline::sim::org::Service::SecurityHub))
            .unwrap();
        (e.accounts[a].id.clone(), e.regions[r].clone())
    };
    let config = sim
        .client_config(&account, &region)
        .into_builder()
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(10))
        .build();

    // Security Hub's documented limit: 3 GetFindings a second, burst 6. Twelve at once exceed it.
    let hub = aws_sdk_securityhub::Client::new(&config);
    let calls = (0..12).map(|_| {
        let hub = hub.clone();
        async move { hub.get_findings().max_results(1).send().await.map(|_| ()) }
    });
    for result in futures_join_all(calls).await {
        result.unwrap();
    }
    let requests: std::collections::HashMap<String, u64> = serde_json::from_str(
        &http_get(&format!("{}/_sim/requests", sim.url))
            .await
            .unwrap(),
    )
    .unwrap();
    let get_findings: u64 = requests
        .iter()
        .filter(|(k, _)| k.ends_with("securityhub/POST /findings"))
        .map(|(_, n)| n)
        .sum();
    assert!(
        get_findings > 12,
        "no call was throttled and retried ({get_findings} requests)"
    );

    // A storm: half of all calls throttled. The SDK's retries still get every answer.
    let (status, _) = crate::support::http_with_body(
        "POST",
        &format!("{}/_sim/faults", sim.url),
        r#"{"throttle_rate": 0.5}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let guardduty = aws_sdk_guardduty::Client::new(&config);
    for _ in 0..10 {
        guardduty.list_detectors().send().await.unwrap();
    }
}

/// Runs futures concurrently (no futures-util dependency needed for one test).
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
