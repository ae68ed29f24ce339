//! A built function: what `cargo xtask build` produces and `cargo xtask deploy` uploads.

use std::path::PathBuf;

/// One function's deployable zip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// The function's name (its crate), as in `infra_model::system::functions`.
    pub function: String,
    /// `target/lambda/<function>/bootstrap.zip`: one entry, `bootstrap`, mode 0755, fixed time.
    pub zip: PathBuf,
    /// SHA-256 of the zip, lower-case hex: its content address (S3 key
    /// `functions/<function>/<sha256>.zip`).
    pub sha256: String,
}
