//! The `synth` command as a user runs it.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("the xtask binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn bare_command_prints_help() {
    let out = xtask(&[]);
    let help = text(&out.stderr) + &text(&out.stdout);
    assert!(!out.status.success());
    for cmd in ["synth", "lint", "bench", "tools"] {
        assert!(help.contains(cmd), "help lacks {cmd}: {help}");
    }
}

#[test]
fn synth_writes_three_templates_with_identical_bytes_each_time() {
    let read_all = |dir: &Path| {
        let mut files: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    fs::read(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let (a, b) = (scratch("a"), scratch("b"));
    for dir in [&a, &b] {
        let out = xtask(&["synth", "--format", "both", "--out", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let summary = text(&out.stdout);
        for env in ["dev", "staging", "prod"] {
            assert!(
                summary.contains(&format!("orders-{env}.template.yaml")),
                "{summary}"
            );
        }
        assert!(summary.contains("resources"));
    }
    let files = read_all(&a);
    let names: Vec<_> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "orders-dev.openapi.json",
            "orders-dev.template.json",
            "orders-dev.template.yaml",
            "orders-prod.openapi.json",
            "orders-prod.template.json",
            "orders-prod.template.yaml",
            "orders-staging.openapi.json",
            "orders-staging.template.json",
            "orders-staging.template.yaml"
        ]
    );
    assert_eq!(files, read_all(&b));
}

#[test]
fn stdout_prints_one_environment_and_refuses_several() {
    let out = xtask(&["synth", "--env", "prod", "--stdout"]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).starts_with(
            "AWSTemplateFormatVersion: 2010-09-09\nDescription: 'Order processing backend (prod)"
        )
    );
    let out = xtask(&["synth", "--stdout"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("--stdout prints one environment: add --env dev"));
}

#[test]
fn unknown_environment_is_refused_with_the_choices() {
    let out = xtask(&["synth", "--env", "production"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("production") && err.contains("dev, staging, prod, all"),
        "{err}"
    );
}

#[test]
fn check_passes_on_the_committed_snapshots() {
    let out = xtask(&["synth", "--check"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("snapshots are up to date (3 environments)"));
}

#[test]
fn check_fails_with_a_readable_diff_when_one_property_changes() {
    let dir = scratch("stale");
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../snapshots");
    for env in ["dev", "staging", "prod"] {
        let name = format!("orders-{env}.snap");
        fs::copy(committed.join(&name), dir.join(&name)).unwrap();
    }
    // The committed prod snapshot says what an older model said: one property differs.
    let prod = dir.join("orders-prod.snap");
    let snap = fs::read_to_string(&prod).unwrap();
    assert!(snap.contains("VisibilityTimeout: 180"));
    fs::write(
        &prod,
        snap.replacen("VisibilityTimeout: 180", "VisibilityTimeout: 120", 1),
    )
    .unwrap();

    let out = xtask(&["synth", "--check", "--snapshots", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("-      VisibilityTimeout: 120\n+      VisibilityTimeout: 180"),
        "{err}"
    );
    assert!(err.contains("orders-prod.snap (committed)"), "{err}");
    assert!(err.contains("1 template(s) differ"), "{err}");
    assert!(
        err.contains("INSTA_UPDATE=always cargo test -p infra-model --test snapshots"),
        "{err}"
    );

    fs::remove_file(dir.join("orders-dev.snap")).unwrap();
    let out = xtask(&["synth", "--check", "--snapshots", dir.to_str().unwrap()]);
    assert!(text(&out.stderr).contains("orders-dev.snap: missing"));
}
