//! `cargo xtask <command>`: the project's developer CLI. Run it bare for the list of commands.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use xtask::{bench, build, lint, synth, tools};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Synthesize, lint and measure the order system",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Synthesize the CloudFormation templates and the API's OpenAPI documents (no AWS account,
    /// network or compiled function needed).
    Synth {
        /// The environment(s) to synthesize.
        #[arg(long, value_parser = xtask::deploy::cli::envs_arg(), default_value = "all")]
        env: xtask::deploy::cli::Envs,
        /// Where to write `<stack>.template.yaml` (and `.json`) and `<stack>.openapi.json`.
        #[arg(long, default_value = "target/synth")]
        out: PathBuf,
        /// Which template files to write (the OpenAPI documents are JSON).
        #[arg(long, value_enum, default_value = "yaml")]
        format: synth::Format,
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
        #[arg(long, value_parser = xtask::deploy::cli::envs_arg(), default_value = "all")]
        env: xtask::deploy::cli::Envs,
    },
    /// Build the functions' Lambda zips (release, provided.al2023) into target/lambda/<function>/.
    Build {
        /// The instruction set.
        #[arg(long, value_enum, default_value = "arm64")]
        arch: build::Arch,
        /// Only this function (repeatable); all functions when absent.
        #[arg(long = "function", value_name = "NAME")]
        functions: Vec<String>,
        /// Only warnings and errors from cargo.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Measure synthesis, and the Lambda artifacts (sizes, start-up, build times), and print the
    /// figures the README quotes.
    Bench {
        /// Only the local system's figures (`cargo xtask dev`: start-up, request latency and
        /// throughput under load).
        #[arg(long)]
        dev: bool,
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
        #[arg(long, default_value_t = xtask::dev::DEFAULT_PORT)]
        port: u16,
        /// The API key (generated and printed when absent).
        #[arg(long, value_name = "KEY")]
        api_key: Option<String>,
        /// moto's port; a moto already answering there is reused (0: a fresh one on a free port).
        #[arg(long, default_value_t = xtask::dev::DEFAULT_MOTO_PORT)]
        moto_port: u16,
        /// Turn off the usage plan's and the stage's throttling (for load tests).
        #[arg(long)]
        no_throttle: bool,
        /// The factor on every wait (retry intervals, visibility timeout); 1 = as deployed.
        #[arg(long, default_value_t = xtask::dev::DEFAULT_WAIT_SCALE)]
        wait_scale: f64,
        /// Run one order through, print the result and exit.
        #[arg(long)]
        smoke: bool,
    },
    /// deploy, diff, destroy, outputs, status, seed-inventory, moto (see xtask::deploy).
    #[command(flatten)]
    Deploy(xtask::deploy::cli::Commands),
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let root = xtask::root();
    match cli.command {
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
                print!("{}", one.template.to_yaml());
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
        Cmd::Bench { dev: true } => bench::dev_api()?,
        Cmd::Bench { dev: false } => {
            bench::synth()?;
            bench::lambda_artifacts()?;
        }
        Cmd::Deploy(cmd) => return xtask::deploy::cli::run(cmd),
        Cmd::Dev {
            port,
            api_key,
            moto_port,
            no_throttle,
            wait_scale,
            smoke,
        } => return xtask::dev::cli(port, api_key, moto_port, !no_throttle, wait_scale, smoke),
        Cmd::Ci => xtask::ci::run()?,
        Cmd::Scan => {
            if !xtask::ci::scan_command()? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Cmd::LintWorkflows => {
            let files = xtask::workflows::files()?;
            let findings = xtask::workflows::lint(&files)?;
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
