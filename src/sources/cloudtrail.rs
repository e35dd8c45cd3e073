//! CloudTrail, for the baseline: the account's multi-region trails (its own and the
//! organisation's), whether each is logging, and which data events its selectors record.
//!
//! `DescribeTrails` with shadow trails in one region lists every multi-region trail that
//! covers the account, wherever its home region is; each is then asked for its status and
//! selectors in its home region. Trails and selectors are read from the raw JSON (as the
//! finding normalisers are), so both selector forms are interpreted by pure, tested code.

use aws_config::SdkConfig;
use serde_json::Value;

use crate::baseline::evaluate::Trail;
use crate::domain::AccountId;
use crate::poller::capture::RawCapture;
use crate::poller::clients::{Clients, Pace};
use crate::poller::errors::{CallError, classify};

/// The multi-region trails that cover the account, each with its status and data events,
/// listed in `region`.
pub async fn read_trails(
    clients: &Clients,
    account: &AccountId,
    region: &str,
) -> Result<Vec<Trail>, CallError> {
    let sdk = clients.config_for(account, region).await;
    let client = aws_sdk_cloudtrail::Client::new(&sdk);
    let capture = RawCapture::default();
    clients
        .pace(account, region, "cloudtrail:DescribeTrails", Pace::Default)
        .await;
    client
        .describe_trails()
        .include_shadow_trails(true)
        .customize()
        .interceptor(capture.clone())
        .send()
        .await
        .map_err(|e| classify(&e))?;
    let mut trails = parse_trails(&capture.json());
    for trail in &mut trails {
        let home = if trail.home_region.is_empty() {
            region.to_owned()
        } else {
            trail.home_region.clone()
        };
        let client = client_in(&sdk, &home);
        clients
            .pace(account, &home, "cloudtrail:GetTrailStatus", Pace::Default)
            .await;
        let status = client
            .get_trail_status()
            .name(&trail.arn)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        trail.logging = status.is_logging().unwrap_or(false);
        let capture = RawCapture::default();
        clients
            .pace(
                account,
                &home,
                "cloudtrail:GetEventSelectors",
                Pace::Default,
            )
            .await;
        client
            .get_event_selectors()
            .trail_name(&trail.arn)
            .customize()
            .interceptor(capture.clone())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let (s3, lambda) = data_events(&capture.json());
        trail.s3_data_events = s3;
        trail.lambda_data_events = lambda;
    }
    Ok(trails)
}

fn client_in(sdk: &SdkConfig, region: &str) -> aws_sdk_cloudtrail::Client {
    let config = sdk
        .clone()
        .into_builder()
        .region(aws_config::Region::new(region.to_owned()))
        .build();
    aws_sdk_cloudtrail::Client::new(&config)
}

/// The multi-region trails of a `DescribeTrails` answer, once each (a shadow trail repeats its
/// trail's ARN), in ARN order. Status and selectors are left for their own calls.
pub fn parse_trails(body: &Value) -> Vec<Trail> {
    let text = |t: &Value, k: &str| {
        t.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let flag = |t: &Value, k: &str| t.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut trails: Vec<Trail> = body
        .get("trailList")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| flag(t, "IsMultiRegionTrail"))
        .filter_map(|t| {
            Some(Trail {
                arn: text(t, "TrailARN")?,
                home_region: text(t, "HomeRegion").unwrap_or_default(),
                organization: flag(t, "IsOrganizationTrail"),
                logging: false,
                validation: flag(t, "LogFileValidationEnabled"),
                kms_key: text(t, "KmsKeyId"),
                bucket: text(t, "S3BucketName"),
                log_group: text(t, "CloudWatchLogsLogGroupArn"),
                s3_data_events: None,
                lambda_data_events: None,
            })
        })
        .collect();
    trails.sort_by(|a, b| a.arn.cmp(&b.arn));
    trails.dedup_by(|a, b| a.arn == b.arn);
    trails
}

const S3_OBJECT: &str = "AWS::S3::Object";
const LAMBDA_FUNCTION: &str = "AWS::Lambda::Function";

