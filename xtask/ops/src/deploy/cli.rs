//! The deploy commands' arguments (flattened into `cargo xtask`'s command list) and how each
//! runs. Exit codes: see [`super::exit`].

use std::process::ExitCode;

use anyhow::{Context, Result};
use serde::Serialize;
pub use xtask::cli::{AwsArgs, DeployCommand as Commands, Envs, PlanArgs, env_arg, envs_arg};

use super::{
    AwsSettings, DeployOptions, DeployTarget, LocalUpdates, OutputMode, artifacts_for_deploy, block_on,
};
use crate::{moto, tools};

/// The settings of `--region`, `--profile`, `--endpoint-url`, or `--local`: the emulator of
/// the running `cargo xtask dev`, which holds the dev stack.
pub fn settings(env: infra_model::Env, a: AwsArgs) -> Result<AwsSettings> {
    if !a.local {
        return Ok(a.into());
    }
    if env != infra_model::Env::Dev {
        anyhow::bail!(
            "--local is the system `cargo xtask dev` runs, which holds the dev stack: use --env dev --local"
        );
    }
    let state = crate::live::LocalState::read()?;
    Ok(AwsSettings {
        endpoint_url: Some(state.moto_endpoint),
        ..a.into()
    })
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
        Commands::Deploy {
            plan,
            yes,
            recreate,
            hotswap,
        } => {
            if hotswap {
                super::hotswap::refuse(plan.env)?;
            }
            let artifacts = artifacts_for_deploy(plan.artifacts.as_deref())?;
            let target = DeployTarget::new(plan.env, settings(plan.env, plan.aws)?);
            if hotswap {
                let report = block_on(async {
                    let aws = super::Aws::connect(&target.aws).await?;
                    super::hotswap::hotswap(&aws, &target, &artifacts, plan.artifacts_bucket.as_deref()).await
                })??;
                if report.fallback.is_none() {
                    if plan.json {
                        print_json(&report)?;
                    } else {
                        for l in report.lines() {
                            eprintln!("{l}");
                        }
                    }
                    return Ok(ExitCode::from(super::exit::OK));
                }
                for l in report.lines() {
                    eprintln!("{l}");
                }
            }
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
            let target = DeployTarget::new(plan.env, settings(plan.env, plan.aws)?);
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
            let target = DeployTarget::new(env, settings(env, aws)?);
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
            let target = DeployTarget::new(env, settings(env, aws)?);
            let report = block_on(super::outputs(&target))??;
            if json {
                print_json(&report.info.as_ref().map(|i| &i.outputs))?;
            } else {
                print_lines(report.output_lines());
            }
            report.exit_code()
        }
        Commands::Status { env, aws, json } => {
            let target = DeployTarget::new(env, settings(env, aws)?);
            let report = block_on(super::status(&target))??;
            if json {
                print_json(&report)?;
            } else {
                print_lines(report.status_lines());
            }
            report.exit_code()
        }
        Commands::ApiKey { aws, json, .. } if aws.local => {
            let state = crate::live::LocalState::read()?;
            if json {
                print_json(&serde_json::json!({"stack": "local", "value": state.api_key, "url": state.url}))?;
            } else {
                print_lines([&state.api_key]);
                eprintln!(
                    "curl -H 'x-api-key: {}' {}/orders?status=PENDING",
                    state.api_key, state.url
                );
            }
            super::exit::OK
        }
        Commands::ApiKey { env, aws, json } => {
            let target = DeployTarget::new(env, settings(env, aws)?);
            let report = block_on(super::apikey::api_key(&target))??;
            if json {
                print_json(&report)?;
            } else {
                print_lines([&report.value]);
                eprintln!("{}", report.curl_hint());
            }
            super::exit::OK
        }
        Commands::Dlq {
            env,
            aws,
            queue,
            show,
            redrive,
            yes,
            json,
        } => {
            let target = DeployTarget::new(env, settings(env, aws)?);
            if redrive {
                let console = super::console::Console::new(mode(json));
                let question = format!(
                    "Move the dead letters of {} back to their source queues?",
                    target.stack
                );
                let options = DeployOptions {
                    yes,
                    ..DeployOptions::default()
                };
                if !super::run::confirmed(env, &options, &question, &console)? {
                    return Ok(ExitCode::from(super::exit::NOT_CONFIRMED));
                }
            }
            let options = super::dlq::DlqOptions { queue, show, redrive };
            let report = block_on(super::dlq::dlq(&target, &options))??;
            if json {
                print_json(&report)?;
            } else {
                print_lines(report.lines());
            }
            super::exit::OK
        }
        Commands::Invoke {
            env,
            aws,
            function,
            event,
            json,
        } => {
            let report = match env {
                Some(env) if !aws.local => {
                    let target = DeployTarget::new(env, settings(env, aws)?);
                    block_on(super::invoke::invoke(&target, &function, event.as_deref()))??
                }
                _ => block_on(super::invoke::invoke_local(&function, event.as_deref()))??,
            };
            if json {
                print_json(&report)?;
            } else {
                print_lines([serde_json::to_string_pretty(&report.response).unwrap_or_default()]);
                eprintln!(
                    "--- log tail of {} ---\n{}",
                    report.function_name,
                    report.log_tail.trim_end()
                );
            }
            if report.function_error.is_some() {
                super::exit::FAILED
            } else {
                super::exit::OK
            }
        }
        Commands::Logs {
            env,
            aws,
            functions,
            order,
            since,
            follow,
            json,
        } => {
            let options = super::logs::LogsOptions {
                functions,
                order,
                since: super::logs::parse_since(&since)?,
            };
            let printed = match env {
                Some(env) if !aws.local => {
                    let target = DeployTarget::new(env, settings(env, aws)?);
                    block_on(super::logs::logs(&target, &options, follow, json))??
                }
                _ => block_on(super::logs::local_logs(&options, follow, json))??,
            };
            if printed == 0 && !json {
                eprintln!("no log lines in the last {since}");
            }
            super::exit::OK
        }
        Commands::SeedInventory { env, aws, json } => {
            let target = DeployTarget::new(env, settings(env, aws)?);
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
