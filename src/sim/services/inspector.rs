//! Amazon Inspector (inspector2, restJson1): `BatchGetAccountStatus` and `ListFindings`, serving
//! the estate's package vulnerabilities in the shape of the real `ListFindings` answer.

// Parsers return the finished 400 answer as their error, made at most once per request.
#![allow(clippy::result_large_err)]

use std::cmp::Ordering;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::sim::catalogue::{VULNERABILITIES, Vulnerability};
use crate::sim::org::{Estate, Finding, Service, State};
use crate::sim::rng::Rng;
use crate::sim::wire::{self, BodyError, Ctx, Paging, PagingError, SimRequest};

/// `ListFindingsMaxResults` is 1..=100; larger is a ValidationException. 100 when a client
/// sends no `maxResults` (undocumented; the simulator's choice).
const PAGING: Paging = Paging {
    default: 100,
    max: 100,
    clamp: false,
    strict_null: false,
    empty_token_is_first: false,
};
/// `AccountIdSet` holds at most 10 ids.
const MAX_ACCOUNT_IDS: usize = 10;
/// `StringFilterList`, `DateFilterList` and `NumberFilterList` hold 1..=10 filters.
const MAX_FILTERS: usize = 10;
const DAY: i64 = 86_400;

/// Answers an inspector2 request (the `wire::Handler` of Inspector).
pub fn handle(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    if req.method == Method::POST && req.path == "/status/batch/get" {
        batch_get_account_status(estate, ctx, req)
    } else if req.method == Method::POST && req.path == "/findings/list" {
        list_findings(estate, ctx, req)
    } else {
        wire::rest_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            &format!("no inspector2 operation at {} {}", req.method, req.path),
        )
    }
}

/// One finding exactly as `ListFindings` serves it, for modules that render copies of it
/// (Security Hub's copy has `Id` = its `findingArn`). `None` if it is not an Inspector finding.
pub fn native_finding(estate: &Estate, f: &Finding) -> Option<Value> {
    if f.service != Service::Inspector {
        return None;
    }
    let ctx = Ctx::of(
        estate,
        f.account as usize,
        f.region as usize,
        Service::Inspector,
    )?;
    let view = View::new(estate, &ctx, f)?;
    Some(render(estate, &ctx, &view))
}

/// `POST /status/batch/get`: the caller's own status, and every account's for the delegated
/// administrator; for anyone else other accounts fail as they do for a member that is not the
/// delegated administrator.
fn batch_get_account_status(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let ids: Vec<String> = match body.get("accountIds") {
        None | Some(Value::Null) => Vec::new(),
        Some(list) => match wire::string_list(list) {
            Some(ids) => ids,
            None => return validation("accountIds must be a list of strings"),
        },
    };
    if ids.len() > MAX_ACCOUNT_IDS {
        return validation(&format!(
            "accountIds holds at most {MAX_ACCOUNT_IDS} account ids"
        ));
    }
    if let Some(bad) = ids
        .iter()
        .find(|id| id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()))
    {
        return validation(&format!("{bad:?} is not a 12-digit account id"));
    }
    let ids = if ids.is_empty() {
        vec![ctx.account_id.clone()]
    } else {
        ids
    };
    let mut accounts = Vec::new();
    let mut failed = Vec::new();
    for id in ids {
        // The caller's own status; the delegated administrator reads every account's.
        let readable = estate
            .account_index(&id)
            .filter(|&a| estate.sees(ctx.account, a));
        if let Some(a) = readable {
            let on = estate.is_enabled(a, ctx.region, Service::Inspector);
            accounts.push(json!({
                "accountId": id,
                "resourceState": {
                    "ec2": state(on),
                    "ecr": state(on),
                    "lambda": state(on),
                    "lambdaCode": state(on),
                },
                "state": state(on),
            }));
        } else if estate.account_index(&id).is_some() {
            failed.push(json!({
                "accountId": id,
                "errorCode": "ACCESS_DENIED",
                "errorMessage": "The caller is not the Amazon Inspector delegated administrator of this account",
            }));
        } else {
            failed.push(json!({
                "accountId": id,
                "errorCode": "RESOURCE_NOT_FOUND",
                "errorMessage": "Account not found",
            }));
        }
    }
    wire::json_ok(json!({ "accounts": accounts, "failedAccounts": failed }))
}

/// A `State`. `errorCode` and `errorMessage` are required by the model even when nothing went
/// wrong; what AWS puts there for a healthy account is unverified.
fn state(enabled: bool) -> Value {
    if enabled {
        json!({ "errorCode": "ALREADY_ENABLED", "errorMessage": "", "status": "ENABLED" })
    } else {
        json!({
            "errorCode": "RESOURCE_NOT_FOUND",
            "errorMessage": "Amazon Inspector is not enabled",
            "status": "DISABLED",
        })
    }
}

/// `POST /findings/list`: filtered, sorted, paged findings of the caller's account and region.
fn list_findings(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let page = match PAGING.from_body(&body, "maxResults", "nextToken") {
        Ok(p) => p,
        Err(PagingError::MaxResults) => {
            return validation(&format!(
                "maxResults must be an integer from 1 to {}",
                PAGING.max
            ));
        }
        Err(PagingError::TokenNotAString) => return validation("nextToken must be a string"),
        Err(PagingError::BadToken) => return validation("invalid nextToken"),
    };
    let criteria = match parse_criteria(body.get("filterCriteria")) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let sort = match parse_sort(body.get("sortCriteria")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    // No documented "not enabled" code exists for ListFindings; an AccessDeniedException is
    // what callers of a disabled account are reported to get (see fixtures/aws/_sources.md).
    if !estate.is_enabled(ctx.account, ctx.region, Service::Inspector) {
        return wire::rest_error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "Invoking account does not have access to Inspector",
        );
    }

    // The caller's own findings; as the delegated administrator, every member's too.
    let seen = ctx.seen(estate);
    let mut views: Vec<(&Ctx, View)> = seen
        .iter()
        .flat_map(|c| {
            estate
                .target_findings(c.account, c.region, Service::Inspector)
                .filter_map(move |f| View::new(estate, c, f).map(|v| (c, v)))
        })
        .filter(|(_, v)| criteria.iter().all(|c| c.matches(v)))
        .collect();
    if let Some((key, descending)) = sort {
        wire::sort_for_paging(
            &mut views,
            descending,
            |(_, v)| v.finding.serial,
            |a, b| key.compare(&a.1, &b.1),
        );
    }
    let findings: Vec<Value> = page.of(&views).map(|(c, v)| render(estate, c, v)).collect();
    page.answer("findings", findings, "nextToken", views.len())
}

