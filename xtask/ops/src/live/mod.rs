//! The commands that talk to a running API over HTTP(S): `cargo xtask test-api` (the end-to-end
//! scenarios against a deployment) and `cargo xtask load` (a load test). Each finds its API the
//! same way ([`ApiTarget`]): a deployed environment (`--env E`: the `ApiUrl` output and the key's
//! value from API Gateway), a URL and a key, or the local system that `cargo xtask dev` runs
//! (`--local`: the file it writes, [`LocalState`]). `cargo xtask soak` ([`soak`]) runs orders of
//! every path for a while, faults injected, and checks the pipeline's [`invariants`].

pub mod cleanup;
pub mod client;
pub mod invariants;
pub mod load;
pub mod report;
pub mod soak;
pub mod test_api;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use infra_model::Env;
use infra_model::decl::Target;
use infra_model::system::api::URL_OUTPUT;
use infra_model::system::resources::{INVENTORY, ORDERS};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use self::client::{ApiClient, Reply};
use crate::deploy::{Aws, AwsSettings, DeployTarget, read_stack};

/// Where the API is.
#[derive(Clone, Debug)]
pub enum ApiTarget {
    /// A deployed environment: its stack's outputs, the key from API Gateway.
    Deployed(DeployTarget),
    /// A URL and a key, nothing else known (no table access, so no clean-up).
    Url { url: String, api_key: String },
    /// The running `cargo xtask dev` (its [`LocalState`]).
    Local,
}

impl ApiTarget {
    /// From the command line's `--env`/`--url`/`--api-key`/`--local`: exactly one of them.
    pub fn from_args(args: xtask::cli::ApiArgs) -> Result<ApiTarget> {
        match (args.env, args.url, args.aws.local) {
            (Some(env), None, false) => Ok(ApiTarget::Deployed(DeployTarget::new(env, args.aws.into()))),
            (None, Some(url), false) => Ok(ApiTarget::Url {
                url,
                api_key: args
                    .api_key
                    .context("--url needs --api-key (`cargo xtask api-key --env E` prints it)")?,
            }),
            (None, None, true) => Ok(ApiTarget::Local),
            (None, None, false) => bail!(
                "which API? Give --env E (a deployed environment), --url URL --api-key KEY, or --local (the running `cargo xtask dev`)"
            ),
            _ => bail!("give only one of --env, --url and --local"),
        }
    }
}

/// The tables a run cleans up after itself in (a deployed or the local stack's).
#[derive(Clone, Debug)]
pub struct Tables {
    pub aws: Aws,
    pub orders: String,
    pub inventory: String,
}

/// A resolved API: a client, what to call it in reports, and its tables when known.
#[derive(Clone, Debug)]
pub struct Api {
    pub client: ApiClient,
    pub name: String,
    pub tables: Option<Tables>,
    /// The environment, when known (the usage plan's limits).
    pub env: Option<Env>,
}

/// An order body: `(sku, quantity, price)` lines.
pub fn order_body(email: &str, lines: &[(&str, u32, f64)]) -> Value {
    json!({
        "customerName": "Test API",
        "customerEmail": email,
        "items": lines.iter().map(|(sku, q, p)| json!({"sku": sku, "productName": sku, "quantity": q, "price": p})).collect::<Vec<_>>(),
        "shippingAddress": {"street": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"},
        "paymentMethod": "CARD"
    })
}

/// What `cargo xtask dev` writes while it runs (`target/dev/local.json`), so that the other
/// commands find the local system with `--local`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalState {
    pub url: String,
    pub api_key: String,
    pub moto_endpoint: String,
    /// Its Lambda Invoke endpoint (`cargo xtask invoke --local`).
    pub lambda_endpoint: String,
    /// The `cargo xtask dev` process.
    pub pid: u32,
    /// Where its functions' log lines go, one JSON object per line ([`crate::deploy::logs::Line`]).
    pub log_file: PathBuf,
    /// Whether its API applies the dev usage plan's throttle and quota (`cargo xtask dev`
    /// without `--no-throttle`), so that `load --local` checks its rate against them only then.
    /// A file without it (an older `cargo xtask dev`) throttles.
    #[serde(default = "throttled_by_default")]
    pub throttled: bool,
}

fn throttled_by_default() -> bool {
    true
}

impl LocalState {
    /// The environment whose usage plan its API applies: dev's, unless it runs without one.
    pub fn usage_plan(&self) -> Option<Env> {
        self.throttled.then_some(Env::Dev)
    }

