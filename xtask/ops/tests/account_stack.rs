//! The account stack's template (infra-model's `system::account`) passes cfn-lint with no
//! finding, informational checks included, as the environments' templates do
//! (`xtask/tests/lint.rs`), in YAML and in the compact JSON deploy sends.

#![allow(clippy::unwrap_used)]

#[test]
fn the_account_stack_template_passes_cfn_lint_with_no_finding() {
    let dir = std::env::temp_dir().join(format!("xtask-account-lint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let t = infra_model::system::account::template().synth().unwrap();
    let yaml = dir.join("orders-account.template.yaml");
    let json = dir.join("orders-account.template.json");
    std::fs::write(&yaml, t.to_yaml()).unwrap();
    std::fs::write(
        &json,
        xtask_ops::deploy::account::template_value().unwrap().to_string(),
    )
    .unwrap();
    let report = xtask_ops::lint::run(&[yaml, json]).unwrap();
    assert!(
        report.findings.is_empty(),
        "cfn-lint:\n{}",
        report.findings.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
