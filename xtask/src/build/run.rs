//! Running an artifact on this machine (the qemu proof, the benchmark): qemu for arm64, and an
//! environment with dummy bindings and no reachable AWS.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use infra_model::system::FUNCTIONS;

use super::Arch;

/// Where Debian's `libc6-arm64-cross` puts the aarch64 glibc that a dynamic arm64 binary loads.
pub const AARCH64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// The one-time install of what runs arm64 binaries on an x86_64 Debian/Ubuntu machine.
pub const QEMU_INSTALL: &str = "apt-get install -y --no-install-recommends qemu-user libc6-arm64-cross";

/// Why arm64 binaries cannot run here, or `None` when `qemu-aarch64` and the aarch64 glibc are
/// installed (binfmt_misc is not needed: qemu is called explicitly).
pub fn qemu_missing() -> Option<String> {
    let qemu = Command::new("qemu-aarch64")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let sysroot = Path::new(AARCH64_SYSROOT)
        .join("lib/ld-linux-aarch64.so.1")
        .exists();
    let missing = match (qemu, sysroot) {
        (true, true) => return None,
        (false, false) => "qemu-aarch64 and the aarch64 glibc (/usr/aarch64-linux-gnu) are",
        (false, true) => "qemu-aarch64 is",
        (true, false) => "the aarch64 glibc (/usr/aarch64-linux-gnu) is",
    };
    Some(format!("{missing} not installed: run `{QEMU_INSTALL}` (as root)"))
}

/// The command that runs a function's `bootstrap` of `arch` on this (x86_64) machine: the binary
/// itself, or `qemu-aarch64 -L /usr/aarch64-linux-gnu <bootstrap>`.
pub fn run_command(arch: Arch, bootstrap: &Path) -> Vec<std::ffi::OsString> {
    let native = match arch {
        Arch::Arm64 => cfg!(target_arch = "aarch64"),
        Arch::X86_64 => cfg!(target_arch = "x86_64"),
    };
    if native {
        vec![bootstrap.into()]
    } else {
        vec![
            "qemu-aarch64".into(),
            "-L".into(),
            AARCH64_SYSROOT.into(),
            bootstrap.into(),
        ]
    }
}

/// The environment a function gets from its stack, with dummy values and no reachable AWS: every
/// binding variable (a dummy table name, queue URL, ARN), `APP_ENVIRONMENT=dev`, the region,
/// dummy credentials, no instance metadata, and `AWS_ENDPOINT_URL=aws_endpoint` (a closed
/// loopback port makes every AWS call fail at once).
pub fn offline_env(aws_endpoint: &str) -> BTreeMap<String, String> {
    use infra_model::decl::Target;
    let mut env = BTreeMap::new();
    for b in FUNCTIONS.iter().flat_map(|f| f.bindings) {
        let id = b.target.id();
        let value = match b.target {
            Target::Table(_) => format!("orders-local-{id}"),
            Target::Queue(_) => format!("{aws_endpoint}/123456789012/orders-local-{id}"),
            Target::Topic(_) => format!("arn:aws:sns:us-east-1:123456789012:orders-local-{id}"),
            Target::Workflow(_) => {
                format!("arn:aws:states:us-east-1:123456789012:stateMachine:orders-local-{id}")
            }
            Target::Secret(_) => {
                format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:orders-local-{id}")
            }
        };
        env.insert(b.target.env_var(), value);
    }
    env.insert(
        infra_model::system::functions::config::ENVIRONMENT.var.to_owned(),
        "dev".to_owned(),
    );
    for (k, v) in [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDLOCALEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "local-secret-access-key-example"),
        ("AWS_SESSION_TOKEN", "local-session-token"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", aws_endpoint),
    ] {
        env.insert(k.to_owned(), v.to_owned());
    }
    env
}

/// `http://127.0.0.1:<port>` where nothing listens (a port just freed).
pub fn closed_endpoint() -> Result<String> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("cannot bind a loopback port")?;
    let port = listener.local_addr().context("no local address")?.port();
    Ok(format!("http://127.0.0.1:{port}"))
}
