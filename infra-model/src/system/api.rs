//! The REST API: its routes, request models, parameters and gateway responses, declared once
//! and read by synthesis (API Gateway), the local server of `cargo xtask dev`, the handlers
//! (each receives its matched route) and the OpenAPI document.

use schemars::JsonSchema;
use serde_json::Value;

use super::functions::{BUSINESS_API, HEALTH, INVENTORY_API, ORDERS_API};
use crate::contract::api::{
    CreateOrderRequest, ErrorCode, Operation, PutInventoryRequest, RegisterBusinessRequest, limits,
};
use crate::contract::schema::api_gateway_schema;
use crate::decl::{Body, Function, Method, Param, ParamSchema, Route};

/// The stack output holding the API's base URL.
pub const URL_OUTPUT: &str = "ApiUrl";
/// The stack output holding the API key's id.
pub const KEY_ID_OUTPUT: &str = "ApiKeyId";
/// The header that carries the API key.
pub const API_KEY_HEADER: &str = "x-api-key";

fn model<T: JsonSchema>() -> Value {
    api_gateway_schema::<T>()
}

pub static CREATE_ORDER_BODY: Body = Body {
    name: "CreateOrderRequest",
    description: "The body of POST /orders",
    schema: model::<CreateOrderRequest>,
};
pub static PUT_INVENTORY_BODY: Body = Body {
    name: "PutInventoryRequest",
    description: "The body of PUT /inventory/{sku}",
    schema: model::<PutInventoryRequest>,
};
pub static REGISTER_BUSINESS_BODY: Body = Body {
    name: "RegisterBusinessRequest",
    description: "The body of POST /auth/register-business",
    schema: model::<RegisterBusinessRequest>,
};

/// The parameters the routes read.
pub mod params {
    use super::*;

    pub static ORDER_ID: Param = Param {
        name: "orderId",
        description: "An order id, as POST /orders answered it",
        schema: ParamSchema::Text {
            min_length: 36,
            max_length: 36,
            pattern: Some("^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"),
        },
    };
    pub static SKU: Param = Param {
        name: "sku",
        description: "A product's SKU",
        schema: ParamSchema::Text {
            min_length: 1,
            max_length: limits::MAX_SKU as u32,
            pattern: Some(limits::SKU_PATTERN),
        },
    };
    pub static STATUS: Param = Param {
        name: "status",
        description: "Orders in this status (give this or customerEmail)",
        schema: ParamSchema::OneOf(&["PENDING", "RESERVED", "REJECTED", "PAID", "SHIPPED", "FAILED"]),
    };
    pub static CUSTOMER_EMAIL: Param = Param {
        name: "customerEmail",
        description: "Orders of this customer (give this or status)",
        schema: ParamSchema::Text {
            min_length: 3,
            max_length: limits::MAX_EMAIL as u32,
            pattern: None,
        },
    };
    pub static LIMIT: Param = Param {
        name: "limit",
        description: "Entries per page",
        schema: ParamSchema::Integer {
            min: 1,
            max: limits::MAX_PAGE as i64,
        },
    };
    pub static SORT_ORDER: Param = Param {
        name: "sortOrder",
        description: "By creation time: newest first (desc, the default) or oldest first",
        schema: ParamSchema::OneOf(&["asc", "desc"]),
    };
    pub static NEXT_TOKEN: Param = Param {
        name: "nextToken",
        description: "The nextToken of the previous page, unchanged",
        schema: ParamSchema::Text {
            min_length: 0,
            max_length: 8192,
            pattern: None,
        },
    };
}

const fn route(
    operation: Operation,
    method: Method,
    path: &'static str,
    function: &'static Function,
    api_key: bool,
) -> Route {
    Route {
        operation,
        method,
        path,
        function,
        api_key,
        body: None,
        path_params: &[],
        query: &[],
    }
}

