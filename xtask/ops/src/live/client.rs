//! An HTTP(S) client of the order API, deployed (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`)
//! or local (`http://127.0.0.1:3000`): hyper 1 with rustls on ring and the system's root
//! certificates, the stack the SDK's own client compiles. One connection pool, shared by every
//! task of a test or a load run.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use infra_model::system::api::API_KEY_HEADER;
use serde_json::Value;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// One answer of the API.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// From the request's start to the body's last byte.
    pub elapsed: Duration,
}

impl Reply {
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

/// A client of one API: its base URL (with the stage, when deployed) and its key.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    api_key: String,
    client: Client<Https, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client of `url` (`http://` or `https://`, with or without a trailing `/`).
    pub fn new(url: &str, api_key: &str) -> Result<ApiClient> {
        let base = url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!(
                "the API's URL {url:?} must start with http:// or https:// (the ApiUrl output, or the URL `cargo xtask dev` prints)"
            );
        }
        base.parse::<hyper::Uri>()
            .with_context(|| format!("{url:?} is not a URL"))?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .context("cannot load this machine's root certificates for HTTPS")?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(ApiClient {
            base,
            api_key: api_key.to_owned(),
            client,
            timeout: Duration::from_secs(30),
        })
    }

    /// The base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// A client of the same API with another key (or none: `""`).
    pub fn with_key(&self, api_key: &str) -> ApiClient {
        ApiClient {
            api_key: api_key.to_owned(),
            ..self.clone()
        }
    }

    /// `method path` with a JSON body, the key when `with_key`, and `extra` headers.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        with_key: bool,
        extra: &[(&str, &str)],
    ) -> Result<Reply> {
        let url = format!("{}{path}", self.base);
        let mut req = Request::builder()
            .method(method)
            .uri(&url)
            .header("accept", "application/json");
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        if with_key && !self.api_key.is_empty() {
            req = req.header(API_KEY_HEADER, &self.api_key);
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let req = req
            .body(Full::new(bytes))
            .with_context(|| format!("cannot build the request {method} {url}"))?;
        let start = Instant::now();
        let exchange = async {
            let res = self.client.request(req).await?;
            let status = res.status().as_u16();
            let headers = local_cloud::http::header_pairs(res.headers());
            let body = res.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>((status, headers, body))
        };
        let (status, headers, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| anyhow::anyhow!("{method} {url}: no answer within {:?}", self.timeout))?
            .with_context(|| format!("{method} {url} failed: is the API up at {}?", self.base))?;
        Ok(Reply {
            status,
            headers,
            body,
            elapsed: start.elapsed(),
        })
    }

    /// [`ApiClient::send`] with the key; a 429 (the usage plan's or the stage's throttle) is
    /// retried for up to 10 s, as a client of a throttled API should.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Reply> {
        self.call_with(method, path, body, &[]).await
    }

    /// [`ApiClient::call`] with `extra` headers.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> Result<Reply> {
        let start = Instant::now();
        loop {
            let r = self.send(method, path, body, true, extra).await?;
            if r.status != 429 || start.elapsed() > Duration::from_secs(10) {
                return Ok(r);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_needs_its_scheme() {
        let e = ApiClient::new("127.0.0.1:3000", "k").unwrap_err();
        assert!(
            format!("{e:#}").contains("must start with http:// or https://"),
            "{e:#}"
        );
        let c = ApiClient::new("https://abc.execute-api.eu-west-1.amazonaws.com/dev/", "k").unwrap();
        assert_eq!(c.base(), "https://abc.execute-api.eu-west-1.amazonaws.com/dev");
    }
}
