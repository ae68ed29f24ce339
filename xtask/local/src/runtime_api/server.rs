//! The Runtime API over HTTP/1.1 ([`crate::serve`], hyper): one listener per sandbox, `/next`,
//! responses, errors.

use super::*;
use crate::serve;

/// Serves sandbox `id`'s Runtime API on `listener` until `gone` is set. Response bodies over
/// [`MAX_RESPONSE_BYTES`] are read and dropped up to [`DISCARD_LIMIT`], so that the runtime reads
/// the 413 and its connection goes on.
pub(super) fn serve_sandbox(
    shared: &Arc<Shared>,
    id: u64,
    gone: &Arc<AtomicBool>,
    listener: TcpListener,
) -> Result<JoinHandle<()>> {
    let name = format!("{}-api-{id}", shared.config.name);
    let (shared, flag) = (Arc::clone(shared), Arc::clone(gone));
    let limit = serve::BodyLimit {
        keep: MAX_RESPONSE_BYTES,
        drain: DISCARD_LIMIT,
    };
    serve::serve(&name, listener, Arc::clone(gone), limit, move |request| {
        let request = Request {
            method: request.method,
            path: request.target,
            headers: request.headers,
            body: request.body,
        };
        route(&shared, id, &flag, &request).into_response()
    })
}

pub(super) struct Request {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) headers: Vec<(String, String)>,
    /// `None` when the body is over [`MAX_RESPONSE_BYTES`] (read and dropped).
    pub(super) body: Option<Vec<u8>>,
}

impl Request {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: Vec<(&'static str, String)>,
    pub(super) body: Vec<u8>,
    /// Close the connection after this answer.
    pub(super) close: bool,
}

impl Answer {
    pub(super) fn json(status: u16, body: &Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
            close: false,
        }
    }

    pub(super) fn accepted() -> Answer {
        Answer::json(202, &json!({"status": "OK"}))
    }

    pub(super) fn error(status: u16, error_type: &str, message: &str) -> Answer {
        Answer::json(status, &json!({"errorMessage": message, "errorType": error_type}))
    }

    pub(super) fn invalid_request_id() -> Answer {
        Answer::error(400, "InvalidRequestID", "Invalid request ID")
    }

    /// The sandbox is gone or the emulator is stopping: the runtime is being killed, so what
    /// it reads hardly matters; it is told so, and the connection closes.
    fn gone() -> Answer {
        Answer {
            close: true,
            ..Answer::error(
                500,
                "Emulator.SandboxGone",
                "this sandbox is stopped (killed, recycled, or the emulator is shutting down)",
            )
        }
    }

    fn into_response(self) -> serve::Response {
        let mut headers: Vec<(String, String)> = vec![("Content-Type".into(), "application/json".into())];
        headers.extend(self.headers.into_iter().map(|(k, v)| (k.to_owned(), v)));
        if self.close {
            headers.push(("Connection".into(), "close".into()));
        }
        serve::Response {
            status: self.status,
            headers,
            body: self.body,
        }
    }
}

pub(super) fn route(shared: &Shared, id: u64, gone: &AtomicBool, request: &Request) -> Answer {
    let path = request.path.split('?').next().unwrap_or_default().to_owned();
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return not_found(shared, &request.method, &path);
    };
    let method = request.method.as_str();
    if method == "GET" && rest == "invocation/next" {
        return next_event(shared, id, gone).unwrap_or_else(Answer::gone);
    }
    if method == "POST" && rest == "init/error" {
        return init_error(shared, id, request);
    }
    let result = rest
        .strip_prefix("invocation/")
        .and_then(|tail| tail.rsplit_once('/'))
        .filter(|(request_id, _)| !request_id.is_empty() && !request_id.contains('/'));
    match (method, result) {
        ("POST", Some((request_id, "response"))) => {
            return invocation_result(shared, id, request_id, request, false);
        }
        ("POST", Some((request_id, "error"))) => {
            return invocation_result(shared, id, request_id, request, true);
        }
        _ => {}
    }
    not_found(shared, method, &path)
}

pub(super) fn not_found(shared: &Shared, method: &str, path: &str) -> Answer {
    shared.notice(&format!(
        "the runtime asked for {method} {path}, which this emulator does not serve (404)"
    ));
    Answer::error(404, "NotFound", &format!("no such resource: {method} {path}"))
}

