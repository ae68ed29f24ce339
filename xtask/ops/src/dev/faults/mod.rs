//! The faults `cargo xtask dev --faults` (and the soak, and the fault tests) inject into the
//! running local system, each as AWS shows it to a function (README, "Guarantees"):
//!
//! - `kill`, `kill-api`: a sandbox SIGKILLed at any point of its life. The emulator fails its
//!   invocation with `Runtime.ExitError`, as Lambda does, and the event source mapping, the
//!   workflow's Retry/Catch or the API client takes over.
//! - `hang`: a busy sandbox frozen with SIGSTOP: the invocation runs into the function's timeout
//!   (`Sandbox.Timedout`), and a workflow task into its `TimeoutSeconds` if that is shorter.
//! - `aws-errors`, `aws-stall`, `outage`: the functions reach AWS through [`FaultProxy`] (their
//!   local AWS endpoint, always there: it also tells the event sources of writes), which
//!   answers a share of requests with the errors the services document (throttling, 500, 503)
//!   or holds them, only while the outage is on.
//! - `duplicates`: in the event sources ([`super::sources`]).
//! - `poison`: a message no consumer reads into the order-events queue, and an order record
//!   reserve-stock cannot read into the orders table (so into its stream).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use infra_model::decl::{Function, Target, Trigger};
use infra_model::system::FUNCTIONS;
use infra_model::system::resources::{ORDER_EVENTS, ORDERS};
use serde::Serialize;
pub use xtask::faults::FaultSpec;

mod poison;
mod proxy;
use poison::poison;
pub use poison::poison_check;
pub use proxy::FaultProxy;

use super::http::Aws;
use super::sources::{Observer, Say, chance};
use crate::runtime_api::{LocalFunction, random_u64};

/// What was injected so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultCounts {
    /// Pipeline sandboxes killed, and of those replacements killed while they started.
    pub kills: u64,
    pub init_kills: u64,
    /// API sandboxes killed.
    pub api_kills: u64,
    /// Busy sandboxes frozen until their timeout.
    pub hangs: u64,
    /// The functions' AWS requests through the proxy while faults were armed.
    pub aws_requests: u64,
    /// Answered with an error, by error code.
    pub aws_errors: BTreeMap<String, u64>,
    /// Held for the stall before they went through.
    pub aws_stalls: u64,
    /// Poison messages sent to the order-events queue, and poison order records written.
    pub poison_messages: u64,
    pub poison_records: u64,
}

/// What the injector did: counts, the poison's ids, and when the AWS faults were on.
#[derive(Default)]
pub struct Injected {
    counts: Mutex<FaultCounts>,
    /// When the faults were armed: the outage's clock starts there.
    armed_at: Mutex<Option<Instant>>,
    /// When they were turned off for good ([`Injected::disarm`]): the proxy passes everything
    /// and the threads end.
    disarmed_at: Mutex<Option<Instant>>,
    halted: AtomicBool,
    /// The MessageIds of the poison messages, and the keys of the poison records.
    poison_messages: Mutex<Vec<String>>,
    poison_records: Mutex<Vec<String>>,
}

impl Injected {
    pub fn counts(&self) -> FaultCounts {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn count(&self, f: impl FnOnce(&mut FaultCounts)) {
        if let Ok(mut c) = self.counts.lock() {
            f(&mut c);
        }
    }

    fn armed_at(&self) -> Option<Instant> {
        self.armed_at.lock().ok().and_then(|a| *a)
    }

    fn disarmed_at(&self) -> Option<Instant> {
        self.disarmed_at.lock().ok().and_then(|a| *a)
    }

    /// Turns every fault off for good: the endpoint answers truly from now on and nothing more
    /// is killed, frozen or poisoned. The soak calls it once its orders are placed, so that what
    /// it then checks can settle.
    pub fn disarm(&self) {
        if let Ok(mut d) = self.disarmed_at.lock()
            && d.is_none()
        {
            *d = Some(Instant::now());
        }
        self.halted.store(true, Ordering::Relaxed);
    }

    fn halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }

    pub fn poison_messages(&self) -> Vec<String> {
        self.poison_messages.lock().map(|p| p.clone()).unwrap_or_default()
    }

