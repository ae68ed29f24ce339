//! A minimal HTTP/1.1 client (one request per connection) and the AWS JSON protocol over it:
//! what `cargo xtask dev` needs to talk to moto (SQS, DynamoDB Streams, Step Functions, Lambda),
//! and what its tests and benchmark use to call the local API.
//!
//! moto does not check signatures: requests carry a fixed `Authorization` header whose
//! credential scope names the service, which is how moto's single endpoint routes them.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, bail};
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

/// Sends one request and reads the whole response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    read_response(BufReader::new(stream))
}

fn read_response<R: BufRead>(mut r: R) -> Result<Response> {
    let mut line = String::new();
    r.read_line(&mut line).context("no HTTP status line")?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP status line: {line:?}"))?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .context("bad chunk size")?;
            if n == 0 {
                let mut end = String::new();
                r.read_line(&mut end)?;
                break;
            }
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            chunk.truncate(n);
            body.extend_from_slice(&chunk);
        }
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
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

/// Percent-encoding of one key or value (`application/x-www-form-urlencoded`, and a URL's
/// query): every byte but the unreserved ones.
pub fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