/// Every route of the API. Health and sign-up are public; orders and inventory need the key.
pub static ROUTES: &[Route] = &[
    route(Operation::GetRoot, Method::Get, "/", &HEALTH, false),
    route(Operation::GetHealth, Method::Get, "/health", &HEALTH, false),
    route(
        Operation::GetDetailedHealth,
        Method::Get,
        "/health/detailed",
        &HEALTH,
        false,
    ),
    route(
        Operation::GetAuthHealth,
        Method::Get,
        "/auth/health",
        &HEALTH,
        false,
    ),
    Route {
        body: Some(&REGISTER_BUSINESS_BODY),
        ..route(
            Operation::RegisterBusiness,
            Method::Post,
            "/auth/register-business",
            &BUSINESS_API,
            false,
        )
    },
    Route {
        body: Some(&CREATE_ORDER_BODY),
        ..route(Operation::CreateOrder, Method::Post, "/orders", &ORDERS_API, true)
    },
    Route {
        query: &[
            &params::STATUS,
            &params::CUSTOMER_EMAIL,
            &params::LIMIT,
            &params::SORT_ORDER,
            &params::NEXT_TOKEN,
        ],
        ..route(Operation::ListOrders, Method::Get, "/orders", &ORDERS_API, true)
    },
    Route {
        path_params: &[&params::ORDER_ID],
        ..route(
            Operation::GetOrder,
            Method::Get,
            "/orders/{orderId}",
            &ORDERS_API,
            true,
        )
    },
    Route {
        body: Some(&PUT_INVENTORY_BODY),
        path_params: &[&params::SKU],
        ..route(
            Operation::PutInventoryItem,
            Method::Put,
            "/inventory/{sku}",
            &INVENTORY_API,
            true,
        )
    },
    Route {
        query: &[&params::LIMIT, &params::NEXT_TOKEN],
        ..route(
            Operation::ListInventory,
            Method::Get,
            "/inventory",
            &INVENTORY_API,
            true,
        )
    },
    Route {
        path_params: &[&params::SKU],
        ..route(
            Operation::GetInventoryItem,
            Method::Get,
            "/inventory/{sku}",
            &INVENTORY_API,
            true,
        )
    },
];

/// The headers a browser may send (CORS).
pub const CORS_ALLOWED_HEADERS: [&str; 5] = [
    "Content-Type",
    "X-Api-Key",
    "Idempotency-Key",
    "Authorization",
    "X-Amz-Date",
];

/// What a gateway response's body says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayMessage {
    /// API Gateway's own message (`$context.error.messageString`, already a JSON string).
    FromGateway,
    /// A fixed message.
    Fixed(&'static str),
}

/// An answer API Gateway gives itself, before or instead of a function, in the API's error
/// format: `{"code", "message", "requestId"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatewayResponse {
    /// API Gateway's response type (`INVALID_API_KEY`).
    pub kind: &'static str,
    /// The status, when it is not the type's default.
    pub status: Option<u16>,
    pub code: ErrorCode,
    pub message: GatewayMessage,
}

impl GatewayResponse {
    /// The status the client sees: the one set, or the type's default.
    pub fn status(&self) -> u16 {
        self.status
            .unwrap_or(if self.kind == "DEFAULT_5XX" { 500 } else { 400 })
    }

    /// The response template (API Gateway's mapping template, `$context` variables unresolved).
    pub fn template(&self) -> String {
        let message = match self.message {
            GatewayMessage::FromGateway => "$context.error.messageString".to_string(),
            GatewayMessage::Fixed(m) => Value::String(m.into()).to_string(),
        };
        format!(
            r#"{{"code":"{}","message":{message},"requestId":"$context.requestId"}}"#,
            self.code.as_str()
        )
    }
}

const fn gateway(kind: &'static str, status: Option<u16>, code: ErrorCode) -> GatewayResponse {
    GatewayResponse {
        kind,
        status,
        code,
        message: GatewayMessage::FromGateway,
    }
}

/// The gateway responses, in the API's error format.
pub static GATEWAY_RESPONSES: &[GatewayResponse] = &[
    gateway("DEFAULT_4XX", None, ErrorCode::ValidationFailed),
    gateway("DEFAULT_5XX", None, ErrorCode::InternalError),
    GatewayResponse {
        message: GatewayMessage::Fixed("No route for this method and path"),
        ..gateway("MISSING_AUTHENTICATION_TOKEN", Some(404), ErrorCode::NotFound)
    },
    gateway("INVALID_API_KEY", Some(403), ErrorCode::Forbidden),
    gateway("ACCESS_DENIED", Some(403), ErrorCode::Forbidden),
    gateway("BAD_REQUEST_PARAMETERS", Some(400), ErrorCode::InvalidQuery),
    gateway("BAD_REQUEST_BODY", Some(400), ErrorCode::ValidationFailed),
    gateway("REQUEST_TOO_LARGE", Some(413), ErrorCode::PayloadTooLarge),
    gateway(
        "UNSUPPORTED_MEDIA_TYPE",
        Some(415),
        ErrorCode::UnsupportedMediaType,
    ),
    gateway("THROTTLED", Some(429), ErrorCode::TooManyRequests),
    gateway("QUOTA_EXCEEDED", Some(429), ErrorCode::TooManyRequests),
    gateway("INTEGRATION_FAILURE", Some(502), ErrorCode::ServiceUnavailable),
    gateway("INTEGRATION_TIMEOUT", Some(504), ErrorCode::ServiceUnavailable),
];

