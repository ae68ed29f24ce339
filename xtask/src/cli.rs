//! `cargo xtask`'s command line, declared once: the light binary (`xtask`) parses it to run
//! synthesis, lint, scan and CI itself, and hands every other command, with the same arguments,
//! to `xtask-ops` (the AWS SDK, the local cloud, the cross build), which parses it again with
//! these same types. So `cargo xtask --help` lists every command and a mistyped argument is
//! refused before anything heavy compiles.

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand};
use infra_model::Env;

pub use crate::faults::FaultSpec;

/// The local API's port in `cargo xtask dev`: the OpenAPI document's local server.
pub const DEFAULT_PORT: u16 = infra_model::system::openapi::LOCAL_PORT;
/// moto's port in `cargo xtask dev` (a moto already answering there is reused).
pub const DEFAULT_MOTO_PORT: u16 = 5000;
/// The factor `cargo xtask dev` applies to every wait (retry intervals, visibility timeout).
pub const DEFAULT_WAIT_SCALE: f64 = 0.01;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Synthesize, lint and measure the order system",
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Synthesize the CloudFormation templates and the API's OpenAPI documents (no AWS account,
    /// network or compiled function needed).
    Synth {
        /// The environment(s) to synthesize.
        #[arg(long, value_parser = envs_arg(), default_value = "all")]
        env: Envs,
        /// Where to write `<stack>.template.yaml` (and `.json`) and `<stack>.openapi.json`.
        #[arg(long, default_value = "target/synth")]
        out: PathBuf,
        /// Which template files to write (the OpenAPI documents are JSON).
        #[arg(long, value_enum, default_value = "yaml")]
        format: crate::synth::Format,
        /// Print one environment's YAML instead of writing files.
        #[arg(long, conflicts_with_all = ["check", "out", "format"])]
        stdout: bool,
        /// Fail if a template or an OpenAPI document differs from its committed snapshot under
        /// snapshots/.
        #[arg(long)]
        check: bool,
        /// The snapshots folder `--check` compares with.
        #[arg(long, default_value = "snapshots", requires = "check")]
        snapshots: PathBuf,
    },
    /// Run cfn-lint (installed on first use into .tools/) on the synthesized templates.
    Lint {
        #[arg(long, value_parser = envs_arg(), default_value = "all")]
        env: Envs,
    },
    /// Build the functions' Lambda zips (release, provided.al2023) into target/lambda/<function>/.
    Build {
        /// The instruction set.
        #[arg(long, value_enum, default_value = "arm64")]
        arch: Arch,
        /// Only this function (repeatable); all functions when absent.
        #[arg(long = "function", value_name = "NAME")]
        functions: Vec<String>,
        /// Only warnings and errors from cargo.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Measure synthesis, the Lambda artifacts (sizes, start-up, build times) and the local
    /// system (start-up, request latency and throughput), and print the figures the README quotes.
    Bench {
        /// Only the local system's figures (`cargo xtask dev`: start-up, request latency and
        /// throughput under load).
        #[arg(long, conflicts_with_all = ["synth", "artifacts"])]
        dev: bool,
        /// Only synthesis's figures (in process, and the command as typed).
        #[arg(long, conflicts_with = "artifacts")]
        synth: bool,
        /// Only the Lambda artifacts' figures.
        #[arg(long)]
        artifacts: bool,
        /// A CDK app of the same system (a folder with `cdk.json` and its `node_modules`):
        /// `cdk synth` is timed in the same run and the ratio printed.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["dev", "artifacts"])]
        vs_cdk: Option<PathBuf>,
        /// With the synthesis figures, the build-time ones: the first `cargo xtask synth` into
        /// an empty target folder, and a model edit (a file of infra-model touched) until its
        /// tests and `cargo xtask synth` have run. About a minute of compiling.
        #[arg(long, conflicts_with_all = ["dev", "artifacts"])]
        cold: bool,
    },
    /// Install the project's pinned tools into .tools/ (or $ORDERS_TOOLS_DIR) and print where they are.
    Tools,
    /// Run what the CI pipeline runs: format, clippy, tests, snapshots, cfn-lint, workflows, security scan, arm64 build.
    Ci,
    /// Check the GitHub Actions workflows in .github/workflows/ with actionlint.
    LintWorkflows,
    /// Scan the synthesized templates and their IAM policies with checkov (installed on first
    /// use into .tools/): every finding is fixed or suppressed in its resource's metadata.
    Scan,
    /// The whole system locally: moto, the dev stack, the functions, the event sources, the
    /// workflow and the REST API on 127.0.0.1 (no Docker, no AWS account).
    Dev {
        /// The API's port.
        #[arg(long, default_value_t = DEFAULT_PORT)]
        port: u16,
        /// The API key (generated and printed when absent).
        #[arg(long, value_name = "KEY")]
        api_key: Option<String>,
        /// moto's port; a moto already answering there is reused (0: a fresh one on a free port).
        #[arg(long, default_value_t = DEFAULT_MOTO_PORT)]
        moto_port: u16,
        /// Turn off the usage plan's and the stage's throttling (for load tests).
        #[arg(long)]
        no_throttle: bool,
        /// The factor on every wait (retry intervals, visibility timeout); 1 = as deployed.
        #[arg(long, default_value_t = DEFAULT_WAIT_SCALE)]
        wait_scale: f64,
        /// Run one order through, print the result and exit.
        #[arg(long)]
        smoke: bool,
        /// On a saved change under functions/, rebuild the affected functions and restart only
        /// their sandboxes (tables, queues and moto stay); a change under infra-model/ is
        /// reported as needing a restart.
        #[arg(long, conflicts_with = "smoke")]
        watch: bool,
        /// Faults to inject while it runs: kill=2s, kill-api=10s, hang=20s, aws-errors=10%,
        /// aws-stall=5%:3s, outage=10s/20s, duplicates=10%, poison=15s, or all (README,
        /// "Guarantees").
        #[arg(long, value_name = "SPEC", default_value = "none", value_parser = faults_arg())]
        faults: FaultSpec,
    },
    /// Run the end-to-end scenarios against a live API: happy path to SHIPPED, over-stock
    /// rejection, declined payment, missing key 403, validation 400s, unknown order 404, a race
    /// for the last units, an idempotent retry, listing by customer and status. Uses SKUs of its
    /// own and deletes them afterwards; prints a table of checks. Exit 3 when a check failed.
    TestApi {
        #[command(flatten)]
        api: ApiArgs,
        /// How long an order may take to reach its final status.
        #[arg(long, default_value = "120s", value_name = "DURATION")]
        order_timeout: String,
        /// Leave the run's SKUs and orders in the tables.
        #[arg(long)]
        keep: bool,
        #[arg(long)]
        json: bool,
    },
    /// An open-loop load test of a live API: a fixed arrival rate, a mix of routes, latency
    /// percentiles per route, statuses, throughput and a histogram; the report in Markdown or
    /// HTML (with a plot). Stays within the usage plan unless told not to.
    Load {
        #[command(flatten)]
        api: ApiArgs,
        /// Requests per second.
        #[arg(long, default_value_t = 5.0)]
        rate: f64,
        /// How long: 30s, 2m.
        #[arg(long, default_value = "30s", value_name = "DURATION")]
        duration: String,
        /// The routes' weights: create, get, list, stock, health.
        #[arg(long, default_value = "create=1,get=3,list=1")]
        mix: String,
        /// Where to write the report (`.html` for a page with a plot, else Markdown).
        #[arg(long, value_name = "FILE", default_value = "target/load/report.md")]
        report: PathBuf,
        /// Go above the usage plan's rate or daily quota (the API answers 429 past them).
        #[arg(long)]
        ignore_usage_plan: bool,
        /// Leave the run's SKU and orders in the tables.
        #[arg(long)]
        keep: bool,
        #[arg(long)]
        json: bool,
    },
    /// A soak: orders of every path (plain, +decline, +flaky, +down, +noship, +shipflaky, over
    /// stock) at a steady rate, with faults injected, then the pipeline's invariants checked:
    /// every order terminal, stock conserved, nothing charged or shipped twice, every poison
    /// message in its dead-letter queue, no 5xx but 503s while AWS fails. Without --env, --url
    /// or --local it runs its own local system (a fresh emulator) with the faults. Exit 3 when an
    /// invariant broke.
    Soak {
        #[command(flatten)]
        api: ApiArgs,
        /// How long orders are placed: 10m, 90s.
        #[arg(long, default_value = "10m", value_name = "DURATION")]
        duration: String,
        /// Orders per second.
        #[arg(long, default_value_t = 2.0)]
        rate: f64,
        /// The faults the soak's own local system injects (see `cargo xtask dev --faults`).
        #[arg(long, value_name = "SPEC", default_value = "none", value_parser = faults_arg(),
              conflicts_with_all = ["env", "url", "local"])]
        faults: FaultSpec,
        /// How long, after the last order is placed, every order has to reach its final status.
        #[arg(long, default_value = "2m", value_name = "DURATION")]
        settle: String,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// deploy, diff, destroy, outputs, status, seed-inventory, moto (see xtask_ops::deploy).
    #[command(flatten)]
    Deploy(DeployCommand),
}

