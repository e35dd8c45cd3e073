//! What every simulated service module gets from the server, and the error answers AWS gives.
//!
//! The server decides who is calling (account from the access key, region and service from
//! the SigV4 credential scope), applies rate limits, denied accounts and faults, then hands the
//! request to the service module, which answers in that service's wire format.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::org::{Estate, Service};

/// Who is asking, and of which service.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Index into `Estate::accounts`.
    pub account: usize,
    pub account_id: String,
    /// Index into `Estate::regions`.
    pub region: usize,
    pub region_code: String,
    pub service: Service,
}

/// A request as a service module sees it.
#[derive(Debug, Clone)]
pub struct SimRequest {
    pub method: Method,
    /// The path without the query string, e.g. `/detector/abc/findings/get`.
    pub path: String,
    /// Decoded query parameters.
    pub query: HashMap<String, String>,
    pub body: Bytes,
}

impl SimRequest {
    /// The body as JSON (an empty body is `{}`); a malformed body is a 400 in the caller.
    // The error is the finished 400 answer, made at most once per request: boxing buys nothing.
    #[allow(clippy::result_large_err)]
    pub fn json(&self) -> Result<serde_json::Value, Response> {
        if self.body.is_empty() {
            return Ok(serde_json::Value::Object(Default::default()));
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            rest_error(
                StatusCode::BAD_REQUEST,
                "ValidationException",
                &format!("malformed JSON body: {e}"),
            )
        })
    }
}

/// A JSON success answer of a restJson1 service.
pub fn json_ok(body: serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// A restJson1 error as AWS sends it: the `x-amzn-ErrorType` header (which the SDK reads first)
/// and a JSON body with `message`.
pub fn rest_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "message": message, "__type": code });
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(code) {
        headers.insert("x-amzn-ErrorType", v);
    }
    response
}

/// Security Hub spells its error body `{"Code", "Message"}`.
pub fn securityhub_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "Code": code, "Message": message });
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(code) {
        headers.insert("x-amzn-ErrorType", v);
    }
    response
}

/// The interface every simulated service module implements.
pub type Handler = fn(&Estate, &Ctx, &SimRequest) -> Response;

/// Formats epoch seconds as ISO-8601 with milliseconds (`2026-11-01T12:00:00.000Z`), the form
/// Security Hub, GuardDuty, Macie and Access Analyzer send.
pub fn iso(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses the ISO-8601 timestamps AWS clients send in filters.
pub fn parse_iso(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp())
}

/// An opaque page token: the offset into a stable ordering, so paging is deterministic.
pub fn encode_token(offset: usize) -> String {
    format!("sim-{offset:x}")
}

pub fn decode_token(token: &str) -> Option<usize> {
    token
        .strip_prefix("sim-")
        .and_then(|h| usize::from_str_radix(h, 16).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_tokens() {
        assert_eq!(iso(1_793_491_200), "2026-11-01T00:00:00.000Z");
        assert_eq!(parse_iso("2026-11-01T00:00:00.000Z"), Some(1_793_491_200));
        assert_eq!(parse_iso("2026-11-01T00:00:00Z"), Some(1_793_491_200));
        assert_eq!(decode_token(&encode_token(1234)), Some(1234));
        assert_eq!(decode_token("garbage"), None);
    }
}