/// A finding as the filters and the sort see it, before it is rendered.
struct View<'a> {
    finding: &'a Finding,
    vuln: &'a Vulnerability,
    arn: String,
    account_id: String,
    severity: &'static str,
    status: &'static str,
    title: String,
    host: Host,
    resource_id: String,
}

impl<'a> View<'a> {
    fn new(estate: &Estate, ctx: &Ctx, finding: &'a Finding) -> Option<View<'a>> {
        let vuln = VULNERABILITIES.get(finding.kind as usize)?;
        let host = Host::of(finding, vuln);
        Some(View {
            finding,
            vuln,
            arn: finding_arn(
                estate.seed,
                &ctx.account_id,
                &ctx.region_code,
                finding.serial,
            ),
            account_id: ctx.account_id.clone(),
            severity: severity_label(finding.level, vuln.severity),
            status: match finding.state {
                State::Active => "ACTIVE",
                State::Suppressed => "SUPPRESSED",
                State::Resolved => "CLOSED",
            },
            title: format!("{} - {}", vuln.cve, vuln.package),
            host,
            resource_id: host.resource_id(estate, ctx, finding),
        })
    }

    fn text(&self, attr: Text) -> &str {
        match attr {
            Text::FindingArn => &self.arn,
            Text::AwsAccountId => &self.account_id,
            Text::FindingType => "PACKAGE_VULNERABILITY",
            Text::Severity => self.severity,
            Text::FindingStatus => self.status,
            Text::Title => &self.title,
            Text::ResourceType => self.host.resource_type(),
            Text::ResourceId => &self.resource_id,
            Text::VulnerabilityId => self.vuln.cve,
            Text::VulnerabilitySource => "NVD",
            Text::VendorSeverity => vendor_severity(self.vuln.cvss),
            Text::FixAvailable => fix_available(self.vuln),
            Text::ExploitAvailable => exploit_available(self.vuln),
        }
    }

    fn date(&self, attr: Date) -> i64 {
        match attr {
            Date::First => self.finding.created,
            Date::Last | Date::Updated => self.finding.updated,
        }
    }
}

/// A finding's `findingArn`, which is also the `Id` of its Security Hub copy.
pub(crate) fn finding_arn(seed: u64, account_id: &str, region: &str, serial: u32) -> String {
    format!(
        "arn:aws:inspector2:{region}:{account_id}:finding/{}",
        hex(seed, serial, Tag::Finding, 32)
    )
}

/// Inspector's `severity` for a level; level 0 keeps the catalogue's own word (UNTRIAGED or
/// INFORMATIONAL), which Sightline maps to informational.
fn severity_label(level: u8, catalogue: &str) -> &'static str {
    match level {
        4 => "CRITICAL",
        3 => "HIGH",
        2 => "MEDIUM",
        1 => "LOW",
        _ if catalogue.eq_ignore_ascii_case("INFORMATIONAL") => "INFORMATIONAL",
        _ => "UNTRIAGED",
    }
}

/// The NVD rating of a CVSS v3 base score.
fn vendor_severity(cvss: f64) -> &'static str {
    match cvss {
        s if s >= 9.0 => "CRITICAL",
        s if s >= 7.0 => "HIGH",
        s if s >= 4.0 => "MEDIUM",
        s if s > 0.0 => "LOW",
        _ => "NONE",
    }
}

fn fix_available(v: &Vulnerability) -> &'static str {
    if v.fixed.is_empty() { "NO" } else { "YES" }
}

/// CVEs of the catalogue with public exploit code (CISA KEV or published proofs of concept).
fn exploit_available(v: &Vulnerability) -> &'static str {
    const EXPLOITED: [&str; 9] = [
        "CVE-2021-44228",
        "CVE-2022-22965",
        "CVE-2024-3094",
        "CVE-2023-4911",
        "CVE-2023-4863",
        "CVE-2023-44487",
        "CVE-2024-21626",
        "CVE-2022-0847",
        "CVE-2021-3156",
    ];
    if EXPLOITED.contains(&v.cve) {
        "YES"
    } else {
        "NO"
    }
}

/// NVD's CVSS v3.1 vector of each catalogue CVE; a CVE missing here is served with `cvss: []`.
fn cvss_vector(cve: &str) -> Option<&'static str> {
    const NET_HIGH: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    const LOCAL_PRIV: &str = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H";
    const NET_DOS: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H";
    Some(match cve {
        "CVE-2021-44228" | "CVE-2024-3094" => "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
        "CVE-2022-22965" | "CVE-2022-42889" | "CVE-2023-38545" | "CVE-2023-45853" => NET_HIGH,
        "CVE-2024-6387" => "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVE-2023-4911" | "CVE-2022-0847" | "CVE-2021-3156" => LOCAL_PRIV,
        "CVE-2023-4863" => "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
        "CVE-2023-44487" | "CVE-2022-24999" => NET_DOS,
        "CVE-2024-21626" => "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H",
        "CVE-2023-0286" => "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H",
        "CVE-2021-23337" => "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H",
        "CVE-2023-5363" => "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        "CVE-2023-32681" => "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N",
        "CVE-2024-2961" => "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L",
        "CVE-2023-29383" => "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:L/A:N",
        "CVE-2022-3821" => "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H",
        "CVE-2023-7008" => "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:N",
        _ => return None,
    })
}