impl Cmd {
    /// Whether the command runs in `xtask-ops` (it needs the AWS SDK, the local cloud or the
    /// cross build); the others run in the light binary.
    pub fn runs_in_ops(&self) -> bool {
        match self {
            Cmd::Dev { .. } | Cmd::Deploy(_) | Cmd::TestApi { .. } | Cmd::Load { .. } | Cmd::Soak { .. } => {
                true
            }
            Cmd::Bench { dev, artifacts, .. } => *dev || *artifacts,
            Cmd::Synth { .. }
            | Cmd::Build { .. }
            | Cmd::Lint { .. }
            | Cmd::Tools
            | Cmd::Ci
            | Cmd::LintWorkflows
            | Cmd::Scan => false,
        }
    }
}

/// A Lambda instruction set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Arch {
    /// Graviton: `aarch64-unknown-linux-gnu`. What ships.
    #[default]
    Arm64,
    /// `x86_64-unknown-linux-gnu`.
    #[value(name = "x86_64")]
    X86_64,
}

impl Arch {
    /// The name Lambda gives it (`Architectures` of a function).
    pub fn lambda_name(self) -> &'static str {
        match self {
            Arch::Arm64 => "arm64",
            Arch::X86_64 => "x86_64",
        }
    }

    /// The Rust target triple.
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
        }
    }

    /// Parses `arm64` / `aarch64` / `x86_64` / `amd64`.
    pub fn parse(s: &str) -> Option<Arch> {
        match s {
            "arm64" | "aarch64" => Some(Arch::Arm64),
            "x86_64" | "x86-64" | "amd64" => Some(Arch::X86_64),
            _ => None,
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.lambda_name())
    }
}

