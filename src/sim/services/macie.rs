//! Simulated Amazon Macie (macie2, restJson1): the Macie session of an account and region, and
//! its S3 findings listed with Macie's filter criteria and fetched at most 50 at a time.
//! Archived findings are suppressed ones; resolved findings are gone.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::criteria::{self, CriteriaError, Dialect, Operator, SortError};
use super::serial_ids;
use crate::sim::catalogue::{MACIE_TYPES, MacieType};
use crate::sim::org::{Estate, Finding, Service, State};
use crate::sim::rng::Rng;
use crate::sim::wire::{self, BodyError, Ctx, Paging, PagingError, SimRequest};

/// The model gives `ListFindings.maxResults` no range; the simulator holds it to 1–50 (50 when
/// not given), as GuardDuty does, so a poller asking for bigger pages is caught. An empty
/// `nextToken` asks for the first page.
const PAGING: Paging = Paging {
    default: 50,
    max: 50,
    clamp: false,
    strict_null: true,
    empty_token_is_first: true,
};
/// Macie's `GetFindings` batch size.
const MAX_FINDING_IDS: usize = 50;
/// Domains for `Rng::derive`, so no two derived values of a finding collide.
const ID_DOMAIN: u64 = 0x4d43_0001;
const DETAIL_DOMAIN: u64 = 0x4d43_0002;
const SESSION_DOMAIN: u64 = 0x4d43_0003;
const DAY: i64 = 86_400;

/// A finding's 32-hex id: 24 hex derived from the seed and serial, then the serial itself, so
/// `GetFindings` can find it again without an index. Also the `Id` of its Security Hub copy.
pub fn finding_id(seed: u64, serial: u32) -> String {
    serial_ids::id(seed, ID_DOMAIN, serial)
}

/// `severity` as Macie states it: `{description, score}`, Low 1, Medium 2, High 3. Macie has
/// no Critical: a finding escalated past High stays High.
pub fn severity(f: &Finding) -> (&'static str, u8) {
    match f.level {
        0 | 1 => ("Low", 1),
        2 => ("Medium", 2),
        _ => ("High", 3),
    }
}

/// Answers one Macie request (the `wire::Handler` of Macie).
pub fn handle(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    let route = match (&req.method, req.path.trim_end_matches('/')) {
        (&Method::GET, "/macie") => get_macie_session,
        (&Method::POST, "/findings") => list_findings,
        (&Method::POST, "/findings/describe") => get_findings,
        (&Method::GET, "/members") => list_members,
        _ => {
            return wire::rest_error(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                &format!("Macie has no operation {} {}", req.method, req.path),
            );
        }
    };
    if !estate.is_enabled(ctx.account, ctx.region, Service::Macie) {
        // What Macie answers every call in a region where it is off.
        return wire::rest_error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "Macie is not enabled.",
        );
    }
    route(estate, ctx, req)
}

fn validation(message: &str) -> Response {
    wire::rest_error(StatusCode::BAD_REQUEST, "ValidationException", message)
}

/// The JSON object body; Macie answers malformed input with ValidationException.
fn body(req: &SimRequest) -> Result<Map<String, Value>, Response> {
    req.json_object().map_err(|e| match e {
        BodyError::NotAnObject => validation("The request body must be a JSON object."),
        BodyError::Malformed(e) => validation(&format!("malformed JSON body: {e}")),
    })
}

fn get_macie_session(estate: &Estate, ctx: &Ctx, _req: &SimRequest) -> Response {
    // Enabled before any of its findings.
    let enabled_at = ctx.enabled_at(estate, SESSION_DOMAIN);
    wire::json_ok(json!({
        "createdAt": wire::iso(enabled_at),
        "findingPublishingFrequency": "FIFTEEN_MINUTES",
        "serviceRole": format!(
            "arn:aws:iam::{}:role/aws-service-role/macie.amazonaws.com/AWSServiceRoleForAmazonMacie",
            ctx.account_id
        ),
        "status": "ENABLED",
        "updatedAt": wire::iso(enabled_at),
    }))
}

