//! A deploy interrupted, then a new deploy: it ends consistent and says what happened. An
//! update still running when the new deploy starts (its deploy stopped following on Ctrl-C) is
//! followed to its end first, and the new deploy plans against the settled stack; a failed and
//! rolled-back update is deployed over; a rollback that failed is refused with what to do.
//! (moto applies every operation within its request and never rolls back, so none of this can
//! happen against it: `tests/deploy/failures.rs` checks that a local stack stuck in an
//! operation is still refused at once.)

use super::*;
use sha2::{Digest, Sha256};

const STACK: &str = "orders-staging";
const STACK_TYPE: &str = "AWS::CloudFormation::Stack";
const NO_CHANGES: &str =
    "The submitted information didn't contain changes. Submit different information to create a change set.";
const LAMBDA_REFUSAL: &str = "Resource handler returned message: \"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].\" (Service: Lambda, Status Code: 400)";

/// The queue's change the new deploy makes (the deployed template has 180).
fn queue_change() -> String {
    change(
        "Modify",
        "OrderEventsQueue",
        "AWS::SQS::Queue",
        "False",
        "Properties",
        &[("VisibilityTimeout", "Never", Some(("180", "200")))],
    )
}

/// The new deploy's own update, which succeeds.
fn succeeding(script: Script) -> Script {
    Script {
        statuses: vec!["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"],
        change_set: Ok(queue_change()),
        ..script
    }
    .event(0, STACK, STACK_TYPE, "UPDATE_IN_PROGRESS", Some("User Initiated"))
    .event(1, "OrderEventsQueue", "AWS::SQS::Queue", "UPDATE_COMPLETE", None)
    .event(1, STACK, STACK_TYPE, "UPDATE_COMPLETE", None)
}

#[tokio::test(start_paused = true)]
async fn a_deploy_waits_for_the_interrupted_update_then_finds_nothing_left_to_change() {
    let seen = Seen::default();
    // The interrupted deploy's update, as the new deploy finds it, then its cleanup and end.
    let script = Script {
        before: vec![
            "UPDATE_IN_PROGRESS",
            "UPDATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_COMPLETE",
        ],
        change_set: Err(NO_CHANGES.into()),
        ..Script::new(STACK)
    }
    .earlier_event(0, STACK, STACK_TYPE, "UPDATE_IN_PROGRESS", Some("User Initiated"))
    .earlier_event(
        0,
        "OrderEventsQueue",
        "AWS::SQS::Queue",
        "UPDATE_IN_PROGRESS",
        None,
    )
    .earlier_event(1, "OrderEventsQueue", "AWS::SQS::Queue", "UPDATE_COMPLETE", None)
    .earlier_event(2, STACK, STACK_TYPE, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None)
    .earlier_event(3, STACK, STACK_TYPE, "UPDATE_COMPLETE", None);
    // It applied the template this deploy sends.
    let same = infra_model::synth(Env::Staging).unwrap().to_value();
    let aws = aws(&script.rules(&settled(), &same, &seen));
    let report = run_deploy_on(&aws, Env::Staging, quiet()).await.unwrap();

    assert_eq!(report.outcome, Outcome::NoChanges, "{report:#?}");
    assert_eq!(report.exit_code(), exit::OK);
    let earlier = report.plan.earlier_operation.as_ref().unwrap();
    assert_eq!(
        (earlier.found.as_str(), earlier.status.as_str(), earlier.succeeded),
        ("UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", true)
    );
    assert_eq!(
        earlier.events, 5,
        "followed from the update's start, not only from the moment the deploy found it"
    );
    // The change set was made once the stack had settled: CloudFormation refuses it before.
    assert!(
        seen.has("CreateChangeSet Some(Update)") && !seen.has("CreateChangeSet refused"),
        "{:?}",
        seen.all()
    );
    assert!(!seen.has("ExecuteChangeSet"));
}

#[tokio::test(start_paused = true)]
async fn a_deploy_after_an_interrupted_update_that_rolls_back_reports_why_and_deploys_from_the_rolled_back_stack()
 {
    let seen = Seen::default();
    let script = Script {
        before: vec![
            "UPDATE_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE",
        ],
        ..succeeding(Script::new(STACK))
    }
    .earlier_event(0, STACK, STACK_TYPE, "UPDATE_IN_PROGRESS", Some("User Initiated"))
    .earlier_event(
        0,
        "OrdersApiFunction",
        "AWS::Lambda::Function",
        "UPDATE_FAILED",
        Some(LAMBDA_REFUSAL),
    )
    .earlier_event(
        1,
        STACK,
        STACK_TYPE,
        "UPDATE_ROLLBACK_IN_PROGRESS",
        Some("The following resource(s) failed to update: [OrdersApiFunction]."),
    )
    .earlier_event(2, STACK, STACK_TYPE, "UPDATE_ROLLBACK_COMPLETE", None);
    let aws = aws(&script.rules(&settled(), &deployed(Env::Staging), &seen));
    let report = run_deploy_on(&aws, Env::Staging, quiet()).await.unwrap();

    let earlier = report.plan.earlier_operation.as_ref().unwrap();
    assert_eq!(earlier.status, "UPDATE_ROLLBACK_COMPLETE");
    assert!(!earlier.succeeded);
    assert_eq!(earlier.failures.len(), 1, "{:?}", earlier.failures);
    assert_eq!(earlier.failures[0].logical_id, "OrdersApiFunction");
    assert!(
        earlier.failures[0]
            .reason
            .contains("below its minimum value of [100]")
    );
    // Then this deploy's own change set, against the rolled-back stack.
    assert_eq!(report.outcome, Outcome::Deployed, "{report:#?}");
    assert_eq!(report.status.as_deref(), Some("UPDATE_COMPLETE"));
    assert!(seen.has("CreateChangeSet Some(Update)") && seen.has("ExecuteChangeSet"));
    assert!(!seen.has("CreateChangeSet refused"), "{:?}", seen.all());
}

