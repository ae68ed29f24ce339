//! The API's OpenAPI 3.1 document, derived from the route declarations ([`super::api::ROUTES`])
//! and the contract types the handlers read and write, never from the synthesized template.
//!
//! [`generate`] is generic: any routes, any servers. Request bodies are described as the types
//! deserialize and answers as they serialize (schemars' two contracts), both in JSON Schema
//! 2020-12, which OpenAPI 3.1 uses; named types go to `components.schemas` and are referred to
//! with `$ref`. Every error status has the `ApiError` body with `code` narrowed to the codes the
//! route can answer with at that status ([`Route::error_replies`], plus the gateway's own 5xx
//! answers). The API key is one `apiKey` security scheme (header `x-api-key`), required by
//! exactly the routes declared with `api_key`.
//!
//! [`document`] is the order system's document of one environment; `cargo xtask synth` writes it
//! beside the template as `orders-<env>.openapi.json`.

use std::collections::BTreeMap;

use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use super::api::{API_KEY_HEADER, GATEWAY_RESPONSES, ROUTES};
use super::{APP, Env};
use crate::contract::api::{ApiError, ErrorCode, RETRY_AFTER_SECONDS};
use crate::decl::route::{ErrorReply, TypeSchema};
use crate::decl::{Method, Route};

/// The OpenAPI version of the documents.
pub const OPENAPI_VERSION: &str = "3.1.0";
/// The name of the API key's security scheme.
pub const API_KEY_SCHEME: &str = "ApiKey";
/// Where `cargo xtask dev` serves the API unless told otherwise (`--port`).
pub const LOCAL_PORT: u16 = 3000;
/// The prefix of every `$ref` to a shared schema.
pub const SCHEMA_REF_PREFIX: &str = "#/components/schemas/";
/// The prefix of every `$ref` to a shared response (the error answers).
pub const RESPONSE_REF_PREFIX: &str = "#/components/responses/";

/// A server the document names, with its URL template's variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    pub url: String,
    pub description: String,
    /// `(name, default, description)` of each `{variable}` in the URL.
    pub variables: Vec<(String, String, String)>,
}

impl Server {
    /// The local API of `cargo xtask dev` at `url`.
    pub fn local(url: &str) -> Server {
        Server {
            url: url.to_owned(),
            description: "The local system of `cargo xtask dev` (the API key it prints)".into(),
            variables: Vec::new(),
        }
    }

    /// The deployed stage of an environment: `https://{restApiId}.execute-api.{region}.amazonaws.com/<stage>`,
    /// as the stack's `ApiUrl` output gives it.
    pub fn stage(env: Env) -> Server {
        Server {
            url: format!(
                "https://{{restApiId}}.execute-api.{{region}}.amazonaws.com/{}",
                env.name()
            ),
            description: format!(
                "The {env} stage on AWS: the {} output of `cargo xtask outputs --env {env}`",
                super::api::URL_OUTPUT
            ),
            variables: vec![
                (
                    "restApiId".into(),
                    "restApiId".into(),
                    "The REST API's id, the first label of the ApiUrl output".into(),
                ),
                (
                    "region".into(),
                    "us-east-1".into(),
                    "The AWS region the stack is deployed in".into(),
                ),
            ],
        }
    }

    fn to_value(&self) -> Value {
        let mut s = json!({"url": self.url, "description": self.description});
        if !self.variables.is_empty() {
            let vars: Map<String, Value> = self
                .variables
                .iter()
                .map(|(name, default, description)| {
                    (
                        name.clone(),
                        json!({"default": default, "description": description}),
                    )
                })
                .collect();
            s["variables"] = Value::Object(vars);
        }
        s
    }
}

/// What a document says besides its routes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiInfo {
    pub title: String,
    pub version: String,
    pub description: String,
    /// An SPDX license expression.
    pub license: String,
    pub servers: Vec<Server>,
}