    pub fn path() -> PathBuf {
        crate::root().join("target").join("dev").join("local.json")
    }

    /// Written when the local system is ready.
    pub fn write(&self) -> Result<()> {
        let path = LocalState::path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self).context("cannot write the local state as JSON")?;
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Removed when it stops (only if it is still this process's).
    pub fn remove_if_mine(&self) {
        if LocalState::read_file().is_ok_and(|s| s.pid == self.pid) {
            let _ = std::fs::remove_file(LocalState::path());
        }
    }

    fn read_file() -> Result<LocalState> {
        let path = LocalState::path();
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "no local system is running ({} is missing): start one with `cargo xtask dev`",
                path.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not what `cargo xtask dev` writes: delete it and start `cargo xtask dev` again",
                path.display()
            )
        })
    }

    /// The running local system's state; refused when its process has exited.
    pub fn read() -> Result<LocalState> {
        let state = LocalState::read_file()?;
        if !std::path::Path::new(&format!("/proc/{}", state.pid)).exists() {
            bail!(
                "the local system that wrote {} (process {}) is not running any more: start it with `cargo xtask dev`",
                LocalState::path().display(),
                state.pid
            );
        }
        Ok(state)
    }
}

/// The dev stack's tables in the emulator at `moto_endpoint` (the local system's).
pub async fn local_tables(moto_endpoint: &str) -> Result<Tables> {
    let target = DeployTarget::new(
        Env::Dev,
        AwsSettings {
            endpoint_url: Some(moto_endpoint.to_owned()),
            ..AwsSettings::default()
        },
    );
    let aws = Aws::connect(&target.aws).await?;
    tables_of(&aws, &target).await
}

async fn tables_of(aws: &Aws, target: &DeployTarget) -> Result<Tables> {
    let Some(stack) = read_stack(aws, &target.stack).await? else {
        bail!(
            "{} does not exist: deploy it first (`cargo xtask deploy --env {}`)",
            target.stack,
            target.env.name()
        );
    };
    let output = |id: String| -> Result<String> {
        stack.outputs.get(&id).cloned().with_context(|| {
            format!(
                "{} has no output {id}: deploy the current model first",
                target.stack
            )
        })
    };
    Ok(Tables {
        aws: aws.clone(),
        orders: output(Target::Table(&ORDERS.spec).output_id())?,
        inventory: output(Target::Table(&INVENTORY.spec).output_id())?,
    })
}

/// Finds the API: its URL, its key and its tables.
pub async fn resolve(target: &ApiTarget) -> Result<Api> {
    match target {
        ApiTarget::Url { url, api_key } => Ok(Api {
            client: ApiClient::new(url, api_key)?,
            name: url.clone(),
            tables: None,
            env: None,
        }),
        ApiTarget::Local => {
            let state = LocalState::read()?;
            Ok(Api {
                client: ApiClient::new(&state.url, &state.api_key)?,
                name: format!("the local system at {}", state.url),
                tables: Some(local_tables(&state.moto_endpoint).await?),
                env: state.usage_plan(),
            })
        }
        ApiTarget::Deployed(target) => {
            let aws = Aws::connect(&target.aws).await?;
            let key = crate::deploy::apikey::api_key_with(&aws, target).await?;
            let Some(url) = key.url else {
                bail!(
                    "{} has no output {URL_OUTPUT}: deploy the current model first",
                    target.stack
                );
            };
            Ok(Api {
                client: ApiClient::new(&url, &key.value)?,
                name: format!("{} at {url}", target.stack),
                tables: Some(tables_of(&aws, target).await?),
                env: Some(target.env),
            })
        }
    }
}

fn print_json<T: Serialize>(report: &T) -> Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(report).context("cannot write the report as JSON")?
    );
    Ok(())
}

/// `cargo xtask test-api`: exit 3 when a check failed.
pub fn test_api_cli(
    args: xtask::cli::ApiArgs,
    order_timeout: &str,
    keep: bool,
    json: bool,
) -> Result<std::process::ExitCode> {
    let target = ApiTarget::from_args(args)?;
    let options = test_api::TestApiOptions {
        order_timeout: crate::deploy::logs::parse_duration("--order-timeout", order_timeout)?,
        keep,
        ..test_api::TestApiOptions::default()
    };
    let report = crate::deploy::block_on(async {
        let api = resolve(&target).await?;
        eprintln!("test-api: {} ...", api.name);
        test_api::run(&api, &options).await
    })??;
    if json {
        print_json(&report)?;
    } else {
        for l in report.lines() {
            println!("{l}");
        }
    }
    Ok(std::process::ExitCode::from(if report.failed() == 0 {
        crate::deploy::exit::OK
    } else {
        crate::deploy::exit::FAILED
    }))
}

