//! `cargo xtask dev --watch`: a saved change to a function crate (or a shared crate such as
//! `order-core`) rebuilds what it affects and restarts only those functions' sandboxes; the
//! tables, queues, moto and the API stay up. Which functions a change affects is cargo's call:
//! the host build runs for every function and reports which binaries it relinked. A change to
//! the model (`infra-model/`) may change the infrastructure itself, so it is not applied: dev
//! says to restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use notify::{EventKind, RecursiveMode, Watcher as _};

use crate::runtime_api::LocalFunction;

/// How long a burst of saves is gathered into one rebuild (editors write several files, or one
/// file several times).
pub const SETTLE: Duration = Duration::from_millis(300);

/// What a changed path means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Code of a function or a crate the functions build from: rebuild.
    Code(PathBuf),
    /// The model: the infrastructure may differ, a restart deploys it.
    Model(PathBuf),
    /// Nothing the running system depends on (tests, build output, editor files).
    Ignored,
}

/// Classifies a changed path (absolute, under `root`).
pub fn classify(root: &Path, path: &Path) -> Change {
    let Ok(rel) = path.strip_prefix(root) else {
        return Change::Ignored;
    };
    let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
    let file = parts.last().copied().unwrap_or_default();
    let editor_file =
        file.starts_with('.') || file.ends_with('~') || file.ends_with(".swp") || file.starts_with('#');
    let relevant = file.ends_with(".rs") || file == "Cargo.toml";
    if editor_file
        || !relevant
        || parts.contains(&"target")
        || parts.contains(&"tests")
        || parts.contains(&"benches")
    {
        return Change::Ignored;
    }
    match parts.as_slice() {
        ["infra-model", ..] => Change::Model(rel.to_path_buf()),
        // test-support is for the handler tests only; no function links it.
        ["functions", "test-support", ..] => Change::Ignored,
        ["functions", _, ..] => Change::Code(rel.to_path_buf()),
        _ => Change::Ignored,
    }
}

/// What one rebuild did.
#[derive(Clone, Debug)]
pub struct Reload {
    pub changed: Vec<PathBuf>,
    /// The functions whose binary was relinked and whose sandboxes were replaced.
    pub restarted: Vec<String>,
    /// From the first save of the burst to the new sandboxes asking for work.
    pub save_to_serving: Duration,
    pub build: Duration,
}

/// Rebuilds, then restarts the functions whose binaries changed; on a failed build the old code
/// keeps serving.
pub fn reload(
    functions: &[Arc<LocalFunction>],
    changed: Vec<PathBuf>,
    first_save: Instant,
) -> Result<Reload> {
    let started = Instant::now();
    let built = crate::build::host_binaries(&[], crate::build::HostBuild::Functions, true).context(
        "the rebuild failed (the compiler's messages are above); the previous code is still serving",
    )?;
    let build = started.elapsed();
    let mut restarted = Vec::new();
    for b in built.iter().filter(|b| b.compiled) {
        if let Some(f) = functions.iter().find(|f| f.name() == b.function) {
            f.recycle();
            restarted.push(b.function.clone());
        }
    }
    for name in &restarted {
        if let Some(f) = functions.iter().find(|f| f.name() == name) {
            f.ready(Duration::from_secs(60))
                .with_context(|| format!("{name} did not start again after the rebuild"))?;
        }
    }
    Ok(Reload {
        changed,
        restarted,
        save_to_serving: first_save.elapsed(),
        build,
    })
}

/// Watches `functions/` and `infra-model/` until `stop`, reloading on saves; says what it does
/// through `say`.
pub fn run(
    functions: &[Arc<LocalFunction>],
    stop: &AtomicBool,
    say: &(dyn Fn(&str) + Send + Sync),
) -> Result<()> {
    let root = crate::root();
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(tx).context("cannot watch the source files (inotify)")?;
    for dir in ["functions", "infra-model"] {
        watcher
            .watch(&root.join(dir), RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch {dir}/"))?;
    }
    say(
        "watch: on a save under functions/ the affected functions are rebuilt and restarted; infra-model/ needs a restart",
    );
    while !stop.load(Ordering::Relaxed) {
        let Ok(first) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        let first_save = Instant::now();
        let mut events = vec![first];
        let settle_until = Instant::now() + SETTLE;
        while let Ok(e) = rx.recv_timeout(settle_until.saturating_duration_since(Instant::now())) {
            events.push(e);
        }
        let mut code = Vec::new();
        let mut model = Vec::new();
        for event in events.into_iter().flatten() {
            if matches!(event.kind, EventKind::Access(_)) {
                continue;
            }
            for p in &event.paths {
                match classify(&root, p) {
                    Change::Code(rel) if !code.contains(&rel) => code.push(rel),
                    Change::Model(rel) if !model.contains(&rel) => model.push(rel),
                    _ => {}
                }
            }
        }
        if !model.is_empty() {
            say(&format!(
                "watch: the model changed ({}): it may change the infrastructure, so nothing was reloaded; restart `cargo xtask dev` to deploy it",
                model
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            continue;
        }
        if code.is_empty() {
            continue;
        }
        say(&format!(
            "watch: {} changed: rebuilding",
            code.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        match reload(functions, code, first_save) {
            Ok(r) if r.restarted.is_empty() => say(&format!(
                "watch: rebuilt in {:.1} s; no function's binary changed",
                r.build.as_secs_f64()
            )),
            Ok(r) => say(&format!(
                "watch: restarted {}: serving the change {:.1} s after the save (build {:.1} s)",
                r.restarted.join(", "),
                r.save_to_serving.as_secs_f64(),
                r.build.as_secs_f64()
            )),
            Err(e) => say(&format!("watch: {e:#}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_code_model_or_nothing() {
        let root = Path::new("/repo");
        let c = |p: &str| classify(root, &root.join(p));
        assert_eq!(
            c("functions/orders-api/src/lib.rs"),
            Change::Code("functions/orders-api/src/lib.rs".into())
        );
        assert_eq!(
            c("functions/order-core/Cargo.toml"),
            Change::Code("functions/order-core/Cargo.toml".into())
        );
        assert_eq!(
            c("infra-model/src/system/api.rs"),
            Change::Model("infra-model/src/system/api.rs".into())
        );
        for ignored in [
            "functions/orders-api/tests/handler.rs",
            "functions/test-support/src/lib.rs",
            "functions/orders-api/src/.lib.rs.swp",
            "functions/orders-api/src/lib.rs~",
            "functions/README.md",
            "xtask/src/cli.rs",
            "target/debug/build/x.rs",
        ] {
            assert_eq!(c(ignored), Change::Ignored, "{ignored}");
        }
        assert_eq!(
            classify(root, Path::new("/elsewhere/functions/a/src/lib.rs")),
            Change::Ignored
        );
    }
}
