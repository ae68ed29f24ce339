//! The workflows fail when a piped command fails (issue 13, finding 7): every `run:` step with
//! a pipe runs in GitHub's `bash` (`-eo pipefail`), or sets pipefail itself. A diff job and a
//! deploy job of one environment are in one concurrency group.

#![allow(clippy::unwrap_used)]

use xtask::ci::{pipes_without_pipefail, workflows_without_pipefail};

#[test]
fn every_piping_step_of_the_workflows_fails_when_a_piped_command_fails() {
    let found = workflows_without_pipefail().unwrap();
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The diff step as it was: `{ ...; cargo xtask diff ...; } | tee -a "$GITHUB_STEP_SUMMARY"`
/// with no shell set, which GitHub runs with `bash -e`: tee's exit code wins.
const OLD_DIFF_STEP: &str = r####"
on: pull_request
jobs:
  diff:
    runs-on: ubuntu-latest
    steps:
      - name: Change set diff
        run: |
          {
            echo "### staging"
            cargo xtask diff --env staging
          } | tee -a "$GITHUB_STEP_SUMMARY"
      - name: No pipe
        run: cargo xtask ci || echo "an or is not a pipe"
"####;

#[test]
fn the_check_catches_a_pipe_without_pipefail_and_accepts_each_way_to_set_it() {
    let found = pipes_without_pipefail("old.yml", OLD_DIFF_STEP).unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("old.yml: job diff, step 'Change set diff' pipes in GitHub's default shell (bash -e) without pipefail"),
        "{}",
        found[0]
    );

    let at = |yaml: &str| pipes_without_pipefail("w.yml", yaml).unwrap();
    let workflow_level = OLD_DIFF_STEP.replace("jobs:\n", "defaults:\n  run:\n    shell: bash\njobs:\n");
    assert!(at(&workflow_level).is_empty(), "workflow-level defaults");
    let job_level = OLD_DIFF_STEP.replace(
        "    runs-on: ubuntu-latest\n",
        "    runs-on: ubuntu-latest\n    defaults:\n      run:\n        shell: bash\n",
    );
    assert!(at(&job_level).is_empty(), "job-level defaults");
    let step_level = OLD_DIFF_STEP.replace(
        "      - name: Change set diff\n",
        "      - name: Change set diff\n        shell: bash\n",
    );
    assert!(at(&step_level).is_empty(), "step-level shell");
    let in_script = OLD_DIFF_STEP.replace(
        "        run: |\n          {",
        "        run: |\n          set -euo pipefail\n          {",
    );
    assert!(at(&in_script).is_empty(), "set -o pipefail in the script");
    // `sh` has no pipefail: still caught, and named.
    let sh = OLD_DIFF_STEP.replace(
        "      - name: Change set diff\n",
        "      - name: Change set diff\n        shell: sh\n",
    );
    let found = at(&sh);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].contains("pipes in `sh` without pipefail"),
        "{}",
        found[0]
    );
}

#[test]
fn a_diff_and_a_deploy_of_one_environment_share_a_concurrency_group() {
    let root = xtask::root();
    let read = |f: &str| -> serde_yaml::Value {
        serde_yaml::from_str(&std::fs::read_to_string(root.join(".github/workflows").join(f)).unwrap())
            .unwrap()
    };
    let pipeline = read("pipeline.yml");
    let deploy = read("deploy.yml");
    let diff_group = pipeline["jobs"]["diff"]["concurrency"]["group"].as_str().unwrap();
    let deploy_group = deploy["jobs"]["deploy"]["concurrency"]["group"].as_str().unwrap();
    // The same group once the environment is filled in: matrix.environment in the diff job,
    // inputs.environment in the reusable deploy workflow.
    assert_eq!(
        diff_group.replace("matrix.environment", "ENV"),
        deploy_group.replace("inputs.environment", "ENV")
    );
    for (name, w, job) in [
        ("pipeline.yml", &pipeline, "diff"),
        ("deploy.yml", &deploy, "deploy"),
    ] {
        assert_eq!(
            w["jobs"][job]["concurrency"]["cancel-in-progress"].as_bool(),
            Some(false),
            "{name}: never cancelled (a cancelled deploy leaves CloudFormation running)"
        );
    }
}