/// The gateway response of a type.
pub fn gateway_response(kind: &str) -> Option<&'static GatewayResponse> {
    GATEWAY_RESPONSES.iter().find(|g| g.kind == kind)
}

/// Matches a concrete path against the routes: the route and the path parameters' values.
pub fn match_route<'p>(
    method: &str,
    path: &'p str,
) -> Option<(&'static Route, Vec<(&'static str, &'p str)>)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    ROUTES.iter().find_map(|r| {
        if r.method.as_str() != method {
            return None;
        }
        let pattern: Vec<&str> = r.path.trim_end_matches('/').split('/').collect();
        if pattern.len() != segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (p, s) in pattern.iter().zip(&segments) {
            match p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if !s.is_empty() => params.push((name, *s)),
                Some(_) => return None,
                None if p == s => {}
                None => return None,
            }
        }
        Some((r, params))
    })
}

/// The route declared with this method and path pattern (API Gateway's `resource`).
pub fn route_of(method: &str, resource: &str) -> Option<&'static Route> {
    ROUTES
        .iter()
        .find(|r| r.method.as_str() == method && r.path == resource)
}

/// The methods a path answers, for CORS preflight and 405s.
pub fn methods_of(path: &str) -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.method.as_str())
        .collect()
}

/// The routes a function answers.
pub fn routes_of(function: &Function) -> impl Iterator<Item = &'static Route> + '_ {
    ROUTES.iter().filter(move |r| r.function.name == function.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decl::Trigger;
    use crate::decl::route::path_params;

    #[test]
    fn routes_match_concrete_paths_with_their_parameters() {
        let (r, p) = match_route("GET", "/orders/abc-123").unwrap();
        assert_eq!(r.path, "/orders/{orderId}");
        assert_eq!(r.operation, Operation::GetOrder);
        assert_eq!(p, [("orderId", "abc-123")]);
        assert_eq!(match_route("GET", "/").unwrap().0.path, "/");
        assert_eq!(
            match_route("POST", "/orders").unwrap().0.function.name,
            "orders-api"
        );
        assert!(match_route("DELETE", "/orders").is_none());
        assert!(match_route("GET", "/orders/a/b").is_none());
        assert!(match_route("GET", "/nope").is_none());
        assert_eq!(
            route_of("PUT", "/inventory/{sku}").unwrap().operation,
            Operation::PutInventoryItem
        );
        assert_eq!(methods_of("/orders"), ["POST", "GET"]);
    }

    #[test]
    fn every_route_declares_its_path_parameters_and_names_an_api_function() {
        let mut operations = std::collections::BTreeSet::new();
        for r in ROUTES {
            let declared: Vec<&str> = r.path_params.iter().map(|p| p.name).collect();
            assert_eq!(declared, path_params(r.path), "{} {}", r.method, r.path);
            assert_eq!(r.function.trigger, Trigger::Api, "{} {}", r.method, r.path);
            assert!(operations.insert(r.operation), "{:?} twice", r.operation);
        }
    }

    #[test]
    fn every_body_model_is_a_draft4_object_schema() {
        for b in ROUTES.iter().filter_map(|r| r.body) {
            let s = (b.schema)();
            assert_eq!(s["type"], "object", "{}", b.name);
            assert!(b.name.chars().all(|c| c.is_ascii_alphanumeric()));
        }
    }

    #[test]
    fn gateway_responses_render_the_api_error_format() {
        let g = gateway_response("MISSING_AUTHENTICATION_TOKEN").unwrap();
        assert_eq!(g.status(), 404);
        assert_eq!(
            g.template(),
            r#"{"code":"NOT_FOUND","message":"No route for this method and path","requestId":"$context.requestId"}"#
        );
        assert_eq!(gateway_response("DEFAULT_5XX").unwrap().status(), 500);
        assert_eq!(gateway_response("DEFAULT_4XX").unwrap().status(), 400);
    }
}
