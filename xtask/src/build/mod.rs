//! `cargo xtask build`: the functions' Lambda artifacts, for arm64 (Graviton, the default) or
//! x86_64, on runtime `provided.al2023`.
//!
//! For each function crate it writes `target/lambda/<function>/bootstrap` (x86_64:
//! `target/lambda-x86_64/<function>/`) and a byte-deterministic `bootstrap.zip` next to it (see
//! [`crate::zip`]), whose SHA-256 is the artifact's content address (see [`Artifact`]).
//!
//! How: `cargo zigbuild --profile lambda --target aarch64-unknown-linux-gnu.2.17`: zig (from
//! PyPI, installed into the project's tool folder by [`crate::tools`]) is the linker and C
//! compiler, and links against glibc 2.17 whatever the build machine has, so the binary runs on
//! `provided.al2023` (glibc 2.34) and needs no Docker, no apt and no root. Every binary is
//! checked before it is zipped ([`crate::elf::check_lambda`]): right CPU, nothing newer than
//! the runtime's glibc, no library the runtime lacks.
//!
//! Nothing is done twice: cargo skips what is up to date, and a function whose binary has not
//! changed since its zip was written (same size and modification time, recorded in
//! `bootstrap.zip.stamp`) keeps its zip.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result, bail};
use infra_model::system::FUNCTIONS;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::artifact::Artifact;
use crate::elf::{self, ElfInfo, GlibcVersion, Machine};
use crate::tools;

mod cargo;
mod run;
use cargo::{CargoBinary, run_cargo};
pub use cargo::{HostBinary, HostBuild, host_binaries};
pub use run::{AARCH64_SYSROOT, QEMU_INSTALL, closed_endpoint, offline_env, qemu_missing, run_command};

/// The cargo profile of Lambda artifacts (`[profile.lambda]` in the root `Cargo.toml`).
pub const PROFILE: &str = "lambda";

/// The glibc the artifacts are linked against (zig's `.2.17` target suffix): the oldest Rust
/// supports, so the binaries run on `provided.al2023` (2.34) and on the older `provided.al2`.
pub const LINKED_GLIBC: GlibcVersion = GlibcVersion(2, 17, 0);

/// Bumped when the zip format changes, so that every stamp is stale.
const STAMP_FORMAT: u32 = 1;

pub use crate::cli::Arch;

/// The target given to `cargo zigbuild`: the triple with the glibc version to link against.
pub fn zig_target(arch: Arch) -> String {
    format!("{}.{}", arch.rust_target(), LINKED_GLIBC)
}

/// The ELF machine of an instruction set's binaries.
pub fn machine(arch: Arch) -> Machine {
    match arch {
        Arch::Arm64 => Machine::Aarch64,
        Arch::X86_64 => Machine::X86_64,
    }
}

/// What to build.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    pub arch: Arch,
    /// Function names (as in `infra_model::system::FUNCTIONS`); empty means all.
    pub functions: Vec<String>,
    /// Passes `--quiet` to cargo: only warnings and errors, no "Compiling ..." lines.
    pub quiet: bool,
}

impl BuildOptions {
    /// Every function, for `arch`.
    pub fn all(arch: Arch) -> BuildOptions {
        BuildOptions {
            arch,
            ..BuildOptions::default()
        }
    }
}

/// One function's build, with what the report shows.
#[derive(Clone, Debug)]
pub struct BuiltFunction {
    pub artifact: Artifact,
    pub arch: Arch,
    /// `target/lambda/<function>/bootstrap`.
    pub bootstrap: PathBuf,
    pub binary_bytes: u64,
    pub zip_bytes: u64,
    /// Cargo compiled or linked the binary in this build.
    pub compiled: bool,
    /// The zip was written in this build (the binary changed, or there was no valid zip).
    pub zipped: bool,
    /// What the binary needs from the runtime (checked).
    pub elf: ElfInfo,
}

/// Builds the functions' zips and returns them (in `FUNCTIONS` order): the entry point of
/// `cargo xtask deploy`. Does nothing that is already done.
pub fn build(options: &BuildOptions) -> Result<Vec<Artifact>> {
    Ok(build_functions(options)?
        .into_iter()
        .map(|b| b.artifact)
        .collect())
}

