//! `cargo xtask ci`: what the pipeline runs, in the same order, so that "it passes here" means
//! "the pipeline is green": format, clippy, the tests, the snapshots, cfn-lint, the workflows
//! (actionlint, and every piping step failing when a piped command fails), the security scan
//! of the templates (checkov), and the arm64 build.

use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};

fn cargo(args: &[&str]) -> Command {
    let mut c = xtask_tools::cargo_command();
    c.args(args).current_dir(crate::root());
    c
}

/// One step: a command, or a check run in this process.
enum Step {
    Run(Command),
    Check(fn() -> Result<()>),
}

fn xtask(args: &[&str]) -> Result<Step> {
    let mut c = Command::new(std::env::current_exe()?);
    c.args(args);
    Ok(Step::Run(c))
}

fn pipefail_check() -> Result<()> {
    let found = workflows_without_pipefail()?;
    if !found.is_empty() {
        bail!("{}", found.join("\n"));
    }
    println!("every piping step of the workflows fails when a piped command fails");
    Ok(())
}

/// Runs every step; stops at the first that fails.
pub fn run() -> Result<()> {
    let steps: Vec<(&str, Step)> = vec![
        ("format", Step::Run(cargo(&["fmt", "--all", "--", "--check"]))),
        (
            "clippy",
            Step::Run(cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--quiet",
                "--",
                "-D",
                "warnings",
            ])),
        ),
        ("tests", Step::Run(cargo(&["test", "--workspace"]))),
        ("snapshots", xtask(&["synth", "--check"])?),
        ("cfn-lint", xtask(&["lint"])?),
        ("workflows", xtask(&["lint-workflows"])?),
        ("workflows: pipefail", Step::Check(pipefail_check)),
        ("security scan", xtask(&["scan"])?),
        ("arm64 build", xtask(&["build"])?),
    ];
    let start = Instant::now();
    for (name, step) in steps {
        let t = Instant::now();
        println!("== {name}");
        match step {
            Step::Run(mut cmd) => {
                let status = cmd.status()?;
                if !status.success() {
                    bail!("ci: the {name} step failed ({status}); fix it and run `cargo xtask ci` again");
                }
            }
            Step::Check(check) => {
                if let Err(e) = check() {
                    bail!("ci: the {name} step failed:\n{e:#}\nfix it and run `cargo xtask ci` again");
                }
            }
        }
        println!("== {name}: ok ({:.0} s)", t.elapsed().as_secs_f64());
    }
    println!("ci: every step passed in {:.0} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// The `run:` steps of a GitHub Actions workflow that pipe (`a | b`) in a shell without
/// `pipefail`, where the exit code of the last command hides a failure of the others.
///
/// GitHub runs a step in `bash -e {0}` unless the workflow, the job or the step sets a shell;
/// its `bash` is `bash --noprofile --norc -eo pipefail {0}`. A step passes with `shell: bash`
/// (at any of the three levels), a custom shell that sets `pipefail`, or a script that runs
/// `set -o pipefail` itself.
pub fn pipes_without_pipefail(name: &str, workflow: &str) -> Result<Vec<String>> {
    use serde_yaml::Value;
    let doc: Value =
        serde_yaml::from_str(workflow).map_err(|e| anyhow::anyhow!("{name} is not valid YAML: {e}"))?;
    let shell_of = |v: &Value| -> Option<String> {
        v.get("defaults")?
            .get("run")?
            .get("shell")?
            .as_str()
            .map(str::to_owned)
    };
    let workflow_shell = shell_of(&doc);
    let mut found = Vec::new();
    let Some(jobs) = doc.get("jobs").and_then(Value::as_mapping) else {
        return Ok(found);
    };
    for (job_id, job) in jobs {
        let job_id = job_id.as_str().unwrap_or("?");
        let job_shell = shell_of(job).or_else(|| workflow_shell.clone());
        let Some(steps) = job.get("steps").and_then(Value::as_sequence) else {
            continue;
        };
        for (i, step) in steps.iter().enumerate() {
            let Some(script) = step.get("run").and_then(Value::as_str) else {
                continue;
            };
            if !has_pipe(script) {
                continue;
            }
            let shell = step
                .get("shell")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| job_shell.clone());
            let shell_fails = shell
                .as_deref()
                .is_some_and(|s| s.trim() == "bash" || s.contains("pipefail"));
            if shell_fails || sets_pipefail(script) {
                continue;
            }
            let step_name = step
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| format!("step {}", i + 1), |n| format!("step '{n}'"));
            found.push(format!(
                "{name}: job {job_id}, {step_name} pipes in {} without pipefail, so a failing \
                 command before the last `|` passes: set `defaults: run: shell: bash` (GitHub's \
                 bash runs with -eo pipefail) or `shell: bash` on the step",
                shell.map_or_else(
                    || "GitHub's default shell (bash -e)".to_owned(),
                    |s| format!("`{s}`")
                )
            ));
        }
    }
    Ok(found)
}