/// Where a vulnerable package was found. OS packages live on instances and in images; language
/// packages also in Lambda functions of a runtime that has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    Ec2,
    Ecr,
    Lambda,
}

impl Host {
    fn of(f: &Finding, v: &Vulnerability) -> Host {
        let choices: &[Host] = if lambda_runtime(v.manager).is_some() {
            &[Host::Ec2, Host::Ecr, Host::Lambda]
        } else {
            &[Host::Ec2, Host::Ecr]
        };
        choices[f.serial as usize % choices.len()]
    }

    fn resource_type(self) -> &'static str {
        match self {
            Host::Ec2 => "AWS_EC2_INSTANCE",
            Host::Ecr => "AWS_ECR_CONTAINER_IMAGE",
            Host::Lambda => "AWS_LAMBDA_FUNCTION",
        }
    }

    fn resource_id(self, estate: &Estate, ctx: &Ctx, f: &Finding) -> String {
        match self {
            Host::Ec2 => format!("i-{}", hex(estate.seed, f.serial, Tag::Instance, 17)),
            Host::Ecr => format!(
                "arn:aws:ecr:{}:{}:repository/{}/sha256:{}",
                ctx.region_code,
                ctx.account_id,
                repository(estate, ctx, f),
                hex(estate.seed, f.serial, Tag::Image, 64)
            ),
            Host::Lambda => format!(
                "arn:aws:lambda:{}:{}:function:{}:$LATEST",
                ctx.region_code,
                ctx.account_id,
                function_name(estate, ctx, f)
            ),
        }
    }
}

fn lambda_runtime(manager: &str) -> Option<&'static str> {
    match manager {
        "JAR" => Some("JAVA_17"),
        "NPM" => Some("NODEJS_18_X"),
        "PYTHONPKG" => Some("PYTHON_3_11"),
        _ => None,
    }
}

const APPS: [&str; 4] = ["api", "worker", "web", "batch"];

fn team<'e>(estate: &'e Estate, ctx: &Ctx) -> &'e str {
    estate
        .accounts
        .get(ctx.account)
        .map(|a| a.owner)
        .unwrap_or("app")
}

fn repository(estate: &Estate, ctx: &Ctx, f: &Finding) -> String {
    format!(
        "{}/{}",
        team(estate, ctx),
        APPS[f.serial as usize % APPS.len()]
    )
}

fn function_name(estate: &Estate, ctx: &Ctx, f: &Finding) -> String {
    format!(
        "{}-{}-{}",
        team(estate, ctx),
        APPS[f.serial as usize % APPS.len()],
        f.serial
    )
}

/// The distribution a catalogue package version comes from, in Inspector's `platform` words.
fn platform(v: &Vulnerability) -> &'static str {
    if v.installed.contains("amzn2023") {
        "AMAZON_LINUX_2023"
    } else if v.installed.contains("amzn2") {
        "AMAZON_LINUX_2"
    } else if v.manager == "OS" {
        "DEBIAN_12"
    } else {
        "AMAZON_LINUX_2023"
    }
}

/// Renders one finding in the shape of `fixtures/aws/inspector2-list-findings.json`.
fn render(estate: &Estate, ctx: &Ctx, view: &View) -> Value {
    let f = view.finding;
    let v = view.vuln;
    let vector = cvss_vector(v.cve);
    let cvss: Vec<Value> = vector
        .map(|vector| {
            json!({ "baseScore": v.cvss, "scoringVector": vector, "source": "NVD", "version": "3.1" })
        })
        .into_iter()
        .collect();
    let nvd = format!("https://nvd.nist.gov/vuln/detail/{}", v.cve);
    let fix = if v.fixed.is_empty() {
        "No fixed version is available yet.".to_owned()
    } else {
        format!("Upgrade to {} or later.", v.fixed)
    };
    let mut finding = json!({
        "awsAccountId": view.account_id,
        "description": format!(
            "{} {} is affected by {} (CVSS {:.1}). {fix}",
            v.package, v.installed, v.cve, v.cvss
        ),
        // EPSS: the chance of exploitation in the next 30 days; high where exploits are public.
        "epss": { "score": if exploit_available(v) == "YES" { 0.94321 } else { (v.cvss * 0.0021 * 100_000.0).round() / 100_000.0 } },
        "exploitAvailable": exploit_available(v),
        "findingArn": view.arn,
        "firstObservedAt": f.created,
        "fixAvailable": fix_available(v),
        "inspectorScore": v.cvss,
        "lastObservedAt": f.updated,
        "packageVulnerabilityDetails": {
            "cvss": cvss,
            "referenceUrls": [nvd.clone(), format!("https://www.cve.org/CVERecord?id={}", v.cve)],
            "relatedVulnerabilities": [],
            "source": "NVD",
            "sourceUrl": nvd,
            "vendorSeverity": vendor_severity(v.cvss),
            "vulnerabilityId": v.cve,
            "vulnerablePackages": [package(v)],
        },
        "remediation": { "recommendation": { "text": "None Provided" } },
        "resources": [resource(estate, ctx, view)],
        "severity": view.severity,
        "status": view.status,
        "title": view.title,
        "type": "PACKAGE_VULNERABILITY",
        "updatedAt": f.updated,
    });
    if let (Some(vector), Some(map)) = (vector, finding.as_object_mut()) {
        map.insert(
            "inspectorScoreDetails".into(),
            json!({
                "adjustedCvss": {
                    "adjustments": [],
                    "cvssSource": "NVD",
                    "score": v.cvss,
                    "scoreSource": "NVD",
                    "scoringVector": vector,
                    "version": "3.1",
                }
            }),
        );
    }
    finding
}