#[tokio::test(start_paused = true)]
async fn ctrl_c_while_waiting_for_the_earlier_update_changes_nothing_and_says_it_goes_on() {
    let seen = Seen::default();
    let script = Script {
        before: vec!["UPDATE_IN_PROGRESS"],
        ..Script::new(STACK)
    }
    .earlier_event(0, STACK, STACK_TYPE, "UPDATE_IN_PROGRESS", Some("User Initiated"));
    let aws = aws(&script.rules(&settled(), &deployed(Env::Staging), &seen));
    aws.interrupt.notify_one();
    let err = run_deploy_on(&aws, Env::Staging, quiet()).await.unwrap_err();
    let msg = format!("{err:#}");
    for n in [
        "this command changed nothing: it was waiting for the operation already running on orders-staging to end; run it again once that has ended",
        "stopped following orders-staging (interrupted)",
        "still running in CloudFormation (orders-staging is UPDATE_IN_PROGRESS): nothing was stopped",
        "watch it with `cargo xtask status --env staging`",
        "aws cloudformation cancel-update-stack --stack-name orders-staging --region eu-west-1",
    ] {
        assert!(msg.contains(n), "missing {n:?} in:\n{msg}");
    }
    assert!(
        !seen.has("CreateChangeSet") && !seen.has("ExecuteChangeSet"),
        "{:?}",
        seen.all()
    );
}

#[tokio::test(start_paused = true)]
async fn waiting_for_an_earlier_create_gives_up_at_the_time_limit_and_says_what_is_running() {
    let seen = Seen::default();
    let script = Script {
        before: vec!["CREATE_IN_PROGRESS"],
        ..Script::new(STACK)
    }
    .earlier_event(0, STACK, STACK_TYPE, "CREATE_IN_PROGRESS", Some("User Initiated"));
    let mut aws = aws(&script.rules(&settled(), &deployed(Env::Staging), &seen));
    aws.poll.operation_limit = Duration::from_secs(10 * 60);
    let err = run_deploy_on(&aws, Env::Staging, quiet()).await.unwrap_err();
    let msg = format!("{err:#}");
    for n in [
        "this command changed nothing",
        "gave up following orders-staging after 10m00s: CloudFormation has not finished",
        "(orders-staging is CREATE_IN_PROGRESS)",
        "a create cannot be cancelled, only deleted",
    ] {
        assert!(msg.contains(n), "missing {n:?} in:\n{msg}");
    }
    assert!(!seen.has("CreateChangeSet"), "{:?}", seen.all());
}

#[tokio::test(start_paused = true)]
async fn an_earlier_update_whose_rollback_fails_is_reported_then_refused_with_continue_update_rollback() {
    let seen = Seen::default();
    let script = Script {
        before: vec!["UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED"],
        ..Script::new(STACK)
    }
    .earlier_event(0, STACK, STACK_TYPE, "UPDATE_IN_PROGRESS", Some("User Initiated"))
    .earlier_event(0, "OrdersApiFunction", "AWS::Lambda::Function", "UPDATE_FAILED", Some(LAMBDA_REFUSAL))
    .earlier_event(0, STACK, STACK_TYPE, "UPDATE_ROLLBACK_IN_PROGRESS", None)
    .earlier_event(
        1,
        "OrderEventsQueue",
        "AWS::SQS::Queue",
        "UPDATE_FAILED",
        Some("Resource handler returned message: \"Access to the resource https://sqs.eu-west-1.amazonaws.com/ is denied.\" (Service: Sqs, Status Code: 403)"),
    )
    .earlier_event(1, STACK, STACK_TYPE, "UPDATE_ROLLBACK_FAILED", None);
    let aws = aws(&script.rules(&settled(), &deployed(Env::Staging), &seen));
    let err = run_deploy_on(&aws, Env::Staging, quiet()).await.unwrap_err();
    let msg = format!("{err:#}");
    for n in [
        "orders-staging is in UPDATE_ROLLBACK_FAILED",
        "aws cloudformation continue-update-rollback --stack-name orders-staging --region eu-west-1",
        "--resources-to-skip LOGICAL_ID",
        "deploy again (it waits for the rollback to end)",
    ] {
        assert!(msg.contains(n), "missing {n:?} in:\n{msg}");
    }
    assert!(!seen.has("CreateChangeSet"), "{:?}", seen.all());
}

