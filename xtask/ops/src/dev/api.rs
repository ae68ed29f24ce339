//! The local REST API: what API Gateway does in front of the functions, from the same model.
//!
//! - Routes: `infra_model::system::api::ROUTES` via `match_route` (the table synthesis turns into
//!   API Gateway methods). An unknown method or path is the `MISSING_AUTHENTICATION_TOKEN`
//!   gateway response (404 here, as the template sets it).
//! - The API key (`x-api-key`) on the routes that need it: else `INVALID_API_KEY` (403).
//! - Throttling: token buckets for the stage (`stage_throttle`) and the usage plan
//!   (`usage_plan.throttle`, plus its daily quota), from `Env::Dev.settings()`: `THROTTLED` /
//!   `QUOTA_EXCEEDED` (429). `--no-throttle` turns them off (the benchmark).
//! - CORS: `OPTIONS` answers what the template's MOCK preflight methods answer (204, the allowed
//!   origin, the path's methods, `CORS_ALLOWED_HEADERS`, max age 600).
//! - Parameter validation: required path parameters (always present once a route matched);
//!   bodies are validated by the handlers, as deployed (`ValidateRequestBody: false`).
//! - Gateway responses are rendered from the model's declarations
//!   (`infra_model::system::api::GATEWAY_RESPONSES`, which the template's
//!   `AWS::ApiGateway::GatewayResponse` resources are synthesized from), so errors have the API's
//!   format.
//! - Each request becomes a REST proxy event (API Gateway's v1 format), the function's proxy
//!   response becomes the HTTP answer; a function error is a 502 (`INTEGRATION_FAILURE`), a
//!   timeout a 504.
//! - HTTP/1.1 is hyper's ([`local_cloud::serve`]): keep-alive, chunked bodies, and a 400 for a
//!   request hyper cannot parse (a control character in a header value, as API Gateway's own
//!   front refuses it).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use base64::Engine as _;
use infra_model::aws::apigateway::Throttle;
use infra_model::contract::api::limits::MAX_BODY_BYTES;
use infra_model::system::api::{CORS_ALLOWED_HEADERS, ROUTES, gateway_response, match_route, methods_of};
use serde_json::{Map, Value, json};

use super::sources::invoke;
use local_cloud::serve;

use crate::runtime_api::{LocalFunction, uuid_v4};

/// The most bytes of request line and headers a request may have (API Gateway's REST quota).
const MAX_HEAD_BYTES: usize = 10_240;

/// A token bucket: `rate` per second, at most `burst`.
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub fn new(t: Throttle) -> Bucket {
        Bucket {
            rate: f64::from(t.rate_per_second),
            burst: f64::from(t.burst),
            tokens: f64::from(t.burst),
            at: Instant::now(),
        }
    }

    /// Takes a token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The API's configuration.
pub struct ApiConfig {
    pub api_key: String,
    pub throttle: bool,
    pub cors_origin: String,
    pub functions: BTreeMap<String, Arc<LocalFunction>>,
    pub stage: String,
}

/// The running server's state.
pub struct Api {
    config: ApiConfig,
    stage_bucket: Mutex<Bucket>,
    plan_bucket: Mutex<Bucket>,
    quota: Mutex<(u64, u32)>,
    daily_quota: u32,
    requests: AtomicU64,
}