/// A `VulnerablePackage`: OS packages split into epoch, version and release as Inspector
/// reports them (`fixedInVersion` as `epoch:version-release`); language packages with a path.
fn package(v: &Vulnerability) -> Value {
    let fixed = if v.fixed.is_empty() {
        "NotAvailable".to_owned()
    } else if v.manager == "OS" && !v.fixed.contains(':') {
        format!("0:{}", v.fixed)
    } else {
        v.fixed.to_owned()
    };
    if v.manager == "OS" {
        let (epoch, rest) = match v.installed.split_once(':') {
            Some((e, rest)) if e.bytes().all(|b| b.is_ascii_digit()) => {
                (e.parse::<i64>().unwrap_or(0), rest)
            }
            _ => (0, v.installed),
        };
        let (version, release) = rest.split_once('-').unwrap_or((rest, ""));
        let mut p = json!({
            "arch": "X86_64",
            "epoch": epoch,
            "fixedInVersion": fixed,
            "name": v.package,
            "packageManager": v.manager,
            "version": version,
        });
        if let (false, Some(map)) = (release.is_empty(), p.as_object_mut()) {
            map.insert("release".into(), json!(release));
        }
        p
    } else {
        let path = match v.manager {
            "JAR" => format!("opt/app/lib/{}-{}.jar", v.package, v.installed),
            "NPM" => format!("app/node_modules/{}/package.json", v.package),
            "PYTHONPKG" => format!(
                "usr/lib/python3.11/site-packages/{}-{}.dist-info/METADATA",
                v.package, v.installed
            ),
            _ => "app/go.mod".to_owned(),
        };
        json!({
            "epoch": 0,
            "filePath": path,
            "fixedInVersion": fixed,
            "name": v.package,
            "packageManager": v.manager,
            "version": v.installed,
        })
    }
}

/// The one `Resource` of a finding, with its `details` as Inspector reports them.
fn resource(estate: &Estate, ctx: &Ctx, view: &View) -> Value {
    let f = view.finding;
    let seed = estate.seed;
    // Deployed some days before the vulnerability was first seen.
    let deployed = f.created - (1 + i64::from(f.serial % 30)) * DAY;
    let details = match view.host {
        Host::Ec2 => {
            let mut r = Rng::derive(seed, &[Tag::Address as u64, u64::from(f.serial)]);
            let ip = format!("10.{}.{}.{}", r.below(256), r.below(256), 1 + r.below(254));
            json!({ "awsEc2Instance": {
                "iamInstanceProfileArn": format!(
                    "arn:aws:iam::{}:instance-profile/AmazonSSMRoleForInstancesQuickSetup",
                    ctx.account_id
                ),
                "imageId": format!("ami-{}", hex(seed, f.serial, Tag::Ami, 17)),
                "ipV4Addresses": [ip],
                "ipV6Addresses": [],
                "launchedAt": deployed,
                "platform": platform(view.vuln),
                "subnetId": format!("subnet-{}", hex(seed, f.serial, Tag::Subnet, 17)),
                "type": "t3.medium",
                "vpcId": format!("vpc-{}", hex(seed, f.serial, Tag::Vpc, 17)),
            }})
        }
        Host::Ecr => json!({ "awsEcrContainerImage": {
            "architecture": "amd64",
            "imageHash": format!("sha256:{}", hex(seed, f.serial, Tag::Image, 64)),
            "imageTags": [format!("v1.{}.{}", f.serial % 17, f.serial % 5)],
            "platform": platform(view.vuln),
            "pushedAt": deployed,
            "registry": ctx.account_id,
            "repositoryName": repository(estate, ctx, f),
        }}),
        Host::Lambda => {
            let name = function_name(estate, ctx, f);
            json!({ "awsLambdaFunction": {
                "architectures": ["X86_64"],
                "codeSha256": base64_of_hex(&hex(seed, f.serial, Tag::Code, 64)),
                "executionRoleArn": format!("arn:aws:iam::{}:role/{name}-role", ctx.account_id),
                "functionName": name,
                "lastModifiedAt": deployed,
                "packageType": "ZIP",
                "runtime": lambda_runtime(view.vuln.manager).unwrap_or("UNSUPPORTED"),
                "version": "$LATEST",
            }})
        }
    };
    json!({
        "details": details,
        "id": view.resource_id,
        "partition": "aws",
        "region": ctx.region_code,
        "type": view.host.resource_type(),
    })
}

/// What a derived identifier is for, so each draws from its own stream.
#[derive(Clone, Copy)]
enum Tag {
    Finding = 1,
    Instance,
    Image,
    Ami,
    Subnet,
    Vpc,
    Code,
    Address,
}

/// `len` lowercase hex digits, fixed for (seed, serial, tag).
fn hex(seed: u64, serial: u32, tag: Tag, len: usize) -> String {
    let mut r = Rng::derive(seed, &[0x1a5e_c702, tag as u64, u64::from(serial)]);
    let mut s = String::with_capacity(len + 16);
    while s.len() < len {
        s.push_str(&format!("{:016x}", r.next_u64()));
    }
    s.truncate(len);
    s
}

