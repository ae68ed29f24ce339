//! `cargo xtask dev`: the whole order system on this machine, without Docker or an AWS account.
//!
//! 1. moto server (installed into `.tools/` on first use, DynamoDB requests serialized by the
//!    project's launcher) on loopback; one already answering on `--moto-port` is reused and left
//!    running;
//! 2. the dev stack deployed into it through `xtask::deploy` (the local profile and its gaps are
//!    the deploy code's); the zips it uploads are placeholders, since moto runs no code;
//! 3. the functions built for the host (`cargo build`, debug) while moto starts and the stack
//!    deploys, then run as Lambda processes behind the Runtime API emulator
//!    ([`crate::runtime_api`]), each with the environment moto's Lambda holds for it (the
//!    template's variables with references resolved), plus the emulator endpoint, test
//!    credentials and the region;
//! 4. the event sources and the workflow ([`sources`], [`workflow`]) and the REST API ([`api`]).
//!
//! Every wait of the deployed system (retry intervals, the queue's visibility timeout) is
//! multiplied by `wait_scale` (0.01 by default: 2 s becomes 20 ms, 180 s becomes 2 s).

pub mod api;
pub mod bench;
mod command;
pub mod faults;
pub mod lambda_api;
pub use local_cloud::http;
pub mod sources;
mod stack;
pub mod topics;
pub mod watch;
pub mod workflow;

pub use command::{Client, Mode, cli, order_body, smoke, wait_for_signal};
use stack::{moto_answers, placeholder_artifacts, start_moto};
pub use stack::{moto_log, without_event_source_mappings};

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use infra_model::Env;
use infra_model::aws::lambda::EventSourceMapping;
use infra_model::cfn::Resource;
use infra_model::decl::{Target, Trigger};
use infra_model::system::{FUNCTIONS, TOPICS, WORKFLOWS, queue_pollers, queue_visibility, stack_name};
use serde_json::json;
pub use xtask::cli::{DEFAULT_MOTO_PORT, DEFAULT_PORT, DEFAULT_WAIT_SCALE};

use self::http::Aws;
use self::sources::{Activity, Executions, QueueMapping, Say, StreamMapping};
use crate::deploy::{self, AwsSettings, DeployOptions, DeployTarget, LocalUpdates, OutputMode};
use crate::moto::MotoServer;
use crate::runtime_api::{FunctionConfig, LocalFunction, LogSink};

/// How to run the local system.
#[derive(Clone)]
pub struct DevOptions {
    /// The API's port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// The API key; generated when absent.
    pub api_key: Option<String>,
    /// moto's port (0: a free port, never reused).
    pub moto_port: u16,
    /// Usage-plan and stage throttling (off for the benchmark).
    pub throttle: bool,
    pub wait_scale: f64,
    /// Where function and driver lines go: `(source, line)`.
    pub log: LogSink,
    /// Progress lines of the start-up.
    pub progress: Say,
    /// Sandboxes per function at most (the dev reserved concurrency caps it too).
    pub max_concurrency: usize,
    /// What to inject once the system is up ([`faults`]).
    pub faults: faults::FaultSpec,
    /// How the functions are built: the tests take the test suite's own build.
    pub host_build: crate::build::HostBuild,
}

impl DevOptions {
    /// The defaults of `cargo xtask dev`, printing to stderr.
    pub fn new() -> DevOptions {
        DevOptions {
            port: DEFAULT_PORT,
            api_key: None,
            moto_port: DEFAULT_MOTO_PORT,
            throttle: true,
            wait_scale: DEFAULT_WAIT_SCALE,
            log: crate::runtime_api::stderr_log_sink(),
            progress: Arc::new(|s: &str| eprintln!("{s}")),
            max_concurrency: 4,
            faults: faults::FaultSpec::default(),
            host_build: crate::build::HostBuild::Functions,
        }
    }
}

impl Default for DevOptions {
    fn default() -> Self {
        DevOptions::new()
    }
}

