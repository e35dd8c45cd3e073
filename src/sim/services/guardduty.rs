//! Simulated Amazon GuardDuty (restJson1): one detector per account and region, its findings
//! listed with GuardDuty's filter criteria and fetched at most 50 at a time. Archived findings
//! are suppressed ones; resolved findings are gone, as GuardDuty forgets them.

use std::cmp::Ordering;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::criteria::{self, CriteriaError, Dialect, Operator};
use super::serial_ids;
use crate::sim::catalogue;
use crate::sim::org::{Estate, Finding, Service, State};
use crate::sim::rng::Rng;
use crate::sim::wire::{self, BodyError, Ctx, Paging, SimRequest};

/// GuardDuty's documented page size (`maxResults` 1–50, 50 when not given). It sends an empty
/// `nextToken` on the last page, so an empty one asks for the first.
const PAGING: Paging = Paging {
    default: 50,
    max: 50,
    clamp: false,
    strict_null: true,
    empty_token_is_first: true,
};
/// GuardDuty's `GetFindings` batch size.
const MAX_FINDING_IDS: usize = 50;
/// Domains for `Rng::derive`, so no two derived values of a finding collide.
const ID_DOMAIN: u64 = 0x4744_0001;
const SEVERITY_DOMAIN: u64 = 0x4744_0002;
const RESOURCE_DOMAIN: u64 = 0x4744_0003;
const DAY: i64 = 86_400;

/// The detector's 32-hex id in (account, region): stable, and different in every target.
pub fn detector_id(account_id: &str, region: &str) -> String {
    let digest = Sha256::digest(format!(
        "sightline-sim/guardduty/detector/{account_id}/{region}"
    ));
    hex::encode(&digest[..16])
}

/// A finding's 32-hex id: 24 hex derived from the seed and serial, then the serial itself, so
/// `GetFindings` can find it again without an index.
pub fn finding_id(seed: u64, serial: u32) -> String {
    serial_ids::id(seed, ID_DOMAIN, serial)
}

/// The finding ARN, which is also the `Id` of its Security Hub copy.
pub fn finding_arn(estate: &Estate, f: &Finding) -> String {
    let account = &estate.accounts[f.account as usize].id;
    let region = &estate.regions[f.region as usize];
    format!(
        "arn:aws:guardduty:{region}:{account}:detector/{}/finding/{}",
        detector_id(account, region),
        finding_id(estate.seed, f.serial)
    )
}

/// `severity` on the wire: a double inside the level's band (Low 1.0–3.9, Medium 4.0–6.9,
/// High 7.0–8.9, Critical 9.0–10.0), in tenths, stable per finding.
pub fn severity_score(seed: u64, f: &Finding) -> f64 {
    let (base, span) = match f.level {
        0 | 1 => (10, 30),
        2 => (40, 30),
        3 => (70, 20),
        _ => (90, 11),
    };
    let tenth = Rng::derive(seed, &[SEVERITY_DOMAIN, f.serial as u64]).below(span);
    (base + tenth) as f64 / 10.0
}

/// Answers one GuardDuty request (the `wire::Handler` of GuardDuty).
pub fn handle(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match (&req.method, segments.as_slice()) {
        (&Method::GET, ["detector"]) => list_detectors(estate, ctx, req),
        (&Method::GET, ["detector", id]) => get_detector(estate, ctx, id),
        (&Method::POST, ["detector", id, "findings"]) => list_findings(estate, ctx, id, req),
        (&Method::POST, ["detector", id, "findings", "get"]) => get_findings(estate, ctx, id, req),
        (&Method::GET, ["detector", id, "member"]) => match own_detector(estate, ctx, id) {
            Ok(()) => super::members::list(
                estate,
                ctx,
                &req.query,
                &super::members::GUARDDUTY,
                bad_request,
            ),
            Err(e) => e,
        },
        _ => wire::rest_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            &format!("GuardDuty has no operation {} {}", req.method, req.path),
        ),
    }
}

fn bad_request(message: &str) -> Response {
    wire::rest_error(StatusCode::BAD_REQUEST, "BadRequestException", message)
}

fn invalid_input() -> Response {
    bad_request(
        "The request is rejected because an invalid or out-of-range value is specified as an input parameter.",
    )
}

/// The JSON object body; GuardDuty answers malformed input with BadRequestException.
fn body(req: &SimRequest) -> Result<Map<String, Value>, Response> {
    req.json_object().map_err(|e| match e {
        BodyError::NotAnObject => bad_request("The request body must be a JSON object."),
        BodyError::Malformed(e) => bad_request(&format!("Malformed JSON body: {e}")),
    })
}

/// The caller's own detector, or the error GuardDuty gives for anyone else's.
fn own_detector(estate: &Estate, ctx: &Ctx, id: &str) -> Result<(), Response> {
    if estate.is_enabled(ctx.account, ctx.region, Service::GuardDuty)
        && id == detector_id(&ctx.account_id, &ctx.region_code)
    {
        Ok(())
    } else {
        Err(bad_request(
            "The request is rejected because the input detectorId is not owned by the current account.",
        ))
    }
}

