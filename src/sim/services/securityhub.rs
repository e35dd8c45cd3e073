//! Simulated AWS Security Hub (restJson1): `DescribeHub` and `GetFindings`, serving an account and
//! region's own control findings and its copies of GuardDuty, Inspector, Macie and Access
//! Analyzer findings in ASFF, shaped like `fixtures/aws/securityhub-get-findings.json`.

use std::cmp::Ordering;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::sim::catalogue::{
    ANALYZER_TYPES, AnalyzerType, CONTROLS, Control, VULNERABILITIES, Vulnerability, threat_types,
};
use crate::sim::org::{Estate, Finding, Service, State};
use crate::sim::wire::{self, BodyError, Ctx, Page, Paging, PagingError, SimRequest};

use super::accessanalyzer::{self, Analyzer};
use super::{guardduty, inspector, macie, members};

const SCHEMA_VERSION: &str = "2018-10-08";
/// ASFF `Severity.Label` by level (0 informational … 4 critical).
const LABELS: [&str; 5] = ["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"];
/// The `Severity.Normalized` Security Hub derives from a label alone.
const NORMALIZED: [i64; 5] = [0, 1, 40, 70, 90];
/// A GuardDuty score representative of each level (Low 1–3.9, Medium 4–6.9, High 7–8.9,
/// Critical 9–10).
const GUARDDUTY_SCORES: [f64; 5] = [1.0, 2.0, 5.0, 8.0, 9.0];
/// `GetFindings` answers at most 100 findings per page (the model's `MaxResults` range is
/// 1–100), and 100 when the caller does not say.
const PAGING: Paging = Paging {
    default: 100,
    max: 100,
    clamp: false,
    strict_null: false,
    empty_token_is_first: false,
};
/// "You can filter by up to 10 finding attributes. For each attribute, you can provide up to 20
/// filter values." (GetFindings API reference).
const MAX_FILTER_KEYS: usize = 10;
const MAX_FILTER_VALUES: usize = 20;
const DAY: i64 = 86_400;
const FSBP: &str = "standards/aws-foundational-security-best-practices/v/1.0.0";
const CONTROL_TYPE: &str = "Software and Configuration Checks/Industry and Regulatory Standards";

/// Answers one Security Hub request for `ctx`'s account and region.
pub fn handle(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    match (&req.method, req.path.as_str()) {
        (&Method::GET, "/accounts") => describe_hub(estate, ctx, req),
        (&Method::POST, "/findings") => get_findings(estate, ctx, req),
        (&Method::GET, "/members") => members::list(
            estate,
            ctx,
            &req.query,
            &members::SECURITY_HUB,
            invalid_input,
        ),
        _ => wire::rest_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            &format!(
                "{} {} is not an operation the simulated Security Hub serves",
                req.method, req.path
            ),
        ),
    }
}

fn not_subscribed(ctx: &Ctx) -> Response {
    wire::securityhub_error(
        StatusCode::UNAUTHORIZED,
        "InvalidAccessException",
        &format!(
            "Account {} is not subscribed to AWS Security Hub",
            ctx.account_id
        ),
    )
}

fn invalid_input(message: &str) -> Response {
    wire::securityhub_error(StatusCode::BAD_REQUEST, "InvalidInputException", message)
}

/// `GET /accounts`.
fn describe_hub(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    if !estate.is_enabled(ctx.account, ctx.region, Service::SecurityHub) {
        return not_subscribed(ctx);
    }
    let hub_arn = format!(
        "arn:aws:securityhub:{}:{}:hub/default",
        ctx.region_code, ctx.account_id
    );
    if let Some(asked) = req.query.get("HubArn")
        && *asked != hub_arn
    {
        return wire::securityhub_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Hub {asked} not found"),
        );
    }
    wire::json_ok(json!({
        "HubArn": hub_arn,
        "SubscribedAt": wire::iso(subscribed_at(estate, ctx)),
        "AutoEnableControls": true,
        "ControlFindingGenerator": "SECURITY_CONTROL",
    }))
}

/// When Security Hub was switched on in the target: some months before the organisation's
/// oldest finding, varying by account and region, and fixed as the virtual clock moves on.
fn subscribed_at(estate: &Estate, ctx: &Ctx) -> i64 {
    let oldest = estate
        .findings
        .iter()
        .map(|f| f.created)
        .min()
        .unwrap_or(estate.now);
    let spread = u64::from_str_radix(
        &digest_hex(&format!("hub/{}/{}", ctx.account_id, ctx.region_code), 8),
        16,
    )
    .unwrap_or(0);
    oldest - DAY * (30 + (spread % 600) as i64) - (spread % DAY as u64) as i64
}

/// `POST /findings`.
fn get_findings(estate: &Estate, ctx: &Ctx, req: &SimRequest) -> Response {
    if !estate.is_enabled(ctx.account, ctx.region, Service::SecurityHub) {
        return not_subscribed(ctx);
    }
    // Security Hub's own validation error, not a generic ValidationException.
    let body = match req.json_object() {
        Ok(b) => b,
        Err(BodyError::NotAnObject) => {
            return invalid_input("the request body must be a JSON object");
        }
        Err(BodyError::Malformed(e)) => {
            return invalid_input(&format!("malformed JSON body: {e}"));
        }
    };
    let query = match Query::parse(&body, estate.now) {
        Ok(q) => q,
        Err(message) => return invalid_input(&message),
    };
    // The caller's own findings; as the delegated administrator, every member's too.
    let seen: Vec<Ctx> = ctx
        .seen(estate)
        .into_iter()
        .filter(|c| estate.is_enabled(c.account, c.region, Service::SecurityHub))
        .collect();
    let targets: Vec<Target> = seen
        .iter()
        .map(|c| Target {
            estate,
            ctx: c,
            account: &c.account_id,
            region: &c.region_code,
        })
        .collect();
    let mut rows: Vec<(&Target, &Finding)> = targets
        .iter()
        .flat_map(|t| {
            served(estate, t.ctx.account, t.ctx.region)
                .filter(|f| query.admits(t, f))
                .map(move |f| (t, f))
        })
        .collect();
    rows.sort_by(|a, b| query.order(a.1, b.1));
    let findings: Vec<Value> = query.page.of(&rows).map(|(t, f)| render(t, f)).collect();
    query
        .page
        .answer("Findings", findings, "NextToken", rows.len())
}

/// Everything Security Hub holds in (account, region): its control findings and the copies of
/// the other services' findings, resolved ones included (archived or passed, not deleted).
fn served(estate: &Estate, account: usize, region: usize) -> impl Iterator<Item = &Finding> {
    Service::ALL
        .into_iter()
        .flat_map(move |s| estate.target_findings(account, region, s))
}

/// The account and region being answered for.
struct Target<'a> {
    estate: &'a Estate,
    ctx: &'a Ctx,
    account: &'a str,
    region: &'a str,
}

// ---------------------------------------------------------------------------------------------
// The request: filters, sort, page.

/// The string attributes `Filters` may name here (a subset of ASFF's filterable ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StringField {
    AwsAccountId,
    Region,
    Id,
    ProductArn,
    ProductName,
    CompanyName,
    GeneratorId,
    RecordState,
    WorkflowStatus,
    SeverityLabel,
    ComplianceStatus,
    ComplianceSecurityControlId,
}

