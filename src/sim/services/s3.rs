//! S3 over restXml, path-style (`GET /` and `GET /<bucket>?lifecycle`): `ListBuckets` (the
//! caller's own buckets, with `BucketRegion`, paged by `max-buckets`) and
//! `GetBucketLifecycleConfiguration`, with S3's XML errors: `NoSuchLifecycleConfiguration` and
//! `NoSuchBucket` (404), `AccessDenied` (403) for another account's bucket.

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::sim::audit::Bucket;
use crate::sim::org::Estate;
use crate::sim::rng::Rng;
use crate::sim::wire::{self, xml_escape};

const NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
const REQUEST_ID: &str = "5IMULATED0REQUEST";

/// The operation a path-style request is, for counters and rate limits.
pub fn operation(method: &Method, path: &str, query: &HashMap<String, String>) -> &'static str {
    let bucket = path.trim_matches('/');
    match (method, bucket.is_empty(), bucket.contains('/')) {
        (&Method::GET, true, _) => "ListBuckets",
        (&Method::GET, false, false) if query.contains_key("lifecycle") => {
            "GetBucketLifecycleConfiguration"
        }
        _ => "Unsupported",
    }
}

/// Answers `account`'s S3 request.
pub fn handle(
    estate: &Estate,
    account: usize,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    match operation(method, path, query) {
        "ListBuckets" => list_buckets(estate, account, query),
        "GetBucketLifecycleConfiguration" => {
            let expected_owner = headers
                .get("x-amz-expected-bucket-owner")
                .and_then(|v| v.to_str().ok());
            lifecycle(estate, account, path.trim_matches('/'), expected_owner)
        }
        _ => error(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "A header or query you provided implies functionality that is not implemented",
            None,
        ),
    }
}

/// An S3 error document.
pub fn error(status: StatusCode, code: &str, message: &str, bucket: Option<&str>) -> Response {
    let bucket = bucket
        .map(|b| format!("<BucketName>{}</BucketName>", xml_escape(b)))
        .unwrap_or_default();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message>{bucket}\
         <RequestId>{REQUEST_ID}</RequestId><HostId>simulated</HostId></Error>",
        xml_escape(message)
    );
    xml(status, body)
}

fn xml(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert("x-amz-request-id", HeaderValue::from_static(REQUEST_ID));
    headers.insert("x-amz-id-2", HeaderValue::from_static("simulated"));
    response
}

/// The account's canonical user id: 64 hex digits, the same for every call.
pub fn canonical_id(account_id: &str) -> String {
    let mut r = Rng::new(Rng::hash(account_id));
    (0..4).map(|_| format!("{:016x}", r.next_u64())).collect()
}

fn list_buckets(estate: &Estate, account: usize, query: &HashMap<String, String>) -> Response {
    let prefix = query.get("prefix").map(String::as_str).unwrap_or("");
    let region = query.get("bucket-region");
    let mut buckets: Vec<&Bucket> = estate
        .audit
        .buckets
        .iter()
        .filter(|b| b.owner == account && b.name.starts_with(prefix))
        .filter(|b| region.is_none_or(|r| *r == b.region))
        .collect();
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    let size = match query.get("max-buckets").map(|s| s.parse::<usize>()) {
        None => 10_000,
        Some(Ok(n)) if (1..=10_000).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "max-buckets must be a whole number from 1 to 10000",
                None,
            );
        }
    };
    let offset = match query.get("continuation-token") {
        None => 0,
        Some(t) => match wire::decode_token(t) {
            Some(offset) => offset,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "The continuation token provided is incorrect",
                    None,
                );
            }
        },
    };
    let page = wire::Page { offset, size };
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"{NS}\"><Owner><ID>{}</ID></Owner><Buckets>",
        canonical_id(&estate.accounts[account].id)
    );
    for b in page.of(&buckets) {
        body.push_str(&format!(
            "<Bucket><Name>{}</Name><CreationDate>{}</CreationDate><BucketRegion>{}</BucketRegion></Bucket>",
            xml_escape(&b.name),
            wire::iso(b.created),
            xml_escape(&b.region)
        ));
    }
    body.push_str("</Buckets>");
    if let Some(token) = page.next_token(buckets.len()) {
        body.push_str(&format!("<ContinuationToken>{token}</ContinuationToken>"));
    }
    if !prefix.is_empty() {
        body.push_str(&format!("<Prefix>{}</Prefix>", xml_escape(prefix)));
    }
    body.push_str("</ListAllMyBucketsResult>");
    xml(StatusCode::OK, body)
}

