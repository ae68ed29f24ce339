//! The security scan (checkov, pinned, installed into the tool folder on first use) of every
//! synthesized template and the IAM policies in them: each finding is fixed or suppressed in
//! the resource's metadata with a reason. The findings that need an infra-model change are
//! listed below, named one by one, and reported as skipped; empty the list once they are
//! fixed (it must equal `xtask::ci::PENDING_SCAN_FINDINGS`, which `cargo xtask scan` reads).

#![allow(clippy::unwrap_used)]

use xtask::ci::{PENDING_SCAN_FINDINGS, scan, templates_to_scan};

/// (check id, template, resource): issue 13's list of findings awaiting an infra-model change.
const AWAITING_INFRA_MODEL: &[(&str, &str, &str)] = &[
    // Dev has no point-in-time recovery (a setting); needs a suppression with its reason.
    (
        "CKV_AWS_28",
        "orders-dev.template.yaml",
        "AWS::DynamoDB::Table.BusinessesTable",
    ),
    (
        "CKV_AWS_28",
        "orders-dev.template.yaml",
        "AWS::DynamoDB::Table.InventoryTable",
    ),
    (
        "CKV_AWS_28",
        "orders-dev.template.yaml",
        "AWS::DynamoDB::Table.OrdersTable",
    ),
    // Invoked by event source mappings (synchronously), whose failures have their own
    // destinations; the NO_FUNCTION_DLQ suppression covers only the API and workflow functions.
    (
        "CKV_AWS_116",
        "orders-dev.template.yaml",
        "AWS::Lambda::Function.ReserveStockFunction",
    ),
    (
        "CKV_AWS_116",
        "orders-dev.template.yaml",
        "AWS::Lambda::Function.StartWorkflowFunction",
    ),
    (
        "CKV_AWS_116",
        "orders-staging.template.yaml",
        "AWS::Lambda::Function.ReserveStockFunction",
    ),
    (
        "CKV_AWS_116",
        "orders-staging.template.yaml",
        "AWS::Lambda::Function.StartWorkflowFunction",
    ),
    (
        "CKV_AWS_116",
        "orders-prod.template.yaml",
        "AWS::Lambda::Function.ReserveStockFunction",
    ),
    (
        "CKV_AWS_116",
        "orders-prod.template.yaml",
        "AWS::Lambda::Function.StartWorkflowFunction",
    ),
];

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-scan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_template_passes_the_security_scan_or_its_finding_is_listed_for_a_fix() {
    assert_eq!(
        AWAITING_INFRA_MODEL, PENDING_SCAN_FINDINGS,
        "the test's list and `cargo xtask scan`'s list must be the same"
    );
    let dir = scratch("all");
    let files = templates_to_scan(&dir).unwrap();
    assert_eq!(
        files.len(),
        4,
        "three environments and the account stack: {files:?}"
    );
    let findings = scan(&files).unwrap();
    let mut unexpected = Vec::new();
    for f in &findings {
        if AWAITING_INFRA_MODEL
            .iter()
            .any(|(id, file, r)| *id == f.check_id && *file == f.file && *r == f.resource)
        {
            eprintln!("skipped, listed for an infra-model change (issue 13): {f}");
        } else {
            unexpected.push(f.to_string());
        }
    }
    assert!(
        unexpected.is_empty(),
        "checkov findings:\n{}",
        unexpected.join("\n")
    );
    // A listed finding that is gone must leave the list (so the list cannot hide a new one).
    for (id, file, r) in AWAITING_INFRA_MODEL {
        assert!(
            findings
                .iter()
                .any(|f| f.check_id == *id && f.file == *file && f.resource == *r),
            "{id} {r} in {file} is fixed: remove it from the lists"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_scan_reports_an_insecure_template_and_a_wildcard_iam_policy() {
    let dir = scratch("broken");
    let broken = dir.join("broken.template.yaml");
    std::fs::write(
        &broken,
        "AWSTemplateFormatVersion: 2010-09-09\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Properties: {}\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Version: 2012-10-17\n        Statement:\n        - Effect: Allow\n          Principal: {Service: lambda.amazonaws.com}\n          Action: sts:AssumeRole\n      Policies:\n      - PolicyName: everything\n        PolicyDocument:\n          Version: 2012-10-17\n          Statement:\n          - Effect: Allow\n            Action: '*'\n            Resource: '*'\n",
    )
    .unwrap();
    let findings = scan(&[broken]).unwrap();
    let ids: Vec<&str> = findings.iter().map(|f| f.check_id.as_str()).collect();
    assert!(
        findings.iter().any(|f| f.resource == "AWS::SQS::Queue.Queue"),
        "an unencrypted queue: {ids:?}"
    );
    assert!(
        findings.iter().any(|f| f.resource == "AWS::IAM::Role.Role"),
        "a wildcard IAM policy: {ids:?}"
    );
    assert!(findings.iter().all(|f| f.file == "broken.template.yaml"));
    let _ = std::fs::remove_dir_all(&dir);
}