/// The running local system. Dropping it (or [`DevSystem::shutdown`]) stops everything it
/// started.
pub struct DevSystem {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    pub api_key: String,
    /// moto's endpoint.
    pub moto_endpoint: String,
    /// Whether moto was started here (and is stopped with the system).
    pub moto_started: bool,
    /// Command to ready.
    pub ready_after: Duration,
    /// Time per phase, milliseconds.
    pub timings_ms: BTreeMap<String, u64>,
    /// The workflow executions run so far.
    pub executions: Executions,
    /// What the functions published to the topics so far.
    pub published: topics::Published,
    /// The deployed names: `OrdersTableName`, `OrderEventsQueueUrl`, ... (the stack outputs).
    pub outputs: BTreeMap<String, String>,
    /// The local Lambda Invoke endpoint (`http://127.0.0.1:<port>`), see [`lambda_api`].
    pub lambda_endpoint: String,
    stop: Arc<AtomicBool>,
    /// Bumped by the local AWS endpoint on each table write a function makes: the stream
    /// pollers wait on it when idle.
    writes: Activity,
    /// Bumped on each `StartExecution`: the workflow runner waits on it when idle. Both are
    /// bumped once more on shutdown.
    starts: Activity,
    threads: Vec<JoinHandle<()>>,
    functions: Vec<Arc<LocalFunction>>,
    faults: Option<faults::Faults>,
    moto: Option<MotoServer>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn random_key() -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..20)
        .map(|_| char::from(A[usize::try_from(crate::runtime_api::random_u64() % 62).unwrap_or(0)]))
        .collect()
}