/// A finding field Macie lets `findingCriteria` filter on, among those the simulator knows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    AccountId,
    Region,
    Id,
    Type,
    Category,
    Archived,
    SeverityDescription,
    BucketName,
    SeverityScore,
    Count,
    CreatedAt,
    UpdatedAt,
}

impl Dialect for Field {
    type Number = i64;

    fn field(name: &str) -> Option<Field> {
        Some(match name {
            "accountId" => Field::AccountId,
            "region" => Field::Region,
            "id" => Field::Id,
            "type" => Field::Type,
            "category" => Field::Category,
            "archived" => Field::Archived,
            "severity.description" => Field::SeverityDescription,
            "resourcesAffected.s3Bucket.name" => Field::BucketName,
            "severity.score" => Field::SeverityScore,
            "count" => Field::Count,
            "createdAt" => Field::CreatedAt,
            "updatedAt" => Field::UpdatedAt,
            _ => return None,
        })
    }

    fn is_numeric(self) -> bool {
        matches!(
            self,
            Field::SeverityScore | Field::Count | Field::CreatedAt | Field::UpdatedAt
        )
    }

    /// Macie's `CriterionAdditionalProperties`: `eq`, `eqExactMatch`, `neq`, `gt`, `gte`, `lt`,
    /// `lte`.
    fn operator(name: &str) -> Option<Operator> {
        Some(match name {
            "eq" | "eqExactMatch" => Operator::Eq,
            "neq" => Operator::Neq,
            "gt" => Operator::Gt,
            "gte" => Operator::Gte,
            "lt" => Operator::Lt,
            "lte" => Operator::Lte,
            _ => return None,
        })
    }
}

/// The facts about a finding that filters and sorts look at.
struct Facts<'a> {
    f: &'a Finding,
    account_id: &'a str,
    id: String,
    count: i64,
}

impl Facts<'_> {
    fn text(&self, field: Field, estate: &Estate, ctx: &Ctx) -> String {
        match field {
            Field::AccountId => self.account_id.to_owned(),
            Field::Region => ctx.region_code.clone(),
            Field::Id => self.id.clone(),
            Field::Type => macie_type(self.f).kind.to_owned(),
            Field::Category => macie_type(self.f).category.to_owned(),
            Field::Archived => (self.f.state == State::Suppressed).to_string(),
            Field::SeverityDescription => severity(self.f).0.to_owned(),
            Field::BucketName => bucket_name(estate, self.f),
            _ => self.number(field).to_string(),
        }
    }

    fn number(&self, field: Field) -> i64 {
        match field {
            Field::SeverityScore => severity(self.f).1 as i64,
            Field::Count => self.count,
            // Criteria compare timestamps in epoch milliseconds.
            Field::CreatedAt => self.f.created * 1000,
            _ => self.f.updated * 1000,
        }
    }

    fn matches(&self, c: &criteria::Criterion<Field>, estate: &Estate, ctx: &Ctx) -> bool {
        c.matches(
            |field| self.text(field, estate, ctx),
            |field| self.number(field),
        )
    }
}

/// `findingCriteria.criterion`, answered with Macie's errors.
fn parse_criteria(body: &Map<String, Value>) -> Result<Vec<criteria::Criterion<Field>>, Response> {
    criteria::parse(body).map_err(|e| {
        validation(&match e {
            CriteriaError::NotAnObject => "findingCriteria.criterion must be an object.".to_owned(),
            CriteriaError::UnknownField(name) => {
                format!("The criterion field {name} is not supported.")
            }
            CriteriaError::ConditionNotAnObject(name) => {
                format!("The criterion for {name} must be an object.")
            }
            CriteriaError::InvalidValue(name) => {
                format!("The criterion for {name} has an invalid value.")
            }
            CriteriaError::Empty(name) => format!("The criterion for {name} is empty."),
        })
    })
}