/// Standard base64 of the bytes a hex string spells (Lambda's `codeSha256` is base64).
fn base64_of_hex(hex: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A string attribute `filterCriteria` and `sortCriteria` can name.
#[derive(Debug, Clone, Copy)]
enum Text {
    FindingArn,
    AwsAccountId,
    FindingType,
    Severity,
    FindingStatus,
    Title,
    ResourceType,
    ResourceId,
    VulnerabilityId,
    VulnerabilitySource,
    VendorSeverity,
    FixAvailable,
    ExploitAvailable,
}

#[derive(Debug, Clone, Copy)]
enum Date {
    First,
    Last,
    Updated,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Equals,
    Prefix,
    NotEquals,
}

/// One member of `filterCriteria`: its list of filters on one attribute.
#[derive(Debug)]
enum Criterion {
    Text(Text, Vec<(Comparison, String)>),
    Date(Date, Vec<(f64, f64)>),
    Score(Vec<(f64, f64)>),
}

impl Criterion {
    /// EQUALS and PREFIX filters on one attribute are alternatives; NOT_EQUALS filters must all
    /// hold (as Security Hub combines them; Inspector documents no other rule).
    fn matches(&self, v: &View) -> bool {
        match self {
            Criterion::Text(attr, filters) => {
                let s = v.text(*attr);
                let mut positive = filters
                    .iter()
                    .filter(|(c, _)| *c != Comparison::NotEquals)
                    .peekable();
                let any_positive = positive.peek().is_some();
                (!any_positive
                    || positive.any(|(c, value)| match c {
                        Comparison::Prefix => s.starts_with(value.as_str()),
                        _ => s == value,
                    }))
                    && filters
                        .iter()
                        .filter(|(c, _)| *c == Comparison::NotEquals)
                        .all(|(_, value)| s != value)
            }
            Criterion::Date(attr, ranges) => {
                let t = v.date(*attr) as f64;
                ranges.iter().any(|(lo, hi)| *lo <= t && t <= *hi)
            }
            Criterion::Score(ranges) => {
                let s = v.vuln.cvss;
                ranges.iter().any(|(lo, hi)| *lo <= s && s <= *hi)
            }
        }
    }
}

/// Parses `filterCriteria`. Attributes the simulated findings cannot answer are refused (a 400)
/// rather than ignored, so a poller relying on one notices.
fn parse_criteria(value: Option<&Value>) -> Result<Vec<Criterion>, Response> {
    let map = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(validation("filterCriteria must be an object")),
    };
    let mut criteria = Vec::new();
    for (key, filters) in map {
        let Some(list) = filters.as_array() else {
            return Err(validation(&format!("filterCriteria.{key} must be a list")));
        };
        if list.is_empty() || list.len() > MAX_FILTERS {
            return Err(validation(&format!(
                "filterCriteria.{key} holds 1 to {MAX_FILTERS} filters"
            )));
        }
        let text = match key.as_str() {
            "findingArn" => Some(Text::FindingArn),
            "awsAccountId" => Some(Text::AwsAccountId),
            "findingType" => Some(Text::FindingType),
            "severity" => Some(Text::Severity),
            "findingStatus" => Some(Text::FindingStatus),
            "title" => Some(Text::Title),
            "resourceType" => Some(Text::ResourceType),
            "resourceId" => Some(Text::ResourceId),
            "vulnerabilityId" => Some(Text::VulnerabilityId),
            "vulnerabilitySource" => Some(Text::VulnerabilitySource),
            "vendorSeverity" => Some(Text::VendorSeverity),
            "fixAvailable" => Some(Text::FixAvailable),
            "exploitAvailable" => Some(Text::ExploitAvailable),
            _ => None,
        };
        let date = match key.as_str() {
            "firstObservedAt" => Some(Date::First),
            "lastObservedAt" => Some(Date::Last),
            "updatedAt" => Some(Date::Updated),
            _ => None,
        };
        let criterion = if let Some(attr) = text {
            let mut parsed = Vec::new();
            for filter in list {
                let comparison = match filter.get("comparison").and_then(Value::as_str) {
                    Some("EQUALS") => Comparison::Equals,
                    Some("PREFIX") => Comparison::Prefix,
                    Some("NOT_EQUALS") => Comparison::NotEquals,
                    _ => {
                        return Err(validation(&format!(
                            "filterCriteria.{key}: comparison must be EQUALS, PREFIX or NOT_EQUALS"
                        )));
                    }
                };
                let value = match filter.get("value").and_then(Value::as_str) {
                    Some(v) if !v.is_empty() && v.len() <= 1024 => v.to_owned(),
                    _ => {
                        return Err(validation(&format!(
                            "filterCriteria.{key}: value must be a string of 1 to 1024 characters"
                        )));
                    }
                };
                parsed.push((comparison, value));
            }
            Criterion::Text(attr, parsed)
        } else if let Some(attr) = date {
            Criterion::Date(attr, ranges(key, list, "startInclusive", "endInclusive")?)
        } else if key == "inspectorScore" {
            Criterion::Score(ranges(key, list, "lowerInclusive", "upperInclusive")?)
        } else {
            return Err(validation(&format!(
                "filterCriteria.{key} is not supported by the simulator"
            )));
        };
        criteria.push(criterion);
    }
    Ok(criteria)
}

/// Date filters (epoch-second numbers on the wire) and number filters: inclusive ranges, an
/// absent bound is open.
fn ranges(key: &str, list: &[Value], lo: &str, hi: &str) -> Result<Vec<(f64, f64)>, Response> {
    let bound = |filter: &Value, name: &str, open: f64| -> Result<f64, Response> {
        match filter.get(name) {
            None | Some(Value::Null) => Ok(open),
            Some(v) => v.as_f64().ok_or_else(|| {
                validation(&format!("filterCriteria.{key}.{name} must be a number"))
            }),
        }
    };
    list.iter()
        .map(|filter| {
            if !filter.is_object() {
                return Err(validation(&format!("filterCriteria.{key} holds objects")));
            }
            Ok((
                bound(filter, lo, f64::NEG_INFINITY)?,
                bound(filter, hi, f64::INFINITY)?,
            ))
        })
        .collect()
}

/// What `sortCriteria.field` orders by; `Keep` for fields no simulated finding carries.
#[derive(Debug, Clone, Copy)]
enum SortKey {
    Text(Text),
    Date(Date),
    Severity,
    Score,
    Keep,
}

impl SortKey {
    fn compare(self, a: &View, b: &View) -> Ordering {
        match self {
            SortKey::Text(attr) => a.text(attr).cmp(b.text(attr)),
            SortKey::Date(attr) => a.date(attr).cmp(&b.date(attr)),
            SortKey::Severity => a.finding.level.cmp(&b.finding.level),
            SortKey::Score => a.vuln.cvss.total_cmp(&b.vuln.cvss),
            SortKey::Keep => Ordering::Equal,
        }
    }
}

