//! Failures against moto: a broken template, a failing create, a half-applied update, a stack
//! moto left in the middle of an operation, prod without `--yes` (part of `tests/deploy.rs`).

use std::collections::BTreeMap;
use std::time::Instant;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use infra_model::Env;
use serde_json::json;
use xtask_ops::deploy::{self, DeployOptions, DeployTarget, DestroyOutcome, LocalUpdates, Outcome, exit};
use xtask_ops::moto::MotoServer;

use super::{options, scratch, sdk, settings, support::write_artifacts, text, xtask};

#[tokio::test]
async fn failures_say_why_and_exit_non_zero() {
    let server = MotoServer::start().unwrap();
    let cfg = sdk(&server).await;
    let dir = scratch("failures");
    let artifacts = write_artifacts(&dir, &BTreeMap::new());

    // A broken template: a reference to nothing.
    let broken = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {"Broken": {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": {"Ref": "Nowhere"},
        }}},
    });
    let target = DeployTarget::new(Env::Dev, settings(&server))
        .with_stack_name("orders-broken")
        .with_template(broken);
    let report = deploy::deploy(&target, &options(&server), &artifacts)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert_eq!(report.exit_code(), exit::FAILED);
    let reason = &report.failures[0].reason;
    assert!(reason.contains("Nowhere"), "{reason}");

    // A stack that fails while creating: a table name another table already has.
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    ddb.create_table()
        .table_name("orders-taken")
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let table = |name: &str| {
        json!({"Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        }})
    };
    let clash = json!({"Resources": {"Taken": table("orders-taken")}});
    let target = DeployTarget::new(Env::Dev, settings(&server))
        .with_stack_name("orders-clash")
        .with_template(clash);
    let report = deploy::deploy(&target, &options(&server), &artifacts)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert!(
        report.failures[0].reason.contains("already exists"),
        "{:?}",
        report.failures
    );

    // Failing again is the same failure (the failed stack is cleared first), and a fixed
    // template deploys.
    let again = deploy::deploy(&target, &options(&server), &artifacts)
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::Failed);
    assert!(
        again.failures[0].reason.contains("already exists"),
        "{:?}",
        again.failures
    );
    let fixed = target
        .clone()
        .with_template(json!({"Resources": {"Free": table("orders-free")}}));
    let report = deploy::deploy(&fixed, &options(&server), &artifacts)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Deployed, "{report:#?}");

    // An update that fails half-way: moto leaves the stack half-applied; the next deploy says so
    // and what to do, and --recreate does it.
    let half = target
        .clone()
        .with_template(json!({"Resources": {"Free": table("orders-free"), "Taken": table("orders-taken")}}));
    let report = deploy::deploy(&half, &options(&server), &artifacts)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    let err = deploy::deploy(&fixed, &options(&server), &artifacts)
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("half-applied") && msg.contains("--recreate"),
        "{msg}"
    );
    let recreate = DeployOptions {
        local_updates: LocalUpdates::Recreate,
        ..options(&server)
    };
    let report = deploy::deploy(&fixed, &recreate, &artifacts).await.unwrap();
    assert_eq!(report.outcome, Outcome::Deployed, "{report:#?}");
    let destroyed = deploy::destroy(&fixed, &options(&server)).await.unwrap();
    assert_eq!(destroyed.outcome, DestroyOutcome::Destroyed);

    // Prod without --yes and without a terminal: not confirmed, nothing changed.
    let prod = DeployTarget::new(Env::Prod, settings(&server))
        .with_template(json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {}}}}));
    let report = deploy::deploy(&prod, &options(&server), &artifacts)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::NotConfirmed);
    assert_eq!(report.exit_code(), exit::NOT_CONFIRMED);
    let cfn = aws_sdk_cloudformation::Client::new(&cfg);
    assert!(
        cfn.describe_stacks()
            .stack_name("orders-prod")
            .send()
            .await
            .is_err(),
        "no stack left"
    );
    let yes = DeployOptions {
        yes: true,
        ..options(&server)
    };
    let report = deploy::deploy(&prod, &yes, &artifacts).await.unwrap();
    assert_eq!(report.outcome, Outcome::Deployed);
    let out = xtask(&server, &["destroy", "--env", "prod"]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::NOT_CONFIRMED)),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("--yes"), "{}", text(&out));
    let out = xtask(&server, &["destroy", "--env", "prod", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let _ = std::fs::remove_dir_all(&dir);
}

/// moto applies each operation within its request, so a local stack in an `*_IN_PROGRESS`
/// state is one moto stopped half-way (here CreateStack with a `Ref` to nothing: HTTP 500, the
/// stack left in CREATE_IN_PROGRESS), and it never ends. A stack busy on AWS is waited for
/// (`tests/deploy_aws/interrupted.rs`); this one is refused at once, with `--recreate`, which
/// deploys.
#[tokio::test]
async fn a_local_stack_left_in_the_middle_of_an_operation_is_refused_at_once_not_waited_for() {
    let server = MotoServer::start().unwrap();
    let cfg = sdk(&server).await;
    let dir = scratch("stuck");
    let artifacts = write_artifacts(&dir, &BTreeMap::new());
    let cfn = aws_sdk_cloudformation::Client::from_conf(
        aws_sdk_cloudformation::config::Builder::from(&cfg)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    );
    let broken = json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {
        "VisibilityTimeout": {"Ref": "Nowhere"},
    }}}});
    let created = cfn
        .create_stack()
        .stack_name("orders-stuck")
        .template_body(broken.to_string())
        .send()
        .await;
    assert!(created.is_err(), "moto answers an internal error");
    let stacks = cfn
        .describe_stacks()
        .stack_name("orders-stuck")
        .send()
        .await
        .unwrap();
    assert_eq!(
        stacks.stacks()[0].stack_status().map(|s| s.as_str()),
        Some("CREATE_IN_PROGRESS")
    );

    let target = DeployTarget::new(Env::Dev, settings(&server))
        .with_stack_name("orders-stuck")
        .with_template(json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {}}}}));
    let started = Instant::now();
    let err = deploy::deploy(&target, &options(&server), &artifacts)
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("(CREATE_IN_PROGRESS)") && msg.contains("--recreate"),
        "{msg}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "refused at once, not after waiting: {:?}",
        started.elapsed()
    );
    let recreate = DeployOptions {
        local_updates: LocalUpdates::Recreate,
        ..options(&server)
    };
    let report = deploy::deploy(&target, &recreate, &artifacts).await.unwrap();
    assert_eq!(report.outcome, Outcome::Deployed, "{report:#?}");
    assert!(report.plan.earlier_operation.is_none());
    let _ = std::fs::remove_dir_all(&dir);
}
