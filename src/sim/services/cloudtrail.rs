//! CloudTrail over awsJson1_1 (`POST /`, `X-Amz-Target: CloudTrail_20131101.<Op>` as the Rust
//! SDK sends it, or botocore's `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.<Op>`): `DescribeTrails`,
//! `GetTrailStatus` and `GetEventSelectors`, rendered from the estate's trails in the shapes of
//! `fixtures/aws/cloudtrail-*.json` (timestamps as epoch numbers, the `*Attempt*` members as
//! strings, empty strings where nothing happened).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::sim::audit::{Selectors, Trail};
use crate::sim::org::Estate;
use crate::sim::rng::Rng;
use crate::sim::wire::{self, BodyError};

pub const TARGET_PREFIX: &str = "CloudTrail_20131101.";
/// botocore's spelling of the target, with the Smithy namespace.
const QUALIFIED_PREFIX: &str = "com.amazonaws.cloudtrail.v20131101.";

/// The operation an `X-Amz-Target` names, if it is CloudTrail's.
pub fn operation(target: Option<&str>) -> Option<&str> {
    let target = target?;
    target
        .strip_prefix(QUALIFIED_PREFIX)
        .unwrap_or(target)
        .strip_prefix(TARGET_PREFIX)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    wire::json11_error(status, code, "message", message)
}

/// Answers `account`'s call of `operation` in `region` with JSON `body`.
pub fn handle(
    estate: &Estate,
    account: usize,
    region: &str,
    operation: Option<&str>,
    body: &[u8],
) -> Response {
    let input = match parse(body) {
        Ok(m) => m,
        Err(e) => return e,
    };
    match operation {
        Some("DescribeTrails") => describe_trails(estate, account, region, &input),
        Some("GetTrailStatus") => match find(estate, account, region, input.get("Name")) {
            Ok(t) => wire::json11_ok(status(estate, t)),
            Err(e) => e,
        },
        Some("GetEventSelectors") => match find(estate, account, region, input.get("TrailName")) {
            Ok(t) => wire::json11_ok(selectors(t)),
            Err(e) => e,
        },
        Some(other) => error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            &format!("the simulator does not serve CloudTrail {other}"),
        ),
        None => error(
            StatusCode::BAD_REQUEST,
            "UnknownOperationException",
            "X-Amz-Target does not name a CloudTrail operation",
        ),
    }
}

fn parse(body: &[u8]) -> Result<Map<String, Value>, Response> {
    let request = wire::SimRequest {
        method: axum::http::Method::POST,
        path: "/".to_owned(),
        query: Default::default(),
        body: axum::body::Bytes::copy_from_slice(body),
    };
    request.json_object().map_err(|e| {
        let message = match e {
            BodyError::Malformed(e) => format!("Unable to parse request body: {e}"),
            BodyError::NotAnObject => "Start of structure or map found where not expected".into(),
        };
        error(StatusCode::BAD_REQUEST, "SerializationException", &message)
    })
}

fn describe_trails(
    estate: &Estate,
    account: usize,
    region: &str,
    input: &Map<String, Value>,
) -> Response {
    let audit = &estate.audit;
    let shadow = match input.get("includeShadowTrails") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "SerializationException",
                "includeShadowTrails: expected a boolean",
            );
        }
    };
    let names = match input.get("trailNameList") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => match wire::string_list(v) {
            Some(names) => names,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "SerializationException",
                    "trailNameList: expected a list of strings",
                );
            }
        },
    };
    let trails: Vec<Value> = if names.is_empty() {
        audit
            .trails_in(account, region, shadow)
            .map(trail)
            .collect()
    } else {
        // A name is a trail of the caller's homed in this region; another region's trail, or
        // the organisation's, is named by its ARN.
        audit
            .trails
            .iter()
            .filter(|t| audit.sees(account, t))
            .filter(|t| {
                names.iter().any(|n| {
                    *n == t.arn() || (*n == t.name && t.owner == account && t.home_region == region)
                })
            })
            .map(trail)
            .collect()
    };
    wire::json11_ok(json!({ "trailList": trails }))
}

