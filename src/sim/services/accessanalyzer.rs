//! IAM Access Analyzer (access-analyzer, restJson1): `ListAnalyzers`, `ListFindingsV2` and
//! `GetFindingV2` over one external-access and one unused-access analyzer per account+region.

// Parsers return the finished 400/404 answer as their error, made at most once per request.
#![allow(clippy::result_large_err)]

use std::cmp::Ordering;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::sim::catalogue::{ANALYZER_TYPES, AnalyzerType};
use crate::sim::org::{Estate, Finding, Service, State};
use crate::sim::rng::Rng;
use crate::sim::wire::{self, BodyError, Ctx, Page, Paging, PagingError, SimRequest};

/// 100 per page when a client sends no `maxResults`. Access Analyzer documents no bound; the
/// simulator serves at most 1000 per page whatever is asked (the SDK follows nextToken).
const PAGING: Paging = Paging {
    default: 100,
    max: 1000,
    clamp: true,
    strict_null: false,
    empty_token_is_first: false,
};
const DAY: i64 = 86_400;
/// The analyzers exist from before any finding: 2026-01-01, or a day before the oldest one.
const ANALYZERS_CREATED: i64 = 1_767_225_600;
/// An account outside the organisation, as in the fixtures.
const EXTERNAL_ACCOUNT: &str = "222222222222";

/// Answers an access-analyzer request (the `wire::Handler` of Access Analyzer).
pub fn handle(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    if req.method == Method::GET && req.path == "/analyzer" {
        list_analyzers(estate, ctx, req)
    } else if req.method == Method::POST && req.path == "/findingv2" {
        list_findings_v2(estate, ctx, req)
    } else if let (true, Some(id)) = (
        req.method == Method::GET,
        req.path
            .strip_prefix("/findingv2/")
            .filter(|id| !id.is_empty() && !id.contains('/')),
    ) {
        get_finding_v2(estate, ctx, req, id)
    } else {
        wire::rest_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            &format!(
                "no access-analyzer operation at {} {}",
                req.method, req.path
            ),
        )
    }
}

/// One finding exactly as `GetFindingV2` serves it (summary and `findingDetails`), for modules
/// that render copies of it. `None` if it is not an Access Analyzer finding.
pub fn native_finding(estate: &Estate, f: &Finding) -> Option<Value> {
    let (ctx, kind) = owner(estate, f)?;
    let view = View::new(estate, &ctx, f, kind);
    let mut out = summary(&view);
    out.insert(
        "findingDetails".into(),
        Value::Array(details(estate, &view)),
    );
    Some(Value::Object(out))
}

/// The ARN of the analyzer that reports `f`: Security Hub's copy of an external-access finding
/// has `Id` = this ARN + "/" + the finding's `resource`.
pub fn analyzer_arn(estate: &Estate, f: &Finding) -> Option<String> {
    let (ctx, kind) = owner(estate, f)?;
    Some(Analyzer::reporting_arn(estate, &ctx, kind.unused))
}

/// The context of the account and region a finding lives in, and its catalogue entry.
fn owner(estate: &Estate, f: &Finding) -> Option<(Ctx, &'static AnalyzerType)> {
    if f.service != Service::AccessAnalyzer {
        return None;
    }
    let kind = ANALYZER_TYPES.get(f.kind as usize)?;
    let ctx = Ctx::of(
        estate,
        f.account as usize,
        f.region as usize,
        Service::AccessAnalyzer,
    )?;
    Some((ctx, kind))
}

/// The two analyzers the simulator keeps in every account+region where Access Analyzer is on,
/// and the two organisation analyzers of the delegated administrator (`Options::
/// delegated_admin`). A simplification: an organisation analyzer reports the findings the
/// member accounts' own analyzers report, access granted to another account of the
/// organisation included (a real one trusts its organisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Analyzer {
    /// Type ACCOUNT: external access.
    External,
    /// Type ACCOUNT_UNUSED_ACCESS.
    Unused,
    /// Type ORGANIZATION, the delegated administrator's.
    OrgExternal,
    /// Type ORGANIZATION_UNUSED_ACCESS, the delegated administrator's.
    OrgUnused,
}

impl Analyzer {
    const ALL: [Analyzer; 2] = [Analyzer::External, Analyzer::Unused];

    /// The analyzer of unused access, or of external access.
    pub(crate) fn new(unused: bool) -> Analyzer {
        if unused {
            Analyzer::Unused
        } else {
            Analyzer::External
        }
    }

    /// The analyzers the caller keeps in its region.
    fn of(estate: &Estate, ctx: &Ctx) -> Vec<Analyzer> {
        let mut out = Vec::new();
        if estate.is_enabled(ctx.account, ctx.region, Service::AccessAnalyzer) {
            out.extend(Analyzer::ALL);
            if estate.delegated_admin == Some(ctx.account) {
                out.extend([Analyzer::OrgExternal, Analyzer::OrgUnused]);
            }
        }
        out
    }

    /// The ARN of the analyzer that reports the findings of `ctx`'s account and region, as
    /// Security Hub's copies name it: the delegated administrator's organisation analyzer
    /// when there is one, else the account's own.
    pub(crate) fn reporting_arn(estate: &Estate, ctx: &Ctx, unused: bool) -> String {
        match estate
            .delegated_admin
            .and_then(|a| Ctx::of(estate, a, ctx.region, Service::AccessAnalyzer))
        {
            Some(admin) if unused => Analyzer::OrgUnused.arn(&admin),
            Some(admin) => Analyzer::OrgExternal.arn(&admin),
            None => Analyzer::new(unused).arn(ctx),
        }
    }

    fn unused(self) -> bool {
        matches!(self, Analyzer::Unused | Analyzer::OrgUnused)
    }