/// Whether a script has a pipe (`|`, not `||`).
fn has_pipe(script: &str) -> bool {
    let b = script.as_bytes();
    b.iter()
        .enumerate()
        .any(|(i, &c)| c == b'|' && b.get(i + 1) != Some(&b'|') && (i == 0 || b[i - 1] != b'|'))
}

/// Whether a script turns pipefail on itself (`set -o pipefail`, `set -euo pipefail`).
fn sets_pipefail(script: &str) -> bool {
    script.lines().any(|l| {
        let l = l.trim();
        l.starts_with("set ") && l.contains("pipefail")
    })
}

/// Every workflow of the repository, checked by [`pipes_without_pipefail`].
pub fn workflows_without_pipefail() -> Result<Vec<String>> {
    let mut found = Vec::new();
    for f in crate::workflows::files()? {
        let text = std::fs::read_to_string(&f)?;
        let name = f
            .file_name()
            .map_or_else(|| f.display().to_string(), |n| n.to_string_lossy().into_owned());
        found.extend(pipes_without_pipefail(&name, &text)?);
    }
    Ok(found)
}

/// One finding of the template scanner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// checkov's rule id (`CKV_AWS_116`).
    pub check_id: String,
    pub check_name: String,
    /// `AWS::Lambda::Function.ReserveStockFunction`.
    pub resource: String,
    /// The template's file name.
    pub file: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} in {}: {}",
            self.check_id, self.resource, self.file, self.check_name
        )
    }
}

impl Finding {}

/// Runs checkov (pinned, installed on first use) on CloudFormation templates: their
/// resources and the IAM policies in them. Suppressions are read from each resource's
/// `Metadata.checkov.skip`. Nothing is downloaded (`--skip-download`): the machine reaches
/// only package registries.
pub fn scan(templates: &[std::path::PathBuf]) -> Result<Vec<Finding>> {
    let checkov = crate::tools::ensure(crate::tools::CHECKOV)?;
    if templates.is_empty() {
        bail!("no templates to scan");
    }
    let mut cmd = Command::new(&checkov);
    cmd.args([
        "--framework",
        "cloudformation",
        "--output",
        "json",
        "--quiet",
        "--compact",
        "--skip-download",
    ]);
    for t in templates {
        cmd.arg("--file").arg(t);
    }
    let out = cmd
        .output()
        .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", checkov.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    // 0: no failed check; 1: failed checks; anything else: it did not run.
    if !matches!(out.status.code(), Some(0 | 1)) {
        bail!(
            "checkov failed to run ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let parsed: serde_json::Value = if stdout.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&stdout).map_err(|e| {
            anyhow::anyhow!(
                "checkov's report is not JSON ({e}):\n{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?
    };
    let reports = match parsed {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Null => Vec::new(),
        other => vec![other],
    };
    let mut findings = Vec::new();
    for r in &reports {
        let Some(failed) = r.pointer("/results/failed_checks").and_then(|f| f.as_array()) else {
            continue;
        };
        for f in failed {
            let s = |k: &str| f.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
            findings.push(Finding {
                check_id: s("check_id"),
                check_name: s("check_name"),
                resource: s("resource"),
                file: s("file_path")
                    .trim_start_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_owned(),
            });
        }
    }
    if out.status.code() == Some(1) && findings.is_empty() {
        bail!("checkov reported failures that could not be read:\n{stdout}");
    }
    findings.sort_by(|a, b| (&a.file, &a.resource, &a.check_id).cmp(&(&b.file, &b.resource, &b.check_id)));
    Ok(findings)
}

/// The templates the scanner checks: the three environments' and the account stack's, written
/// as YAML to `dir`.
pub fn templates_to_scan(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let stacks = crate::synth::synth(&infra_model::Env::ALL)?;
    let mut files = crate::synth::write(&stacks, dir, crate::synth::Format::Yaml)?;
    let account = infra_model::system::account::template()
        .synth()
        .map_err(|e| anyhow::anyhow!("cannot synthesize the account stack: {e}"))?;
    let path = dir.join(format!(
        "{}.template.yaml",
        infra_model::system::account::stack_name()
    ));
    std::fs::write(&path, account.to_yaml())?;
    files.push(path);
    files.sort();
    Ok(files)
}

/// `cargo xtask scan`: every template through the scanner. Fails on any finding that is not
/// suppressed, with its reason, in the resource's metadata.
pub fn scan_command() -> Result<bool> {
    let dir = crate::root().join("target/scan");
    let files = templates_to_scan(&dir)?;
    let findings = scan(&files)?;
    let new = &findings;
    for f in new {
        eprintln!("{f}");
    }
    if new.is_empty() {
        println!(
            "checkov: no finding in {} template(s); every suppressed one has its reason in the \
             resource's metadata",
            files.len()
        );
        Ok(true)
    } else {
        eprintln!(
            "error: checkov reported {} finding(s): fix each, or suppress it in the resource's \
             Metadata (infra-model/src/system/security.rs) with the reason",
            new.len()
        );
        Ok(false)
    }
}