fn list_detectors(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    // ListDetectors reads the page size only: a caller has at most one detector here.
    if PAGING
        .size(req.query.get("maxResults").map(|s| s.parse().ok()))
        .is_err()
    {
        return invalid_input();
    }
    let ids: Vec<String> = if estate.is_enabled(ctx.account, ctx.region, Service::GuardDuty) {
        vec![detector_id(&ctx.account_id, &ctx.region_code)]
    } else {
        Vec::new()
    };
    wire::json_ok(json!({ "detectorIds": ids }))
}

fn get_detector(estate: &Estate, ctx: &Ctx, id: &str) -> Response {
    if let Err(e) = own_detector(estate, ctx, id) {
        return e;
    }
    // Enabled before any of its findings.
    let enabled_at = ctx.enabled_at(estate, RESOURCE_DOMAIN);
    wire::json_ok(json!({
        "createdAt": wire::iso(enabled_at),
        "findingPublishingFrequency": "SIX_HOURS",
        "serviceRole": format!(
            "arn:aws:iam::{}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty",
            ctx.account_id
        ),
        "status": "ENABLED",
        "updatedAt": wire::iso(enabled_at),
        "tags": {},
    }))
}

/// A finding field GuardDuty lets `findingCriteria` filter on, among those the simulator knows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    AccountId,
    Region,
    Id,
    Type,
    ResourceType,
    Archived,
    Severity,
    UpdatedAt,
}

impl Dialect for Field {
    type Number = f64;

    fn field(name: &str) -> Option<Field> {
        Some(match name {
            "accountId" => Field::AccountId,
            "region" => Field::Region,
            "id" => Field::Id,
            "type" => Field::Type,
            "resource.resourceType" => Field::ResourceType,
            "service.archived" => Field::Archived,
            "severity" => Field::Severity,
            "updatedAt" => Field::UpdatedAt,
            _ => return None,
        })
    }

    fn is_numeric(self) -> bool {
        matches!(self, Field::Severity | Field::UpdatedAt)
    }

    /// Every operator of GuardDuty's `Condition`, in both spellings (the deprecated 32-bit
    /// `gte` and the 64-bit `greaterThanOrEqual`, …). `matches`/`notMatches` take wildcards;
    /// no simulated filter needs them.
    fn operator(name: &str) -> Option<Operator> {
        Some(match name {
            "eq" | "equals" => Operator::Eq,
            "neq" | "notEquals" => Operator::Neq,
            "gt" | "greaterThan" => Operator::Gt,
            "gte" | "greaterThanOrEqual" => Operator::Gte,
            "lt" | "lessThan" => Operator::Lt,
            "lte" | "lessThanOrEqual" => Operator::Lte,
            _ => return None,
        })
    }
}

/// The facts about a finding that filters and sorts look at.
struct Facts<'a> {
    f: &'a Finding,
    account_id: &'a str,
    id: String,
    severity: f64,
}

impl Facts<'_> {
    fn text(&self, field: Field, ctx: &Ctx) -> String {
        match field {
            Field::AccountId => self.account_id.to_owned(),
            Field::Region => ctx.region_code.clone(),
            Field::Id => self.id.clone(),
            Field::Type => threat_type(self.f).to_owned(),
            Field::ResourceType => resource_type(self.f).to_owned(),
            Field::Archived => (self.f.state == State::Suppressed).to_string(),
            Field::Severity => self.severity.to_string(),
            Field::UpdatedAt => (self.f.updated * 1000).to_string(),
        }
    }

    fn number(&self, field: Field) -> f64 {
        match field {
            Field::Severity => self.severity,
            // Criteria compare `updatedAt` in epoch milliseconds.
            _ => (self.f.updated * 1000) as f64,
        }
    }

    fn matches(&self, c: &criteria::Criterion<Field>, ctx: &Ctx) -> bool {
        c.matches(|field| self.text(field, ctx), |field| self.number(field))
    }
}

/// `findingCriteria.criterion`, answered with GuardDuty's errors.
fn parse_criteria(body: &Map<String, Value>) -> Result<Vec<criteria::Criterion<Field>>, Response> {
    criteria::parse(body).map_err(|e| match e {
        CriteriaError::UnknownField(name) => bad_request(&format!(
            "The request is rejected because the criterion field {name} is not supported."
        )),
        _ => invalid_input(),
    })
}

/// `sortCriteria`: by `updatedAt`, `createdAt` or `severity`, ASC unless told DESC.
fn sort_by(body: &Map<String, Value>, facts: &mut [Facts<'_>]) -> Result<(), Response> {
    let Some((key, descending)) =
        criteria::parse_sort(body, &["updatedAt", "createdAt", "severity"])
            .map_err(|_| invalid_input())?
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
            _ => a
                .severity
                .partial_cmp(&b.severity)
                .unwrap_or(Ordering::Equal),
        },
    );
    Ok(())
}

/// The findings GuardDuty still serves in the caller's region (resolved ones are gone): the
/// caller's own, and as the delegated administrator its members' too.
fn served<'a>(estate: &'a Estate, ctx: &Ctx) -> impl Iterator<Item = &'a Finding> {
    estate
        .seen_accounts(ctx.account)
        .into_iter()
        .flat_map(move |a| estate.target_findings(a, ctx.region, Service::GuardDuty))
        .filter(|f| f.state != State::Resolved)
}