/// Why a document cannot be generated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenApiError {
    /// Two different types share a schema name, or a request type's schema differs from its
    /// answer's: `components.schemas` can hold one of them only.
    #[error(
        "two different schemas are named {0} (request and response contracts, or two types): rename one with #[schemars(rename = \"...\")]"
    )]
    SchemaNameClash(String),
    /// A route declares two answers with one status.
    #[error("{0} declares status {1} twice")]
    DuplicateStatus(String, u16),
}

/// The document of the order system's API in one environment: its stage on AWS and, for dev,
/// the local API of `cargo xtask dev`.
pub fn document(env: Env) -> Result<Value, OpenApiError> {
    let mut servers = vec![Server::stage(env)];
    if env == Env::Dev {
        servers.push(Server::local(&format!("http://127.0.0.1:{LOCAL_PORT}")));
    }
    generate(&info(env, servers), ROUTES, &gateway_failures())
}

/// The order system's [`ApiInfo`] for an environment, with these servers.
pub fn info(env: Env, servers: Vec<Server>) -> ApiInfo {
    ApiInfo {
        title: format!("{APP} API ({env})"),
        version: env!("CARGO_PKG_VERSION").into(),
        description: format!(
            "The order-processing backend's REST API, {env} environment. All bodies are JSON. Every \
             error answers `ApiError`, `{{\"code\", \"message\", \"requestId\"}}`: a stable code and a \
             message that names the field and the rule. Orders and inventory need the API key in the \
             `{API_KEY_HEADER}` header; health and sign-up are public. Written by `cargo xtask synth` \
             from the route declarations (infra-model/src/system/api.rs): do not edit."
        ),
        license: env!("CARGO_PKG_LICENSE").into(),
        servers,
    }
}

/// The answers API Gateway gives itself that any route can meet: a 5xx (a function that failed
/// or timed out) and 413 for a request over its size quotas (the request line and headers are
/// limited too, not only bodies): `(status, code)`.
pub fn gateway_failures() -> Vec<(u16, ErrorCode)> {
    GATEWAY_RESPONSES
        .iter()
        .filter(|g| g.status() >= 500 || g.kind == "REQUEST_TOO_LARGE")
        .map(|g| (g.status(), g.code))
        .collect()
}

/// The OpenAPI 3.1 document of `routes`. `gateway_errors` are answers that any route can meet
/// besides its own (`(status, code)`).
pub fn generate(
    info: &ApiInfo,
    routes: &[Route],
    gateway_errors: &[(u16, ErrorCode)],
) -> Result<Value, OpenApiError> {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = SCHEMA_REF_PREFIX.trim_start_matches('#').into();
        s.meta_schema = None;
    });
    let mut schemas = Schemas {
        requests: settings.clone().for_deserialize().into_generator(),
        answers: settings.for_serialize().into_generator(),
    };
    let error_schema = TypeSchema::of::<ApiError>();
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    let mut shared_responses = BTreeMap::new();
    for route in routes {
        let operation = operation(
            route,
            routes,
            gateway_errors,
            &error_schema,
            &mut schemas,
            &mut shared_responses,
        )?;
        paths
            .entry(route.path)
            .or_default()
            .insert(route.method.as_str().to_ascii_lowercase(), operation);
    }
    let mut tags: BTreeMap<&str, &str> = BTreeMap::new();
    for r in routes {
        tags.insert(r.function.name, r.function.description);
    }
    let doc = json!({
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": info.title,
            "version": info.version,
            "description": info.description,
            "license": {"name": info.license, "identifier": info.license},
        },
        "servers": info.servers.iter().map(Server::to_value).collect::<Vec<_>>(),
        "tags": tags.iter().map(|(name, description)| json!({
            "name": name,
            "description": format!("The {name} function: {description}"),
        })).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas.into_definitions()?,
            "responses": shared_responses,
            "securitySchemes": {
                API_KEY_SCHEME: {
                    "type": "apiKey",
                    "in": "header",
                    "name": API_KEY_HEADER,
                    "description": "The API key of the stage's usage plan (`cargo xtask dev` prints its own)",
                },
            },
        },
    });
    Ok(crate::cfn::sorted(doc))
}