/// An HTTP answer.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Api {
    pub fn new(config: ApiConfig, settings: &infra_model::system::Settings) -> Api {
        Api {
            stage_bucket: Mutex::new(Bucket::new(settings.stage_throttle)),
            plan_bucket: Mutex::new(Bucket::new(settings.usage_plan.throttle)),
            quota: Mutex::new((0, 0)),
            daily_quota: settings.usage_plan.daily_quota,
            config,
            requests: AtomicU64::new(0),
        }
    }

    /// Serves on `listener` until `stop` is set (the local cloud's hyper server: keep-alive,
    /// each request on the blocking pool while its function answers).
    pub fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        stop: Arc<AtomicBool>,
    ) -> Result<std::thread::JoinHandle<()>> {
        serve::serve(
            "dev-api",
            listener,
            stop,
            serve::BodyLimit::at(MAX_BODY_BYTES * 16),
            move |req| self.answer(req),
        )
        .context("cannot start the local API")
    }

    /// One HTTP request: API Gateway's own limits first, then [`Api::handle`].
    fn answer(&self, req: serve::Request) -> serve::Response {
        // API Gateway's quota on the request line and header values together (REST APIs:
        // 10,240 bytes) and on the payload (10 MB); over them it answers 413 itself.
        let answer = match req.body {
            Some(body) if req.head_bytes <= MAX_HEAD_BYTES => self.handle(
                &req.method,
                &req.target,
                &req.headers,
                body,
                &req.peer.ip().to_string(),
            ),
            _ => self.gateway("REQUEST_TOO_LARGE", "Request Too Long", &uuid_v4()),
        };
        serve::Response {
            status: answer.status,
            headers: answer.headers,
            body: answer.body,
        }
    }

    /// A gateway response, as the model declares it (the template's `GatewayResponse`s are
    /// synthesized from the same declarations).
    fn gateway(&self, kind: &str, message: &str, request_id: &str) -> Answer {
        let g = gateway_response(kind)
            .or_else(|| gateway_response("DEFAULT_4XX"))
            .expect("the model declares DEFAULT_4XX");
        let body = g
            .template()
            .replace("$context.error.messageString", &json!(message).to_string())
            .replace("$context.requestId", request_id);
        let mut headers = vec![
            (
                "Access-Control-Allow-Origin".to_owned(),
                self.config.cors_origin.clone(),
            ),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ];
        headers.push(("x-amzn-RequestId".into(), request_id.to_owned()));
        headers.push(("x-amzn-ErrorType".into(), kind.to_owned()));
        Answer {
            status: g.status(),
            headers,
            body: body.into_bytes(),
        }
    }

    fn handle(
        &self,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        peer: &str,
    ) -> Answer {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let request_id = uuid_v4();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let path = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        // CORS preflight: the MOCK integration of each resource.
        if method == "OPTIONS" {
            let pattern = ROUTES
                .iter()
                .find(|r| match_route(r.method.as_str(), path).is_some_and(|(m, _)| m.path == r.path))
                .map(|r| r.path);
            if let Some(p) = pattern {
                let mut methods: Vec<&str> = methods_of(p);
                methods.push("OPTIONS");
                return Answer {
                    status: 204,
                    headers: vec![
                        (
                            "Access-Control-Allow-Origin".into(),
                            self.config.cors_origin.clone(),
                        ),
                        ("Access-Control-Allow-Methods".into(), methods.join(",")),
                        (
                            "Access-Control-Allow-Headers".into(),
                            CORS_ALLOWED_HEADERS.join(","),
                        ),
                        ("Access-Control-Max-Age".into(), "600".into()),
                        ("Vary".into(), "Origin".into()),
                    ],
                    body: vec![],
                };
            }
        }
        let Some((route, params)) = match_route(method, path) else {
            return self.gateway(
                "MISSING_AUTHENTICATION_TOKEN",
                "Missing Authentication Token",
                &request_id,
            );
        };
        if self.config.throttle
            && !self
                .stage_bucket
                .lock()
                .map(|mut b| b.take(Instant::now()))
                .unwrap_or(true)
        {
            return self.gateway("THROTTLED", "Too Many Requests", &request_id);
        }
        let key = header("x-api-key").unwrap_or("");
        if route.api_key {
            if key != self.config.api_key {
                return self.gateway("INVALID_API_KEY", "Forbidden", &request_id);
            }
            if self.config.throttle {
                if !self
                    .plan_bucket
                    .lock()
                    .map(|mut b| b.take(Instant::now()))
                    .unwrap_or(true)
                {
                    return self.gateway("THROTTLED", "Too Many Requests", &request_id);
                }
                let day = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs() / 86_400)
                    .unwrap_or(0);
                if let Ok(mut q) = self.quota.lock() {
                    if q.0 != day {
                        *q = (day, 0);
                    }
                    if q.1 >= self.daily_quota {
                        return self.gateway("QUOTA_EXCEEDED", "Limit Exceeded", &request_id);
                    }
                    q.1 += 1;
                }
            }
        }
        let Some(function) = self.config.functions.get(route.function.name) else {
            return self.gateway("INTEGRATION_FAILURE", "Internal server error", &request_id);
        };
        let event = proxy_event(
            route.method.as_str(),
            route.path,
            path,
            query,
            &params,
            headers,
            &body,
            peer,
            &request_id,
            key,
            &self.config.stage,
        );
        match invoke(function, event) {
            Ok(resp) => proxy_answer(&resp)
                .unwrap_or_else(|| self.gateway("INTEGRATION_FAILURE", "Internal server error", &request_id)),
            Err((t, _)) if t == "Sandbox.Timedout" => {
                self.gateway("INTEGRATION_TIMEOUT", "Endpoint request timed out", &request_id)
            }
            Err(_) => self.gateway("INTEGRATION_FAILURE", "Internal server error", &request_id),
        }
    }
}