/// `sortCriteria`: by `updatedAt`, `createdAt`, `severity.score`, `count` or `type`, ASC unless
/// told DESC.
fn sort_by(body: &Map<String, Value>, facts: &mut [Facts<'_>]) -> Result<(), Response> {
    let attributes = ["updatedAt", "createdAt", "severity.score", "count", "type"];
    let Some((key, descending)) = criteria::parse_sort(body, &attributes).map_err(|e| {
        validation(match e {
            SortError::NotAnObject => "sortCriteria must be an object.",
            SortError::OrderBy => "sortCriteria.orderBy must be ASC or DESC.",
            SortError::AttributeName => "sortCriteria.attributeName is not supported.",
        })
    })?
    else {
        return Ok(());
    };
    wire::sort_for_paging(
        facts,
        descending,
        |x| x.f.serial,
        |a, b| match key {
            "updatedAt" => a.f.updated.cmp(&b.f.updated),
            "createdAt" => a.f.created.cmp(&b.f.created),
            "severity.score" => severity(a.f).1.cmp(&severity(b.f).1),
            "count" => a.count.cmp(&b.count),
            _ => macie_type(a.f).kind.cmp(macie_type(b.f).kind),
        },
    );
    Ok(())
}

fn facts<'a>(estate: &'a Estate, f: &'a Finding) -> Facts<'a> {
    Facts {
        f,
        account_id: &estate.accounts[f.account as usize].id,
        id: finding_id(estate.seed, f.serial),
        count: occurrences(estate.seed, f),
    }
}

/// `count`: how often Macie saw it; more than once if it was updated after it was created.
fn occurrences(seed: u64, f: &Finding) -> i64 {
    if f.updated > f.created {
        2 + Rng::derive(seed, &[DETAIL_DOMAIN, f.serial as u64, 1]).below(9) as i64
    } else {
        1
    }
}

/// `GET /members`: the delegated administrator's member accounts.
fn list_members(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    super::members::list(estate, ctx, &req.query, &super::members::MACIE, validation)
}

fn list_findings(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    let body = match body(req) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let page = match PAGING.from_body(&body, "maxResults", "nextToken") {
        Ok(p) => p,
        Err(e) => {
            return validation(match e {
                PagingError::MaxResults => "maxResults must be between 1 and 50.",
                PagingError::BadToken => "The nextToken is invalid.",
                PagingError::TokenNotAString => "The nextToken must be a string.",
            });
        }
    };
    let criteria = match parse_criteria(&body) {
        Ok(c) => c,
        Err(e) => return e,
    };
    // The caller's own findings; as the delegated administrator, every member's too.
    let mut found: Vec<Facts> = estate
        .seen_accounts(ctx.account)
        .into_iter()
        .flat_map(|a| estate.target_findings(a, ctx.region, Service::Macie))
        .filter(|f| f.state != State::Resolved)
        .map(|f| facts(estate, f))
        .filter(|x| criteria.iter().all(|c| x.matches(c, estate, ctx)))
        .collect();
    if let Err(e) = sort_by(&body, &mut found) {
        return e;
    }
    let ids: Vec<Value> = page.of(&found).map(|x| json!(x.id)).collect();
    // Macie documents `nextToken` as null on the last page: left out here.
    page.answer("findingIds", ids, "nextToken", found.len())
}

fn get_findings(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    let body = match body(req) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(ids) = body.get("findingIds").and_then(wire::string_list) else {
        return validation("findingIds is required: a list of finding ids.");
    };
    if ids.len() > MAX_FINDING_IDS {
        return validation(&format!(
            "findingIds has {} items; the maximum is {MAX_FINDING_IDS}.",
            ids.len()
        ));
    }
    let mut found: Vec<Facts> =
        serial_ids::lookup_all(estate, ctx, Service::Macie, &ids, finding_id)
            .into_iter()
            .map(|f| facts(estate, f))
            .collect();
    if let Err(e) = sort_by(&body, &mut found) {
        return e;
    }
    let findings: Vec<Value> = found.iter().map(|x| render(estate, x.f)).collect();
    wire::json_ok(json!({ "findings": findings }))
}

/// The Macie type of a finding (also of its Security Hub copy).
pub(crate) fn macie_type(f: &Finding) -> &'static MacieType {
    MACIE_TYPES.get(f.kind as usize).unwrap_or(&MACIE_TYPES[0])
}

