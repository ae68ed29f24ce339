//! The emulator's shared state: the queue, the sandboxes' slots and processes, the invocations in flight.

use super::*;

pub(super) struct Shared {
    pub(super) config: FunctionConfig,
    pub(super) region: String,
    pub(super) arn: String,
    pub(super) sink: LogSink,
    pub(super) state: Mutex<State>,
    /// Notified on every change of `state`; every waiter re-checks its own condition.
    pub(super) changed: Condvar,
    /// Accept and connection threads (joined at shutdown). Log readers are not in here: they end
    /// when the process's pipes close.
    pub(super) threads: Mutex<Vec<JoinHandle<()>>>,
}

pub(super) struct State {
    pub(super) stopping: bool,
    pub(super) failed: Option<String>,
    /// Whether a sandbox of the function ever asked for work: from then on a failed init is
    /// retried, not the end of the function.
    pub(super) ever_ready: bool,
    pub(super) queue: VecDeque<Queued>,
    pub(super) in_flight: HashMap<String, InFlight>,
    pub(super) procs: BTreeMap<u64, Proc>,
    pub(super) slots: Vec<Slot>,
    pub(super) next_id: u64,
}

#[derive(Default)]
pub(super) struct Slot {
    pub(super) current: Option<u64>,
    pub(super) idle_exits: u32,
    pub(super) restart_at: Option<Instant>,
}

pub(super) type Reply = mpsc::Sender<Result<Invocation, InvokeError>>;

pub(super) struct Queued {
    pub(super) request_id: String,
    pub(super) body: Vec<u8>,
    pub(super) client_context: Option<String>,
    pub(super) cognito_identity: Option<String>,
    pub(super) enqueued: Instant,
    pub(super) reply: Reply,
}

pub(super) struct InFlight {
    pub(super) proc: u64,
    pub(super) queued: Duration,
    pub(super) dispatched: Instant,
    pub(super) deadline: Instant,
    pub(super) reply: Reply,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kill {
    Timeout,
    InitTimeout,
    Stopped,
    /// [`LocalFunction::recycle`]: replaced by a sandbox of the new code.
    Recycled,
}

/// One sandbox process and its Runtime API listener.
pub(super) struct Proc {
    pub(super) slot: usize,
    pub(super) child: Child,
    pub(super) pid: u32,
    pub(super) addr: SocketAddr,
    /// Set once the process is killed or has exited: its Runtime API server stops.
    pub(super) gone: Arc<AtomicBool>,
    pub(super) started: Instant,
    pub(super) ready_at: Option<Instant>,
    pub(super) busy: Option<String>,
    pub(super) tail: VecDeque<String>,
    pub(super) open_pipes: u8,
    pub(super) exited: Option<(ExitStatus, Instant)>,
    pub(super) killed: Option<Kill>,
    /// Set when the process is to be killed later (after [`INIT_ERROR_GRACE`]).
    pub(super) kill_at: Option<Instant>,
    /// [`LocalFunction::recycle`] asked for it to go once its invocation is done.
    pub(super) retiring: bool,
}

impl Proc {
    pub(super) fn ready_after(&self) -> Option<Duration> {
        self.ready_at.map(|at| at.duration_since(self.started))
    }

    pub(super) fn kill(&mut self, why: Kill) {
        if self.killed.is_none() {
            self.killed = Some(why);
        }
        self.gone.store(true, Ordering::SeqCst);
        let _ = self.child.kill();
    }

    pub(super) fn last_output(&self) -> String {
        if self.tail.is_empty() {
            "it printed nothing".to_owned()
        } else {
            let lines: Vec<&str> = self.tail.iter().map(String::as_str).collect();
            format!("its last output: {}", lines.join(" | "))
        }
    }
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(super) fn notice(&self, text: &str) {
        (self.sink)(&self.config.name, &format!("emulator: {text}"));
    }

    /// Keeps a thread's handle, to be joined on shutdown.
    pub(super) fn adopt(&self, handle: JoinHandle<()>) {
        let mut threads = lock(&self.threads);
        threads.retain(|t| !t.is_finished());
        threads.push(handle);
    }
}

impl State {
    /// Ends an invocation; false if it was not in flight (already answered, timed out, unknown).
    pub(super) fn complete(&mut self, request_id: &str, outcome: Outcome) -> bool {
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
    pub(super) fn fail(&mut self, function: &str, reason: String, notices: &mut Vec<String>) {
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

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn wait_timeout<'a>(
    changed: &Condvar,
    guard: MutexGuard<'a, State>,
    timeout: Duration,
) -> MutexGuard<'a, State> {
    match changed.wait_timeout(guard, timeout) {
        Ok((guard, _)) => guard,
        Err(poisoned) => poisoned.into_inner().0,
    }
}