const STRING_FIELDS: [(&str, StringField); 12] = [
    ("AwsAccountId", StringField::AwsAccountId),
    ("Region", StringField::Region),
    ("Id", StringField::Id),
    ("ProductArn", StringField::ProductArn),
    ("ProductName", StringField::ProductName),
    ("CompanyName", StringField::CompanyName),
    ("GeneratorId", StringField::GeneratorId),
    ("RecordState", StringField::RecordState),
    ("WorkflowStatus", StringField::WorkflowStatus),
    ("SeverityLabel", StringField::SeverityLabel),
    ("ComplianceStatus", StringField::ComplianceStatus),
    (
        "ComplianceSecurityControlId",
        StringField::ComplianceSecurityControlId,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateField {
    UpdatedAt,
    CreatedAt,
}

impl DateField {
    fn parse(name: &str) -> Option<DateField> {
        match name {
            "UpdatedAt" => Some(DateField::UpdatedAt),
            "CreatedAt" => Some(DateField::CreatedAt),
            _ => None,
        }
    }

    fn of(self, f: &Finding) -> i64 {
        match self {
            DateField::UpdatedAt => f.updated,
            DateField::CreatedAt => f.created,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equals,
    Prefix,
    Contains,
    NotEquals,
    PrefixNotEquals,
}

impl Comparison {
    fn parse(s: &str) -> Option<Comparison> {
        match s {
            "EQUALS" => Some(Comparison::Equals),
            "PREFIX" => Some(Comparison::Prefix),
            "CONTAINS" => Some(Comparison::Contains),
            "NOT_EQUALS" => Some(Comparison::NotEquals),
            "PREFIX_NOT_EQUALS" => Some(Comparison::PrefixNotEquals),
            _ => None,
        }
    }

    /// NOT_EQUALS and PREFIX_NOT_EQUALS are joined by AND, the others by OR.
    fn negative(self) -> bool {
        matches!(self, Comparison::NotEquals | Comparison::PrefixNotEquals)
    }

    /// Whether `value` (absent when the finding has no such attribute) passes.
    fn test(self, value: Option<&str>, wanted: &str) -> bool {
        match self {
            Comparison::Equals => value == Some(wanted),
            Comparison::Prefix => value.is_some_and(|v| v.starts_with(wanted)),
            Comparison::Contains => value.is_some_and(|v| v.contains(wanted)),
            Comparison::NotEquals => value != Some(wanted),
            Comparison::PrefixNotEquals => !value.is_some_and(|v| v.starts_with(wanted)),
        }
    }
}

/// The filters on one string attribute.
#[derive(Debug)]
struct StringCondition {
    field: StringField,
    any_of: Vec<(Comparison, String)>,
    all_of: Vec<(Comparison, String)>,
}

/// The filters on one date attribute: inclusive ranges in epoch milliseconds, joined by OR.
#[derive(Debug)]
struct DateCondition {
    field: DateField,
    ranges: Vec<(i64, i64)>,
}

/// A parsed `GetFindings` request.
#[derive(Debug)]
struct Query {
    strings: Vec<StringCondition>,
    dates: Vec<DateCondition>,
    /// (field, descending), most significant first; ties end on the serial so paging is stable.
    sort: Vec<(DateField, bool)>,
    page: Page,
}

impl Query {
    fn parse(body: &Map<String, Value>, now: i64) -> Result<Query, String> {
        let mut query = Query {
            strings: Vec::new(),
            dates: Vec::new(),
            // Undocumented default; the console lists the most recently updated first.
            sort: vec![(DateField::UpdatedAt, true)],
            page: Page {
                offset: 0,
                size: PAGING.default,
            },
        };
        if let Some(filters) = body.get("Filters").filter(|v| !v.is_null()) {
            let filters = filters.as_object().ok_or("Filters must be an object")?;
            if filters.len() > MAX_FILTER_KEYS {
                return Err(format!(
                    "Filters names {} attributes; at most {MAX_FILTER_KEYS} are allowed",
                    filters.len()
                ));
            }
            for (name, entries) in filters {
                let entries = entries
                    .as_array()
                    .ok_or_else(|| format!("Filters.{name} must be a list"))?;
                if entries.len() > MAX_FILTER_VALUES {
                    return Err(format!(
                        "Filters.{name} has {} values; at most {MAX_FILTER_VALUES} are allowed",
                        entries.len()
                    ));
                }
                if entries.is_empty() {
                    // An attribute with no filter values constrains nothing.
                    continue;
                }
                if let Some(field) = DateField::parse(name) {
                    let ranges = entries
                        .iter()
                        .map(|e| parse_date_filter(name, e, now))
                        .collect::<Result<Vec<_>, _>>()?;
                    query.dates.push(DateCondition { field, ranges });
                } else if let Some(&(_, field)) = STRING_FIELDS.iter().find(|(n, _)| n == name) {
                    query
                        .strings
                        .push(parse_string_filters(name, field, entries)?);
                } else {
                    return Err(format!(
                        "the simulated Security Hub cannot filter on {name}; it filters on UpdatedAt, CreatedAt, {}",
                        STRING_FIELDS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        if let Some(sort) = body.get("SortCriteria").filter(|v| !v.is_null()) {
            let sort = sort.as_array().ok_or("SortCriteria must be a list")?;
            if !sort.is_empty() {
                query.sort = sort
                    .iter()
                    .map(parse_sort_criterion)
                    .collect::<Result<_, _>>()?;
            }
        }
        query.page = PAGING
            .from_body(body, "MaxResults", "NextToken")
            .map_err(|e| match e {
                PagingError::MaxResults => format!(
                    "Invalid parameter 'MaxResults': {} is not between 1 and {}",
                    body.get("MaxResults").unwrap_or(&Value::Null),
                    PAGING.max
                ),
                PagingError::TokenNotAString | PagingError::BadToken => {
                    "Invalid parameter 'NextToken': not a token this service issued".to_owned()
                }
            })?;
        Ok(query)
    }

    fn admits(&self, t: &Target, f: &Finding) -> bool {
        self.dates.iter().all(|c| {
            let at = c.field.of(f) * 1000;
            c.ranges.iter().any(|&(lo, hi)| lo <= at && at <= hi)
        }) && self.strings.iter().all(|c| {
            let value = string_value(t, f, c.field);
            let value = value.as_deref();
            (c.any_of.is_empty() || c.any_of.iter().any(|(cmp, w)| cmp.test(value, w)))
                && c.all_of.iter().all(|(cmp, w)| cmp.test(value, w))
        })
    }

    fn order(&self, a: &Finding, b: &Finding) -> Ordering {
        self.sort
            .iter()
            .map(|&(field, descending)| {
                let o = field.of(a).cmp(&field.of(b));
                if descending { o.reverse() } else { o }
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.serial.cmp(&b.serial))
    }
}

fn parse_string_filters(
    name: &str,
    field: StringField,
    entries: &[Value],
) -> Result<StringCondition, String> {
    let mut condition = StringCondition {
        field,
        any_of: Vec::new(),
        all_of: Vec::new(),
    };
    for entry in entries {
        let value = entry
            .get("Value")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("Filters.{name}: every StringFilter needs a string Value"))?;
        let word = entry
            .get("Comparison")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("Filters.{name}: every StringFilter needs a Comparison"))?;
        let cmp = Comparison::parse(word).ok_or_else(|| {
            format!(
                "Filters.{name}: Comparison {word} is not one of EQUALS, PREFIX, CONTAINS, NOT_EQUALS, PREFIX_NOT_EQUALS"
            )
        })?;
        if cmp.negative() {
            condition.all_of.push((cmp, value.to_owned()));
        } else {
            condition.any_of.push((cmp, value.to_owned()));
        }
    }
    // The combinations the StringFilter documentation says are errors.
    let has = |c: Comparison| {
        condition
            .any_of
            .iter()
            .chain(&condition.all_of)
            .any(|(x, _)| *x == c)
    };
    if has(Comparison::Equals) && (has(Comparison::NotEquals) || has(Comparison::PrefixNotEquals)) {
        return Err(format!(
            "Filters.{name}: EQUALS cannot be combined with NOT_EQUALS or PREFIX_NOT_EQUALS on the same field"
        ));
    }
    if has(Comparison::Contains) && condition.all_of.len() + condition.any_of.len() > 1 {
        let only_contains = condition
            .any_of
            .iter()
            .all(|(c, _)| *c == Comparison::Contains)
            && condition.all_of.is_empty();
        if !only_contains {
            return Err(format!(
                "Filters.{name}: CONTAINS filters can only be used with other CONTAINS filters"
            ));
        }
    }
    Ok(condition)
}

/// A `DateFilter`: `Start` and/or `End` (ISO-8601), or `DateRange` `{Value, Unit: DAYS,
/// Comparison: WITHIN|OLDER_THAN}` counted back from the virtual clock.
fn parse_date_filter(name: &str, entry: &Value, now: i64) -> Result<(i64, i64), String> {
    let time = |key: &str| -> Result<Option<i64>, String> {
        match entry.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| Some(t.timestamp_millis()))
                .ok_or_else(|| format!("Filters.{name}: {key} {v} is not an ISO-8601 timestamp")),
        }
    };
    let (start, end) = (time("Start")?, time("End")?);
    match entry.get("DateRange").filter(|v| !v.is_null()) {
        Some(_) if start.is_some() || end.is_some() => Err(format!(
            "Filters.{name}: give either Start/End or DateRange, not both"
        )),
        Some(range) => {
            let value = range
                .get("Value")
                .and_then(Value::as_i64)
                .filter(|v| *v >= 0)
                .ok_or_else(|| format!("Filters.{name}: DateRange.Value must be a whole number"))?;
            if range.get("Unit").and_then(Value::as_str) != Some("DAYS") {
                return Err(format!("Filters.{name}: DateRange.Unit must be DAYS"));
            }
            let edge = now.saturating_sub(value.saturating_mul(DAY)) * 1000;
            match range.get("Comparison").and_then(Value::as_str) {
                None | Some("WITHIN") => Ok((edge, i64::MAX)),
                Some("OLDER_THAN") => Ok((i64::MIN, edge - 1)),
                Some(other) => Err(format!(
                    "Filters.{name}: DateRange.Comparison {other} is not WITHIN or OLDER_THAN"
                )),
            }
        }
        None if start.is_none() && end.is_none() => Err(format!(
            "Filters.{name}: a DateFilter needs Start, End or DateRange"
        )),
        None => Ok((start.unwrap_or(i64::MIN), end.unwrap_or(i64::MAX))),
    }
}

fn parse_sort_criterion(criterion: &Value) -> Result<(DateField, bool), String> {
    let field = criterion
        .get("Field")
        .and_then(Value::as_str)
        .ok_or("every SortCriterion needs a Field")?;
    let field = DateField::parse(field).ok_or_else(|| {
        format!("the simulated Security Hub sorts by UpdatedAt or CreatedAt, not {field}")
    })?;
    let descending = match criterion.get("SortOrder").and_then(Value::as_str) {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(other) => return Err(format!("SortOrder {other} is not asc or desc")),
    };
    Ok((field, descending))
}

/// A finding's value of a filterable string attribute, as its rendering shows it.
fn string_value(t: &Target, f: &Finding, field: StringField) -> Option<String> {
    let own = f.service == Service::SecurityHub;
    Some(match field {
        StringField::AwsAccountId => t.account.to_owned(),
        StringField::Region => t.region.to_owned(),
        StringField::Id => finding_id(t, f),
        StringField::ProductArn => product_arn(t.region, f.service),
        StringField::ProductName => product(f.service).0.to_owned(),
        StringField::CompanyName => product(f.service).1.to_owned(),
        StringField::GeneratorId => generator_id(t, f),
        StringField::RecordState => record_state(f).to_owned(),
        StringField::WorkflowStatus => workflow_status(f).to_owned(),
        StringField::SeverityLabel => LABELS[severity_level(f)].to_owned(),
        StringField::ComplianceStatus if own => compliance_status(f).to_owned(),
        StringField::ComplianceSecurityControlId if own => control(f).id.to_owned(),
        StringField::ComplianceStatus | StringField::ComplianceSecurityControlId => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// States, products and ids.

/// (`ProductName`, `CompanyName`, the product's name in its `ProductArn`).
fn product(service: Service) -> (&'static str, &'static str, &'static str) {
    match service {
        Service::SecurityHub => ("Security Hub", "AWS", "securityhub"),
        Service::GuardDuty => ("GuardDuty", "Amazon", "guardduty"),
        Service::Inspector => ("Inspector", "Amazon", "inspector"),
        Service::Macie => ("Macie", "Amazon", "macie"),
        Service::AccessAnalyzer => ("IAM Access Analyzer", "AWS", "access-analyzer"),
    }
}

fn product_arn(region: &str, service: Service) -> String {
    format!(
        "arn:aws:securityhub:{region}::product/aws/{}",
        product(service).2
    )
}

fn workflow_status(f: &Finding) -> &'static str {
    match f.state {
        State::Active => "NEW",
        State::Suppressed => "SUPPRESSED",
        State::Resolved => "RESOLVED",
    }
}

/// A passed control stays ACTIVE (it is a current evaluation); a copy of a resolved finding of
/// another product is archived.
fn record_state(f: &Finding) -> &'static str {
    if f.service != Service::SecurityHub && f.state == State::Resolved {
        "ARCHIVED"
    } else {
        "ACTIVE"
    }
}

fn compliance_status(f: &Finding) -> &'static str {
    if f.state == State::Resolved {
        "PASSED"
    } else {
        "FAILED"
    }
}

/// The level of `Severity.Label`: a passed control is informational.
fn severity_level(f: &Finding) -> usize {
    if f.service == Service::SecurityHub && f.state == State::Resolved {
        0
    } else {
        (f.level as usize).min(4)
    }
}

fn control(f: &Finding) -> &'static Control {
    CONTROLS.get(f.kind as usize).unwrap_or(&CONTROLS[0])
}

fn vulnerability(f: &Finding) -> &'static Vulnerability {
    VULNERABILITIES
        .get(f.kind as usize)
        .unwrap_or(&VULNERABILITIES[0])
}

fn analyzer_type(f: &Finding) -> &'static AnalyzerType {
    ANALYZER_TYPES
        .get(f.kind as usize)
        .unwrap_or(&ANALYZER_TYPES[0])
}

fn threat_type(f: &Finding) -> &'static str {
    threat_types()
        .get(f.kind as usize)
        .map(|t| t.kind.as_str())
        .unwrap_or("Recon:EC2/Portscan")
}

/// The first `n` (≤ 64) hex digits of SHA-256 of `name`: ids that look random but never change.
fn digest_hex(name: &str, n: usize) -> String {
    let mut s = hex::encode(Sha256::digest(name.as_bytes()));
    s.truncate(n);
    s
}

fn uuid_of(name: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).to_string()
}

/// The ASFF `Id` of a finding, as Security Hub shows it.
fn finding_id(t: &Target, f: &Finding) -> String {
    match f.service {
        Service::SecurityHub => format!(
            "arn:aws:securityhub:{}:{}:security-control/{}/finding/{}",
            t.region,
            t.account,
            control(f).id,
            uuid_of(&format!("securityhub/finding/{}", f.serial))
        ),
        Service::GuardDuty => guardduty::finding_arn(t.estate, f),
        Service::Inspector => inspector::finding_arn(t.estate.seed, t.account, t.region, f.serial),
        Service::Macie => macie::finding_id(t.estate.seed, f.serial),
        Service::AccessAnalyzer => {
            let kind = analyzer_type(f);
            let analyzer = Analyzer::reporting_arn(t.estate, t.ctx, kind.unused);
            let (resource, _) = accessanalyzer::resource(t.estate, t.ctx, f, kind);
            if kind.unused {
                format!("{analyzer}/{resource}/{}", unused_id_suffix(kind.kind))
            } else {
                format!("{analyzer}/{resource}")
            }
        }
    }
}

fn generator_id(t: &Target, f: &Finding) -> String {
    match f.service {
        Service::SecurityHub => format!("security-control/{}", control(f).id),
        Service::GuardDuty => format!(
            "arn:aws:guardduty:{}:{}:detector/{}",
            t.region,
            t.account,
            guardduty::detector_id(t.account, t.region)
        ),
        Service::Inspector => "AWSInspector".to_owned(),
        Service::Macie => "aws/macie".to_owned(),
        Service::AccessAnalyzer => "aws/access-analyzer".to_owned(),
    }
}

// A copy's `Id` is its native finding's id, so the copy and the native finding pair up as they
// do in AWS: the native modules derive them (and Access Analyzer's resources and grants).

/// ASFF's resource type for an Access Analyzer `resourceType`.
fn asff_resource_type(native: &str) -> &'static str {
    match native {
        "AWS::S3::Bucket" => "AwsS3Bucket",
        "AWS::IAM::Role" => "AwsIamRole",
        "AWS::IAM::User" => "AwsIamUser",
        "AWS::KMS::Key" => "AwsKmsKey",
        "AWS::Lambda::Function" => "AwsLambdaFunction",
        "AWS::SQS::Queue" => "AwsSqsQueue",
        "AWS::SecretsManager::Secret" => "AwsSecretsManagerSecret",
        _ => "Other",
    }
}

