//! The Runtime API over HTTP/1.1: one listener per sandbox, `/next`, responses, errors.

use super::*;

pub(super) fn accept_loop(shared: &Arc<Shared>, id: u64, alive: &Arc<AtomicBool>, listener: &TcpListener) {
    static NEXT_CONN: AtomicU64 = AtomicU64::new(1);
    for conn in listener.incoming() {
        if !alive.load(Ordering::SeqCst) || shared.lock().stopping {
            break;
        }
        let stream = match conn {
            Ok(stream) => stream,
            Err(_) => {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn_id = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
        {
            let mut state = shared.lock();
            let Some(proc) = state.procs.get_mut(&id) else {
                break;
            };
            if let Ok(clone) = stream.try_clone() {
                proc.conns.insert(conn_id, clone);
            }
        }
        let work = {
            let shared = Arc::clone(shared);
            let alive = Arc::clone(alive);
            move || {
                serve_connection(&shared, id, &alive, stream);
                if let Some(proc) = shared.lock().procs.get_mut(&id) {
                    proc.conns.remove(&conn_id);
                }
            }
        };
        if shared
            .track(format!("{}-conn-{conn_id}", shared.config.name), work)
            .is_err()
        {
            shared.notice("cannot start a thread for a Runtime API connection");
        }
    }
}

pub(super) struct Request {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) headers: Vec<(String, String)>,
    /// `None` when the body is over [`MAX_RESPONSE_BYTES`] (read and dropped).
    pub(super) body: Option<Vec<u8>>,
    pub(super) keep_alive: bool,
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
}

pub(super) fn serve_connection(shared: &Shared, id: u64, alive: &AtomicBool, stream: TcpStream) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    while alive.load(Ordering::SeqCst) {
        let request = match read_request(&mut reader, &stream) {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(err) if err.kind() == io::ErrorKind::InvalidData => {
                let answer = Answer::error(400, "InvalidRequest", &err.to_string());
                let _ = write_answer(
                    &stream,
                    Answer {
                        close: true,
                        ..answer
                    },
                );
                break;
            }
            Err(_) => break,
        };
        let keep_alive = request.keep_alive;
        let Some(mut answer) = route(shared, id, alive, request) else {
            break; // the sandbox is gone or the emulator is stopping: just close
        };
        answer.close |= !keep_alive;
        let close = answer.close;
        if write_answer(&stream, answer).is_err() || close {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

pub(super) fn route(shared: &Shared, id: u64, alive: &AtomicBool, request: Request) -> Option<Answer> {
    let path = request.path.split('?').next().unwrap_or_default().to_owned();
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return Some(not_found(shared, &request.method, &path));
    };
    let method = request.method.as_str();
    if method == "GET" && rest == "invocation/next" {
        return next_event(shared, id, alive);
    }
    if method == "POST" && rest == "init/error" {
        return Some(init_error(shared, id, &request));
    }
    let result = rest
        .strip_prefix("invocation/")
        .and_then(|tail| tail.rsplit_once('/'))
        .filter(|(request_id, _)| !request_id.is_empty() && !request_id.contains('/'));
    match (method, result) {
        ("POST", Some((request_id, "response"))) => {
            return Some(invocation_result(shared, id, request_id, &request, false));
        }
        ("POST", Some((request_id, "error"))) => {
            return Some(invocation_result(shared, id, request_id, &request, true));
        }
        _ => {}
    }
    Some(not_found(shared, method, &path))
}

pub(super) fn not_found(shared: &Shared, method: &str, path: &str) -> Answer {
    shared.notice(&format!(
        "the runtime asked for {method} {path}, which this emulator does not serve (404)"
    ));
    Answer::error(404, "NotFound", &format!("no such resource: {method} {path}"))
}

/// `GET /next`: waits until this sandbox is free and an event is queued, then hands it over.
pub(super) fn next_event(shared: &Shared, id: u64, alive: &AtomicBool) -> Option<Answer> {
    let mut state = shared.lock();
    if let Some(proc) = state.procs.get_mut(&id)
        && proc.ready_at.is_none()
    {
        proc.ready_at = Some(Instant::now());
        state.ever_ready = true;
        shared.changed.notify_all();
    }
    let (queued, deadline_ms) = loop {
        if state.stopping || state.failed.is_some() || !alive.load(Ordering::SeqCst) {
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

/// Reads one request; `Ok(None)` when the client closed the connection between requests.
/// Malformed input is an `InvalidData` error.
pub(super) fn read_request(reader: &mut impl BufRead, stream: &TcpStream) -> io::Result<Option<Request>> {
    let mut line = None;
    // RFC 9112 § 2.2: ignore empty lines before a request line.
    for _ in 0..8 {
        match read_line(reader, MAX_HEADER_BYTES)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => {
                line = Some(l);
                break;
            }
        }
    }
    let Some(line) = line else {
        return Err(invalid("no request line"));
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(&format!("malformed request line: {line}")));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(invalid(&format!("unsupported HTTP version: {version}"))),
    };
    let mut headers = Vec::new();
    let mut header_bytes = 0;
    loop {
        let Some(line) = read_line(reader, MAX_HEADER_BYTES)? else {
            return Err(io::ErrorKind::UnexpectedEof.into());
        };
        if line.is_empty() {
            break;
        }
        header_bytes += line.len();
        if header_bytes > MAX_HEADER_BYTES {
            return Err(invalid("request headers too large"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid(&format!("malformed header: {line}")));
        };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
        body: Some(Vec::new()),
        keep_alive: false,
    };
    let connection = request
        .header("Connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    request.keep_alive = if http10 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    if request
        .header("Expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        let mut out = stream;
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let chunked = request
        .header("Transfer-Encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    request.body = if chunked {
        read_chunked(reader)?
    } else if let Some(length) = request.header("Content-Length") {
        let length: usize = length
            .parse()
            .map_err(|_| invalid(&format!("bad Content-Length: {length}")))?;
        if length > MAX_RESPONSE_BYTES {
            if length > DISCARD_LIMIT {
                return Err(invalid(&format!("request body of {length} bytes is too large")));
            }
            // Read it anyway, so that the client can read the 413 and the connection goes on.
            let n = io::copy(&mut reader.by_ref().take(length as u64), &mut io::sink())?;
            if n < length as u64 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            None
        } else {
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            Some(body)
        }
    } else {
        Some(Vec::new())
    };
    Ok(Some(request))
}

pub(super) fn read_chunked(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    let mut total: usize = 0;
    loop {
        let Some(line) = read_line(reader, 1024)? else {
            return Err(io::ErrorKind::UnexpectedEof.into());
        };
        let size = line.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size, 16).map_err(|_| invalid(&format!("bad chunk size: {line}")))?;
        if size == 0 {
            // Trailers (e.g. Lambda-Runtime-Function-Error-Type of a stream) up to an empty line.
            loop {
                match read_line(reader, MAX_HEADER_BYTES)? {
                    None => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Some(l) if l.is_empty() => {
                        return Ok((total <= MAX_RESPONSE_BYTES).then_some(body));
                    }
                    Some(_) => {}
                }
            }
        }
        total = total.saturating_add(size);
        if total > DISCARD_LIMIT {
            return Err(invalid("chunked request body too large"));
        }
        if total > MAX_RESPONSE_BYTES {
            // Too large: read on without keeping it, so that the client can read the 413.
            body = Vec::new();
            let n = io::copy(&mut reader.by_ref().take(size as u64), &mut io::sink())?;
            if n < size as u64 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        } else {
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
        }
        match read_line(reader, 2)? {
            Some(l) if l.is_empty() => {}
            _ => return Err(invalid("chunk not followed by CRLF")),
        }
    }
}

/// One line without its CRLF; `None` at end of stream before any byte.
pub(super) fn read_line(reader: &mut impl BufRead, max: usize) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(2);
    let n = reader.by_ref().take(limit).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        return Err(if buf.len() as u64 >= limit {
            invalid("line too long")
        } else {
            io::ErrorKind::UnexpectedEof.into()
        });
    }
    buf.pop();
    if buf.ends_with(b"\r") {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

pub(super) fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

pub(super) fn write_answer(stream: &TcpStream, answer: Answer) -> io::Result<()> {
    let reason = match answer.status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        _ => "Internal Server Error",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if answer.close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&answer.body);
    let mut out = stream;
    out.write_all(&bytes)?;
    out.flush()
}
