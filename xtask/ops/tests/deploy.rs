#![allow(clippy::unwrap_used)]
//! The deploy pipeline against moto server (installed into .tools/ on first use, started on a
//! free loopback port per test): first deploy, no change, a one-function update, diff and deploy
//! agreeing, updates moto cannot apply, failures, destroy. The read-back of the first deploy is in
//! `deploy/readback.rs`, the failures in `deploy/failures.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Instant;

use aws_config::{Region, SdkConfig};
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sts::config::Credentials;
use infra_model::Env;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use xtask_ops::deploy::changes::{Action, ChangeSetKind, ChangeSource};
use xtask_ops::deploy::template::TemplateDelivery;
use xtask_ops::deploy::{
    self, AwsSettings, DeployOptions, DeployTarget, LocalUpdates, Outcome, OutputMode, exit,
};
use xtask_ops::moto::MotoServer;

mod support;
use support::write_artifacts;

#[path = "deploy/failures.rs"]
mod failures;
#[path = "deploy/readback.rs"]
mod readback;
use readback::{base64, check_resources_match_the_template};

// ---------------------------------------------------------------------------------------------
// Helpers

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orders-deploy-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn settings(server: &MotoServer) -> AwsSettings {
    AwsSettings {
        region: Some("us-east-1".into()),
        profile: None,
        endpoint_url: Some(server.endpoint.clone()),
    }
}

fn options(server: &MotoServer) -> DeployOptions {
    DeployOptions {
        output: OutputMode::Text,
        emulator_log: Some(server.log_path().to_path_buf()),
        ..DeployOptions::default()
    }
}