    fn org(self) -> bool {
        matches!(self, Analyzer::OrgExternal | Analyzer::OrgUnused)
    }

    fn name(self) -> &'static str {
        match self {
            Analyzer::External => "sightline-sim",
            Analyzer::Unused => "sightline-sim-unused",
            Analyzer::OrgExternal => "sightline-sim-org",
            Analyzer::OrgUnused => "sightline-sim-org-unused",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Analyzer::External => "ACCOUNT",
            Analyzer::Unused => "ACCOUNT_UNUSED_ACCESS",
            Analyzer::OrgExternal => "ORGANIZATION",
            Analyzer::OrgUnused => "ORGANIZATION_UNUSED_ACCESS",
        }
    }

    /// Its ARN in the caller's account and region.
    pub(crate) fn arn(self, ctx: &Ctx) -> String {
        format!(
            "arn:aws:access-analyzer:{}:{}:analyzer/{}",
            ctx.region_code,
            ctx.account_id,
            self.name()
        )
    }

    fn owns(self, t: &AnalyzerType) -> bool {
        t.unused == self.unused()
    }

    /// Resolves `analyzerArn`: a malformed ARN is a 400, one that is not here a 404.
    fn resolve(estate: &Estate, ctx: &Ctx, arn: Option<&str>) -> Result<Analyzer, Response> {
        let Some(arn) = arn else {
            return Err(validation("analyzerArn is required"));
        };
        // The model's pattern: [^:]*:[^:]*:[^:]*:[^:]*:[^:]*:analyzer/.{1,255}
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let well_formed = parts.len() == 6
            && parts[5]
                .strip_prefix("analyzer/")
                .is_some_and(|name| (1..=255).contains(&name.chars().count()));
        if !well_formed {
            return Err(validation(&format!("{arn:?} is not an analyzer ARN")));
        }
        Analyzer::of(estate, ctx)
            .into_iter()
            .find(|a| a.arn(ctx) == arn)
            .ok_or_else(|| {
                not_found(
                    &format!("Analyzer {arn} not found"),
                    arn,
                    "AWS::AccessAnalyzer::Analyzer",
                )
            })
    }
}

/// `GET /analyzer[?type=…]`: both analyzers where the service is on, none elsewhere.
fn list_analyzers(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    const TYPES: [&str; 6] = [
        "ACCOUNT",
        "ORGANIZATION",
        "ACCOUNT_UNUSED_ACCESS",
        "ORGANIZATION_UNUSED_ACCESS",
        "ACCOUNT_INTERNAL_ACCESS",
        "ORGANIZATION_INTERNAL_ACCESS",
    ];
    let kind = req.query.get("type").map(String::as_str);
    if let Some(kind) = kind.filter(|k| !TYPES.contains(k)) {
        return validation(&format!("{kind:?} is not an analyzer type"));
    }
    let page = match paging(PAGING.from_query(&req.query)) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let analyzers: Vec<Analyzer> = Analyzer::of(estate, ctx)
        .into_iter()
        .filter(|a| kind.is_none_or(|k| k == a.kind()))
        .collect();
    let rendered: Vec<Value> = page
        .of(&analyzers)
        .map(|a| render_analyzer(estate, ctx, *a))
        .collect();
    page.answer("analyzers", rendered, "nextToken", analyzers.len())
}

/// An `AnalyzerSummary`.
fn render_analyzer(estate: &Estate, ctx: &Ctx, analyzer: Analyzer) -> Value {
    let findings: Vec<View> = views(estate, ctx, analyzer);
    let created = findings
        .iter()
        .map(|v| v.finding.created - DAY)
        .min()
        .unwrap_or(ANALYZERS_CREATED)
        .min(ANALYZERS_CREATED);
    let mut out = json!({
        "arn": analyzer.arn(ctx),
        "createdAt": wire::iso(created),
        "name": analyzer.name(),
        "status": "ACTIVE",
        "tags": {},
        "type": analyzer.kind(),
    });
    let Some(map) = out.as_object_mut() else {
        return out;
    };
    if let Some(last) = findings
        .iter()
        .max_by_key(|v| (v.finding.updated, v.finding.serial))
    {
        map.insert("lastResourceAnalyzed".into(), json!(last.resource));
        map.insert(
            "lastResourceAnalyzedAt".into(),
            json!(wire::iso(last.finding.updated)),
        );
    }
    if analyzer.unused() {
        map.insert(
            "configuration".into(),
            json!({ "unusedAccess": { "unusedAccessAge": 90 } }),
        );
    }
    out
}

/// `POST /findingv2`: one analyzer's findings, filtered, sorted and paged.
fn list_findings_v2(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    let body = match parse_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let analyzer =
        match Analyzer::resolve(estate, ctx, body.get("analyzerArn").and_then(Value::as_str)) {
            Ok(a) => a,
            Err(r) => return r,
        };
    // A nextToken that is not a string is refused before maxResults is looked at.
    if body
        .get("nextToken")
        .is_some_and(|t| !t.is_null() && !t.is_string())
    {
        return validation("nextToken must be a string");
    }
    let page = match paging(PAGING.from_body(&body, "maxResults", "nextToken")) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let criteria = match parse_filter(body.get("filter")) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let sort = match parse_sort(body.get("sort")) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut findings: Vec<View> = views(estate, ctx, analyzer)
        .into_iter()
        .filter(|v| criteria.iter().all(|c| c.matches(v)))
        .collect();
    if let Some((attr, descending)) = sort {
        wire::sort_for_paging(
            &mut findings,
            descending,
            |v| v.finding.serial,
            |a, b| compare(attr, a, b),
        );
    }
    let rendered: Vec<Value> = page
        .of(&findings)
        .map(|v| Value::Object(summary(v)))
        .collect();
    page.answer("findings", rendered, "nextToken", findings.len())
}

