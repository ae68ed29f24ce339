//! A local Lambda: the Runtime API a function's `bootstrap` talks to, and the sandboxes it runs in.
//!
//! [`LocalFunction::start`] runs `concurrency` copies of a function's command as real processes,
//! each one a Lambda "sandbox" that handles one invocation at a time, and serves each of them the
//! [Runtime API] that `lambda_runtime` (aws-lambda-rust-runtime) speaks through
//! `AWS_LAMBDA_RUNTIME_API`. [`LocalFunction::invoke`] queues an event like Lambda's synchronous
//! `Invoke`, and returns what the function answered. It is used to run the arm64 artifacts under
//! `qemu-aarch64` and by `cargo xtask dev`.
//!
//! What it emulates, as the real service does it:
//! - `GET /2018-06-01/runtime/invocation/next` long-polls until an event is queued and answers it
//!   with `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms` (epoch ms), `-Invoked-Function-Arn`,
//!   `-Trace-Id`, and `-Client-Context` / `-Cognito-Identity` only when the invocation has them.
//!   A sandbox that asks again before answering keeps waiting: it gets no second event.
//! - `POST .../invocation/{id}/response`, `.../{id}/error` and `/runtime/init/error` answer 202.
//!   A request id that is unknown, already answered, timed out or not this sandbox's answers 400
//!   `InvalidRequestID`. A response over 6 MiB + 100 bytes answers 413 and the invocation ends
//!   with `Function.ResponseSizeTooLarge`. Unknown paths answer 404 (and the log says so).
//! - HTTP/1.1 with keep-alive, `Content-Length` or chunked request bodies, `Expect: 100-continue`
//!   (hyper's, through [`crate::serve`]).
//! - The environment a sandbox gets (see [`FunctionConfig`]), starting from an empty one: the
//!   developer's own AWS credentials or profile never leak into a local function.
//! - A timeout kills the sandbox (`Sandbox.Timedout`), a crash ends its invocation with
//!   `Runtime.ExitError`; either way a fresh process takes its place.
//!
//! Where it differs, on purpose:
//! - Each sandbox has its own Runtime API port, as each Lambda execution environment has its own
//!   endpoint: that is how the emulator knows which process holds an invocation (to kill it on
//!   timeout). A replacement process gets a new port.
//! - An init failure (a `POST /runtime/init/error`, an exit before the first `/next`, or no
//!   `/next` within [`INIT_TIMEOUT`]) before any sandbox of the function was ever ready stops
//!   the whole function (a function that cannot start is a bug to show at once, not to retry):
//!   the waiting invocations and all later ones fail with [`InvokeError::FunctionFailed`], which
//!   carries the reason.
//! - Once the function has run, it is never given up, as Lambda never gives up a function: a
//!   sandbox whose init fails (killed, crashed) fails the oldest waiting invocation with
//!   `Runtime.ExitError`, as Lambda fails the invocation that met a failed init ("If the Init
//!   phase fails, Lambda ... retries the Init phase at the next invocation", Lambda Developer
//!   Guide, "Understanding the Lambda execution environment lifecycle"), and a new sandbox takes
//!   its place. A sandbox that keeps exiting, while idle or in init, is restarted with a delay
//!   that doubles from 250 ms up to [`MAX_RESTART_DELAY`], so a crash loop is no hot loop.
//! - Only buffered JSON responses: a streamed response ends the invocation with an error.
//! - No Extensions, Logs or Telemetry API (a runtime built with `lambda_runtime`'s
//!   `graceful-shutdown` feature registers an extension and will get a 404).
//! - The function's command must be the runtime itself (or `exec` it): only that process is killed.
//!
//! [Runtime API]: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

mod ids;
mod process;
mod server;
mod state;

use ids::*;
pub use ids::{random_u64, uuid_v4};
use process::*;
use server::*;
use state::*;

/// How long a sandbox may take from process start to its first `GET /next` (Lambda's init limit).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest response body a function may send, as the Runtime API counts it (6 MiB + 100 B).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;
/// The largest event [`LocalFunction::invoke`] accepts (Lambda's synchronous limit, 6 MB).
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;
/// The longest wait before a sandbox that keeps exiting is started again.
pub const MAX_RESTART_DELAY: Duration = Duration::from_secs(2);
/// The account id in the invoked function ARN (moto's default account, which `cargo xtask dev` uses).
pub const ACCOUNT_ID: &str = "123456789012";

const API_PREFIX: &str = "/2018-06-01/runtime/";
/// Bodies over [`MAX_RESPONSE_BYTES`] are read and dropped up to this size; beyond, the
/// connection is closed.
const DISCARD_LIMIT: usize = 64 * 1024 * 1024;
const TICK: Duration = Duration::from_millis(20);
const PIPE_GRACE: Duration = Duration::from_millis(300);
const LOG_TAIL_LINES: usize = 8;
/// How long a runtime that posted an init error has to exit by itself before it is killed.
const INIT_ERROR_GRACE: Duration = Duration::from_secs(1);