fn facts<'a>(estate: &'a Estate, f: &'a Finding) -> Facts<'a> {
    Facts {
        f,
        account_id: &estate.accounts[f.account as usize].id,
        id: finding_id(estate.seed, f.serial),
        severity: severity_score(estate.seed, f),
    }
}

fn list_findings(estate: &Estate, ctx: &Ctx, detector: &str, req: &SimRequest) -> Response {
    if let Err(e) = own_detector(estate, ctx, detector) {
        return e;
    }
    let body = match body(req) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let page = match PAGING.from_body(&body, "maxResults", "nextToken") {
        Ok(p) => p,
        Err(wire::PagingError::BadToken) => {
            return bad_request("The request is rejected because the nextToken is invalid.");
        }
        Err(_) => return invalid_input(),
    };
    let criteria = match parse_criteria(&body) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let mut found: Vec<Facts> = served(estate, ctx)
        .map(|f| facts(estate, f))
        .filter(|x| criteria.iter().all(|c| x.matches(c, ctx)))
        .collect();
    if let Err(e) = sort_by(&body, &mut found) {
        return e;
    }
    let ids: Vec<&str> = page.of(&found).map(|x| x.id.as_str()).collect();
    // GuardDuty sends an empty `nextToken` on the last page rather than leaving it out.
    let next = page.next_token(found.len()).unwrap_or_default();
    wire::json_ok(json!({ "findingIds": ids, "nextToken": next }))
}

fn get_findings(estate: &Estate, ctx: &Ctx, detector: &str, req: &SimRequest) -> Response {
    if let Err(e) = own_detector(estate, ctx, detector) {
        return e;
    }
    let body = match body(req) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let Some(ids) = body.get("findingIds").and_then(wire::string_list) else {
        return invalid_input();
    };
    if ids.len() > MAX_FINDING_IDS {
        return bad_request(&format!(
            "The request is rejected because findingIds has {} items; the maximum is {MAX_FINDING_IDS}.",
            ids.len()
        ));
    }
    let mut found: Vec<Facts> =
        serial_ids::lookup_all(estate, ctx, Service::GuardDuty, &ids, finding_id)
            .into_iter()
            .map(|f| facts(estate, f))
            .collect();
    if let Err(e) = sort_by(&body, &mut found) {
        return e;
    }
    let findings: Vec<Value> = found.iter().map(|x| render(estate, x.f)).collect();
    wire::json_ok(json!({ "findings": findings }))
}

fn threat_type(f: &Finding) -> &'static str {
    let types = catalogue::threat_types();
    types
        .get(f.kind as usize)
        .or_else(|| types.first())
        .map_or("UnauthorizedAccess:EC2/SSHBruteForce", |t| t.kind.as_str())
}

/// The resource family a finding type names: `Purpose:Family/Name`.
fn family(kind: &str) -> &str {
    kind.split_once(':')
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or("EC2", |(family, _)| family)
}

fn resource_type(f: &Finding) -> &'static str {
    match family(threat_type(f)) {
        "IAMUser" | "IAM" => "AccessKey",
        "S3" => "S3Bucket",
        "Kubernetes" | "EKS" => "EKSCluster",
        "ECS" => "ECSCluster",
        "RDS" => "RDSDBInstance",
        "Lambda" => "Lambda",
        // EC2 and Runtime Monitoring of EC2 hosts.
        _ => "Instance",
    }
}

fn purpose_phrase(purpose: &str) -> &str {
    match purpose {
        "AttackSequence" => "A multi-stage attack sequence",
        "Backdoor" => "Backdoor behaviour",
        "Behavior" => "Unusual behaviour",
        "CredentialAccess" => "A credential access attempt",
        "CryptoCurrency" => "Cryptocurrency-related activity",
        "DefenseEvasion" => "A defence-evasion technique",
        "Discovery" => "Discovery activity",
        "Execution" => "Suspicious execution",
        "Exfiltration" => "Possible data exfiltration",
        "Impact" => "Activity with a possible impact",
        "InitialAccess" => "An initial-access attempt",
        "PenTest" => "A penetration-testing tool",
        "Persistence" => "A persistence attempt",
        "Policy" => "A policy violation",
        "PrivilegeEscalation" => "A privilege-escalation attempt",
        "Recon" => "Reconnaissance",
        "Stealth" => "A stealth technique",
        "Trojan" => "Trojan activity",
        "UnauthorizedAccess" => "Unauthorized access",
        other => other,
    }
}

/// Names of simulated resources, derived from the finding's serial.
struct Names {
    r: Rng,
    account_name: String,
    n: u32,
}

impl Names {
    fn hex(&mut self, len: usize) -> String {
        let mut s = String::new();
        while s.len() < len {
            s.push_str(&format!("{:016x}", self.r.next_u64()));
        }
        s.truncate(len);
        s
    }