/// `GET /findingv2/{id}?analyzerArn=…`: one finding with its `findingDetails`, paged.
fn get_finding_v2(estate: &Estate, ctx: &Ctx, req: &SimRequest, id: &str) -> Response {
    let analyzer = match Analyzer::resolve(
        estate,
        ctx,
        req.query.get("analyzerArn").map(String::as_str),
    ) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let page = match paging(PAGING.from_query(&req.query)) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(view) = views(estate, ctx, analyzer)
        .into_iter()
        .find(|v| v.id == id)
    else {
        return not_found(
            &format!("Finding {id} not found"),
            id,
            "AWS::AccessAnalyzer::Finding",
        );
    };
    let details = details(estate, &view);
    let mut out = summary(&view);
    out.insert(
        "findingDetails".into(),
        Value::Array(page.of(&details).cloned().collect()),
    );
    if let Some(token) = page.next_token(details.len()) {
        out.insert("nextToken".into(), Value::String(token));
    }
    wire::json_ok(Value::Object(out))
}

/// The page asked for, or Access Analyzer's answer to a bad `maxResults` or `nextToken`.
fn paging(page: Result<Page, PagingError>) -> Result<Page, Response> {
    page.map_err(|e| {
        validation(match e {
            PagingError::MaxResults => "maxResults must be a positive integer",
            PagingError::TokenNotAString => "nextToken must be a string",
            PagingError::BadToken => "invalid nextToken",
        })
    })
}

/// A finding as the filters and the sort see it, before it is rendered.
struct View<'a> {
    finding: &'a Finding,
    kind: &'a AnalyzerType,
    id: String,
    resource: String,
    resource_type: &'static str,
    owner: String,
    status: &'static str,
    finding_type: &'static str,
    /// External access only: who gets access, and to which actions.
    principal: Option<String>,
    actions: &'static [&'static str],
}

/// The findings of `analyzer` in the caller's account and region (an organisation analyzer's:
/// in every account of the region), in creation order.
fn views<'e>(estate: &'e Estate, ctx: &Ctx, analyzer: Analyzer) -> Vec<View<'e>> {
    if !estate.is_enabled(ctx.account, ctx.region, Service::AccessAnalyzer) {
        return Vec::new();
    }
    let owners = if analyzer.org() {
        ctx.seen(estate)
    } else {
        vec![ctx.clone()]
    };
    owners
        .iter()
        .flat_map(|owner| {
            estate
                .target_findings(owner.account, owner.region, Service::AccessAnalyzer)
                .filter_map(move |f| {
                    let kind = ANALYZER_TYPES.get(f.kind as usize)?;
                    analyzer
                        .owns(kind)
                        .then(|| View::new(estate, owner, f, kind))
                })
        })
        .collect()
}

impl<'a> View<'a> {
    fn new(estate: &Estate, ctx: &Ctx, finding: &'a Finding, kind: &'a AnalyzerType) -> Self {
        let (resource, resource_type) = resource(estate, ctx, finding, kind);
        let principal = (!kind.unused).then(|| {
            if kind.public {
                "*".to_owned()
            } else {
                cross_account_principal(estate, ctx, finding)
            }
        });
        View {
            finding,
            kind,
            id: finding_id(estate.seed, finding.serial),
            resource,
            resource_type,
            owner: ctx.account_id.clone(),
            status: match finding.state {
                State::Active => "ACTIVE",
                State::Suppressed => "ARCHIVED",
                State::Resolved => "RESOLVED",
            },
            finding_type: if kind.unused {
                kind.kind
            } else {
                "ExternalAccess"
            },
            principal,
            actions: if kind.unused {
                &[]
            } else {
                actions(kind.kind, kind.public)
            },
        }
    }
}

/// The outside account a non-public finding grants access to: another account of the
/// organisation (outside an ACCOUNT analyzer's zone of trust) or a stranger.
pub(crate) fn cross_account_principal(estate: &Estate, ctx: &Ctx, f: &Finding) -> String {
    let n = estate.accounts.len();
    if n < 2 || f.serial.is_multiple_of(3) {
        return EXTERNAL_ACCOUNT.to_owned();
    }
    let other = (ctx.account + 1 + f.serial as usize % (n - 1)) % n;
    estate
        .accounts
        .get(other)
        .map(|a| a.id.clone())
        .unwrap_or_else(|| EXTERNAL_ACCOUNT.to_owned())
}

/// The actions an external principal is granted, per resource type.
pub(crate) fn actions(resource_type: &str, public: bool) -> &'static [&'static str] {
    match resource_type {
        "AWS::S3::Bucket" if public => &["s3:GetObject"],
        "AWS::S3::Bucket" => &["s3:GetObject", "s3:ListBucket"],
        "AWS::IAM::Role" => &["sts:AssumeRole"],
        "AWS::KMS::Key" => &["kms:Decrypt", "kms:GenerateDataKey"],
        "AWS::Lambda::Function" => &["lambda:InvokeFunction"],
        "AWS::SQS::Queue" => &["sqs:ReceiveMessage", "sqs:SendMessage"],
        "AWS::SecretsManager::Secret" => &["secretsmanager:GetSecretValue"],
        _ => &[],
    }
}