async fn sdk(server: &MotoServer) -> SdkConfig {
    xtask_ops::deploy::aws::sdk_loader()
        .endpoint_url(&server.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

/// `cargo xtask <args>` (the built binary), against the server.
fn xtask(server: &MotoServer, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask-ops"))
        .args(args)
        .args(["--endpoint-url", &server.endpoint])
        .env_remove("CI")
        .output()
        .unwrap();
    eprintln!(
        "$ xtask {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// logical id -> (type, physical id) of every resource of a stack.
async fn stack_resources(cfg: &SdkConfig, stack: &str) -> BTreeMap<String, (String, String)> {
    let cfn = aws_sdk_cloudformation::Client::new(cfg);
    let out = cfn.list_stack_resources().stack_name(stack).send().await.unwrap();
    out.stack_resource_summaries()
        .iter()
        .map(|r| {
            (
                r.logical_resource_id().unwrap_or("").to_owned(),
                (
                    r.resource_type().unwrap_or("").to_owned(),
                    r.physical_resource_id().unwrap_or("").to_owned(),
                ),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The lifecycle

#[tokio::test]
async fn deploy_lifecycle_against_moto() {
    let server = MotoServer::start().unwrap();
    let cfg = sdk(&server).await;
    let dir = scratch("lifecycle");
    let artifacts = write_artifacts(&dir.join("v1"), &BTreeMap::new());
    let target = DeployTarget::new(Env::Dev, settings(&server));
    let stack = target.stack.clone();
    let mut timings = Vec::new();

    // 0. diff before anything exists: every resource to add, and nothing left behind.
    let diff = deploy::diff(&target, &options(&server), &artifacts)
        .await
        .unwrap();
    assert_eq!(diff.plan.change_set, Some(ChangeSetKind::Create));
    assert!(!diff.plan.changes.is_empty() && diff.plan.changes.iter().all(|c| c.action == Action::Add));
    let cfn = aws_sdk_cloudformation::Client::new(&cfg);
    assert!(
        cfn.describe_stacks().stack_name(&stack).send().await.is_err(),
        "diff leaves no stack behind"
    );
    assert_eq!(
        diff.plan.uploads.uploaded.len(),
        infra_model::system::FUNCTIONS.len(),
        "each artifact under its content hash"
    );
    let first_diff = deploy::changes::summary(&diff.plan.changes);

    // 1. First deploy: the stack, through a CREATE change set, the template through S3.
    let t = Instant::now();
    let report = deploy::deploy(&target, &options(&server), &artifacts)
        .await
        .unwrap();
    timings.push(("first deploy", t.elapsed()));
    assert_eq!(report.outcome, Outcome::Deployed, "{report:#?}");
    assert_eq!(report.exit_code(), exit::OK);
    assert_eq!(report.plan.change_set, Some(ChangeSetKind::Create));
    assert_eq!(
        deploy::changes::summary(&report.plan.changes),
        first_diff,
        "diff and deploy agree"
    );
    assert!(
        report.plan.uploads.uploaded.is_empty(),
        "diff uploaded the artifacts already"
    );
    assert_eq!(
        report.plan.uploads.already_there.len(),
        infra_model::system::FUNCTIONS.len()
    );
    assert_eq!(report.plan.template_delivery, TemplateDelivery::ViaS3);
    assert!(report.plan.changes.iter().all(|c| c.action == Action::Add));
    assert!(report.plan.local_notes.iter().any(|n| n.id == "ApiStage"));
    // Every output of the template but the API key's id (the local profile leaves the key out).
    let declared = infra_model::synth(Env::Dev).unwrap().to_value()["Outputs"]
        .as_object()
        .map_or(0, |o| o.len());
    assert_eq!(report.outputs.len(), declared - 1, "{:?}", report.outputs);
    check_resources_match_the_template(&cfg, &stack, &artifacts).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&cfg)
            .force_path_style(true)
            .build(),
    );
    let templates = s3
        .list_objects_v2()
        .bucket(&report.plan.bucket)
        .prefix(format!("templates/{stack}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        templates.contents().len(),
        1,
        "the template went through the bucket"
    );
    let tags: BTreeMap<String, String> = cfn
        .describe_stacks()
        .stack_name(&stack)
        .send()
        .await
        .unwrap()
        .stacks()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned()))
        .collect();
    assert_eq!(tags["app"], "orders");
    assert_eq!(tags["environment"], "dev");
    assert!(!tags["commit"].is_empty());

    // 2. Nothing changed: `No changes`, exit 0, fast, no change set (the command itself).
    let t = Instant::now();
    let out = xtask(
        &server,
        &[
            "deploy",
            "--env",
            "dev",
            "--artifacts",
            dir.join("v1").to_str().unwrap(),
        ],
    );
    timings.push(("no-change deploy (command)", t.elapsed()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("No changes: orders-dev is up to date"),
        "{}",
        text(&out)
    );
    let again = deploy::deploy(&target, &options(&server), &artifacts)
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::NoChanges);
    assert_eq!(again.plan.change_set, None);
    assert!(again.plan.uploads.uploaded.is_empty());

    // 3. One function's code changes: one upload, one function updated, the others untouched.
    let lambda = aws_sdk_lambda::Client::new(&cfg);
    let code = |name: String| {
        let lambda = lambda.clone();
        async move {
            lambda
                .get_function()
                .function_name(name)
                .send()
                .await
                .unwrap()
                .configuration()
                .unwrap()
                .code_sha256()
                .unwrap()
                .to_owned()
        }
    };
    let mut before = BTreeMap::new();
    for f in infra_model::system::FUNCTIONS.iter() {
        before.insert(f.name, code(format!("{stack}-{}", f.name)).await);
    }
    let v2 = write_artifacts(&dir.join("v2"), &BTreeMap::from([("health", 2)]));
    let diff = deploy::diff(&target, &options(&server), &v2).await.unwrap();
    assert_eq!(diff.exit_code(true), exit::CHANGES);
    let t = Instant::now();
    let report = deploy::deploy(&target, &options(&server), &v2).await.unwrap();
    timings.push(("one-function update", t.elapsed()));
    assert_eq!(report.outcome, Outcome::Deployed, "{report:#?}");
    let health_key = format!(
        "functions/health/{}.zip",
        v2.iter().find(|a| a.function == "health").unwrap().sha256
    );
    // diff uploaded it already: deploy found it there. Together: one upload.
    assert_eq!(diff.plan.uploads.uploaded, vec![health_key.clone()]);
    assert!(report.plan.uploads.uploaded.is_empty());
    assert_eq!(
        report.plan.uploads.already_there.len(),
        infra_model::system::FUNCTIONS.len()
    );
    let changed: Vec<(Action, String)> = report
        .plan
        .changes
        .iter()
        .map(|c| (c.action, c.logical_id.clone()))
        .collect();
    assert_eq!(changed, vec![(Action::Modify, "HealthFunction".to_owned())]);
    assert_eq!(report.plan.changes[0].source, ChangeSource::ParameterDiff);
    assert_eq!(
        deploy::changes::summary(&diff.plan.changes),
        deploy::changes::summary(&report.plan.changes),
        "diff and deploy agree"
    );
    for f in infra_model::system::FUNCTIONS.iter() {
        let now = code(format!("{stack}-{}", f.name)).await;
        if f.name == "health" {
            let zip = std::fs::read(dir.join("v2/health/bootstrap.zip")).unwrap();
            assert_eq!(now, base64(&Sha256::digest(&zip)), "health runs the new code");
            assert_ne!(now, before["health"]);
        } else {
            assert_eq!(now, before[f.name], "{} untouched", f.name);
        }
    }

    // 4. A template change: diff and deploy show the same adds, modifies and removes, and the
    // deploy applies them.
    let mut changed = infra_model::synth(Env::Dev).unwrap().to_value();
    let r = changed["Resources"].as_object_mut().unwrap();
    r.insert(
        "ExtraQueue".into(),
        json!({"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 45}}),
    );
    r["OrderEventsQueue"]["Properties"]["VisibilityTimeout"] = json!(200);
    r.remove("Dashboard");
    let changed_target = target.clone().with_template(changed);
    let diff = deploy::diff(&changed_target, &options(&server), &v2)
        .await
        .unwrap();
    let report = deploy::deploy(&changed_target, &options(&server), &v2)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Deployed, "{report:#?}");
    let expected = BTreeSet::from([
        (Action::Add, "ExtraQueue".to_owned()),
        (Action::Modify, "OrderEventsQueue".to_owned()),
        (Action::Remove, "Dashboard".to_owned()),
    ]);
    assert_eq!(deploy::changes::summary(&diff.plan.changes), expected);
    assert_eq!(deploy::changes::summary(&report.plan.changes), expected);
    let physical = stack_resources(&cfg, &stack).await;
    assert!(physical.contains_key("ExtraQueue") && !physical.contains_key("Dashboard"));
    let sqs = aws_sdk_sqs::Client::new(&cfg);
    let vis = sqs
        .get_queue_attributes()
        .queue_url(&physical["OrderEventsQueue"].1)
        .attribute_names(QueueAttributeName::VisibilityTimeout)
        .send()
        .await
        .unwrap();
    assert_eq!(
        vis.attributes().unwrap()[&QueueAttributeName::VisibilityTimeout],
        "200"
    );
    assert!(
        report.outputs.contains_key("OrderEventsQueueUrl"),
        "outputs still there after an update"
    );

    // 5. An update moto cannot apply (a table): refused with what to do, then --recreate.
    let mut tagged = infra_model::synth(Env::Dev).unwrap().to_value();
    tagged["Resources"]["InventoryTable"]["Properties"]["Tags"] = json!([{"Key": "team", "Value": "stock"}]);
    let tagged_target = target.clone().with_template(tagged);
    let err = deploy::deploy(&tagged_target, &options(&server), &v2)
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("InventoryTable (AWS::DynamoDB::Table)") && msg.contains("--recreate"),
        "{msg}"
    );
    assert!(
        stack_resources(&cfg, &stack).await.contains_key("ExtraQueue"),
        "the refused update changed nothing"
    );
    let recreate = DeployOptions {
        local_updates: LocalUpdates::Recreate,
        ..options(&server)
    };
    let report = deploy::deploy(&tagged_target, &recreate, &v2).await.unwrap();
    assert_eq!(report.outcome, Outcome::Deployed, "{report:#?}");
    assert_eq!(report.plan.change_set, Some(ChangeSetKind::Create));
    let physical = stack_resources(&cfg, &stack).await;
    let ddb = aws_sdk_dynamodb::Client::new(&cfg);
    let arn = ddb
        .describe_table()
        .table_name(&physical["InventoryTable"].1)
        .send()
        .await
        .unwrap()
        .table()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_owned();
    let tags = ddb
        .list_tags_of_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == "team" && t.value() == "stock")
    );
    let apis = aws_sdk_apigateway::Client::new(&cfg)
        .get_rest_apis()
        .send()
        .await
        .unwrap();
    assert_eq!(
        apis.items().len(),
        1,
        "the recreate deleted the REST API moto left behind"
    );

    // 6. seed-inventory, status, outputs (the commands).
    let out = xtask(&server, &["seed-inventory", "--env", "dev"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let items = ddb
        .scan()
        .table_name(&physical["InventoryTable"].1)
        .send()
        .await
        .unwrap();
    assert!(
        items
            .items()
            .iter()
            .any(|i| i.get("sku").and_then(|s| s.as_s().ok()).map(String::as_str) == Some("laptop"))
    );
    let out = xtask(&server, &["status", "--env", "dev", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["exists"], json!(true));
    // The health view: every declared queue's depth, the workflow's failures, the dashboard.
    let health = &status["health"];
    assert_eq!(
        health["queues"].as_array().map(Vec::len),
        Some(infra_model::system::QUEUES.len()),
        "{health}"
    );
    assert_eq!(health["failedExecutionsLastHour"], json!(0), "{health}");
    eprintln!("status health against moto: {health}");
    assert!(
        health["dashboardUrl"]
            .as_str()
            .is_some_and(|u| u.ends_with("#dashboards:name=orders-dev")),
        "{health}"
    );

    let out = xtask(&server, &["outputs", "--env", "dev"]);
    assert!(text(&out).contains("InventoryTableName"), "{}", text(&out));
    // api-key: moto makes no API key through CloudFormation, and the command says so (the
    // real path is tested with AWS-shaped replies: tests/api_key.rs).
    let out = xtask(&server, &["api-key", "--env", "dev"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("moto does not create API keys"),
        "{}",
        text(&out)
    );
    // dlq: every dead-letter queue and failure destination of the model, by its output.
    let out = xtask(&server, &["dlq", "--env", "dev"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for q in xtask_ops::deploy::dlq::declared() {
        assert!(text(&out).contains(q.queue.name), "{}", text(&out));
    }
    // logs: the stack's log groups read (the functions never run in moto: no lines).
    let out = xtask(&server, &["logs", "--env", "dev", "--since", "1h"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = xtask(&server, &["logs", "--env", "dev", "--function", "nope"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("no function named \"nope\""),
        "{}",
        text(&out)
    );
    let out = xtask(&server, &["api-key", "--env", "staging"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("orders-staging does not exist: deploy it first"),
        "{}",
        text(&out)
    );

    // 7. destroy (the command): the stack, the REST API moto leaves, the stand-in secret.
    let t = Instant::now();
    let out = xtask(&server, &["destroy", "--env", "dev"]);
    timings.push(("destroy (command)", t.elapsed()));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("Destroyed orders-dev"), "{}", text(&out));
    let out = xtask(&server, &["status", "--env", "dev"]);
    assert!(text(&out).contains("does not exist"), "{}", text(&out));
    let apis = aws_sdk_apigateway::Client::new(&cfg)
        .get_rest_apis()
        .send()
        .await
        .unwrap();
    assert!(apis.items().is_empty(), "no REST API left behind");
    let secrets = aws_sdk_secretsmanager::Client::new(&cfg)
        .list_secrets()
        .send()
        .await
        .unwrap();
    assert!(secrets.secret_list().is_empty(), "no stand-in secret left behind");
    assert!(ddb.list_tables().send().await.unwrap().table_names().is_empty());

    for (what, d) in &timings {
        eprintln!("timing: {what}: {:.2} s", d.as_secs_f64());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_artifacts_name_the_build_command() {
    let dir = scratch("missing");
    let err = deploy::artifacts_from_dir(&dir).unwrap_err().to_string();
    assert!(
        err.contains("missing function zip") && err.contains("cargo xtask build"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn errors_users_meet_say_what_to_do() {
    // Nothing listening: the emulator is not running.
    let port = xtask_ops::moto::free_port().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask-ops"))
        .args([
            "status",
            "--env",
            "dev",
            "--endpoint-url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("is the emulator running?"), "{}", text(&out));

    // No credentials anywhere (and no network needed to find that out).
    let empty = scratch("no-credentials");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask-ops"))
        .args(["status", "--env", "dev", "--region", "eu-west-1"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &empty)
        .env("AWS_CONFIG_FILE", empty.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", empty.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("no usable AWS credentials") && t.contains("aws sso login"),
        "{t}"
    );
    let _ = std::fs::remove_dir_all(&empty);
}
