//! `cargo xtask lint`: cfn-lint on every synthesized template, informational checks included.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::tools;

/// The findings of cfn-lint on a set of templates; empty means clean.
#[derive(Debug)]
pub struct Report {
    pub findings: Vec<String>,
}

/// Runs cfn-lint (installing it on first use) on the given template files.
pub fn run(templates: &[PathBuf]) -> Result<Report> {
    let cfn_lint = tools::ensure(tools::CFN_LINT)?;
    lint_with(&cfn_lint, templates)
}

fn lint_with(cfn_lint: &Path, templates: &[PathBuf]) -> Result<Report> {
    if templates.is_empty() {
        bail!("no templates to lint");
    }
    let out = Command::new(cfn_lint)
        .args(["--include-checks", "I", "--format", "parseable", "--"])
        .args(templates)
        .output()
        .with_context(|| format!("cannot run {}", cfn_lint.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let findings: Vec<String> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    // cfn-lint exits 0 when clean and with a bit mask (2 errors, 4 warnings, 8 informational)
    // otherwise; anything else, or a non-zero code without findings, is a failure to run.
    let code = out.status.code().unwrap_or(1);
    if code & 1 != 0 || (code != 0 && findings.is_empty()) {
        bail!(
            "cfn-lint failed to run ({}):\n{}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(Report { findings })
}