impl DevSystem {
    /// Starts everything; returns when the API answers.
    pub fn start(options: DevOptions) -> Result<DevSystem> {
        let t0 = Instant::now();
        let say = options.progress.clone();
        let mut timings = BTreeMap::new();
        // The host build runs while moto starts and the stack deploys.
        let host_build = options.host_build;
        let build = std::thread::spawn(move || {
            let t = Instant::now();
            crate::build::host_binaries(&[], host_build, true).map(|b| (b, t.elapsed()))
        });
        // Each function's recent lines, for the local Lambda endpoint's log tails.
        let recent = Arc::new(lambda_api::RecentLines::default());
        let (moto_port, reuse) = match options.moto_port {
            0 => (crate::moto::free_port()?, false),
            p => (p, moto_answers(p)),
        };
        let mut system = DevSystem {
            url: String::new(),
            api_key: options.api_key.clone().unwrap_or_else(random_key),
            moto_endpoint: format!("http://127.0.0.1:{moto_port}"),
            moto_started: !reuse,
            ready_after: Duration::ZERO,
            timings_ms: BTreeMap::new(),
            executions: Arc::new(Mutex::new(Vec::new())),
            published: Arc::new(Mutex::new(Vec::new())),
            outputs: BTreeMap::new(),
            lambda_endpoint: String::new(),
            stop: Arc::new(AtomicBool::new(false)),
            writes: Activity::default(),
            starts: Activity::default(),
            threads: Vec::new(),
            functions: Vec::new(),
            faults: None,
            moto: None,
        };
        let t = Instant::now();
        if reuse {
            say(&format!("moto: reusing the server on {}", system.moto_endpoint));
        } else {
            say(&format!(
                "moto: starting on {} (log: {})",
                system.moto_endpoint,
                moto_log(moto_port).display()
            ));
            system.moto = Some(start_moto(moto_port)?);
        }
        timings.insert("moto".to_owned(), ms(t.elapsed()));

        // Deploy through the deploy code path.
        let t = Instant::now();
        let template = infra_model::synth(Env::Dev)
            .context("cannot synthesize the dev template")?
            .to_value();
        let target = DeployTarget::new(
            Env::Dev,
            AwsSettings {
                region: Some("us-east-1".into()),
                profile: None,
                endpoint_url: Some(system.moto_endpoint.clone()),
            },
        )
        .with_template(without_event_source_mappings(&template));
        let deploy_options = DeployOptions {
            yes: true,
            local_updates: LocalUpdates::Recreate,
            output: OutputMode::Quiet,
            emulator_log: Some(moto_log(moto_port)),
            ..DeployOptions::default()
        };
        let artifacts = placeholder_artifacts()?;
        let report = deploy::block_on(deploy::deploy(&target, &deploy_options, &artifacts))??;
        if report.exit_code() != deploy::exit::OK {
            bail!(
                "deploying the dev stack into moto failed ({:?}): {} {:?}\nWhat to do: stop other runs, then `cargo xtask dev --moto-port 0` for a fresh emulator",
                report.outcome,
                report.status_reason.clone().unwrap_or_default(),
                report.failures
            );
        }
        for n in deploy::local::render_notes(&report.plan.local_notes) {
            (options.log)("deploy", &n);
        }
        let mappings = template["Resources"].as_object().map_or(0, |r| {
            r.values()
                .filter(|r| r["Type"] == EventSourceMapping::TYPE)
                .count()
        });
        (options.log)(
            "deploy",
            &format!(
                "dev: left out the {mappings} {} resources: moto's mappings need Docker to run a function and still swallow the streams' records and the queues' messages; cargo xtask dev drives those triggers from the functions' declarations",
                EventSourceMapping::TYPE
            ),
        );
        (options.log)(
            "deploy",
            "dev: what moto leaves out of API Gateway (stage, key, usage plan, validator, gateway responses, CORS preflight) the local API server does from the route and gateway-response declarations",
        );
        let created = report.plan.change_set == Some(deploy::changes::ChangeSetKind::Create);
        if report.plan.changes.iter().any(|c| {
            c.resource_type == "AWS::Lambda::EventSourceMapping"
                && c.action == deploy::changes::Action::Remove
        }) {
            say(
                "warning: this moto held the stack with its event source mappings (a `cargo xtask deploy`);                  moto keeps a removed mapping attached to its table and queue, where it swallows records.                  If orders stay PENDING, restart moto or run `cargo xtask dev --moto-port 0`.",
            );
        }
        say(&format!(
            "deploy: {} in moto: {} in {} ms{}",
            report.plan.stack,
            match report.outcome {
                deploy::Outcome::NoChanges => "unchanged",
                _ if created => "created",
                _ => "updated",
            },
            t.elapsed().as_millis(),
            if report.plan.local_notes.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} local-profile adjustments, see `cargo xtask deploy --endpoint-url`)",
                    report.plan.local_notes.len()
                )
            }
        ));
        if created {
            deploy::block_on(deploy::seed::seed_inventory(&target, OutputMode::Quiet))?
                .context("cannot seed the sample inventory")?;
            say("seed: sample products in the inventory (laptop, mouse, keyboard, ...)");
        }
        timings.insert("deploy".to_owned(), ms(t.elapsed()));

        let t = Instant::now();
        let (binaries, build_time) = build.join().map_err(|_| anyhow!("the build thread panicked"))??;
        say(&format!(
            "build: {} functions for the host ({} compiled; {} ms)",
            binaries.len(),
            binaries.iter().filter(|b| b.compiled).count(),
            build_time.as_millis()
        ));
        timings.insert("build_wait".to_owned(), ms(t.elapsed()));

        // Start the functions with their deployed environment; their AWS endpoint is the local
        // one in front of moto, which tells the event sources of their writes and injects the
        // AWS faults when asked.
        let t = Instant::now();
        let aws = Aws::new(&system.moto_endpoint)?;
        let mut injector = faults::Faults::prepare(
            options.faults.clone(),
            &system.moto_endpoint,
            sources::observer(system.writes.clone(), system.starts.clone()),
        )?;
        let function_endpoint = injector.function_endpoint();
        let stack = stack_name(Env::Dev);
        let mut by_name: BTreeMap<String, Arc<LocalFunction>> = BTreeMap::new();
        let mut envs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (spec, bin) in FUNCTIONS.iter().zip(&binaries) {
            let deployed = aws.rest_get(
                "lambda",
                &format!("/2015-03-31/functions/{stack}-{}/configuration", spec.name),
            )?;
            let mut env: BTreeMap<String, String> = deployed["Environment"]["Variables"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect();
            for (k, v) in [
                ("AWS_ENDPOINT_URL", function_endpoint.as_str()),
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ] {
                env.insert(k.to_owned(), v.to_owned());
            }
            let sizing = spec.sizing(Env::Dev);
            let mut config = FunctionConfig::new(spec.name, [bin.path.clone().into_os_string()]);
            config.env = env.clone();
            config.memory_mb = deployed["MemorySize"]
                .as_u64()
                .and_then(|m| u32::try_from(m).ok())
                .unwrap_or(sizing.memory_mb);
            config.timeout = deployed["Timeout"]
                .as_u64()
                .map_or(sizing.timeout, Duration::from_secs);
            config.concurrency = match spec.trigger {
                // One shard, read in order: one invocation at a time, as Lambda does per shard.
                Trigger::Stream(_) => 1,
                _ => usize::try_from(sizing.reserved_concurrency)
                    .unwrap_or(1)
                    .clamp(1, options.max_concurrency.max(1)),
            };
            let f = Arc::new(LocalFunction::start(
                config,
                recent.recording(options.log.clone()),
            )?);
            system.functions.push(f.clone());
            by_name.insert(spec.name.to_owned(), f);
            envs.insert(spec.name.to_owned(), env);
        }
        for f in &system.functions {
            f.ready(Duration::from_secs(30))
                .with_context(|| format!("the function {} did not start", f.name()))?;
        }
        say(&format!(
            "functions: {} running in {} ms",
            system.functions.len(),
            t.elapsed().as_millis()
        ));
        timings.insert("functions".to_owned(), ms(t.elapsed()));

        // The event sources and the workflows, from the functions' declared triggers; the
        // deployed names from the stack's outputs.
        let output = |target: Target| -> Result<String> {
            report.outputs.get(&target.output_id()).cloned().with_context(|| {
                format!(
                    "the dev stack has no output {} (the deployed name of {target}): redeploy with `cargo xtask dev --moto-port 0`",
                    target.output_id()
                )
            })
        };
        let log = options.log.clone();
        let driver_say: Say = Arc::new(move |s: &str| log("dev", s));
        let settings = Env::Dev.settings();
        for spec in FUNCTIONS {
            let Some(function) = by_name.get(spec.name).cloned() else {
                continue;
            };
            match spec.trigger {
                Trigger::Stream(trigger) => {
                    let table = output(Target::Table(trigger.table))?;
                    let failures = output(Target::Queue(trigger.on_failure))?;
                    system.threads.push(sources::spawn_stream(
                        aws.clone(),
                        table,
                        StreamMapping {
                            backoff_scale: options.wait_scale,
                            duplicates: options.faults.duplicates,
                            ..StreamMapping::declared(&trigger, Some(failures))
                        },
                        function,
                        system.stop.clone(),
                        system.writes.clone(),
                        driver_say.clone(),
                    )?);
                }
                Trigger::Queue(trigger) => {
                    let url = output(Target::Queue(trigger.queue))?;
                    let mapping = QueueMapping {
                        batch_size: usize::try_from(trigger.batch_size).unwrap_or(10),
                        visibility_timeout: queue_visibility(trigger.queue)
                            .mul_f64(options.wait_scale)
                            .max(Duration::from_secs(1)),
                        max_concurrency: usize::try_from(queue_pollers(spec, Env::Dev, &settings))
                            .unwrap_or(2)
                            .min(2),
                        batching_window: trigger.batching_window.mul_f64(options.wait_scale),
                        duplicates: options.faults.duplicates,
                    };
                    system.threads.extend(sources::spawn_queue(
                        aws.clone(),
                        url,
                        mapping,
                        function,
                        system.stop.clone(),
                        driver_say.clone(),
                    )?);
                }
                Trigger::Api | Trigger::WorkflowTask => {}
            }
        }
        for workflow in WORKFLOWS {
            let definition = (workflow.definition)();
            let mut tasks = Vec::new();
            for f in definition.task_functions() {
                let local = by_name
                    .get(f.name)
                    .cloned()
                    .with_context(|| format!("{} is not running", f.name))?;
                tasks.push((f, local));
            }
            let state_machine = output(Target::Workflow(workflow))?;
            let runner = sources::WorkflowRunner {
                aws: aws.clone(),
                state_machine_arn: state_machine,
                definition: Arc::new(definition),
                tasks: Arc::new(tasks),
                wait_scale: options.wait_scale,
                duplicates: options.faults.duplicates,
                say: driver_say.clone(),
                executions: system.executions.clone(),
            };
            system
                .threads
                .push(runner.spawn(system.stop.clone(), system.starts.clone())?);
        }

        for topic in TOPICS {
            system.threads.push(topics::spawn_listener(
                aws.clone(),
                topic,
                output(Target::Topic(topic))?,
                system.stop.clone(),
                driver_say.clone(),
                system.published.clone(),
            )?);
        }

        // The API.
        let listener = TcpListener::bind(("127.0.0.1", options.port)).with_context(|| {
            format!(
                "cannot listen on 127.0.0.1:{}: is another `cargo xtask dev` running? Use --port",
                options.port
            )
        })?;
        let port = listener.local_addr().context("no local address")?.port();
        system.url = format!("http://127.0.0.1:{port}");
        let api_functions: BTreeMap<String, Arc<LocalFunction>> = FUNCTIONS
            .iter()
            .filter(|f| f.trigger == Trigger::Api)
            .filter_map(|f| Some((f.name.to_owned(), by_name.get(f.name)?.clone())))
            .collect();
        let api = Arc::new(api::Api::new(
            api::ApiConfig {
                api_key: system.api_key.clone(),
                throttle: options.throttle,
                cors_origin: settings.cors.origins().join(","),
                functions: api_functions,
                stage: Env::Dev.name().to_owned(),
            },
            &settings,
        ));
        system.threads.push(api.serve(listener, system.stop.clone())?);
        // The Lambda Invoke endpoint, on a free port.
        let lambda =
            TcpListener::bind(("127.0.0.1", 0)).context("cannot listen for the local Lambda endpoint")?;
        system.lambda_endpoint = format!(
            "http://127.0.0.1:{}",
            lambda.local_addr().context("no local address")?.port()
        );
        system.threads.push(lambda_api::serve(
            lambda,
            system.functions.clone(),
            recent,
            system.stop.clone(),
        )?);
        system.outputs = report.outputs.clone();
        injector.arm(&system.functions, &aws, &system.outputs, driver_say.clone())?;
        system.faults = Some(injector);
        system.ready_after = t0.elapsed();
        timings.insert("total".to_owned(), ms(system.ready_after));
        system.timings_ms = timings;
        Ok(system)
    }

    /// The invocations running now in the functions no API route triggers: the pipeline's work
    /// behind the orders (reservation, the workflow's tasks, notifications).
    pub fn pipeline_busy(&self) -> usize {
        self.functions
            .iter()
            .filter(|f| {
                FUNCTIONS
                    .iter()
                    .any(|d| d.name == f.name() && !matches!(d.trigger, Trigger::Api))
            })
            .map(|f| f.sandboxes().iter().filter(|s| s.busy.is_some()).count())
            .sum()
    }

    /// Stops the API, the drivers, the functions and (if started here) moto.
    pub fn shutdown(&mut self) {
        if let Some(f) = self.faults.as_mut() {
            f.stop();
        }
        self.stop.store(true, Ordering::Relaxed);
        self.writes.bump();
        self.starts.bump();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        for f in self.functions.drain(..) {
            f.shutdown();
        }
        drop(self.faults.take());
        // Stops moto when this system started it (its log stays for a look afterwards).
        drop(self.moto.take());
    }

    /// The functions' local Lambda services, in declaration order (a fault test kills their
    /// sandboxes).
    pub fn functions(&self) -> &[Arc<LocalFunction>] {
        &self.functions
    }

    /// What the fault injector did so far (`None` before the system is up).
    pub fn faults(&self) -> Option<&faults::Faults> {
        self.faults.as_ref()
    }

    /// The curl commands to paste.
    pub fn example(&self) -> String {
        let body = json!({
            "customerName": "Ann Example",
            "customerEmail": "ann@example.com",
            "items": [{"sku": "laptop", "productName": "Laptop", "quantity": 1, "price": 1299.99}],
            "shippingAddress": {"street": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"},
            "paymentMethod": "CARD"
        });
        format!(
            "Try it:\n  curl -s {url}/health\n  curl -s -X POST {url}/orders -H 'x-api-key: {key}' -H 'content-type: application/json' \\\n    -d '{body}'\n  curl -s {url}/orders/<orderId> -H 'x-api-key: {key}'     # PENDING → RESERVED → PAID → SHIPPED\n\
             Paths: ann+decline@, ann+flaky@, ann+down@, ann+noship@example.com (see README, \"Triggering every path\").",
            url = self.url,
            key = self.api_key,
        )
    }
}

impl Drop for DevSystem {
    fn drop(&mut self) {
        self.shutdown();
    }
}
