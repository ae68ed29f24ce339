//! The functions' AWS endpoint: a proxy in front of moto that tells the event sources of each
//! write moto accepted (see [`super::super::sources::Activity`]) and, with faults
//! (`aws-errors`, `aws-stall`, `outage`), answers a share of requests with the errors the
//! services document, or holds them, while the outage is on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use local_cloud::serve;
use serde_json::json;

use super::{FaultSpec, Injected, Observer};
use crate::runtime_api::{random_u64, uuid_v4};

/// The functions' AWS endpoint with faults: forwards every request to moto, except that, while
/// armed and the outage is on, a share is answered with an error or held first.
pub struct FaultProxy {
    pub endpoint: String,
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

struct ProxyState {
    upstream: String,
    spec: FaultSpec,
    injected: Arc<Injected>,
    observe: Observer,
    client:
        hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

enum Decision {
    Pass,
    Stall,
    Error(ErrorKind),
}

#[derive(Clone, Copy)]
enum ErrorKind {
    Throttling,
    Internal,
    Unavailable,
}

impl ProxyState {
    fn decide(&self) -> Decision {
        let Some(armed) = self.injected.armed_at() else {
            return Decision::Pass;
        };
        if self.injected.disarmed_at().is_some() {
            return Decision::Pass;
        }
        if !self.spec.outage_on(armed.elapsed()) {
            self.injected.count(|c| c.aws_requests += 1);
            return Decision::Pass;
        }
        self.injected.count(|c| c.aws_requests += 1);
        let r = super::super::sources::unit_random();
        if r < self.spec.aws_errors {
            Decision::Error(match random_u64() % 3 {
                0 => ErrorKind::Throttling,
                1 => ErrorKind::Internal,
                _ => ErrorKind::Unavailable,
            })
        } else if r < self.spec.aws_errors + self.spec.aws_stall {
            Decision::Stall
        } else {
            Decision::Pass
        }
    }
}

/// The error as the service's protocol shapes it. The codes are the ones every AWS API reference
/// lists under "Common Errors" (`ThrottlingException` 400, `InternalFailure` 500,
/// `ServiceUnavailable` 503); the SDKs retry all three (throttling by its code, the others by
/// their status). JSON protocols (DynamoDB, SQS, Step Functions, Secrets Manager) carry the code
/// in `__type` and `x-amzn-ErrorType`; the query protocol (SNS) in an XML `ErrorResponse`.
fn error_response(
    kind: ErrorKind,
    query_protocol: bool,
    request_id: &str,
) -> (u16, String, Vec<(&'static str, String)>, String) {
    let (status, code, message, fault) = match kind {
        ErrorKind::Throttling => (400, "ThrottlingException", "Rate exceeded", "Sender"),
        ErrorKind::Internal => (
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
            "Receiver",
        ),
        ErrorKind::Unavailable => (
            503,
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
            "Receiver",
        ),
    };
    if query_protocol {
        let code = if code == "ThrottlingException" {
            "Throttling"
        } else {
            code
        };
        let body = format!(
            "<ErrorResponse><Error><Type>{fault}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        );
        return (
            status,
            code.to_owned(),
            vec![
                ("content-type", "text/xml".to_owned()),
                ("x-amzn-requestid", request_id.to_owned()),
            ],
            body,
        );
    }
    let body = json!({"__type": code, "message": message}).to_string();
    (
        status,
        code.to_owned(),
        vec![
            ("content-type", "application/x-amz-json-1.0".to_owned()),
            ("x-amzn-errortype", code.to_owned()),
            ("x-amzn-requestid", request_id.to_owned()),
        ],
        body,
    )
}

async fn handle(req: Request<Incoming>, st: Arc<ProxyState>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    match st.decide() {
        Decision::Error(kind) => {
            let query = parts
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
            let (status, code, headers, text) = error_response(kind, query, &uuid_v4());
            st.injected.count(|c| *c.aws_errors.entry(code).or_default() += 1);
            let mut r = Response::builder().status(status);
            for (k, v) in headers {
                r = r.header(k, v);
            }
            return r.body(Full::new(Bytes::from(text))).unwrap_or_default();
        }
        Decision::Stall => {
            st.injected.count(|c| c.aws_stalls += 1);
            tokio::time::sleep(st.spec.stall_for).await;
        }
        Decision::Pass => {}
    }
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = Request::builder()
        .method(parts.method.clone())
        .uri(format!("{}{path}", st.upstream));
    for (k, v) in &parts.headers {
        out = out.header(k, v);
    }
    let Ok(out) = out.body(Full::new(body)) else {
        return bad_gateway("the request could not be forwarded");
    };
    match st.client.request(out).await {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            match body.collect().await {
                Ok(b) => {
                    if parts.status.is_success() {
                        (st.observe)(&target);
                    }
                    Response::from_parts(parts, Full::new(b.to_bytes()))
                }
                Err(e) => bad_gateway(&format!("the emulator's answer broke off: {e}")),
            }
        }
        Err(e) => bad_gateway(&format!("the emulator did not answer: {e}")),
    }
}

fn bad_gateway(why: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(502)
        .body(Full::new(Bytes::from(why.to_owned())))
        .unwrap_or_default()
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (moto), unarmed until
    /// [`Faults::arm`].
    pub fn start(
        upstream: &str,
        spec: FaultSpec,
        injected: Arc<Injected>,
        observe: Observer,
    ) -> Result<FaultProxy> {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("cannot listen for the fault proxy")?;
        let addr: SocketAddr = listener.local_addr().context("the fault proxy has no address")?;
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            spec,
            injected,
            observe,
            client: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let thread = serve::serve_hyper(
            "dev-fault-proxy",
            listener,
            Arc::clone(&stop),
            move |req, _peer| handle(req, Arc::clone(&state)),
        )?;
        Ok(FaultProxy {
            endpoint: format!("http://{addr}"),
            thread: Some(thread),
            stop,
        })
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_shaped_as_each_protocol_documents_them() {
        let (status, code, headers, body) = error_response(ErrorKind::Throttling, false, "r-1");
        assert_eq!((status, code.as_str()), (400, "ThrottlingException"));
        assert!(headers.contains(&("x-amzn-errortype", "ThrottlingException".to_owned())));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["__type"],
            "ThrottlingException"
        );
        let (status, code, _, body) = error_response(ErrorKind::Unavailable, true, "r-2");
        assert_eq!((status, code.as_str()), (503, "ServiceUnavailable"));
        assert!(
            body.contains("<Code>ServiceUnavailable</Code>") && body.contains("<RequestId>r-2</RequestId>")
        );
        let (_, code, _, body) = error_response(ErrorKind::Throttling, true, "r-3");
        assert_eq!(code, "Throttling");
        assert!(body.contains("<Type>Sender</Type>"));
        assert_eq!(error_response(ErrorKind::Internal, false, "r").0, 500);
    }
}
