//! `deploy/aws/`: the least-privilege policy allows exactly the AWS actions the poller calls.

use std::collections::BTreeSet;

/// IAM actions called in `src/sources/<file>.rs` (the five finding sources and the baseline's
/// CloudTrail, S3 and Organizations reads), read off the `client.<operation>()` calls.
/// (cfn-lint, run by scripts/test, checks that each is a real IAM action.)
fn called_actions() -> BTreeSet<String> {
    let prefixes = [
        ("securityhub", "securityhub"),
        ("guardduty", "guardduty"),
        ("inspector", "inspector2"),
        ("macie", "macie2"),
        ("accessanalyzer", "access-analyzer"),
        ("cloudtrail", "cloudtrail"),
        ("s3", "s3"),
        ("organizations", "organizations"),
    ];
    let mut actions = BTreeSet::new();
    for (file, prefix) in prefixes {
        let path = format!("{}/src/sources/{file}.rs", env!("CARGO_MANIFEST_DIR"));
        let code: String = std::fs::read_to_string(path)
            .unwrap()
            .split_whitespace()
            .collect();
        for call in code.split("client.").skip(1) {
            let op: String = call
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if call[op.len()..].starts_with("()") && !op.is_empty() {
                let pascal: String = op
                    .split('_')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                            .unwrap_or_default()
                    })
                    .collect();
                // IAM authorizes Access Analyzer's V2 finding APIs with the V1 actions.
                let action = match pascal.as_str() {
                    "ListFindingsV2" => "ListFindings".to_owned(),
                    "GetFindingV2" => "GetFinding".to_owned(),
                    // S3's operations and IAM actions have different names.
                    "ListBuckets" => "ListAllMyBuckets".to_owned(),
                    "GetBucketLifecycleConfiguration" => "GetLifecycleConfiguration".to_owned(),
                    _ => pascal,
                };
                actions.insert(format!("{prefix}:{action}"));
            }
        }
    }
    actions
}

#[test]
fn policy_allows_exactly_what_the_poller_calls() {
    let called = called_actions();
    assert!(called.len() >= 13, "{called:?}");
    assert!(
        called.contains("access-analyzer:ListFindings")
            && called.contains("inspector2:BatchGetAccountStatus")
    );

    let policy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/deploy/aws/sightline-readonly-policy.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let allowed: BTreeSet<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        allowed, called,
        "deploy/aws/sightline-readonly-policy.json differs from the calls in src/sources/"
    );

    // The CloudFormation template carries the same list.
    let template = std::fs::read_to_string(format!(
        "{}/deploy/aws/sightline-readonly-role.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let in_template: BTreeSet<String> = template
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("- "))
        .filter(|a| a.contains(':') && !a.contains(' '))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        in_template, called,
        "deploy/aws/sightline-readonly-role.yaml differs from the calls in src/sources/"
    );
}
