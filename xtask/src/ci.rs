//! `cargo xtask ci`: what the pipeline runs, in the same order, so that "it passes here" means
//! "the pipeline is green": format, clippy, the tests, the snapshots, cfn-lint, the workflows,
//! and the arm64 build.

use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};

fn cargo(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO"));
    c.args(args).current_dir(crate::root());
    c
}

/// Runs every step; stops at the first that fails.
pub fn run() -> Result<()> {
    let exe = std::env::current_exe()?;
    let steps: Vec<(&str, Command)> = vec![
        ("format", cargo(&["fmt", "--all", "--", "--check"])),
        (
            "clippy",
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--quiet",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        ("tests", cargo(&["test", "--workspace"])),
        ("snapshots", {
            let mut c = Command::new(&exe);
            c.args(["synth", "--check"]);
            c
        }),
        ("cfn-lint", {
            let mut c = Command::new(&exe);
            c.arg("lint");
            c
        }),
        ("workflows", {
            let mut c = Command::new(&exe);
            c.arg("lint-workflows");
            c
        }),
        ("arm64 build", {
            let mut c = Command::new(&exe);
            c.arg("build");
            c
        }),
    ];
    let start = Instant::now();
    for (name, mut cmd) in steps {
        let t = Instant::now();
        println!("== {name}");
        let status = cmd.status()?;
        if !status.success() {
            bail!("ci: the {name} step failed ({status}); fix it and run `cargo xtask ci` again");
        }
        println!("== {name}: ok ({:.0} s)", t.elapsed().as_secs_f64());
    }
    println!("ci: every step passed in {:.0} s", start.elapsed().as_secs_f64());
    Ok(())
}
