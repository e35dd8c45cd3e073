//! STS over the awsQuery protocol: `AssumeRole` and `GetCallerIdentity`, XML answers.
//!
//! Keys are stateless: a key issued by `AssumeRole` spells the account it belongs to
//! (`ASIASIM` + 12 digits + `X`), so the server knows the caller's account from any request's
//! access key, across restarts. Any other key is the management account's own.

use std::collections::HashMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::org::{Access, Estate};
use super::wire::iso;

const NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The account whose credentials `access_key_id` is: an assumed role's, or the management's.
pub fn account_of_key(estate: &Estate, access_key_id: &str) -> String {
    access_key_id
        .strip_prefix("ASIASIM")
        .and_then(|rest| rest.get(..12))
        .filter(|id| estate.account_index(id).is_some())
        .map_or_else(|| estate.management.clone(), str::to_owned)
}

fn key_for(account: &str) -> String {
    format!("ASIASIM{account}X")
}

/// Answers an STS request from `caller` (an account id) with form-encoded `body`.
pub fn handle(estate: &Estate, caller: &str, body: &[u8]) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    match form.get("Action").map(String::as_str) {
        Some("GetCallerIdentity") => {
            let arn = if caller == estate.management {
                format!("arn:aws:iam::{caller}:user/sightline-operator")
            } else {
                format!("arn:aws:sts::{caller}:assumed-role/SightlineReadOnly/sightline")
            };
            xml_ok(
                "GetCallerIdentity",
                &format!(
                    "<Arn>{arn}</Arn><UserId>AIDASIM{caller}</UserId><Account>{caller}</Account>"
                ),
            )
        }
        Some("AssumeRole") => assume_role(estate, caller, &form),
        Some(other) => xml_error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &format!("Could not find operation {other} for version 2011-06-15"),
        ),
        None => xml_error(StatusCode::BAD_REQUEST, "MissingAction", "Missing Action"),
    }
}

fn assume_role(estate: &Estate, caller: &str, form: &HashMap<String, String>) -> Response {
    let Some(role_arn) = form.get("RoleArn") else {
        return xml_error(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
        );
    };
    let session = form.get("RoleSessionName").cloned().unwrap_or_default();
    let denied = || {
        xml_error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            &format!(
                "User: arn:aws:iam::{caller}:user/sightline-operator is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            ),
        )
    };
    // arn:aws:iam::<account>:role/<name>
    let mut parts = role_arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return xml_error(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            &format!("{role_arn} is invalid"),
        );
    };
    let Some(index) = estate.account_index(account) else {
        return denied();
    };
    if estate.accounts[index].access == Access::RoleDenied {
        return denied();
    }
    let role_name = resource.strip_prefix("role/").unwrap_or(resource);
    let expiration = iso(chrono::Utc::now().timestamp() + 3600);
    let key = key_for(account);
    xml_ok(
        "AssumeRole",
        &format!(
            "<Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>simulated-secret-{account}</SecretAccessKey>\
             <SessionToken>simulated-session-{account}</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
             <AssumedRoleUser><AssumedRoleId>AROASIM{account}:{session}</AssumedRoleId>\
             <Arn>arn:aws:sts::{account}:assumed-role/{role_name}/{session}</Arn></AssumedRoleUser>\
             <PackedPolicySize>6</PackedPolicySize>",
            session = xml_escape(&session),
            role_name = xml_escape(role_name),
        ),
    )
}

fn xml_ok(action: &str, result: &str) -> Response {
    let body = format!(
        "<{action}Response xmlns=\"{NS}\"><{action}Result>{result}</{action}Result>\
         <ResponseMetadata><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ResponseMetadata></{action}Response>"
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"))],
        body,
    )
        .into_response()
}

fn xml_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error>\
         <RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>",
        xml_escape(message)
    );
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"))],
        body,
    )
        .into_response()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