/// [`build`], with the details `cargo xtask build` prints.
pub fn build_functions(options: &BuildOptions) -> Result<Vec<BuiltFunction>> {
    let functions = selected(&options.functions)?;
    let arch = options.arch;
    ensure_rust_target(arch)?;
    let cargo_zigbuild = ensure_zig()?;
    let out_root = lambda_dir(arch)?;

    let mut cmd = Command::new(&cargo_zigbuild);
    tools::strip_package_env(&mut cmd);
    cmd.env("CARGO_TARGET_DIR", cross_target_dir()?);
    cmd.arg("zigbuild")
        .args(["--profile", PROFILE, "--target"])
        .arg(zig_target(arch))
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(crate::root())
        .env("PATH", path_with_tools()?);
    for f in &functions {
        cmd.args(["-p", f, "--bin", f]);
    }
    if options.quiet {
        cmd.arg("--quiet");
    }
    let binaries = run_cargo(cmd, &functions, "cargo zigbuild").with_context(|| {
        format!(
            "the {arch} build failed (the compiler's messages are above); run `cargo xtask build --arch {arch}` to retry"
        )
    })?;

    let mut built = Vec::with_capacity(functions.len());
    for f in &functions {
        let binary = binaries
            .get(f.as_str())
            .with_context(|| format!("cargo built no binary for {f}: is it a bin crate named {f}?"))?;
        built.push(
            package(f, arch, binary, &out_root.join(f))
                .with_context(|| format!("cannot make the {arch} artifact of {f}"))?,
        );
    }
    Ok(built)
}

/// The folder of the artifacts of `arch`: `<cargo target dir>/lambda` for arm64,
/// `<cargo target dir>/lambda-x86_64` for x86_64.
pub fn lambda_dir(arch: Arch) -> Result<PathBuf> {
    let dir = match arch {
        Arch::Arm64 => "lambda".to_owned(),
        Arch::X86_64 => "lambda-x86_64".to_owned(),
    };
    Ok(target_dir()?.join(dir))
}

/// Where cargo builds the artifacts: `<cargo target dir>/cross`, a target folder of its own
/// inside the workspace's. Cargo locks a target folder for the whole of a build, so in the
/// shared one a cross build (minutes cold: ten fat-LTO links of about 50 s each) would hold up
/// every `cargo test` and `cargo check` until it ends; in its own they run side by side (`.ci/run`
/// starts it first, in the background). Nothing is built twice: the release dependencies for
/// the target were never shared with the debug builds anyway.
pub fn cross_target_dir() -> Result<PathBuf> {
    Ok(target_dir()?.join("cross"))
}

/// The table `cargo xtask build` prints.
pub fn report(built: &[BuiltFunction]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>10} {:>10}  {:<14} {:<9} binary",
        "function", "binary", "zip", "sha256", "rebuilt"
    );
    for b in built {
        let rebuilt = match (b.compiled, b.zipped) {
            (true, _) => "yes",
            (false, true) => "zip only",
            (false, false) => "no",
        };
        let _ = writeln!(
            out,
            "{:<16} {:>10} {:>10}  {:<14} {:<9} {}",
            b.artifact.function,
            human_bytes(b.binary_bytes),
            human_bytes(b.zip_bytes),
            b.artifact.sha256.get(..12).unwrap_or_default(),
            rebuilt,
            b.elf.summary()
        );
    }
    if let Some(first) = built.first()
        && let Some(dir) = first.artifact.zip.parent().and_then(Path::parent)
    {
        let _ = writeln!(out, "artifacts: {}/<function>/bootstrap.zip", dir.display());
    }
    out
}