/// `cargo xtask load`: the summary on stdout, the report written to `report_path`.
pub fn load_cli(
    args: xtask::cli::ApiArgs,
    options: &load::LoadOptions,
    report_path: &std::path::Path,
    json: bool,
) -> Result<std::process::ExitCode> {
    let target = ApiTarget::from_args(args)?;
    let report = crate::deploy::block_on(async {
        let api = resolve(&target).await?;
        eprintln!(
            "load: {} at {}/s for {:?}, mix {:?} ...",
            api.name, options.rate, options.duration, options.mix.0
        );
        load::run(&api, options).await
    })??;
    let path = crate::root().join(report_path);
    report.write(&path)?;
    if json {
        print_json(&report)?;
    } else {
        for l in report.lines() {
            println!("{l}");
        }
    }
    eprintln!("report: {}", path.display());
    Ok(std::process::ExitCode::SUCCESS)
}

/// `cargo xtask soak`: against `args`' API, or (none given) a local system of its own with
/// `options.faults`. Exit 3 when an invariant broke.
pub fn soak_cli(
    args: xtask::cli::ApiArgs,
    options: &soak::SoakOptions,
    json: bool,
) -> Result<std::process::ExitCode> {
    let own = args.env.is_none() && args.url.is_none() && !args.aws.local;
    let report = if own {
        soak_own(options)?
    } else {
        let target = ApiTarget::from_args(args)?;
        crate::deploy::block_on(async {
            let api = resolve(&target).await?;
            eprintln!(
                "soak: {} for {:?} at {}/s ...",
                api.name, options.duration, options.rate
            );
            let run = soak::run(&api, options, None).await?;
            let mut report = run.report;
            report.violations.extend(invariants::violations(&run.observed));
            let placed: Vec<cleanup::PlacedOrder> = run
                .observed
                .orders
                .iter()
                .map(|o| cleanup::PlacedOrder {
                    scenario: "soak",
                    order_id: o.order_id.clone(),
                    status: Some(o.status.as_str().to_owned()),
                })
                .collect();
            let c = cleanup::clean_up(api.tables.as_ref(), &run.skus, &placed, "soak").await;
            for left in c.left {
                eprintln!("left: {left}");
            }
            Ok::<_, anyhow::Error>(report)
        })??
    };
    if json {
        print_json(&report)?;
    } else {
        for l in report.lines() {
            println!("{l}");
        }
    }
    Ok(std::process::ExitCode::from(if report.violations.is_empty() {
        crate::deploy::exit::OK
    } else {
        crate::deploy::exit::FAILED
    }))
}

/// The soak on a local system of its own (a fresh emulator on a free port, no throttle), with
/// the faults; its lines go to target/soak/functions.log.
pub fn soak_own(options: &soak::SoakOptions) -> Result<soak::SoakReport> {
    let log_path = crate::root().join("target").join("soak").join("functions.log");
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = std::sync::Mutex::new(
        std::fs::File::create(&log_path).with_context(|| format!("cannot write {}", log_path.display()))?,
    );
    let log: crate::runtime_api::LogSink = std::sync::Arc::new(move |source: &str, line: &str| {
        if let Ok(mut f) = file.lock() {
            use std::io::Write as _;
            let _ = writeln!(f, "[{source}] {line}");
        }
    });
    eprintln!(
        "soak: starting a local system of its own (faults: {}; log: {}) ...",
        options.faults,
        log_path.display()
    );
    let system = crate::dev::DevSystem::start(crate::dev::DevOptions {
        port: 0,
        moto_port: 0,
        throttle: false,
        faults: options.faults.clone(),
        log,
        progress: std::sync::Arc::new(|_: &str| {}),
        ..crate::dev::DevOptions::new()
    })?;
    soak_on(&system, options)
}

