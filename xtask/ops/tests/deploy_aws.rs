//! The deploy code that runs only against AWS, tested with replies shaped as the
//! CloudFormation API reference documents them (`aws-smithy-mocks` rules, `aws_replies`): the classification of
//! stack states, the FAILED empty change set, per-property change details, resource-level
//! events, failure and rollback reports, Ctrl-C while following, expired credentials while
//! following, the time limit, and prod's termination protection; and a deploy interrupted,
//! then a new deploy (`deploy_aws/interrupted.rs`).

#![allow(clippy::unwrap_used)]

mod aws_replies;
#[path = "deploy_aws/interrupted.rs"]
mod interrupted;

use std::time::Duration;

use aws_replies::script::{Script, change};
use aws_replies::world::{ACCOUNT_STACK, Seen, World, artifacts, scratch};
use aws_replies::*;
use aws_smithy_mocks::{MockResponse, Rule, mock};
use infra_model::Env;
use serde_json::Value;
use xtask_ops::deploy::changes::{Action, Replaces};
use xtask_ops::deploy::{self, DeployOptions, DeployTarget, DestroyOutcome, Outcome, OutputMode, exit};

fn quiet() -> DeployOptions {
    DeployOptions {
        output: OutputMode::Quiet,
        ..DeployOptions::default()
    }
}

/// The world of an account where the account stack is in place and nothing is in the way.
fn settled() -> World {
    let role = format!("arn:aws:iam::{ACCOUNT}:role/orders-account-ApiGatewayCloudWatchRole-9Z8Y");
    World {
        bucket_region: Some(REGION.into()),
        cloudwatch_role: Some(role.clone()),
        account_stack_role: Some(role),
        ..World::default()
    }
}

/// The environment's template as deployed before: one queue's visibility differs.
fn deployed(env: Env) -> Value {
    let mut t = infra_model::synth(env).unwrap().to_value();
    t["Resources"]["OrderEventsQueue"]["Properties"]["VisibilityTimeout"] = serde_json::json!(180);
    t
}

async fn run_deploy(
    env: Env,
    script: &Script,
    options: DeployOptions,
    seen: &Seen,
) -> anyhow::Result<deploy::DeployReport> {
    let aws = aws(&script.rules(&settled(), &deployed(env), seen));
    run_deploy_on(&aws, env, options).await
}