/// `1.23 MB` (decimal, as Lambda's limits are given).
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e6 {
        format!("{:.2} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

// ---------------------------------------------------------------------------------------------
// Set-up

/// Installs the Rust standard library of `arch` with rustup when it is missing.
pub fn ensure_rust_target(arch: Arch) -> Result<()> {
    let target = arch.rust_target();
    let sysroot = Command::new(rustc())
        .args(["--print", "sysroot"])
        .output()
        .context("cannot run rustc: is Rust installed (https://rustup.rs)?")?;
    if !sysroot.status.success() {
        bail!(
            "`rustc --print sysroot` failed: {}",
            String::from_utf8_lossy(&sysroot.stderr)
        );
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let std_dir = sysroot.join("lib/rustlib").join(target).join("lib");
    if has_std(&std_dir) {
        return Ok(());
    }
    eprintln!(
        "build: installing the Rust standard library for {target} (first build only): rustup target add {target}"
    );
    let status = Command::new("rustup").args(["target", "add", target]).status();
    match status {
        Ok(s) if s.success() && has_std(&std_dir) => Ok(()),
        Ok(s) => bail!(
            "`rustup target add {target}` failed ({s}); run it yourself and retry (it needs the network once)"
        ),
        Err(_) => bail!(
            "the Rust standard library for {target} is not installed and rustup was not found: \
             install it with `rustup target add {target}` (or your toolchain's equivalent)"
        ),
    }
}

fn has_std(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|mut entries| {
        entries.any(|e| {
            e.is_ok_and(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("libstd-") && name.ends_with(".rlib")
            })
        })
    })
}

/// Installs zig and cargo-zigbuild (pinned, from PyPI) into the tool folder; returns
/// `cargo-zigbuild`.
pub fn ensure_zig() -> Result<PathBuf> {
    tools::ensure(tools::ZIGLANG)
        .context("zig could not be installed: run `cargo xtask tools` to see why")?;
    tools::ensure(tools::CARGO_ZIGBUILD)
        .context("cargo-zigbuild could not be installed: run `cargo xtask tools` to see why")
}

/// `PATH` with the tool folder's `bin/` first: cargo-zigbuild runs zig as `python3 -m ziglang`
/// with the Python that has ziglang.
fn path_with_tools() -> Result<std::ffi::OsString> {
    let bin = tools::bin_dir();
    let mut paths = vec![bin];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).context("a PATH entry contains ':'")
}

fn rustc() -> std::ffi::OsString {
    std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())
}

/// `cargo metadata --no-deps` of the workspace, as JSON.
pub fn workspace_metadata() -> Result<Value> {
    let out = tools::cargo_command()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(crate::root())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run `cargo metadata`")?;
    if !out.status.success() {
        bail!("`cargo metadata` failed ({})", out.status);
    }
    serde_json::from_slice(&out.stdout).context("cannot read `cargo metadata`")
}

/// Cargo's target folder (`CARGO_TARGET_DIR`, `build.target-dir`, or `target/`).
pub fn target_dir() -> Result<PathBuf> {
    let meta = workspace_metadata()?;
    let dir = meta
        .get("target_directory")
        .and_then(Value::as_str)
        .context("`cargo metadata` gave no target_directory")?;
    Ok(PathBuf::from(dir))
}

// ---------------------------------------------------------------------------------------------
// Internals

/// The functions asked for, checked and in `FUNCTIONS` order (all when empty).
fn selected(asked: &[String]) -> Result<Vec<String>> {
    let known: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
    for name in asked {
        if !known.contains(&name.as_str()) {
            bail!(
                "no function named {name:?}; the functions are: {}",
                known.join(", ")
            );
        }
    }
    Ok(known
        .into_iter()
        .filter(|k| asked.is_empty() || asked.iter().any(|a| a == k))
        .map(str::to_owned)
        .collect())
}

/// What `bootstrap.zip.stamp` records about the last zip written.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    format: u32,
    /// Cargo's executable: its size and modification time when it was zipped.
    source: PathBuf,
    source_len: u64,
    source_mtime_ns: u128,
    bootstrap_len: u64,
    bootstrap_mtime_ns: u128,
    zip_len: u64,
    zip_mtime_ns: u128,
    sha256: String,
}