/// The bucket a finding is about: a few buckets per account, named after it.
fn bucket_name(estate: &Estate, f: &Finding) -> String {
    const PURPOSES: [&str; 6] = [
        "exports",
        "customer-data",
        "reports",
        "backups",
        "uploads",
        "logs",
    ];
    let account = &estate.accounts[f.account as usize];
    format!(
        "{}-{}-{}",
        account.name,
        PURPOSES[(f.serial as usize) % PURPOSES.len()],
        &account.id[8..]
    )
}

/// What Macie's user guide says each finding type means.
fn description(kind: &str) -> &'static str {
    match kind {
        "SensitiveData:S3Object/Personal" => {
            "The object contains personal information such as first or last names, addresses, or identification numbers."
        }
        "SensitiveData:S3Object/Financial" => {
            "The object contains financial information such as bank account numbers or credit card numbers."
        }
        "SensitiveData:S3Object/Credentials" => {
            "The object contains sensitive credentials data such as AWS secret access keys or private keys."
        }
        "SensitiveData:S3Object/Multiple" => {
            "The object contains more than one category of sensitive information."
        }
        "Policy:IAMUser/S3BucketPublic" => {
            "The access control list (ACL) or bucket policy for the S3 bucket was changed to allow the bucket to be accessed by anonymous users or all authenticated AWS IAM identities."
        }
        "Policy:IAMUser/S3BlockPublicAccessDisabled" => {
            "All bucket-level block public access settings were disabled for the S3 bucket. Access to the bucket is controlled by user policies, access control lists (ACLs), and bucket policies."
        }
        "Policy:IAMUser/S3BucketSharedExternally" => {
            "An access control list (ACL) or bucket policy for the S3 bucket was changed to allow the bucket to be shared with an AWS account that's external to (not part of) your organization."
        }
        _ => {
            "Default encryption settings were disabled for the S3 bucket. Objects are no longer encrypted automatically when they are added to the bucket."
        }
    }
}

/// `classificationDetails.result.sensitiveData` for a sensitive-data finding type.
fn sensitive_data(kind: &str, r: &mut Rng) -> Value {
    let item = |category: &str, types: &[&str], r: &mut Rng| {
        let detections: Vec<Value> = types
            .iter()
            .map(|t| json!({ "count": 1 + r.below(40), "type": t }))
            .collect();
        let total: u64 = detections.iter().filter_map(|d| d["count"].as_u64()).sum();
        json!({ "category": category, "detections": detections, "totalCount": total })
    };
    match kind {
        "SensitiveData:S3Object/Financial" => {
            json!([item("FINANCIAL_INFORMATION", &["CREDIT_CARD_NUMBER"], r)])
        }
        "SensitiveData:S3Object/Credentials" => {
            json!([item("CREDENTIALS", &["AWS_CREDENTIALS"], r)])
        }
        "SensitiveData:S3Object/Multiple" => json!([
            item("PERSONAL_INFORMATION", &["NAME", "ADDRESS"], r),
            item("FINANCIAL_INFORMATION", &["CREDIT_CARD_NUMBER"], r),
        ]),
        _ => json!([item("PERSONAL_INFORMATION", &["NAME"], r)]),
    }
}

