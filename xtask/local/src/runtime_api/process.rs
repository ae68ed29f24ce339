//! The sandboxes as processes: spawned, their output pumped into the log, supervised, replaced.

use super::*;

pub(super) fn checked(mut config: FunctionConfig) -> Result<FunctionConfig> {
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
pub(super) fn task_root(config: &FunctionConfig) -> PathBuf {
    let last = config.command.last().map(Path::new);
    match last.and_then(Path::parent) {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    }
}

pub(super) fn spawn_proc(shared: &Arc<Shared>, slot: usize) -> Result<()> {
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
    let gone = Arc::new(AtomicBool::new(false));
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
                gone: Arc::clone(&gone),
                started,
                ready_at: None,
                busy: None,
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

    let server = serve_sandbox(shared, id, &gone, listener).context("cannot start a Runtime API server")?;
    shared.adopt(server);
    for (n, pipe) in pipes.into_iter().enumerate() {
        let shared2 = Arc::clone(shared);
        thread::Builder::new()
            .name(format!("{name}-log-{id}-{n}"))
            .spawn(move || pump_lines(&shared2, id, pipe))
            .context("cannot start a log thread")?;
    }
    Ok(())
}

pub(super) fn pump_lines(shared: &Shared, id: u64, pipe: Box<dyn Read + Send>) {
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
pub(super) fn supervise(shared: &Arc<Shared>) {
    let name = shared.config.name.as_str();
    let timeout = shared.config.timeout;
    let mut state = shared.lock();
    while !state.stopping {
        let now = Instant::now();
        let mut notices = Vec::new();
        let mut spawn_slots = Vec::new();
        let mut broken = Vec::new();

        for proc in state.procs.values_mut() {
            if proc.exited.is_some() {
                continue;
            }
            match proc.child.try_wait() {
                Ok(Some(status)) => {
                    proc.exited = Some((status, now));
                    proc.gone.store(true, Ordering::SeqCst);
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

        let changed = !notices.is_empty() || !spawn_slots.is_empty();
        drop(state);
        if changed {
            shared.changed.notify_all();
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
pub(super) fn after_exit(
    state: &mut State,
    name: &str,
    id: u64,
    mut proc: Proc,
    now: Instant,
    notices: &mut Vec<String>,
) {
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
pub(super) fn restart_delay(n: u32) -> Duration {
    Duration::from_millis(250_u64 << n.min(8)).min(MAX_RESTART_DELAY)
}
