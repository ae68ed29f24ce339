//! The OpenAPI documents: one snapshot per environment in the top-level `snapshots/` folder
//! (`orders-<env>.openapi.snap`, the bytes `cargo xtask synth` writes to
//! `orders-<env>.openapi.json`), and what the generator promises about any document.
//!
//! After an intended change: `INSTA_UPDATE=always cargo test -p infra-model --test openapi`,
//! then commit `snapshots/`.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::BTreeSet;

use infra_model::Env;
use infra_model::contract::api::{ErrorCode, Operation, limits};
use infra_model::decl::route::{Reply, TypeSchema};
use infra_model::decl::{Body, Method, Route};
use infra_model::system::api::{API_KEY_HEADER, CORS_ALLOWED_HEADERS, ROUTES};
use infra_model::system::functions::HEALTH;
use infra_model::system::openapi::{
    self, API_KEY_SCHEME, ApiInfo, OpenApiError, RESPONSE_REF_PREFIX, SCHEMA_REF_PREFIX, Server,
};
use infra_model::system::stack_name;
use serde_json::{Value, json};

fn doc(env: Env) -> Value {
    openapi::document(env).expect("the routes make a document")
}

fn assert_document_snapshot(env: Env) {
    let text = openapi::to_json(&doc(env));
    insta::with_settings!({
        snapshot_path => "../../snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => format!("cargo xtask synth --env {env}: {}.openapi.json", stack_name(env)),
    }, {
        insta::assert_snapshot!(format!("{}.openapi", stack_name(env)), text);
    });
}

#[test]
fn dev_document() {
    assert_document_snapshot(Env::Dev);
}

#[test]
fn staging_document() {
    assert_document_snapshot(Env::Staging);
}

#[test]
fn prod_document() {
    assert_document_snapshot(Env::Prod);
}

/// The operation of a route in a document.
fn op<'a>(d: &'a Value, route: &Route) -> &'a Value {
    &d["paths"][route.path][route.method.as_str().to_ascii_lowercase()]
}

fn route(operation: Operation) -> &'static Route {
    ROUTES.iter().find(|r| r.operation == operation).unwrap()
}

/// A response with its `$ref` to `components.responses` followed.
fn response<'a>(d: &'a Value, op: &'a Value, status: u16) -> &'a Value {
    let r = &op["responses"][status.to_string()];
    match r["$ref"].as_str() {
        Some(reference) => {
            let name = reference.strip_prefix(RESPONSE_REF_PREFIX).unwrap();
            &d["components"]["responses"][name]
        }
        None => r,
    }
}

fn statuses(op: &Value) -> Vec<u16> {
    op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.parse().unwrap())
        .collect()
}

/// The error codes a documented error response allows.
fn codes(d: &Value, op: &Value, status: u16) -> Vec<String> {
    let schema = &response(d, op, status)["content"]["application/json"]["schema"];
    let error = schema["anyOf"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s.get("allOf").is_some()))
        .unwrap_or(schema);
    assert_eq!(
        error["allOf"][0]["$ref"],
        format!("{SCHEMA_REF_PREFIX}ApiError"),
        "{status}: {schema}"
    );
    error["allOf"][1]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_route_appears_once_with_its_operation_id() {
    for env in Env::ALL {
        let d = doc(env);
        assert_eq!(d["openapi"], "3.1.0");
        let mut ids = BTreeSet::new();
        let mut count = 0;
        for (path, methods) in d["paths"].as_object().unwrap() {
            for (method, op) in methods.as_object().unwrap() {
                count += 1;
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "{id} twice");
                let r = ROUTES.iter().find(|r| r.operation.id() == id).unwrap();
                assert_eq!(
                    (r.path, r.method.as_str().to_ascii_lowercase()),
                    (path.as_str(), method.clone())
                );
                assert_eq!(op["summary"], r.summary);
                assert_eq!(op["tags"], json!([r.function.name]));
            }
        }
        assert_eq!(count, ROUTES.len(), "{env}");
    }
}

#[test]
fn exactly_the_key_routes_require_the_api_key() {
    let d = doc(Env::Prod);
    assert_eq!(
        d["components"]["securitySchemes"][API_KEY_SCHEME],
        json!({"type": "apiKey", "in": "header", "name": API_KEY_HEADER,
               "description": "The API key of the stage's usage plan (`cargo xtask dev` prints its own)"})
    );
    assert!(d.get("security").is_none(), "no document-wide requirement");
    let mut public = Vec::new();
    for r in ROUTES {
        let o = op(&d, r);
        if r.api_key {
            assert_eq!(o["security"], json!([{API_KEY_SCHEME: []}]), "{}", r.path);
            assert_eq!(codes(&d, o, 403), ["FORBIDDEN"], "{}", r.path);
        } else {
            assert!(o.get("security").is_none(), "{} {}", r.method, r.path);
            assert!(o["responses"].get("403").is_none(), "{} {}", r.method, r.path);
            public.push(r.operation.id());
        }
    }
    assert_eq!(
        public,
        [
            "getRoot",
            "getHealth",
            "getDetailedHealth",
            "getAuthHealth",
            "registerBusiness"
        ]
    );
}