/// The resource ARN and `resourceType` of a finding, named from its serial: one resource per
/// finding, so an external-access finding's analyzer and resource name it.
pub(crate) fn resource(
    estate: &Estate,
    ctx: &Ctx,
    f: &Finding,
    kind: &AnalyzerType,
) -> (String, &'static str) {
    let (region, account, serial) = (&ctx.region_code, &ctx.account_id, f.serial);
    let team = estate
        .accounts
        .get(ctx.account)
        .map(|a| a.owner)
        .unwrap_or("app");
    match kind.kind {
        "AWS::S3::Bucket" => (
            format!("arn:aws:s3:::{team}-exports-{account}-{serial}"),
            "AWS::S3::Bucket",
        ),
        "AWS::IAM::Role" => (
            format!("arn:aws:iam::{account}:role/{team}-partner-access-{serial}"),
            "AWS::IAM::Role",
        ),
        "AWS::KMS::Key" => (
            format!(
                "arn:aws:kms:{region}:{account}:key/{}",
                uuid(estate.seed, serial, Tag::Key)
            ),
            "AWS::KMS::Key",
        ),
        "AWS::Lambda::Function" => (
            format!("arn:aws:lambda:{region}:{account}:function:{team}-webhook-{serial}"),
            "AWS::Lambda::Function",
        ),
        "AWS::SQS::Queue" => (
            format!("arn:aws:sqs:{region}:{account}:{team}-events-{serial}"),
            "AWS::SQS::Queue",
        ),
        "AWS::SecretsManager::Secret" => (
            // Secrets Manager appends six random characters to every secret's ARN.
            format!(
                "arn:aws:secretsmanager:{region}:{account}:secret:{team}/partner-api-key-{serial}-{}",
                &alnum(estate.seed, serial, Tag::Secret, 6, false)
            ),
            "AWS::SecretsManager::Secret",
        ),
        "UnusedIAMUserAccessKey" | "UnusedIAMUserPassword" => (
            format!("arn:aws:iam::{account}:user/{team}-ci-{serial}"),
            "AWS::IAM::User",
        ),
        "UnusedIAMRole" => (
            format!("arn:aws:iam::{account}:role/{team}-legacy-{serial}"),
            "AWS::IAM::Role",
        ),
        _ => (
            format!("arn:aws:iam::{account}:role/{team}-app-{serial}"),
            "AWS::IAM::Role",
        ),
    }
}

/// A `FindingSummaryV2` (also the head of `GetFindingV2`), as in the fixtures.
fn summary(v: &View) -> Map<String, Value> {
    let mut m = Map::new();
    // Findings are re-analysed when they change; the simulator does not track more.
    m.insert("analyzedAt".into(), json!(wire::iso(v.finding.updated)));
    m.insert("createdAt".into(), json!(wire::iso(v.finding.created)));
    m.insert("findingType".into(), json!(v.finding_type));
    m.insert("id".into(), json!(v.id));
    m.insert("resource".into(), json!(v.resource));
    m.insert("resourceOwnerAccount".into(), json!(v.owner));
    m.insert("resourceType".into(), json!(v.resource_type));
    m.insert("status".into(), json!(v.status));
    m.insert("updatedAt".into(), json!(wire::iso(v.finding.updated)));
    m
}

/// `findingDetails`: one `externalAccessDetails`, or the unused-access union member the
/// finding type calls for.
fn details(estate: &Estate, v: &View) -> Vec<Value> {
    let f = v.finding;
    let seed = estate.seed;
    // Unused for longer than the analyzer's 90-day window when the finding was raised.
    let last_used = f.created - (90 + i64::from(f.serial % 200)) * DAY;
    match v.finding_type {
        "ExternalAccess" => {
            let principal = v.principal.clone().unwrap_or_else(|| "*".to_owned());
            vec![json!({ "externalAccessDetails": {
                "action": v.actions,
                "condition": {},
                "isPublic": v.kind.public,
                "principal": { "AWS": principal },
                "sources": [{ "type": "POLICY" }],
            }})]
        }
        "UnusedIAMRole" => {
            // A role that was never used has no lastAccessed.
            let details = if f.serial.is_multiple_of(4) {
                json!({})
            } else {
                json!({ "lastAccessed": wire::iso(last_used) })
            };
            vec![json!({ "unusedIamRoleDetails": details })]
        }
        "UnusedIAMUserAccessKey" => vec![json!({ "unusedIamUserAccessKeyDetails": {
            "accessKeyId": format!("AKIA{}", alnum(seed, f.serial, Tag::AccessKey, 16, true)),
            "lastAccessed": wire::iso(last_used),
        }})],
        "UnusedIAMUserPassword" => vec![json!({ "unusedIamUserPasswordDetails": {
            "lastAccessed": wire::iso(last_used),
        }})],
        _ => {
            const SERVICES: [(&str, &[&str]); 5] = [
                ("s3", &["s3:DeleteObject", "s3:PutObject"]),
                ("dynamodb", &["dynamodb:DeleteItem", "dynamodb:PutItem"]),
                ("iam", &["iam:PassRole"]),
                ("ec2", &["ec2:TerminateInstances"]),
                ("kms", &["kms:Decrypt"]),
            ];
            let first = f.serial as usize % SERVICES.len();
            (0..1 + f.serial as usize % 3)
                .map(|i| {
                    let (namespace, actions) = SERVICES[(first + i) % SERVICES.len()];
                    let actions: Vec<Value> =
                        actions.iter().map(|a| json!({ "action": a })).collect();
                    json!({ "unusedPermissionDetails": {
                        "actions": actions,
                        "lastAccessed": wire::iso(last_used - i as i64 * DAY),
                        "serviceNamespace": namespace,
                    }})
                })
                .collect()
        }
    }
}

/// An attribute `filter` and `sort` can name.
#[derive(Debug, Clone, Copy)]
enum Attr {
    Id,
    Status,
    Resource,
    ResourceType,
    ResourceOwnerAccount,
    FindingType,
    IsPublic,
    PrincipalAws,
    Action,
    CreatedAt,
    UpdatedAt,
    AnalyzedAt,
}