/// Parses `sortCriteria` into the key and whether it is descending.
fn parse_sort(value: Option<&Value>) -> Result<Option<(SortKey, bool)>, Response> {
    let map = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(validation("sortCriteria must be an object")),
    };
    let key = match map.get("field").and_then(Value::as_str) {
        Some("AWS_ACCOUNT_ID") => SortKey::Text(Text::AwsAccountId),
        Some("FINDING_TYPE") => SortKey::Text(Text::FindingType),
        Some("SEVERITY") => SortKey::Severity,
        Some("FIRST_OBSERVED_AT") => SortKey::Date(Date::First),
        Some("LAST_OBSERVED_AT") => SortKey::Date(Date::Last),
        Some("FINDING_STATUS") => SortKey::Text(Text::FindingStatus),
        Some("RESOURCE_TYPE") => SortKey::Text(Text::ResourceType),
        Some("INSPECTOR_SCORE") => SortKey::Score,
        Some("VULNERABILITY_ID") => SortKey::Text(Text::VulnerabilityId),
        Some("VULNERABILITY_SOURCE") => SortKey::Text(Text::VulnerabilitySource),
        Some("VENDOR_SEVERITY") => SortKey::Text(Text::VendorSeverity),
        Some(
            "ECR_IMAGE_PUSHED_AT"
            | "ECR_IMAGE_REGISTRY"
            | "ECR_IMAGE_REPOSITORY_NAME"
            | "NETWORK_PROTOCOL"
            | "COMPONENT_TYPE"
            | "EPSS_SCORE",
        ) => SortKey::Keep,
        _ => {
            return Err(validation(
                "sortCriteria.field is missing or not a SortField",
            ));
        }
    };
    let descending = match map.get("sortOrder").and_then(Value::as_str) {
        Some("ASC") => false,
        Some("DESC") => true,
        _ => return Err(validation("sortCriteria.sortOrder must be ASC or DESC")),
    };
    Ok(Some((key, descending)))
}

fn parse_body(req: &SimRequest) -> Result<Map<String, Value>, Response> {
    req.json_object().map_err(|e| match e {
        BodyError::NotAnObject => {
            validation_because("the request body must be a JSON object", "CANNOT_PARSE")
        }
        BodyError::Malformed(e) => {
            validation_because(&format!("malformed JSON body: {e}"), "CANNOT_PARSE")
        }
    })
}

fn validation(message: &str) -> Response {
    validation_because(message, "FIELD_VALIDATION_FAILED")
}