/// The trail `name` (a name, or an ARN) names for `account` in `region`, or the error answer.
fn find<'a>(
    estate: &'a Estate,
    account: usize,
    region: &str,
    name: Option<&Value>,
) -> Result<&'a Trail, Response> {
    let audit = &estate.audit;
    let Some(name) = name.and_then(Value::as_str) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "InvalidTrailNameException",
            "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens (-), and underscores (_).",
        ));
    };
    let found = if name.starts_with("arn:") {
        let parts: Vec<&str> = name.splitn(6, ':').collect();
        let well_formed = parts.len() == 6
            && parts[2] == "cloudtrail"
            && parts[4].len() == 12
            && parts[5].starts_with("trail/");
        if !well_formed {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "CloudTrailARNInvalidException",
                &format!("Invalid trail ARN: {name}"),
            ));
        }
        audit
            .trails
            .iter()
            .find(|t| audit.sees(account, t) && t.arn() == name)
    } else {
        let valid = (3..=128).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "InvalidTrailNameException",
                "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), hyphens (-), and underscores (_).",
            ));
        }
        audit
            .trails
            .iter()
            .find(|t| t.owner == account && t.name == name && t.home_region == region)
    };
    found.ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "TrailNotFoundException",
            &format!(
                "Unknown trail: {name} for the user: {}",
                estate.accounts[account].id
            ),
        )
    })
}

/// One entry of `trailList`.
pub fn trail(t: &Trail) -> Value {
    let mut m = Map::new();
    m.insert("Name".into(), json!(t.name));
    m.insert("S3BucketName".into(), json!(t.bucket));
    if let Some(prefix) = &t.key_prefix {
        m.insert("S3KeyPrefix".into(), json!(prefix));
    }
    m.insert("IncludeGlobalServiceEvents".into(), json!(t.multi_region));
    m.insert("IsMultiRegionTrail".into(), json!(t.multi_region));
    m.insert("HomeRegion".into(), json!(t.home_region));
    m.insert("TrailARN".into(), json!(t.arn()));
    m.insert("LogFileValidationEnabled".into(), json!(t.validation));
    if let Some(group) = &t.log_group {
        m.insert("CloudWatchLogsLogGroupArn".into(), json!(group));
        m.insert(
            "CloudWatchLogsRoleArn".into(),
            json!(format!(
                "arn:aws:iam::{}:role/CloudTrail_CloudWatchLogs_Role",
                t.owner_id
            )),
        );
    }
    if let Some(key) = &t.kms_key {
        m.insert("KmsKeyId".into(), json!(key));
    }
    let custom = match &t.selectors {
        Selectors::Advanced(_) => true,
        Selectors::Classic(types) => !types.is_empty(),
    };
    m.insert("HasCustomEventSelectors".into(), json!(custom));
    m.insert("HasInsightSelectors".into(), json!(false));
    m.insert("IsOrganizationTrail".into(), json!(t.organization));
    Value::Object(m)
}

/// Epoch seconds with milliseconds, as awsJson sends timestamps.
fn epoch(seconds: i64, millis: u64) -> Value {
    json!(seconds as f64 + (millis % 1000) as f64 / 1000.0)
}

