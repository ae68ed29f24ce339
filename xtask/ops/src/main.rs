//! `xtask-ops`: the commands of `cargo xtask` that need the AWS SDK or the local cloud. `cargo xtask` runs it with its own arguments; the command line is
//! [`xtask::cli`], the same types, so both binaries agree on it.

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use xtask::cli::{Cli, Cmd};
use xtask_ops::bench;

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Cmd) -> Result<ExitCode> {
    match command {
        // `cargo xtask bench` (no flag) measures synthesis in the light binary, then hands the
        // rest here with no flag either: both the artifacts and the local system.
        Cmd::Bench { dev, artifacts, .. } => {
            if artifacts || !dev {
                bench::lambda_artifacts()?;
            }
            if dev || !artifacts {
                bench::dev_api()?;
            }
        }
        Cmd::Deploy(cmd) => return xtask_ops::deploy::cli::run(cmd),
        Cmd::Dev {
            port,
            api_key,
            moto_port,
            no_throttle,
            wait_scale,
            smoke,
            watch,
            faults,
        } => {
            let mode = if smoke {
                xtask_ops::dev::Mode::Smoke
            } else if watch {
                xtask_ops::dev::Mode::Watch
            } else {
                xtask_ops::dev::Mode::Serve
            };
            return xtask_ops::dev::cli(port, api_key, moto_port, !no_throttle, wait_scale, mode, faults);
        }
        Cmd::TestApi {
            api,
            order_timeout,
            keep,
            json,
        } => return xtask_ops::live::test_api_cli(api, &order_timeout, keep, json),
        Cmd::Load {
            api,
            rate,
            duration,
            mix,
            report,
            ignore_usage_plan,
            keep,
            json,
        } => {
            let options = xtask_ops::live::load::LoadOptions {
                rate,
                duration: xtask_ops::deploy::logs::parse_duration("--duration", &duration)?,
                mix: mix.parse()?,
                ignore_usage_plan,
                keep,
            };
            return xtask_ops::live::load_cli(api, &options, &report, json);
        }
        Cmd::Soak {
            api,
            duration,
            rate,
            faults,
            settle,
            json,
        } => {
            let options = xtask_ops::live::soak::SoakOptions {
                duration: xtask_ops::deploy::logs::parse_duration("--duration", &duration)?,
                rate,
                faults,
                settle: xtask_ops::deploy::logs::parse_duration("--settle", &settle)?,
            };
            anyhow::ensure!(
                rate > 0.0 && rate <= 200.0,
                "--rate {rate}: give orders per second above 0 and at most 200"
            );
            return xtask_ops::live::soak_cli(api, &options, json);
        }
        light => return xtask::run(light),
    }
    Ok(ExitCode::SUCCESS)
}