    pub fn poison_records(&self) -> Vec<String> {
        self.poison_records.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Whether the AWS endpoint was failing at some moment between `from` and `to` (a request
    /// that overlapped an outage may be answered 503).
    pub fn endpoint_failing_during(&self, spec: &FaultSpec, from: Instant, to: Instant) -> bool {
        if !spec.endpoint() {
            return false;
        }
        let Some(armed) = self.armed_at() else {
            return false;
        };
        if self.disarmed_at().is_some_and(|d| from >= d) {
            return false;
        }
        let Some((on, off)) = spec.outage else {
            return to >= armed;
        };
        let period = on + off;
        let start = from.max(armed).saturating_duration_since(armed);
        let end = to.saturating_duration_since(armed);
        if to < armed {
            return false;
        }
        // Some on-window [k·period, k·period + on) meets [start, end].
        let k = start.as_nanos() / period.as_nanos().max(1);
        let window = Duration::from_nanos(u64::try_from(k * period.as_nanos()).unwrap_or(u64::MAX));
        start < window + on || end >= window + period
    }
}

/// The running injector: the functions' AWS endpoint (the proxy) and the threads that kill,
/// freeze and poison.
pub struct Faults {
    pub spec: FaultSpec,
    pub injected: Arc<Injected>,
    pub proxy: FaultProxy,
    threads: Vec<JoinHandle<()>>,
}

/// SIGKILL or SIGSTOP (`kill -9`, `kill -STOP`): what a crashed, OOM-killed or stuck runtime
/// meets.
fn signal(pid: u32, sig: &str) -> bool {
    std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn pick<T>(items: &[T]) -> Option<&T> {
    if items.is_empty() {
        return None;
    }
    items.get(usize::try_from(random_u64() % items.len() as u64).unwrap_or(0))
}

/// Sleeps `d` in short steps; false once the faults are halted.
fn nap(d: Duration, injected: &Injected) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if injected.halted() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20).min(end.saturating_duration_since(Instant::now())));
    }
    !injected.halted()
}

fn declared(f: &LocalFunction) -> Option<&'static Function> {
    FUNCTIONS.iter().copied().find(|d| d.name == f.name())
}

impl Faults {
    /// Before the functions start: the proxy in front of moto (the functions get its endpoint
    /// as `AWS_ENDPOINT_URL`), which passes everything until the AWS faults of the spec, if
    /// any, are armed, and calls `observe` with each request moto accepted.
    pub fn prepare(spec: FaultSpec, moto_endpoint: &str, observe: Observer) -> Result<Faults> {
        let injected = Arc::new(Injected::default());
        let proxy = FaultProxy::start(moto_endpoint, spec.clone(), injected.clone(), observe)?;
        Ok(Faults {
            spec,
            injected,
            proxy,
            threads: Vec::new(),
        })
    }

    /// The endpoint the functions use: the proxy's.
    pub fn function_endpoint(&self) -> String {
        self.proxy.endpoint.clone()
    }

