//! `cargo xtask bench`: the figures the README quotes, measured on this machine.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Synthesis in process (release build, via the `infra-model` bench) and the whole
/// `synth` command as a user runs it (this binary, already built).
pub fn synth() -> Result<()> {
    let status = Command::new(env!("CARGO"))
        .args(["bench", "--quiet", "-p", "infra-model", "--bench", "synth"])
        .current_dir(crate::root())
        .status()
        .context("cannot run cargo bench")?;
    if !status.success() {
        bail!("the in-process synth benchmark failed ({status})");
    }

    let exe = std::env::current_exe().context("cannot find the xtask binary")?;
    let out = std::env::temp_dir().join(format!("xtask-bench-synth-{}", std::process::id()));
    let mut runs = Vec::new();
    for i in 0..23 {
        let start = Instant::now();
        let o = Command::new(&exe)
            .args(["synth", "--out"])
            .arg(&out)
            .output()
            .context("cannot run the synth command")?;
        let took = start.elapsed();
        if !o.status.success() {
            bail!("synth failed: {}", String::from_utf8_lossy(&o.stderr));
        }
        if i >= 3 {
            runs.push(took);
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    runs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "`xtask synth` command, all environments written ({} profile build): median {:.1} ms, min {:.1} ms, max {:.1} ms ({} runs)",
        if cfg!(debug_assertions) { "dev" } else { "release" },
        ms(runs[runs.len() / 2]),
        ms(runs[0]),
        ms(runs[runs.len() - 1]),
        runs.len()
    );
    Ok(())
}
