//! AWS Organizations over awsJson1_1 (`X-Amz-Target: AWSOrganizationsV20161128.<Op>`), for the
//! management account only: `ListAccounts`, `ListRoots`, `ListParents`,
//! `DescribeOrganizationalUnit`, `ListPoliciesForTarget`, `DescribePolicy` and
//! `DescribeOrganization`, paged by `MaxResults` (at most 20) and `NextToken`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::sim::audit::{Organization, Policy};
use crate::sim::org::Estate;
use crate::sim::wire::{self, BodyError, Paging, PagingError};

pub const TARGET_PREFIX: &str = "AWSOrganizationsV20161128.";

const PAGING: Paging = Paging {
    default: 20,
    max: 20,
    clamp: false,
    strict_null: false,
    empty_token_is_first: false,
};

/// The policy types `ListPoliciesForTarget` accepts as a `Filter`.
const POLICY_TYPES: [&str; 8] = [
    "SERVICE_CONTROL_POLICY",
    "RESOURCE_CONTROL_POLICY",
    "DECLARATIVE_POLICY_EC2",
    "BACKUP_POLICY",
    "TAG_POLICY",
    "CHATBOT_POLICY",
    "AISERVICES_OPT_OUT_POLICY",
    "SECURITYHUB_POLICY",
];

/// The operation an `X-Amz-Target` names, if it is Organizations'.
pub fn operation(target: Option<&str>) -> Option<&str> {
    target?.strip_prefix(TARGET_PREFIX)
}

fn error(code: &str, message: &str) -> Response {
    wire::json11_error(StatusCode::BAD_REQUEST, code, "Message", message)
}

fn invalid(reason: &str, message: &str) -> Response {
    wire::json_error(
        StatusCode::BAD_REQUEST,
        "InvalidInputException",
        json!({"__type": "InvalidInputException", "Message": message, "Reason": reason}),
    )
}

