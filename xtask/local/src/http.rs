//! The local cloud's HTTP client (hyper 1, pooled keep-alive connections) as blocking calls, and
//! the AWS JSON protocol over it: what `cargo xtask dev` needs to talk to moto (SQS, DynamoDB
//! Streams, Step Functions, Lambda), and what its tests and commands use to call the local API.
//! The calls run on one small tokio runtime of this process's own, so the pollers, which are
//! plain threads, share one connection pool.
//!
//! moto does not check signatures: requests carry a fixed `Authorization` header whose
//! credential scope names the service, which is how moto's single endpoint routes them.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// An HTTP response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// `http://host:port` → a socket address.
pub fn addr_of(base: &str) -> Result<SocketAddr> {
    let rest = base.strip_prefix("http://").unwrap_or(base);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .with_context(|| format!("no address for {authority}"))
}

/// A header map as `(name, value)` pairs, in order: names in lower case (as hyper holds them),
/// values decoded lossily.
pub fn header_pairs(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// The process's client and the runtime its calls run on.
struct Pool {
    runtime: tokio::runtime::Runtime,
    client: Client<HttpConnector, Full<Bytes>>,
}

fn pool() -> Result<&'static Pool> {
    static POOL: OnceLock<Pool> = OnceLock::new();
    if let Some(pool) = POOL.get() {
        return Ok(pool);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("local-http")
        .enable_all()
        .build()
        .context("cannot start the local HTTP client's runtime")?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector);
    Ok(POOL.get_or_init(|| Pool { runtime, client }))
}

/// Sends one request and reads the whole response, within `timeout`. Blocking, like the std
/// APIs it sits beside: from async code (a test starting moto, say) it runs on a helper thread,
/// since a runtime cannot block on another from its own thread.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return std::thread::scope(|s| {
            s.spawn(|| request(addr, method, path, headers, body, timeout))
                .join()
                .unwrap_or_else(|_| Err(anyhow!("the HTTP call {method} {path} panicked")))
        });
    }
    let pool = pool()?;
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::copy_from_slice(body)))
        .with_context(|| format!("cannot build the request {method} {path}"))?;
    let exchange = async {
        let res = pool.client.request(req).await?;
        let status = res.status().as_u16();
        let headers = header_pairs(res.headers());
        let body = res.into_body().collect().await?.to_bytes().to_vec();
        Ok::<_, anyhow::Error>(Response {
            status,
            headers,
            body,
        })
    };
    pool.runtime
        .block_on(async { tokio::time::timeout(timeout, exchange).await })
        .map_err(|_| anyhow!("{method} {path} on {addr}: no answer within {timeout:?}"))?
        .with_context(|| format!("{method} {path} on {addr} failed"))
}

/// A client for moto's single endpoint.
#[derive(Clone, Debug)]
pub struct Aws {
    pub endpoint: String,
    addr: SocketAddr,
    pub region: String,
}

impl Aws {
    pub fn new(endpoint: &str) -> Result<Aws> {
        Ok(Aws {
            endpoint: endpoint.to_owned(),
            addr: addr_of(endpoint)?,
            region: "us-east-1".into(),
        })
    }

    fn auth(&self, service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{}/{service}/aws4_request, SignedHeaders=host, Signature=0",
            self.region
        )
    }

    /// An AWS JSON 1.0/1.1 call (`X-Amz-Target`); an error answer is an `Err` with its type and
    /// message.
    pub fn call(&self, service: &str, target: &str, body: &Value) -> Result<Value> {
        let content_type = if service == "sqs" || service == "states" || service == "dynamodb" {
            "application/x-amz-json-1.0"
        } else {
            "application/x-amz-json-1.1"
        };
        let auth = self.auth(service);
        let r = request(
            self.addr,
            "POST",
            "/",
            &[
                ("X-Amz-Target", target),
                ("Content-Type", content_type),
                ("Authorization", &auth),
            ],
            body.to_string().as_bytes(),
            Duration::from_secs(30),
        )
        .with_context(|| format!("{target} on {}", self.endpoint))?;
        if r.status != 200 {
            let v = r.json();
            let kind = v["__type"]
                .as_str()
                .unwrap_or("")
                .rsplit('#')
                .next()
                .unwrap_or("");
            let msg = v["message"].as_str().or(v["Message"].as_str()).unwrap_or("");
            bail!(
                "{target} answered HTTP {}: {kind} {msg} {}",
                r.status,
                if msg.is_empty() { r.text() } else { String::new() }
            );
        }
        Ok(if r.body.is_empty() { Value::Null } else { r.json() })
    }

    /// A REST GET (Lambda's API).
    /// An AWS Query protocol call (form-encoded, an XML answer), as SNS speaks it: `Ok` with the
    /// XML text, or an `Err` with the status and the answer.
    pub fn query(&self, service: &str, params: &[(&str, &str)]) -> Result<String> {
        let auth = self.auth(service);
        let body: String = params
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let action = params
            .iter()
            .find(|(k, _)| *k == "Action")
            .map_or("?", |(_, v)| *v);
        let r = request(
            self.addr,
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                ("Authorization", &auth),
            ],
            body.as_bytes(),
            Duration::from_secs(30),
        )
        .with_context(|| format!("{service} {action} on {}", self.endpoint))?;
        if r.status != 200 {
            bail!("{service} {action} answered HTTP {}: {}", r.status, r.text());
        }
        Ok(r.text())
    }

    pub fn rest_get(&self, service: &str, path: &str) -> Result<Value> {
        let auth = self.auth(service);
        let r = request(
            self.addr,
            "GET",
            path,
            &[("Authorization", &auth)],
            b"",
            Duration::from_secs(30),
        )?;
        if r.status != 200 {
            bail!("GET {path} ({service}) answered HTTP {}: {}", r.status, r.text());
        }
        Ok(r.json())
    }
}

/// What `application/x-www-form-urlencoded` (and a URL's query) escapes: every byte but the
/// unreserved ones (RFC 3986 § 2.3).
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encoding of one key or value (`application/x-www-form-urlencoded`, and a URL's
/// query).
pub fn form_encode(s: &str) -> String {
    utf8_percent_encode(s, FORM).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_escape_all_but_the_unreserved_bytes() {
        assert_eq!(form_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(form_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn calls_reuse_a_connection_and_work_from_async_code_too() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;

        use crate::serve::{BodyLimit, Response as Answer, serve};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let server = serve("http-test", listener, stop.clone(), BodyLimit::at(1024), |req| {
            Answer {
                status: 201,
                headers: vec![("X-Peer".into(), req.peer.to_string())],
                body: req.body.unwrap_or_default(),
            }
        })
        .unwrap();
        let call = || {
            request(
                addr,
                "POST",
                "/x",
                &[("X-A", "1")],
                b"hello",
                Duration::from_secs(5),
            )
            .unwrap()
        };
        let (first, second) = (call(), call());
        assert_eq!((first.status, first.text().as_str()), (201, "hello"));
        assert_eq!(
            first.header("x-peer"),
            second.header("x-peer"),
            "one pooled connection"
        );
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert_eq!(rt.block_on(async { call() }).status, 201);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        server.join().unwrap();
    }
}
