//! The REST API: its routes, request models, parameters and gateway responses, declared once
//! and read by synthesis (API Gateway), the local server of `cargo xtask dev`, the handlers
//! (each receives its matched route) and the OpenAPI document.

use serde_json::Value;

use super::functions::{BUSINESS_API, HEALTH, INVENTORY_API, ORDERS_API};
use crate::contract::api::{
    CreateOrderRequest, CreateOrderResponse, DetailedHealthResponse, ErrorCode, HealthResponse,
    InventoryItem, ListInventoryResponse, ListOrdersResponse, Operation, OrderView, PutInventoryRequest,
    RegisterBusinessRequest, RegisterBusinessResponse, limits, patterns,
};
use crate::decl::route::{Reply, TypeSchema};
use crate::decl::{Body, Function, Method, Param, ParamSchema, Route};

/// The stack output holding the API's base URL.
pub const URL_OUTPUT: &str = "ApiUrl";
/// The stack output holding the API key's id.
pub const KEY_ID_OUTPUT: &str = "ApiKeyId";
/// The header that carries the API key.
pub const API_KEY_HEADER: &str = "x-api-key";

pub static CREATE_ORDER_BODY: Body =
    Body::of::<CreateOrderRequest>("CreateOrderRequest", "The body of POST /orders");
pub static PUT_INVENTORY_BODY: Body =
    Body::of::<PutInventoryRequest>("PutInventoryRequest", "The body of PUT /inventory/{sku}");
pub static REGISTER_BUSINESS_BODY: Body = Body::of::<RegisterBusinessRequest>(
    "RegisterBusinessRequest",
    "The body of POST /auth/register-business",
);

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
            pattern: Some(patterns::EMAIL),
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
            max_length: limits::MAX_TOKEN as u32,
            pattern: Some(patterns::TOKEN),
        },
    };
    /// `order_core::idempotency::parse_idempotency_key` holds the rule.
    pub static IDEMPOTENCY_KEY: Param = Param {
        name: "Idempotency-Key",
        description: "Makes a retry safe: a request repeated with the same key and the same body \
                      gets the first answer again and creates nothing (for 24 hours); the same key \
                      with another body is a 422, and while the first request runs, a 409",
        schema: ParamSchema::Text {
            min_length: 1,
            max_length: 255,
            pattern: Some("^[!-~]+$"),
        },
    };
}

/// What the routes answer when they work.
mod replies {
    use super::*;

    const fn ok<T: schemars::JsonSchema>(status: u16, description: &'static str) -> Reply {
        Reply {
            status,
            description,
            body: TypeSchema::of::<T>(),
        }
    }

    pub static HEALTH: &[Reply] = &[ok::<HealthResponse>(200, "The service answers")];
    pub static DETAILED_HEALTH: &[Reply] = &[
        ok::<DetailedHealthResponse>(200, "Every table and the queue answered"),
        ok::<DetailedHealthResponse>(
            503,
            "A table or the queue did not answer: `dependencies` says which and why",
        ),
    ];
    pub static REGISTER_BUSINESS: &[Reply] =
        &[ok::<RegisterBusinessResponse>(201, "The business is registered")];
    pub static CREATE_ORDER: &[Reply] = &[ok::<CreateOrderResponse>(
        202,
        "The order is stored PENDING; reservation, payment and shipping follow (GET /orders/{orderId})",
    )];
    pub static LIST_ORDERS: &[Reply] = &[ok::<ListOrdersResponse>(200, "A page of orders")];
    pub static ORDER: &[Reply] = &[ok::<OrderView>(200, "The order")];
    pub static PRODUCT_STORED: &[Reply] = &[ok::<InventoryItem>(200, "The product as stored")];
    pub static LIST_INVENTORY: &[Reply] = &[ok::<ListInventoryResponse>(200, "A page of products")];
    pub static PRODUCT: &[Reply] = &[ok::<InventoryItem>(200, "The product")];
}

#[allow(clippy::too_many_arguments)]
const fn route(
    operation: Operation,
    method: Method,
    path: &'static str,
    function: &'static Function,
    api_key: bool,
    summary: &'static str,
    replies: &'static [Reply],
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
        headers: &[],
        summary,
        replies,
        errors: &[],
    }
}