impl Attr {
    /// The filter keys of the IAM User Guide ("IAM Access Analyzer filter keys") that simulated
    /// findings can answer.
    fn filter_key(key: &str) -> Option<Attr> {
        Some(match key {
            "id" => Attr::Id,
            "status" => Attr::Status,
            "resource" => Attr::Resource,
            "resourceType" => Attr::ResourceType,
            "resourceOwnerAccount" => Attr::ResourceOwnerAccount,
            "findingType" => Attr::FindingType,
            "isPublic" => Attr::IsPublic,
            "principal.AWS" => Attr::PrincipalAws,
            "action" => Attr::Action,
            _ => return None,
        })
    }

    fn sort_key(key: &str) -> Option<Attr> {
        Some(match key {
            "createdAt" => Attr::CreatedAt,
            "updatedAt" => Attr::UpdatedAt,
            "analyzedAt" => Attr::AnalyzedAt,
            "id" => Attr::Id,
            "status" => Attr::Status,
            "resource" => Attr::Resource,
            "resourceType" => Attr::ResourceType,
            "resourceOwnerAccount" => Attr::ResourceOwnerAccount,
            "findingType" => Attr::FindingType,
            _ => return None,
        })
    }

    /// The attribute's values on a finding; none when the finding has no such attribute.
    fn values(self, v: &View) -> Vec<String> {
        match self {
            Attr::Id => vec![v.id.clone()],
            Attr::Status => vec![v.status.to_owned()],
            Attr::Resource => vec![v.resource.clone()],
            Attr::ResourceType => vec![v.resource_type.to_owned()],
            Attr::ResourceOwnerAccount => vec![v.owner.clone()],
            Attr::FindingType => vec![v.finding_type.to_owned()],
            Attr::IsPublic if !v.kind.unused => vec![v.kind.public.to_string()],
            Attr::IsPublic => Vec::new(),
            Attr::PrincipalAws => v.principal.iter().cloned().collect(),
            Attr::Action => v.actions.iter().map(|a| (*a).to_owned()).collect(),
            Attr::CreatedAt => vec![wire::iso(v.finding.created)],
            Attr::UpdatedAt | Attr::AnalyzedAt => vec![wire::iso(v.finding.updated)],
        }
    }
}

/// One `Criterion` of the `filter` map; every part given must hold.
#[derive(Debug)]
struct Criterion {
    attr: Attr,
    eq: Option<Vec<String>>,
    neq: Option<Vec<String>>,
    contains: Option<Vec<String>>,
    exists: Option<bool>,
}

impl Criterion {
    fn matches(&self, v: &View) -> bool {
        let values = self.attr.values(v);
        self.exists.is_none_or(|exists| values.is_empty() != exists)
            && self
                .eq
                .as_ref()
                .is_none_or(|eq| values.iter().any(|x| eq.contains(x)))
            && self
                .neq
                .as_ref()
                .is_none_or(|neq| !values.iter().any(|x| neq.contains(x)))
            && self.contains.as_ref().is_none_or(|subs| {
                values
                    .iter()
                    .any(|x| subs.iter().any(|s| x.contains(s.as_str())))
            })
    }
}

/// Parses `filter`. Keys the simulated findings cannot answer are refused (a 400) rather than
/// ignored, so a poller relying on one notices.
fn parse_filter(value: Option<&Value>) -> Result<Vec<Criterion>, Response> {
    let map = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(validation("filter must be an object")),
    };
    let mut criteria = Vec::new();
    for (key, criterion) in map {
        let Some(attr) = Attr::filter_key(key) else {
            return Err(validation(&format!(
                "filter key {key:?} is not supported by the simulator"
            )));
        };
        let Some(c) = criterion.as_object() else {
            return Err(validation(&format!("filter.{key} must be an object")));
        };
        // `ValueList` holds 1 to 20 strings.
        let list = |name: &str| -> Result<Option<Vec<String>>, Response> {
            match c.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(list @ Value::Array(items)) if (1..=20).contains(&items.len()) => {
                    wire::string_list(list)
                        .map(Some)
                        .ok_or_else(|| validation(&format!("filter.{key}.{name} holds strings")))
                }
                Some(_) => Err(validation(&format!(
                    "filter.{key}.{name} must be a list of 1 to 20 strings"
                ))),
            }
        };
        let exists = match c.get("exists") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(validation(&format!(
                    "filter.{key}.exists must be a boolean"
                )));
            }
        };
        criteria.push(Criterion {
            attr,
            eq: list("eq")?,
            neq: list("neq")?,
            contains: list("contains")?,
            exists,
        });
    }
    Ok(criteria)
}

/// Parses `sort` into the attribute and whether it is descending (ASC unless told).
fn parse_sort(value: Option<&Value>) -> Result<Option<(Attr, bool)>, Response> {
    let map = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(validation("sort must be an object")),
    };
    let attr = match map.get("attributeName") {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v
            .as_str()
            .and_then(Attr::sort_key)
            .ok_or_else(|| validation(&format!("cannot sort on {v}")))?,
    };
    let descending = match map.get("orderBy") {
        None | Some(Value::Null) => false,
        Some(v) if v == "ASC" => false,
        Some(v) if v == "DESC" => true,
        Some(_) => return Err(validation("sort.orderBy must be ASC or DESC")),
    };
    Ok(Some((attr, descending)))
}

fn compare(attr: Attr, a: &View, b: &View) -> Ordering {
    match attr {
        Attr::CreatedAt => a.finding.created.cmp(&b.finding.created),
        Attr::UpdatedAt | Attr::AnalyzedAt => a.finding.updated.cmp(&b.finding.updated),
        _ => attr.values(a).cmp(&attr.values(b)),
    }
}

