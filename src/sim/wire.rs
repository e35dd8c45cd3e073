//! What every simulated service module gets from the server, the error answers AWS gives, and
//! the offset paging every service shares.
//!
//! The server decides who is calling (account from the access key, region and service from
//! the SigV4 credential scope), applies rate limits, denied accounts and faults, then hands the
//! request to the service module, which answers in that service's wire format.

use std::cmp::Ordering;
use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::org::{Estate, Service};
use super::rng::Rng;

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

impl Ctx {
    /// The context of (account, region) in `estate`, asking `service`; `None` if the estate has
    /// no such account or region.
    pub fn of(estate: &Estate, account: usize, region: usize, service: Service) -> Option<Ctx> {
        Some(Ctx {
            account,
            account_id: estate.accounts.get(account)?.id.clone(),
            region,
            region_code: estate.regions.get(region)?.clone(),
            service,
        })
    }

    /// The contexts whose findings the caller sees in this region: its own, and as the
    /// delegated administrator every member account's (`Estate::seen_accounts`).
    pub fn seen(&self, estate: &Estate) -> Vec<Ctx> {
        estate
            .seen_accounts(self.account)
            .into_iter()
            .filter_map(|a| Ctx::of(estate, a, self.region, self.service))
            .collect()
    }

    /// When the service was switched on in the target, for the services that say (GuardDuty's
    /// detector, Macie's session): 30 to 329 days, drawn from `domain`, before the estate's
    /// first finding, which does not move as the clock advances.
    pub fn enabled_at(&self, estate: &Estate, domain: u64) -> i64 {
        const DAY: i64 = 86_400;
        let days = Rng::derive(
            estate.seed,
            &[domain, self.account as u64, self.region as u64],
        )
        .below(300) as i64;
        estate.findings.first().map_or(estate.now, |f| f.created) - 30 * DAY - days * DAY
    }
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
    /// The body as a JSON object (an empty body is `{}`), or why it is not one: every service
    /// reads its input this way and words the 400 its own way.
    pub fn json_object(&self) -> Result<Map<String, Value>, BodyError> {
        if self.body.is_empty() {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(BodyError::NotAnObject),
            Err(e) => Err(BodyError::Malformed(e)),
        }
    }
}

/// Why a request body is not the JSON object a service expects.
#[derive(Debug)]
pub enum BodyError {
    /// Not JSON at all.
    Malformed(serde_json::Error),
    /// JSON, but not an object.
    NotAnObject,
}

/// A JSON array of strings as owned strings; `None` for anything else.
pub fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// A JSON success answer of a restJson1 service.
pub fn json_ok(body: Value) -> Response {
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
    json_error(
        status,
        code,
        serde_json::json!({ "message": message, "__type": code }),
    )
}

/// Security Hub spells its error body `{"Code", "Message"}`.
pub fn securityhub_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_error(
        status,
        code,
        serde_json::json!({ "Code": code, "Message": message }),
    )
}

/// An error of code `code` with `body` as it is, for services whose errors carry more members
/// than `message` (Inspector's and Access Analyzer's `reason`, …).
pub fn json_error(status: StatusCode, code: &str, body: Value) -> Response {
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

/// An awsJson1_1 success answer (CloudTrail, Organizations).
pub fn json11_ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.1"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// An awsJson1_1 error: `__type` is the code (the SDK reads it from the body) and the message
/// is under `message_key`, which each service spells its own way (`message`, `Message`).
pub fn json11_error(status: StatusCode, code: &str, message_key: &str, message: &str) -> Response {
    let mut body = Map::new();
    body.insert("__type".into(), Value::String(code.to_owned()));
    body.insert(message_key.into(), Value::String(message.to_owned()));
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.1"),
        )],
        Value::Object(body).to_string(),
    )
        .into_response()
}

/// Escapes text for an XML element or attribute.
pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
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

/// Sorts `items` by `by`, reversed when `descending`. Ties keep creation (serial) order
/// whatever the direction, so the offsets that page tokens hold stay stable.
pub fn sort_for_paging<T>(
    items: &mut [T],
    descending: bool,
    serial: impl Fn(&T) -> u32,
    by: impl Fn(&T, &T) -> Ordering,
) {
    items.sort_by(|a, b| {
        let primary = by(a, b);
        let primary = if descending {
            primary.reverse()
        } else {
            primary
        };
        primary.then(serial(a).cmp(&serial(b)))
    });
}

/// How a service reads `maxResults` and `nextToken`. Every simulated service pages the same way,
/// by offset tokens; these are the ways they differ.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    /// The page size when the caller asks for none.
    pub default: usize,
    /// The largest page. A larger `maxResults` is refused, unless `clamp`.
    pub max: usize,
    /// Serve a larger `maxResults` as `max` instead of refusing it.
    pub clamp: bool,
    /// Refuse an explicit `null` `maxResults` or `nextToken` rather than read it as absent.
    pub strict_null: bool,
    /// Read an empty `nextToken` as the first page rather than as a token it never issued.
    pub empty_token_is_first: bool,
}

/// Why `maxResults` or `nextToken` was refused; the service words the 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PagingError {
    /// Not a whole number in the service's range.
    MaxResults,
    /// A `nextToken` that is not a string.
    TokenNotAString,
    /// A `nextToken` the simulator did not issue.
    BadToken,
}