#[test]
fn every_ref_resolves_and_every_shared_schema_is_used() {
    for env in Env::ALL {
        let d = doc(env);
        let refs = openapi::refs(&d);
        assert!(refs.len() > 20, "{refs:?}");
        for r in &refs {
            let pointer = r.strip_prefix('#').unwrap();
            assert!(d.pointer(pointer).is_some(), "{env}: {r} resolves to nothing");
        }
        for name in d["components"]["schemas"].as_object().unwrap().keys() {
            assert!(
                refs.contains(&format!("{SCHEMA_REF_PREFIX}{name}")),
                "{name} unused"
            );
        }
        for name in d["components"]["responses"].as_object().unwrap().keys() {
            assert!(
                refs.contains(&format!("{RESPONSE_REF_PREFIX}{name}")),
                "{name} unused"
            );
        }
    }
}

#[test]
fn parameters_are_typed_and_only_path_parameters_are_required() {
    let d = doc(Env::Dev);
    for r in ROUTES {
        let params = op(&d, r)["parameters"].as_array().cloned().unwrap_or_default();
        let in_path: Vec<&str> = params
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(in_path, r.path_param_names(), "{}", r.path);
        for p in &params {
            assert_eq!(p["required"], p["in"] == "path", "{p}");
            assert!(p["schema"]["type"].is_string(), "{p}");
        }
    }
    let list = op(&d, route(Operation::ListOrders));
    let param = |name: &str| {
        list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        param("limit")["schema"],
        json!({"type": "integer", "minimum": 1, "maximum": limits::MAX_PAGE})
    );
    assert_eq!(param("sortOrder")["schema"]["enum"], json!(["asc", "desc"]));
    assert_eq!(param("status")["schema"]["enum"].as_array().unwrap().len(), 6);
    let get = op(&d, route(Operation::GetOrder));
    assert_eq!(get["parameters"][0]["schema"]["minLength"], 36);
    // The Idempotency-Key header, which a browser may send (CORS).
    let create = op(&d, route(Operation::CreateOrder));
    let header = &create["parameters"][0];
    assert_eq!(
        (
            header["name"].as_str(),
            header["in"].as_str(),
            &header["required"]
        ),
        (Some("Idempotency-Key"), Some("header"), &json!(false))
    );
    assert_eq!(header["schema"]["maxLength"], 255);
    assert!(CORS_ALLOWED_HEADERS.contains(&"Idempotency-Key"));
}

#[test]
fn bodies_and_answers_refer_to_the_contract_types() {
    let d = doc(Env::Dev);
    let schema_ref = |v: &Value| v["content"]["application/json"]["schema"]["$ref"].clone();
    let create = op(&d, route(Operation::CreateOrder));
    assert_eq!(create["requestBody"]["required"], true);
    assert_eq!(
        schema_ref(&create["requestBody"]),
        format!("{SCHEMA_REF_PREFIX}CreateOrderRequest")
    );
    for (operation, status, ty) in [
        (Operation::CreateOrder, 202, "CreateOrderResponse"),
        (Operation::RegisterBusiness, 201, "RegisterBusinessResponse"),
        (Operation::GetOrder, 200, "OrderView"),
        (Operation::ListOrders, 200, "ListOrdersResponse"),
        (Operation::PutInventoryItem, 200, "InventoryItem"),
        (Operation::GetInventoryItem, 200, "InventoryItem"),
        (Operation::ListInventory, 200, "ListInventoryResponse"),
        (Operation::GetHealth, 200, "HealthResponse"),
        (Operation::GetDetailedHealth, 200, "DetailedHealthResponse"),
    ] {
        let o = op(&d, route(operation));
        assert_eq!(
            schema_ref(&o["responses"][status.to_string()]),
            format!("{SCHEMA_REF_PREFIX}{ty}"),
            "{operation:?}"
        );
        let success: Vec<u16> = statuses(o).into_iter().filter(|s| *s < 300).collect();
        assert_eq!(success, [status], "{operation:?}");
    }
    // 503 of the detailed health: its own body, or the error format (the gateway's).
    let health = op(&d, route(Operation::GetDetailedHealth));
    let either = &health["responses"]["503"]["content"]["application/json"]["schema"]["anyOf"];
    assert_eq!(
        either[0]["$ref"],
        format!("{SCHEMA_REF_PREFIX}DetailedHealthResponse")
    );
    assert_eq!(codes(&d, health, 503), ["SERVICE_UNAVAILABLE"]);
    // The shared schemas are the types' 2020-12 schemas, with the contract's limits.
    let s = &d["components"]["schemas"];
    assert_eq!(
        s["CreateOrderRequest"]["properties"]["items"]["maxItems"],
        limits::MAX_ITEMS
    );
    assert_eq!(s["CreateOrderRequest"]["additionalProperties"], false);
    assert_eq!(
        s["OrderItemRequest"]["properties"]["sku"]["pattern"],
        limits::SKU_PATTERN
    );
    assert_eq!(s["ListOrdersResponse"]["required"], json!(["orders"]));
    assert!(
        s["ApiError"]["required"]
            .as_array()
            .unwrap()
            .contains(&json!("requestId"))
    );
}

