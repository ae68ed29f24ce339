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
//! - HTTP/1.1 with keep-alive, `Content-Length` or chunked request bodies, `Expect: 100-continue`.
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
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

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
const MAX_HEADER_BYTES: usize = 64 * 1024;
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
            proc.alive.store(false, Ordering::SeqCst);
            let _ = proc.child.kill();
            let _ = proc.child.wait();
            proc.close_connections();
            wake(proc.addr);
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

// ---------------------------------------------------------------------------------------------
// State

struct Shared {
    config: FunctionConfig,
    region: String,
    arn: String,
    sink: LogSink,
    state: Mutex<State>,
    /// Notified on every change of `state`; every waiter re-checks its own condition.
    changed: Condvar,
    /// Accept and connection threads (joined at shutdown). Log readers are not in here: they end
    /// when the process's pipes close.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

struct State {
    stopping: bool,
    failed: Option<String>,
    /// Whether a sandbox of the function ever asked for work: from then on a failed init is
    /// retried, not the end of the function.
    ever_ready: bool,
    queue: VecDeque<Queued>,
    in_flight: HashMap<String, InFlight>,
    procs: BTreeMap<u64, Proc>,
    slots: Vec<Slot>,
    next_id: u64,
}

#[derive(Default)]
struct Slot {
    current: Option<u64>,
    idle_exits: u32,
    restart_at: Option<Instant>,
}

type Reply = mpsc::Sender<Result<Invocation, InvokeError>>;

struct Queued {
    request_id: String,
    body: Vec<u8>,
    client_context: Option<String>,
    cognito_identity: Option<String>,
    enqueued: Instant,
    reply: Reply,
}

struct InFlight {
    proc: u64,
    queued: Duration,
    dispatched: Instant,
    deadline: Instant,
    reply: Reply,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kill {
    Timeout,
    InitTimeout,
    Stopped,
    /// [`LocalFunction::recycle`]: replaced by a sandbox of the new code.
    Recycled,
}

/// One sandbox process and its Runtime API listener.
struct Proc {
    slot: usize,
    child: Child,
    pid: u32,
    addr: SocketAddr,
    alive: Arc<AtomicBool>,
    started: Instant,
    ready_at: Option<Instant>,
    busy: Option<String>,
    conns: HashMap<u64, TcpStream>,
    tail: VecDeque<String>,
    open_pipes: u8,
    exited: Option<(ExitStatus, Instant)>,
    killed: Option<Kill>,
    /// Set when the process is to be killed later (after [`INIT_ERROR_GRACE`]).
    kill_at: Option<Instant>,
    /// [`LocalFunction::recycle`] asked for it to go once its invocation is done.
    retiring: bool,
}

impl Proc {
    fn ready_after(&self) -> Option<Duration> {
        self.ready_at.map(|at| at.duration_since(self.started))
    }

    fn kill(&mut self, why: Kill) {
        if self.killed.is_none() {
            self.killed = Some(why);
        }
        self.alive.store(false, Ordering::SeqCst);
        let _ = self.child.kill();
    }