/// Every route of the API. Health and sign-up are public; orders and inventory need the key.
pub static ROUTES: &[Route] = &[
    route(
        Operation::GetRoot,
        Method::Get,
        "/",
        &HEALTH,
        false,
        "Who answers: the service, its version and environment",
        replies::HEALTH,
    ),
    route(
        Operation::GetHealth,
        Method::Get,
        "/health",
        &HEALTH,
        false,
        "Whether the service answers",
        replies::HEALTH,
    ),
    route(
        Operation::GetDetailedHealth,
        Method::Get,
        "/health/detailed",
        &HEALTH,
        false,
        "Whether every table and the queue answer, with their latency",
        replies::DETAILED_HEALTH,
    ),
    route(
        Operation::GetAuthHealth,
        Method::Get,
        "/auth/health",
        &HEALTH,
        false,
        "Whether the sign-up service answers",
        replies::HEALTH,
    ),
    Route {
        body: Some(&REGISTER_BUSINESS_BODY),
        errors: &[ErrorCode::Conflict],
        ..route(
            Operation::RegisterBusiness,
            Method::Post,
            "/auth/register-business",
            &BUSINESS_API,
            false,
            "Register a business (an e-mail address registers once: 409 the second time)",
            replies::REGISTER_BUSINESS,
        )
    },
    Route {
        body: Some(&CREATE_ORDER_BODY),
        headers: &[&params::IDEMPOTENCY_KEY],
        errors: &[
            ErrorCode::Conflict,
            ErrorCode::IdempotencyKeyReused,
            ErrorCode::BusinessRule,
        ],
        ..route(
            Operation::CreateOrder,
            Method::Post,
            "/orders",
            &ORDERS_API,
            true,
            "Place an order, priced from the stored prices; stored PENDING",
            replies::CREATE_ORDER,
        )
    },
    Route {
        query: &[
            &params::STATUS,
            &params::CUSTOMER_EMAIL,
            &params::LIMIT,
            &params::SORT_ORDER,
            &params::NEXT_TOKEN,
        ],
        errors: &[ErrorCode::BusinessRule, ErrorCode::InvalidToken],
        ..route(
            Operation::ListOrders,
            Method::Get,
            "/orders",
            &ORDERS_API,
            true,
            "List orders by status, by customer, or a customer's orders in a status (at least one filter: \
             422 BUSINESS_RULE without), newest first by default",
            replies::LIST_ORDERS,
        )
    },
    Route {
        path_params: &[&params::ORDER_ID],
        errors: &[ErrorCode::NotFound],
        ..route(
            Operation::GetOrder,
            Method::Get,
            "/orders/{orderId}",
            &ORDERS_API,
            true,
            "Read an order: its lines, total, status history, payment and shipment",
            replies::ORDER,
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
            "Create or replace a product: stock, price, name and description",
            replies::PRODUCT_STORED,
        )
    },
    Route {
        query: &[&params::LIMIT, &params::NEXT_TOKEN],
        errors: &[ErrorCode::InvalidToken],
        ..route(
            Operation::ListInventory,
            Method::Get,
            "/inventory",
            &INVENTORY_API,
            true,
            "List the products, a page at a time",
            replies::LIST_INVENTORY,
        )
    },
    Route {
        path_params: &[&params::SKU],
        errors: &[ErrorCode::NotFound],
        ..route(
            Operation::GetInventoryItem,
            Method::Get,
            "/inventory/{sku}",
            &INVENTORY_API,
            true,
            "Read a product",
            replies::PRODUCT,
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
    fn every_route_declares_one_success_and_unique_statuses() {
        for r in ROUTES {
            let statuses: Vec<u16> = r.replies.iter().map(|reply| reply.status).collect();
            let success = statuses.iter().filter(|s| (200..300).contains(*s)).count();
            assert_eq!(success, 1, "{} {}: {statuses:?}", r.method, r.path);
            let mut unique = statuses.clone();
            unique.dedup();
            assert_eq!(unique, statuses, "{} {}", r.method, r.path);
            assert!(!r.summary.is_empty());
        }
        let health = route_of("GET", "/health/detailed").unwrap();
        assert_eq!(
            health.replies.iter().map(|r| r.status).collect::<Vec<_>>(),
            [200, 503]
        );
    }

    #[test]
    fn every_request_header_may_be_sent_by_a_browser() {
        for r in ROUTES {
            for h in r.headers {
                assert!(
                    CORS_ALLOWED_HEADERS
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(h.name)),
                    "{} is not in CORS_ALLOWED_HEADERS",
                    h.name
                );
            }
        }
        // The Idempotency-Key's description says how long a key holds.
        assert_eq!(crate::contract::tables::idempotency::TTL_SECONDS, 24 * 3600);
        assert!(params::IDEMPOTENCY_KEY.description.contains("24 hours"));
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