/// Inspector's ValidationException, with the `reason` member its model requires.
fn validation_because(message: &str, reason: &str) -> Response {
    let body = json!({ "__type": "ValidationException", "message": message, "reason": reason });
    wire::json_error(StatusCode::BAD_REQUEST, "ValidationException", body)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::super::testing;
    use super::*;
    use crate::sim::org::Options;

    fn estate() -> Estate {
        Estate::generate(&Options {
            accounts: 8,
            regions: 2,
            ..Options::default()
        })
    }

    fn ctx(e: &Estate, account: usize, region: usize) -> Ctx {
        testing::ctx(e, account, region, Service::Inspector)
    }

    fn call(e: &Estate, c: &Ctx, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let req = testing::request(method, path, &[], body.to_string());
        let (status, _, bytes) = testing::parts(handle(e, c, &req));
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn list(e: &Estate, c: &Ctx, body: Value) -> (StatusCode, Value) {
        call(e, c, Method::POST, "/findings/list", body)
    }

    /// Every page of a listing, following nextToken.
    fn list_all(e: &Estate, c: &Ctx, body: Value) -> Vec<Value> {
        testing::all_pages(|b| list(e, c, b), body, "findings", "nextToken")
    }

    /// The enabled target with the most findings, and a target where Inspector is off.
    fn targets(e: &Estate) -> ((usize, usize), (usize, usize)) {
        testing::busiest_and_off(e, Service::Inspector)
    }

    fn count(e: &Estate, (a, r): (usize, usize), state: State) -> usize {
        e.target_findings(a, r, Service::Inspector)
            .filter(|f| f.state == state)
            .count()
    }

    #[test]
    fn lists_every_finding_once_with_its_status() {
        let e = estate();
        let (on, _) = targets(&e);
        let c = ctx(&e, on.0, on.1);
        let all = list_all(&e, &c, json!({ "maxResults": 7 }));
        let expected = e.target_findings(on.0, on.1, Service::Inspector).count();
        assert!(expected > 14, "{expected}");
        assert_eq!(all.len(), expected);
        let arns: HashSet<&str> = all
            .iter()
            .map(|f| f["findingArn"].as_str().unwrap())
            .collect();
        assert_eq!(arns.len(), expected);
        let prefix = format!(
            "arn:aws:inspector2:{}:{}:finding/",
            c.region_code, c.account_id
        );
        assert!(
            arns.iter()
                .all(|a| a.starts_with(&prefix) && a.len() == prefix.len() + 32)
        );
        for (state, label) in [
            (State::Active, "ACTIVE"),
            (State::Suppressed, "SUPPRESSED"),
            (State::Resolved, "CLOSED"),
        ] {
            let n = all.iter().filter(|f| f["status"] == label).count();
            assert_eq!(n, count(&e, on, state), "{label}");
        }
        // Timestamps are epoch-second numbers, and sort as such.
        let sorted = list_all(
            &e,
            &c,
            json!({ "sortCriteria": { "field": "FIRST_OBSERVED_AT", "sortOrder": "ASC" } }),
        );
        let firsts: Vec<i64> = sorted
            .iter()
            .map(|f| f["firstObservedAt"].as_i64().unwrap())
            .collect();
        assert_eq!(firsts.len(), expected);
        assert!(firsts.windows(2).all(|w| w[0] <= w[1]));
        assert!(all.iter().all(|f| f["updatedAt"].is_i64()
            && f["awsAccountId"] == c.account_id.as_str()
            && f["type"] == "PACKAGE_VULNERABILITY"));
        // The default page is the largest one.
        let (_, page) = list(&e, &c, json!({}));
        assert_eq!(
            page["findings"].as_array().unwrap().len(),
            expected.min(100)
        );
    }

    #[test]
    fn filters_by_status_account_time_and_severity() {
        let e = estate();
        let (on, _) = targets(&e);
        let c = ctx(&e, on.0, on.1);
        let n = |criteria: Value| list_all(&e, &c, json!({ "filterCriteria": criteria })).len();
        let active = count(&e, on, State::Active);
        let closed = count(&e, on, State::Resolved);
        let total = e.target_findings(on.0, on.1, Service::Inspector).count();
        assert_eq!(
            n(json!({ "findingStatus": [{ "comparison": "EQUALS", "value": "ACTIVE" }] })),
            active
        );
        assert_eq!(
            n(json!({ "findingStatus": [{ "comparison": "NOT_EQUALS", "value": "CLOSED" }] })),
            total - closed
        );
        assert_eq!(
            n(json!({ "findingStatus": [
                { "comparison": "EQUALS", "value": "ACTIVE" },
                { "comparison": "EQUALS", "value": "CLOSED" }
            ] })),
            active + closed
        );
        assert_eq!(
            n(json!({ "awsAccountId": [{ "comparison": "EQUALS", "value": c.account_id }] })),
            total
        );
        assert_eq!(
            n(json!({ "awsAccountId": [{ "comparison": "EQUALS", "value": "222222222222" }] })),
            0
        );
        let mut updated: Vec<i64> = e
            .target_findings(on.0, on.1, Service::Inspector)
            .map(|f| f.updated)
            .collect();
        updated.sort();
        let mid = updated[updated.len() / 2];
        let since = updated.iter().filter(|&&t| t >= mid).count();
        assert_eq!(
            n(json!({ "updatedAt": [{ "startInclusive": mid }] })),
            since
        );
        assert_eq!(
            n(
                json!({ "updatedAt": [{ "startInclusive": mid as f64 - 0.5, "endInclusive": e.now }] })
            ),
            since
        );
        let critical = e
            .target_findings(on.0, on.1, Service::Inspector)
            .filter(|f| f.level == 4)
            .count();
        assert_eq!(
            n(json!({ "severity": [{ "comparison": "EQUALS", "value": "CRITICAL" }] })),
            critical
        );
    }

    #[test]
    fn sorts_by_severity_descending() {
        let e = estate();
        let (on, _) = targets(&e);
        let c = ctx(&e, on.0, on.1);
        let all = list_all(
            &e,
            &c,
            json!({ "maxResults": 5, "sortCriteria": { "field": "SEVERITY", "sortOrder": "DESC" } }),
        );
        let rank = |s: &str| {
            ["UNTRIAGED", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
                .iter()
                .position(|x| *x == s)
                .unwrap()
        };
        let ranks: Vec<usize> = all
            .iter()
            .map(|f| rank(f["severity"].as_str().unwrap()))
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "{ranks:?}");
        assert_eq!(
            all.len(),
            e.target_findings(on.0, on.1, Service::Inspector).count()
        );
    }

    #[test]
    fn refuses_bad_input() {
        let e = estate();
        let (on, _) = targets(&e);
        let c = ctx(&e, on.0, on.1);
        for body in [
            json!({ "maxResults": 101 }),
            json!({ "maxResults": 0 }),
            json!({ "nextToken": "garbage" }),
            json!({ "filterCriteria": { "findingStatus": [{ "comparison": "LIKE", "value": "ACTIVE" }] } }),
            json!({ "filterCriteria": { "findingStatus": [] } }),
            json!({ "filterCriteria": { "updatedAt": [{ "startInclusive": "yesterday" }] } }),
            json!({ "filterCriteria": { "ec2InstanceImageId": [{ "comparison": "EQUALS", "value": "ami-1" }] } }),
            json!({ "sortCriteria": { "field": "UPDATED_AT", "sortOrder": "ASC" } }),
            json!({ "sortCriteria": { "field": "SEVERITY" } }),
        ] {
            let (status, err) = list(&e, &c, body.clone());
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(err["__type"], "ValidationException");
            assert_eq!(err["reason"], "FIELD_VALIDATION_FAILED", "{body}");
        }
        let req = testing::request(Method::POST, "/findings/list", &[], "{not json");
        assert_eq!(handle(&e, &c, &req).status(), StatusCode::BAD_REQUEST);
        let (status, err) = call(&e, &c, Method::GET, "/findings", json!({}));
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(err["__type"], "UnknownOperationException");
    }

    #[test]
    fn a_disabled_account_is_denied_findings_and_reports_disabled() {
        let e = estate();
        let (on, off) = targets(&e);
        let c = ctx(&e, off.0, off.1);
        let (status, err) = list(&e, &c, json!({}));
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(err["__type"], "AccessDeniedException");
        let (status, body) = call(&e, &c, Method::POST, "/status/batch/get", json!({}));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["accounts"][0]["accountId"], c.account_id.as_str());
        assert_eq!(body["accounts"][0]["state"]["status"], "DISABLED");

        let c = ctx(&e, on.0, on.1);
        let other = &e.accounts[(on.0 + 1) % e.accounts.len()].id;
        let (status, body) = call(
            &e,
            &c,
            Method::POST,
            "/status/batch/get",
            json!({ "accountIds": [c.account_id, other, "999999999999"] }),
        );
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["accounts"].as_array().unwrap().len(), 1);
        assert_eq!(body["accounts"][0]["state"]["status"], "ENABLED");
        assert_eq!(
            body["accounts"][0]["resourceState"]["ec2"]["status"],
            "ENABLED"
        );
        let failed = body["failedAccounts"].as_array().unwrap();
        assert_eq!(failed.len(), 2);
        assert_eq!(failed[0]["errorCode"], "ACCESS_DENIED");
        assert_eq!(failed[1]["errorCode"], "RESOURCE_NOT_FOUND");
        let eleven: Vec<String> = (0..11).map(|i| format!("{:012}", 100 + i)).collect();
        for ids in [json!(eleven), json!(["12345"]), json!("111111111111")] {
            let (status, _) = call(
                &e,
                &c,
                Method::POST,
                "/status/batch/get",
                json!({ "accountIds": ids }),
            );
            assert_eq!(status, StatusCode::BAD_REQUEST, "{ids}");
        }
    }

    #[test]
    fn findings_have_the_fixture_shape_and_are_deterministic() {
        let fixture: Value = serde_json::from_str(include_str!(
            "../../../fixtures/aws/inspector2-list-findings.json"
        ))
        .unwrap();
        let keys =
            |v: &Value| -> HashSet<String> { v.as_object().unwrap().keys().cloned().collect() };
        let vulns: Vec<&Value> = fixture["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["type"] == "PACKAGE_VULNERABILITY")
            .collect();
        let union = |f: &dyn Fn(&Value) -> Option<&Value>| -> HashSet<String> {
            vulns.iter().filter_map(|v| f(v)).flat_map(keys).collect()
        };
        let top = union(&|f| Some(f));
        let details = union(&|f| f.get("packageVulnerabilityDetails"));
        let mut packages =
            union(&|f| f["packageVulnerabilityDetails"]["vulnerablePackages"].get(0));
        packages.insert("filePath".into()); // a model member the fixture's OS packages lack
        let resources = union(&|f| f["resources"].get(0));
        let ec2 = union(&|f| f["resources"][0]["details"].get("awsEc2Instance"));
        let ecr = union(&|f| f["resources"][0]["details"].get("awsEcrContainerImage"));

        let e = estate();
        let (on, _) = targets(&e);
        let c = ctx(&e, on.0, on.1);
        let all = list_all(&e, &c, json!({}));
        let mut hosts = HashSet::new();
        for f in &all {
            assert!(keys(f).is_subset(&top), "{:?}", keys(f).difference(&top));
            for required in [
                "findingArn",
                "awsAccountId",
                "type",
                "description",
                "remediation",
                "severity",
                "firstObservedAt",
                "lastObservedAt",
                "status",
                "resources",
                "title",
                "updatedAt",
            ] {
                assert!(f.get(required).is_some(), "{required}");
            }
            assert!(keys(&f["packageVulnerabilityDetails"]).is_subset(&details));
            for p in f["packageVulnerabilityDetails"]["vulnerablePackages"]
                .as_array()
                .unwrap()
            {
                assert!(keys(p).is_subset(&packages), "{p}");
            }
            let r = &f["resources"][0];
            assert!(keys(r).is_subset(&resources));
            assert_eq!(r["region"], c.region_code.as_str());
            hosts.insert(r["type"].as_str().unwrap().to_owned());
            match r["type"].as_str().unwrap() {
                "AWS_EC2_INSTANCE" => {
                    assert!(keys(&r["details"]["awsEc2Instance"]).is_subset(&ec2));
                    assert!(r["id"].as_str().unwrap().starts_with("i-"));
                }
                "AWS_ECR_CONTAINER_IMAGE" => {
                    assert!(keys(&r["details"]["awsEcrContainerImage"]).is_subset(&ecr));
                    assert!(r["id"].as_str().unwrap().starts_with("arn:aws:ecr:"));
                }
                "AWS_LAMBDA_FUNCTION" => {
                    let l = &r["details"]["awsLambdaFunction"];
                    assert_eq!(l["codeSha256"].as_str().unwrap().len(), 44);
                    assert!(r["id"].as_str().unwrap().ends_with(":$LATEST"));
                }
                other => panic!("{other}"),
            }
            let title = f["title"].as_str().unwrap();
            let name = &f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"];
            assert_eq!(
                title,
                format!(
                    "{} - {}",
                    f["packageVulnerabilityDetails"]["vulnerabilityId"]
                        .as_str()
                        .unwrap(),
                    name.as_str().unwrap()
                )
            );
        }
        assert!(hosts.len() >= 2, "{hosts:?}");
        let again = list_all(&e, &c, json!({}));
        assert_eq!(
            serde_json::to_string(&all).unwrap(),
            serde_json::to_string(&again).unwrap()
        );
    }

    #[test]
    fn native_finding_is_the_listed_one() {
        let e = estate();
        let (on, _) = targets(&e);
        let c = ctx(&e, on.0, on.1);
        let listed = list_all(&e, &c, json!({}));
        let native: Vec<Value> = e
            .target_findings(on.0, on.1, Service::Inspector)
            .map(|f| native_finding(&e, f).unwrap())
            .collect();
        assert_eq!(listed, native);
        let other = e
            .findings
            .iter()
            .find(|f| f.service != Service::Inspector)
            .unwrap();
        assert!(native_finding(&e, other).is_none());
    }

    #[test]
    fn severity_follows_the_level_as_it_rises() {
        assert_eq!(severity_label(0, "UNTRIAGED"), "UNTRIAGED");
        assert_eq!(severity_label(0, "INFORMATIONAL"), "INFORMATIONAL");
        assert_eq!(severity_label(1, "UNTRIAGED"), "LOW");
        assert_eq!(severity_label(4, "HIGH"), "CRITICAL");
        assert_eq!(base64_of_hex("4d616e"), "TWFu");
        assert_eq!(base64_of_hex("4d61"), "TWE=");
        assert_eq!(base64_of_hex(&"00".repeat(32)).len(), 44);
    }
}
