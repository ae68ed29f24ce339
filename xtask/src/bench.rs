//! `cargo xtask bench --synth`: synthesis's figures, and with `--cold` the build-time ones,
//! measured on this machine (the rest of `cargo xtask bench` is `xtask_ops::bench`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Synthesis in process (release build, via the `infra-model` bench), the whole `synth`
/// process as `cargo xtask synth` runs it (this binary, already built), and the command as typed.
pub fn synth(vs_cdk: Option<&Path>) -> Result<()> {
    let status = xtask_tools::cargo_command()
        .args(["bench", "--quiet", "-p", "infra-model", "--bench", "synth"])
        .current_dir(crate::root())
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        bail!("the in-process synth benchmark failed ({status})");
    }

    let exe = std::env::current_exe().context("cannot find the xtask binary")?;
    let out = std::env::temp_dir().join(format!("xtask-bench-synth-{}", std::process::id()));
    let mut process = Command::new(&exe);
    process.args(["synth", "--out"]).arg(&out);
    let mut runs = timed(&mut process, 20, "xtask synth")?;
    // As typed: `cargo xtask synth`, cargo's freshness check of the binary included.
    let mut as_typed = xtask_tools::cargo_command();
    as_typed
        .args(["xtask", "synth", "--out"])
        .arg(&out)
        .current_dir(crate::root());
    let mut typed = timed(&mut as_typed, 10, "cargo xtask synth")?;
    // Cargo's part of that: the build the alias runs first, with nothing to do. Most of it is
    // resolving the workspace's dependency graph (the AWS SDK's packages among them), which
    // cargo does on every command (`CARGO_LOG_PROFILE=true` shows it: README, "Measured").
    let mut noop_build = xtask_tools::cargo_command();
    noop_build
        .args(["build", "--quiet", "--profile", "xtask", "--package", "xtask"])
        .current_dir(crate::root());
    let mut cargo_part = timed(&mut noop_build, 10, "cargo build --profile xtask --package xtask")?;
    let _ = std::fs::remove_dir_all(&out);
    runs.sort();
    typed.sort();
    cargo_part.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    if let Some(dir) = vs_cdk {
        let cdk = cdk_synth(dir)?;
        let ours = runs[runs.len() / 2];
        println!(
            "`cdk synth --quiet` in {}: median {:.0} ms ({} runs); the `xtask synth` process median {:.1} ms: {:.0}x faster; `cargo xtask synth` as typed median {:.1} ms: {:.0}x faster",
            dir.display(),
            ms(cdk),
            CDK_RUNS,
            ms(ours),
            cdk.as_secs_f64() / ours.as_secs_f64(),
            ms(typed[typed.len() / 2]),
            cdk.as_secs_f64() / typed[typed.len() / 2].as_secs_f64()
        );
    }
    // target/<profile>/xtask: the profile `cargo xtask` built this binary with.
    let profile = exe
        .parent()
        .and_then(Path::file_name)
        .map_or_else(|| "?".into(), |p| p.to_string_lossy().into_owned());
    println!(
        "`xtask synth` process, all environments written with their OpenAPI documents ({profile} profile): median {:.1} ms, min {:.1} ms, max {:.1} ms ({} runs)",
        ms(runs[runs.len() / 2]),
        ms(runs[0]),
        ms(runs[runs.len() - 1]),
        runs.len()
    );
    println!(
        "`cargo xtask synth` as typed (cargo's freshness check included): median {:.1} ms, min {:.1} ms, max {:.1} ms ({} runs)",
        ms(typed[typed.len() / 2]),
        ms(typed[0]),
        ms(typed[typed.len() - 1]),
        typed.len()
    );
    println!(
        "  of which cargo's no-op build of the light binary (cargo build --profile xtask --package xtask): median {:.1} ms, min {:.1} ms ({} runs)",
        ms(cargo_part[cargo_part.len() / 2]),
        ms(cargo_part[0]),
        cargo_part.len()
    );
    Ok(())
}

/// The build-time figures: the first `cargo xtask synth` of a fresh clone (an empty target
/// folder; cargo's registry as it is), and a model edit until its tests and the synth have run
/// (incremental, in the project's own target folder).
pub fn build_times() -> Result<()> {
    let root = crate::root();
    let scratch = std::env::temp_dir().join(format!("xtask-bench-cold-{}", std::process::id()));
    let target = scratch.join("target");
    let out = scratch.join("out");
    let mut first = xtask_tools::cargo_command();
    first
        .args(["xtask", "synth", "--out"])
        .arg(&out)
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&root);
    let first = once(&mut first, "the first cargo xtask synth");
    let _ = std::fs::remove_dir_all(&scratch);
    let first = first?;
    println!(
        "first `cargo xtask synth` into an empty target folder (CARGO_TARGET_DIR=<new folder> cargo xtask synth): {:.1} s",
        first.as_secs_f64()
    );

    // An edit, as cargo sees one: the file's modification time moves on, its text stays.
    let model = root.join("infra-model/src/system/functions.rs");
    let touch = || -> Result<()> {
        std::fs::File::options()
            .append(true)
            .open(&model)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .with_context(|| format!("cannot touch {}", model.display()))
    };
    let mut tests = xtask_tools::cargo_command();
    tests
        .args(["test", "--quiet", "-p", "infra-model"])
        .current_dir(&root);
    let mut synth = xtask_tools::cargo_command();
    synth
        .args(["xtask", "synth", "--out"])
        .arg(&out)
        .current_dir(&root);
    // Once to bring both builds up to date, then the edit.
    once(&mut tests, "cargo test -p infra-model")?;
    once(&mut synth, "cargo xtask synth")?;
    touch()?;
    let tests_took = once(&mut tests, "cargo test -p infra-model")?;
    touch()?;
    let synth_took = once(&mut synth, "cargo xtask synth")?;
    let _ = std::fs::remove_dir_all(&out);
    println!(
        "a model edit (infra-model/src/system/functions.rs touched), then `cargo test -p infra-model`: {:.1} s; touched again, then `cargo xtask synth`: {:.1} s",
        tests_took.as_secs_f64(),
        synth_took.as_secs_f64()
    );
    Ok(())
}

/// The wall time of one run of `cmd`, which must succeed.
fn once(cmd: &mut Command, what: &str) -> Result<Duration> {
    let start = Instant::now();
    let o = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !o.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&o.stderr));
    }
    Ok(start.elapsed())
}

/// The wall times of `runs` runs of `cmd`, after 3 to warm the caches.
fn timed(cmd: &mut Command, runs: usize, what: &str) -> Result<Vec<Duration>> {
    for _ in 0..3 {
        once(cmd, what)?;
    }
    (0..runs).map(|_| once(cmd, what)).collect()
}

const CDK_RUNS: usize = 5;

/// The median wall time of `npx --no-install cdk synth --quiet` in a CDK app's folder.
fn cdk_synth(dir: &Path) -> Result<Duration> {
    if !dir.join("cdk.json").is_file() {
        bail!(
            "{} has no cdk.json: --vs-cdk takes the folder of a CDK app (with its node_modules installed: npm ci)",
            dir.display()
        );
    }
    let mut runs = Vec::new();
    for _ in 0..CDK_RUNS {
        let start = Instant::now();
        let o = Command::new("npx")
            .args(["--no-install", "cdk", "synth", "--quiet"])
            .current_dir(dir)
            .output()
            .context("cannot run npx (Node.js) for cdk synth")?;
        if !o.status.success() {
            bail!(
                "cdk synth failed in {}: {}",
                dir.display(),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        runs.push(start.elapsed());
    }
    runs.sort();
    Ok(runs[runs.len() / 2])
}