/// What a derived identifier is for, so each draws from its own stream.
#[derive(Clone, Copy)]
enum Tag {
    Finding = 1,
    Key,
    Secret,
    AccessKey,
}

fn rng(seed: u64, serial: u32, tag: Tag) -> Rng {
    Rng::derive(seed, &[0xacce_55a1, tag as u64, u64::from(serial)])
}

/// A version-4 UUID, fixed for (seed, serial, tag).
fn uuid(seed: u64, serial: u32, tag: Tag) -> String {
    let mut r = rng(seed, serial, tag);
    let (a, b) = (r.next_u64(), r.next_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

/// The finding id: a UUID, like the real ones.
pub(crate) fn finding_id(seed: u64, serial: u32) -> String {
    uuid(seed, serial, Tag::Finding)
}

/// `len` letters and digits (upper-case base32 for access keys, mixed case otherwise).
fn alnum(seed: u64, serial: u32, tag: Tag, len: usize, upper: bool) -> String {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const MIXED: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let alphabet = if upper { UPPER } else { MIXED };
    let mut r = rng(seed, serial, tag);
    (0..len)
        .map(|_| alphabet[r.below(alphabet.len() as u64) as usize] as char)
        .collect()
}

fn parse_body(req: &SimRequest) -> Result<Map<String, Value>, Response> {
    req.json_object().map_err(|e| {
        let message = match e {
            BodyError::NotAnObject => "the request body must be a JSON object".to_owned(),
            BodyError::Malformed(e) => format!("malformed JSON body: {e}"),
        };
        error(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            json!({ "message": message, "reason": "cannotParse" }),
        )
    })
}

/// Access Analyzer's ValidationException, with the `reason` member its model requires.
fn validation(message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "ValidationException",
        json!({ "message": message, "reason": "fieldValidationFailed" }),
    )
}

/// ResourceNotFoundException, with the `resourceId` and `resourceType` its model requires.
fn not_found(message: &str, id: &str, resource_type: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        json!({ "message": message, "resourceId": id, "resourceType": resource_type }),
    )
}