/// `--region`, `--profile`, `--endpoint-url`: every deploy command takes them.
#[derive(Args, Clone, Debug, Default)]
pub struct AwsArgs {
    /// The AWS region (default: AWS_REGION, or the profile's region; us-east-1 for a local endpoint).
    #[arg(long)]
    pub region: Option<String>,
    /// The AWS profile (default: AWS_PROFILE, or `default`). SSO profiles work after `aws sso login`.
    #[arg(long)]
    pub profile: Option<String>,
    /// Send every request there instead of AWS (`http://127.0.0.1:5000` for `cargo xtask moto`).
    /// A loopback endpoint gets the local profile: see the README's "Deploying" section.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The local system that the running `cargo xtask dev` holds (found through
    /// target/dev/local.json): its emulator for the stack commands (with --env dev), its API for
    /// test-api and load, its log for logs, its functions for invoke, its key for api-key.
    #[arg(long, conflicts_with = "endpoint_url")]
    pub local: bool,
}

/// Which live API `test-api` and `load` call: one of `--env` (a deployed environment),
/// `--url` with `--api-key`, or `--local` (the running `cargo xtask dev`).
#[derive(Args, Clone, Debug, Default)]
pub struct ApiArgs {
    /// A deployed environment: its ApiUrl output, and its key read from API Gateway.
    #[arg(long, value_parser = env_arg(), conflicts_with_all = ["url", "local"])]
    pub env: Option<Env>,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The API's base URL (with the stage), such as the ApiUrl output.
    #[arg(long, value_name = "URL", requires = "api_key", conflicts_with = "local")]
    pub url: Option<String>,
    /// The key for --url (`cargo xtask api-key --env E` prints it).
    #[arg(long, value_name = "KEY", requires = "url")]
    pub api_key: Option<String>,
}

/// `--env`: one of the model's environments, by the names `Env::ALL` gives them (no copy of
/// the list here).
pub fn env_arg() -> impl clap::builder::TypedValueParser<Value = Env> {
    clap::builder::PossibleValuesParser::new(Env::ALL.map(Env::name)).map(|name| {
        name.parse::<Env>()
            .expect("PossibleValuesParser admits only Env::ALL's names")
    })
}

/// `--faults`: a [`FaultSpec`], refused with what to write when it does not parse.
pub fn faults_arg() -> impl clap::builder::TypedValueParser<Value = FaultSpec> {
    clap::builder::NonEmptyStringValueParser::new().try_map(|s| s.parse::<FaultSpec>())
}