/// Where the sandboxes' output goes, one call per line: `(function name, line)`.
pub type LogSink = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// A sink that prints `[function] line` to stderr.
pub fn stderr_log_sink() -> LogSink {
    Arc::new(|function: &str, line: &str| eprintln!("[{function}] {line}"))
}

/// How to run one function.
///
/// Each sandbox process starts with an empty environment plus `PATH` (to find an interpreter or
/// `qemu-aarch64`), `TZ=:UTC`, and what Lambda sets: `AWS_LAMBDA_RUNTIME_API`,
/// `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`,
/// `AWS_LAMBDA_FUNCTION_VERSION=$LATEST`, `AWS_LAMBDA_LOG_GROUP_NAME`,
/// `AWS_LAMBDA_LOG_STREAM_NAME`, `AWS_LAMBDA_INITIALIZATION_TYPE=on-demand`, `AWS_REGION` and
/// `AWS_DEFAULT_REGION` (from `env`, else `us-east-1`), `_HANDLER=bootstrap`, `LAMBDA_TASK_ROOT`
/// and `AWS_EXECUTION_ENV=AWS_Lambda_rust`. Then `env`, which wins over all of them except
/// `AWS_LAMBDA_RUNTIME_API`.
///
/// The last element of `command` is taken as the function's own file (the `bootstrap`, or a
/// script): its folder is `LAMBDA_TASK_ROOT` and the working directory, like `/var/task`, and
/// [`LocalFunction::start`] fails early, saying to build it, when that path does not exist.
/// Relative paths in `command` that name existing files are made absolute first.
#[derive(Clone, Debug)]
pub struct FunctionConfig {
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`, the ARN, the log prefix).
    pub name: String,
    /// The program and its arguments, e.g. `["target/lambda/orders-api/bootstrap"]` or
    /// `["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", ".../bootstrap"]`.
    pub command: Vec<OsString>,
    /// The function's environment variables.
    pub env: BTreeMap<String, String>,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (informative only: nothing limits the process).
    pub memory_mb: u32,
    /// How long one invocation may run before its sandbox is killed.
    pub timeout: Duration,
    /// How many sandboxes run; more invocations than this wait in a queue.
    pub concurrency: usize,
}

impl FunctionConfig {
    /// A function with Lambda's defaults: 128 MB, 3 s timeout, one sandbox, no variables.
    pub fn new<I, S>(name: impl Into<String>, command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        FunctionConfig {
            name: name.into(),
            command: command.into_iter().map(Into::into).collect(),
            env: BTreeMap::new(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            concurrency: 1,
        }
    }
}

/// What the client-side `Invoke` may add to an event (sent as `Lambda-Runtime-Client-Context`
/// and `Lambda-Runtime-Cognito-Identity`, compact JSON).
#[derive(Clone, Debug, Default)]
pub struct InvokeOptions {
    /// The mobile SDK client context.
    pub client_context: Option<Value>,
    /// The Cognito identity of the caller.
    pub cognito_identity: Option<Value>,
}

/// One finished invocation.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The `Lambda-Runtime-Aws-Request-Id` the runtime was given.
    pub request_id: String,
    /// Time spent waiting for a free sandbox.
    pub queued: Duration,
    /// From handing the event to the runtime to its answer (Lambda's `Duration`).
    pub duration: Duration,
    /// What the function answered.
    pub outcome: Outcome,
}

/// What a function answered.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The body of `POST .../response` (an empty body is `null`).
    Response(Value),
    /// A function error (`POST .../error`) or one the service reports: `Sandbox.Timedout`,
    /// `Runtime.ExitError`, `Function.ResponseSizeTooLarge`, `Emulator.UnsupportedResponse`.
    Error {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        error_message: String,
    },
}

/// Why an invocation has no outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvokeError {
    /// The function could not start (init error) or kept exiting; it is stopped, not retried.
    FunctionFailed {
        /// The function's name.
        function: String,
        /// What happened, with the process's last output.
        reason: String,
    },
    /// The function was shut down before the invocation finished.
    ShutDown {
        /// The function's name.
        function: String,
    },
    /// The event is larger than Lambda accepts for a synchronous invocation.
    EventTooLarge {
        /// The function's name.
        function: String,
        /// The event's size as JSON.
        bytes: usize,
    },
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeError::FunctionFailed { function, reason } => write!(
                f,
                "function {function} is stopped: {reason}; fix it and start the function again"
            ),
            InvokeError::ShutDown { function } => {
                write!(f, "function {function} was shut down before it answered")
            }
            InvokeError::EventTooLarge { function, bytes } => write!(
                f,
                "event for {function} is {bytes} bytes; Lambda accepts at most {MAX_EVENT_BYTES}"
            ),
        }
    }
}

impl std::error::Error for InvokeError {}

/// One running sandbox, as [`LocalFunction::sandboxes`] reports it.
#[derive(Clone, Debug)]
pub struct Sandbox {
    /// The process id.
    pub pid: u32,
    /// Its Runtime API endpoint (`AWS_LAMBDA_RUNTIME_API`).
    pub runtime_api: SocketAddr,
    /// Process start to first `GET /next`, once it has asked.
    pub ready_after: Option<Duration>,
    /// The request id of the invocation it is running, if it is running one.
    pub busy: Option<String>,
}

/// A function running locally: its sandboxes and their Runtime API.
///
/// `invoke` may be called from many threads at once. Dropping it (or [`LocalFunction::shutdown`])
/// kills every process and closes every port.
pub struct LocalFunction {
    shared: Arc<Shared>,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for LocalFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalFunction")
            .field("name", &self.shared.config.name)
            .finish_non_exhaustive()
    }
}

impl LocalFunction {
    /// Starts `config.concurrency` sandboxes of the function, each with its own Runtime API on
    /// 127.0.0.1 (a free port). Returns once the processes are spawned; [`LocalFunction::ready`]
    /// waits for them to ask for work.
    pub fn start(config: FunctionConfig, log_sink: LogSink) -> Result<LocalFunction> {
        let config = checked(config)?;
        let region = config
            .env
            .get("AWS_REGION")
            .or_else(|| config.env.get("AWS_DEFAULT_REGION"))
            .cloned()
            .unwrap_or_else(|| "us-east-1".to_owned());
        let arn = format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{}", config.name);
        let slots = (0..config.concurrency).map(|_| Slot::default()).collect();
        let shared = Arc::new(Shared {
            config,
            region,
            arn,
            sink: log_sink,
            state: Mutex::new(State {
                stopping: false,
                failed: None,
                ever_ready: false,
                queue: VecDeque::new(),
                in_flight: HashMap::new(),
                procs: BTreeMap::new(),
                slots,
                next_id: 1,
            }),
            changed: Condvar::new(),
            threads: Mutex::new(Vec::new()),
        });
        let function = LocalFunction {
            shared: Arc::clone(&shared),
            supervisor: Mutex::new(None),
        };
        for slot in 0..shared.config.concurrency {
            // On error, dropping `function` kills what was started.
            spawn_proc(&shared, slot)?;
        }
        let supervisor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("{}-supervisor", shared.config.name))
                .spawn(move || supervise(&shared))
                .context("cannot start the emulator's supervisor thread")?
        };
        *lock(&function.supervisor) = Some(supervisor);
        Ok(function)
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.shared.config.name
    }

    /// Invokes the function with `event` and waits for its answer (queued while every sandbox is
    /// busy). The timeout counts from the moment a sandbox takes the event.
    pub fn invoke(&self, event: Value) -> Result<Invocation, InvokeError> {
        self.invoke_with(event, InvokeOptions::default())
    }

    /// [`LocalFunction::invoke`] with a client context and/or Cognito identity.
    pub fn invoke_with(&self, event: Value, options: InvokeOptions) -> Result<Invocation, InvokeError> {
        let shared = &self.shared;
        let function = shared.config.name.clone();
        let body = event.to_string().into_bytes();
        if body.len() > MAX_EVENT_BYTES {
            return Err(InvokeError::EventTooLarge {
                function,
                bytes: body.len(),
            });
        }
        let (reply, answer) = mpsc::channel();
        {
            let mut state = shared.lock();
            if state.stopping {
                return Err(InvokeError::ShutDown { function });
            }
            if let Some(reason) = &state.failed {
                return Err(InvokeError::FunctionFailed {
                    function,
                    reason: reason.clone(),
                });
            }
            state.queue.push_back(Queued {
                request_id: uuid_v4(),
                body,
                client_context: options.client_context.map(|v| v.to_string()),
                cognito_identity: options.cognito_identity.map(|v| v.to_string()),
                enqueued: Instant::now(),
                reply,
            });
        }
        shared.changed.notify_all();
        answer.recv().unwrap_or(Err(InvokeError::ShutDown { function }))
    }

    /// Waits until every sandbox has made its first `GET /next`, and returns the slowest one's
    /// time from process start to that request. Fails if the function failed to start or
    /// `timeout` passes first.
    pub fn ready(&self, timeout: Duration) -> Result<Duration> {
        let shared = &self.shared;
        let name = &shared.config.name;
        let end = Instant::now() + timeout;
        let mut state = shared.lock();
        loop {
            if let Some(reason) = &state.failed {
                bail!("function {name} did not start: {reason}");
            }
            if state.stopping {
                bail!("function {name} was shut down");
            }
            let mut slowest = Duration::ZERO;
            let mut ready = 0;
            for slot in &state.slots {
                let proc = slot.current.and_then(|id| state.procs.get(&id));
                let running = proc.filter(|p| p.exited.is_none());
                if let Some(after) = running.and_then(Proc::ready_after) {
                    slowest = slowest.max(after);
                    ready += 1;
                }
            }
            if ready == state.slots.len() {
                return Ok(slowest);
            }
            let now = Instant::now();
            if now >= end {
                bail!(
                    "only {ready} of {} sandboxes of {name} asked for an invocation within {timeout:?}; \
                     its log shows what the others are doing",
                    state.slots.len()
                );
            }
            state = wait_timeout(&shared.changed, state, end - now);
        }
    }

    /// The sandboxes running now, in slot order.
    pub fn sandboxes(&self) -> Vec<Sandbox> {
        let state = self.shared.lock();
        state
            .slots
            .iter()
            .filter_map(|slot| slot.current.and_then(|id| state.procs.get(&id)))
            .filter(|p| p.exited.is_none())
            .map(|p| Sandbox {
                pid: p.pid,
                runtime_api: p.addr,
                ready_after: p.ready_after(),
                busy: p.busy.clone(),
            })
            .collect()
    }

    /// Replaces every sandbox with a new process of the same command (the binary rebuilt, for
    /// `cargo xtask dev --watch`): an idle one at once, a busy one when its invocation is done
    /// (it takes no new one meanwhile). Queued invocations wait for the new sandboxes. Returns
    /// how many were asked to go; [`LocalFunction::ready`] waits for their successors.
    pub fn recycle(&self) -> usize {
        let mut n = 0;
        {
            let mut state = self.shared.lock();
            for proc in state.procs.values_mut() {
                if proc.exited.is_some() || proc.killed.is_some() {
                    continue;
                }
                n += 1;
                if proc.busy.is_some() {
                    proc.retiring = true;
                } else {
                    proc.kill(Kill::Recycled);
                }
            }
        }
        self.shared.changed.notify_all();
        n
    }

    /// Why the function is stopped, if it is.
    pub fn failure(&self) -> Option<String> {
        self.shared.lock().failed.clone()
    }

    /// Kills every sandbox, closes every port and fails the invocations still waiting with
    /// [`InvokeError::ShutDown`]. Returns once all of it is done (the processes reaped, the
    /// listeners closed); a last line of output may still reach the log sink just after.
    /// Calling it again does nothing.
    pub fn shutdown(&self) {
        let shared = &self.shared;
        let procs = {
            let mut state = shared.lock();
            state.stopping = true;
            let function = shared.config.name.clone();
            for queued in state.queue.drain(..) {
                let _ = queued.reply.send(Err(InvokeError::ShutDown {
                    function: function.clone(),
                }));
            }
            for (_, flight) in state.in_flight.drain() {
                let _ = flight.reply.send(Err(InvokeError::ShutDown {
                    function: function.clone(),
                }));
            }
            for slot in &mut state.slots {
                slot.current = None;
            }
            std::mem::take(&mut state.procs)
        };
        shared.changed.notify_all();
        for (_, mut proc) in procs {
            proc.gone.store(true, Ordering::SeqCst);
            let _ = proc.child.kill();
            let _ = proc.child.wait();
        }
        if let Some(supervisor) = lock(&self.supervisor).take() {
            let _ = supervisor.join();
        }
        loop {
            let next = lock(&shared.threads).pop();
            match next {
                Some(handle) => {
                    let _ = handle.join();
                }
                None => break,
            }
        }
    }
}

impl Drop for LocalFunction {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_streams_are_named_by_their_utc_date() {
        let day = |d: u64| UNIX_EPOCH + Duration::from_secs(d * 86_400 + 86_399);
        assert_eq!(stream_date(day(0)), "1970/01/01");
        assert_eq!(stream_date(day(19_723)), "2024/01/01");
        assert_eq!(stream_date(day(19_782)), "2024/02/29");
        assert!(log_stream_name().contains("/[$LATEST]"));
    }

    #[test]
    fn request_ids_look_like_lambda_ones() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(uuid_v4(), uuid_v4());
    }

    #[test]
    fn error_bodies_fall_back_on_the_header() {
        let parsed = error_outcome(br#"{"errorType":"E","errorMessage":"m"}"#, Some("unhandled"));
        assert_eq!(
            parsed,
            Outcome::Error {
                error_type: "E".into(),
                error_message: "m".into()
            }
        );
        let raw = error_outcome(b"boom", Some("Function.X"));
        assert_eq!(
            raw,
            Outcome::Error {
                error_type: "Function.X".into(),
                error_message: "boom".into()
            }
        );
    }
}
