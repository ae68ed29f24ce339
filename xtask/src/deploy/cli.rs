//! The deploy commands' arguments (flattened into `cargo xtask`'s command list) and how each
//! runs. Exit codes: see [`super::exit`].

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::builder::TypedValueParser as _;
use clap::{Args, Subcommand};
use infra_model::Env;
use serde::Serialize;

use super::{
    AwsSettings, DeployOptions, DeployTarget, LocalUpdates, OutputMode, artifacts_for_deploy, block_on,
};
use crate::{moto, tools};

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
}

impl From<AwsArgs> for AwsSettings {
    fn from(a: AwsArgs) -> AwsSettings {
        AwsSettings {
            region: a.region,
            profile: a.profile,
            endpoint_url: a.endpoint_url,
        }
    }
}

/// `--env`: one of the model's environments, by the names `Env::ALL` gives them (no copy of
/// the list here).
pub fn env_arg() -> impl clap::builder::TypedValueParser<Value = Env> {
    clap::builder::PossibleValuesParser::new(Env::ALL.map(Env::name)).map(|name| {
        name.parse::<Env>()
            .expect("PossibleValuesParser admits only Env::ALL's names")
    })
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
pub enum Commands {
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

fn mode(json: bool) -> OutputMode {
    if json { OutputMode::Json } else { OutputMode::Text }
}

fn print_json<T: Serialize>(report: &T) -> Result<()> {
    print_lines([serde_json::to_string_pretty(report).context("cannot write the report as JSON")?]);
    Ok(())
}

/// Lines on stdout; a closed pipe (`| head`) is not an error.
fn print_lines<I: IntoIterator<Item = S>, S: std::fmt::Display>(lines: I) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for l in lines {
        if writeln!(out, "{l}").is_err() {
            return;
        }
    }
}

/// Runs one deploy command; the exit code says how it ended ([`super::exit`]).
pub fn run(cmd: Commands) -> Result<ExitCode> {
    let code = match cmd {
        Commands::Deploy { plan, yes, recreate } => {
            let artifacts = artifacts_for_deploy(plan.artifacts.as_deref())?;
            let target = DeployTarget::new(plan.env, plan.aws.into());
            let options = DeployOptions {
                yes,
                artifacts_bucket: plan.artifacts_bucket,
                alarm_email: plan.alarm_email,
                local_updates: if recreate {
                    LocalUpdates::Recreate
                } else {
                    LocalUpdates::Refuse
                },
                output: mode(plan.json),
                emulator_log: None,
            };
            let report = block_on(super::deploy(&target, &options, &artifacts))??;
            if plan.json {
                print_json(&report)?;
            }
            report.exit_code()
        }
        Commands::Diff { plan, fail } => {
            let artifacts = artifacts_for_deploy(plan.artifacts.as_deref())?;
            let target = DeployTarget::new(plan.env, plan.aws.into());
            let options = DeployOptions {
                artifacts_bucket: plan.artifacts_bucket,
                alarm_email: plan.alarm_email,
                output: mode(plan.json),
                ..DeployOptions::default()
            };
            let report = block_on(super::diff(&target, &options, &artifacts))??;
            if plan.json {
                print_json(&report)?;
            }
            report.exit_code(fail)
        }
        Commands::Destroy { env, aws, yes, json } => {
            let target = DeployTarget::new(env, aws.into());
            let options = DeployOptions {
                yes,
                output: mode(json),
                ..DeployOptions::default()
            };
            let report = block_on(super::destroy(&target, &options))??;
            if json {
                print_json(&report)?;
            }
            report.exit_code()
        }
        Commands::Outputs { env, aws, json } => {
            let target = DeployTarget::new(env, aws.into());
            let report = block_on(super::status(&target))??;
            if json {
                print_json(&report.info.as_ref().map(|i| &i.outputs))?;
            } else {
                print_lines(report.output_lines());
            }
            report.exit_code()
        }
        Commands::Status { env, aws, json } => {
            let target = DeployTarget::new(env, aws.into());
            let report = block_on(super::status(&target))??;
            if json {
                print_json(&report)?;
            } else {
                print_lines(report.status_lines());
            }
            report.exit_code()
        }
        Commands::SeedInventory { env, aws, json } => {
            let target = DeployTarget::new(env, aws.into());
            let report = block_on(super::seed::seed_inventory(&target, mode(json)))??;
            if json {
                print_json(&report)?;
            }
            super::exit::OK
        }
        Commands::Moto { port } => {
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                anyhow::bail!(
                    "port {port} is taken: pass --port with a free one (for example --port {})",
                    moto::free_port()?
                );
            }
            let mut cmd = tools::moto_command("127.0.0.1", port)?;
            eprintln!(
                "moto server on http://127.0.0.1:{port} (Ctrl-C stops it; its state is in memory only)\n\
                 use it with: cargo xtask deploy --env dev --endpoint-url http://127.0.0.1:{port}"
            );
            let status = cmd.status().context("cannot start moto server")?;
            if status.success() {
                super::exit::OK
            } else {
                super::exit::ERROR
            }
        }
    };
    Ok(ExitCode::from(code))
}