async fn run_deploy_on(
    aws: &xtask_ops::deploy::Aws,
    env: Env,
    options: DeployOptions,
) -> anyhow::Result<deploy::DeployReport> {
    let dir = scratch(&format!("deploy-{}-{}", env.name(), rand_suffix()));
    let target = DeployTarget::new(env, aws.settings.clone());
    let out = deploy::deploy_with(aws, &target, &options, &artifacts(&dir)).await;
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[tokio::test]
async fn stack_states_are_classified_and_each_refusal_says_what_to_do() {
    let cases: [(&str, &[&str]); 5] = [
        (
            "ROLLBACK_COMPLETE",
            &[
                "orders-staging is in ROLLBACK_COMPLETE",
                "cargo xtask status --env staging",
                "cargo xtask destroy --env staging` and deploy again",
                "preflight names each one left in the way",
            ],
        ),
        (
            "UPDATE_ROLLBACK_FAILED",
            &[
                "aws cloudformation continue-update-rollback --stack-name orders-staging --region eu-west-1",
                "--resources-to-skip LOGICAL_ID",
            ],
        ),
        (
            "DELETE_FAILED",
            &["an earlier destroy could not delete some resources"],
        ),
        // An update, a create or a rollback running is waited for (`interrupted.rs`); a
        // destroy running is not.
        (
            "DELETE_IN_PROGRESS",
            &[
                "orders-staging is being deleted (DELETE_IN_PROGRESS): a destroy is running",
                "deploy again to create the stack anew",
            ],
        ),
        ("ROLLBACK_FAILED", &["orders-staging is in ROLLBACK_FAILED"]),
    ];
    for (status, needles) in cases {
        let rules = vec![
            mock!(aws_sdk_cloudformation::Client::describe_stacks).then_http_response(move || {
                StackXml {
                    reason: Some("The following resource(s) failed to create: [OrdersTable]."),
                    ..StackXml::new("orders-staging", status)
                }
                .reply()
            }),
        ];
        let aws = aws(&rules);
        let err = run_deploy_on(&aws, Env::Staging, quiet()).await.unwrap_err();
        let msg = format!("{err:#}");
        for n in needles {
            assert!(msg.contains(n), "{status}: missing {n:?} in:\n{msg}");
        }
    }
}

#[tokio::test]
async fn diff_shows_each_property_change_with_its_values_and_flags_replacements() {
    let seen = Seen::default();
    let script = Script {
        change_set: Ok([
            change(
                "Modify",
                "OrderEventsQueue",
                "AWS::SQS::Queue",
                "False",
                "Properties",
                &[("VisibilityTimeout", "Never", Some(("180", "200")))],
            ),
            change(
                "Modify",
                "OrdersTable",
                "AWS::DynamoDB::Table",
                "True",
                "Properties",
                &[("KeySchema", "Always", None)],
            ),
            change(
                "Modify",
                "HealthFunction",
                "AWS::Lambda::Function",
                "False",
                "Tags",
                &[],
            ),
        ]
        .concat()),
        ..Script::new("orders-staging")
    };
    let aws = aws(&script.rules(&settled(), &deployed(Env::Staging), &seen));
    let dir = scratch("diff-details");
    let target = DeployTarget::new(Env::Staging, aws.settings.clone());
    let report = deploy::diff_with(&aws, &target, &quiet(), &artifacts(&dir))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let changes = &report.plan.changes;
    let queue = changes
        .iter()
        .find(|c| c.logical_id == "OrderEventsQueue")
        .unwrap();
    assert_eq!(queue.action, Action::Modify);
    assert_eq!(queue.details, ["VisibilityTimeout (180 -> 200)"]);
    let table = changes.iter().find(|c| c.logical_id == "OrdersTable").unwrap();
    assert_eq!(table.replacement, Replaces::Yes);
    assert_eq!(table.details, ["KeySchema!"]);
    let text =
        deploy::changes::render("orders-staging", deploy::changes::ChangeSetKind::Update, changes).join("\n");
    assert!(
        text.contains("~ modify   OrderEventsQueue") && text.contains("VisibilityTimeout (180 -> 200)"),
        "{text}"
    );
    assert!(
        text.contains("WARNING: OrdersTable (AWS::DynamoDB::Table) WILL BE REPLACED"),
        "{text}"
    );
    assert!(
        text.contains("1 resource(s) whose only change is their tags"),
        "{text}"
    );
    assert!(
        seen.has("DeleteChangeSet"),
        "diff deletes its change set: {:?}",
        seen.all()
    );
    assert!(!seen.has("ExecuteChangeSet"));
    let preflight = report.plan.preflight.as_ref().unwrap();
    assert!(!preflight.account.changes_something());
    assert_eq!(report.exit_code(true), exit::CHANGES);
}

#[tokio::test]
async fn the_failed_empty_change_set_is_no_changes_and_is_deleted() {
    let seen = Seen::default();
    let script = Script {
        change_set: Err(
            "The submitted information didn't contain changes. Submit different information to create a change set."
                .into(),
        ),
        ..Script::new("orders-staging")
    };
    let report = run_deploy(Env::Staging, &script, quiet(), &seen).await.unwrap();
    assert_eq!(report.outcome, Outcome::NoChanges, "{report:#?}");
    assert_eq!(report.exit_code(), exit::OK);
    assert!(
        seen.has("DeleteChangeSet"),
        "AWS keeps a FAILED change set: {:?}",
        seen.all()
    );
    assert!(!seen.has("ExecuteChangeSet"));
}

/// An update whose function fails, and the rollback that follows.
fn failing_update(stack: &'static str) -> Script {
    Script {
        statuses: vec![
            "UPDATE_IN_PROGRESS",
            "UPDATE_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE",
        ],
        change_set: Ok(change(
            "Modify",
            "OrderEventsQueue",
            "AWS::SQS::Queue",
            "False",
            "Properties",
            &[("VisibilityTimeout", "Never", Some(("180", "200")))],
        )),
        ..Script::new(stack)
    }
    .event(0, stack, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", Some("User Initiated"))
    .event(1, "OrderEventsQueue", "AWS::SQS::Queue", "UPDATE_IN_PROGRESS", None)
    .event(
        1,
        "OrdersApiFunction",
        "AWS::Lambda::Function",
        "UPDATE_FAILED",
        Some("Resource handler returned message: \"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].\" (Service: Lambda, Status Code: 400)"),
    )
    .event(2, "OrderEventsQueue", "AWS::SQS::Queue", "UPDATE_FAILED", Some("Resource update cancelled"))
    .event(2, stack, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_IN_PROGRESS", Some("The following resource(s) failed to update: [OrdersApiFunction]."))
    .event(3, "OrderEventsQueue", "AWS::SQS::Queue", "UPDATE_COMPLETE", None)
    .event(3, stack, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE", None)
}

#[tokio::test(start_paused = true)]
async fn a_failed_update_reports_each_failed_resource_and_the_rollback() {
    let seen = Seen::default();
    let report = run_deploy(Env::Staging, &failing_update("orders-staging"), quiet(), &seen)
        .await
        .unwrap();
    assert_eq!(report.outcome, Outcome::Failed, "{report:#?}");
    assert_eq!(report.exit_code(), exit::FAILED);
    assert_eq!(report.status.as_deref(), Some("UPDATE_ROLLBACK_COMPLETE"));
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let f = &report.failures[0];
    assert_eq!(
        (f.logical_id.as_str(), f.resource_type.as_str(), f.status.as_str()),
        ("OrdersApiFunction", "AWS::Lambda::Function", "UPDATE_FAILED")
    );
    assert!(
        f.reason.contains("below its minimum value of [100]"),
        "{}",
        f.reason
    );
    assert_eq!(
        report.cancelled, 1,
        "the queue's update was cancelled by the failure"
    );
    assert!(seen.has("ExecuteChangeSet"));
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_while_following_says_the_update_goes_on_and_how_to_watch_and_cancel_it() {
    let seen = Seen::default();
    let script = Script {
        statuses: vec!["UPDATE_IN_PROGRESS"],
        ..failing_update("orders-staging")
    };
    let aws = aws(&script.rules(&settled(), &deployed(Env::Staging), &seen));
    // What Ctrl-C does, without a signal: the first wait while following is interrupted.
    aws.interrupt.notify_one();
    let err = run_deploy_on(&aws, Env::Staging, quiet()).await.unwrap_err();
    let msg = format!("{err:#}");
    for n in [
        "stopped following orders-staging (interrupted)",
        "The stack operation is still running in CloudFormation (orders-staging is UPDATE_IN_PROGRESS): nothing was stopped",
        "watch it with `cargo xtask status --env staging`",
        "aws cloudformation cancel-update-stack --stack-name orders-staging --region eu-west-1",
    ] {
        assert!(msg.contains(n), "missing {n:?} in:\n{msg}");
    }
}

#[tokio::test(start_paused = true)]
async fn expired_credentials_while_following_say_the_operation_is_still_running() {
    let seen = Seen::default();
    let script = Script {
        expire_after_execute: true,
        ..failing_update("orders-staging")
    };
    let err = run_deploy(Env::Staging, &script, quiet(), &seen)
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    for n in [
        "the AWS session expired while following it",
        "ExpiredToken: The security token included in the request is expired",
        "The stack operation is still running in CloudFormation",
        "log in again",
        "cargo xtask status --env staging",
    ] {
        assert!(msg.contains(n), "missing {n:?} in:\n{msg}");
    }
}

#[tokio::test(start_paused = true)]
async fn following_gives_up_at_the_time_limit_and_says_what_is_still_running() {
    let seen = Seen::default();
    let script = Script {
        statuses: vec!["UPDATE_IN_PROGRESS"],
        ..failing_update("orders-staging")
    };
    let mut aws = aws(&script.rules(&settled(), &deployed(Env::Staging), &seen));
    aws.poll.operation_limit = Duration::from_secs(10 * 60);
    let err = run_deploy_on(&aws, Env::Staging, quiet()).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("gave up following orders-staging after 10m00s: CloudFormation has not finished"),
        "{msg}"
    );
    assert!(
        msg.contains("still running in CloudFormation (orders-staging is UPDATE_IN_PROGRESS)"),
        "{msg}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_prod_deploy_turns_on_termination_protection() {
    let seen = Seen::default();
    let script = Script {
        statuses: vec!["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"],
        change_set: failing_update("orders-prod").change_set,
        ..Script::new("orders-prod")
    }
    .event(1, "OrderEventsQueue", "AWS::SQS::Queue", "UPDATE_COMPLETE", None)
    .event(
        1,
        "orders-prod",
        "AWS::CloudFormation::Stack",
        "UPDATE_COMPLETE",
        None,
    );
    let options = DeployOptions { yes: true, ..quiet() };
    let report = run_deploy(Env::Prod, &script, options, &seen).await.unwrap();
    assert_eq!(report.outcome, Outcome::Deployed, "{report:#?}");
    assert!(
        seen.has("UpdateTerminationProtection orders-prod Some(true)"),
        "{:?}",
        seen.all()
    );
}

/// A stack to destroy: it exists, then DeleteStack removes it.
fn destroy_rules(stack: &'static str, protected: bool, seen: &Seen) -> Vec<Rule> {
    let deleted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (d, s) = (deleted.clone(), seen.clone());
    let all = seen.clone();
    let is_ours = move |n: Option<&str>| n.is_some_and(|n| n == stack || n == stack_id(stack));
    vec![
        mock!(aws_sdk_cloudformation::Client::describe_stacks).then_compute_response(move |r| {
            all.push(format!("DescribeStacks {}", r.stack_name().unwrap_or("")));
            if !is_ours(r.stack_name()) {
                return MockResponse::Http(no_such_stack(r.stack_name().unwrap_or("")));
            }
            MockResponse::Http(if d.load(std::sync::atomic::Ordering::SeqCst) {
                no_such_stack(stack)
            } else {
                StackXml {
                    termination_protection: protected,
                    ..StackXml::new(stack, "UPDATE_COMPLETE")
                }
                .reply()
            })
        }),
        mock!(aws_sdk_cloudformation::Client::get_template)
            .then_http_response(move || template_reply(&infra_model::synth(Env::Prod).unwrap().to_value().to_string())),
        mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_http_response(|| {
            cfn(
                "ListStackResources",
                "<StackResourceSummaries><member><LogicalResourceId>OrdersTable</LogicalResourceId>\
                 <PhysicalResourceId>orders-prod-OrdersTable-1A2B3C</PhysicalResourceId>\
                 <ResourceType>AWS::DynamoDB::Table</ResourceType><LastUpdatedTimestamp>2026-11-30T09:20:01.456Z</LastUpdatedTimestamp>\
                 <ResourceStatus>CREATE_COMPLETE</ResourceStatus></member></StackResourceSummaries>",
            )
        }),
        mock!(aws_sdk_cloudformation::Client::describe_stack_events).then_http_response(move || {
            events_reply(&[EventXml {
                id: "e1".into(),
                stack,
                logical_id: stack,
                resource_type: "AWS::CloudFormation::Stack",
                status: "UPDATE_COMPLETE",
                reason: None,
                second: 1,
            }
            .xml()])
        }),
        mock!(aws_sdk_cloudformation::Client::update_termination_protection).then_compute_response({
            let s = s.clone();
            move |r| {
                s.push(format!("UpdateTerminationProtection {:?}", r.enable_termination_protection()));
                MockResponse::Http(cfn("UpdateTerminationProtection", &format!("<StackId>{}</StackId>", stack_id(stack))))
            }
        }),
        mock!(aws_sdk_cloudformation::Client::delete_stack).then_compute_response(move |r| {
            s.push(format!("DeleteStack {}", r.stack_name().unwrap_or("")));
            deleted.store(true, std::sync::atomic::Ordering::SeqCst);
            MockResponse::Http(cfn_empty("DeleteStack"))
        }),
    ]
}

#[tokio::test(start_paused = true)]
async fn destroy_lifts_prods_termination_protection_after_the_confirmation_and_never_touches_the_account_stack()
 {
    let seen = Seen::default();
    let aws = aws(&destroy_rules("orders-prod", true, &seen));
    let target = DeployTarget::new(Env::Prod, aws.settings.clone());
    let options = DeployOptions { yes: true, ..quiet() };
    let report = deploy::destroy_with(&aws, &target, &options).await.unwrap();
    assert_eq!(report.outcome, DestroyOutcome::Destroyed, "{report:#?}");
    let calls = seen.all();
    let lifted = calls
        .iter()
        .position(|c| c == "UpdateTerminationProtection Some(false)");
    let deleted = calls.iter().position(|c| c == "DeleteStack orders-prod");
    assert!(lifted.is_some() && lifted < deleted, "{calls:?}");
    assert!(!calls.iter().any(|c| c.contains(ACCOUNT_STACK)), "{calls:?}");
    assert_eq!(
        report.kept.len(),
        1,
        "prod's table is retained: {:?}",
        report.kept
    );

    // Without the confirmation nothing is lifted.
    let seen = Seen::default();
    let aws = aws_replies::aws(&destroy_rules("orders-prod", true, &seen));
    let report = deploy::destroy_with(&aws, &target, &quiet()).await.unwrap();
    assert_eq!(report.outcome, DestroyOutcome::NotConfirmed);
    assert!(
        !seen.has("UpdateTerminationProtection") && !seen.has("DeleteStack"),
        "{:?}",
        seen.all()
    );
}

#[tokio::test]
async fn a_protected_stack_of_another_environment_is_refused_with_the_command_that_lifts_it() {
    let seen = Seen::default();
    let aws = aws(&destroy_rules("orders-staging", true, &seen));
    let target = DeployTarget::new(Env::Staging, aws.settings.clone());
    let err = deploy::destroy_with(&aws, &target, &quiet()).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("orders-staging has termination protection")
            && msg.contains("aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name orders-staging"),
        "{msg}"
    );
    assert!(!seen.has("DeleteStack"));
}