fn proxy_answer(resp: &Value) -> Option<Answer> {
    let status = u16::try_from(resp.get("statusCode")?.as_u64()?).ok()?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for (k, v) in resp["headers"].as_object().into_iter().flatten() {
        if let Some(v) = v.as_str() {
            headers.push((k.clone(), v.to_owned()));
        }
    }
    for (k, vs) in resp["multiValueHeaders"].as_object().into_iter().flatten() {
        if headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)) {
            continue;
        }
        for v in vs.as_array().into_iter().flatten().filter_map(Value::as_str) {
            headers.push((k.clone(), v.to_owned()));
        }
    }
    headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("content-length") && !k.eq_ignore_ascii_case("connection"));
    let body = resp["body"].as_str().unwrap_or("");
    let body = if resp["isBase64Encoded"] == true {
        base64::engine::general_purpose::STANDARD.decode(body).ok()?
    } else {
        body.as_bytes().to_vec()
    };
    Some(Answer {
        status,
        headers,
        body,
    })
}

#[allow(clippy::too_many_arguments)]
fn proxy_event(
    method: &str,
    resource: &str,
    path: &str,
    query: &str,
    params: &[(&str, &str)],
    headers: &[(String, String)],
    body: &[u8],
    peer: &str,
    request_id: &str,
    api_key: &str,
    stage: &str,
) -> Value {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in headers {
        single.insert(k.clone(), json!(v));
        if let Some(Value::Array(a)) = multi.get_mut(k) {
            a.push(json!(v));
        } else {
            multi.insert(k.clone(), json!([v]));
        }
    }
    let mut qs = Map::new();
    let mut mqs: Map<String, Value> = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        qs.insert(k.clone(), json!(v));
        if let Some(Value::Array(a)) = mqs.get_mut(&k) {
            a.push(json!(v));
        } else {
            mqs.insert(k, json!([v]));
        }
    }
    let path_params: Map<String, Value> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(percent_decode(v))))
        .collect();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let text = String::from_utf8(body.to_vec());
    let (body_value, b64) = match (&text, body.is_empty()) {
        (_, true) => (Value::Null, false),
        (Ok(t), false) => (json!(t), false),
        (Err(_), false) => (
            json!(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    };
    let opt = |m: Map<String, Value>| {
        if m.is_empty() {
            Value::Null
        } else {
            Value::Object(m)
        }
    };
    json!({
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": opt(single),
        "multiValueHeaders": opt(multi),
        "queryStringParameters": opt(qs),
        "multiValueQueryStringParameters": opt(mqs),
        "pathParameters": opt(path_params),
        "stageVariables": null,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": "",
            "path": format!("/{stage}{path}"),
            "accountId": crate::runtime_api::ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": "localhost",
            "requestTimeEpoch": u64::try_from(now.as_millis()).unwrap_or(0),
            "requestId": request_id,
            "identity": {
                "sourceIp": peer,
                "userAgent": headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("user-agent")).map(|(_, v)| v.clone()),
                "apiKey": if api_key.is_empty() { Value::Null } else { json!(api_key) },
                "apiKeyId": if api_key.is_empty() { Value::Null } else { json!("local") },
            },
            "domainName": "localhost",
            "apiId": "local",
        },
        "body": body_value,
        "isBase64Encoded": b64,
    })
}