fn mtime_ns(meta: &fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

/// Copies cargo's binary to `dir/bootstrap`, checks it, zips it; or keeps what is there when
/// the stamp says it is the same binary.
fn package(function: &str, arch: Arch, binary: &CargoBinary, dir: &Path) -> Result<BuiltFunction> {
    let source =
        fs::metadata(&binary.path).with_context(|| format!("cannot read {}", binary.path.display()))?;
    let bootstrap = dir.join("bootstrap");
    let zip_path = dir.join("bootstrap.zip");
    let stamp_path = dir.join("bootstrap.zip.stamp");

    let current = |stamp: &Stamp| -> bool {
        let (Ok(b), Ok(z)) = (fs::metadata(&bootstrap), fs::metadata(&zip_path)) else {
            return false;
        };
        stamp.format == STAMP_FORMAT
            && stamp.source == binary.path
            && stamp.source_len == source.len()
            && stamp.source_mtime_ns == mtime_ns(&source)
            && stamp.bootstrap_len == b.len()
            && stamp.bootstrap_mtime_ns == mtime_ns(&b)
            && stamp.zip_len == z.len()
            && stamp.zip_mtime_ns == mtime_ns(&z)
    };
    let stamp: Option<Stamp> = fs::read(&stamp_path)
        .ok()
        .and_then(|s| serde_json::from_slice(&s).ok());
    if let Some(stamp) = stamp.filter(|s| current(s)) {
        let bytes = fs::read(&bootstrap).with_context(|| format!("cannot read {}", bootstrap.display()))?;
        let info = checked_elf(&bytes, arch)?;
        return Ok(BuiltFunction {
            artifact: Artifact {
                function: function.to_owned(),
                zip: zip_path,
                sha256: stamp.sha256,
            },
            arch,
            bootstrap,
            binary_bytes: stamp.bootstrap_len,
            zip_bytes: stamp.zip_len,
            compiled: !binary.fresh,
            zipped: false,
            elf: info,
        });
    }

    let bytes = fs::read(&binary.path).with_context(|| format!("cannot read {}", binary.path.display()))?;
    let info = checked_elf(&bytes, arch)?;
    let zip = crate::zip::single_file("bootstrap", &bytes, 0o755)?;
    let sha256 = hex::encode(Sha256::digest(&zip));
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let _ = fs::remove_file(&stamp_path);
    write_atomically(&bootstrap, &bytes, 0o755)?;
    write_atomically(&zip_path, &zip, 0o644)?;
    let (b, z) = (fs::metadata(&bootstrap)?, fs::metadata(&zip_path)?);
    let stamp = Stamp {
        format: STAMP_FORMAT,
        source: binary.path.clone(),
        source_len: source.len(),
        source_mtime_ns: mtime_ns(&source),
        bootstrap_len: b.len(),
        bootstrap_mtime_ns: mtime_ns(&b),
        zip_len: z.len(),
        zip_mtime_ns: mtime_ns(&z),
        sha256: sha256.clone(),
    };
    write_atomically(&stamp_path, &serde_json::to_vec_pretty(&stamp)?, 0o644)?;
    Ok(BuiltFunction {
        artifact: Artifact {
            function: function.to_owned(),
            zip: zip_path,
            sha256,
        },
        arch,
        bootstrap,
        binary_bytes: b.len(),
        zip_bytes: z.len(),
        compiled: !binary.fresh,
        zipped: true,
        elf: info,
    })
}

fn checked_elf(bytes: &[u8], arch: Arch) -> Result<ElfInfo> {
    let info = elf::read(bytes).context("the binary is not a readable ELF executable")?;
    elf::check_lambda(&info, machine(arch), elf::AL2023_GLIBC)
        .context("refusing the artifact: the provided.al2023 runtime could not run it")?;
    Ok(info)
}

/// Writes `path` through a temporary file and a rename, so that a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// The SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_checked_and_ordered() -> Result<()> {
        assert_eq!(selected(&[])?.len(), FUNCTIONS.len());
        let two = selected(&["payment".into(), "health".into()])?;
        assert_eq!(two, ["health", "payment"]);
        let err = selected(&["nope".into()])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("no function named \"nope\"") && err.contains("orders-api"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn targets() {
        assert_eq!(zig_target(Arch::Arm64), "aarch64-unknown-linux-gnu.2.17");
        assert_eq!(zig_target(Arch::X86_64), "x86_64-unknown-linux-gnu.2.17");
        assert_eq!(Arch::parse("aarch64"), Some(Arch::Arm64));
        assert_eq!(human_bytes(2_345_678), "2.35 MB");
    }
}
