//! Preflight against an account answering as AWS documents it (`aws_replies`: `aws-smithy-mocks`
//! rules, raw HTTP replies): the quota refusal, the names left outside the stack, the bucket in
//! another region, a passing preflight and API Gateway's account setting. Each refusal exits
//! before anything is created: no rule answers a creating call, so one would fail the test.

#![allow(clippy::unwrap_used)]

mod aws_replies;

use aws_replies::world::{Seen, World, artifacts, scratch};
use aws_replies::*;
use aws_smithy_mocks::{MockResponse, Rule, mock};
use infra_model::Env;
use xtask_ops::deploy::preflight::{self, Input, reserved_total};
use xtask_ops::deploy::{self, DeployOptions, DeployTarget, OutputMode};

fn quiet() -> DeployOptions {
    DeployOptions {
        output: OutputMode::Quiet,
        ..DeployOptions::default()
    }
}

/// The environment's stack does not exist yet.
fn absent(stack: &'static str) -> Rule {
    mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .match_requests(move |r| r.stack_name() == Some(stack))
        .then_http_response(move || no_such_stack(stack))
}

async fn diff_error(world: &World, env: Env, options: DeployOptions) -> String {
    let seen = Seen::default();
    let stack: &'static str = match env {
        Env::Dev => "orders-dev",
        Env::Staging => "orders-staging",
        Env::Prod => "orders-prod",
    };
    let mut rules = vec![absent(stack)];
    rules.extend(world.preflight_rules(&seen));
    let aws = aws_with(&world.region, &rules);
    let dir = scratch(&format!("diff-{}", env.name()));
    let target = DeployTarget::new(env, aws.settings.clone());
    let err = deploy::diff_with(&aws, &target, &options, &artifacts(&dir))
        .await
        .unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    format!("{err:#}")
}