    /// Once the system is up: starts the clock of the AWS faults and the threads that kill,
    /// freeze and poison. `outputs` are the stack's (queue URL, table name).
    pub fn arm(
        &mut self,
        functions: &[Arc<LocalFunction>],
        aws: &Aws,
        outputs: &BTreeMap<String, String>,
        say: Say,
    ) -> Result<()> {
        if !self.spec.any() {
            return Ok(());
        }
        if let Ok(mut a) = self.injected.armed_at.lock() {
            *a = Some(Instant::now());
        }
        say(&format!("faults: injecting {}", self.spec));
        let pipeline: Vec<Arc<LocalFunction>> = functions
            .iter()
            .filter(|f| declared(f).is_some_and(|d| !matches!(d.trigger, Trigger::Api)))
            .cloned()
            .collect();
        let api: Vec<Arc<LocalFunction>> = functions
            .iter()
            .filter(|f| declared(f).is_some_and(|d| matches!(d.trigger, Trigger::Api)))
            .cloned()
            .collect();
        if let Some(every) = self.spec.kill {
            self.threads.push(self.killer(pipeline.clone(), every, false)?);
        }
        if let Some(every) = self.spec.kill_api {
            self.threads.push(self.killer(api, every, true)?);
        }
        if let Some(every) = self.spec.hang {
            let (injected, say) = (self.injected.clone(), say.clone());
            self.threads.push(
                std::thread::Builder::new()
                    .name("dev-fault-hang".into())
                    .spawn(move || {
                        while nap(every, &injected) {
                            // The first sandbox found busy within the next interval.
                            let until = Instant::now() + every;
                            while Instant::now() < until && !injected.halted() {
                                let busy: Vec<(String, u32)> = pipeline
                                    .iter()
                                    .flat_map(|f| {
                                        f.sandboxes()
                                            .into_iter()
                                            .filter(|b| b.busy.is_some())
                                            .map(|b| (f.name().to_owned(), b.pid))
                                    })
                                    .collect();
                                if let Some((name, pid)) = pick(&busy) {
                                    if signal(*pid, "-STOP") {
                                        injected.count(|c| c.hangs += 1);
                                        // The invocation may have ended just before the freeze:
                                        // then no deadline kills the sandbox and the function's
                                        // next invocation would wait for it forever. Lambda ends
                                        // a frozen runtime at the timeout whatever it does, so
                                        // this does too (a no-op when the emulator got there).
                                        let timeout = FUNCTIONS
                                            .iter()
                                            .find(|d| d.name == name.as_str())
                                            .map_or(Duration::from_secs(30), |d| d.sizing[0].timeout);
                                        let pid = *pid;
                                        std::thread::spawn(move || {
                                            std::thread::sleep(timeout + Duration::from_secs(1));
                                            signal(pid, "-9");
                                        });
                                        say(&format!(
                                            "fault: froze a busy {name} sandbox (pid {pid}) until its timeout"
                                        ));
                                    }
                                    break;
                                }
                                std::thread::sleep(Duration::from_millis(5));
                            }
                        }
                    })
                    .context("cannot start the hang thread")?,
            );
        }
        if let Some(every) = self.spec.poison {
            let queue = outputs
                .get(&Target::Queue(&ORDER_EVENTS.spec).output_id())
                .cloned()
                .context("the dev stack has no order-events queue output")?;
            let table = outputs
                .get(&Target::Table(&ORDERS.spec).output_id())
                .cloned()
                .context("the dev stack has no orders table output")?;
            let (injected, aws) = (self.injected.clone(), aws.clone());
            self.threads.push(
                std::thread::Builder::new()
                    .name("dev-fault-poison".into())
                    .spawn(move || {
                        while nap(every, &injected) {
                            poison(&aws, &queue, &table, &injected, &say);
                        }
                    })
                    .context("cannot start the poison thread")?,
            );
        }
        Ok(())
    }

    fn killer(&self, targets: Vec<Arc<LocalFunction>>, every: Duration, api: bool) -> Result<JoinHandle<()>> {
        let injected = self.injected.clone();
        std::thread::Builder::new()
            .name("dev-fault-kill".into())
            .spawn(move || {
                while nap(every, &injected) {
                    let Some(f) = pick(&targets) else { return };
                    let Some(b) = pick(&f.sandboxes()).cloned() else {
                        continue;
                    };
                    if !signal(b.pid, "-9") {
                        continue;
                    }
                    injected.count(|c| if api { c.api_kills += 1 } else { c.kills += 1 });
                    // Every other time, its replacement too, while it starts (before its first
                    // `/next`): an init that fails after the function has run.
                    if api || !chance(0.5) {
                        continue;
                    }
                    let until = Instant::now() + Duration::from_secs(3);
                    while Instant::now() < until && !injected.halted() {
                        let starting = f
                            .sandboxes()
                            .into_iter()
                            .find(|s| s.pid != b.pid && s.ready_after.is_none());
                        if let Some(s) = starting {
                            if signal(s.pid, "-9") {
                                injected.count(|c| c.init_kills += 1);
                            }
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
            .context("cannot start the kill thread")
    }

    /// Stops the injector's threads (the proxy stays until dropped: the functions still use it).
    pub fn stop(&mut self) {
        self.injected.disarm();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Faults {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_overlap_with_an_outage_window_is_found() {
        let spec: FaultSpec = "aws-errors=10%,outage=1s/3s".parse().unwrap();
        let injected = Injected::default();
        let armed = Instant::now();
        *injected.armed_at.lock().unwrap() = Some(armed);
        let at = |ms: u64| armed + Duration::from_millis(ms);
        assert!(injected.endpoint_failing_during(&spec, at(100), at(200)));
        assert!(!injected.endpoint_failing_during(&spec, at(1100), at(3900)));
        assert!(injected.endpoint_failing_during(&spec, at(3500), at(4100)));
        assert!(injected.endpoint_failing_during(&spec, at(900), at(1200)));
        assert!(injected.endpoint_failing_during(&spec, at(1500), at(9000)));
        let none = FaultSpec::default();
        assert!(!injected.endpoint_failing_during(&none, at(0), at(9000)));
    }
}
