//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' annotations and the
//! response types' doc comments, and `/api/docs`, a reference page rendered from it on the
//! server (no script, nothing fetched from elsewhere).

use askama::Template;
use axum::Json;
use axum::response::Response;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::web::error::PageError;
use crate::web::{Chrome, Viewer, render};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sightline API",
        description = "Read the security posture Sightline keeps: findings from Security Hub, GuardDuty, Inspector, Macie and IAM Access Analyzer in every account and region, their history, coverage, the audit-trail baseline and the poller's runs.\n\nEvery `/api/v1` route needs `Authorization: Bearer <token>`; create one with `sightline token create --name NAME`. Errors answer `{\"error\": {\"code\", \"message\"}}` with 400, 401 or 404. Lists answer `{\"items\": […], \"next_cursor\"}`: pass `next_cursor` back as `cursor` until it is `null`.",
        version = "1"
    ),
    paths(
        super::findings::list_findings,
        super::findings::show_finding,
        super::accounts::list_accounts,
        super::accounts::show_account,
        super::accounts::list_regions,
        super::stats::open_stats,
        super::coverage::list_coverage,
        super::baseline::show_baseline,
        super::poll_runs::list_poll_runs,
        super::trends::show_open_trend,
        super::trends::show_flow_trend,
        super::trends::show_mttr,
        super::trends::list_sla_breaches,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "findings", description = "Canonical findings: one per real-world finding, however many services reported it"),
        (name = "posture", description = "Counts and coverage"),
        (name = "baseline", description = "The audit-trail baseline: ten checks of each account's CloudTrail, log archive, service control policies and coverage"),
        (name = "poller", description = "What the poller did"),
        (name = "trends", description = "History: open findings over time, new vs resolved, time to resolve, SLA breaches"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from `sightline token create`"))
                    .build(),
            ),
        );
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

struct DocParam {
    name: String,
    location: String,
    required: bool,
    description: String,
}

struct DocResponse {
    status: String,
    description: String,
    schema: String,
}

struct DocOperation {
    method: String,
    path: String,
    anchor: String,
    summary: String,
    description: String,
    params: Vec<DocParam>,
    responses: Vec<DocResponse>,
}

struct DocField {
    name: String,
    kind: String,
    description: String,
}

struct DocSchema {
    name: String,
    description: String,
    fields: Vec<DocField>,
}

/// A piece of a paragraph: text, or `code` (between backticks in the description).
struct Span {
    code: bool,
    text: String,
}

/// Paragraphs of the description, with `code` spans.
fn paragraphs(text: &str) -> Vec<Vec<Span>> {
    text.split("\n\n")
        .map(|p| {
            p.split('`')
                .enumerate()
                .filter(|(_, t)| !t.is_empty())
                .map(|(i, t)| Span {
                    code: i % 2 == 1,
                    text: t.to_owned(),
                })
                .collect()
        })
        .collect()
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct ApiDocsPage {
    chrome: Chrome,
    title: String,
    description: Vec<Vec<Span>>,
    operations: Vec<DocOperation>,
    schemas: Vec<DocSchema>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

/// A schema's type, for people: `string`, `array of FindingResponse`, `string | null`.
fn type_name(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    if let Some(all) = schema
        .get("oneOf")
        .or_else(|| schema.get("allOf"))
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
    {
        return all.iter().map(type_name).collect::<Vec<_>>().join(" | ");
    }
    let base = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "object".to_owned(),
    };
    let base = if base.starts_with("array") {
        let item = schema.get("items").map(type_name).unwrap_or_default();
        base.replacen("array", &format!("array of {item}"), 1)
    } else {
        base
    };
    match schema.get("format").and_then(Value::as_str) {
        Some(f) => format!("{base} ({f})"),
        None => base,
    }
}

/// `GET /api/docs`: the API reference, rendered from the OpenAPI document.
pub async fn show_api_docs(viewer: Viewer) -> Result<Response, PageError> {
    let doc = serde_json::to_value(ApiDoc::openapi())
        .map_err(|e| PageError::BadRequest(format!("the API document could not be built: {e}")))?;
    let mut operations = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in ["get", "post", "put", "delete"] {
                let Some(op) = item.get(method) else { continue };
                let params = op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .map(|ps| {
                        ps.iter()
                            .map(|p| DocParam {
                                name: text(p, "name"),
                                location: text(p, "in"),
                                required: p
                                    .get("required")
                                    .and_then(Value::as_bool)
                                    .unwrap_or(false),
                                description: text(p, "description"),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let responses = op
                    .get("responses")
                    .and_then(Value::as_object)
                    .map(|rs| {
                        rs.iter()
                            .map(|(status, r)| DocResponse {
                                status: status.clone(),
                                description: text(r, "description"),
                                schema: r
                                    .pointer("/content/application~1json/schema")
                                    .map(type_name)
                                    .unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                operations.push(DocOperation {
                    method: method.to_uppercase(),
                    anchor: format!("{method}{}", path.replace(['/', '{', '}'], "-")),
                    path: path.clone(),
                    summary: text(op, "summary"),
                    description: text(op, "description"),
                    params,
                    responses,
                });
            }
        }
    }
    let mut schemas = Vec::new();
    if let Some(all) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, s) in all {
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let fields = s
                .get("properties")
                .and_then(Value::as_object)
                .map(|props| {
                    props
                        .iter()
                        .map(|(field, p)| DocField {
                            name: field.clone(),
                            kind: format!(
                                "{}{}",
                                type_name(p),
                                if required.contains(&field.as_str()) {
                                    ""
                                } else {
                                    ", optional"
                                }
                            ),
                            description: text(p, "description"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            schemas.push(DocSchema {
                name: name.clone(),
                description: text(s, "description"),
                fields,
            });
        }
    }
    render(&ApiDocsPage {
        chrome: Chrome::for_viewer("", viewer),
        title: doc
            .pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or("API")
            .to_owned(),
        description: paragraphs(
            doc.pointer("/info/description")
                .and_then(Value::as_str)
                .unwrap_or(""),
        ),
        operations,
        schemas,
    })
}