/// A restJson1 error as `wire::rest_error` sends it, with the error's other members in the body.
fn error(status: StatusCode, code: &str, mut body: Value) -> Response {
    if let Some(map) = body.as_object_mut() {
        map.insert("__type".into(), json!(code));
    }
    wire::json_error(status, code, body)
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

    fn ctx(e: &Estate, (account, region): (usize, usize)) -> Ctx {
        testing::ctx(e, account, region, Service::AccessAnalyzer)
    }

    fn call(
        e: &Estate,
        c: &Ctx,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = testing::request(method, path, query, body);
        let (status, _, bytes) = testing::parts(handle(e, c, &req));
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn list(e: &Estate, c: &Ctx, body: Value) -> (StatusCode, Value) {
        call(e, c, Method::POST, "/findingv2", &[], Some(body))
    }

    fn list_all(e: &Estate, c: &Ctx, body: Value) -> Vec<Value> {
        testing::all_pages(|b| list(e, c, b), body, "findings", "nextToken")
    }

    fn own(e: &Estate, (a, r): (usize, usize), unused: bool) -> Vec<&Finding> {
        e.target_findings(a, r, Service::AccessAnalyzer)
            .filter(|f| ANALYZER_TYPES[f.kind as usize].unused == unused)
            .collect()
    }

    /// The enabled target with the most findings, and a target where the service is off.
    fn targets(e: &Estate) -> ((usize, usize), (usize, usize)) {
        testing::busiest_and_off(e, Service::AccessAnalyzer)
    }

    /// An estate where Access Analyzer holds more findings, for paging and filters.
    fn busy() -> (Estate, (usize, usize)) {
        let mut e = estate();
        e.advance(120);
        let (on, _) = targets(&e);
        (e, on)
    }

    #[test]
    fn lists_both_analyzers_where_enabled_and_none_elsewhere() {
        let e = estate();
        let (on, off) = targets(&e);
        let c = ctx(&e, on);
        let (status, body) = call(&e, &c, Method::GET, "/analyzer", &[], None);
        assert_eq!(status, StatusCode::OK);
        let analyzers = body["analyzers"].as_array().unwrap();
        assert_eq!(analyzers.len(), 2);
        assert_eq!(
            analyzers[0]["arn"],
            format!(
                "arn:aws:access-analyzer:{}:{}:analyzer/sightline-sim",
                c.region_code, c.account_id
            )
        );
        assert_eq!(analyzers[0]["type"], "ACCOUNT");
        assert_eq!(analyzers[1]["type"], "ACCOUNT_UNUSED_ACCESS");
        assert!(analyzers.iter().all(|a| a["status"] == "ACTIVE"
            && wire::parse_iso(a["createdAt"].as_str().unwrap()).is_some()));
        let (_, body) = call(
            &e,
            &c,
            Method::GET,
            "/analyzer",
            &[("type", "ACCOUNT_UNUSED_ACCESS")],
            None,
        );
        assert_eq!(body["analyzers"].as_array().unwrap().len(), 1);
        assert_eq!(body["analyzers"][0]["name"], "sightline-sim-unused");
        let (_, body) = call(
            &e,
            &c,
            Method::GET,
            "/analyzer",
            &[("maxResults", "1")],
            None,
        );
        assert_eq!(body["analyzers"].as_array().unwrap().len(), 1);
        let token = body["nextToken"].as_str().unwrap();
        let (_, body) = call(
            &e,
            &c,
            Method::GET,
            "/analyzer",
            &[("nextToken", token)],
            None,
        );
        assert_eq!(body["analyzers"][0]["type"], "ACCOUNT_UNUSED_ACCESS");
        assert!(body.get("nextToken").is_none());
        let (status, _) = call(
            &e,
            &c,
            Method::GET,
            "/analyzer",
            &[("type", "EVERYTHING")],
            None,
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let c = ctx(&e, off);
        let (status, body) = call(&e, &c, Method::GET, "/analyzer", &[], None);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({ "analyzers": [] }));
        let arn = Analyzer::External.arn(&c);
        let (status, err) = list(&e, &c, json!({ "analyzerArn": arn }));
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(err["__type"], "ResourceNotFoundException");
        assert_eq!(err["resourceId"], arn.as_str());
    }

    #[test]
    fn each_analyzer_lists_its_own_findings_once_with_their_status() {
        let (e, on) = busy();
        let c = ctx(&e, on);
        for analyzer in Analyzer::ALL {
            let unused = analyzer == Analyzer::Unused;
            let expected = own(&e, on, unused);
            assert!(expected.len() > 2, "{analyzer:?}: {}", expected.len());
            let all = list_all(
                &e,
                &c,
                json!({ "analyzerArn": analyzer.arn(&c), "maxResults": 2 }),
            );
            assert_eq!(all.len(), expected.len());
            let ids: HashSet<&str> = all.iter().map(|f| f["id"].as_str().unwrap()).collect();
            assert_eq!(ids.len(), all.len());
            for (state, label) in [
                (State::Active, "ACTIVE"),
                (State::Suppressed, "ARCHIVED"),
                (State::Resolved, "RESOLVED"),
            ] {
                let n = all.iter().filter(|f| f["status"] == label).count();
                let want = expected.iter().filter(|f| f.state == state).count();
                assert_eq!(n, want, "{analyzer:?} {label}");
            }
            assert!(
                all.iter()
                    .all(|f| (f["findingType"] == "ExternalAccess") != unused
                        && f["resourceOwnerAccount"] == c.account_id.as_str())
            );
            // External access: one finding per resource, so Security Hub's copy id is unique.
            let resources: HashSet<&str> = all
                .iter()
                .map(|f| f["resource"].as_str().unwrap())
                .collect();
            if !unused {
                assert_eq!(resources.len(), all.len());
            }
        }
    }

    #[test]
    fn filters_and_sorts() {
        let (e, on) = busy();
        let c = ctx(&e, on);
        let arn = Analyzer::External.arn(&c);
        let external = own(&e, on, false);
        let n =
            |filter: Value| list_all(&e, &c, json!({ "analyzerArn": arn, "filter": filter })).len();
        let active = external.iter().filter(|f| f.state == State::Active).count();
        assert_eq!(n(json!({ "status": { "eq": ["ACTIVE"] } })), active);
        assert_eq!(
            n(json!({ "status": { "neq": ["ACTIVE"] } })),
            external.len() - active
        );
        let public = external
            .iter()
            .filter(|f| ANALYZER_TYPES[f.kind as usize].public)
            .count();
        assert_eq!(n(json!({ "isPublic": { "eq": ["true"] } })), public);
        assert_eq!(n(json!({ "principal.AWS": { "eq": ["*"] } })), public);
        let buckets = external
            .iter()
            .filter(|f| ANALYZER_TYPES[f.kind as usize].kind == "AWS::S3::Bucket")
            .count();
        assert_eq!(
            n(
                json!({ "resourceType": { "eq": ["AWS::S3::Bucket"] }, "status": { "exists": true } })
            ),
            buckets
        );
        assert_eq!(
            n(json!({ "resource": { "contains": [":s3:::"] } })),
            buckets
        );

        let sorted = list_all(
            &e,
            &c,
            json!({ "analyzerArn": arn, "sort": { "attributeName": "updatedAt", "orderBy": "DESC" } }),
        );
        let times: Vec<i64> = sorted
            .iter()
            .map(|f| wire::parse_iso(f["updatedAt"].as_str().unwrap()).unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(times.len(), external.len());

        for body in [
            json!({}),
            json!({ "analyzerArn": "sightline-sim" }),
            json!({ "analyzerArn": arn, "maxResults": 0 }),
            json!({ "analyzerArn": arn, "nextToken": "garbage" }),
            json!({ "analyzerArn": arn, "filter": { "principal.Federated": { "eq": ["x"] } } }),
            json!({ "analyzerArn": arn, "filter": { "status": { "eq": [] } } }),
            json!({ "analyzerArn": arn, "sort": { "attributeName": "severity" } }),
        ] {
            let (status, err) = list(&e, &c, body.clone());
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(err["__type"], "ValidationException");
            assert_eq!(err["reason"], "fieldValidationFailed");
        }
        let elsewhere = arn.replace(&c.account_id, "222222222222");
        let (status, _) = list(&e, &c, json!({ "analyzerArn": elsewhere }));
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, err) = call(&e, &c, Method::DELETE, "/analyzer", &[], None);
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(err["__type"], "UnknownOperationException");
    }

    #[test]
    fn get_finding_v2_shows_who_has_access() {
        let (e, on) = busy();
        let c = ctx(&e, on);
        let fixture: Value = serde_json::from_str(include_str!(
            "../../../fixtures/aws/accessanalyzer-get-finding-v2.json"
        ))
        .unwrap();
        let summary_fixture: Value = serde_json::from_str(include_str!(
            "../../../fixtures/aws/accessanalyzer-list-findings-v2.json"
        ))
        .unwrap();
        let keys =
            |v: &Value| -> HashSet<String> { v.as_object().unwrap().keys().cloned().collect() };
        let org: HashSet<&str> = e.accounts.iter().map(|a| a.id.as_str()).collect();
        let mut seen = HashSet::new();
        for analyzer in Analyzer::ALL {
            let arn = analyzer.arn(&c);
            for summary in list_all(&e, &c, json!({ "analyzerArn": arn })) {
                assert_eq!(keys(&summary), keys(&summary_fixture["findings"][0]));
                let id = summary["id"].as_str().unwrap();
                let (status, finding) = call(
                    &e,
                    &c,
                    Method::GET,
                    &format!("/findingv2/{id}"),
                    &[("analyzerArn", &arn)],
                    None,
                );
                assert_eq!(status, StatusCode::OK, "{finding}");
                for (k, v) in summary.as_object().unwrap() {
                    assert_eq!(&finding[k], v, "{k}");
                }
                let details = finding["findingDetails"].as_array().unwrap();
                assert!(!details.is_empty());
                let kind = summary["findingType"].as_str().unwrap();
                seen.insert(kind.to_owned());
                if kind == "ExternalAccess" {
                    assert_eq!(keys(&finding), keys(&fixture));
                    let d = &details[0]["externalAccessDetails"];
                    let principal = d["principal"]["AWS"].as_str().unwrap();
                    if d["isPublic"] == true {
                        assert_eq!(principal, "*");
                    } else {
                        assert_ne!(principal, c.account_id);
                        assert!(principal == EXTERNAL_ACCOUNT || org.contains(principal));
                    }
                    assert!(!d["action"].as_array().unwrap().is_empty());
                    assert_eq!(d["condition"], json!({}));
                } else {
                    let member = match kind {
                        "UnusedIAMRole" => "unusedIamRoleDetails",
                        "UnusedIAMUserAccessKey" => "unusedIamUserAccessKeyDetails",
                        "UnusedPermission" => "unusedPermissionDetails",
                        other => panic!("{other}"),
                    };
                    assert!(details.iter().all(|d| d.get(member).is_some()), "{finding}");
                    if kind == "UnusedIAMUserAccessKey" {
                        let key = details[0][member]["accessKeyId"].as_str().unwrap();
                        assert!(key.starts_with("AKIA") && key.len() == 20);
                        assert_eq!(summary["resourceType"], "AWS::IAM::User");
                    }
                    if kind == "UnusedPermission" {
                        assert!(details[0][member]["serviceNamespace"].is_string());
                    }
                }
                // The other analyzer does not know the finding.
                let other = Analyzer::ALL.into_iter().find(|a| *a != analyzer).unwrap();
                let (status, err) = call(
                    &e,
                    &c,
                    Method::GET,
                    &format!("/findingv2/{id}"),
                    &[("analyzerArn", &other.arn(&c))],
                    None,
                );
                assert_eq!(status, StatusCode::NOT_FOUND);
                assert_eq!(err["resourceType"], "AWS::AccessAnalyzer::Finding");
            }
        }
        assert!(
            seen.contains("ExternalAccess") && seen.len() >= 3,
            "{seen:?}"
        );
        let (status, _) = call(&e, &c, Method::GET, "/findingv2/nope", &[], None);
        assert_eq!(status, StatusCode::BAD_REQUEST, "analyzerArn is required");
    }

    #[test]
    fn unused_permission_details_page() {
        let (e, _) = busy();
        // An unused-permission finding over three services, wherever it is.
        let f = e
            .findings
            .iter()
            .find(|f| {
                f.service == Service::AccessAnalyzer
                    && e.is_enabled(f.account as usize, f.region as usize, f.service)
                    && ANALYZER_TYPES[f.kind as usize].kind == "UnusedPermission"
                    && f.serial % 3 == 2
            })
            .unwrap();
        let c = ctx(&e, (f.account as usize, f.region as usize));
        let arn = Analyzer::Unused.arn(&c);
        let id = finding_id(e.seed, f.serial);
        let path = format!("/findingv2/{id}");
        let (_, first) = call(
            &e,
            &c,
            Method::GET,
            &path,
            &[("analyzerArn", &arn), ("maxResults", "2")],
            None,
        );
        assert_eq!(first["findingDetails"].as_array().unwrap().len(), 2);
        let token = first["nextToken"].as_str().unwrap();
        let (_, rest) = call(
            &e,
            &c,
            Method::GET,
            &path,
            &[
                ("analyzerArn", &arn),
                ("maxResults", "2"),
                ("nextToken", token),
            ],
            None,
        );
        assert_eq!(rest["findingDetails"].as_array().unwrap().len(), 1);
        assert!(rest.get("nextToken").is_none());
    }

    #[test]
    fn native_finding_is_the_served_one() {
        let (e, on) = busy();
        let c = ctx(&e, on);
        for f in e.target_findings(on.0, on.1, Service::AccessAnalyzer) {
            let native = native_finding(&e, f).unwrap();
            let arn = analyzer_arn(&e, f).unwrap();
            let (status, served) = call(
                &e,
                &c,
                Method::GET,
                &format!("/findingv2/{}", native["id"].as_str().unwrap()),
                &[("analyzerArn", &arn)],
                None,
            );
            assert_eq!(status, StatusCode::OK);
            assert_eq!(native, served);
        }
        let other = e
            .findings
            .iter()
            .find(|f| f.service != Service::AccessAnalyzer)
            .unwrap();
        assert!(native_finding(&e, other).is_none() && analyzer_arn(&e, other).is_none());
    }

    #[test]
    fn answers_are_deterministic() {
        let (e, on) = busy();
        let c = ctx(&e, on);
        let body = json!({ "analyzerArn": Analyzer::External.arn(&c) });
        assert_eq!(list(&e, &c, body.clone()).1, list(&e, &c, body).1);
        assert_eq!(
            call(&e, &c, Method::GET, "/analyzer", &[], None).1,
            call(&e, &c, Method::GET, "/analyzer", &[], None).1
        );
        let u = uuid(1, 7, Tag::Finding);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!("89ab".contains(&u[19..20]), "{u}");
    }
}
