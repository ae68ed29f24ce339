//! The GitHub Actions workflows pass actionlint; the gate fails on a broken workflow.

#![allow(clippy::unwrap_used)]

use std::fs;

#[test]
fn the_workflows_pass_actionlint() {
    let files = xtask::workflows::files().unwrap();
    let names: Vec<_> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["deploy.yml", "pipeline.yml"]);
    let findings = xtask::workflows::lint(&files).unwrap();
    assert!(findings.is_empty(), "actionlint:\n{}", findings.join("\n"));
}

#[test]
fn the_gate_reports_a_broken_workflow() {
    let dir = std::env::temp_dir().join(format!("xtask-workflows-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.yml");
    fs::write(
        &broken,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: missing\n    steps:\n      - run: echo hi\n",
    )
    .unwrap();
    let findings = xtask::workflows::lint(&[broken]).unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].contains("needs job \"missing\""), "{findings:?}");
}

#[test]
fn deploys_of_one_environment_never_overlap_and_prod_needs_its_environment() {
    let root = xtask::root();
    let deploy = fs::read_to_string(root.join(".github/workflows/deploy.yml")).unwrap();
    assert!(deploy.contains("group: deploy-${{ inputs.environment }}"));
    assert!(deploy.contains("cancel-in-progress: false"));
    assert!(deploy.contains("environment: ${{ inputs.environment }}"));
    assert!(deploy.contains("id-token: write"), "OIDC");
    let pipeline = fs::read_to_string(root.join(".github/workflows/pipeline.yml")).unwrap();
    assert!(pipeline.contains("run: cargo xtask ci"));
    assert!(
        !pipeline.contains("aws-access-key-id") && !deploy.contains("aws-access-key-id"),
        "no long-lived keys"
    );
}

#[test]
fn every_deploy_is_followed_by_the_live_api_test() {
    use clap::Parser as _;
    let root = xtask::root();
    let deploy = fs::read_to_string(root.join(".github/workflows/deploy.yml")).unwrap();
    let deployed = deploy.find("run: cargo xtask deploy --env").unwrap();
    let tested = deploy
        .find("run: cargo xtask test-api --env \"${TARGET_ENV}\"")
        .unwrap();
    assert!(tested > deployed, "test-api runs after the deploy step");
    // The command line the step runs is one `cargo xtask` takes.
    let cli = xtask::cli::Cli::try_parse_from(["cargo xtask", "test-api", "--env", "staging"]).unwrap();
    assert!(matches!(cli.command, xtask::cli::Cmd::TestApi { .. }));
    assert!(cli.command.runs_in_ops());
}