/// Which selector of a `GetEventSelectors` answer records S3 object and Lambda function data
/// events, described for the evidence: classic `EventSelectors[].DataResources[].Type`, or an
/// advanced selector whose field selectors say `eventCategory` = `Data` and `resources.type`
/// = the resource type.
pub fn data_events(body: &Value) -> (Option<String>, Option<String>) {
    let classic = |kind: &str| {
        body.get("EventSelectors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|s| {
                s.get("DataResources")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
            .find(|r| r.get("Type").and_then(Value::as_str) == Some(kind))
            .map(|r| {
                let values: Vec<&str> = r
                    .get("Values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                format!("event selector DataResources {kind} {}", values.join(" "))
                    .trim_end()
                    .to_owned()
            })
    };
    let advanced = |kind: &str| {
        body.get("AdvancedEventSelectors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|s| {
                let fields: Vec<&Value> = s
                    .get("FieldSelectors")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .collect();
                let equals = |field: &str, value: &str| {
                    fields.iter().any(|f| {
                        f.get("Field").and_then(Value::as_str) == Some(field)
                            && f.get("Equals")
                                .and_then(Value::as_array)
                                .is_some_and(|v| v.iter().any(|x| x.as_str() == Some(value)))
                    })
                };
                equals("eventCategory", "Data") && equals("resources.type", kind)
            })
            .map(|s| {
                format!(
                    "advanced event selector {:?} ({kind})",
                    s.get("Name").and_then(Value::as_str).unwrap_or("unnamed")
                )
            })
    };
    (
        classic(S3_OBJECT).or_else(|| advanced(S3_OBJECT)),
        classic(LAMBDA_FUNCTION).or_else(|| advanced(LAMBDA_FUNCTION)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/fixtures/aws/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn only_multi_region_trails_once_each() {
        let mut body = fixture("cloudtrail-describe-trails.json");
        // A shadow copy of the multi-region trail, as another region lists it.
        let shadow = body["trailList"][2].clone();
        body["trailList"].as_array_mut().unwrap().push(shadow);
        let trails = parse_trails(&body);
        assert_eq!(trails.len(), 1);
        let t = &trails[0];
        assert_eq!(
            t.arn,
            "arn:aws:cloudtrail:us-east-1:111111111111:trail/test-cloudtrail"
        );
        assert_eq!(t.home_region, "us-east-1");
        assert!(!t.validation && !t.organization);
        assert_eq!(t.kms_key, None);
        assert_eq!(t.bucket.as_deref(), Some("amzn-s3-demo-bucket3"));
        assert_eq!(
            t.log_group.as_deref(),
            Some("arn:aws:logs:us-east-1:111111111111:log-group:test_log_group:*")
        );
    }

    #[test]
    fn classic_selectors_record_both() {
        let (s3, lambda) = data_events(&fixture("cloudtrail-get-event-selectors-classic.json"));
        assert_eq!(
            s3.as_deref(),
            Some(
                "event selector DataResources AWS::S3::Object arn:aws:s3:::amzn-s3-demo-bucket/prefix arn:aws:s3:::amzn-s3-demo-bucket2/prefix2"
            )
        );
        assert!(lambda.unwrap().contains("hello-world-python-function"));
    }

    #[test]
    fn advanced_selectors_record_both() {
        let (s3, lambda) = data_events(&fixture("cloudtrail-get-event-selectors-advanced.json"));
        assert_eq!(
            s3.as_deref(),
            Some(
                "advanced event selector \"Log PutObject and DeleteObject events for all but one bucket\" (AWS::S3::Object)"
            )
        );
        assert_eq!(
            lambda.as_deref(),
            Some(
                "advanced event selector \"Log data events for a specific Lambda function\" (AWS::Lambda::Function)"
            )
        );
    }

    #[test]
    fn management_events_only_record_neither() {
        let body = serde_json::json!({
            "TrailARN": "arn:aws:cloudtrail:us-east-1:111111111111:trail/t",
            "AdvancedEventSelectors": [{"Name": "Management events",
                "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]
        });
        assert_eq!(data_events(&body), (None, None));
        assert_eq!(data_events(&Value::Null), (None, None));
    }
}
