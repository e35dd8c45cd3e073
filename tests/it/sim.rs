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
