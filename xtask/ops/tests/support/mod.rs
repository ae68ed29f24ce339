//! What the tests against moto share: valid, deterministic Lambda zips.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use xtask_ops::artifact::Artifact;
use xtask_ops::{deploy, zip};

/// Writes `DIR/<function>/bootstrap.zip` for every function (content: its name and a version)
/// and returns them as artifacts, the way `--artifacts DIR` reads them.
pub fn write_artifacts(dir: &Path, versions: &BTreeMap<&str, u32>) -> Vec<Artifact> {
    for f in infra_model::system::FUNCTIONS.iter() {
        let v = versions.get(f.name).copied().unwrap_or(1);
        let d = dir.join(f.name);
        std::fs::create_dir_all(&d).unwrap();
        let body = format!("#!/bin/sh\necho {} v{v}\n", f.name);
        std::fs::write(
            d.join("bootstrap.zip"),
            zip::single_file("bootstrap", body.as_bytes(), 0o755).unwrap(),
        )
        .unwrap();
    }
    deploy::artifacts_from_dir(dir).unwrap()
}
