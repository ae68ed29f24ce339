//! cfn-lint on every synthesized template: no error, warning or informational finding.
//! cfn-lint (pinned) is installed into the project's tool folder on first use.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::fs;
use std::path::PathBuf;

use infra_model::Env;
use xtask::{lint, synth};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-lint-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_template_passes_cfn_lint_with_no_finding() {
    let stacks = synth::synth(&Env::ALL).unwrap();
    let dir = scratch("all");
    let mut files = synth::write(&stacks, &dir, synth::Format::Both).unwrap();
    files.sort();
    assert_eq!(files.len(), 6);
    let report = lint::run(&files).unwrap();
    assert!(
        report.findings.is_empty(),
        "cfn-lint findings:\n{}",
        report.findings.join("\n")
    );
}

#[test]
fn the_lint_gate_reports_what_is_wrong() {
    // Proves the gate above can fail: a template with an unknown property value and a queue
    // whose redrive points at nothing gets findings, each with its rule id.
    let dir = scratch("broken");
    let broken = dir.join("broken.template.yaml");
    fs::write(
        &broken,
        "AWSTemplateFormatVersion: 2010-09-09\nResources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: FREE\n      KeySchema:\n      - AttributeName: id\n        KeyType: HASH\n      AttributeDefinitions:\n      - AttributeName: id\n        AttributeType: S\n",
    )
    .unwrap();
    let report = lint::run(&[broken]).unwrap();
    assert!(!report.findings.is_empty());
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.contains("FREE") && f.contains(":E")),
        "{:#?}",
        report.findings
    );
}
