#![allow(clippy::unwrap_used)]
//! `cargo xtask deploy --hotswap`: against moto (a deployed dev stack, one function's zip
//! changed: only that function's code is updated, the stack's parameters stay, a second run
//! finds nothing to do, a template change falls back, prod is refused), and the wait for
//! Lambda's asynchronous update against AWS-shaped replies (moto's updates finish at once):
//! `LastUpdateStatus` `InProgress`, then `Successful` or `Failed` with its reason, as the
//! Lambda API reference documents GetFunction.

mod aws_replies;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use aws_replies::{json, rest_json_error};
use aws_smithy_mocks::mock;
use base64::Engine as _;
use infra_model::Env;
use infra_model::system::parameters;
use serde_json::json;
use support::write_artifacts;
use xtask_ops::deploy::hotswap::{hotswap, update_code};
use xtask_ops::deploy::{
    self, Aws, AwsSettings, DeployOptions, DeployTarget, Outcome, OutputMode, TemplateSource,
};
use xtask_ops::moto::MotoServer;

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("orders-hotswap-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The base64 SHA-256 of a zip, as Lambda's CodeSha256 gives it.
fn code_sha256(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn only_the_changed_functions_code_is_updated_against_moto() {
    let server = MotoServer::start().unwrap();
    let settings = AwsSettings {
        region: Some("us-east-1".into()),
        profile: None,
        endpoint_url: Some(server.endpoint.clone()),
    };
    let options = DeployOptions {
        output: OutputMode::Text,
        emulator_log: Some(server.log_path().to_path_buf()),
        ..DeployOptions::default()
    };
    let dir = scratch("moto");
    let v1 = write_artifacts(&dir.join("v1"), &BTreeMap::new());
    let target = DeployTarget::new(Env::Dev, settings.clone());
    let first = deploy::deploy(&target, &options, &v1).await.unwrap();
    assert_eq!(first.outcome, Outcome::Deployed, "{first:#?}");
    let aws = Aws::connect(&target.aws).await.unwrap();

    // payment's zip changes: only its code is updated, in place.
    let v2 = write_artifacts(&dir.join("v2"), &BTreeMap::from([("payment", 2)]));
    let started = Instant::now();
    let report = hotswap(&aws, &target, &v2, None).await.unwrap();
    let hot = started.elapsed();
    for l in report.lines() {
        eprintln!("{l}");
    }
    assert_eq!(report.fallback, None);
    assert_eq!(report.swapped.len(), 1, "{report:#?}");
    assert_eq!(report.swapped[0].function, "payment");
    let payment = v2.iter().find(|a| a.function == "payment").unwrap();
    let conf = aws
        .lambda
        .get_function_configuration()
        .function_name(&report.swapped[0].function_name)
        .send()
        .await
        .unwrap();
    assert_eq!(conf.code_sha256(), Some(code_sha256(&payment.sha256).as_str()));
    assert!(report.lines().iter().any(|l| l.contains("has drifted")));
    // The stack still names the old zip: it drifted, as said.
    let stack = deploy::read_stack(&aws, &target.stack).await.unwrap().unwrap();
    let key = &stack.parameters[&parameters::code_key(infra_model::system::functions::PAYMENT.id)];
    assert!(!key.contains(&payment.sha256), "{key}");

    // Again: payment runs that zip already, nothing to do.
    let again = hotswap(&aws, &target, &v2, None).await.unwrap();
    assert!(again.fallback.is_none() && again.swapped.is_empty(), "{again:#?}");
    assert!(again.lines()[0].contains("No changes"));

    // The full deploy of the same one-function change, for comparison; it puts the stack right.
    let started = Instant::now();
    let full = deploy::deploy(&target, &options, &v2).await.unwrap();
    let full_time = started.elapsed();
    assert_eq!(full.outcome, Outcome::Deployed, "{full:#?}");
    eprintln!("one function changed: hotswap {hot:?}, full deploy (change set) {full_time:?} against moto");

    // A change of the template is not code alone: a change set it is.
    let mut changed = infra_model::synth(Env::Dev).unwrap().to_value();
    changed["Description"] = json!("another description");
    let custom = DeployTarget {
        template: TemplateSource::Custom(changed),
        ..target.clone()
    };
    let fallback = hotswap(&aws, &custom, &v2, None).await.unwrap();
    assert_eq!(
        fallback.fallback.as_deref(),
        Some("the template changed, not only function code")
    );
    assert!(fallback.lines()[0].contains("deploying through a change set"));

    // Never for prod.
    let prod = DeployTarget::new(Env::Prod, settings);
    let e = hotswap(&aws, &prod, &v2, None).await.unwrap_err();
    assert!(format!("{e:#}").contains("refused for prod"), "{e:#}");
}

fn function_reply(status: &str, reason: Option<&str>) -> serde_json::Value {
    let mut conf = json!({
        "FunctionName": "orders-dev-payment",
        "FunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:orders-dev-payment",
        "Runtime": "provided.al2023",
        "CodeSha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "State": "Active",
        "LastUpdateStatus": status,
    });
    if let Some(r) = reason {
        conf["LastUpdateStatusReason"] = json!(r);
        conf["LastUpdateStatusReasonCode"] = json!("InvalidImage");
    }
    conf
}

#[tokio::test]
async fn the_update_is_waited_for_until_lambda_has_applied_it() {
    let polls = Arc::new(AtomicUsize::new(0));
    let seen = polls.clone();
    let aws = aws_replies::aws(&[
        mock!(aws_sdk_lambda::Client::update_function_code)
            .match_requests(|r| {
                r.function_name() == Some("orders-dev-payment")
                    && r.s3_bucket() == Some("orders-artifacts")
                    && r.s3_key() == Some("functions/payment/ab.zip")
            })
            .then_http_response(|| json(function_reply("InProgress", None))),
        // GetFunction: InProgress once, then Successful.
        mock!(aws_sdk_lambda::Client::get_function).then_http_response(move || {
            let status = if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                "InProgress"
            } else {
                "Successful"
            };
            json(json!({"Configuration": function_reply(status, None), "Code": {"RepositoryType": "S3"}}))
        }),
    ]);
    update_code(
        &aws,
        "orders-dev-payment",
        "orders-artifacts",
        "functions/payment/ab.zip",
    )
    .await
    .unwrap();
    assert_eq!(polls.load(Ordering::SeqCst), 2, "polled until Successful");
}

#[tokio::test]
async fn a_failed_update_says_why() {
    let reason = "The bootstrap file is not executable";
    let aws = aws_replies::aws(&[
        mock!(aws_sdk_lambda::Client::update_function_code)
            .then_http_response(|| json(function_reply("InProgress", None))),
        mock!(aws_sdk_lambda::Client::get_function).then_http_response(move || {
            json(json!({"Configuration": function_reply("Failed", Some(reason)), "Code": {"RepositoryType": "S3"}}))
        }),
        mock!(aws_sdk_lambda::Client::get_function_configuration)
            .then_http_response(move || json(function_reply("Failed", Some(reason)))),
    ]);
    let e = update_code(
        &aws,
        "orders-dev-payment",
        "orders-artifacts",
        "functions/payment/ab.zip",
    )
    .await
    .unwrap_err();
    let text = format!("{e:#}");
    assert!(
        text.contains("ended Failed (The bootstrap file is not executable)"),
        "{text}"
    );

    // An update while another is under way: Lambda's conflict, explained.
    let aws = aws_replies::aws(&[mock!(aws_sdk_lambda::Client::update_function_code).then_http_response(|| {
        rest_json_error(
            409,
            "ResourceConflictException",
            "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:eu-west-1:123456789012:function:orders-dev-payment",
        )
    })]);
    let e = update_code(
        &aws,
        "orders-dev-payment",
        "orders-artifacts",
        "functions/payment/ab.zip",
    )
    .await
    .unwrap_err();
    let text = format!("{e:#}");
    assert!(
        text.contains("update the code of orders-dev-payment") && text.contains("update is in progress"),
        "{text}"
    );
}
