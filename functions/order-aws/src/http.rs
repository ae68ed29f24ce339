//! API Gateway proxy requests and responses: the request's parts the handlers need, JSON
//! responses with CORS headers, and errors in the API's error format.

use infra_model::contract::api::{ApiError, ErrorCode, Operation};
use infra_model::decl::Route;
use infra_model::system::api::{methods_of, params, route_of};
use lambda_http::http::header::{CONTENT_TYPE, HeaderValue};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

/// Which origins may call the API from a browser (`CORS_ALLOWED_ORIGINS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsPolicy {
    AnyOrigin,
    Origins(Vec<String>),
}

impl CorsPolicy {
    /// From the configuration value: `*` or a comma-separated list of origins.
    pub fn parse(config: &str) -> CorsPolicy {
        let config = config.trim();
        if config == "*" || config.is_empty() {
            CorsPolicy::AnyOrigin
        } else {
            CorsPolicy::Origins(
                config
                    .split(',')
                    .map(|o| o.trim().to_owned())
                    .filter(|o| !o.is_empty())
                    .collect(),
            )
        }
    }

    /// The CORS headers of a response to a request from `origin`.
    pub fn headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        match self {
            CorsPolicy::AnyOrigin => vec![("access-control-allow-origin", "*".into())],
            CorsPolicy::Origins(allowed) => {
                let mut h = vec![("vary", "Origin".to_string())];
                if let Some(o) = origin.filter(|o| allowed.iter().any(|a| a == o)) {
                    h.push(("access-control-allow-origin", o.to_owned()));
                }
                h
            }
        }
    }
}

/// What a handler needs from an API Gateway request.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiRequest {
    /// The declared route API Gateway matched (its method and `resource`), if any.
    pub route: Option<&'static Route>,
    pub method: String,
    /// API Gateway's resource: the matched path pattern (`/orders/{orderId}`).
    pub resource: String,
    pub path: String,
    /// Path parameters, e.g. `orderId`.
    pub params: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub origin: Option<String>,
    pub idempotency_key: Option<String>,
    pub body: Vec<u8>,
    /// API Gateway's request id (the one in its access log), or the Lambda request id.
    pub request_id: String,
}

impl ApiRequest {
    pub fn from_lambda(req: &Request) -> ApiRequest {
        // A value that is not visible ASCII is kept (lossily), so that its rule refuses it
        // instead of it passing as absent.
        let header = |name: &str| {
            req.headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let (request_id, resource) = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(ctx)) => (ctx.request_id.clone(), ctx.resource_path.clone()),
            _ => (None, None),
        };
        let request_id = request_id
            .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
            .unwrap_or_default();
        let resource = resource.unwrap_or_default();
        let method = req.method().as_str().to_owned();
        let params = req
            .path_parameters_ref()
            .map(|p| p.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
            .unwrap_or_default();
        let query = req
            .query_string_parameters_ref()
            .map(|q| q.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
            .unwrap_or_default();
        ApiRequest {
            route: route_of(&method, &resource),
            method,
            resource,
            path: req.raw_http_path().to_owned(),
            params,
            query,
            content_type: header("content-type"),
            origin: header("origin"),
            idempotency_key: header(&params::IDEMPOTENCY_KEY.name.to_ascii_lowercase()),
            body: req.body().as_ref().to_vec(),
            request_id,
        }
    }

    /// The operation of the matched route.
    pub fn operation(&self) -> Option<Operation> {
        self.route.map(|r| r.operation)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The answer to a request that reached a function none of whose routes it matches (API
/// Gateway sends only declared routes, so this is a misrouted call): 405 when the path is
/// declared with other methods, 404 otherwise.
pub fn unrouted(req: &ApiRequest, cors: &CorsPolicy) -> Response<Body> {
    let allowed = methods_of(&req.resource);
    let (status, code, message) = if allowed.is_empty() {
        (
            404,
            ErrorCode::NotFound,
            format!("No route for {} {}", req.method, req.path),
        )
    } else {
        (
            405,
            ErrorCode::MethodNotAllowed,
            format!(
                "Method {} is not allowed on {}: use {}",
                req.method,
                req.path,
                allowed.join(", ")
            ),
        )
    };
    error(
        status,
        code,
        message,
        &req.request_id,
        cors,
        req.origin.as_deref(),
    )
}

/// A JSON response with CORS headers.
pub fn json(status: u16, body: &impl Serialize, cors: &CorsPolicy, origin: Option<&str>) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    raw_json(status, text, cors, origin)
}

/// A response whose body is already JSON text (a replayed idempotent answer).
pub fn raw_json(status: u16, text: String, cors: &CorsPolicy, origin: Option<&str>) -> Response<Body> {
    let mut r = Response::new(Body::Text(text));
    *r.status_mut() = lambda_http::http::StatusCode::from_u16(status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if status == 503 {
        r.headers_mut().insert(
            lambda_http::http::header::RETRY_AFTER,
            HeaderValue::from(infra_model::contract::api::RETRY_AFTER_SECONDS),
        );
    }
    for (k, v) in cors.headers(origin) {
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

/// An error in the API's format: `{"code", "message", "requestId"}`.
pub fn error(
    status: u16,
    code: ErrorCode,
    message: impl Into<String>,
    request_id: &str,
    cors: &CorsPolicy,
    origin: Option<&str>,
) -> Response<Body> {
    json(
        status,
        &ApiError {
            code,
            message: message.into(),
            request_id: request_id.to_owned(),
        },
        cors,
        origin,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_echoes_only_allowed_origins() {
        let any = CorsPolicy::parse("*");
        assert_eq!(
            any.headers(Some("https://x")),
            [("access-control-allow-origin", "*".to_string())]
        );
        let list = CorsPolicy::parse("https://a.example, https://b.example");
        assert_eq!(
            list.headers(Some("https://b.example")),
            [
                ("vary", "Origin".into()),
                ("access-control-allow-origin", "https://b.example".into())
            ]
        );
        assert_eq!(
            list.headers(Some("https://evil.example")),
            [("vary", "Origin".to_string())]
        );
        assert_eq!(list.headers(None), [("vary", "Origin".to_string())]);
    }
}