/// The environments of `--env all` or `--env <one>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envs(pub Vec<Env>);

/// `--env` of the commands that take several: one environment's name, or `all`.
pub fn envs_arg() -> impl clap::builder::TypedValueParser<Value = Envs> {
    clap::builder::PossibleValuesParser::new(Env::ALL.map(Env::name).into_iter().chain(["all"])).map(|name| {
        Envs(if name == "all" {
            Env::ALL.to_vec()
        } else {
            vec![
                name.parse::<Env>()
                    .expect("PossibleValuesParser admits only Env::ALL's names"),
            ]
        })
    })
}

/// What deploy and diff share.
#[derive(Args, Clone, Debug)]
pub struct PlanArgs {
    /// The environment: the stack is `orders-<env>`.
    #[arg(long, value_parser = env_arg())]
    pub env: Env,
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Use the zips in DIR/<function>/bootstrap.zip instead of building them.
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
    /// The artifacts bucket (default `orders-artifacts-<account>-<region>`, created on first use).
    #[arg(long, value_name = "NAME")]
    pub artifacts_bucket: Option<String>,
    /// Where alarms send e-mail (the AlarmEmail parameter); without it the deployed value stays.
    #[arg(long, value_name = "ADDRESS")]
    pub alarm_email: Option<String>,
    /// Print the report as JSON on stdout (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// The deploy commands.
#[derive(Subcommand, Clone, Debug)]
pub enum DeployCommand {
    /// Build, upload and deploy a stack through a CloudFormation change set, showing the diff
    /// and the progress; `No changes` when there are none. Prod asks first.
    Deploy {
        #[command(flatten)]
        plan: PlanArgs,
        /// Do not ask for confirmation (prod needs it without a terminal, or with CI=true).
        #[arg(long)]
        yes: bool,
        /// Local endpoint only: when moto cannot apply an update (a table, a log group, ...),
        /// delete the local stack and create it again instead of refusing.
        #[arg(long)]
        recreate: bool,
        /// When only function code changed, update those functions' code directly
        /// (UpdateFunctionCode, seconds) instead of a change set; the stack drifts until the next
        /// full deploy. Anything else falls back to a change set. Refused for prod.
        #[arg(long, conflicts_with = "recreate")]
        hotswap: bool,
    },
    /// Show what deploy would change (the same change set, deleted afterwards).
    Diff {
        #[command(flatten)]
        plan: PlanArgs,
        /// Exit with code 2 when there are changes.
        #[arg(long)]
        fail: bool,
    },
    /// Delete a stack (prod asks first). Resources its policies retain are listed as kept.
    Destroy {
        #[arg(long, value_parser = env_arg())]
        env: Env,
        #[command(flatten)]
        aws: AwsArgs,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print a stack's outputs.
    Outputs {
        #[arg(long, value_parser = env_arg())]
        env: Env,
        #[command(flatten)]
        aws: AwsArgs,
        #[arg(long)]
        json: bool,
    },
    /// Print a stack's status, outputs and last events.
    Status {
        #[arg(long, value_parser = env_arg())]
        env: Env,
        #[command(flatten)]
        aws: AwsArgs,
        #[arg(long)]
        json: bool,
    },
    /// Print the API key's value (read from API Gateway; the stack outputs only its id): on
    /// stdout alone, so `KEY=$(cargo xtask api-key --env dev)` works; a curl example on stderr.
    ApiKey {
        #[arg(long, value_parser = env_arg())]
        env: Env,
        #[command(flatten)]
        aws: AwsArgs,
        #[arg(long)]
        json: bool,
    },
    /// The dead-letter queues and failure destinations (from the model): depth and oldest age;
    /// `--show N` prints messages without consuming them; `--redrive` moves a dead-letter
    /// queue's messages back to its source queue (prod asks first).
    Dlq {
        #[arg(long, value_parser = env_arg())]
        env: Env,
        #[command(flatten)]
        aws: AwsArgs,
        /// Only this queue (its short name, such as `order-events-dlq`, or logical id).
        #[arg(long, value_name = "NAME")]
        queue: Option<String>,
        /// Print up to N messages of each queue (they stay in the queue).
        #[arg(long, value_name = "N", default_value_t = 0)]
        show: usize,
        /// Move the messages back to their source queue.
        #[arg(long)]
        redrive: bool,
        /// Do not ask for confirmation (prod).
        #[arg(long, requires = "redrive")]
        yes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Invoke one deployed function with an event (by default the real event fixture of its
    /// trigger, from functions/test-support/fixtures) and print its response (stdout) and the
    /// tail of its log (stderr). Exit 3 when the function failed.
    Invoke {
        #[arg(long, value_parser = env_arg(), required_unless_present = "local", conflicts_with = "local")]
        env: Option<Env>,
        #[command(flatten)]
        aws: AwsArgs,
        /// The function (`orders-api`, `payment`, ...).
        function: String,
        /// The event, a JSON file.
        #[arg(long, value_name = "FILE")]
        event: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The functions' and the workflow's CloudWatch logs, merged in time order: time, function,
    /// level, message.
    Logs {
        #[arg(long, value_parser = env_arg(), required_unless_present = "local", conflicts_with = "local")]
        env: Option<Env>,
        #[command(flatten)]
        aws: AwsArgs,
        /// Only this function's log (repeatable).
        #[arg(long = "function", value_name = "NAME")]
        functions: Vec<String>,
        /// Only the lines that carry this order id, across every function.
        #[arg(long, value_name = "ID")]
        order: Option<String>,
        /// How far back: 90s, 10m, 2h, 1d.
        #[arg(long, default_value = "10m")]
        since: String,
        /// Keep printing new lines (every 2 s) until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Fill a deployed stack's inventory table with sample products (laptop, mouse, keyboard, ...).
    SeedInventory {
        #[arg(long, value_parser = env_arg())]
        env: Env,
        #[command(flatten)]
        aws: AwsArgs,
        #[arg(long)]
        json: bool,
    },
    /// Run moto server (the local AWS emulator, installed into .tools/) in the foreground;
    /// point the deploy commands at it with --endpoint-url.
    Moto {
        #[arg(long, default_value_t = 5000)]
        port: u16,
    },
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn faults_are_checked_as_they_are_typed_and_only_a_local_system_takes_them() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["cargo xtask"][..], args].concat());
        let Ok(Cli {
            command: Cmd::Dev { faults, .. },
        }) = parse(&["dev", "--faults", "kill=2s,aws-errors=10%"])
        else {
            panic!("dev --faults does not parse");
        };
        assert_eq!(faults.kill, Some(std::time::Duration::from_secs(2)));
        let err = parse(&["dev", "--faults", "kil=2s"]).err().map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("unknown fault")),
            "{err:?}"
        );
        assert!(parse(&["soak", "--duration", "1m", "--faults", "all"]).is_ok());
        assert!(parse(&["soak", "--local"]).is_ok());
        assert!(parse(&["soak", "--env", "staging"]).is_ok());
        assert!(parse(&["soak", "--env", "staging", "--faults", "kill=2s"]).is_err());
        assert!(parse(&["soak", "--local", "--faults", "kill=2s"]).is_err());
    }