/// The last part of an unused-access copy's `Id`: documented for UnusedPermission only
/// ("…/UnusedPermissions"); the others follow the finding type (an assumption).
fn unused_id_suffix(kind: &str) -> &str {
    match kind {
        "UnusedPermission" => "UnusedPermissions",
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering, one shape per product (fixture entries 1, 3, 4, 5, 6 and 7).

fn render(t: &Target, f: &Finding) -> Value {
    match f.service {
        Service::SecurityHub => control_finding(t, f),
        Service::GuardDuty => guardduty_copy(t, f),
        Service::Inspector => inspector_copy(t, f),
        Service::Macie => macie_copy(t, f),
        Service::AccessAnalyzer => access_analyzer_copy(t, f),
    }
}

/// The members every finding starts with, and its `aws/securityhub/FindingId`.
fn head(t: &Target, f: &Finding, types: &[String]) -> (Map<String, Value>, String) {
    let (name, company, _) = product(f.service);
    let arn = product_arn(t.region, f.service);
    let id = finding_id(t, f);
    let mut m = Map::new();
    m.insert("SchemaVersion".into(), SCHEMA_VERSION.into());
    m.insert("Id".into(), id.clone().into());
    m.insert("ProductArn".into(), arn.clone().into());
    m.insert("ProductName".into(), name.into());
    m.insert("CompanyName".into(), company.into());
    m.insert("Region".into(), t.region.into());
    m.insert("GeneratorId".into(), generator_id(t, f).into());
    m.insert("AwsAccountId".into(), t.account.into());
    m.insert("Types".into(), json!(types));
    (m, format!("{arn}/{id}"))
}

/// `ProductFields` entries Security Hub adds to every finding.
fn hub_fields(fields: &mut Map<String, Value>, f: &Finding, securityhub_id: String) {
    let (name, company, _) = product(f.service);
    fields.insert("aws/securityhub/FindingId".into(), securityhub_id.into());
    fields.insert("aws/securityhub/ProductName".into(), name.into());
    fields.insert("aws/securityhub/CompanyName".into(), company.into());
}

fn workflow(m: &mut Map<String, Value>, f: &Finding) {
    m.insert("WorkflowState".into(), "NEW".into());
    m.insert("Workflow".into(), json!({ "Status": workflow_status(f) }));
    m.insert("RecordState".into(), record_state(f).into());
}

fn observed(m: &mut Map<String, Value>, f: &Finding) {
    m.insert("FirstObservedAt".into(), wire::iso(f.created).into());
    m.insert("LastObservedAt".into(), wire::iso(f.updated).into());
}

fn created_updated(m: &mut Map<String, Value>, f: &Finding) {
    m.insert("CreatedAt".into(), wire::iso(f.created).into());
    m.insert("UpdatedAt".into(), wire::iso(f.updated).into());
}

/// A consolidated control finding (fixture entry 1).
fn control_finding(t: &Target, f: &Finding) -> Value {
    let c = control(f);
    let level = severity_level(f);
    let (rtype, rid) = control_resource(t, c, f.serial);
    let (mut m, sh_id) = head(t, f, &[CONTROL_TYPE.to_owned()]);
    observed(&mut m, f);
    created_updated(&mut m, f);
    m.insert(
        "Severity".into(),
        json!({ "Label": LABELS[level], "Normalized": NORMALIZED[level], "Original": LABELS[level] }),
    );
    m.insert("Title".into(), c.title.into());
    m.insert(
        "Description".into(),
        format!("This AWS control checks that {}.", c.title).into(),
    );
    m.insert(
        "Remediation".into(),
        json!({ "Recommendation": {
            "Text": "For information on how to correct this issue, consult the AWS Security Hub CSPM controls documentation.",
            "Url": format!("https://docs.aws.amazon.com/console/securityhub/{}/remediation", c.id),
        }}),
    );
    let rule = format!(
        "securityhub-{}-{}",
        c.id.to_ascii_lowercase().replace('.', "-"),
        digest_hex(&format!("rule/{}/{}/{}", t.account, t.region, c.id), 8)
    );
    let mut fields = Map::new();
    fields.insert("RelatedAWSResources:0/name".into(), rule.into());
    fields.insert(
        "RelatedAWSResources:0/type".into(),
        "AWS::Config::ConfigRule".into(),
    );
    fields.insert("Resources:0/Id".into(), rid.clone().into());
    hub_fields(&mut fields, f, sh_id);
    m.insert("ProductFields".into(), Value::Object(fields));
    m.insert(
        "Resources".into(),
        json!([{ "Type": rtype, "Id": rid, "Partition": "aws", "Region": t.region }]),
    );
    m.insert(
        "Compliance".into(),
        json!({
            "Status": compliance_status(f),
            "SecurityControlId": c.id,
            "AssociatedStandards": [{ "StandardsId": FSBP }],
        }),
    );
    workflow(&mut m, f);
    m.insert(
        "FindingProviderFields".into(),
        json!({
            "Severity": { "Label": LABELS[level], "Original": LABELS[level] },
            "Types": [CONTROL_TYPE],
        }),
    );
    m.insert("ProcessedAt".into(), wire::iso(f.updated).into());
    Value::Object(m)
}

/// The resource a control evaluated, of the control's resource type, named from the serial.
fn control_resource(t: &Target, c: &Control, serial: u32) -> (&'static str, String) {
    let (a, r, n) = (t.account, t.region, serial);
    let id = match c.resource_type {
        "AwsEc2Instance" => format!(
            "arn:aws:ec2:{r}:{a}:instance/i-{}",
            digest_hex(&format!("ec2/{n}"), 17)
        ),
        "AwsEc2SecurityGroup" => format!(
            "arn:aws:ec2:{r}:{a}:security-group/sg-{}",
            digest_hex(&format!("sg/{n}"), 17)
        ),
        "AwsS3Bucket" => format!("arn:aws:s3:::sim-{a}-bucket-{n}"),
        "AwsIamPolicy" => format!("arn:aws:iam::{a}:policy/sim-policy-{n}"),
        "AwsIamUser" => format!("arn:aws:iam::{a}:user/sim-user-{n}"),
        "AwsCloudTrailTrail" => format!("arn:aws:cloudtrail:{r}:{a}:trail/sim-trail-{n}"),
        "AwsRdsDbInstance" => format!("arn:aws:rds:{r}:{a}:db:sim-db-{n}"),
        "AwsLambdaFunction" => format!("arn:aws:lambda:{r}:{a}:function:sim-function-{n}"),
        "AwsKmsKey" => format!(
            "arn:aws:kms:{r}:{a}:key/{}",
            uuid_of(&format!("kms/key/{n}"))
        ),
        "AwsElbv2LoadBalancer" => format!(
            "arn:aws:elasticloadbalancing:{r}:{a}:loadbalancer/app/sim-alb-{n}/{}",
            digest_hex(&format!("alb/{n}"), 16)
        ),
        "AwsEcrRepository" => format!("arn:aws:ecr:{r}:{a}:repository/sim-repo-{n}"),
        // Account-level controls evaluate the account itself.
        _ => return ("AwsAccount", format!("AWS::::Account:{a}")),
    };
    (c.resource_type, id)
}

/// A GuardDuty finding as GuardDuty publishes it to Security Hub (fixture entry 3): title,
/// description, score and resource are the native finding's (`guardduty::render`).
fn guardduty_copy(t: &Target, f: &Finding) -> Value {
    let kind = threat_type(f);
    let level = severity_level(f);
    let native = guardduty::render(t.estate, f);
    let text = |key: &str| native.get(key).and_then(Value::as_str).map(str::to_owned);
    let score = native
        .get("severity")
        .and_then(Value::as_f64)
        .unwrap_or(GUARDDUTY_SCORES[level]);
    let detector = guardduty::detector_id(t.account, t.region);
    let finding = guardduty::finding_id(t.estate.seed, f.serial);
    let (mut m, sh_id) = head(t, f, &[guardduty_asff_type(kind)]);
    observed(&mut m, f);
    created_updated(&mut m, f);
    m.insert(
        "Severity".into(),
        json!({ "Product": score, "Label": LABELS[level], "Normalized": (score * 10.0).round() as i64 }),
    );
    m.insert(
        "Title".into(),
        text("title")
            .unwrap_or_else(|| format!("{kind} activity was detected."))
            .into(),
    );
    m.insert(
        "Description".into(),
        text("description")
            .unwrap_or_else(|| format!("GuardDuty detected activity matching {kind}."))
            .into(),
    );
    m.insert(
        "SourceUrl".into(),
        format!(
            "https://{r}.console.aws.amazon.com/guardduty/home?region={r}#/findings?macros=current&fId={finding}",
            r = t.region
        )
        .into(),
    );
    let service = native.get("service");
    let service_text = |key: &str, default: &str| {
        service
            .and_then(|s| s.get(key))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_else(|| default.to_owned())
    };
    let mut fields = Map::new();
    let archived = if f.state == State::Suppressed {
        "true"
    } else {
        "false"
    };
    for (k, v) in [
        ("aws/guardduty/service/archived", archived.to_owned()),
        ("aws/guardduty/service/serviceName", "guardduty".to_owned()),
        ("aws/guardduty/service/evidence", String::new()),
        ("aws/guardduty/service/detectorId", detector),
        ("aws/guardduty/service/eventFirstSeen", wire::iso(f.created)),
        ("aws/guardduty/service/eventLastSeen", wire::iso(f.updated)),
        ("aws/guardduty/service/additionalInfo", String::new()),
        (
            "aws/guardduty/service/resourceRole",
            service_text("resourceRole", "TARGET"),
        ),
        ("aws/guardduty/service/count", service_text("count", "1")),
    ] {
        fields.insert(k.into(), v.into());
    }
    hub_fields(&mut fields, f, sh_id);
    m.insert("ProductFields".into(), Value::Object(fields));
    let resource = native
        .get("resource")
        .and_then(|r| guardduty_resource(t, r))
        .unwrap_or_else(|| {
            json!({ "Type": "Other", "Id": format!("AWS::::Account:{}", t.account), "Partition": "aws", "Region": t.region })
        });
    m.insert("Resources".into(), json!([resource]));
    workflow(&mut m, f);
    Value::Object(m)
}

/// The ASFF resource of a native GuardDuty `resource` object.
fn guardduty_resource(t: &Target, native: &Value) -> Option<Value> {
    let text = |path: &[&str]| -> Option<String> {
        let mut v = native;
        for key in path {
            v = match key.parse::<usize>() {
                Ok(i) => v.get(i)?,
                Err(_) => v.get(*key)?,
            };
        }
        v.as_str().map(str::to_owned)
    };
    let (rtype, id, details) = match native.get("resourceType")?.as_str()? {
        "Instance" => {
            let instance = text(&["instanceDetails", "instanceId"])?;
            (
                "AwsEc2Instance",
                format!("arn:aws:ec2:{}:{}:instance/{instance}", t.region, t.account),
                None,
            )
        }
        "AccessKey" => {
            let key = text(&["accessKeyDetails", "accessKeyId"])?;
            let details = json!({ "AwsIamAccessKey": {
                "PrincipalId": text(&["accessKeyDetails", "principalId"]),
                "PrincipalName": text(&["accessKeyDetails", "userName"]),
                "PrincipalType": text(&["accessKeyDetails", "userType"]),
            }});
            (
                "AwsIamAccessKey",
                format!("AWS::IAM::AccessKey:{key}"),
                Some(details),
            )
        }
        "S3Bucket" => ("AwsS3Bucket", text(&["s3BucketDetails", "0", "arn"])?, None),
        "EKSCluster" => ("AwsEksCluster", text(&["eksClusterDetails", "arn"])?, None),
        "ECSCluster" => ("AwsEcsCluster", text(&["ecsClusterDetails", "arn"])?, None),
        "RDSDBInstance" => (
            "AwsRdsDbInstance",
            text(&["rdsDbInstanceDetails", "dbInstanceArn"])?,
            None,
        ),
        "Lambda" => (
            "AwsLambdaFunction",
            text(&["lambdaDetails", "functionArn"])?,
            None,
        ),
        _ => return None,
    };
    let mut resource = json!({ "Type": rtype, "Id": id, "Partition": "aws", "Region": t.region });
    if let Some(details) = details {
        resource["Details"] = details;
    }
    Some(resource)
}

/// The ASFF `Types` entry of a GuardDuty finding type, following the GuardDuty User Guide's
/// mapping table ("Interpreting GuardDuty finding names in Security Hub"); types the table does
/// not list get its most common namespace, `TTPs`.
fn guardduty_asff_type(kind: &str) -> String {
    let purpose = kind.split(':').next().unwrap_or("");
    let family = kind.split('/').nth(1).unwrap_or("");
    let namespace = match (purpose, family) {
        ("Trojan", f) if f.starts_with("DriveBySourceTraffic") => "TTPs/Initial Access",
        ("Trojan", f) if f.starts_with("DropPoint") => "Effects/Data Exfiltration",
        ("Backdoor" | "CryptoCurrency" | "Trojan", _) => "TTPs/Command and Control",
        ("Behavior", _) => "Unusual Behaviors/VM",
        ("Recon", _) => "TTPs/Discovery",
        ("Stealth", _) => "TTPs/Defense Evasion",
        ("Persistence", _) => "TTPs/Persistence",
        ("PrivilegeEscalation", _) => "TTPs/Privilege Escalation",
        ("ResourceConsumption", _) => "Unusual Behaviors/User",
        ("Impact", _) if kind.starts_with("Impact:EC2/") => "TTPs/Impact",
        ("Policy", "BucketBlockPublicAccessDisabled") => "Effects/Data Exposure",
        ("UnauthorizedAccess", "SSHBruteForce" | "RDPBruteForce") => "TTPs/Initial Access",
        ("UnauthorizedAccess", "TorClient" | "TorRelay") => "Effects/Resource Consumption",
        ("UnauthorizedAccess", "ConsoleLogin") => "Unusual Behaviors/User",
        ("UnauthorizedAccess", "InstanceCredentialExfiltration") => "Effects/Data Exfiltration",
        ("UnauthorizedAccess", "TorIPCaller")
            if kind.starts_with("UnauthorizedAccess:IAMUser/") =>
        {
            "TTPs/Command and Control"
        }
        ("UnauthorizedAccess", "MaliciousIPCaller.Custom")
            if kind.starts_with("UnauthorizedAccess:EC2/") =>
        {
            "TTPs/Command and Control"
        }
        _ => "TTPs",
    };
    format!("{namespace}/{}", kind.replacen('/', "-", 1))
}

/// An Inspector (v2) package vulnerability as Inspector publishes it (fixture entry 4).
fn inspector_copy(t: &Target, f: &Finding) -> Value {
    const TYPE: &str = "Software and Configuration Checks/Vulnerabilities/CVE";
    let v = vulnerability(f);
    let level = severity_level(f);
    let (a, r, n) = (t.account, t.region, f.serial);
    let (mut m, sh_id) = head(t, f, &[TYPE.to_owned()]);
    observed(&mut m, f);
    created_updated(&mut m, f);
    m.insert(
        "Severity".into(),
        json!({ "Label": LABELS[level], "Normalized": NORMALIZED[level] }),
    );
    m.insert("Title".into(), format!("{} - {}", v.cve, v.package).into());
    // The same words as the native Inspector finding.
    let fix = if v.fixed.is_empty() {
        "No fixed version is available yet.".to_owned()
    } else {
        format!("Upgrade to {} or later.", v.fixed)
    };
    m.insert(
        "Description".into(),
        format!(
            "{} {} is affected by {} (CVSS {:.1}). {fix}",
            v.package, v.installed, v.cve, v.cvss
        )
        .into(),
    );
    m.insert(
        "Remediation".into(),
        json!({ "Recommendation": { "Text": "None Provided" } }),
    );
    let status = match f.state {
        State::Active => "ACTIVE",
        State::Suppressed => "SUPPRESSED",
        State::Resolved => "CLOSED",
    };
    let mut fields = Map::new();
    fields.insert("aws/inspector/FindingStatus".into(), status.into());
    fields.insert(
        "aws/inspector/inspectorScore".into(),
        format!("{:.1}", v.cvss).into(),
    );
    fields.insert("aws/inspector/ProductVersion".into(), "2".into());
    hub_fields(&mut fields, f, sh_id);
    m.insert("ProductFields".into(), Value::Object(fields));
    // Operating-system packages sit on EC2 instances, language packages in container images.
    let resource = if v.manager == "OS" {
        json!({
            "Type": "AwsEc2Instance",
            "Id": format!("arn:aws:ec2:{r}:{a}:instance/i-{}", digest_hex(&format!("ec2/{n}"), 17)),
            "Partition": "aws",
            "Region": r,
        })
    } else {
        let repository = format!("sim-app-{}", n % 11);
        let digest = format!("sha256:{}", digest_hex(&format!("image/{n}"), 64));
        json!({
            "Type": "AwsEcrContainerImage",
            "Id": format!("arn:aws:ecr:{r}:{a}:repository/{repository}/{digest}"),
            "Partition": "aws",
            "Region": r,
            "Details": { "AwsEcrContainerImage": {
                "RegistryId": a,
                "RepositoryName": repository,
                "Architecture": "amd64",
                "ImageDigest": digest,
                "ImageTags": ["latest"],
            }},
        })
    };
    m.insert("Resources".into(), json!([resource]));
    workflow(&mut m, f);
    let mut package =
        json!({ "Name": v.package, "Version": v.installed, "PackageManager": v.manager });
    if !v.fixed.is_empty() {
        package["FixedInVersion"] = v.fixed.into();
    }
    m.insert(
        "Vulnerabilities".into(),
        json!([{
            "Id": v.cve,
            "VulnerablePackages": [package],
            "Cvss": [{ "Version": "3.1", "BaseScore": v.cvss, "Source": "NVD" }],
            "Vendor": {
                "Name": "NVD",
                "Url": format!("https://nvd.nist.gov/vuln/detail/{}", v.cve),
                "VendorSeverity": v.severity,
            },
            "FixAvailable": if v.fixed.is_empty() { "NO" } else { "YES" },
        }]),
    );
    m.insert(
        "FindingProviderFields".into(),
        json!({ "Severity": { "Label": LABELS[level] }, "Types": [TYPE] }),
    );
    Value::Object(m)
}

/// A Macie finding as published to Security Hub (fixture entry 5, itself derived: see
/// `_sources.md`); title, description, severity word and resources are the native finding's
/// (`macie::render`).
fn macie_copy(t: &Target, f: &Finding) -> Value {
    let mt = macie::macie_type(f);
    let level = severity_level(f);
    let native = macie::render(t.estate, f);
    let asff_type = match mt.kind.split_once('/') {
        Some((_, "Personal" | "Multiple")) => {
            format!(
                "Sensitive Data Identifications/PII/{}",
                mt.kind.replace('/', "-")
            )
        }
        Some((_, "Financial")) => format!(
            "Sensitive Data Identifications/Financial/{}",
            mt.kind.replace('/', "-")
        ),
        Some((_, "Credentials")) => format!(
            "Sensitive Data Identifications/Passwords/{}",
            mt.kind.replace('/', "-")
        ),
        _ => format!(
            "Software and Configuration Checks/AWS Security Best Practices/{}",
            mt.kind.replace('/', "-")
        ),
    };
    let (mut m, sh_id) = head(t, f, &[asff_type]);
    created_updated(&mut m, f);
    m.insert(
        "Severity".into(),
        json!({ "Label": LABELS[level], "Original": macie::severity(f).0 }),
    );
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    m.insert(
        "Title".into(),
        text(native.get("title"))
            .unwrap_or_else(|| mt.title.to_owned())
            .into(),
    );
    m.insert(
        "Description".into(),
        text(native.get("description"))
            .unwrap_or_else(|| mt.title.to_owned())
            .into(),
    );
    let mut fields = Map::new();
    hub_fields(&mut fields, f, sh_id);
    m.insert("ProductFields".into(), Value::Object(fields));
    let affected = native.get("resourcesAffected");
    let bucket = text(affected.and_then(|a| a.pointer("/s3Bucket/name")))
        .unwrap_or_else(|| format!("sim-{}-records-{}", t.account, f.serial));
    let mut resources = vec![json!({
        "Type": "AwsS3Bucket",
        "Id": format!("arn:aws:s3:::{bucket}"),
        "Partition": "aws",
        "Region": t.region,
    })];
    if let Some(key) = text(affected.and_then(|a| a.pointer("/s3Object/key"))) {
        resources.push(json!({
            "Type": "AwsS3Object",
            "Id": format!("arn:aws:s3:::{bucket}/{key}"),
            "Partition": "aws",
            "Region": t.region,
        }));
    }
    m.insert("Resources".into(), Value::Array(resources));
    workflow(&mut m, f);
    Value::Object(m)
}

/// An Access Analyzer finding as published to Security Hub (fixture entries 6 and 7).
fn access_analyzer_copy(t: &Target, f: &Finding) -> Value {
    let kind = analyzer_type(f);
    let level = severity_level(f);
    let (resource, native_type) = accessanalyzer::resource(t.estate, t.ctx, f, kind);
    let rtype = asff_resource_type(native_type);
    let finding = accessanalyzer::finding_id(t.estate.seed, f.serial);
    let asff_type = if kind.unused {
        match kind.kind {
            "UnusedPermission" => "Unused Permission",
            "UnusedIAMRole" => "Unused IAM Role",
            "UnusedIAMUserAccessKey" => "Unused IAM User Access Key",
            "UnusedIAMUserPassword" => "Unused IAM User Password",
            _ => "Unused Access",
        }
    } else {
        "External Access Granted"
    };
    let asff_type =
        format!("Software and Configuration Checks/AWS Security Best Practices/{asff_type}");
    let (mut m, sh_id) = head(t, f, std::slice::from_ref(&asff_type));
    created_updated(&mut m, f);
    m.insert(
        "Severity".into(),
        json!({ "Product": NORMALIZED[level], "Label": LABELS[level], "Normalized": NORMALIZED[level] }),
    );
    let mut fields = Map::new();
    let (title, description, remediation, source_url) = if kind.unused {
        let (title, description) = match kind.kind {
            "UnusedPermission" => (
                format!("{rtype}/{resource}/ contains unused permissions"),
                format!(
                    "{native_type}/{resource}/ contains unused service and action-level permissions"
                ),
            ),
            "UnusedIAMUserAccessKey" => (
                format!("{rtype}/{resource}/ contains an unused access key"),
                format!("{native_type}/{resource}/ has an access key that has not been used"),
            ),
            "UnusedIAMUserPassword" => (
                format!("{rtype}/{resource}/ contains an unused password"),
                format!("{native_type}/{resource}/ has a console password that has not been used"),
            ),
            _ => (
                format!("{rtype}/{resource}/ is unused"),
                format!("{native_type}/{resource}/ has not been used"),
            ),
        };
        fields.insert("resourceOwnerAccount".into(), t.account.into());
        fields.insert("findingId".into(), finding.clone().into());
        fields.insert("findingType".into(), kind.kind.into());
        if kind.kind == "UnusedPermission" {
            fields.insert(
                "numberOfUnusedActions".into(),
                (1 + f.serial % 300).to_string().into(),
            );
            fields.insert(
                "numberOfUnusedServices".into(),
                (1 + f.serial % 20).to_string().into(),
            );
        }
        (
            title,
            description,
            "If the unused permissions aren\u{2019}t required, delete the permissions to refine access to your account. Use the IAM console to modify or remove the policy that grants the unused permissions. If all the unused permissions are removed, the status of the finding changes to Resolved.",
            format!(
                "https://{r}.console.aws.amazon.com/access-analyzer/home?region={r}#/unused-access-findings?resource={}",
                url_encode(&resource),
                r = t.region
            ),
        )
    } else {
        let (title, description) = if kind.public {
            (
                format!("{rtype}/{resource}/ allows public access"),
                format!("{native_type}/{resource}/ allows public access"),
            )
        } else {
            (
                format!("{rtype}/{resource}/ allows cross-account access"),
                format!(
                    "{native_type}/{resource}/ allows cross-account access from AWS {}",
                    accessanalyzer::cross_account_principal(t.estate, t.ctx, f)
                ),
            )
        };
        (
            title,
            description,
            "If the access isn't intended, it indicates a potential security risk. Use the console for the resource to modify or remove the policy that grants the unintended access. You can use the Rescan button on the Finding details page in the Access Analyzer console to confirm whether the change removed the access. If the access is removed, the status changes to Resolved.",
            format!(
                "https://console.aws.amazon.com/access-analyzer/home?region={}#/findings/details/{finding}",
                t.region
            ),
        )
    };
    m.insert("Title".into(), title.into());
    m.insert("Description".into(), description.into());
    m.insert(
        "Remediation".into(),
        json!({ "Recommendation": { "Text": remediation } }),
    );
    m.insert("SourceUrl".into(), source_url.into());
    hub_fields(&mut fields, f, sh_id);
    m.insert("ProductFields".into(), Value::Object(fields));
    let resource = if kind.unused {
        json!({ "Type": rtype, "Id": resource })
    } else {
        let principal = if kind.public {
            "*".to_owned()
        } else {
            accessanalyzer::cross_account_principal(t.estate, t.ctx, f)
        };
        json!({
            "Type": rtype,
            "Id": resource,
            "Details": { "Other": {
                "External Principal Type": "AWS",
                "Condition": "none",
                "Action Granted": accessanalyzer::actions(kind.kind, kind.public).join(","),
                "External Principal": principal,
            }},
        })
    };
    m.insert("Resources".into(), json!([resource]));
    workflow(&mut m, f);
    if kind.unused {
        m.insert(
            "FindingProviderFields".into(),
            json!({ "Severity": { "Label": LABELS[level] }, "Types": [asff_type] }),
        );
    }
    Value::Object(m)
}

/// Percent-encodes everything but RFC 3986's unreserved characters (for a URL's query value).
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use axum::body::Bytes;

    use super::super::testing;
    use super::*;
    use crate::sim::org::{Access, Options};

    const FIXTURE: &str = include_str!("../../../fixtures/aws/securityhub-get-findings.json");

    fn estate(seed: u64) -> Estate {
        Estate::generate(&Options {
            seed,
            accounts: 8,
            regions: 2,
            ..Options::default()
        })
    }

    fn ctx(e: &Estate, account: usize, region: usize, service: Service) -> Ctx {
        testing::ctx(e, account, region, service)
    }

    /// The first (seed, account, region) whose estate satisfies `want`: allowed accounts only.
    fn find_target(want: impl Fn(&Estate, usize, usize) -> bool) -> (Estate, usize, usize) {
        for seed in 1..200 {
            let e = estate(seed);
            for a in 0..e.accounts.len() {
                for r in 0..e.regions.len() {
                    if e.accounts[a].access == Access::Allowed && want(&e, a, r) {
                        return (e, a, r);
                    }
                }
            }
        }
        panic!("no estate has the wanted target");
    }

    /// Security Hub on, and every other service on with findings of its own.
    fn busy_target() -> (Estate, usize, usize) {
        find_target(|e, a, r| {
            e.is_enabled(a, r, Service::SecurityHub)
                && [
                    Service::GuardDuty,
                    Service::Inspector,
                    Service::Macie,
                    Service::AccessAnalyzer,
                ]
                .iter()
                .all(|&s| e.is_enabled(a, r, s) && e.target_findings(a, r, s).count() > 0)
        })
    }

    fn call(e: &Estate, c: &Ctx, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        call_with(e, c, method, path, &[], body)
    }

    fn call_with(
        e: &Estate,
        c: &Ctx,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Value,
    ) -> (StatusCode, Value) {
        let req = testing::request(method, path, query, testing::body(&body));
        let (status, bytes) = raw(handle(e, c, &req));
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn raw(response: Response) -> (StatusCode, Bytes) {
        let (status, _, body) = testing::parts(response);
        (status, body)
    }

    fn get_findings(e: &Estate, c: &Ctx, body: Value) -> (StatusCode, Value) {
        call(e, c, Method::POST, "/findings", body)
    }

    /// Every finding `body` selects, following NextToken to the end.
    fn all_pages(e: &Estate, c: &Ctx, body: Value) -> Vec<Value> {
        testing::all_pages(|b| get_findings(e, c, b), body, "Findings", "NextToken")
    }

    fn served_count(e: &Estate, a: usize, r: usize) -> usize {
        Service::ALL
            .iter()
            .map(|&s| e.target_findings(a, r, s).count())
            .sum()
    }

    #[test]
    fn describe_hub_when_enabled_and_not() {
        let (e, a, r) = busy_target();
        let c = ctx(&e, a, r, Service::SecurityHub);
        let (status, hub) = call(&e, &c, Method::GET, "/accounts", Value::Null);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            hub["HubArn"],
            format!(
                "arn:aws:securityhub:{}:{}:hub/default",
                c.region_code, c.account_id
            )
        );
        assert_eq!(hub["AutoEnableControls"], true);
        assert_eq!(hub["ControlFindingGenerator"], "SECURITY_CONTROL");
        let subscribed = wire::parse_iso(hub["SubscribedAt"].as_str().unwrap()).unwrap();
        assert!(e.findings.iter().all(|f| f.created > subscribed));

        let arn = hub["HubArn"].as_str().unwrap().to_owned();
        let q = [("HubArn", arn.as_str())];
        let (status, _) = call_with(&e, &c, Method::GET, "/accounts", &q, Value::Null);
        assert_eq!(status, StatusCode::OK);
        let q = [(
            "HubArn",
            "arn:aws:securityhub:us-east-1:999999999999:hub/default",
        )];
        let (status, err) = call_with(&e, &c, Method::GET, "/accounts", &q, Value::Null);
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(err["Code"], "ResourceNotFoundException");

        let (e, a, r) = find_target(|e, a, r| !e.is_enabled(a, r, Service::SecurityHub));
        let c = ctx(&e, a, r, Service::SecurityHub);
        for (method, path) in [(Method::GET, "/accounts"), (Method::POST, "/findings")] {
            let (status, err) = call(&e, &c, method, path, Value::Null);
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(err["Code"], "InvalidAccessException");
            assert_eq!(
                err["Message"],
                format!(
                    "Account {} is not subscribed to AWS Security Hub",
                    c.account_id
                )
            );
        }
    }

    #[test]
    fn serves_controls_and_copies_in_every_state() {
        let (e, a, r) = busy_target();
        let c = ctx(&e, a, r, Service::SecurityHub);
        let all = all_pages(&e, &c, json!({}));
        assert_eq!(all.len(), served_count(&e, a, r));
        let ids: BTreeSet<&str> = all.iter().map(|f| f["Id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), all.len(), "ids are unique");

        // Counts per product and (workflow, record state, compliance) match the estate.
        let mut got: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
        for f in &all {
            assert_eq!(f["AwsAccountId"], c.account_id);
            assert_eq!(f["Region"], c.region_code);
            let key = (
                f["ProductName"].as_str().unwrap().to_owned(),
                f["Workflow"]["Status"].as_str().unwrap().to_owned(),
                f["RecordState"].as_str().unwrap().to_owned(),
                f["Compliance"]["Status"].as_str().unwrap_or("-").to_owned(),
            );
            *got.entry(key).or_default() += 1;
            assert_eq!(
                f["ProductFields"]["aws/securityhub/FindingId"],
                format!(
                    "{}/{}",
                    f["ProductArn"].as_str().unwrap(),
                    f["Id"].as_str().unwrap()
                )
            );
        }
        let mut want: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
        for s in Service::ALL {
            for f in e.target_findings(a, r, s) {
                let own = s == Service::SecurityHub;
                let (workflow, record, compliance) = match (own, f.state) {
                    (true, State::Active) => ("NEW", "ACTIVE", "FAILED"),
                    (true, State::Suppressed) => ("SUPPRESSED", "ACTIVE", "FAILED"),
                    (true, State::Resolved) => ("RESOLVED", "ACTIVE", "PASSED"),
                    (false, State::Active) => ("NEW", "ACTIVE", "-"),
                    (false, State::Suppressed) => ("SUPPRESSED", "ACTIVE", "-"),
                    (false, State::Resolved) => ("RESOLVED", "ARCHIVED", "-"),
                };
                let key = (
                    product(s).0.to_owned(),
                    workflow.to_owned(),
                    record.to_owned(),
                    compliance.to_owned(),
                );
                *want.entry(key).or_default() += 1;
            }
        }
        assert_eq!(got, want);
        assert!(
            want.keys()
                .any(|k| k.0 == "Security Hub" && k.3 == "PASSED"),
            "the target has passed controls"
        );

        // Severity: a passed control is informational, everything else its level's label.
        let control_ids: BTreeSet<&str> = CONTROLS.iter().map(|c| c.id).collect();
        for f in all.iter().filter(|f| f["ProductName"] == "Security Hub") {
            let id = f["Compliance"]["SecurityControlId"].as_str().unwrap();
            assert!(control_ids.contains(id));
            assert_eq!(f["GeneratorId"], format!("security-control/{id}"));
            assert!(f["Id"].as_str().unwrap().starts_with(&format!(
                "arn:aws:securityhub:{}:{}:security-control/{id}/finding/",
                c.region_code, c.account_id
            )));
            if f["Compliance"]["Status"] == "PASSED" {
                assert_eq!(f["Severity"]["Label"], "INFORMATIONAL");
            } else {
                assert_ne!(f["Severity"]["Label"], "INFORMATIONAL");
            }
        }
        let detector = guardduty::detector_id(&c.account_id, &c.region_code);
        for f in all.iter().filter(|f| f["ProductName"] == "GuardDuty") {
            assert!(f["Id"].as_str().unwrap().starts_with(&format!(
                "arn:aws:guardduty:{}:{}:detector/{detector}/finding/",
                c.region_code, c.account_id
            )));
            let score = f["Severity"]["Product"].as_f64().unwrap();
            let label = match score {
                s if s >= 9.0 => "CRITICAL",
                s if s >= 7.0 => "HIGH",
                s if s >= 4.0 => "MEDIUM",
                _ => "LOW",
            };
            assert_eq!(f["Severity"]["Label"], label, "{f}");
        }
        let analyzer = Analyzer::new(false).arn(&c);
        for f in all
            .iter()
            .filter(|f| f["ProductName"] == "IAM Access Analyzer")
        {
            let id = f["Id"].as_str().unwrap();
            if let Some(native) = f["ProductFields"]["findingId"].as_str() {
                assert_eq!(native.len(), 36);
                assert!(id.contains(":analyzer/sightline-sim-unused/arn:aws:iam::"));
            } else {
                assert_eq!(
                    id,
                    format!("{analyzer}/{}", f["Resources"][0]["Id"].as_str().unwrap())
                );
            }
        }
    }

    #[test]
    fn pages_visit_every_finding_once_in_order() {
        let (e, a, r) = busy_target();
        let c = ctx(&e, a, r, Service::SecurityHub);
        let total = served_count(&e, a, r);
        for (order, max) in [("asc", 7), ("desc", 100), ("asc", 1)] {
            let body = json!({
                "SortCriteria": [{ "Field": "UpdatedAt", "SortOrder": order }],
                "MaxResults": max,
            });
            let (_, first) = get_findings(&e, &c, body.clone());
            assert_eq!(first["Findings"].as_array().unwrap().len(), max.min(total));
            let all = all_pages(&e, &c, body);
            assert_eq!(all.len(), total);
            let ids: BTreeSet<&str> = all.iter().map(|f| f["Id"].as_str().unwrap()).collect();
            assert_eq!(ids.len(), total, "every finding exactly once");
            let times: Vec<i64> = all
                .iter()
                .map(|f| wire::parse_iso(f["UpdatedAt"].as_str().unwrap()).unwrap())
                .collect();
            let sorted = times.windows(2).all(|w| {
                if order == "asc" {
                    w[0] <= w[1]
                } else {
                    w[0] >= w[1]
                }
            });
            assert!(sorted, "{order}");
        }
        // The default order is UpdatedAt descending; the last page has no NextToken.
        let (_, page) = get_findings(&e, &c, json!({ "MaxResults": 100 }));
        let first = page["Findings"][0]["UpdatedAt"]
            .as_str()
            .unwrap()
            .to_owned();
        let newest = Service::ALL
            .iter()
            .flat_map(|&s| e.target_findings(a, r, s))
            .map(|f| f.updated)
            .max()
            .unwrap();
        assert_eq!(first, wire::iso(newest));
        let (_, beyond) = get_findings(&e, &c, json!({ "NextToken": wire::encode_token(total) }));
        assert_eq!(beyond["Findings"].as_array().unwrap().len(), 0);
        assert!(beyond.get("NextToken").is_none());
    }

    #[test]
    fn filters_select_what_they_say() {
        let (e, a, r) = busy_target();
        let c = ctx(&e, a, r, Service::SecurityHub);
        let findings: Vec<&Finding> = Service::ALL
            .iter()
            .flat_map(|&s| e.target_findings(a, r, s))
            .collect();
        let count = |filters: Value| {
            all_pages(&e, &c, json!({ "Filters": filters, "MaxResults": 50 })).len()
        };

        // UpdatedAt: Start/End (inclusive), and DateRange in days back from the virtual clock.
        let mut times: Vec<i64> = findings.iter().map(|f| f.updated).collect();
        times.sort_unstable();
        let mid = times[times.len() / 2];
        let since = findings.iter().filter(|f| f.updated >= mid).count();
        assert_eq!(
            count(json!({ "UpdatedAt": [{ "Start": wire::iso(mid), "End": wire::iso(e.now) }] })),
            since
        );
        assert_eq!(
            count(json!({ "UpdatedAt": [{ "Start": wire::iso(mid) }] })),
            since
        );
        assert_eq!(
            count(json!({ "UpdatedAt": [{ "End": wire::iso(mid - 1) }] })),
            findings.len() - since
        );
        let week = findings
            .iter()
            .filter(|f| f.updated >= e.now - 7 * DAY)
            .count();
        assert_eq!(
            count(json!({ "UpdatedAt": [{ "DateRange": { "Value": 7, "Unit": "DAYS" } }] })),
            week
        );
        assert_eq!(
            count(
                json!({ "UpdatedAt": [{ "DateRange": { "Value": 7, "Unit": "DAYS", "Comparison": "OLDER_THAN" } }] })
            ),
            findings.len() - week
        );
        let created = findings.iter().filter(|f| f.created >= mid).count();
        assert_eq!(
            count(json!({ "CreatedAt": [{ "Start": wire::iso(mid) }] })),
            created
        );

        // RecordState and WorkflowStatus.
        let archived = findings
            .iter()
            .filter(|f| f.service != Service::SecurityHub && f.state == State::Resolved)
            .count();
        assert!(archived > 0);
        assert_eq!(
            count(json!({ "RecordState": [{ "Value": "ARCHIVED", "Comparison": "EQUALS" }] })),
            archived
        );
        let open = findings.iter().filter(|f| f.state == State::Active).count();
        assert_eq!(
            count(json!({ "WorkflowStatus": [{ "Value": "NEW", "Comparison": "EQUALS" }] })),
            open
        );
        // Several NOT_EQUALS on one attribute: all must hold.
        assert_eq!(
            count(json!({ "WorkflowStatus": [
                { "Value": "SUPPRESSED", "Comparison": "NOT_EQUALS" },
                { "Value": "RESOLVED", "Comparison": "NOT_EQUALS" },
            ] })),
            open
        );
        // Several EQUALS on one attribute: any may hold.
        let gd_or_macie = findings
            .iter()
            .filter(|f| matches!(f.service, Service::GuardDuty | Service::Macie))
            .count();
        assert_eq!(
            count(json!({ "ProductName": [
                { "Value": "GuardDuty", "Comparison": "EQUALS" },
                { "Value": "Macie", "Comparison": "EQUALS" },
            ] })),
            gd_or_macie
        );
        let own = e.target_findings(a, r, Service::SecurityHub).count();
        assert_eq!(
            count(json!({ "ProductName": [{ "Value": "Security Hub", "Comparison": "EQUALS" }] })),
            own
        );
        assert_eq!(
            count(
                json!({ "ProductName": [{ "Value": "Security Hub", "Comparison": "NOT_EQUALS" }] })
            ),
            findings.len() - own
        );
        assert_eq!(
            count(json!({ "AwsAccountId": [{ "Value": c.account_id, "Comparison": "EQUALS" }] })),
            findings.len()
        );
        assert_eq!(
            count(
                json!({ "AwsAccountId": [{ "Value": c.account_id, "Comparison": "NOT_EQUALS" }] })
            ),
            0
        );
        // Attributes combine with AND.
        let open_controls = e
            .target_findings(a, r, Service::SecurityHub)
            .filter(|f| f.state == State::Active)
            .count();
        assert_eq!(
            count(json!({
                "ProductName": [{ "Value": "Security Hub", "Comparison": "EQUALS" }],
                "WorkflowStatus": [{ "Value": "NEW", "Comparison": "EQUALS" }],
                "ComplianceStatus": [{ "Value": "FAILED", "Comparison": "EQUALS" }],
            })),
            open_controls
        );
        // One finding by its Id.
        let one = all_pages(&e, &c, json!({}))[3].clone();
        let by_id = all_pages(
            &e,
            &c,
            json!({ "Filters": { "Id": [{ "Value": one["Id"], "Comparison": "EQUALS" }] } }),
        );
        assert_eq!(by_id, vec![one]);
    }

    #[test]
    fn bad_input_is_invalid_input() {
        let (e, a, r) = busy_target();
        let c = ctx(&e, a, r, Service::SecurityHub);
        for body in [
            json!({ "MaxResults": 0 }),
            json!({ "MaxResults": 101 }),
            json!({ "MaxResults": "ten" }),
            json!({ "NextToken": "garbage" }),
            json!({ "Filters": [] }),
            json!({ "Filters": { "Title": [{ "Value": "x", "Comparison": "EQUALS" }] } }),
            json!({ "Filters": { "ProductName": [{ "Value": "x", "Comparison": "LIKE" }] } }),
            json!({ "Filters": { "ProductName": [{ "Value": "x" }] } }),
            json!({ "Filters": { "ProductName": [
                { "Value": "x", "Comparison": "EQUALS" },
                { "Value": "y", "Comparison": "NOT_EQUALS" },
            ] } }),
            json!({ "Filters": { "UpdatedAt": [{}] } }),
            json!({ "Filters": { "UpdatedAt": [{ "Start": "yesterday" }] } }),
            json!({ "Filters": { "UpdatedAt": [{ "DateRange": { "Value": 3, "Unit": "WEEKS" } }] } }),
            json!({ "SortCriteria": [{ "Field": "UpdatedAt", "SortOrder": "up" }] }),
            json!({ "SortCriteria": [{ "Field": "Title", "SortOrder": "asc" }] }),
        ] {
            let (status, err) = get_findings(&e, &c, body.clone());
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(err["Code"], "InvalidInputException", "{body}");
            assert!(!err["Message"].as_str().unwrap().is_empty());
        }
        let req = testing::request(Method::POST, "/findings", &[], "{not json");
        let (status, _) = raw(handle(&e, &c, &req));
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let (status, err) = call(&e, &c, Method::POST, "/findingsv2", json!({}));
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(err["__type"], "UnknownOperationException");
        let (status, _) = call(&e, &c, Method::GET, "/findings", Value::Null);
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn same_estate_same_bytes() {
        let (e1, a, r) = busy_target();
        let e2 = estate(e1.seed);
        let c = ctx(&e1, a, r, Service::SecurityHub);
        let body = json!({ "MaxResults": 100 });
        let req = testing::request(Method::POST, "/findings", &[], body.to_string());
        assert_eq!(raw(handle(&e1, &c, &req)).1, raw(handle(&e2, &c, &req)).1);
    }

    /// Keys of `ours` that the fixture entry does not have at the same place. Free-form maps
    /// (`ProductFields`, resource `Details`) are not compared.
    fn unknown_keys(ours: &Value, fixture: &Value, path: &str, out: &mut Vec<String>) {
        match (ours, fixture) {
            (Value::Object(o), Value::Object(f)) => {
                for (k, v) in o {
                    let here = format!("{path}.{k}");
                    match f.get(k) {
                        None => out.push(here),
                        Some(_) if k == "ProductFields" || k == "Details" => {}
                        Some(fv) => unknown_keys(v, fv, &here, out),
                    }
                }
            }
            (Value::Array(o), Value::Array(f)) => {
                if let Some(first) = f.first() {
                    for v in o {
                        unknown_keys(v, first, &format!("{path}[]"), out);
                    }
                }
            }
            _ => {}
        }
    }

    #[test]
    fn findings_are_shaped_like_the_fixture() {
        let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
        let entries = fixture["Findings"].as_array().unwrap();
        // Model members the fixture's examples happen not to carry (checked against the SDK's
        // deserializers: SoftwarePackage, Vulnerability).
        let allowed = [
            ".Vulnerabilities[].VulnerablePackages[].PackageManager",
            ".Vulnerabilities[].VulnerablePackages[].FixedInVersion",
            ".Vulnerabilities[].FixAvailable",
            ".Vulnerabilities[].Cvss[].Source",
        ];
        let (e, a, r) = busy_target();
        let c = ctx(&e, a, r, Service::SecurityHub);
        let all = all_pages(&e, &c, json!({}));
        let mut seen = BTreeSet::new();
        for f in &all {
            let entry = match f["ProductName"].as_str().unwrap() {
                "Security Hub" => 1,
                "GuardDuty" => 3,
                "Inspector" => 4,
                "Macie" => 5,
                _ if f["ProductFields"].get("findingId").is_some() => 7,
                _ => 6,
            };
            seen.insert(entry);
            let mut extra = Vec::new();
            unknown_keys(f, &entries[entry], "", &mut extra);
            extra.retain(|k| !allowed.contains(&k.as_str()));
            assert!(extra.is_empty(), "entry {entry}: {extra:?} in {f}");
            // ASFF's required members.
            for key in [
                "SchemaVersion",
                "Id",
                "ProductArn",
                "GeneratorId",
                "AwsAccountId",
                "Types",
                "CreatedAt",
                "UpdatedAt",
                "Severity",
                "Title",
                "Description",
                "Resources",
            ] {
                assert!(f.get(key).is_some(), "{key} missing in {f}");
            }
            for key in ["CreatedAt", "UpdatedAt"] {
                assert!(wire::parse_iso(f[key].as_str().unwrap()).is_some());
            }
            let label = f["Severity"]["Label"].as_str().unwrap();
            assert!(LABELS.contains(&label), "{label}");
        }
        assert_eq!(seen.len(), 5, "controls and the four products: {seen:?}");
    }

    /// Pages through a native service's list operation and collects one string per item.
    fn native_ids(
        e: &Estate,
        c: &Ctx,
        handler: wire::Handler,
        path: &str,
        mut body: Value,
        list: &str,
        pick: impl Fn(&Value) -> String,
    ) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for _ in 0..1_000 {
            let req = testing::request(Method::POST, path, &[], body.to_string());
            let (status, bytes) = raw(handler(e, c, &req));
            let page: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(status, StatusCode::OK, "{path}: {page}");
            out.extend(page[list].as_array().unwrap().iter().map(&pick));
            match page.get("nextToken").filter(|t| !t.is_null() && *t != "") {
                Some(token) => body["nextToken"] = token.clone(),
                None => return out,
            }
        }
        panic!("{path}: paging never ended");
    }

    #[test]
    fn copies_carry_the_native_ids() {
        let (e, a, r) = busy_target();
        let c = ctx(&e, a, r, Service::SecurityHub);
        let all = all_pages(&e, &c, json!({}));
        // Copies of findings the native service still serves (GuardDuty and Macie forget
        // resolved ones; Inspector keeps them CLOSED).
        let copies = |product: &str, with_archived: bool| -> BTreeSet<String> {
            all.iter()
                .filter(|f| f["ProductName"] == product)
                .filter(|f| with_archived || f["RecordState"] == "ACTIVE")
                .map(|f| f["Id"].as_str().unwrap().to_owned())
                .collect()
        };
        let gd = ctx(&e, a, r, Service::GuardDuty);
        let detector = guardduty::detector_id(&gd.account_id, &gd.region_code);
        let native = native_ids(
            &e,
            &gd,
            guardduty::handle,
            &format!("/detector/{detector}/findings"),
            json!({}),
            "findingIds",
            |v| {
                format!(
                    "arn:aws:guardduty:{}:{}:detector/{detector}/finding/{}",
                    gd.region_code,
                    gd.account_id,
                    v.as_str().unwrap()
                )
            },
        );
        assert!(!native.is_empty());
        assert_eq!(native, copies("GuardDuty", false));

        let mc = ctx(&e, a, r, Service::Macie);
        let native = native_ids(
            &e,
            &mc,
            macie::handle,
            "/findings",
            json!({}),
            "findingIds",
            |v| v.as_str().unwrap().to_owned(),
        );
        assert!(!native.is_empty());
        assert_eq!(native, copies("Macie", false));

        let ins = ctx(&e, a, r, Service::Inspector);
        let native = native_ids(
            &e,
            &ins,
            super::super::inspector::handle,
            "/findings/list",
            json!({}),
            "findings",
            |v| v["findingArn"].as_str().unwrap().to_owned(),
        );
        assert!(!native.is_empty());
        assert_eq!(native, copies("Inspector", true));

        // Access Analyzer: external access by analyzer and resource, unused access by id.
        let aa = ctx(&e, a, r, Service::AccessAnalyzer);
        let mut native = BTreeSet::new();
        for unused in [false, true] {
            let analyzer = Analyzer::new(unused).arn(&aa);
            native.extend(native_ids(
                &e,
                &aa,
                super::super::accessanalyzer::handle,
                "/findingv2",
                json!({ "analyzerArn": analyzer }),
                "findings",
                |v| {
                    if unused {
                        v["id"].as_str().unwrap().to_owned()
                    } else {
                        format!("{analyzer}/{}", v["resource"].as_str().unwrap())
                    }
                },
            ));
        }
        let ours: BTreeSet<String> = all
            .iter()
            .filter(|f| f["ProductName"] == "IAM Access Analyzer")
            .map(|f| match f["ProductFields"].get("findingId") {
                Some(id) => id.as_str().unwrap().to_owned(),
                None => f["Id"].as_str().unwrap().to_owned(),
            })
            .collect();
        assert!(!native.is_empty());
        assert_eq!(native, ours);
    }
}
