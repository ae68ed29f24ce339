//! The project's developer commands, as a library so that tests call the same code.

pub mod artifact;
pub mod bench;
pub mod build;
pub mod ci;
pub mod deploy;
pub mod dev;
pub mod elf;
pub mod lint;
pub mod moto;
pub mod runtime_api;
pub mod synth;
pub mod tools;
pub mod workflows;
pub mod zip;

use std::path::PathBuf;

/// The workspace root (the folder with the top-level `Cargo.toml`).
pub fn root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map(PathBuf::from).unwrap_or(manifest_dir)
}