#[test]
fn error_statuses_follow_from_the_declaration() {
    let d = doc(Env::Staging);
    for r in ROUTES {
        let o = op(&d, r);
        let documented = statuses(o);
        let mut expected: Vec<u16> = vec![429, 500, 502, 503, 504];
        if r.api_key {
            expected.push(403);
        }
        if r.body.is_some() {
            expected.extend([400, 413, 415]);
        }
        if !r.path_params.is_empty() || !r.query.is_empty() || !r.headers.is_empty() {
            expected.push(400);
        }
        expected.extend(r.errors.iter().map(|c| c.status()));
        for status in expected {
            assert!(
                documented.contains(&status),
                "{} {}: no {status} in {documented:?}",
                r.method,
                r.path
            );
        }
        // Nothing else: the route's own answers and the errors above.
        for status in &documented {
            let own = r.replies.iter().any(|reply| reply.status == *status);
            assert!(own || *status >= 400, "{} {}: {status}", r.method, r.path);
        }
    }
    let create = op(&d, route(Operation::CreateOrder));
    assert_eq!(codes(&d, create, 400), ["MALFORMED_JSON", "VALIDATION_FAILED"]);
    assert_eq!(codes(&d, create, 409), ["CONFLICT"]);
    assert_eq!(
        codes(&d, create, 422),
        ["IDEMPOTENCY_KEY_REUSED", "BUSINESS_RULE"]
    );
    assert_eq!(
        codes(&d, op(&d, route(Operation::ListOrders)), 400),
        ["INVALID_QUERY"]
    );
    assert_eq!(
        codes(&d, op(&d, route(Operation::GetOrder)), 400),
        ["VALIDATION_FAILED"]
    );
    assert_eq!(codes(&d, op(&d, route(Operation::GetOrder)), 404), ["NOT_FOUND"]);
    assert_eq!(
        codes(&d, op(&d, route(Operation::RegisterBusiness)), 409),
        ["CONFLICT"]
    );
    assert_eq!(
        codes(&d, op(&d, route(Operation::GetHealth)), 502),
        ["SERVICE_UNAVAILABLE"]
    );
    assert!(
        op(&d, route(Operation::GetHealth))["responses"]
            .get("400")
            .is_none()
    );
    // Every code in a document is one of the contract's.
    let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    for r in ROUTES {
        for status in statuses(op(&d, r)).into_iter().filter(|s| *s >= 400 && *s != 503) {
            for c in codes(&d, op(&d, r), status) {
                assert!(all.contains(&c.as_str()), "{c}");
            }
        }
    }
}

#[test]
fn servers_are_the_stage_and_for_dev_the_local_api() {
    for env in Env::ALL {
        let d = doc(env);
        let urls: Vec<&str> = d["servers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["url"].as_str().unwrap())
            .collect();
        let stage = format!(
            "https://{{restApiId}}.execute-api.{{region}}.amazonaws.com/{}",
            env.name()
        );
        if env == Env::Dev {
            assert_eq!(urls, [stage.as_str(), "http://127.0.0.1:3000"]);
        } else {
            assert_eq!(urls, [stage.as_str()]);
        }
        let vars = &d["servers"][0]["variables"];
        assert_eq!(vars["region"]["default"], "us-east-1");
        assert!(vars["restApiId"]["default"].is_string());
        assert_eq!(d["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(d["info"]["license"]["identifier"], "MIT");
        assert!(d["info"]["title"].as_str().unwrap().contains(env.name()));
    }
}

#[test]
fn documents_are_deterministic_and_sorted() {
    for env in Env::ALL {
        let a = openapi::to_json(&doc(env));
        assert_eq!(a, openapi::to_json(&doc(env)));
        assert!(a.ends_with("}\n"));
        let top: Vec<&str> = a.lines().filter(|l| l.starts_with("  \"")).collect();
        let mut sorted = top.clone();
        sorted.sort();
        assert_eq!(top, sorted);
    }
}

#[test]
fn to_json_writes_any_document_sorted() {
    // json! keeps insertion order when serde_json's preserve_order is on (in
    // `cargo test --workspace`, through aws-smithy-mocks): the text is sorted all the same.
    let d = json!({
        "paths": {"/b": {}, "/a": {"post": {"tags": ["x"], "operationId": "o"}}},
        "openapi": "3.1.0",
    });
    let expected = r#"{
  "openapi": "3.1.0",
  "paths": {
    "/a": {
      "post": {
        "operationId": "o",
        "tags": [
          "x"
        ]
      }
    },
    "/b": {}
  }
}
"#;
    assert_eq!(openapi::to_json(&d), expected);
}

// The generator with routes of its own.

mod clash {
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// A request type named `Thing`.
    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)] // only its schema is used
    pub struct Thing {
        pub a: String,
    }

    /// Another type, also named `Thing`.
    #[derive(Serialize, JsonSchema)]
    #[schemars(rename = "Thing")]
    pub struct Other {
        pub b: u32,
    }
}

