//! What the service modules' unit tests share: a caller's context, a request, the parts of an
//! answer, and the targets worth testing.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

use crate::sim::org::{Access, Estate, Service};
use crate::sim::wire::{Ctx, SimRequest};

/// The context of (account, region), asking `service`.
pub fn ctx(e: &Estate, account: usize, region: usize, service: Service) -> Ctx {
    Ctx::of(e, account, region, service).unwrap()
}

/// A request with these query parameters and body.
pub fn request(
    method: Method,
    path: &str,
    query: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> SimRequest {
    SimRequest {
        method,
        path: path.to_owned(),
        query: query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.into(),
    }
}

/// A JSON request body; `null` stands for none.
pub fn body(v: &Value) -> String {
    if v.is_null() {
        String::new()
    } else {
        v.to_string()
    }
}

/// An answer's status, headers and body.
pub fn parts(response: Response) -> (StatusCode, HeaderMap, Bytes) {
    let (parts, body) = response.into_parts();
    let bytes = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(axum::body::to_bytes(body, usize::MAX))
        .unwrap();
    (parts.status, parts.headers, bytes)
}

/// The target where `service` is on with the most findings (the first of equals), and the first
/// where it is off, in account-then-region order.
pub fn busiest_and_off(e: &Estate, service: Service) -> ((usize, usize), (usize, usize)) {
    let mut on: Option<((usize, usize), usize)> = None;
    let mut off = None;
    for a in 0..e.accounts.len() {
        for r in 0..e.regions.len() {
            if e.is_enabled(a, r, service) {
                let n = e.target_findings(a, r, service).count();
                if on.is_none_or(|(_, best)| n > best) {
                    on = Some(((a, r), n));
                }
            } else if off.is_none() {
                off = Some((a, r));
            }
        }
    }
    (on.unwrap().0, off.unwrap())
}

/// Every target where `service` is on and the account lets Sightline in, in account-then-region
/// order.
pub fn allowed_on(e: &Estate, service: Service) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for a in 0..e.accounts.len() {
        for r in 0..e.regions.len() {
            if e.is_enabled(a, r, service) && e.accounts[a].access == Access::Allowed {
                out.push((a, r));
            }
        }
    }
    out
}

/// Every item under `key` of every page `send` answers for `body`, following the token under
/// `token_key` until a page has none. Each page must be a 200.
pub fn all_pages(
    mut send: impl FnMut(Value) -> (StatusCode, Value),
    mut body: Value,
    key: &str,
    token_key: &str,
) -> Vec<Value> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let (status, page) = send(body.clone());
        assert_eq!(status, StatusCode::OK, "{page}");
        out.extend(page[key].as_array().unwrap().iter().cloned());
        match page.get(token_key) {
            Some(token) => body[token_key] = token.clone(),
            None => return out,
        }
    }
    panic!("paging never ended");
}