/// The Macie `GetFindings` item for `f`, shaped as in `fixtures/aws/macie2-get-findings.json`.
pub fn render(estate: &Estate, f: &Finding) -> Value {
    let account = &estate.accounts[f.account as usize];
    let region = &estate.regions[f.region as usize];
    let t = macie_type(f);
    let mut r = Rng::derive(estate.seed, &[DETAIL_DOMAIN, f.serial as u64]);
    let bucket = bucket_name(estate, f);
    let owner = hex::encode(Sha256::digest(format!("canonical/{}", account.id)));
    let bucket_made = f.created - 30 * DAY - r.below(600) as i64 * DAY;
    let (description_, score) = severity(f);
    let policy = t.category == "POLICY";
    let public = t.kind == "Policy:IAMUser/S3BucketPublic";
    let block_public = !(public || t.kind == "Policy:IAMUser/S3BlockPublicAccessDisabled");
    let blocks = json!({
        "blockPublicAcls": block_public,
        "blockPublicPolicy": block_public,
        "ignorePublicAcls": block_public,
        "restrictPublicBuckets": block_public,
    });
    let encryption = if t.kind == "Policy:IAMUser/S3BucketEncryptionDisabled" {
        "NONE"
    } else {
        "AES256"
    };
    let s3_bucket = json!({
        "arn": format!("arn:aws:s3:::{bucket}"),
        "createdAt": wire::iso(bucket_made),
        "defaultServerSideEncryption": { "encryptionType": encryption },
        "name": bucket,
        "owner": { "displayName": account.name, "id": owner },
        "publicAccess": {
            "effectivePermission": if public { "PUBLIC" } else { "NOT_PUBLIC" },
            "permissionConfiguration": {
                "accountLevelPermissions": {
                    "blockPublicAccess": {
                        "blockPublicAcls": false,
                        "blockPublicPolicy": false,
                        "ignorePublicAcls": false,
                        "restrictPublicBuckets": false,
                    }
                },
                "bucketLevelPermissions": {
                    "accessControlList": {
                        "allowsPublicReadAccess": public,
                        "allowsPublicWriteAccess": false,
                    },
                    "blockPublicAccess": blocks,
                    "bucketPolicy": {
                        "allowsPublicReadAccess": false,
                        "allowsPublicWriteAccess": false,
                    },
                },
            },
        },
        "tags": [],
    });
    let mut finding = json!({
        "accountId": account.id,
        "archived": f.state == State::Suppressed,
        "category": t.category,
        "count": occurrences(estate.seed, f),
        "createdAt": wire::iso(f.created),
        "description": description(t.kind),
        "id": finding_id(estate.seed, f.serial),
        "partition": "aws",
        "region": region,
        "resourcesAffected": { "s3Bucket": s3_bucket },
        "sample": false,
        "schemaVersion": "1.0",
        "severity": { "description": description_, "score": score },
        "title": t.title,
        "type": t.kind,
        "updatedAt": wire::iso(f.updated),
    });
    if !policy {
        const FILES: [(&str, &str, &str); 4] = [
            (
                "xlsx",
                "customers",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            ("csv", "export", "text/csv"),
            ("json", "records", "application/json"),
            ("txt", "notes", "text/plain"),
        ];
        let (extension, stem, mime) = FILES[r.below(FILES.len() as u64) as usize];
        let key = format!("{stem}/{stem}-{:04}.{extension}", f.serial % 10_000);
        let size = 1_024 + r.below(4_000_000);
        let job = format!("{:016x}{:016x}", r.next_u64(), r.next_u64());
        let object = format!(
            "{:08x}-{:04x}-3{:03x}-{:04x}-{:012x}",
            r.next_u64() as u32,
            r.next_u64() as u16,
            r.next_u64() & 0xfff,
            (r.next_u64() as u16 & 0x3fff) | 0x8000,
            r.next_u64() & 0xffff_ffff_ffff
        );
        finding["resourcesAffected"]["s3Object"] = json!({
            "bucketArn": format!("arn:aws:s3:::{bucket}"),
            "eTag": format!("{:016x}{:016x}", r.next_u64(), r.next_u64()),
            "extension": extension,
            "key": key,
            "lastModified": wire::iso(f.created - 1 - r.below(7 * DAY as u64) as i64),
            "path": format!("{bucket}/{key}"),
            "publicAccess": false,
            "serverSideEncryption": { "encryptionType": encryption },
            "size": size,
            "storageClass": "STANDARD",
            "tags": [],
            "versionId": "",
        });
        finding["classificationDetails"] = json!({
            "detailedResultsLocation": format!(
                "s3://[export-config-not-set]/AWSLogs/{}/Macie/{region}/{job}/{object}.jsonl.gz",
                account.id
            ),
            "jobArn": format!("arn:aws:macie2:{region}:{}:classification-job/{job}", account.id),
            "jobId": job,
            "result": {
                "customDataIdentifiers": { "detections": [], "totalCount": 0 },
                "mimeType": mime,
                "sensitiveData": sensitive_data(t.kind, &mut r),
                "sizeClassified": size,
                "status": { "code": "COMPLETE" },
            },
        });
    }
    finding
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::super::testing;
    use super::*;
    use crate::sim::org::Options;

    fn estate() -> Estate {
        let mut e = Estate::generate(&Options {
            accounts: 8,
            regions: 2,
            ..Options::default()
        });
        // Two months on the clock: some findings resolved (gone), some archived, some new.
        e.advance(60);
        e
    }

    fn ctx(e: &Estate, account: usize, region: usize) -> Ctx {
        testing::ctx(e, account, region, Service::Macie)
    }

    fn call(
        e: &Estate,
        c: &Ctx,
        method: Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, String, Value) {
        let req = testing::request(method, path, &[], testing::body(&body));
        let (status, headers, bytes) = testing::parts(handle(e, c, &req));
        let code = headers
            .get("x-amzn-ErrorType")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, code, serde_json::from_slice(&bytes).unwrap())
    }

    fn targets(e: &Estate) -> Vec<(usize, usize)> {
        testing::allowed_on(e, Service::Macie)
    }

    /// The served finding with this id in the caller's account and region.
    fn lookup<'a>(e: &'a Estate, c: &Ctx, id: &str) -> Option<&'a Finding> {
        serial_ids::lookup(e, c, Service::Macie, id, finding_id)
    }

    fn list_all(e: &Estate, c: &Ctx, mut body: Value, page: usize) -> Vec<String> {
        let mut ids = Vec::new();
        body["maxResults"] = json!(page);
        for _ in 0..1000 {
            let (status, _, v) = call(e, c, Method::POST, "/findings", body.clone());
            assert_eq!(status, StatusCode::OK, "{v}");
            let got = v["findingIds"].as_array().unwrap();
            assert!(got.len() <= page);
            ids.extend(got.iter().map(|x| x.as_str().unwrap().to_owned()));
            match v.get("nextToken") {
                None => return ids,
                Some(next) => body["nextToken"] = next.clone(),
            }
        }
        panic!("pagination did not end");
    }

    #[test]
    fn session_only_where_enabled() {
        let e = estate();
        let (mut on, mut off) = (0, 0);
        for a in 0..e.accounts.len() {
            for r in 0..e.regions.len() {
                let c = ctx(&e, a, r);
                let (status, code, v) = call(&e, &c, Method::GET, "/macie", Value::Null);
                if e.is_enabled(a, r, Service::Macie) {
                    on += 1;
                    assert_eq!(status, StatusCode::OK);
                    assert_eq!(v["status"], "ENABLED");
                    assert!(wire::parse_iso(v["createdAt"].as_str().unwrap()).is_some());
                    assert!(v["serviceRole"].as_str().unwrap().contains(&c.account_id));
                } else {
                    off += 1;
                    assert_eq!(status, StatusCode::FORBIDDEN);
                    assert_eq!(code, "AccessDeniedException");
                    assert_eq!(v["message"], "Macie is not enabled.");
                    let (status, code, _) = call(&e, &c, Method::POST, "/findings", json!({}));
                    assert_eq!(
                        (status, code.as_str()),
                        (StatusCode::FORBIDDEN, "AccessDeniedException")
                    );
                    let (status, _, _) = call(
                        &e,
                        &c,
                        Method::POST,
                        "/findings/describe",
                        json!({"findingIds": []}),
                    );
                    assert_eq!(status, StatusCode::FORBIDDEN);
                }
            }
        }
        assert!(on > 0 && off > 0, "{on} on, {off} off");
    }

    #[test]
    fn lists_every_served_finding_once_with_counts_per_state() {
        let e = estate();
        let (mut active, mut archived, mut resolved) = (0, 0, 0);
        for (a, r) in targets(&e) {
            let c = ctx(&e, a, r);
            let all: Vec<&Finding> = e.target_findings(a, r, Service::Macie).collect();
            let expected: Vec<String> = all
                .iter()
                .filter(|f| f.state != State::Resolved)
                .map(|f| finding_id(e.seed, f.serial))
                .collect();
            let ids = list_all(&e, &c, json!({}), 2);
            assert_eq!(ids, expected);
            assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
            let open = list_all(
                &e,
                &c,
                json!({"findingCriteria": {"criterion": {"archived": {"eq": ["false"]}}}}),
                50,
            );
            let suppressed = list_all(
                &e,
                &c,
                json!({"findingCriteria": {"criterion": {"archived": {"eq": ["true"]}}}}),
                50,
            );
            let n_active = all.iter().filter(|f| f.state == State::Active).count();
            let n_suppressed = all.iter().filter(|f| f.state == State::Suppressed).count();
            assert_eq!((open.len(), suppressed.len()), (n_active, n_suppressed));
            active += n_active;
            archived += n_suppressed;
            let gone: Vec<String> = all
                .iter()
                .filter(|f| f.state == State::Resolved)
                .map(|f| finding_id(e.seed, f.serial))
                .take(50)
                .collect();
            resolved += gone.len();
            let (status, _, v) = call(
                &e,
                &c,
                Method::POST,
                "/findings/describe",
                json!({ "findingIds": gone }),
            );
            assert_eq!(status, StatusCode::OK);
            assert_eq!(v["findings"], json!([]));
        }
        assert!(active > 5, "{active} {archived} {resolved}");
    }

    #[test]
    fn get_findings_renders_the_fixture_shape() {
        let e = estate();
        let fixture: Value = serde_json::from_str(include_str!(
            "../../../fixtures/aws/macie2-get-findings.json"
        ))
        .unwrap();
        let (mut classification, mut policy) = (0, 0);
        for (a, r) in targets(&e) {
            let c = ctx(&e, a, r);
            let ids = list_all(&e, &c, json!({}), 50);
            if ids.is_empty() {
                continue;
            }
            let (status, _, v) = call(
                &e,
                &c,
                Method::POST,
                "/findings/describe",
                json!({ "findingIds": ids }),
            );
            assert_eq!(status, StatusCode::OK);
            let findings = v["findings"].as_array().unwrap();
            assert_eq!(findings.len(), ids.len());
            for (finding, id) in findings.iter().zip(&ids) {
                let template = if finding["category"] == "POLICY" {
                    policy += 1;
                    &fixture["findings"][1]
                } else {
                    classification += 1;
                    &fixture["findings"][0]
                };
                // Every member the fixture has, with the same JSON type, two levels deep.
                for (key, value) in template.as_object().unwrap() {
                    let ours = &finding[key];
                    assert_eq!(
                        std::mem::discriminant(ours),
                        std::mem::discriminant(value),
                        "{key}: {ours} vs {value}"
                    );
                    if let Value::Object(inner) = value {
                        for (k, v) in inner {
                            assert_eq!(
                                std::mem::discriminant(&ours[k]),
                                std::mem::discriminant(v),
                                "{key}.{k}"
                            );
                        }
                    }
                }
                assert_eq!(finding["id"], json!(id));
                assert_eq!(finding["accountId"], json!(c.account_id));
                assert_eq!(finding["region"], json!(c.region_code));
                let f = lookup(&e, &c, id).unwrap();
                let t = &MACIE_TYPES[f.kind as usize];
                assert_eq!(finding["type"], t.kind);
                assert_eq!(finding["archived"], json!(f.state == State::Suppressed));
                assert_eq!(finding["updatedAt"], json!(wire::iso(f.updated)));
                let score = finding["severity"]["score"].as_u64().unwrap();
                assert!((1..=3).contains(&score));
            }
        }
        assert!(
            classification > 0 && policy > 0,
            "{classification} {policy}"
        );
    }

    #[test]
    fn updated_at_filter_and_sort() {
        let e = estate();
        let mut checked = 0;
        for (a, r) in targets(&e) {
            let c = ctx(&e, a, r);
            let served: Vec<&Finding> = e
                .target_findings(a, r, Service::Macie)
                .filter(|f| f.state != State::Resolved)
                .collect();
            if served.len() < 2 {
                continue;
            }
            let mut times: Vec<i64> = served.iter().map(|f| f.updated).collect();
            times.sort();
            let cut = times[times.len() / 2];
            let ids = list_all(
                &e,
                &c,
                json!({
                    "findingCriteria": {"criterion": {
                        "updatedAt": {"gte": cut * 1000},
                        "archived": {"eq": ["false"]},
                    }},
                    "sortCriteria": {"attributeName": "updatedAt", "orderBy": "DESC"},
                }),
                1,
            );
            let expected = served
                .iter()
                .filter(|f| f.updated >= cut && f.state == State::Active)
                .count();
            assert_eq!(ids.len(), expected);
            let updated: Vec<i64> = ids
                .iter()
                .map(|id| lookup(&e, &c, id).unwrap().updated)
                .collect();
            assert!(updated.windows(2).all(|w| w[0] >= w[1]));
            checked += 1;
        }
        assert!(checked > 0);
    }

    #[test]
    fn bad_input_is_a_validation_error() {
        let e = estate();
        let (a, r) = targets(&e)[0];
        let c = ctx(&e, a, r);
        for body in [
            json!({"maxResults": 51}),
            json!({"maxResults": 0}),
            json!({"nextToken": "garbage"}),
            json!({"findingCriteria": {"criterion": {"updatedAt": {"gte": "yesterday"}}}}),
            json!({"findingCriteria": {"criterion": {"archived": {"gt": 1}}}}),
            json!({"findingCriteria": {"criterion": {"noSuchField": {"eq": ["x"]}}}}),
            json!({"sortCriteria": {"attributeName": "updatedAt", "orderBy": "UP"}}),
        ] {
            let (status, code, v) = call(&e, &c, Method::POST, "/findings", body.clone());
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::BAD_REQUEST, "ValidationException"),
                "{body}: {v}"
            );
        }
        let too_many: Vec<String> = (1..=51).map(|i| finding_id(e.seed, i)).collect();
        let (status, code, _) = call(
            &e,
            &c,
            Method::POST,
            "/findings/describe",
            json!({ "findingIds": too_many }),
        );
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "ValidationException")
        );
        let (status, _, _) = call(&e, &c, Method::POST, "/findings/describe", json!({}));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, code, _) = call(&e, &c, Method::GET, "/findings", Value::Null);
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "UnknownOperationException")
        );
    }

    #[test]
    fn sightlines_normaliser_reads_every_rendered_finding() {
        use crate::domain::{Severity, Status};
        let e = estate();
        let mut n = 0;
        for f in e.findings.iter().filter(|f| f.service == Service::Macie) {
            let raw = render(&e, f);
            let got = crate::sources::macie::normalise(&raw, chrono::Utc::now()).unwrap();
            let severity = match f.level {
                0 | 1 => Severity::Low,
                2 => Severity::Medium,
                _ => Severity::High,
            };
            let status = if f.state == State::Suppressed {
                Status::Suppressed
            } else {
                Status::Open
            };
            assert_eq!((got.severity, got.status), (severity, status), "{raw}");
            assert_eq!(got.native_id, finding_id(e.seed, f.serial));
            assert_eq!(got.updated_at.timestamp(), f.updated);
            assert!(got.resource_id.is_some(), "{raw}");
            n += 1;
        }
        assert!(n > 10, "{n}");
    }
}