    fn close_connections(&mut self) {
        for (_, conn) in self.conns.drain() {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }

    fn last_output(&self) -> String {
        if self.tail.is_empty() {
            "it printed nothing".to_owned()
        } else {
            let lines: Vec<&str> = self.tail.iter().map(String::as_str).collect();
            format!("its last output: {}", lines.join(" | "))
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn notice(&self, text: &str) {
        (self.sink)(&self.config.name, &format!("emulator: {text}"));
    }

    fn track(&self, name: String, work: impl FnOnce() + Send + 'static) -> io::Result<()> {
        let handle = thread::Builder::new().name(name).spawn(work)?;
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
        Ok(())
    }
}

impl State {
    /// Ends an invocation; false if it was not in flight (already answered, timed out, unknown).
    fn complete(&mut self, request_id: &str, outcome: Outcome) -> bool {
        let Some(flight) = self.in_flight.remove(request_id) else {
            return false;
        };
        if let Some(proc) = self.procs.get_mut(&flight.proc) {
            if proc.busy.as_deref() == Some(request_id) {
                proc.busy = None;
            }
            if let Some(slot) = self.slots.get_mut(proc.slot) {
                slot.idle_exits = 0;
            }
        }
        let _ = flight.reply.send(Ok(Invocation {
            request_id: request_id.to_owned(),
            queued: flight.queued,
            duration: flight.dispatched.elapsed(),
            outcome,
        }));
        true
    }

    /// Stops the function: every invocation fails with `reason`, every process is killed.
    fn fail(&mut self, function: &str, reason: String, notices: &mut Vec<String>) {
        if self.failed.is_some() {
            return;
        }
        notices.push(format!("function stopped, not restarting it: {reason}"));
        let error = InvokeError::FunctionFailed {
            function: function.to_owned(),
            reason: reason.clone(),
        };
        for queued in self.queue.drain(..) {
            let _ = queued.reply.send(Err(error.clone()));
        }
        for (_, flight) in self.in_flight.drain() {
            let _ = flight.reply.send(Err(error.clone()));
        }
        for proc in self.procs.values_mut() {
            proc.busy = None;
            if proc.kill_at.is_some() {
                proc.killed.get_or_insert(Kill::Stopped);
            } else if proc.exited.is_none() {
                proc.kill(Kill::Stopped);
            }
        }
        self.failed = Some(reason);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn wait_timeout<'a>(
    changed: &Condvar,
    guard: MutexGuard<'a, State>,
    timeout: Duration,
) -> MutexGuard<'a, State> {
    match changed.wait_timeout(guard, timeout) {
        Ok((guard, _)) => guard,
        Err(poisoned) => poisoned.into_inner().0,
    }
}

// ---------------------------------------------------------------------------------------------
// Processes

fn checked(mut config: FunctionConfig) -> Result<FunctionConfig> {
    let name = &config.name;
    if name.is_empty() {
        bail!("a local function needs a name");
    }
    if config.command.is_empty() {
        bail!("function {name} has an empty command: give the path of its bootstrap");
    }
    if config.concurrency == 0 {
        bail!("function {name} has concurrency 0: it needs at least one sandbox");
    }
    if config.timeout.is_zero() {
        bail!("function {name} has a zero timeout");
    }
    for arg in &mut config.command {
        let path = Path::new(arg.as_os_str());
        if path.is_relative() && path.components().count() > 1 && path.exists() {
            *arg = std::path::absolute(path)
                .with_context(|| format!("cannot resolve {}", path.display()))?
                .into_os_string();
        }
    }
    if let Some(last) = config.command.last() {
        let path = Path::new(last);
        let flag = last.to_string_lossy().starts_with('-');
        if !flag && path.components().count() > 1 && !path.exists() {
            bail!(
                "cannot start function {name}: {} does not exist; run `cargo xtask build` first",
                path.display()
            );
        }
    }
    Ok(config)
}

/// The function's folder: where its last command element lives (`LAMBDA_TASK_ROOT`).
fn task_root(config: &FunctionConfig) -> PathBuf {
    let last = config.command.last().map(Path::new);
    match last.and_then(Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    }
}

fn spawn_proc(shared: &Arc<Shared>, slot: usize) -> Result<()> {
    let config = &shared.config;
    let name = &config.name;
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .with_context(|| format!("cannot open a local port for the Runtime API of {name}"))?;
    let addr = listener.local_addr()?;
    let root = task_root(config);
    let (program, args) = match config.command.split_first() {
        Some(split) => split,
        None => bail!("function {name} has an empty command"),
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let lambda_env = [
        ("TZ", ":UTC".to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", config.memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", log_stream_name()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_REGION", shared.region.clone()),
        ("AWS_DEFAULT_REGION", shared.region.clone()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LAMBDA_TASK_ROOT", root.to_string_lossy().into_owned()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_rust".to_owned()),
    ];
    command.envs(lambda_env);
    command.envs(&config.env);
    command.env("AWS_LAMBDA_RUNTIME_API", addr.to_string());

    let started = Instant::now();
    let mut child = command.spawn().map_err(|err| {
        let program = Path::new(program).display();
        let hint = match err.kind() {
            io::ErrorKind::NotFound => {
                "; if it is the function's binary, run `cargo xtask build` first, \
                 otherwise install it or put it on PATH"
            }
            io::ErrorKind::PermissionDenied => "; is it executable?",
            _ => "",
        };
        anyhow::anyhow!("cannot start {program} (function {name}): {err}{hint}")
    })?;
    let pid = child.id();
    let pipes: Vec<Box<dyn Read + Send>> = [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .collect();
    let alive = Arc::new(AtomicBool::new(true));
    let id = {
        let mut state = shared.lock();
        if state.stopping || state.failed.is_some() {
            drop(state);
            let _ = child.kill();
            let _ = child.wait();
            return Ok(());
        }
        let id = state.next_id;
        state.next_id += 1;
        state.procs.insert(
            id,
            Proc {
                slot,
                child,
                pid,
                addr,
                alive: Arc::clone(&alive),
                started,
                ready_at: None,
                busy: None,
                conns: HashMap::new(),
                tail: VecDeque::new(),
                open_pipes: u8::try_from(pipes.len()).unwrap_or(u8::MAX),
                exited: None,
                killed: None,
                kill_at: None,
                retiring: false,
            },
        );
        if let Some(s) = state.slots.get_mut(slot) {
            s.current = Some(id);
        }
        id
    };
    shared.changed.notify_all();

    let accept = {
        let shared = Arc::clone(shared);
        move || accept_loop(&shared, id, &alive, &listener)
    };
    shared
        .track(format!("{name}-api-{id}"), accept)
        .context("cannot start a Runtime API thread")?;
    for (n, pipe) in pipes.into_iter().enumerate() {
        let shared2 = Arc::clone(shared);
        thread::Builder::new()
            .name(format!("{name}-log-{id}-{n}"))
            .spawn(move || pump_lines(&shared2, id, pipe))
            .context("cannot start a log thread")?;
    }
    Ok(())
}

fn pump_lines(shared: &Shared, id: u64, pipe: Box<dyn Read + Send>) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                let line = text.trim_end_matches(['\n', '\r']);
                (shared.sink)(&shared.config.name, line);
                let mut state = shared.lock();
                if let Some(proc) = state.procs.get_mut(&id) {
                    proc.tail.push_back(line.to_owned());
                    if proc.tail.len() > LOG_TAIL_LINES {
                        proc.tail.pop_front();
                    }
                }
            }
        }
    }
    let mut state = shared.lock();
    if let Some(proc) = state.procs.get_mut(&id) {
        proc.open_pipes = proc.open_pipes.saturating_sub(1);
    }
    drop(state);
    shared.changed.notify_all();
}

/// The one thread that reaps processes, enforces timeouts and starts replacements.
fn supervise(shared: &Arc<Shared>) {
    let name = shared.config.name.as_str();
    let timeout = shared.config.timeout;
    let mut state = shared.lock();
    while !state.stopping {
        let now = Instant::now();
        let mut notices = Vec::new();
        let mut wake_addrs = Vec::new();
        let mut spawn_slots = Vec::new();
        let mut broken = Vec::new();

        for proc in state.procs.values_mut() {
            if proc.exited.is_some() {
                continue;
            }
            match proc.child.try_wait() {
                Ok(Some(status)) => {
                    proc.exited = Some((status, now));
                    proc.alive.store(false, Ordering::SeqCst);
                }
                Ok(None) => {
                    if proc.retiring && proc.busy.is_none() {
                        proc.kill(Kill::Recycled);
                    } else if proc.kill_at.is_some_and(|at| at <= now) {
                        proc.kill(Kill::Stopped);
                    } else if proc.ready_at.is_none()
                        && proc.killed.is_none()
                        && now.duration_since(proc.started) > INIT_TIMEOUT
                    {
                        proc.kill(Kill::InitTimeout);
                    }
                }
                Err(err) => {
                    broken.push(format!("cannot check on process {}: {err}", proc.pid));
                    proc.kill(Kill::Stopped);
                }
            }
        }
        for reason in broken.drain(..) {
            state.fail(name, reason, &mut notices);
        }

        let expired: Vec<String> = state
            .in_flight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for request_id in expired {
            let Some(proc_id) = state.in_flight.get(&request_id).map(|f| f.proc) else {
                continue;
            };
            state.complete(
                &request_id,
                Outcome::Error {
                    error_type: "Sandbox.Timedout".to_owned(),
                    error_message: format!(
                        "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                        timeout.as_secs_f64()
                    ),
                },
            );
            if let Some(proc) = state.procs.get_mut(&proc_id) {
                notices.push(format!(
                    "sandbox {} (pid {}) timed out after {timeout:?} on request {request_id}; \
                     killed it, starting a new one",
                    proc.slot + 1,
                    proc.pid
                ));
                proc.kill(Kill::Timeout);
            }
        }

        let finished: Vec<u64> = state
            .procs
            .iter()
            .filter(|(_, p)| {
                p.exited
                    .is_some_and(|(_, at)| p.open_pipes == 0 || now.duration_since(at) > PIPE_GRACE)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in finished {
            if let Some(proc) = state.procs.remove(&id) {
                wake_addrs.push(proc.addr);
                after_exit(&mut state, name, id, proc, now, &mut notices);
            }
        }

        if state.failed.is_none() {
            for (index, slot) in state.slots.iter_mut().enumerate() {
                if slot.current.is_none() && slot.restart_at.is_some_and(|at| at <= now) {
                    slot.restart_at = None;
                    spawn_slots.push(index);
                }
            }
        }

        let changed = !notices.is_empty() || !wake_addrs.is_empty() || !spawn_slots.is_empty();
        drop(state);
        if changed {
            shared.changed.notify_all();
        }
        for addr in wake_addrs {
            wake(addr);
        }
        for text in &notices {
            shared.notice(text);
        }
        for slot in spawn_slots {
            if let Err(err) = spawn_proc(shared, slot) {
                let mut notices = Vec::new();
                shared
                    .lock()
                    .fail(name, format!("cannot restart a sandbox: {err:#}"), &mut notices);
                shared.changed.notify_all();
                for text in &notices {
                    shared.notice(text);
                }
            }
        }
        state = shared.lock();
        if !state.stopping {
            state = wait_timeout(&shared.changed, state, TICK);
        }
    }
}

/// Decides what a process's exit means: a failed invocation, a failed function, or a restart.
fn after_exit(
    state: &mut State,
    name: &str,
    id: u64,
    mut proc: Proc,
    now: Instant,
    notices: &mut Vec<String>,
) {
    proc.close_connections();
    let status = proc
        .exited
        .map_or_else(|| "killed".to_owned(), |(status, _)| status.to_string());
    let sandbox = format!("sandbox {} (pid {})", proc.slot + 1, proc.pid);
    if let Some(slot) = state.slots.get_mut(proc.slot)
        && slot.current == Some(id)
    {
        slot.current = None;
    }
    let restart_now = |state: &mut State| {
        if let Some(slot) = state.slots.get_mut(proc.slot) {
            slot.restart_at = Some(now);
        }
    };
    if let Some(request_id) = proc.busy.take() {
        state.complete(
            &request_id,
            Outcome::Error {
                error_type: "Runtime.ExitError".to_owned(),
                error_message: format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
            },
        );
        notices.push(format!(
            "{sandbox} exited ({status}) during request {request_id}; starting a new one"
        ));
        restart_now(state);
        return;
    }
    let init_failure = match proc.killed {
        Some(Kill::Timeout | Kill::Recycled) => return restart_now(state),
        Some(Kill::Stopped) => return,
        Some(Kill::InitTimeout) => Some(format!(
            "{sandbox} did not ask for an invocation within {INIT_TIMEOUT:?} of starting (killed); {}",
            proc.last_output()
        )),
        None if proc.ready_at.is_none() => Some(format!(
            "{sandbox} exited ({status}) before asking for its first invocation; {}",
            proc.last_output()
        )),
        None => None,
    };
    if let Some(reason) = &init_failure
        && !state.ever_ready
    {
        return state.fail(name, reason.clone(), notices);
    }
    if let Some(reason) = &init_failure {
        // The invocation that was waiting for this sandbox meets the failed init.
        if let Some(q) = state.queue.pop_front() {
            let _ = q.reply.send(Ok(Invocation {
                request_id: q.request_id.clone(),
                queued: q.enqueued.elapsed(),
                duration: Duration::ZERO,
                outcome: Outcome::Error {
                    error_type: "Runtime.ExitError".to_owned(),
                    error_message: format!(
                        "RequestId: {} Error: Runtime exited with error: {status} (init failed)",
                        q.request_id
                    ),
                },
            }));
        }
        notices.push(format!("init failed: {reason}"));
    }
    let Some(slot) = state.slots.get_mut(proc.slot) else {
        return;
    };
    slot.idle_exits += 1;
    let delay = restart_delay(slot.idle_exits);
    slot.restart_at = Some(now + delay);
    let what = if init_failure.is_some() {
        "during init"
    } else {
        "while waiting for work"
    };
    notices.push(format!(
        "{sandbox} exited ({status}) {what}; starting a new one in {delay:?}"
    ));
}

/// The wait before the `n`-th start in a row of a sandbox that keeps exiting: 250 ms doubling
/// to [`MAX_RESTART_DELAY`].
fn restart_delay(n: u32) -> Duration {
    Duration::from_millis(250_u64 << n.min(8)).min(MAX_RESTART_DELAY)
}

/// Unblocks a listener's `accept` so its thread sees that the sandbox is gone.
fn wake(addr: SocketAddr) {
    let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
}

// ---------------------------------------------------------------------------------------------
// The Runtime API over HTTP/1.1

fn accept_loop(shared: &Arc<Shared>, id: u64, alive: &Arc<AtomicBool>, listener: &TcpListener) {
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

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    /// `None` when the body is over [`MAX_RESPONSE_BYTES`] (read and dropped).
    body: Option<Vec<u8>>,
    keep_alive: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    close: bool,
}

impl Answer {
    fn json(status: u16, body: &Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
            close: false,
        }
    }

    fn accepted() -> Answer {
        Answer::json(202, &json!({"status": "OK"}))
    }

    fn error(status: u16, error_type: &str, message: &str) -> Answer {
        Answer::json(status, &json!({"errorMessage": message, "errorType": error_type}))
    }

    fn invalid_request_id() -> Answer {
        Answer::error(400, "InvalidRequestID", "Invalid request ID")
    }
}

fn serve_connection(shared: &Shared, id: u64, alive: &AtomicBool, stream: TcpStream) {
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

fn route(shared: &Shared, id: u64, alive: &AtomicBool, request: Request) -> Option<Answer> {
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

fn not_found(shared: &Shared, method: &str, path: &str) -> Answer {
    shared.notice(&format!(
        "the runtime asked for {method} {path}, which this emulator does not serve (404)"
    ));
    Answer::error(404, "NotFound", &format!("no such resource: {method} {path}"))
}

/// `GET /next`: waits until this sandbox is free and an event is queued, then hands it over.
fn next_event(shared: &Shared, id: u64, alive: &AtomicBool) -> Option<Answer> {
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
fn invocation_result(
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

fn response_outcome(body: &[u8], request: &Request) -> Outcome {
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
fn error_outcome(body: &[u8], header_type: Option<&str>) -> Outcome {
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
fn init_error(shared: &Shared, id: u64, request: &Request) -> Answer {
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
fn read_request(reader: &mut impl BufRead, stream: &TcpStream) -> io::Result<Option<Request>> {
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

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
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
fn read_line(reader: &mut impl BufRead, max: usize) -> io::Result<Option<String>> {
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

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

fn write_answer(stream: &TcpStream, answer: Answer) -> io::Result<()> {
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

// ---------------------------------------------------------------------------------------------
// Ids

/// 64 random bits from std (`RandomState` is seeded from the OS per instance).
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// A random (version 4) UUID, the form of Lambda's and API Gateway's request ids.
pub fn uuid_v4() -> String {
    let (a, b) = (random_u64(), random_u64());
    let a = (a & !0xf000) | 0x4000; // version 4
    let b = (b & !(0b11 << 62)) | (0b10 << 62); // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// An X-Ray trace header: `Root=1-<epoch secs hex>-<96 random bits>;Parent=...;Sampled=0`.
fn trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "Root=1-{secs:08x}-{:08x}{:016x};Parent={:016x};Sampled=0",
        random_u64() & 0xffff_ffff,
        random_u64(),
        random_u64()
    )
}

/// `YYYY/MM/DD/[$LATEST]<32 hex>`, the form of a Lambda log stream name.
fn log_stream_name() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = civil_date(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}/{m:02}/{d:02}/[$LATEST]{:016x}{:016x}",
        random_u64(),
        random_u64()
    )
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's `civil_from_days`).
fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(19_723), (2024, 1, 1));
        assert_eq!(civil_date(19_782), (2024, 2, 29));
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

    #[test]
    fn chunked_bodies_are_decoded() {
        let wire = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n";
        let mut reader = io::Cursor::new(&wire[..]);
        let body = read_chunked(&mut reader).ok().flatten();
        assert_eq!(body.as_deref(), Some(&b"Wikipedia"[..]));
    }
}
