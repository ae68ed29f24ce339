#![allow(clippy::unwrap_used)]
//! `cargo xtask api-key` against AWS-shaped replies (moto makes no API key through
//! CloudFormation): DescribeStacks for the key's id, then API Gateway's GetApiKey with
//! `includeValue=true` (REST JSON; errors in the `x-amzn-errortype` header).

mod aws_replies;

use aws_replies::{StackXml, aws, http, no_such_stack, rest_json_error};
use aws_smithy_mocks::mock;
use infra_model::Env;
use infra_model::system::api::{KEY_ID_OUTPUT, URL_OUTPUT};
use xtask_ops::deploy::apikey::api_key_with;
use xtask_ops::deploy::{AwsSettings, DeployTarget};

const KEY_ID: &str = "8b4k2x9q1z";
const VALUE: &str = "Xq1dMvT0rW3nPlA9sKe2bYc7uHf5gJi4oNz8LaQw";

fn target() -> DeployTarget {
    DeployTarget::new(Env::Staging, AwsSettings::default())
}

fn stack_with_outputs() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    let mut s = StackXml::new("orders-staging", "UPDATE_COMPLETE");
    s.outputs = vec![
        (KEY_ID_OUTPUT, KEY_ID.to_owned()),
        (
            URL_OUTPUT,
            "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/staging/".to_owned(),
        ),
    ];
    s.reply()
}

/// GetApiKey's answer, as the API Gateway reference documents the ApiKey resource.
fn get_api_key_reply() -> aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    http(
        200,
        &[("content-type", "application/json")],
        serde_json::json!({
            "id": KEY_ID,
            "value": VALUE,
            "name": "orders-staging-key",
            "enabled": true,
            "createdDate": 1764580364,
            "lastUpdatedDate": 1764580364,
            "stageKeys": []
        })
        .to_string(),
    )
}

#[tokio::test]
async fn prints_the_value_of_the_key_the_stack_outputs() {
    let aws = aws(&[
        mock!(aws_sdk_cloudformation::Client::describe_stacks).then_http_response(stack_with_outputs),
        mock!(aws_sdk_apigateway::Client::get_api_key)
            .match_requests(|r| r.api_key() == Some(KEY_ID) && r.include_value() == Some(true))
            .then_http_response(get_api_key_reply),
    ]);
    let report = api_key_with(&aws, &target()).await.unwrap();
    assert_eq!(report.key_id, KEY_ID);
    assert_eq!(report.value, VALUE);
    assert_eq!(
        report.curl_hint(),
        format!(
            "curl -H 'x-api-key: {VALUE}' https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/staging/orders?status=PENDING"
        )
    );
}

#[tokio::test]
async fn a_missing_stack_says_to_deploy_it() {
    let aws = aws(&[mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .then_http_response(|| no_such_stack("orders-staging"))]);
    let err = format!("{:#}", api_key_with(&aws, &target()).await.unwrap_err());
    assert!(
        err.contains("orders-staging does not exist: deploy it first (`cargo xtask deploy --env staging`)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_key_api_gateway_does_not_know_names_the_key() {
    let aws = aws(&[
        mock!(aws_sdk_cloudformation::Client::describe_stacks).then_http_response(stack_with_outputs),
        mock!(aws_sdk_apigateway::Client::get_api_key).then_http_response(|| {
            rest_json_error(404, "NotFoundException", "Invalid API Key identifier specified")
        }),
    ]);
    let err = format!("{:#}", api_key_with(&aws, &target()).await.unwrap_err());
    assert!(err.contains(&format!("read API key {KEY_ID}")), "{err}");
    assert!(err.contains("Invalid API Key identifier specified"), "{err}");
}

#[tokio::test]
async fn a_stack_without_the_output_says_to_deploy_the_current_model() {
    let aws = aws(&[mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .then_http_response(|| StackXml::new("orders-staging", "UPDATE_COMPLETE").reply())]);
    let err = format!("{:#}", api_key_with(&aws, &target()).await.unwrap_err());
    assert!(
        err.contains("has no output ApiKeyId") && err.contains("deploy the current model first"),
        "{err}"
    );
}
