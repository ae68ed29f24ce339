//! The project's developer commands, the light half: synthesis, lint, scan, the CI run and the
//! shared command line ([`cli`]). Nothing here compiles the AWS SDK or tokio, so a fresh
//! clone's first `cargo xtask synth` is quick; the rest is `xtask-ops` (`xtask/ops`), which
//! [`run`] hands commands to. A library so that tests call the same code.

pub mod artifact;
pub mod bench;
pub mod build;
pub mod ci;
pub mod cli;
pub mod elf;
pub mod faults;
pub mod harness;
pub mod lint;
pub mod synth;
pub mod workflows;
pub mod zip;

use std::ffi::OsStr;
use std::process::ExitCode;

#[cfg(not(unix))]
use anyhow::Context as _;
use anyhow::{Result, bail};

use crate::cli::Cmd;
/// The pinned tools, installed into the tool folder on first use.
pub use xtask_tools as tools;
pub use xtask_tools::root;

/// The package that runs the commands needing the AWS SDK, the local cloud or the cross build.
pub const OPS_PACKAGE: &str = "xtask-ops";

/// Runs one command of the light half; hands the others to `xtask-ops`.
pub fn run(command: Cmd) -> Result<ExitCode> {
    if command.runs_in_ops() {
        return ops_with_these_arguments();
    }
    let root = crate::root();
    match command {
        Cmd::Synth {
            env,
            out,
            format,
            stdout,
            check,
            snapshots,
        } => {
            let stacks = synth::synth(&env.0)?;
            if stdout {
                let [one] = stacks.as_slice() else {
                    bail!("--stdout prints one environment: add --env dev, --env staging or --env prod");
                };
                print!("{}", one.yaml);
                return Ok(ExitCode::SUCCESS);
            }
            if check {
                let snapshots = if snapshots.is_absolute() {
                    snapshots
                } else {
                    root.join(snapshots)
                };
                let stale = synth::check(&stacks, &snapshots)?;
                if stale.is_empty() {
                    println!(
                        "snapshots are up to date ({} environments), templates and OpenAPI documents",
                        stacks.len()
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                for d in &stale {
                    eprintln!("{}", d.report);
                }
                let mut tests: Vec<&str> = Vec::new();
                for (what, noun) in [
                    (synth::Generated::Template, "template(s)"),
                    (synth::Generated::OpenApi, "OpenAPI document(s)"),
                ] {
                    let n = stale.iter().filter(|s| s.what == what).count();
                    if n > 0 {
                        eprintln!("error: {n} {noun} differ from the committed snapshots.");
                        tests.push(what.snapshot_test());
                    }
                }
                eprintln!(
                    "Review the diff above; if the change is intended, run\n  \
                     INSTA_UPDATE=always cargo test -p infra-model --test {}\n\
                     and commit snapshots/.",
                    tests.join(" --test ")
                );
                return Ok(ExitCode::FAILURE);
            }
            let out = if out.is_absolute() { out } else { root.join(out) };
            synth::write(&stacks, &out, format)?;
            synth::write_openapi(&stacks, &out)?;
            // The process ends here, and the OS takes its memory back at once: freeing the
            // stacks' maps and strings one by one was about 1 ms of `synth`'s 9 (measured).
            std::mem::forget(stacks);
        }
        Cmd::Lint { env } => {
            let stacks = synth::synth(&env.0)?;
            let out = root.join("target/synth");
            let files = synth::write(&stacks, &out, synth::Format::Yaml)?;
            let report = lint::run(&files)?;
            if report.findings.is_empty() {
                println!(
                    "cfn-lint: no findings in {} template(s) (errors, warnings and informational checks)",
                    files.len()
                );
            } else {
                for f in &report.findings {
                    eprintln!("{f}");
                }
                eprintln!("error: cfn-lint reported {} finding(s)", report.findings.len());
                return Ok(ExitCode::FAILURE);
            }
        }
        Cmd::Bench {
            vs_cdk, synth, cold, ..
        } => {
            bench::synth(vs_cdk.as_deref())?;
            if cold {
                bench::build_times()?;
            }
            if !synth && vs_cdk.is_none() && !cold {
                // The artifacts' and the local system's figures need the cross build and the
                // local cloud: xtask-ops measures them (`bench` with no flag: both).
                return ops(&["bench"]);
            }
        }
        Cmd::Build {
            arch,
            functions,
            quiet,
        } => {
            let start = std::time::Instant::now();
            let built = build::build_functions(&build::BuildOptions {
                arch,
                functions,
                quiet,
            })?;
            print!("{}", build::report(&built));
            println!(
                "{} {arch} function(s) in {:.1} s",
                built.len(),
                start.elapsed().as_secs_f64()
            );
        }
        Cmd::Dev { .. } | Cmd::Deploy(_) | Cmd::TestApi { .. } | Cmd::Load { .. } | Cmd::Soak { .. } => {
            unreachable!("runs_in_ops() hands these to xtask-ops")
        }
        Cmd::Ci => crate::ci::run()?,
        Cmd::Scan => {
            if !crate::ci::scan_command()? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Cmd::LintWorkflows => {
            let files = crate::workflows::files()?;
            let findings = crate::workflows::lint(&files)?;
            if !findings.is_empty() {
                for f in &findings {
                    eprintln!("{f}");
                }
                eprintln!("error: actionlint reported {} finding(s)", findings.len());
                return Ok(ExitCode::FAILURE);
            }
            println!("actionlint: no findings in {} workflow(s)", files.len());
        }
        Cmd::Tools => {
            for (tool, path) in tools::ensure_all()? {
                println!("{:<24} {}", tool.requirement, path.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `xtask-ops` with this process's own arguments (`cargo xtask deploy --env dev` becomes
/// `xtask-ops deploy --env dev`), through cargo so that it is built first when stale.
fn ops_with_these_arguments() -> Result<ExitCode> {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    ops(&args)
}

/// Runs `xtask-ops` with these arguments, in this process's place (on Unix the process becomes
/// it: signals such as Ctrl-C and the exit code are its own).
pub fn ops<S: AsRef<OsStr>>(args: &[S]) -> Result<ExitCode> {
    let mut cmd = xtask_tools::cargo_command();
    cmd.arg("run")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .args(["--package", OPS_PACKAGE, "--"])
        .args(args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        let err = cmd.exec();
        bail!("cannot run {OPS_PACKAGE} through cargo: {err}");
    }
    #[cfg(not(unix))]
    {
        let status = cmd
            .status()
            .with_context(|| format!("cannot run {OPS_PACKAGE} through cargo"))?;
        Ok(ExitCode::from(
            u8::try_from(status.code().unwrap_or(1)).unwrap_or(1),
        ))
    }
}