/// Answers `account`'s call of `operation` with JSON `body`.
pub fn handle(estate: &Estate, account: usize, operation: Option<&str>, body: &[u8]) -> Response {
    if estate.accounts[account].id != estate.management {
        return error(
            "AccessDeniedException",
            "You don't have permissions to access this resource.",
        );
    }
    let request = wire::SimRequest {
        method: axum::http::Method::POST,
        path: "/".to_owned(),
        query: Default::default(),
        body: axum::body::Bytes::copy_from_slice(body),
    };
    let input = match request.json_object() {
        Ok(m) => m,
        Err(BodyError::Malformed(e)) => {
            return error(
                "SerializationException",
                &format!("Unable to parse request body: {e}"),
            );
        }
        Err(BodyError::NotAnObject) => {
            return error(
                "SerializationException",
                "Start of structure or map found where not expected",
            );
        }
    };
    let org = &estate.audit.organization;
    let string = |key: &str| input.get(key).and_then(Value::as_str);
    match operation {
        Some("DescribeOrganization") => wire::json11_ok(json!({
            "Organization": {
                "Id": org.id,
                "Arn": format!("arn:aws:organizations::{}:organization/{}", org.management_id, org.id),
                "FeatureSet": "ALL",
                "MasterAccountArn": org.account_arn(&org.management_id),
                "MasterAccountId": org.management_id,
                "MasterAccountEmail": email(&estate.accounts[0].name),
                "AvailablePolicyTypes": [{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}],
            }
        })),
        Some("ListAccounts") => {
            let accounts: Vec<Value> = estate
                .accounts
                .iter()
                .zip(&org.members)
                .filter_map(|(a, m)| {
                    let m = m.as_ref()?;
                    Some(json!({
                        "Id": a.id,
                        "Arn": org.account_arn(&a.id),
                        "Email": email(&a.name),
                        "Name": a.name,
                        "Status": "ACTIVE",
                        "State": "ACTIVE",
                        "JoinedMethod": m.method,
                        "JoinedTimestamp": m.joined as f64 + 0.5,
                    }))
                })
                .collect();
            paged(&input, "Accounts", accounts)
        }
        Some("ListRoots") => paged(
            &input,
            "Roots",
            vec![json!({
                "Id": org.root_id,
                "Arn": org.root_arn(),
                "Name": "Root",
                "PolicyTypes": [{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}],
            })],
        ),
        Some("ListParents") => {
            let Some(child) = string("ChildId") else {
                return invalid("INVALID_INPUT", "ChildId is required");
            };
            let parent = match estate.account_index(child) {
                Some(a) => org.members[a].as_ref().map(|m| m.parent.as_str()),
                None => org.ou_parent(child),
            };
            let Some(parent) = parent else {
                return error(
                    "ChildNotFoundException",
                    "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.",
                );
            };
            let kind = if parent == org.root_id {
                "ROOT"
            } else {
                "ORGANIZATIONAL_UNIT"
            };
            paged(&input, "Parents", vec![json!({"Id": parent, "Type": kind})])
        }
        Some("DescribeOrganizationalUnit") => {
            match string("OrganizationalUnitId").and_then(|id| org.ou(id)) {
                Some(ou) => wire::json11_ok(json!({
                    "OrganizationalUnit": {"Id": ou.id, "Arn": org.ou_arn(ou), "Name": ou.name}
                })),
                None => error(
                    "OrganizationalUnitNotFoundException",
                    "We can't find an OU with the OrganizationalUnitId that you specified.",
                ),
            }
        }
        Some("ListPoliciesForTarget") => {
            let Some(filter) = string("Filter").filter(|f| POLICY_TYPES.contains(f)) else {
                return invalid(
                    "INVALID_ENUM_POLICY_TYPE",
                    "You specified an invalid value for Filter.",
                );
            };
            let Some(target) = string("TargetId").filter(|t| is_target(estate, org, t)) else {
                return error(
                    "TargetNotFoundException",
                    "We can't find a root, OU, account, or policy with the TargetId that you specified.",
                );
            };
            let policies: Vec<Value> = if filter == "SERVICE_CONTROL_POLICY" {
                org.policies_of(target).map(|p| summary(org, p)).collect()
            } else {
                Vec::new()
            };
            paged(&input, "Policies", policies)
        }
        Some("DescribePolicy") => match string("PolicyId").and_then(|id| org.policy(id)) {
            Some(p) => wire::json11_ok(json!({
                "Policy": {"PolicySummary": summary(org, p), "Content": p.content()}
            })),
            None => error(
                "PolicyNotFoundException",
                "We can't find a policy with the PolicyId that you specified.",
            ),
        },
        Some(other) => error(
            "UnknownOperationException",
            &format!("the simulator does not serve Organizations {other}"),
        ),
        None => error(
            "UnknownOperationException",
            "X-Amz-Target does not name an Organizations operation",
        ),
    }
}

fn email(name: &str) -> String {
    format!("aws+{name}@example.com")
}

fn is_target(estate: &Estate, org: &Organization, id: &str) -> bool {
    id == org.root_id
        || org.ou(id).is_some()
        || estate
            .account_index(id)
            .is_some_and(|a| org.members[a].is_some())
}

fn summary(org: &Organization, p: &Policy) -> Value {
    json!({
        "Id": p.id,
        "Arn": org.policy_arn(p),
        "Name": p.name,
        "Description": p.description,
        "Type": "SERVICE_CONTROL_POLICY",
        "AwsManaged": p.aws_managed,
    })
}

