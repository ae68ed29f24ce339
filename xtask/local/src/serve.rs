//! The local cloud's HTTP/1.1 server, on hyper 1: what the Lambda Runtime API emulator, and the
//! local API Gateway and Lambda Invoke endpoint of `cargo xtask dev`, answer through.
//!
//! Their handlers are plain blocking functions (an invocation waits for a sandbox's answer), so
//! the server runs hyper on a tokio runtime of its own thread and hands each request, its body
//! read whole, to tokio's blocking pool: a slow invocation holds one pooled thread, never the
//! connections. Keep-alive, pipelining, chunked bodies and `Expect: 100-continue` are hyper's.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// How often the accept loop looks at its stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);

/// One request, its body read whole.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path and the query, as sent (`/orders?limit=5`).
    pub target: String,
    /// In the order sent; names as sent (HTTP/1.1's are case-insensitive).
    pub headers: Vec<(String, String)>,
    /// The request line and the header lines, as their bytes on the wire would count.
    pub head_bytes: usize,
    /// `None` when the body is over the server's limit: it was not read.
    pub body: Option<Vec<u8>>,
    pub peer: SocketAddr,
}

impl Request {
    /// The first value of a header, by its case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One answer. `Content-Length` is set from the body; a header named `content-length` here is
/// ignored.
#[derive(Clone, Debug, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// How much of a request body the server takes.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit {
    /// Bodies up to this many bytes reach the handler; over it, the handler sees `body: None`.
    pub keep: usize,
    /// A body over `keep` is still read and dropped up to this many bytes, so that the client
    /// reads the answer and its connection goes on; past it (or declared past it), the body is
    /// left unread and the connection closes after the answer.
    pub drain: usize,
}

impl BodyLimit {
    /// Keep up to `bytes`, drain nothing more.
    pub fn at(bytes: usize) -> BodyLimit {
        BodyLimit {
            keep: bytes,
            drain: bytes,
        }
    }
}

/// Serves `handler` on `listener` from a thread named `name` until `stop` is set, with bodies
/// as `limit` says.
pub fn serve<H>(
    name: &str,
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    limit: BodyLimit,
    handler: H,
) -> Result<JoinHandle<()>>
where
    H: Fn(Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    serve_hyper(name, listener, stop, move |req, peer| {
        answer(req, peer, limit, Arc::clone(&handler))
    })
}

