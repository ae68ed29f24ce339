//! Running cargo for the function binaries: the host build of `cargo xtask dev` and the tests,
//! and reading the executables out of cargo's JSON messages (the cross build uses that too).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::selected;
use crate::tools;

/// How a host build selects what it compiles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HostBuild {
    /// `cargo build -p <function> --bin <function>` for each (dev profile): the least to
    /// compile, what `cargo xtask dev` runs.
    #[default]
    Functions,
    /// `cargo test --workspace --no-run`: the function binaries the test suite compiles anyway,
    /// for the tests that start the local system. Cargo unifies the features of shared crates
    /// over the packages a command selects, and the suite's selection (xtask-ops' SDK clients,
    /// the dev-dependencies' test features) differs from the functions' alone: building them
    /// on their own compiled the SDK stack a second time in a cold test run.
    TestSuite,
}

/// A function built for this machine, to run as a local process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostBinary {
    pub function: String,
    /// The executable in cargo's target folder (run it in place).
    pub path: PathBuf,
    /// Cargo compiled or linked it in this build.
    pub compiled: bool,
}

/// Builds the functions (empty: all) for this machine with plain cargo and returns their
/// executables, in `FUNCTIONS` order. No tools needed beyond cargo.
pub fn host_binaries(functions: &[String], build: HostBuild, quiet: bool) -> Result<Vec<HostBinary>> {
    let functions = selected(functions)?;
    let mut cmd = tools::cargo_command();
    match build {
        HostBuild::Functions => {
            cmd.arg("build");
            for f in &functions {
                cmd.args(["-p", f, "--bin", f]);
            }
        }
        HostBuild::TestSuite => {
            cmd.args(["test", "--workspace", "--no-run"]);
        }
    }
    cmd.args(["--message-format", "json-render-diagnostics"])
        .current_dir(crate::root());
    if quiet {
        cmd.arg("--quiet");
    }
    let binaries = run_cargo(cmd, &functions, "cargo build")
        .context("the host build failed (the compiler's messages are above)")?;
    functions
        .iter()
        .map(|f| {
            let b = binaries
                .get(f.as_str())
                .with_context(|| format!("cargo built no binary for {f}"))?;
            Ok(HostBinary {
                function: f.clone(),
                path: b.path.clone(),
                compiled: !b.fresh,
            })
        })
        .collect()
}

/// A bin target's executable as cargo reported it.
pub(super) struct CargoBinary {
    pub(super) path: PathBuf,
    pub(super) fresh: bool,
}

/// Runs a cargo build with `--message-format json-*`, its diagnostics and progress going to
/// stderr, and returns the executables of the named bin targets.
pub(super) fn run_cargo(
    mut cmd: Command,
    functions: &[String],
    what: &str,
) -> Result<BTreeMap<String, CargoBinary>> {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null());
    let mut child = cmd.spawn().with_context(|| format!("cannot start {what}"))?;
    let stdout = child.stdout.take().context("no stdout from cargo")?;
    let mut binaries = BTreeMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.with_context(|| format!("cannot read the output of {what}"))?;
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            // Not a JSON message (a build script's stray output): pass it on.
            eprintln!("{line}");
            continue;
        };
        if let Some((name, binary)) = function_binary(&msg, functions) {
            binaries.insert(name, binary);
        }
    }
    let status = child.wait().with_context(|| format!("{what} did not finish"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(binaries)
}

/// The executable of one of `functions` in a message of cargo's `--message-format json`: a
/// `compiler-artifact` of a bin target, not its unit-test executable (`cargo test --no-run`
/// lists both, with the same target name).
fn function_binary(msg: &Value, functions: &[String]) -> Option<(String, CargoBinary)> {
    if msg.get("reason").and_then(Value::as_str) != Some("compiler-artifact") {
        return None;
    }
    let target = &msg["target"];
    let is_bin = target["kind"]
        .as_array()
        .is_some_and(|k| k.iter().any(|k| k == "bin"))
        && msg["profile"]["test"] != true;
    let name = target["name"].as_str()?;
    if !is_bin || !functions.iter().any(|f| f == name) {
        return None;
    }
    let exe = msg.get("executable").and_then(Value::as_str)?;
    Some((
        name.to_owned(),
        CargoBinary {
            path: PathBuf::from(exe),
            fresh: msg["fresh"].as_bool().unwrap_or(false),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages as `cargo test --workspace --no-run --message-format json` printed them
    /// (trimmed to the fields read): the bin, its unit-test executable, and the library.
    #[test]
    fn the_binary_is_taken_not_its_test_executable() {
        let functions = vec!["health".to_owned()];
        let line = |kind: &str, test: bool, exe: &str, fresh: bool| {
            serde_json::json!({
                "reason": "compiler-artifact",
                "package_id": "path+file:///w/functions/health#0.1.0",
                "target": {"kind": [kind], "crate_types": [kind], "name": "health", "src_path": "/w/functions/health/src/main.rs", "edition": "2024", "doc": true, "doctest": false, "test": true},
                "profile": {"opt_level": "0", "debuginfo": "line-tables-only", "debug_assertions": true, "overflow_checks": true, "test": test},
                "features": [],
                "filenames": [exe],
                "executable": exe,
                "fresh": fresh
            })
        };
        let bin = line("bin", false, "/t/debug/health", true);
        let (name, b) = function_binary(&bin, &functions).unwrap_or_else(|| panic!("{bin}"));
        assert_eq!(name, "health");
        assert_eq!(b.path, PathBuf::from("/t/debug/health"));
        assert!(b.fresh);
        let unit_tests = line("bin", true, "/t/debug/deps/health-1a2b3c", false);
        assert!(function_binary(&unit_tests, &functions).is_none());
        let mut lib = line("lib", false, "/t/debug/deps/libhealth.rlib", false);
        lib["executable"] = Value::Null;
        assert!(function_binary(&lib, &functions).is_none());
        assert!(function_binary(&bin, &["payment".to_owned()]).is_none());
        assert!(
            function_binary(
                &serde_json::json!({"reason": "build-finished", "success": true}),
                &functions
            )
            .is_none()
        );
    }
}
