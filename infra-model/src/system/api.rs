//! The REST API's routes: one table read by synthesis (API Gateway methods) and by the local
//! server of `cargo xtask dev`, so the two serve the same API.

use schemars::JsonSchema;
use serde_json::Value;

use super::functions::{BUSINESS_API, FunctionSpec, HEALTH, INVENTORY_API, ORDERS_API};
use crate::contract::api::{CreateOrderRequest, PutInventoryRequest, RegisterBusinessRequest};
use crate::contract::schema::api_gateway_schema;

/// A request body's model.
#[derive(Clone, Copy, Debug)]
pub struct BodyModel {
    /// The API Gateway model name (letters and digits).
    pub name: &'static str,
    pub description: &'static str,
    pub schema: fn() -> Value,
}

impl PartialEq for BodyModel {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

fn model<T: JsonSchema>() -> Value {
    api_gateway_schema::<T>()
}

pub const CREATE_ORDER: BodyModel = BodyModel {
    name: "CreateOrderRequest",
    description: "The body of POST /orders",
    schema: model::<CreateOrderRequest>,
};
pub const PUT_INVENTORY: BodyModel = BodyModel {
    name: "PutInventoryRequest",
    description: "The body of PUT /inventory/{sku}",
    schema: model::<PutInventoryRequest>,
};
pub const REGISTER_BUSINESS: BodyModel = BodyModel {
    name: "RegisterBusinessRequest",
    description: "The body of POST /auth/register-business",
    schema: model::<RegisterBusinessRequest>,
};

/// One method on one path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Route {
    pub method: &'static str,
    /// The path, with `{param}` segments.
    pub path: &'static str,
    pub function: &'static FunctionSpec,
    /// Whether the caller needs the API key (`x-api-key`).
    pub api_key: bool,
    pub body: Option<BodyModel>,
    /// The query string parameters the route reads (all optional).
    pub query: &'static [&'static str],
}

const fn route(
    method: &'static str,
    path: &'static str,
    function: &'static FunctionSpec,
    api_key: bool,
) -> Route {
    Route {
        method,
        path,
        function,
        api_key,
        body: None,
        query: &[],
    }
}

/// Every route of the API. Health and sign-up are public; orders and inventory need the key.
pub const ROUTES: [Route; 11] = [
    route("GET", "/", &HEALTH, false),
    route("GET", "/health", &HEALTH, false),
    route("GET", "/health/detailed", &HEALTH, false),
    route("GET", "/auth/health", &HEALTH, false),
    Route {
        body: Some(REGISTER_BUSINESS),
        ..route("POST", "/auth/register-business", &BUSINESS_API, false)
    },
    Route {
        body: Some(CREATE_ORDER),
        ..route("POST", "/orders", &ORDERS_API, true)
    },
    Route {
        query: &["status", "customerEmail", "limit", "sortOrder", "nextToken"],
        ..route("GET", "/orders", &ORDERS_API, true)
    },
    route("GET", "/orders/{orderId}", &ORDERS_API, true),
    Route {
        body: Some(PUT_INVENTORY),
        ..route("PUT", "/inventory/{sku}", &INVENTORY_API, true)
    },
    Route {
        query: &["limit", "nextToken"],
        ..route("GET", "/inventory", &INVENTORY_API, true)
    },
    route("GET", "/inventory/{sku}", &INVENTORY_API, true),
];

/// The headers a browser may send (CORS).
pub const CORS_ALLOWED_HEADERS: [&str; 5] = [
    "Content-Type",
    "X-Api-Key",
    "Idempotency-Key",
    "Authorization",
    "X-Amz-Date",
];

/// The path parameters of a path (`{orderId}` → `orderId`).
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// Matches a concrete path against the routes: the route and the path parameters' values.
pub fn match_route<'p>(
    method: &str,
    path: &'p str,
) -> Option<(&'static Route, Vec<(&'static str, &'p str)>)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    ROUTES.iter().find_map(|r| {
        if r.method != method {
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

/// The methods a path answers, for CORS preflight and 405s.
pub fn methods_of(path: &str) -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.method)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_concrete_paths_with_their_parameters() {
        let (r, p) = match_route("GET", "/orders/abc-123").unwrap();
        assert_eq!(r.path, "/orders/{orderId}");
        assert_eq!(p, [("orderId", "abc-123")]);
        assert_eq!(match_route("GET", "/").unwrap().0.path, "/");
        assert_eq!(
            match_route("POST", "/orders").unwrap().0.function.name,
            "orders-api"
        );
        assert!(match_route("DELETE", "/orders").is_none());
        assert!(match_route("GET", "/orders/a/b").is_none());
        assert!(match_route("GET", "/nope").is_none());
    }

    #[test]
    fn order_and_inventory_routes_need_the_key_and_health_does_not() {
        for r in ROUTES {
            let protected = r.path.starts_with("/orders") || r.path.starts_with("/inventory");
            assert_eq!(r.api_key, protected, "{} {}", r.method, r.path);
        }
        assert_eq!(methods_of("/orders"), ["POST", "GET"]);
        assert_eq!(path_params("/inventory/{sku}"), ["sku"]);
    }

    #[test]
    fn every_body_model_is_a_draft4_object_schema() {
        for r in ROUTES.iter().filter_map(|r| r.body) {
            let s = (r.schema)();
            assert_eq!(s["type"], "object", "{}", r.name);
            assert!(r.name.chars().all(|c| c.is_ascii_alphanumeric()));
        }
    }
}