/// A path or query value as API Gateway hands it to the function: percent-decoded, `+` a
/// space (as a form-encoded query writes it).
pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let mut b = Bucket::new(Throttle {
            rate_per_second: 10,
            burst: 20,
        });
        let t0 = Instant::now();
        assert_eq!((0..25).filter(|_| b.take(t0)).count(), 20);
        assert!(b.take(t0 + Duration::from_millis(100)));
        assert!(!b.take(t0 + Duration::from_millis(100)));
    }

    fn api(throttle: bool) -> Api {
        let settings = infra_model::Env::Dev.settings();
        Api::new(
            ApiConfig {
                api_key: "k".into(),
                throttle,
                cors_origin: "*".into(),
                functions: BTreeMap::new(),
                stage: "dev".into(),
            },
            &settings,
        )
    }

    fn call(api: &Api, method: &str, path: &str, key: Option<&str>) -> (u16, Value) {
        let headers: Vec<(String, String)> = key
            .map(|k| vec![("x-api-key".into(), k.into())])
            .unwrap_or_default();
        let a = api.handle(method, path, &headers, vec![], "127.0.0.1");
        (a.status, serde_json::from_slice(&a.body).unwrap_or(Value::Null))
    }

    #[test]
    fn the_usage_plan_throttles_key_routes_after_its_burst() {
        let api = api(true);
        let statuses: Vec<u16> = (0..25)
            .map(|_| call(&api, "GET", "/orders/x", Some("k")).0)
            .collect();
        // No function behind the route here: the first 20 (the plan's burst) reach the
        // integration (502), then the plan throttles.
        assert_eq!(statuses.iter().filter(|s| **s == 502).count(), 20, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5, "{statuses:?}");
        let (_, body) = call(&api, "GET", "/orders/x", Some("k"));
        assert_eq!(body["code"], "TOO_MANY_REQUESTS");
        // Off: never throttled.
        let free = self::api(false);
        assert!((0..50).all(|_| call(&free, "GET", "/orders/x", Some("k")).0 == 502));
    }

    #[test]
    fn keys_routes_and_preflight() {
        let api = api(false);
        let (status, body) = call(&api, "POST", "/orders", None);
        assert_eq!((status, body["code"].as_str()), (403, Some("FORBIDDEN")));
        assert_eq!(body["message"], "Forbidden");
        assert_eq!(call(&api, "POST", "/orders", Some("wrong")).0, 403);
        let (status, body) = call(&api, "GET", "/nope", None);
        assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")));
        let a = api.handle("OPTIONS", "/orders/abc", &[], vec![], "127.0.0.1");
        assert_eq!(a.status, 204);
        assert!(
            a.headers
                .iter()
                .any(|(k, v)| k == "Access-Control-Allow-Methods" && v == "GET,OPTIONS")
        );
    }

    #[test]
    fn codecs() {
        assert_eq!(percent_decode("a%40b.com+x"), "a@b.com x");
        assert_eq!(percent_decode("100%25+%2B"), "100% +");
    }
}
