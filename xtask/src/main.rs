//! `cargo xtask <command>`: the project's developer CLI. Run it bare for the list of commands.
//! Synthesis, lint, scan and CI run here; the commands that need the AWS SDK, the local cloud
//! or the cross build run in `xtask-ops`, which this binary starts (built on first use).

use std::process::ExitCode;

use clap::Parser;
use xtask::cli::Cli;

/// mimalloc: about a quarter of `synth`'s time was the system allocator's (perf record).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match xtask::run(Cli::parse().command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