#[tokio::test]
async fn preflight_refuses_a_reservation_above_the_accounts_concurrency_quota() {
    // A new account: a concurrency limit of 10. Prod reserves far more.
    let world = World {
        concurrency: (10, 10),
        ..World::default()
    };
    let prod_reserves = reserved_total(&infra_model::synth(Env::Prod).unwrap().to_value());
    assert!(prod_reserves > 0);
    let msg = diff_error(&world, Env::Prod, quiet()).await;
    for needle in [
        "preflight refused to deploy orders-prod: nothing was created or changed".to_owned(),
        format!("orders-prod reserves {prod_reserves} concurrent executions"),
        "the account's limit in eu-west-1 is 10 with 10 unreserved".to_owned(),
        format!("after this deploy {} would be unreserved", 10 - prod_reserves),
        "Lambda keeps at least 100 unreserved".to_owned(),
        "\"Concurrent executions\" quota (L-B99A9384)".to_owned(),
        "aws service-quotas request-service-quota-increase --service-code lambda --quota-code L-B99A9384 --desired-value 1000 --region eu-west-1".to_owned(),
        "dev reserves 0".to_owned(),
    ] {
        assert!(msg.contains(&needle), "missing {needle:?} in:\n{msg}");
    }
    assert!(!msg.contains("name taken"), "{msg}");

    // What others already reserve counts: 1000 in all, 150 left unreserved.
    let world = World {
        concurrency: (1000, 150),
        ..World::default()
    };
    let msg = diff_error(&world, Env::Prod, quiet()).await;
    assert!(
        msg.contains(&format!(
            "after this deploy {} would be unreserved",
            150 - prod_reserves
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("at least {}", prod_reserves + 850 + 100)),
        "{msg}"
    );
}

#[tokio::test]
async fn preflight_names_each_resource_left_outside_the_stack_with_the_command_that_deletes_it() {
    // A first deploy that failed and was destroyed: its retained log groups are still there,
    // and a function of the same name was left by hand.
    let world = World {
        log_groups: vec![
            "/aws/lambda/orders-staging-payment".into(),
            "/aws/apigateway/orders-staging-api".into(),
            // Same prefix, another name: not in the way.
            "/aws/lambda/orders-staging-payment-archive".into(),
            // Another environment's.
            "/aws/lambda/orders-dev-health".into(),
        ],
        functions: vec!["orders-staging-health".into()],
        ..World::default()
    };
    let msg = diff_error(&world, Env::Staging, quiet()).await;
    for needle in [
        "1. name taken: /aws/apigateway/orders-staging-api (AWS::Logs::LogGroup, the template's ApiAccessLogGroup) already exists outside orders-staging",
        "`aws logs delete-log-group --log-group-name /aws/apigateway/orders-staging-api --region eu-west-1`",
        "name taken: orders-staging-health (AWS::Lambda::Function, the template's HealthFunction)",
        "`aws lambda delete-function --function-name orders-staging-health --region eu-west-1`",
        "name taken: /aws/lambda/orders-staging-payment (AWS::Logs::LogGroup, the template's PaymentFunctionLogGroup)",
        "\"ResourceIdentifier\": {\"LogGroupName\": \"/aws/lambda/orders-staging-payment\"}",
        "change set of type IMPORT",
    ] {
        assert!(msg.contains(needle), "missing {needle:?} in:\n{msg}");
    }
    assert_eq!(msg.matches("name taken:").count(), 3, "{msg}");
    assert!(!msg.contains("archive") && !msg.contains("orders-dev"), "{msg}");
    assert!(!msg.contains("Lambda concurrency"), "staging fits in 1000: {msg}");
}

#[tokio::test]
async fn an_artifacts_bucket_in_another_region_is_refused_naming_both_regions() {
    let world = World {
        bucket_region: Some("us-west-2".into()),
        ..World::default()
    };
    let options = DeployOptions {
        artifacts_bucket: Some("team-artifacts".into()),
        ..quiet()
    };
    let msg = diff_error(&world, Env::Dev, options).await;
    assert!(
        msg.contains("the artifacts bucket team-artifacts is in us-west-2, but this deploy is to eu-west-1"),
        "{msg}"
    );
    assert!(
        msg.contains("pass --artifacts-bucket with a bucket in eu-west-1")
            && msg.contains("orders-artifacts-123456789012-eu-west-1")
            && msg.contains("--region us-west-2"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_passing_preflight_reports_the_numbers_and_the_account_setting() {
    let seen = Seen::default();
    let prod = infra_model::synth(Env::Prod).unwrap().to_value();
    let reserves = reserved_total(&prod);
    // The old layout: an environment's stack set API Gateway's role.
    let env_role = format!("arn:aws:iam::{ACCOUNT}:role/orders-dev-ApiGatewayCloudWatchRole-1A2B3C");
    let world = World {
        concurrency: (1000, 900),
        bucket_region: Some(REGION.into()),
        cloudwatch_role: Some(env_role.clone()),
        log_groups: vec!["/aws/lambda/orders-prod-health".into()],
        functions: vec!["orders-prod-health".into()],
        ..World::default()
    };
    let mut rules = vec![
        // The stack exists and holds the function and the log group under these ids.
        mock!(aws_sdk_cloudformation::Client::list_stack_resources).then_http_response(|| {
            cfn(
                "ListStackResources",
                "<StackResourceSummaries>\
                 <member><LogicalResourceId>HealthFunction</LogicalResourceId><PhysicalResourceId>orders-prod-health</PhysicalResourceId>\
                 <ResourceType>AWS::Lambda::Function</ResourceType><LastUpdatedTimestamp>2026-11-30T09:20:01.456Z</LastUpdatedTimestamp>\
                 <ResourceStatus>UPDATE_COMPLETE</ResourceStatus></member>\
                 <member><LogicalResourceId>HealthFunctionLogGroup</LogicalResourceId><PhysicalResourceId>/aws/lambda/orders-prod-health</PhysicalResourceId>\
                 <ResourceType>AWS::Logs::LogGroup</ResourceType><LastUpdatedTimestamp>2026-11-30T09:20:01.456Z</LastUpdatedTimestamp>\
                 <ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>\
                 </StackResourceSummaries>",
            )
        }),
    ];
    rules.extend(world.preflight_rules(&seen));
    let aws = aws(&rules);
    let found = preflight::run(
        &aws,
        &Input {
            stack: "orders-prod",
            template: &prod,
            deployed: Some(&prod),
            stack_exists: true,
            bucket: "orders-artifacts-123456789012-eu-west-1",
        },
    )
    .await
    .unwrap();
    assert_eq!(found.concurrency.account_limit, 1000);
    assert_eq!(found.concurrency.unreserved_now, 900);
    assert_eq!(found.concurrency.stack_reserves, reserves);
    assert_eq!(
        found.concurrency.deployed_reserves, reserves,
        "given back on update"
    );
    assert_eq!(found.concurrency.unreserved_after, 900);
    assert!(found.bucket_exists);
    assert!(found.names_checked >= 19, "{}", found.names_checked);
    let text = found
        .lines("orders-prod", REGION, "orders-artifacts-123456789012-eu-west-1")
        .join("\n");
    assert!(
        text.contains("limit 1000, 900 unreserved now, 900 after orders-prod reserves"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "its CloudWatch role is {env_role}, set outside orders-account"
        )),
        "{text}"
    );
    assert!(
        text.contains("deploy creates the account stack orders-account")
            && text.contains(&format!("instead of {env_role}")),
        "{text}"
    );
    assert!(seen.has("HeadBucket orders-artifacts-123456789012-eu-west-1"));

    // Once the account stack holds the setting, there is nothing to do there.
    let ours = format!("arn:aws:iam::{ACCOUNT}:role/orders-account-ApiGatewayCloudWatchRole-9Z8Y");
    let world = World {
        cloudwatch_role: Some(ours.clone()),
        account_stack_role: Some(ours.clone()),
        bucket_region: Some(REGION.into()),
        ..World::default()
    };
    let aws = aws_replies::aws(&world.preflight_rules(&Seen::default()));
    let plan = xtask_ops::deploy::account::plan(&aws).await.unwrap();
    assert!(!plan.changes_something(), "{plan:?}");
    assert_eq!(
        plan.lines(),
        [format!(
            "API Gateway account setting (one per account and region): its CloudWatch role is {ours}, from orders-account"
        )]
    );
}

#[tokio::test]
async fn the_bucket_policy_names_the_partition_of_a_china_region() {
    // The bucket is created in cn-north-1: its policy's ARNs must be arn:aws-cn:...
    let seen = Seen::default();
    let s = seen.clone();
    let ok = |op: &'static str| move || http(200, &[], format!("<!-- {op} -->"));
    let rules = vec![
        mock!(aws_sdk_s3::Client::head_bucket).then_http_response(|| http(404, &[], "")),
        mock!(aws_sdk_s3::Client::create_bucket).then_http_response(|| {
            http(
                200,
                &[("location", "http://b.s3.cn-north-1.amazonaws.com.cn/")],
                "",
            )
        }),
        mock!(aws_sdk_s3::Client::put_public_access_block).then_http_response(ok("pab")),
        mock!(aws_sdk_s3::Client::put_bucket_encryption).then_http_response(ok("enc")),
        mock!(aws_sdk_s3::Client::put_bucket_versioning).then_http_response(ok("ver")),
        mock!(aws_sdk_s3::Client::put_bucket_lifecycle_configuration).then_http_response(ok("lc")),
        mock!(aws_sdk_s3::Client::put_bucket_tagging).then_http_response(|| http(204, &[], "")),
        mock!(aws_sdk_s3::Client::put_bucket_policy).then_compute_response(move |req| {
            s.push(format!("PutBucketPolicy {}", req.policy().unwrap_or("")));
            MockResponse::Http(http(204, &[], ""))
        }),
    ];
    let aws = aws_with("cn-north-1", &rules);
    let state = xtask_ops::deploy::bucket::ensure(&aws, "b").await.unwrap();
    assert_eq!(state, xtask_ops::deploy::bucket::BucketState::Created);
    let policy = seen
        .all()
        .into_iter()
        .find_map(|s| s.strip_prefix("PutBucketPolicy ").map(str::to_owned))
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
    assert_eq!(
        policy["Statement"][0]["Resource"],
        serde_json::json!(["arn:aws-cn:s3:::b", "arn:aws-cn:s3:::b/*"]),
        "{policy}"
    );
}