/// One page of `items` under `key`, with `NextToken` while more remain.
fn paged(input: &Map<String, Value>, key: &str, items: Vec<Value>) -> Response {
    let page = match PAGING.from_body(input, "MaxResults", "NextToken") {
        Ok(p) => p,
        Err(PagingError::MaxResults) => {
            return invalid(
                "MAX_VALUE_EXCEEDED",
                "MaxResults must be a whole number from 1 to 20.",
            );
        }
        Err(PagingError::TokenNotAString | PagingError::BadToken) => {
            return invalid(
                "INVALID_PAGINATION_TOKEN",
                "The NextToken value is not valid.",
            );
        }
    };
    let total = items.len();
    let mut out = Map::new();
    out.insert(key.into(), Value::Array(page.of(&items).cloned().collect()));
    if let Some(token) = page.next_token(total) {
        out.insert("NextToken".into(), Value::String(token));
    }
    wire::json11_ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::audit::FULL_AWS_ACCESS;
    use crate::sim::org::{Estate, Options};
    use crate::sim::services::testing::{all_pages, parts};

    fn call(e: &Estate, account: usize, op: &str, body: Value) -> (StatusCode, Value) {
        let (status, _, bytes) = parts(handle(e, account, Some(op), body.to_string().as_bytes()));
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn accounts_page_and_standalone_accounts_are_not_members() {
        let e = Estate::generate(&Options::default());
        let accounts = all_pages(
            |b| call(&e, 0, "ListAccounts", b),
            json!({"MaxResults": 5}),
            "Accounts",
            "NextToken",
        );
        let members = (0..e.accounts.len())
            .filter(|&a| e.audit.is_member(a))
            .count();
        assert_eq!(accounts.len(), members);
        assert!(members < e.accounts.len());
        let standalone = (0..e.accounts.len())
            .find(|&a| !e.audit.is_member(a))
            .unwrap();
        let (status, err) = call(
            &e,
            0,
            "ListParents",
            json!({"ChildId": e.accounts[standalone].id}),
        );
        assert_eq!(status, 400);
        assert_eq!(err["__type"], "ChildNotFoundException");
        let (status, err) = call(&e, 3, "ListAccounts", json!({}));
        assert_eq!(status, 400);
        assert_eq!(err["__type"], "AccessDeniedException");
        let (_, err) = call(&e, 0, "ListAccounts", json!({"MaxResults": 21}));
        assert_eq!(err["__type"], "InvalidInputException");
    }

    #[test]
    fn parents_lead_to_the_root_and_policies_describe() {
        let e = Estate::generate(&Options::default());
        let org = &e.audit.organization;
        let prod = (3..e.accounts.len())
            .find(|&a| e.audit.is_member(a) && e.accounts[a].environment == "prod")
            .unwrap();
        let mut child = e.accounts[prod].id.clone();
        let mut chain = Vec::new();
        loop {
            let (status, v) = call(&e, 0, "ListParents", json!({"ChildId": child}));
            assert_eq!(status, StatusCode::OK);
            let parent = &v["Parents"][0];
            chain.push(parent["Id"].as_str().unwrap().to_owned());
            if parent["Type"] == "ROOT" {
                break;
            }
            assert_eq!(parent["Type"], "ORGANIZATIONAL_UNIT");
            child = parent["Id"].as_str().unwrap().to_owned();
        }
        assert_eq!(chain.len(), 3);
        assert_eq!(chain[2], org.root_id);
        let (_, ou) = call(
            &e,
            0,
            "DescribeOrganizationalUnit",
            json!({"OrganizationalUnitId": chain[0]}),
        );
        assert_eq!(ou["OrganizationalUnit"]["Name"], "Prod");
        let policies = all_pages(
            |b| call(&e, 0, "ListPoliciesForTarget", b),
            json!({"TargetId": chain[0], "Filter": "SERVICE_CONTROL_POLICY", "MaxResults": 1}),
            "Policies",
            "NextToken",
        );
        let names: Vec<&str> = policies
            .iter()
            .map(|p| p["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["FullAWSAccess", "protect-audit-trail"]);
        let (_, full) = call(
            &e,
            0,
            "DescribePolicy",
            json!({"PolicyId": FULL_AWS_ACCESS}),
        );
        assert_eq!(full["Policy"]["PolicySummary"]["AwsManaged"], true);
        let content: Value =
            serde_json::from_str(full["Policy"]["Content"].as_str().unwrap()).unwrap();
        assert_eq!(content["Statement"][0]["Effect"], "Allow");
        let (_, err) = call(&e, 0, "DescribePolicy", json!({"PolicyId": "p-nothere1"}));
        assert_eq!(err["__type"], "PolicyNotFoundException");
        let (_, err) = call(
            &e,
            0,
            "ListPoliciesForTarget",
            json!({"TargetId": chain[0], "Filter": "NOPE"}),
        );
        assert_eq!(err["__type"], "InvalidInputException");
    }
}