/// The soak against a running [`crate::dev::DevSystem`] (the fault tests use it too): the run,
/// the poison's end, memory, the faults' counts and the invariants.
pub fn soak_on(system: &crate::dev::DevSystem, options: &soak::SoakOptions) -> Result<soak::SoakReport> {
    let me = std::process::id();
    let memory_start = soak::memory_of_tree(me);
    let faults = system
        .faults()
        .context("the local system has no fault injector")?;
    let api = Api {
        client: ApiClient::new(&system.url, &system.api_key)?,
        name: format!("the soak's local system at {}", system.url),
        tables: None,
        env: Some(Env::Dev),
    };
    eprintln!(
        "soak: {} for {:?} at {}/s ...",
        api.name, options.duration, options.rate
    );
    let view = soak::FaultView {
        spec: &faults.spec,
        injected: &faults.injected,
    };
    let run = crate::deploy::block_on(soak::run(&api, options, Some(&view)))??;
    let mut observed = run.observed;
    let mut report = run.report;
    if options.faults.poison.is_some() {
        let aws = crate::dev::http::Aws::new(&system.moto_endpoint)?;
        observed.poison = Some(crate::dev::faults::poison_check(
            &aws,
            &system.outputs,
            &faults.injected,
            Instant::now() + Duration::from_secs(60),
        )?);
    }
    report.memory_start = memory_start;
    report.memory_end = soak::memory_of_tree(me);
    report.fault_counts = Some(faults.injected.counts());
    report.violations.extend(invariants::violations(&observed));
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(env: Option<Env>, url: Option<&str>, key: Option<&str>, local: bool) -> xtask::cli::ApiArgs {
        xtask::cli::ApiArgs {
            env,
            url: url.map(str::to_owned),
            api_key: key.map(str::to_owned),
            aws: xtask::cli::AwsArgs {
                local,
                ..xtask::cli::AwsArgs::default()
            },
        }
    }

    #[test]
    fn exactly_one_api_is_named() {
        assert!(
            matches!(ApiTarget::from_args(args(Some(Env::Dev), None, None, false)), Ok(ApiTarget::Deployed(t)) if t.stack == "orders-dev")
        );
        assert!(matches!(
            ApiTarget::from_args(args(None, Some("http://127.0.0.1:3000"), Some("k"), false)),
            Ok(ApiTarget::Url { .. })
        ));
        assert!(matches!(
            ApiTarget::from_args(args(None, None, None, true)),
            Ok(ApiTarget::Local)
        ));
        let none = ApiTarget::from_args(args(None, None, None, false))
            .unwrap_err()
            .to_string();
        assert!(none.contains("--env E") && none.contains("--local"), "{none}");
        let no_key = ApiTarget::from_args(args(None, Some("http://x"), None, false))
            .unwrap_err()
            .to_string();
        assert!(no_key.contains("cargo xtask api-key"), "{no_key}");
        let two = ApiTarget::from_args(args(Some(Env::Dev), None, None, true))
            .unwrap_err()
            .to_string();
        assert!(two.contains("only one"), "{two}");
    }

    #[test]
    fn the_command_line_refuses_two_apis_before_running() {
        use clap::Parser as _;
        let parse = |a: &[&str]| xtask::cli::Cli::try_parse_from([&["cargo xtask", "test-api"], a].concat());
        assert!(parse(&["--env", "dev", "--local"]).is_err());
        assert!(
            parse(&["--url", "http://127.0.0.1:3000"]).is_err(),
            "--url needs --api-key"
        );
        assert!(parse(&["--local"]).is_ok());
    }

    #[test]
    fn the_local_state_says_whether_its_api_throttles_and_an_older_file_does() {
        let state = LocalState {
            url: "http://127.0.0.1:3000".into(),
            api_key: "k".into(),
            moto_endpoint: "http://127.0.0.1:5000".into(),
            lambda_endpoint: "http://127.0.0.1:3001".into(),
            pid: 7,
            log_file: "target/dev/functions.log".into(),
            throttled: false,
        };
        let text = serde_json::to_string(&state).expect("serializes");
        assert!(text.contains(r#""throttled":false"#), "{text}");
        assert_eq!(serde_json::from_str::<LocalState>(&text).ok(), Some(state));
        // What `cargo xtask dev` wrote before it said: its API throttled.
        let older = text.replace(r#","throttled":false"#, "");
        let read: LocalState = serde_json::from_str(&older).expect("an older file reads");
        assert!(read.throttled);
        // Unthrottled, `load --local` has no usage plan to keep to.
        assert_eq!(read.usage_plan(), Some(Env::Dev));
        assert!(load::check_usage_plan(read.usage_plan(), 300.0, 9000, false).is_err());
        let unthrottled = LocalState {
            throttled: false,
            ..read
        };
        assert_eq!(unthrottled.usage_plan(), None);
        assert!(load::check_usage_plan(unthrottled.usage_plan(), 300.0, 9000, false).is_ok());
    }
}
