//! The security scan (checkov, pinned, installed into the tool folder on first use) of every
//! synthesized template and the IAM policies in them: each finding is fixed or suppressed in
//! the resource's metadata with a reason (`infra-model/src/system/security.rs`).

#![allow(clippy::unwrap_used)]

use xtask::ci::{scan, templates_to_scan};

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-scan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_template_passes_the_security_scan() {
    let dir = scratch("all");
    let files = templates_to_scan(&dir).unwrap();
    assert_eq!(
        files.len(),
        4,
        "three environments and the account stack: {files:?}"
    );
    let findings = scan(&files).unwrap();
    let unexpected: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert!(
        unexpected.is_empty(),
        "checkov findings (fix each, or suppress it in the resource's metadata with its reason):\n{}",
        unexpected.join("\n")
    );
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
