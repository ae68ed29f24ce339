//! `cargo xtask bench --synth`: synthesis's figures, measured on this machine (the rest of
//! `cargo xtask bench` is `xtask_ops::bench`).

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
    let _ = std::fs::remove_dir_all(&out);
    runs.sort();
    typed.sort();
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
    Ok(())
}

/// The wall times of `runs` runs of `cmd`, after 3 to warm the caches.
fn timed(cmd: &mut Command, runs: usize, what: &str) -> Result<Vec<Duration>> {
    let mut times = Vec::new();
    for i in 0..runs + 3 {
        let start = Instant::now();
        let o = cmd.output().with_context(|| format!("cannot run {what}"))?;
        let took = start.elapsed();
        if !o.status.success() {
            bail!("{what} failed: {}", String::from_utf8_lossy(&o.stderr));
        }
        if i >= 3 {
            times.push(took);
        }
    }
    Ok(times)
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