/// `GET /next`: waits until this sandbox is free and an event is queued, then hands it over;
/// `None` once the sandbox is gone.
pub(super) fn next_event(shared: &Shared, id: u64, gone: &AtomicBool) -> Option<Answer> {
    let mut state = shared.lock();
    if let Some(proc) = state.procs.get_mut(&id)
        && proc.ready_at.is_none()
    {
        proc.ready_at = Some(Instant::now());
        state.ever_ready = true;
        shared.changed.notify_all();
    }
    let (queued, deadline_ms) = loop {
        if state.stopping || state.failed.is_some() || gone.load(Ordering::SeqCst) {
            return None;
        }
        let free = state
            .procs
            .get(&id)
            .is_some_and(|p| p.busy.is_none() && !p.retiring);
        if let Some(queued) = free.then(|| state.queue.pop_front()).flatten() {
            let now = Instant::now();
            let deadline_ms = SystemTime::now()
                .checked_add(shared.config.timeout)
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis());
            if let Some(proc) = state.procs.get_mut(&id) {
                proc.busy = Some(queued.request_id.clone());
            }
            state.in_flight.insert(
                queued.request_id.clone(),
                InFlight {
                    proc: id,
                    queued: now.duration_since(queued.enqueued),
                    dispatched: now,
                    deadline: now + shared.config.timeout,
                    reply: queued.reply.clone(),
                },
            );
            break (queued, deadline_ms);
        }
        state = wait_timeout(&shared.changed, state, Duration::from_secs(1));
    };
    drop(state);
    let mut headers = vec![
        ("Lambda-Runtime-Aws-Request-Id", queued.request_id.clone()),
        ("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string()),
        ("Lambda-Runtime-Invoked-Function-Arn", shared.arn.clone()),
        ("Lambda-Runtime-Trace-Id", trace_id()),
    ];
    if let Some(context) = queued.client_context {
        headers.push(("Lambda-Runtime-Client-Context", context));
    }
    if let Some(identity) = queued.cognito_identity {
        headers.push(("Lambda-Runtime-Cognito-Identity", identity));
    }
    Some(Answer {
        status: 200,
        headers,
        body: queued.body,
        close: false,
    })
}

/// `POST /invocation/{id}/response` and `/error`.
pub(super) fn invocation_result(
    shared: &Shared,
    id: u64,
    request_id: &str,
    request: &Request,
    is_error: bool,
) -> Answer {
    let mut state = shared.lock();
    let ours = state.in_flight.get(request_id).is_some_and(|f| f.proc == id);
    if !ours {
        return Answer::invalid_request_id();
    }
    let Some(body) = &request.body else {
        state.complete(
            request_id,
            Outcome::Error {
                error_type: "Function.ResponseSizeTooLarge".to_owned(),
                error_message: format!(
                    "Response payload size exceeded maximum allowed payload size \
                     ({MAX_RESPONSE_BYTES} bytes)."
                ),
            },
        );
        drop(state);
        shared.changed.notify_all();
        let message = format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).");
        return Answer::error(413, "RequestEntityTooLarge", &message);
    };
    let outcome = if is_error {
        error_outcome(body, request.header("Lambda-Runtime-Function-Error-Type"))
    } else {
        response_outcome(body, request)
    };
    state.complete(request_id, outcome);
    drop(state);
    shared.changed.notify_all();
    Answer::accepted()
}

pub(super) fn response_outcome(body: &[u8], request: &Request) -> Outcome {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Outcome::Response(Value::Null);
    }
    match serde_json::from_slice(body) {
        Ok(value) => Outcome::Response(value),
        Err(err) => {
            let streamed = request
                .header("Lambda-Runtime-Function-Response-Mode")
                .is_some_and(|m| m.eq_ignore_ascii_case("streaming"));
            let why = if streamed {
                "a streamed response, which this emulator does not support".to_owned()
            } else {
                format!("not JSON ({err})")
            };
            let start = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            Outcome::Error {
                error_type: "Emulator.UnsupportedResponse".to_owned(),
                error_message: format!("the function answered {why}: {start}"),
            }
        }
    }
}

/// The body is `{"errorType", "errorMessage", "stackTrace"?}`; when it cannot be read, Lambda
/// falls back on the `Lambda-Runtime-Function-Error-Type` header.
pub(super) fn error_outcome(body: &[u8], header_type: Option<&str>) -> Outcome {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Outcome::Error {
        error_type: field("errorType")
            .or_else(|| header_type.map(str::to_owned))
            .unwrap_or_else(|| "Runtime.Unknown".to_owned()),
        error_message: field("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(body).into_owned()),
    }
}

/// `POST /init/error`: the runtime cannot start. Stops the function with the runtime's reason.
pub(super) fn init_error(shared: &Shared, id: u64, request: &Request) -> Answer {
    let body = request.body.as_deref().unwrap_or_default();
    let Outcome::Error {
        error_type,
        error_message,
    } = error_outcome(body, request.header("Lambda-Runtime-Function-Error-Type"))
    else {
        return Answer::accepted();
    };
    let mut notices = Vec::new();
    let mut state = shared.lock();
    let Some(proc) = state.procs.get_mut(&id) else {
        return Answer::accepted();
    };
    if proc.ready_at.is_some() {
        return Answer::error(
            403,
            "InvalidStateTransition",
            "the runtime already asked for an invocation: init/error is only valid during init",
        );
    }
    let reason = format!(
        "sandbox {} (pid {}) reported an init error: {error_type}: {error_message}",
        proc.slot + 1,
        proc.pid
    );
    // The runtime should exit now; it gets its 202 first, and a moment to do so.
    proc.kill_at = Some(Instant::now() + INIT_ERROR_GRACE);
    state.fail(&shared.config.name, reason, &mut notices);
    drop(state);
    shared.changed.notify_all();
    for text in &notices {
        shared.notice(text);
    }
    Answer::accepted()
}