/// The string form of the `*Attempt*` and `TimeLogging*` members: `2023-09-22T12:17:32Z`.
fn stamp(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `GetTrailStatus`: a logging trail delivered minutes ago; a stopped one last delivered when
/// it stopped; one whose bucket is gone keeps trying and failing.
pub fn status(estate: &Estate, t: &Trail) -> Value {
    let mut r = Rng::derive(estate.seed, &[0xc7a1_5747, Rng::hash(&t.arn())]);
    let ms = r.below(1000);
    let last_active = t.stopped.unwrap_or(estate.now);
    let attempt = last_active - 60 - r.below(840) as i64;
    let mut m = Map::new();
    m.insert("IsLogging".into(), json!(t.logging));
    m.insert("StartLoggingTime".into(), epoch(t.started, ms));
    m.insert("TimeLoggingStarted".into(), json!(stamp(t.started)));
    let delivered = match t.delivery_error {
        Some(e) => {
            m.insert("LatestDeliveryError".into(), json!(e));
            // The last success: when the bucket still existed.
            (t.started + (attempt - t.started) / 3).max(t.started)
        }
        None => attempt,
    };
    m.insert("LatestDeliveryTime".into(), epoch(delivered, ms));
    m.insert("LatestDeliveryAttemptTime".into(), json!(stamp(attempt)));
    m.insert(
        "LatestDeliveryAttemptSucceeded".into(),
        json!(stamp(delivered)),
    );
    if t.validation {
        m.insert(
            "LatestDigestDeliveryTime".into(),
            epoch(delivered - delivered % 3600, ms),
        );
    }
    if t.log_group.is_some() {
        m.insert(
            "LatestCloudWatchLogsDeliveryTime".into(),
            epoch(attempt + 5, ms),
        );
    }
    m.insert("LatestNotificationAttemptTime".into(), json!(""));
    m.insert("LatestNotificationAttemptSucceeded".into(), json!(""));
    match t.stopped {
        Some(stopped) => {
            m.insert("StopLoggingTime".into(), epoch(stopped, ms));
            m.insert("TimeLoggingStopped".into(), json!(stamp(stopped)));
        }
        None => {
            m.insert("TimeLoggingStopped".into(), json!(""));
        }
    }
    Value::Object(m)
}

/// `GetEventSelectors`: classic `EventSelectors` or `AdvancedEventSelectors`, never both.
pub fn selectors(t: &Trail) -> Value {
    let field = |name: &str, equals: &[&str]| json!({"Field": name, "Equals": equals});
    match &t.selectors {
        Selectors::Classic(types) => {
            let resources: Vec<Value> = types
                .iter()
                .map(|ty| {
                    let values = match *ty {
                        "AWS::S3::Object" => vec!["arn:aws:s3".to_owned()],
                        "AWS::Lambda::Function" => vec!["arn:aws:lambda".to_owned()],
                        _ => vec![format!(
                            "arn:aws:dynamodb:{}:{}:table/orders",
                            t.home_region, t.owner_id
                        )],
                    };
                    json!({"Type": ty, "Values": values})
                })
                .collect();
            json!({
                "TrailARN": t.arn(),
                "EventSelectors": [{
                    "ReadWriteType": "All",
                    "IncludeManagementEvents": true,
                    "DataResources": resources,
                    "ExcludeManagementEventSources": [],
                }],
            })
        }
        Selectors::Advanced(types) => {
            let mut selectors = vec![json!({
                "Name": "Management events selector",
                "FieldSelectors": [field("eventCategory", &["Management"])],
            })];
            for ty in types {
                let mut fields = vec![
                    field("eventCategory", &["Data"]),
                    field("resources.type", &[ty]),
                ];
                let name = match *ty {
                    "AWS::S3::Object" => "Log all S3 object events".to_owned(),
                    "AWS::Lambda::Function" => {
                        fields.push(json!({
                            "Field": "resources.ARN",
                            "StartsWith": [format!("arn:aws:lambda:{}:{}:function:", t.home_region, t.owner_id)],
                        }));
                        "Log invocations of this account's functions".to_owned()
                    }
                    other => format!("Log {other} data events"),
                };
                selectors.push(json!({"Name": name, "FieldSelectors": fields}));
            }
            json!({ "TrailARN": t.arn(), "AdvancedEventSelectors": selectors })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::org::{Estate, Options};
    use crate::sim::services::testing::parts;

    fn call(e: &Estate, account: usize, region: &str, op: &str, body: Value) -> (u16, Value) {
        let (status, _, bytes) = parts(handle(
            e,
            account,
            region,
            Some(op),
            body.to_string().as_bytes(),
        ));
        (status.as_u16(), serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn members_see_the_organisation_trail_only_as_a_shadow() {
        let e = Estate::generate(&Options::default());
        let member = (3..e.accounts.len())
            .find(|&a| e.audit.is_member(a))
            .unwrap();
        let region = &e.regions[0];
        let (status, all) = call(&e, member, region, "DescribeTrails", json!({}));
        assert_eq!(status, 200);
        let org: Vec<&Value> = all["trailList"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["IsOrganizationTrail"] == true)
            .collect();
        assert_eq!(org.len(), 1);
        assert!(org[0]["TrailARN"].as_str().unwrap().contains(&e.management));
        let (_, own) = call(
            &e,
            member,
            region,
            "DescribeTrails",
            json!({"includeShadowTrails": false}),
        );
        assert!(
            own["trailList"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["IsOrganizationTrail"] == false)
        );
        // By ARN, in its home region, the member reads the organisation trail's status.
        let arn = org[0]["TrailARN"].as_str().unwrap();
        let (status, s) = call(&e, member, region, "GetTrailStatus", json!({"Name": arn}));
        assert_eq!(status, 200);
        assert_eq!(s["IsLogging"], true);
        assert!(s["LatestDeliveryTime"].is_f64());
        assert!(s["TimeLoggingStarted"].as_str().unwrap().ends_with('Z'));
        let (_, sel) = call(
            &e,
            member,
            region,
            "GetEventSelectors",
            json!({"TrailName": arn}),
        );
        assert!(sel.get("EventSelectors").is_none());
        assert_eq!(
            sel["AdvancedEventSelectors"][0]["FieldSelectors"][0]["Equals"][0],
            "Management"
        );
        // By name, the organisation trail is not the member's.
        let (status, err) = call(
            &e,
            member,
            region,
            "GetTrailStatus",
            json!({"Name": "organization-trail"}),
        );
        assert_eq!(status, 404);
        assert_eq!(err["__type"], "TrailNotFoundException");
    }

    #[test]
    fn standalone_accounts_do_not_see_the_organisation_trail() {
        let e = Estate::generate(&Options::default());
        let standalone = (0..e.accounts.len())
            .find(|&a| !e.audit.is_member(a))
            .unwrap();
        let org_arn = e
            .audit
            .trails
            .iter()
            .find(|t| t.organization)
            .unwrap()
            .arn();
        let (_, all) = call(&e, standalone, &e.regions[0], "DescribeTrails", json!({}));
        assert!(
            all["trailList"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["TrailARN"] != org_arn.as_str())
        );
        let (status, err) = call(
            &e,
            standalone,
            &e.regions[0],
            "GetTrailStatus",
            json!({"Name": org_arn}),
        );
        assert_eq!(
            (status, err["__type"].as_str()),
            (404, Some("TrailNotFoundException"))
        );
        let (status, err) = call(
            &e,
            standalone,
            &e.regions[0],
            "GetTrailStatus",
            json!({"Name": "arn:aws:cloudtrail:nope"}),
        );
        assert_eq!(
            (status, err["__type"].as_str()),
            (400, Some("CloudTrailARNInvalidException"))
        );
    }

    #[test]
    fn classic_selectors_list_data_resources() {
        let e = Estate::generate(&Options::default());
        let t = e
            .audit
            .trails
            .iter()
            .find(|t| matches!(&t.selectors, Selectors::Classic(types) if !types.is_empty()))
            .unwrap();
        let v = selectors(t);
        assert!(v.get("AdvancedEventSelectors").is_none());
        let types: Vec<&str> = v["EventSelectors"][0]["DataResources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Type"].as_str().unwrap())
            .collect();
        assert_eq!(types, t.selectors.data_types());
    }
}
