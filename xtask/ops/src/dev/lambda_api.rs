//! The local system's Lambda Invoke endpoint (like `sam local start-lambda`): the Lambda API's
//! `POST /2015-03-31/functions/{FunctionName}/invocations`, answered by the running functions,
//! so that the SDK's Lambda client, and `cargo xtask invoke --local`, invoke them as they
//! would a deployed function. It follows the Invoke reference
//! (<https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>): the payload as the body,
//! `X-Amz-Function-Error: Unhandled` with the error as the body when the function failed (HTTP
//! 200 all the same), `X-Amz-Log-Result` (the last 4 KB of the invocation's log, base64) with
//! `X-Amz-Log-Type: Tail`, 202 for `X-Amz-Invocation-Type: Event`, 204 for `DryRun`, and 404
//! `ResourceNotFoundException` for an unknown function.

use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use base64::Engine as _;
use serde_json::{Value, json};

use local_cloud::serve;

use crate::runtime_api::{LocalFunction, LogSink, MAX_EVENT_BYTES, Outcome};

/// Lambda's log tail: the last 4 KB.
const TAIL_BYTES: usize = 4096;
/// Lines kept per function for the tails.
const KEPT_LINES: usize = 500;

/// The recent lines of each function, for the log tails.
#[derive(Default)]
pub struct RecentLines(Mutex<HashMap<String, VecDeque<(Instant, String)>>>);

impl RecentLines {
    /// A sink that records every line, then passes it on to `next`.
    pub fn recording(self: &Arc<Self>, next: LogSink) -> LogSink {
        let me = Arc::clone(self);
        Arc::new(move |source: &str, line: &str| {
            if let Ok(mut m) = me.0.lock() {
                let q = m.entry(source.to_owned()).or_default();
                q.push_back((Instant::now(), line.to_owned()));
                if q.len() > KEPT_LINES {
                    q.pop_front();
                }
            }
            next(source, line);
        })
    }

    /// The function's lines since `since`, the last [`TAIL_BYTES`] of them.
    pub fn tail(&self, function: &str, since: Instant) -> String {
        let lines: Vec<String> = self
            .0
            .lock()
            .map(|m| {
                m.get(function)
                    .into_iter()
                    .flatten()
                    .filter(|(at, _)| *at >= since)
                    .map(|(_, l)| l.clone())
                    .collect()
            })
            .unwrap_or_default();
        let text = lines.join("\n") + "\n";
        let start = text.len().saturating_sub(TAIL_BYTES);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        text[start..].to_owned()
    }
}

/// The function a `FunctionName` names: its name, the deployed name (`orders-dev-payment`),
/// or an ARN of either.
pub fn find<'a>(functions: &'a [Arc<LocalFunction>], name: &str) -> Option<&'a Arc<LocalFunction>> {
    let name = name.rsplit_once(":function:").map_or(name, |(_, n)| n);
    let name = name.split(':').next().unwrap_or(name);
    functions
        .iter()
        .filter(|f| name == f.name() || name.ends_with(&format!("-{}", f.name())))
        .max_by_key(|f| f.name().len())
}

struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn error(status: u16, kind: &str, message: &str) -> Answer {
    Answer {
        status,
        headers: vec![("x-amzn-errortype", kind.to_owned())],
        body: json!({"Type": "User", "message": message})
            .to_string()
            .into_bytes(),
    }
}

