//! The workspace's test harnesses are switched off only where there is nothing to run.
//!
//! `cargo test --workspace` builds a unit-test binary for every library and binary target and
//! runs rustdoc on every library, even when they hold no test: in a cold run that was 23 empty
//! test binaries (each a compile of the crate in test mode and a link against the AWS SDK)
//! and 17 empty doc-test runs. The manifests turn those off (`test = false`,
//! `doctest = false`); this check keeps that from hiding a test someone adds later.

use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Finds the first line of a test of some kind in a source file.
type Finder = fn(&str) -> Option<usize>;

/// One target whose harness is off although its sources hold a test, as a sentence that says
/// what to do.
pub fn switched_off_with_tests() -> Result<Vec<String>> {
    let meta = crate::build::workspace_metadata()?;
    let mut found = Vec::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        let targets: Vec<&Value> = package["targets"].as_array().into_iter().flatten().collect();
        let other_roots: Vec<PathBuf> = targets
            .iter()
            .filter_map(|t| t["src_path"].as_str())
            .map(PathBuf::from)
            .collect();
        for t in &targets {
            let kinds: Vec<&str> = t["kind"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let (Some(src), Some(name)) = (t["src_path"].as_str(), t["name"].as_str()) else {
                continue;
            };
            let src = Path::new(src);
            let files = if kinds.contains(&"lib") {
                module_files(src, &other_roots)?
            } else if kinds.contains(&"bin") {
                vec![src.to_path_buf()]
            } else {
                continue;
            };
            let manifest = package["manifest_path"].as_str().unwrap_or("its Cargo.toml");
            let checks: [(&str, Finder, &str); 2] = [
                ("test", first_test, "a test"),
                ("doctest", first_doc_test, "a doc test"),
            ];
            let off: Vec<_> = checks
                .into_iter()
                .filter(|(switch, ..)| t[*switch] == Value::Bool(false))
                .collect();
            if off.is_empty() {
                continue;
            }
            for f in &files {
                let source = read(f)?;
                for (switch, first, what) in &off {
                    if let Some(line) = first(&source) {
                        found.push(format!(
                            "{}:{line}: {what} in target `{name}`, whose `{switch}` harness is off: remove `{switch} = false` from {manifest}",
                            f.display()
                        ));
                    }
                }
            }
        }
    }
    Ok(found)
}

/// The `.rs` files of a library: every file under its root's folder but the other targets'
/// roots (`main.rs`).
fn module_files(root: &Path, other_roots: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![
        root.parent()
            .context("a target's source has no folder")?
            .to_path_buf(),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && (path == root || !other_roots.contains(&path))
            {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn read(file: &Path) -> Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}

/// The line (1-based) of the first test function or test module in `source`.
pub fn first_test(source: &str) -> Option<usize> {
    let marker =
        |l: &str| l.starts_with("#[test]") || l.starts_with("#[tokio::test") || l.starts_with("#[cfg(test)]");
    source.lines().position(|l| marker(l.trim())).map(|i| i + 1)
}

/// The line (1-based) of the first doc-comment code block in `source` that rustdoc compiles:
/// a fence with no language, or `rust` and its attributes (`no_run`, `should_panic`, ...).
/// `text`, `sh`, `json` and other languages are not tests.
pub fn first_doc_test(source: &str) -> Option<usize> {
    let rust_attrs = [
        "rust",
        "no_run",
        "should_panic",
        "compile_fail",
        "ignore",
        "edition",
    ];
    let mut open = false;
    for (i, line) in source.lines().enumerate() {
        let line = line.trim();
        let Some(doc) = line.strip_prefix("///").or_else(|| line.strip_prefix("//!")) else {
            continue;
        };
        let Some(info) = doc.trim_start().strip_prefix("```") else {
            continue;
        };
        if open {
            open = false;
            continue;
        }
        open = true;
        if info
            .split(',')
            .map(str::trim)
            .all(|a| a.is_empty() || rust_attrs.iter().any(|r| a.starts_with(r)))
        {
            return Some(i + 1);
        }
    }
    None
}