fn lifecycle(
    estate: &Estate,
    account: usize,
    name: &str,
    expected_owner: Option<&str>,
) -> Response {
    let Some(bucket) = estate.audit.bucket(name) else {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
            Some(name),
        );
    };
    let owner_id = &estate.accounts[bucket.owner].id;
    // Without a bucket policy that grants it, another account's bucket is closed to the caller;
    // a bucket whose owner is not the one expected is refused the same way.
    if bucket.owner != account || expected_owner.is_some_and(|e| e != owner_id) {
        return error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied", None);
    }
    let Some(rules) = &bucket.lifecycle else {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchLifecycleConfiguration",
            "The lifecycle configuration does not exist",
            Some(name),
        );
    };
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LifecycleConfiguration xmlns=\"{NS}\">"
    );
    for rule in rules {
        body.push_str(&format!(
            "<Rule><ID>{}</ID><Filter><Prefix>{}</Prefix></Filter><Status>{}</Status>",
            xml_escape(rule.id),
            xml_escape(&rule.prefix),
            if rule.enabled { "Enabled" } else { "Disabled" }
        ));
        for (days, class) in &rule.transitions {
            body.push_str(&format!(
                "<Transition><Days>{days}</Days><StorageClass>{class}</StorageClass></Transition>"
            ));
        }
        if let Some(days) = rule.expiration_days {
            body.push_str(&format!("<Expiration><Days>{days}</Days></Expiration>"));
        }
        if let Some(days) = rule.noncurrent_expiration_days {
            body.push_str(&format!(
                "<NoncurrentVersionExpiration><NoncurrentDays>{days}</NoncurrentDays></NoncurrentVersionExpiration>"
            ));
        }
        body.push_str("</Rule>");
    }
    body.push_str("</LifecycleConfiguration>");
    let mut response = xml(StatusCode::OK, body);
    response.headers_mut().insert(
        "x-amz-transition-default-minimum-object-size",
        HeaderValue::from_static("all_storage_classes_128K"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::org::{Estate, Options};
    use crate::sim::services::testing::parts;

    fn get(e: &Estate, account: usize, path: &str, query: &[(&str, &str)]) -> (u16, String) {
        let query = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let (status, _, body) = parts(handle(
            e,
            account,
            &Method::GET,
            path,
            &query,
            &HeaderMap::new(),
        ));
        (status.as_u16(), String::from_utf8(body.to_vec()).unwrap())
    }

    #[test]
    fn list_buckets_lists_the_callers_own_and_pages() {
        let e = Estate::generate(&Options::default());
        let (status, body) = get(&e, 1, "/", &[("x-id", "ListBuckets")]);
        assert_eq!(status, 200);
        let own: Vec<&Bucket> = e.audit.buckets.iter().filter(|b| b.owner == 1).collect();
        assert_eq!(body.matches("<Bucket>").count(), own.len());
        assert!(body.contains(&format!("<Name>org-cloudtrail-{}</Name>", e.accounts[1].id)));
        assert!(!body.contains("ContinuationToken"));
        let (_, first) = get(&e, 1, "/", &[("max-buckets", "2")]);
        assert_eq!(first.matches("<Bucket>").count(), 2);
        let token = first
            .split("<ContinuationToken>")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned();
        let (_, second) = get(
            &e,
            1,
            "/",
            &[("max-buckets", "2"), ("continuation-token", &token)],
        );
        assert!(second.matches("<Bucket>").count() >= 1);
        let (status, _) = get(&e, 1, "/", &[("max-buckets", "0")]);
        assert_eq!(status, 400);
    }

    #[test]
    fn lifecycles_and_their_errors() {
        let e = Estate::generate(&Options::default());
        let org_bucket = format!("org-cloudtrail-{}", e.accounts[1].id);
        let (status, body) = get(&e, 1, &format!("/{org_bucket}"), &[("lifecycle", "")]);
        assert_eq!(status, 200);
        assert!(
            body.contains("<StorageClass>GLACIER</StorageClass>"),
            "{body}"
        );
        assert!(body.contains("<Expiration><Days>1825</Days></Expiration>"));
        let (status, body) = get(&e, 0, &format!("/{org_bucket}"), &[("lifecycle", "")]);
        assert_eq!(status, 403);
        assert!(body.contains("<Code>AccessDenied</Code>"));
        let (status, body) = get(&e, 1, "/no-such-bucket-here", &[("lifecycle", "")]);
        assert_eq!(status, 404);
        assert!(body.contains("<Code>NoSuchBucket</Code>"));
        let none = e
            .audit
            .buckets
            .iter()
            .find(|b| b.lifecycle.is_none())
            .unwrap();
        let (status, body) = get(
            &e,
            none.owner,
            &format!("/{}", none.name),
            &[("lifecycle", "")],
        );
        assert_eq!(status, 404);
        assert!(body.contains("<Code>NoSuchLifecycleConfiguration</Code>"));
        assert!(body.contains(&format!("<BucketName>{}</BucketName>", none.name)));
    }
}
