//! `cargo xtask bench`: the figures the README quotes, measured on this machine.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// The Lambda artifacts (`cargo xtask build`): per function the binary and zip size and the
/// time from process start to its first `GET /next` on the Runtime API (the init phase), for the
/// x86_64 build run natively and the arm64 build run under `qemu-aarch64`; then the build times
/// of the whole workspace for arm64: nothing changed, one function's source touched, and the
/// shared `order-aws` crate touched (every function relinks). A cold build is measured by hand
/// (see the README): it needs an empty target folder.
pub fn lambda_artifacts() -> Result<()> {
    use crate::build::{self, Arch, BuildOptions, BuiltFunction};
    use crate::runtime_api::{FunctionConfig, LocalFunction};

    let quiet = |arch| BuildOptions {
        arch,
        functions: Vec::new(),
        quiet: true,
    };
    let start = Instant::now();
    let arm64 = build::build_functions(&quiet(Arch::Arm64))?;
    let first = start.elapsed();
    let x86 = build::build_functions(&quiet(Arch::X86_64))?;
    let qemu_missing = build::qemu_missing();

    // orders-api and inventory-api read their pagination key from Secrets Manager at start-up:
    // a loopback stand-in answers every request with a secret (the others call nothing at init).
    let secrets = fake_secrets_manager()?;
    // Start-to-ready: median of 5 starts (after one untimed start that warms the page cache).
    let ready = |b: &BuiltFunction| -> Result<Duration> {
        let mut runs = Vec::new();
        for i in 0..6 {
            let mut config = FunctionConfig::new(
                b.artifact.function.clone(),
                build::run_command(b.arch, &b.bootstrap),
            );
            config.env = build::offline_env(&secrets);
            let function = LocalFunction::start(config, std::sync::Arc::new(|_: &str, _: &str| {}))?;
            let took = function.ready(Duration::from_secs(20))?;
            function.shutdown();
            if i > 0 {
                runs.push(took);
            }
        }
        runs.sort();
        Ok(runs[runs.len() / 2])
    };
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    println!(
        "\nLambda artifacts (profile `{}`, provided.al2023); start-to-ready = process start to first /next, median of 5",
        build::PROFILE
    );
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>10} {:>16} {:>16}",
        "function", "arm64 bin", "arm64 zip", "x86 bin", "x86 zip", "ready x86 native", "ready arm64 qemu"
    );
    for (a, x) in arm64.iter().zip(&x86) {
        let native = ms(ready(x)?);
        let emulated = match &qemu_missing {
            None => ms(ready(a)?),
            Some(_) => "no qemu".to_owned(),
        };
        println!(
            "{:<16} {:>10} {:>10} {:>10} {:>10} {:>16} {:>16}",
            a.artifact.function,
            build::human_bytes(a.binary_bytes),
            build::human_bytes(a.zip_bytes),
            build::human_bytes(x.binary_bytes),
            build::human_bytes(x.zip_bytes),
            native,
            emulated
        );
    }
    let total: u64 = arm64.iter().map(|b| b.zip_bytes).sum();
    let largest = arm64.iter().map(|b| b.zip_bytes).max().unwrap_or(0);
    println!(
        "arm64 zips: {} in all, largest {}",
        build::human_bytes(total),
        build::human_bytes(largest)
    );
    if let Some(why) = qemu_missing {
        println!("(no arm64 start-up figures: {why})");
    }

    // Build times of the whole workspace for arm64.
    let timed_build = || -> Result<(Duration, usize)> {
        let start = Instant::now();
        let built = build::build_functions(&quiet(Arch::Arm64))?;
        Ok((start.elapsed(), built.iter().filter(|b| b.compiled).count()))
    };
    let touch = |relative: &str| -> Result<()> {
        let path = crate::root().join(relative);
        std::fs::File::options()
            .append(true)
            .open(&path)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .with_context(|| format!("cannot touch {}", path.display()))
    };
    println!(
        "\narm64 build of all {} functions (cargo zigbuild + check + zip):",
        arm64.len()
    );
    println!(
        "  first call of this run (whatever was stale): {:.1} s",
        first.as_secs_f64()
    );
    let (noop, n) = timed_build()?;
    println!("  nothing changed: {:.1} s ({n} compiled)", noop.as_secs_f64());
    touch("functions/health/src/main.rs")?;
    let (one, n) = timed_build()?;
    println!(
        "  one function's main.rs touched (health): {:.1} s ({n} compiled)",
        one.as_secs_f64()
    );
    touch("functions/order-aws/src/lib.rs")?;
    let (all, n) = timed_build()?;
    println!(
        "  the shared order-aws crate touched: {:.1} s ({n} compiled)",
        all.as_secs_f64()
    );
    Ok(())
}

/// The local system's figures (`cargo xtask bench --dev`): see `xtask::dev::bench`.
pub fn dev_api() -> Result<()> {
    crate::dev::bench::run()
}

/// `http://127.0.0.1:<port>` of a server that answers every request with a Secrets Manager
/// `GetSecretValue` reply, for the rest of this process: enough for a function to start without
/// AWS.
fn fake_secrets_manager() -> Result<String> {
    use local_cloud::serve::{self, BodyLimit, Response};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("cannot bind a loopback port")?;
    let port = listener.local_addr().context("no local address")?.port();
    let reply = r#"{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:k","Name":"k","SecretString":"0123456789abcdef0123456789abcdef","VersionId":"v1"}"#;
    let never = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    serve::serve(
        "bench-secrets",
        listener,
        never,
        BodyLimit::at(1 << 20),
        move |_| Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/x-amz-json-1.1".into())],
            body: reply.as_bytes().to_vec(),
        },
    )?;
    Ok(format!("http://127.0.0.1:{port}"))
}