/// The server under [`serve`], for a handler that is async itself and takes hyper's request as
/// it comes (the dev system's fault proxy streams to moto through hyper's client): the same
/// thread, runtime, accept loop, keep-alive and stop flag.
pub fn serve_hyper<F, Fut>(
    name: &str,
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    handler: F,
) -> Result<JoinHandle<()>>
where
    F: Fn(hyper::Request<Incoming>, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = hyper::Response<Full<Bytes>>> + Send + 'static,
{
    listener
        .set_nonblocking(true)
        .with_context(|| format!("cannot configure the listener of {name}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .thread_name(format!("{name}-pool"))
        .build()
        .with_context(|| format!("cannot start the runtime of {name}"))?;
    let handler = Arc::new(handler);
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            runtime.block_on(accept_loop(listener, &stop, handler));
            // Connections still open end here; invocations in flight on the blocking pool are
            // not waited for (their answers have nowhere to go).
            runtime.shutdown_background();
        })
        .with_context(|| format!("cannot start the thread of {name}"))
}

async fn accept_loop<F, Fut>(listener: TcpListener, stop: &AtomicBool, handler: Arc<F>)
where
    F: Fn(hyper::Request<Incoming>, SocketAddr) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = hyper::Response<Full<Bytes>>> + Send + 'static,
{
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    while !stop.load(Ordering::Relaxed) {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = tokio::time::sleep(STOP_POLL) => continue,
        };
        let Ok((stream, peer)) = accepted else {
            // Out of descriptors, or a connection reset before it was accepted: try again soon.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = Arc::clone(&handler);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let answer = handler(req, peer);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer<H>(
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    limit: BodyLimit,
    handler: Arc<H>,
) -> hyper::Response<Full<Bytes>>
where
    H: Fn(Request) -> Response + Send + Sync + 'static,
{
    let (parts, body) = req.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let headers = crate::http::header_pairs(&parts.headers);
    // "GET /path HTTP/1.1\r\n", then "name: value\r\n" per header.
    let head_bytes = parts.method.as_str().len()
        + target.len()
        + 11
        + headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let (body, unread) = if declared.is_some_and(|n| n > limit.drain) {
        (None, true)
    } else {
        read_body(body, limit).await
    };
    let request = Request {
        method: parts.method.as_str().to_owned(),
        target,
        headers,
        head_bytes,
        body,
        peer,
    };
    let answered = tokio::task::spawn_blocking(move || handler(request))
        .await
        .unwrap_or_else(|_| Response {
            status: 500,
            headers: vec![],
            body: b"{\"message\":\"the local server's handler panicked; its log says why\"}".to_vec(),
        });
    let mut res = hyper::Response::new(Full::new(Bytes::from(answered.body)));
    *res.status_mut() =
        hyper::StatusCode::from_u16(answered.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    for (k, v) in answered.headers {
        if k.eq_ignore_ascii_case("content-length") {
            continue;
        }
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            res.headers_mut().append(k, v);
        }
    }
    if unread {
        // The body was left unread: the connection cannot carry another request.
        res.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// The body if it is within `limit.keep`, and whether some of it was left unread (over
/// `limit.drain`, or broken off).
async fn read_body(mut body: Incoming, limit: BodyLimit) -> (Option<Vec<u8>>, bool) {
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return (None, true);
        };
        let Some(data) = frame.data_ref() else {
            continue; // trailers
        };
        total = total.saturating_add(data.len());
        if total > limit.drain {
            return (None, true);
        }
        if total <= limit.keep {
            kept.extend_from_slice(data);
        } else {
            kept = Vec::new();
        }
    }
    ((total <= limit.keep).then_some(kept), false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::net::TcpStream;

    use super::*;

    fn start(limit: BodyLimit) -> (SocketAddr, Arc<AtomicBool>, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = serve("test-server", listener, stop.clone(), limit, |req: Request| {
            let body = match &req.body {
                Some(b) => format!(
                    "{} {} {} {} {}",
                    req.method,
                    req.target,
                    req.header("x-thing").unwrap_or("-"),
                    b.len(),
                    req.head_bytes
                ),
                None => "too large".to_owned(),
            };
            Response {
                status: if req.body.is_some() { 200 } else { 413 },
                headers: vec![
                    ("x-answer".into(), "yes".into()),
                    ("content-length".into(), "999".into()),
                ],
                body: body.into_bytes(),
            }
        })
        .unwrap();
        (addr, stop, thread)
    }

    /// Reads one response: the status line, the headers (lower-case names), the body.
    fn read_response(r: &mut BufReader<TcpStream>) -> (String, Vec<(String, String)>, String) {
        let mut status = String::new();
        r.read_line(&mut status).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').unwrap();
            headers.push((k.to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap();
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        (
            status.trim_end().to_owned(),
            headers,
            String::from_utf8(body).unwrap(),
        )
    }

    #[test]
    fn keep_alive_chunked_bodies_and_the_body_limit() {
        let (addr, stop, thread) = start(BodyLimit::at(16));
        let mut s = TcpStream::connect(addr).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        // Two requests on one connection, the second chunked.
        s.write_all(b"POST /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Thing: one\r\nContent-Length: 3\r\n\r\nabc")
            .unwrap();
        let (status, headers, body) = read_response(&mut r);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(headers.contains(&("x-answer".into(), "yes".into())));
        assert!(headers.contains(&("content-length".into(), body.len().to_string())));
        let head = "POST".len()
            + "/a?b=1".len()
            + 11
            + "host".len()
            + 1
            + 4
            + "x-thing".len()
            + 3
            + 4
            + "content-length".len()
            + 1
            + 4;
        assert_eq!(body, format!("POST /a?b=1 one 3 {head}"));
        s.write_all(b"PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n")
            .unwrap();
        let (_, _, body) = read_response(&mut r);
        assert!(body.starts_with("PUT /c - 2 "), "{body}");
        // Over the limit, declared or chunked: the handler sees no body, the connection closes.
        s.write_all(b"POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n")
            .unwrap();
        let (status, headers, body) = read_response(&mut r);
        assert_eq!(
            (status.as_str(), body.as_str()),
            ("HTTP/1.1 413 Payload Too Large", "too large")
        );
        assert!(headers.contains(&("connection".into(), "close".into())));
        let mut s = TcpStream::connect(addr).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        s.write_all(b"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n01234567890123456\r\n0\r\n\r\n")
            .unwrap();
        let (status, _, _) = read_response(&mut r);
        assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        assert!(
            TcpStream::connect(addr).is_err(),
            "the listener is closed after the stop"
        );
    }

    #[test]
    fn a_body_over_the_limit_is_drained_and_the_connection_goes_on() {
        let (addr, stop, thread) = start(BodyLimit { keep: 16, drain: 64 });
        let mut s = TcpStream::connect(addr).unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        // Declared and chunked bodies over `keep` but within `drain`: 413, same connection.
        s.write_all(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n01234567890123456789")
            .unwrap();
        let (status, headers, _) = read_response(&mut r);
        assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
        assert!(!headers.iter().any(|(k, _)| k == "connection"), "{headers:?}");
        s.write_all(b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n0\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut r).0, "HTTP/1.1 413 Payload Too Large");
        s.write_all(b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        let (status, _, body) = read_response(&mut r);
        assert_eq!(
            (status.as_str(), body.as_str()),
            ("HTTP/1.1 200 OK", "POST /c - 2 45")
        );
        // Declared over `drain`: not read, and the connection closes after the answer.
        s.write_all(b"POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n")
            .unwrap();
        let (status, headers, _) = read_response(&mut r);
        assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
        assert!(headers.contains(&("connection".into(), "close".into())));
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
    }
}