/// The two schema generators: requests as they deserialize, answers as they serialize.
struct Schemas {
    requests: SchemaGenerator,
    answers: SchemaGenerator,
}

impl Schemas {
    /// One `components.schemas` from both; a name both hold must mean the same schema.
    fn into_definitions(mut self) -> Result<Map<String, Value>, OpenApiError> {
        let mut all = self.answers.take_definitions(true);
        for (name, schema) in self.requests.take_definitions(true) {
            match all.get(&name) {
                Some(existing) if *existing != schema => return Err(OpenApiError::SchemaNameClash(name)),
                Some(_) => {}
                None => {
                    all.insert(name, schema);
                }
            }
        }
        Ok(all)
    }
}

fn operation(
    route: &Route,
    routes: &[Route],
    gateway_errors: &[(u16, ErrorCode)],
    error_schema: &TypeSchema,
    schemas: &mut Schemas,
    shared: &mut BTreeMap<String, Value>,
) -> Result<Value, OpenApiError> {
    let mut op = json!({
        "operationId": route.operation.id(),
        "summary": route.summary,
        "tags": [route.function.name],
    });
    let parameters: Vec<Value> = route
        .params()
        .map(|(location, p)| {
            json!({
                "name": p.name,
                "in": location.as_str(),
                "required": location.required(),
                "description": p.description,
                "schema": p.schema.json_schema(),
            })
        })
        .collect();
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = route.body {
        op["requestBody"] = json!({
            "required": true,
            "description": body.description,
            "content": {"application/json": {"schema": body.typed.subschema(&mut schemas.requests)}},
        });
    }
    let label = format!("{} {}", route.method, route.path);
    let mut own: BTreeMap<u16, (&str, Value)> = BTreeMap::new();
    for reply in route.replies {
        let schema = reply.body.subschema(&mut schemas.answers).to_value();
        if own.insert(reply.status, (reply.description, schema)).is_some() {
            return Err(OpenApiError::DuplicateStatus(label, reply.status));
        }
    }
    let error_ref = error_schema.subschema(&mut schemas.answers).to_value();
    let mut responses = Map::new();
    for e in with_gateway_errors(route.error_replies(), gateway_errors) {
        let codes: Vec<&str> = e.codes.iter().map(|c| c.as_str()).collect();
        let schema = json!({"allOf": [error_ref, {"properties": {"code": {"enum": codes}}}]});
        let description = format!("{}: {}", reason(e.status), codes.join(" or "));
        match own.remove(&e.status) {
            // A status the route also answers in its own body: either body.
            Some((own_description, own_schema)) => {
                responses.insert(
                    e.status.to_string(),
                    response(
                        &format!("{own_description}; or, in the error format, {description}"),
                        json!({"anyOf": [own_schema, schema]}),
                    ),
                );
            }
            None => {
                let name = error_response_name(&e);
                let mut shared_response = response(&description, schema);
                if e.status == 503 {
                    with_retry_after(&mut shared_response);
                }
                shared.insert(name.clone(), shared_response);
                responses.insert(
                    e.status.to_string(),
                    json!({"$ref": format!("{RESPONSE_REF_PREFIX}{name}")}),
                );
            }
        }
    }
    for (status, (description, schema)) in own {
        let mut r = response(description, schema);
        let links = links(route, status, routes, &schemas.answers);
        if !links.is_empty() {
            r["links"] = Value::Object(links);
        }
        responses.insert(status.to_string(), r);
    }
    for (status, r) in responses.iter_mut() {
        if status == "503" && r.get("$ref").is_none() {
            with_retry_after(r);
        }
    }
    op["responses"] = Value::Object(responses);
    if route.api_key {
        op["security"] = json!([{API_KEY_SCHEME: []}]);
    }
    Ok(op)
}