impl Paging {
    /// The page size: `asked` is `None` when `maxResults` is absent, `Some(None)` when it is not
    /// a whole number.
    pub fn size(&self, asked: Option<Option<i64>>) -> Result<usize, PagingError> {
        match asked {
            None => Ok(self.default),
            Some(Some(n)) if (1..=self.max as i64).contains(&n) => Ok(n as usize),
            Some(Some(n)) if n >= 1 && self.clamp => Ok(self.max),
            Some(_) => Err(PagingError::MaxResults),
        }
    }

    /// Where the page starts: the offset `token` holds, 0 without one.
    pub fn offset(&self, token: Option<&str>) -> Result<usize, PagingError> {
        match token {
            None => Ok(0),
            Some("") if self.empty_token_is_first => Ok(0),
            Some(t) => decode_token(t).ok_or(PagingError::BadToken),
        }
    }

    /// The page a JSON body asks for, with its `maxResults` and `nextToken` under the names
    /// the service gives them. `maxResults` is read first.
    pub fn from_body(
        &self,
        body: &Map<String, Value>,
        max_results: &str,
        next_token: &str,
    ) -> Result<Page, PagingError> {
        let given = |key: &str| body.get(key).filter(|v| self.strict_null || !v.is_null());
        let size = self.size(given(max_results).map(Value::as_i64))?;
        let token = match given(next_token) {
            None => None,
            Some(Value::String(t)) => Some(t.as_str()),
            Some(_) => return Err(PagingError::TokenNotAString),
        };
        Ok(Page {
            offset: self.offset(token)?,
            size,
        })
    }

    /// The page the query string asks for (`maxResults` and `nextToken`).
    pub fn from_query(&self, query: &HashMap<String, String>) -> Result<Page, PagingError> {
        let size = self.size(query.get("maxResults").map(|s| s.parse().ok()))?;
        Ok(Page {
            offset: self.offset(query.get("nextToken").map(String::as_str))?,
            size,
        })
    }
}

/// One page of a stable ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub size: usize,
}

impl Page {
    /// This page's share of `items`.
    pub fn of<T>(self, items: &[T]) -> impl Iterator<Item = &T> {
        items.iter().skip(self.offset).take(self.size)
    }

    /// The token of the next page while items remain after this one, of `total`.
    pub fn next_token(self, total: usize) -> Option<String> {
        (self.offset.saturating_add(self.size) < total)
            .then(|| encode_token(self.offset + self.size))
    }

    /// A list answer: `items` (this page) under `key`, and the next page's token under
    /// `token_key` while more remain; on the last page the token is left out.
    pub fn answer(self, key: &str, items: Vec<Value>, token_key: &str, total: usize) -> Response {
        let mut out = Map::new();
        out.insert(key.into(), Value::Array(items));
        if let Some(token) = self.next_token(total) {
            out.insert(token_key.into(), Value::String(token));
        }
        json_ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn timestamps_and_tokens() {
        assert_eq!(iso(1_793_491_200), "2026-11-01T00:00:00.000Z");
        assert_eq!(parse_iso("2026-11-01T00:00:00.000Z"), Some(1_793_491_200));
        assert_eq!(parse_iso("2026-11-01T00:00:00Z"), Some(1_793_491_200));
        assert_eq!(decode_token(&encode_token(1234)), Some(1234));
        assert_eq!(decode_token("garbage"), None);
    }

    #[test]
    fn paging_rules() {
        let strict = Paging {
            default: 50,
            max: 50,
            clamp: false,
            strict_null: true,
            empty_token_is_first: true,
        };
        let lenient = Paging {
            default: 100,
            max: 1000,
            clamp: true,
            strict_null: false,
            empty_token_is_first: false,
        };
        let body = |v: Value| v.as_object().unwrap().clone();
        let read = |p: &Paging, v| p.from_body(&body(v), "maxResults", "nextToken");
        let page = |offset, size| Ok(Page { offset, size });
        assert_eq!(read(&strict, json!({})), page(0, 50));
        assert_eq!(
            read(&strict, json!({"maxResults": 50, "nextToken": ""})),
            page(0, 50)
        );
        assert_eq!(
            read(&strict, json!({"maxResults": 51})),
            Err(PagingError::MaxResults)
        );
        assert_eq!(
            read(&strict, json!({"maxResults": null})),
            Err(PagingError::MaxResults)
        );
        assert_eq!(
            read(&strict, json!({"nextToken": null})),
            Err(PagingError::TokenNotAString)
        );
        assert_eq!(
            read(&lenient, json!({"maxResults": null, "nextToken": null})),
            page(0, 100)
        );
        assert_eq!(read(&lenient, json!({"maxResults": 5000})), page(0, 1000));
        assert_eq!(
            read(&lenient, json!({"maxResults": 0})),
            Err(PagingError::MaxResults)
        );
        assert_eq!(
            read(&lenient, json!({"nextToken": ""})),
            Err(PagingError::BadToken)
        );
        assert_eq!(
            read(&lenient, json!({"nextToken": encode_token(7)})),
            page(7, 100)
        );
        let query: HashMap<String, String> = [("maxResults".to_owned(), "x".to_owned())]
            .into_iter()
            .collect();
        assert_eq!(lenient.from_query(&query), Err(PagingError::MaxResults));

        let p = Page { offset: 4, size: 2 };
        assert_eq!(
            p.of(&[0, 1, 2, 3, 4, 5, 6]).copied().collect::<Vec<_>>(),
            [4, 5]
        );
        assert_eq!(p.next_token(7), Some(encode_token(6)));
        assert_eq!(p.next_token(6), None);
    }
}
