#![allow(clippy::unwrap_used)]
//! `cargo xtask invoke` against AWS-shaped replies (moto runs no Lambda code without Docker):
//! CloudFormation's DescribeStackResource for the deployed name, then Lambda's Invoke with
//! `LogType=Tail` (the log's last 4 KB base64 in `X-Amz-Log-Result`; a function error in
//! `X-Amz-Function-Error`, with HTTP 200, as the Lambda API reference documents).

mod aws_replies;

use aws_replies::{cfn, cfn_error, http, stack_id};
use aws_smithy_mocks::mock;
use base64::Engine as _;
use infra_model::Env;
use infra_model::system::FUNCTIONS;
use infra_model::system::functions::PAYMENT;
use serde_json::json;
use xtask_ops::deploy::invoke::{default_event, function, invoke_with};
use xtask_ops::deploy::{AwsSettings, DeployTarget};

fn target() -> DeployTarget {
    DeployTarget::new(Env::Staging, AwsSettings::default())
}

fn resource_reply() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    cfn(
        "DescribeStackResource",
        &format!(
            "<StackResourceDetail><StackId>{}</StackId><StackName>orders-staging</StackName>\
             <LogicalResourceId>PaymentFunction</LogicalResourceId>\
             <PhysicalResourceId>orders-staging-payment</PhysicalResourceId>\
             <ResourceType>AWS::Lambda::Function</ResourceType>\
             <LastUpdatedTimestamp>2026-11-30T09:20:01.456Z</LastUpdatedTimestamp>\
             <ResourceStatus>UPDATE_COMPLETE</ResourceStatus></StackResourceDetail>",
            stack_id("orders-staging")
        ),
    )
}

const LOG: &str = "START RequestId: 8f5e0c8a-example Version: $LATEST\n\
                   {\"level\":\"ERROR\",\"message\":\"order ord-1 not found\"}\n\
                   END RequestId: 8f5e0c8a-example\n\
                   REPORT RequestId: 8f5e0c8a-example\tDuration: 12.31 ms\tBilled Duration: 13 ms\n";

#[tokio::test]
async fn invokes_the_deployed_function_and_returns_its_error_and_log_tail() {
    let aws = aws_replies::aws(&[
        mock!(aws_sdk_cloudformation::Client::describe_stack_resource)
            .match_requests(|r| {
                r.logical_resource_id() == Some("PaymentFunction") && r.stack_name() == Some("orders-staging")
            })
            .then_http_response(resource_reply),
        mock!(aws_sdk_lambda::Client::invoke)
            .match_requests(|r| {
                r.function_name() == Some("orders-staging-payment")
                    && r.log_type().map(|l| l.as_str()) == Some("Tail")
                    && r.payload()
                        .is_some_and(|p| p.as_ref() == br#"{"orderId":"ord-1"}"#)
            })
            .then_http_response(|| {
                let log = base64::engine::general_purpose::STANDARD.encode(LOG);
                http(
                    200,
                    &[
                        ("content-type", "application/json"),
                        ("x-amz-function-error", "Unhandled"),
                        ("x-amz-executed-version", "$LATEST"),
                        ("x-amz-log-result", &log),
                    ],
                    r#"{"errorType":"OrderTaskError","errorMessage":"order ord-1 not found"}"#,
                )
            }),
    ]);
    let report = invoke_with(&aws, &target(), &PAYMENT, &json!({"orderId": "ord-1"}))
        .await
        .unwrap();
    assert_eq!(report.function_name, "orders-staging-payment");
    assert_eq!(report.status_code, 200);
    assert_eq!(report.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(report.response["errorType"], "OrderTaskError");
    assert_eq!(report.log_tail, LOG);
}

#[tokio::test]
async fn a_function_the_stack_does_not_have_says_to_deploy() {
    let aws = aws_replies::aws(&[mock!(aws_sdk_cloudformation::Client::describe_stack_resource)
        .then_http_response(|| {
            cfn_error(
                400,
                "ValidationError",
                "Resource PaymentFunction does not exist for stack orders-staging",
            )
        })]);
    let err = format!(
        "{:#}",
        invoke_with(&aws, &target(), &PAYMENT, &json!({}))
            .await
            .unwrap_err()
    );
    assert!(err.contains("find PaymentFunction in orders-staging"), "{err}");
    assert!(err.contains("cargo xtask deploy --env staging"), "{err}");
}

#[test]
fn every_function_has_a_real_example_event_and_an_unknown_name_lists_them() {
    for f in FUNCTIONS {
        let path = default_event(f);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str::<serde_json::Value>(&text).unwrap();
    }
    let err = format!("{:#}", function("nope").unwrap_err());
    assert!(
        err.contains("no function named \"nope\"") && err.contains("orders-api"),
        "{err}"
    );
}