/// The links of a success answer of a route that changes something (not a GET): to every GET
/// route whose path parameters are all properties of the answer's body (`POST /orders` answers
/// `orderId`, which `GET /orders/{orderId}` takes). Clients and fuzzers follow them to the
/// resource just made.
fn links(route: &Route, status: u16, routes: &[Route], answers: &SchemaGenerator) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(reply) = route.replies.iter().find(|r| r.status == status) else {
        return out;
    };
    if route.method == Method::Get || !(200..300).contains(&status) {
        return out;
    }
    let definitions = answers.definitions();
    let Some(properties) = definitions
        .get(reply.body.name().as_ref())
        .and_then(|d| d.get("properties"))
        .and_then(Value::as_object)
    else {
        return out;
    };
    for target in routes.iter().filter(|t| t.method == Method::Get) {
        let names = target.path_param_names();
        if names.is_empty() || !names.iter().all(|n| properties.contains_key(*n)) {
            continue;
        }
        let parameters: Map<String, Value> = names
            .iter()
            .map(|n| ((*n).to_owned(), json!(format!("$response.body#/{n}"))))
            .collect();
        out.insert(
            target.operation.id().to_owned(),
            json!({
                "operationId": target.operation.id(),
                "parameters": parameters,
                "description": format!("{} {}: {}", target.method, target.path, target.summary),
            }),
        );
    }
    out
}

/// A 503 says when to retry: `Retry-After`, in seconds ([`RETRY_AFTER_SECONDS`]).
fn with_retry_after(response: &mut Value) {
    response["headers"] = json!({"Retry-After": {
        "description": format!("Seconds to wait before retrying ({RETRY_AFTER_SECONDS})"),
        "schema": {"type": "integer", "minimum": 0},
    }});
}

fn response(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// The name of an error answer in `components.responses`: its status and codes
/// (`Error400MalformedJsonValidationFailed`).
fn error_response_name(e: &ErrorReply) -> String {
    let mut name = format!("Error{}", e.status);
    for code in &e.codes {
        for word in code.as_str().split('_') {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                name.push(first);
                name.extend(chars.map(|c| c.to_ascii_lowercase()));
            }
        }
    }
    name
}

/// The route's error replies with the gateway's own answers merged in.
fn with_gateway_errors(mut replies: Vec<ErrorReply>, gateway: &[(u16, ErrorCode)]) -> Vec<ErrorReply> {
    for &(status, code) in gateway {
        match replies.iter_mut().find(|r| r.status == status) {
            Some(r) if r.codes.contains(&code) => {}
            Some(r) => r.codes.push(code),
            None => replies.push(ErrorReply {
                status,
                codes: vec![code],
            }),
        }
    }
    replies.sort_by_key(|r| r.status);
    replies
}

/// The reason phrase of an error status.
fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad request",
        403 => "Forbidden",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict",
        413 => "Payload too large",
        415 => "Unsupported media type",
        422 => "Unprocessable content",
        429 => "Too many requests",
        500 => "Internal error",
        502 => "Bad gateway",
        503 => "Service unavailable",
        504 => "Gateway timeout",
        _ => "Error",
    }
}

/// A document as written to disk: pretty JSON with a final newline, every object's keys in
/// sorted order whatever map serde_json was built with (its `preserve_order` feature keeps
/// insertion order) and however the document was built: the same document, the same bytes.
pub fn to_json(doc: &Value) -> String {
    let mut s = serde_json::to_string_pretty(&crate::cfn::sorted(doc.clone())).unwrap_or_default();
    s.push('\n');
    s
}

/// Every `$ref` in a document (for checks).
pub fn refs(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_refs(doc, &mut out);
    out
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                out.push(r.clone());
            }
            o.values().for_each(|x| collect_refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}