    fn upper(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        (0..len)
            .map(|_| ALPHABET[self.r.below(ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}

/// The GuardDuty `GetFindings` item for `f`, shaped as in `fixtures/aws/guardduty-get-findings.json`.
pub fn render(estate: &Estate, f: &Finding) -> Value {
    let account = &estate.accounts[f.account as usize];
    let region = &estate.regions[f.region as usize];
    let kind = threat_type(f);
    let (purpose, rest) = kind.split_once(':').unwrap_or(("", kind));
    let threat_name = rest.split_once('/').map_or(rest, |(_, name)| name);
    let detector = detector_id(&account.id, region);
    let id = finding_id(estate.seed, f.serial);
    let mut names = Names {
        r: Rng::derive(estate.seed, &[RESOURCE_DOMAIN, f.serial as u64]),
        account_name: account.name.clone(),
        n: f.serial,
    };
    let (resource, label) = resource(&mut names, f, &account.id, region, kind);
    let count = if f.updated > f.created {
        2 + Rng::derive(estate.seed, &[SEVERITY_DOMAIN, f.serial as u64, 1]).below(40)
    } else {
        1
    };
    let mut service = json!({
        "serviceName": "guardduty",
        "detectorId": detector,
        "resourceRole": "TARGET",
        "eventFirstSeen": wire::iso(f.created),
        "eventLastSeen": wire::iso(f.updated),
        "archived": f.state == State::Suppressed,
        "count": count,
    });
    if let Some(action) = action(&mut names, kind) {
        service["action"] = action;
    }
    json!({
        "accountId": account.id,
        "arn": format!("arn:aws:guardduty:{region}:{}:detector/{detector}/finding/{id}", account.id),
        "createdAt": wire::iso(f.created),
        "description": format!(
            "GuardDuty detected activity matching {kind} involving {label} in account {} ({region}).",
            account.id
        ),
        "id": id,
        "partition": "aws",
        "region": region,
        "resource": resource,
        "schemaVersion": "2.0",
        "service": service,
        "severity": severity_score(estate.seed, f),
        "title": format!("{} ({threat_name}) involving {label}.", purpose_phrase(purpose)),
        "type": kind,
        "updatedAt": wire::iso(f.updated),
    })
}

/// The `resource` object for the finding type's family, and a label for title and description.
fn resource(
    names: &mut Names,
    f: &Finding,
    account: &str,
    region: &str,
    kind: &str,
) -> (Value, String) {
    let base = names.account_name.clone();
    let n = names.n;
    // S3, EKS and Lambda timestamps in `resource` are model timestamps: epoch-second numbers.
    let made = f.created - 30 * DAY - names.r.below(400) as i64 * DAY;
    match resource_type(f) {
        "AccessKey" => {
            const USERS: [&str; 6] = [
                "ci-deploy",
                "data-pipeline",
                "backup-agent",
                "ops-admin",
                "release-bot",
                "analytics-reader",
            ];
            let user = USERS[(n as usize) % USERS.len()];
            let details = json!({
                "accessKeyId": format!("AKIA{}", names.upper(16)),
                "principalId": format!("AIDA{}", names.upper(17)),
                "userName": user,
                "userType": "IAMUser",
            });
            (
                json!({ "resourceType": "AccessKey", "accessKeyDetails": details }),
                format!("IAM user {user}"),
            )
        }
        "S3Bucket" => {
            let name = format!("{base}-data-{n:x}");
            // Only the "…AccessGranted" types say the bucket is open; the others are about settings.
            let public = kind.contains("AccessGranted");
            let owner = hex::encode(Sha256::digest(format!("canonical/{account}")));
            let details = json!([{
                "arn": format!("arn:aws:s3:::{name}"),
                "name": name,
                "type": "Destination",
                "createdAt": made,
                "owner": { "id": owner },
                "tags": [],
                "defaultServerSideEncryption": { "encryptionType": "AES256" },
                "publicAccess": {
                    "effectivePermission": if public { "PUBLIC" } else { "NOT_PUBLIC" }
                },
            }]);
            (
                json!({ "resourceType": "S3Bucket", "s3BucketDetails": details }),
                format!("S3 bucket {name}"),
            )
        }
        "EKSCluster" => {
            let name = format!("{base}-eks-{}", n % 7);
            let details = json!({
                "name": name,
                "arn": format!("arn:aws:eks:{region}:{account}:cluster/{name}"),
                "vpcId": format!("vpc-0{}", names.hex(16)),
                "status": "ACTIVE",
                "tags": [],
                "createdAt": made,
            });
            (
                json!({ "resourceType": "EKSCluster", "eksClusterDetails": details }),
                format!("EKS cluster {name}"),
            )
        }
        "ECSCluster" => {
            let name = format!("{base}-ecs-{}", n % 5);
            let details = json!({
                "name": name,
                "arn": format!("arn:aws:ecs:{region}:{account}:cluster/{name}"),
                "status": "ACTIVE",
                "activeServicesCount": 1 + names.r.below(12),
                "registeredContainerInstancesCount": names.r.below(8),
                "runningTasksCount": 1 + names.r.below(40),
                "tags": [],
            });
            (
                json!({ "resourceType": "ECSCluster", "ecsClusterDetails": details }),
                format!("ECS cluster {name}"),
            )
        }
        "RDSDBInstance" => {
            let cluster = format!("{base}-db-{}", n % 4);
            let instance = format!("{cluster}-instance-1");
            let details = json!({
                "dbInstanceIdentifier": instance,
                "engine": "aurora-postgresql",
                "engineVersion": "15.4",
                "dbClusterIdentifier": cluster,
                "dbInstanceArn": format!("arn:aws:rds:{region}:{account}:db:{instance}"),
                "dbiResourceId": format!("db-{}", names.upper(26)),
                "tags": [],
            });
            (
                json!({ "resourceType": "RDSDBInstance", "rdsDbInstanceDetails": details }),
                format!("RDS DB instance {instance}"),
            )
        }
        "Lambda" => {
            let name = format!("{base}-fn-{}", n % 9);
            let details = json!({
                "functionArn": format!("arn:aws:lambda:{region}:{account}:function:{name}"),
                "functionName": name,
                "lastModifiedAt": made,
                "revisionId": format!(
                    "{}-{}-{}-{}-{}",
                    names.hex(8), names.hex(4), names.hex(4), names.hex(4), names.hex(12)
                ),
                "functionVersion": "$LATEST",
                "role": format!("arn:aws:iam::{account}:role/{name}-role"),
                "tags": [],
            });
            (
                json!({ "resourceType": "Lambda", "lambdaDetails": details }),
                format!("Lambda function {name}"),
            )
        }
        _ => {
            const TYPES: [&str; 4] = ["t3.medium", "m5.large", "c5.xlarge", "r6g.large"];
            let instance = format!("i-0{}", names.hex(16));
            let (a, b, c) = (
                names.r.below(256),
                names.r.below(256),
                1 + names.r.below(254),
            );
            let ip = format!("10.{a}.{b}.{c}");
            let domain = if region == "us-east-1" {
                "ec2.internal".to_owned()
            } else {
                format!("{region}.compute.internal")
            };
            let dns = format!("ip-10-{a}-{b}-{c}.{domain}");
            let zone = format!("{region}{}", ["a", "b", "c"][(n % 3) as usize]);
            let details = json!({
                "availabilityZone": zone,
                "imageId": format!("ami-0{}", names.hex(16)),
                "instanceId": instance,
                "instanceState": "running",
                "instanceType": TYPES[(n as usize) % TYPES.len()],
                "launchTime": wire::iso(made),
                "networkInterfaces": [{
                    "ipv6Addresses": [],
                    "networkInterfaceId": format!("eni-0{}", names.hex(16)),
                    "privateDnsName": dns,
                    "privateIpAddress": ip,
                    "privateIpAddresses": [{ "privateDnsName": dns, "privateIpAddress": ip }],
                    "subnetId": format!("subnet-0{}", names.hex(16)),
                    "vpcId": format!("vpc-0{}", names.hex(16)),
                    "securityGroups": [{
                        "groupId": format!("sg-0{}", names.hex(16)),
                        "groupName": format!("{base}-app"),
                    }],
                }],
                "productCodes": [],
                "tags": [{ "key": "Name", "value": format!("{base}-app-{}", n % 11) }],
            });
            (
                json!({ "resourceType": "Instance", "instanceDetails": details }),
                format!("EC2 instance {instance}"),
            )
        }
    }
}

/// A remote peer from the documentation address ranges (RFC 5737) and ASN range (RFC 5398).
fn remote_ip(names: &mut Names) -> Value {
    let ip = format!(
        "{}.{}",
        ["198.51.100", "203.0.113"][names.r.below(2) as usize],
        1 + names.r.below(254)
    );
    json!({
        "ipAddressV4": ip,
        "organization": {
            "asn": "64496",
            "asnOrg": "EXAMPLE-NET",
            "isp": "Example ISP",
            "org": "Example Org",
        },
        "country": { "countryName": "Netherlands" },
        "city": { "cityName": "Amsterdam" },
        "geoLocation": { "lat": 52.37, "lon": 4.89 },
    })
}

/// `service.action` for the families whose action shape the fixtures show.
fn action(names: &mut Names, kind: &str) -> Option<Value> {
    let ephemeral = 32768 + names.r.below(28_000);
    match family(kind) {
        // Someone probing or logging in from outside: inbound to SSH.
        "EC2" if kind.starts_with("Recon:") || kind.starts_with("UnauthorizedAccess:") => {
            Some(json!({
                "actionType": "NETWORK_CONNECTION",
                "networkConnectionAction": {
                    "connectionDirection": "INBOUND",
                    "remoteIpDetails": remote_ip(names),
                    "remotePortDetails": { "port": ephemeral, "portName": "Unknown" },
                    "localPortDetails": { "port": 22, "portName": "SSH" },
                    "protocol": "TCP",
                    "blocked": false,
                },
            }))
        }
        // The instance itself calling out (mining pools, command and control, …).
        "EC2" => Some(json!({
            "actionType": "NETWORK_CONNECTION",
            "networkConnectionAction": {
                "connectionDirection": "OUTBOUND",
                "remoteIpDetails": remote_ip(names),
                "remotePortDetails": { "port": 443, "portName": "HTTPS" },
                "localPortDetails": { "port": ephemeral, "portName": "Unknown" },
                "protocol": "TCP",
                "blocked": false,
            },
        })),
        "IAMUser" => {
            const APIS: [(&str, &str); 4] = [
                ("ListBuckets", "s3.amazonaws.com"),
                ("GetCallerIdentity", "sts.amazonaws.com"),
                ("DescribeInstances", "ec2.amazonaws.com"),
                ("ListUsers", "iam.amazonaws.com"),
            ];
            let (api, service) = APIS[names.r.below(APIS.len() as u64) as usize];
            Some(json!({
                "actionType": "AWS_API_CALL",
                "awsApiCallAction": {
                    "api": api,
                    "serviceName": service,
                    "callerType": "Remote IP",
                    "remoteIpDetails": remote_ip(names),
                    "affectedResources": {},
                },
            }))
        }
        _ => None,
    }
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
        // A month on the clock: some findings resolved (gone), some archived, some new.
        e.advance(30);
        e
    }

    /// Six regions: GuardDuty is on in nearly every approved region, so it takes the
    /// unapproved ones to find it off.
    fn wide_estate() -> Estate {
        Estate::generate(&Options {
            accounts: 8,
            regions: 6,
            ..Options::default()
        })
    }

    fn ctx(e: &Estate, account: usize, region: usize) -> Ctx {
        testing::ctx(e, account, region, Service::GuardDuty)
    }

    fn call(e: &Estate, c: &Ctx, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let req = testing::request(method, path, &[], testing::body(&body));
        let (status, headers, bytes) = testing::parts(handle(e, c, &req));
        if status != StatusCode::OK {
            // The SDK reads the error code from this header first.
            assert!(headers.contains_key("x-amzn-ErrorType"));
        }
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn error_type(e: &Estate, c: &Ctx, method: Method, path: &str, body: Value) -> String {
        let req = testing::request(method, path, &[], body.to_string());
        let response = handle(e, c, &req);
        response.headers()["x-amzn-ErrorType"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Every target where GuardDuty is on and the account lets Sightline in.
    fn targets(e: &Estate) -> Vec<(usize, usize)> {
        testing::allowed_on(e, Service::GuardDuty)
    }

    /// The served finding with this id in the caller's account and region.
    fn lookup<'a>(e: &'a Estate, c: &Ctx, id: &str) -> Option<&'a Finding> {
        serial_ids::lookup(e, c, Service::GuardDuty, id, finding_id)
    }

    /// Pages through ListFindings with `body` (plus paging), returning every id in order.
    fn list_all(e: &Estate, c: &Ctx, mut body: Value, page: usize) -> Vec<String> {
        let path = format!(
            "/detector/{}/findings",
            detector_id(&c.account_id, &c.region_code)
        );
        let mut ids = Vec::new();
        body["maxResults"] = json!(page);
        for _ in 0..1000 {
            let (status, v) = call(e, c, Method::POST, &path, body.clone());
            assert_eq!(status, StatusCode::OK, "{v}");
            let got = v["findingIds"].as_array().unwrap();
            assert!(got.len() <= page);
            ids.extend(got.iter().map(|x| x.as_str().unwrap().to_owned()));
            let next = v["nextToken"].as_str().unwrap();
            if next.is_empty() {
                return ids;
            }
            body["nextToken"] = json!(next);
        }
        panic!("pagination did not end");
    }

    #[test]
    fn detector_ids_are_stable_hex_and_per_target() {
        let a = detector_id("111111111111", "us-east-1");
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, detector_id("111111111111", "us-east-1"));
        assert_ne!(a, detector_id("111111111111", "eu-west-1"));
        assert_ne!(a, detector_id("222222222222", "us-east-1"));
        let id = finding_id(1, 0xabc);
        assert_eq!(id.len(), 32);
        assert!(id.ends_with("00000abc"));
    }

    #[test]
    fn list_detectors_only_where_enabled() {
        let e = wide_estate();
        let (mut on, mut off) = (0, 0);
        for a in 0..e.accounts.len() {
            for r in 0..e.regions.len() {
                let c = ctx(&e, a, r);
                let (status, v) = call(&e, &c, Method::GET, "/detector", Value::Null);
                assert_eq!(status, StatusCode::OK);
                let ids = v["detectorIds"].as_array().unwrap();
                if e.is_enabled(a, r, Service::GuardDuty) {
                    on += 1;
                    assert_eq!(
                        ids,
                        &vec![json!(detector_id(&c.account_id, &c.region_code))]
                    );
                } else {
                    off += 1;
                    assert!(ids.is_empty());
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
            let all: Vec<&Finding> = e.target_findings(a, r, Service::GuardDuty).collect();
            let expected: Vec<String> = all
                .iter()
                .filter(|f| f.state != State::Resolved)
                .map(|f| finding_id(e.seed, f.serial))
                .collect();
            resolved += all.iter().filter(|f| f.state == State::Resolved).count();
            let ids = list_all(&e, &c, json!({}), 3);
            assert_eq!(ids, expected, "creation order, every served finding once");
            let unique: HashSet<&String> = ids.iter().collect();
            assert_eq!(unique.len(), ids.len());

            let not_archived = list_all(
                &e,
                &c,
                json!({"findingCriteria": {"criterion": {"service.archived": {"eq": ["false"]}}}}),
                50,
            );
            let only_archived = list_all(
                &e,
                &c,
                json!({"findingCriteria": {"criterion": {"service.archived": {"eq": ["true"]}}}}),
                50,
            );
            let n_active = all.iter().filter(|f| f.state == State::Active).count();
            let n_suppressed = all.iter().filter(|f| f.state == State::Suppressed).count();
            assert_eq!(not_archived.len(), n_active);
            assert_eq!(only_archived.len(), n_suppressed);
            active += n_active;
            archived += n_suppressed;

            // Resolved findings are gone from GetFindings too.
            let gone: Vec<String> = all
                .iter()
                .filter(|f| f.state == State::Resolved)
                .map(|f| finding_id(e.seed, f.serial))
                .take(50)
                .collect();
            if !gone.is_empty() {
                let path = format!(
                    "/detector/{}/findings/get",
                    detector_id(&c.account_id, &c.region_code)
                );
                let (status, v) = call(&e, &c, Method::POST, &path, json!({ "findingIds": gone }));
                assert_eq!(status, StatusCode::OK);
                assert_eq!(v["findings"], json!([]));
            }
        }
        assert!(
            active > 20 && archived > 0 && resolved > 0,
            "{active} {archived} {resolved}"
        );
    }

    #[test]
    fn get_findings_renders_the_fixture_shape() {
        let e = estate();
        let (a, r) = targets(&e)
            .into_iter()
            .find(|&(a, r)| e.target_findings(a, r, Service::GuardDuty).count() >= 3)
            .unwrap();
        let c = ctx(&e, a, r);
        let detector = detector_id(&c.account_id, &c.region_code);
        let ids = list_all(&e, &c, json!({}), 50);
        let path = format!("/detector/{detector}/findings/get");
        let (status, v) = call(&e, &c, Method::POST, &path, json!({ "findingIds": ids }));
        assert_eq!(status, StatusCode::OK);
        let findings = v["findings"].as_array().unwrap();
        assert_eq!(findings.len(), ids.len());
        let fixture: Value = serde_json::from_str(include_str!(
            "../../../fixtures/aws/guardduty-get-findings.json"
        ))
        .unwrap();
        let template = fixture["findings"][0].as_object().unwrap();
        for (finding, id) in findings.iter().zip(&ids) {
            // Every top-level member the fixture has, with the same JSON type.
            for (key, value) in template {
                let ours = &finding[key];
                assert_eq!(
                    std::mem::discriminant(ours),
                    std::mem::discriminant(value),
                    "{key}: {ours} vs {value}"
                );
            }
            assert_eq!(finding["id"], json!(id));
            assert_eq!(
                finding["arn"],
                json!(format!(
                    "arn:aws:guardduty:{}:{}:detector/{detector}/finding/{id}",
                    c.region_code, c.account_id
                ))
            );
            assert_eq!(finding["accountId"], json!(c.account_id));
            assert_eq!(finding["region"], json!(c.region_code));
            assert_eq!(finding["service"]["detectorId"], json!(detector));
            assert!(finding["service"]["archived"].is_boolean());
            assert!(finding["service"]["count"].as_u64().unwrap() >= 1);
            assert!(wire::parse_iso(finding["createdAt"].as_str().unwrap()).is_some());
            assert!(wire::parse_iso(finding["updatedAt"].as_str().unwrap()).is_some());
            assert!(finding["resource"]["resourceType"].is_string());
            let f = lookup(&e, &c, id).unwrap();
            let severity = finding["severity"].as_f64().unwrap();
            let band = match f.level {
                0 | 1 => 1.0..=3.9,
                2 => 4.0..=6.9,
                3 => 7.0..=8.9,
                _ => 9.0..=10.0,
            };
            assert!(
                band.contains(&severity),
                "level {} severity {severity}",
                f.level
            );
            let kinds: Vec<&str> = catalogue::threat_types()
                .iter()
                .map(|t| t.kind.as_str())
                .collect();
            assert!(kinds.contains(&finding["type"].as_str().unwrap()));
        }
        // Byte-identical on a second call.
        let (_, again) = call(&e, &c, Method::POST, &path, json!({ "findingIds": ids }));
        assert_eq!(v.to_string(), again.to_string());
    }

    #[test]
    fn updated_at_filter_and_sort() {
        let e = estate();
        let mut checked = 0;
        for (a, r) in targets(&e) {
            let c = ctx(&e, a, r);
            let served: Vec<&Finding> = served(&e, &c).collect();
            if served.len() < 2 {
                continue;
            }
            let mut times: Vec<i64> = served.iter().map(|f| f.updated).collect();
            times.sort();
            let cut = times[times.len() / 2];
            let expected = served.iter().filter(|f| f.updated >= cut).count();
            // The deprecated `gte` is modeled 32-bit, but the wire carries any number.
            for op in ["greaterThanOrEqual", "gte"] {
                let cut_value = json!(cut * 1000);
                let ids = list_all(
                    &e,
                    &c,
                    json!({
                        "findingCriteria": {"criterion": {"updatedAt": {op: cut_value}}},
                        "sortCriteria": {"attributeName": "updatedAt", "orderBy": "ASC"},
                    }),
                    2,
                );
                assert_eq!(ids.len(), expected);
                let updated: Vec<i64> = ids
                    .iter()
                    .map(|id| lookup(&e, &c, id).unwrap().updated)
                    .collect();
                assert!(updated.windows(2).all(|w| w[0] <= w[1]), "{updated:?}");
                assert!(updated.iter().all(|&t| t >= cut));
            }
            let below = list_all(
                &e,
                &c,
                json!({"findingCriteria": {"criterion": {"updatedAt": {"lessThan": cut * 1000}}}}),
                50,
            );
            assert_eq!(below.len() + expected, served.len());
            let desc = list_all(
                &e,
                &c,
                json!({"sortCriteria": {"attributeName": "updatedAt", "orderBy": "DESC"}}),
                50,
            );
            let updated: Vec<i64> = desc
                .iter()
                .map(|id| lookup(&e, &c, id).unwrap().updated)
                .collect();
            assert!(updated.windows(2).all(|w| w[0] >= w[1]));
            let mine = list_all(
                &e,
                &c,
                json!({"findingCriteria": {"criterion": {"accountId": {"eq": [c.account_id]}}}}),
                50,
            );
            assert_eq!(mine.len(), served.len());
            let others = list_all(
                &e,
                &c,
                json!({"findingCriteria": {"criterion": {"accountId": {"eq": ["999999999999"]}}}}),
                50,
            );
            assert!(others.is_empty());
            checked += 1;
        }
        assert!(checked > 3, "{checked}");
    }

    #[test]
    fn bad_input_and_foreign_detectors_are_bad_requests() {
        let e = estate();
        let (a, r) = targets(&e)[0];
        let c = ctx(&e, a, r);
        let detector = detector_id(&c.account_id, &c.region_code);
        let list = format!("/detector/{detector}/findings");
        let get = format!("/detector/{detector}/findings/get");
        for body in [
            json!({"maxResults": 51}),
            json!({"maxResults": 0}),
            json!({"nextToken": "garbage"}),
            json!({"findingCriteria": {"criterion": {"updatedAt": {"greaterThanOrEqual": "yesterday"}}}}),
            json!({"findingCriteria": {"criterion": {"service.archived": {"gt": 1}}}}),
            json!({"findingCriteria": {"criterion": {"noSuchField": {"eq": ["x"]}}}}),
            json!({"sortCriteria": {"attributeName": "updatedAt", "orderBy": "SIDEWAYS"}}),
        ] {
            let (status, v) = call(&e, &c, Method::POST, &list, body.clone());
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
            assert_eq!(
                error_type(&e, &c, Method::POST, &list, body),
                "BadRequestException"
            );
        }
        let too_many: Vec<String> = (0..51).map(|i| finding_id(e.seed, i + 1)).collect();
        let (status, _) = call(
            &e,
            &c,
            Method::POST,
            &get,
            json!({ "findingIds": too_many }),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = call(&e, &c, Method::POST, &get, json!({}));
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // Another account's detector, or any detector where GuardDuty is off.
        let other = targets(&e).into_iter().find(|&(x, _)| x != a).unwrap();
        let foreign = detector_id(&e.accounts[other.0].id, &e.regions[other.1]);
        let (status, v) = call(
            &e,
            &c,
            Method::POST,
            &format!("/detector/{foreign}/findings"),
            json!({}),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            v["message"],
            "The request is rejected because the input detectorId is not owned by the current account."
        );
        // Where GuardDuty is off (only unapproved regions leave it off), even its own id.
        let wide = wide_estate();
        let (off_a, off_r) = (0..wide.accounts.len())
            .flat_map(|a| (0..wide.regions.len()).map(move |r| (a, r)))
            .find(|&(a, r)| !wide.is_enabled(a, r, Service::GuardDuty))
            .unwrap();
        let off = ctx(&wide, off_a, off_r);
        let own = detector_id(&off.account_id, &off.region_code);
        let (status, _) = call(
            &wide,
            &off,
            Method::POST,
            &format!("/detector/{own}/findings"),
            json!({}),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, v) = call(&e, &c, Method::GET, "/nope", Value::Null);
        assert_eq!(status, StatusCode::NOT_FOUND, "{v}");
    }

    #[test]
    fn sightlines_normaliser_reads_every_rendered_finding() {
        use crate::domain::{Severity, Status};
        let e = estate();
        let mut n = 0;
        for f in e
            .findings
            .iter()
            .filter(|f| f.service == Service::GuardDuty)
        {
            let raw = render(&e, f);
            let got = crate::sources::guardduty::normalise(&raw, chrono::Utc::now()).unwrap();
            let severity = match f.level {
                0 | 1 => Severity::Low,
                2 => Severity::Medium,
                3 => Severity::High,
                _ => Severity::Critical,
            };
            let status = if f.state == State::Suppressed {
                Status::Suppressed
            } else {
                Status::Open
            };
            assert_eq!((got.severity, got.status), (severity, status), "{raw}");
            assert_eq!(got.native_id, finding_arn(&e, f));
            assert_eq!(got.updated_at.timestamp(), f.updated);
            assert!(got.resource_id.is_some(), "{raw}");
            n += 1;
        }
        assert!(n > 50, "{n}");
    }
}