    #[test]
    fn what_needs_the_sdk_runs_in_ops_and_the_rest_here() {
        let cmd = |args: &[&str]| {
            Cli::try_parse_from([&["cargo xtask"][..], args].concat())
                .map(|c| c.command.runs_in_ops())
                .ok()
        };
        assert_eq!(cmd(&["bench", "--dev"]), Some(true));
        assert_eq!(cmd(&["bench", "--artifacts"]), Some(true));
        // Synthesis first, here; then xtask-ops for the rest.
        assert_eq!(cmd(&["bench"]), Some(false));
        assert_eq!(cmd(&["bench", "--synth"]), Some(false));
        assert_eq!(cmd(&["synth"]), Some(false));
        assert_eq!(cmd(&["dev"]), Some(true));
        assert_eq!(cmd(&["deploy", "--env", "dev"]), Some(true));
    }

    #[test]
    fn local_is_one_switch_for_every_command() {
        for args in [
            &["test-api", "--local"][..],
            &["load", "--local"],
            &["logs", "--local"],
            &["invoke", "--local", "health"],
            &["api-key", "--env", "dev", "--local"],
            &["dlq", "--env", "dev", "--local"],
            &["status", "--env", "dev", "--local"],
        ] {
            let all = [&["cargo xtask"][..], args].concat();
            assert!(Cli::try_parse_from(&all).is_ok(), "{args:?}");
        }
        assert!(Cli::try_parse_from(["cargo xtask", "logs", "--env", "dev", "--local"]).is_err());
        assert!(
            Cli::try_parse_from([
                "cargo xtask",
                "status",
                "--env",
                "dev",
                "--local",
                "--endpoint-url",
                "http://x"
            ])
            .is_err()
        );
    }
}