fn answer(
    functions: &[Arc<LocalFunction>],
    recent: &RecentLines,
    method: &str,
    path: &str,
    headers: &HashMap<String, String>,
    body: &[u8],
) -> Answer {
    let Some(name) = path
        .split('?')
        .next()
        .and_then(|p| p.strip_prefix("/2015-03-31/functions/"))
        .and_then(|p| p.strip_suffix("/invocations"))
    else {
        return error(
            404,
            "UnknownOperationException",
            &format!("the local Lambda endpoint answers Invoke only, not {method} {path}"),
        );
    };
    let name = crate::dev::api::percent_decode(name);
    let Some(f) = find(functions, &name) else {
        let names: Vec<&str> = functions.iter().map(|f| f.name()).collect();
        return error(
            404,
            "ResourceNotFoundException",
            &format!(
                "Function not found: {name} (the local system runs {})",
                names.join(", ")
            ),
        );
    };
    let event: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return error(
                    400,
                    "InvalidRequestContentException",
                    &format!("Could not parse request body into json: {e}"),
                );
            }
        }
    };
    match headers.get("x-amz-invocation-type").map(String::as_str) {
        Some("DryRun") => {
            return Answer {
                status: 204,
                headers: Vec::new(),
                body: Vec::new(),
            };
        }
        Some("Event") => {
            let f = Arc::clone(f);
            std::thread::spawn(move || {
                let _ = f.invoke(event);
            });
            return Answer {
                status: 202,
                headers: Vec::new(),
                body: Vec::new(),
            };
        }
        _ => {}
    }
    let since = Instant::now();
    let invocation = match f.invoke(event) {
        Ok(i) => i,
        Err(e) => return error(502, "ServiceException", &e.to_string()),
    };
    let (request_id, duration) = (invocation.request_id.clone(), invocation.duration);
    let mut out = Answer {
        status: 200,
        headers: vec![("x-amz-executed-version", "$LATEST".to_owned())],
        body: Vec::new(),
    };
    match invocation.outcome {
        Outcome::Response(v) => out.body = v.to_string().into_bytes(),
        Outcome::Error {
            error_type,
            error_message,
        } => {
            out.headers.push(("x-amz-function-error", "Unhandled".to_owned()));
            out.body = json!({"errorType": error_type, "errorMessage": error_message})
                .to_string()
                .into_bytes();
        }
    }
    if headers.get("x-amz-log-type").is_some_and(|t| t == "Tail") {
        // The last lines can reach the sink just after the answer.
        std::thread::sleep(Duration::from_millis(50));
        // The function's lines between the platform's, as Lambda writes them.
        let tail = format!(
            "START RequestId: {request_id} Version: $LATEST\n{}END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {:.2} ms\n",
            recent.tail(f.name(), since).trim_start_matches('\n'),
            duration.as_secs_f64() * 1000.0
        );
        let mut cut = tail.len().saturating_sub(TAIL_BYTES);
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        let tail = tail[cut..].to_owned();
        out.headers.push((
            "x-amz-log-result",
            base64::engine::general_purpose::STANDARD.encode(tail),
        ));
    }
    out
}

/// Serves the endpoint on `listener` until `stop`.
pub fn serve(
    listener: TcpListener,
    functions: Vec<Arc<LocalFunction>>,
    recent: Arc<RecentLines>,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>> {
    // Invoke's payload limit (6 MB synchronous); a larger one is refused, as Lambda does.
    serve::serve("dev-lambda", listener, stop, serve::BodyLimit::at(MAX_EVENT_BYTES), move |req| {
        let headers: HashMap<String, String> = req
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        let a = match &req.body {
            Some(body) => answer(&functions, &recent, &req.method, &req.target, &headers, body),
            None => error(
                413,
                "RequestTooLargeException",
                &format!(
                    "Request must be smaller than {MAX_EVENT_BYTES} bytes for the InvokeFunction operation"
                ),
            ),
        };
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-amzn-requestid".to_owned(), crate::runtime_api::uuid_v4()),
        ];
        headers.extend(a.headers.into_iter().map(|(k, v)| (k.to_owned(), v)));
        serve::Response {
            status: a.status,
            headers,
            body: a.body,
        }
    })
    .context("cannot start the local Lambda endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_4_kb_since_the_invocation() {
        let recent = Arc::new(RecentLines::default());
        let sink = recent.recording(Arc::new(|_: &str, _: &str| {}));
        sink("payment", "before");
        let since = Instant::now();
        sink("payment", "charged");
        sink("shipping", "not this one");
        assert_eq!(recent.tail("payment", since), "charged\n");
        for i in 0..200 {
            sink("payment", &format!("line {i:03} {}", "x".repeat(40)));
        }
        let tail = recent.tail("payment", since);
        assert!(
            tail.len() <= TAIL_BYTES && tail.ends_with("x\n") && tail.contains("line 199"),
            "{tail}"
        );
    }
}