static THING_BODY: Body = Body::of::<clash::Thing>("Thing", "a thing");
static OTHER_REPLIES: &[Reply] = &[Reply {
    status: 200,
    description: "ok",
    body: TypeSchema::of::<clash::Other>(),
}];
const HEALTH_SCHEMA: TypeSchema = TypeSchema::of::<infra_model::contract::api::HealthResponse>();
static TWICE: &[Reply] = &[
    Reply {
        status: 200,
        description: "a",
        body: HEALTH_SCHEMA,
    },
    Reply {
        status: 200,
        description: "b",
        body: HEALTH_SCHEMA,
    },
];

fn info() -> ApiInfo {
    openapi::info(Env::Dev, vec![Server::local("http://127.0.0.1:1")])
}

#[test]
fn two_schemas_with_one_name_are_refused() {
    let routes = [Route {
        body: Some(&THING_BODY),
        replies: OTHER_REPLIES,
        ..*route(Operation::GetHealth)
    }];
    assert_eq!(
        openapi::generate(&info(), &routes, &[]),
        Err(OpenApiError::SchemaNameClash("Thing".into()))
    );
    // The same type on both sides is one schema.
    let routes = [Route {
        body: Some(&THING_BODY),
        ..*route(Operation::GetHealth)
    }];
    let d = openapi::generate(&info(), &routes, &[]).unwrap();
    assert_eq!(d["components"]["schemas"]["Thing"]["required"], json!(["a"]));
}

#[test]
fn a_status_declared_twice_is_refused() {
    let routes = [Route {
        operation: Operation::GetRoot,
        method: Method::Get,
        path: "/x",
        function: &HEALTH,
        api_key: false,
        body: None,
        path_params: &[],
        query: &[],
        headers: &[],
        summary: "x",
        replies: TWICE,
        errors: &[],
    }];
    assert_eq!(
        openapi::generate(&info(), &routes, &[]),
        Err(OpenApiError::DuplicateStatus("GET /x".into(), 200))
    );
}

#[test]
fn gateway_errors_reach_every_route() {
    let routes = [*route(Operation::GetHealth)];
    let d = openapi::generate(&info(), &routes, &[(502, ErrorCode::ServiceUnavailable)]).unwrap();
    let o = &d["paths"]["/health"]["get"];
    assert_eq!(statuses(o), [200, 429, 500, 502, 503]);
    let d = openapi::generate(&info(), &routes, &[]).unwrap();
    assert_eq!(statuses(&d["paths"]["/health"]["get"]), [200, 429, 500, 503]);
}

#[test]
fn what_a_change_answers_links_to_where_it_can_be_read() {
    let d = doc(Env::Dev);
    let link = |operation: Operation, status: u16| {
        op(&d, route(operation))["responses"][status.to_string()]["links"].clone()
    };
    assert_eq!(
        link(Operation::CreateOrder, 202),
        json!({"getOrder": {
            "operationId": "getOrder",
            "parameters": {"orderId": "$response.body#/orderId"},
            "description": "GET /orders/{orderId}: Read an order: its lines, total, status history, payment and shipment",
        }})
    );
    assert_eq!(
        link(Operation::PutInventoryItem, 200)["getInventoryItem"]["parameters"],
        json!({"sku": "$response.body#/sku"})
    );
    // Reads link nowhere; a business has no route to read it back.
    assert!(link(Operation::GetOrder, 200).is_null());
    assert!(link(Operation::RegisterBusiness, 201).is_null());
    // Every link names an operation of the document.
    let ids: Vec<&str> = ROUTES.iter().map(|r| r.operation.id()).collect();
    for r in ROUTES {
        for reply in r.replies {
            if let Some(links) = link(r.operation, reply.status).as_object() {
                for l in links.values() {
                    assert!(ids.contains(&l["operationId"].as_str().unwrap()), "{l}");
                }
            }
        }
    }
}
