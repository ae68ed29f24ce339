//! One snapshot per environment of the synthesized template, kept in the top-level
//! `snapshots/` folder so that every infrastructure change shows up in review as a diff there.
//!
//! After an intended change: `INSTA_UPDATE=always cargo test -p infra-model --test snapshots`
//! (or `cargo insta review`), then commit `snapshots/`.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use infra_model::Env;
use infra_model::system::stack_name;

fn assert_template_snapshot(env: Env) {
    let yaml = infra_model::synth(env).expect("the model synthesizes").to_yaml();
    insta::with_settings!({
        snapshot_path => "../../snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
        description => format!("cargo xtask synth --env {env} --stdout"),
    }, {
        insta::assert_snapshot!(stack_name(env), yaml);
    });
}

#[test]
fn dev_template() {
    assert_template_snapshot(Env::Dev);
}

#[test]
fn staging_template() {
    assert_template_snapshot(Env::Staging);
}

#[test]
fn prod_template() {
    assert_template_snapshot(Env::Prod);
}

#[test]
fn synthesis_is_deterministic() {
    for env in Env::ALL {
        let a = infra_model::synth(env).unwrap();
        let b = infra_model::synth(env).unwrap();
        assert_eq!(a.to_yaml(), b.to_yaml());
        assert_eq!(a.to_json(), b.to_json());
    }
}