#[tokio::test(start_paused = true)]
async fn after_a_failed_update_rolled_back_a_good_template_deploys_over_the_rolled_back_stack() {
    // The failed deploy: the function's update fails and CloudFormation rolls back.
    let seen = Seen::default();
    let failed = run_deploy(Env::Staging, &failing_update(STACK), quiet(), &seen)
        .await
        .unwrap();
    assert_eq!(failed.outcome, Outcome::Failed, "{failed:#?}");
    assert_eq!(failed.status.as_deref(), Some("UPDATE_ROLLBACK_COMPLETE"));

    // The next deploy, of a good template: the stack is back in its previous working state
    // (UPDATE_ROLLBACK_COMPLETE, updatable), holding the template from before the failed
    // update, and the good template goes in as an UPDATE change set.
    let seen = Seen::default();
    let script = Script {
        before: vec!["UPDATE_ROLLBACK_COMPLETE"],
        ..succeeding(Script::new(STACK))
    };
    let aws = aws(&script.rules(&settled(), &deployed(Env::Staging), &seen));
    let report = run_deploy_on(&aws, Env::Staging, quiet()).await.unwrap();
    assert_eq!(report.outcome, Outcome::Deployed, "{report:#?}");
    assert_eq!(report.status.as_deref(), Some("UPDATE_COMPLETE"));
    assert!(report.plan.earlier_operation.is_none(), "nothing was running");
    assert_eq!(
        deploy::changes::summary(&report.plan.changes),
        std::collections::BTreeSet::from([(Action::Modify, "OrderEventsQueue".to_owned())])
    );
    let good = xtask_ops::deploy::template::body(&infra_model::synth(Env::Staging).unwrap().to_value());
    let key = format!(
        "templates/{STACK}/{}.json",
        hex::encode(Sha256::digest(good.as_bytes()))
    );
    let calls = seen.all();
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("TemplateURL ") && c.ends_with(&key)),
        "the change set carries the good template: {calls:?}"
    );
    assert!(seen.has("CreateChangeSet Some(Update)") && seen.has("ExecuteChangeSet"));
}

#[tokio::test]
async fn a_stack_that_becomes_busy_before_the_change_set_is_refused_saying_nothing_changed() {
    let seen = Seen::default();
    let script = Script {
        busy_on_change_set: Some("UPDATE_IN_PROGRESS"),
        ..Script::new(STACK)
    };
    let aws = aws(&script.rules(&settled(), &deployed(Env::Staging), &seen));
    let err = run_deploy_on(&aws, Env::Staging, quiet()).await.unwrap_err();
    let msg = format!("{err:#}");
    for n in [
        "orders-staging became busy (UPDATE_IN_PROGRESS) after this command read it",
        "Nothing was changed",
        "run this again: it waits for that operation to end",
    ] {
        assert!(msg.contains(n), "missing {n:?} in:\n{msg}");
    }
    assert!(
        seen.has("CreateChangeSet refused: UPDATE_IN_PROGRESS") && !seen.has("ExecuteChangeSet"),
        "{:?}",
        seen.all()
    );
}

/// A destroy started while an update is still cleaning up, which CloudFormation would refuse to
/// delete, follows that update to its end, then deletes the stack.
#[tokio::test(start_paused = true)]
async fn a_destroy_waits_for_the_update_running_on_the_stack_then_deletes_it() {
    let seen = Seen::default();
    let script = Script {
        before: vec![
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_COMPLETE",
        ],
        statuses: vec!["DELETE_IN_PROGRESS", "DELETE_COMPLETE"],
        ..Script::new(STACK)
    }
    .earlier_event(0, STACK, STACK_TYPE, "UPDATE_IN_PROGRESS", Some("User Initiated"))
    .earlier_event(0, STACK, STACK_TYPE, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None)
    .earlier_event(2, STACK, STACK_TYPE, "UPDATE_COMPLETE", None)
    .event(0, STACK, STACK_TYPE, "DELETE_IN_PROGRESS", Some("User Initiated"))
    .event(1, STACK, STACK_TYPE, "DELETE_COMPLETE", None);
    let deployed = infra_model::synth(Env::Staging).unwrap().to_value();
    let aws = aws(&script.rules(&settled(), &deployed, &seen));
    let target = DeployTarget::new(Env::Staging, aws.settings.clone());
    let report = deploy::destroy_with(&aws, &target, &quiet()).await.unwrap();

    assert_eq!(
        report.outcome,
        DestroyOutcome::Destroyed,
        "{report:#?}\n{:?}",
        seen.all()
    );
    let calls = seen.all();
    assert!(
        calls.iter().any(|c| c == "DeleteStack")
            && !calls.iter().any(|c| c.starts_with("DeleteStack refused")),
        "{calls:?}"
    );
}
