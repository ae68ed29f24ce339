//! Replies shaped as the AWS API references document them, served to the SDK clients by
//! `aws-smithy-mocks` (the SDK's own mocking crate): each request is answered by the first rule
//! (`mock!(Client::operation).match_requests(..).then_http_response(..)`) that matches it, with a
//! raw HTTP response that goes through the SDK's real deserializers, errors included. A request
//! no rule matches fails the test (the crate panics, naming the request).
//!
//! - CloudFormation and STS speak the Query protocol: XML `<OpResponse><OpResult>`, errors as
//!   `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code>...`;
//! - Lambda and API Gateway speak REST JSON (errors: the `x-amzn-errortype` header);
//! - CloudWatch Logs (JSON 1.1), Step Functions and DynamoDB (JSON 1.0): `{"__type": ...}`;
//! - S3 speaks REST XML; HeadBucket answers the bucket's region in `x-amz-bucket-region`.

#![allow(dead_code, clippy::unwrap_used)]

use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use xtask_ops::deploy::AwsSettings;
use xtask_ops::deploy::aws::{Aws, Clients, Identity};

pub mod script;
pub mod world;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-1";
const CFN_NS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

/// An HTTP response with headers.
pub fn http(status: u16, headers: &[(&str, &str)], body: impl Into<String>) -> HttpResponse {
    let mut r = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body.into()));
    for (k, v) in headers {
        r.headers_mut().insert(k.to_string(), v.to_string());
    }
    r.headers_mut()
        .insert("x-amzn-requestid", "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE");
    r
}

/// A CloudFormation (Query protocol) answer: `<{op}Response><{op}Result>{result}</...>`.
pub fn cfn(op: &str, result: &str) -> HttpResponse {
    http(
        200,
        &[("content-type", "text/xml")],
        format!(
            "<{op}Response xmlns=\"{CFN_NS}\"><{op}Result>{result}</{op}Result>\
             <ResponseMetadata><RequestId>b9b4b068-3a41-11e5-94eb-example</RequestId></ResponseMetadata></{op}Response>"
        ),
    )
}

/// A CloudFormation answer without a result element (DeleteStack).
pub fn cfn_empty(op: &str) -> HttpResponse {
    http(
        200,
        &[("content-type", "text/xml")],
        format!(
            "<{op}Response xmlns=\"{CFN_NS}\"><ResponseMetadata><RequestId>b9b4b068-3a41-11e5-94eb-example</RequestId></ResponseMetadata></{op}Response>"
        ),
    )
}

/// A CloudFormation error (HTTP 400 unless said): `ValidationError`, `ExpiredToken`, ...
pub fn cfn_error(status: u16, code: &str, message: &str) -> HttpResponse {
    http(
        status,
        &[("content-type", "text/xml")],
        format!(
            "<ErrorResponse xmlns=\"{CFN_NS}\"><Error><Type>Sender</Type><Code>{code}</Code>\
             <Message>{}</Message></Error><RequestId>4af14eca-EXAMPLE</RequestId></ErrorResponse>",
            escape(message)
        ),
    )
}

/// What DescribeStacks answers for a stack that is not there.
pub fn no_such_stack(name: &str) -> HttpResponse {
    cfn_error(
        400,
        "ValidationError",
        &format!("Stack with id {name} does not exist"),
    )
}

/// What a session that ended answers (STS credentials of an SSO login or an assumed role).
pub fn expired_token() -> HttpResponse {
    cfn_error(
        400,
        "ExpiredToken",
        "The security token included in the request is expired",
    )
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn stack_id(name: &str) -> String {
    format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/5b9a7c40-8f3e-11ef-9a3c-0a1b2c3d4e5f")
}

/// One `<member>` of DescribeStacks.
pub struct StackXml<'a> {
    pub name: &'a str,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    pub parameters: Vec<(String, String)>,
    pub outputs: Vec<(&'a str, String)>,
    pub termination_protection: bool,
}

impl<'a> StackXml<'a> {
    pub fn new(name: &'a str, status: &'a str) -> StackXml<'a> {
        StackXml {
            name,
            status,
            reason: None,
            parameters: Vec::new(),
            outputs: Vec::new(),
            termination_protection: false,
        }
    }

    pub fn reply(&self) -> HttpResponse {
        let params: String = self
            .parameters
            .iter()
            .map(|(k, v)| {
                format!(
                    "<member><ParameterKey>{k}</ParameterKey><ParameterValue>{}</ParameterValue></member>",
                    escape(v)
                )
            })
            .collect();
        let outputs: String = self
            .outputs
            .iter()
            .map(|(k, v)| {
                format!(
                    "<member><OutputKey>{k}</OutputKey><OutputValue>{}</OutputValue></member>",
                    escape(v)
                )
            })
            .collect();
        let reason = self
            .reason
            .map(|r| format!("<StackStatusReason>{}</StackStatusReason>", escape(r)))
            .unwrap_or_default();
        cfn(
            "DescribeStacks",
            &format!(
                "<Stacks><member><StackName>{}</StackName><StackId>{}</StackId>\
                 <CreationTime>2026-11-30T09:12:44.123Z</CreationTime>\
                 <LastUpdatedTime>2026-11-30T09:20:01.456Z</LastUpdatedTime>\
                 <StackStatus>{}</StackStatus>{reason}\
                 <DisableRollback>false</DisableRollback>\
                 <EnableTerminationProtection>{}</EnableTerminationProtection>\
                 <Capabilities><member>CAPABILITY_IAM</member><member>CAPABILITY_NAMED_IAM</member></Capabilities>\
                 <Parameters>{params}</Parameters><Outputs>{outputs}</Outputs>\
                 <Tags><member><Key>app</Key><Value>orders</Value></member></Tags>\
                 </member></Stacks>",
                self.name,
                stack_id(self.name),
                self.status,
                self.termination_protection
            ),
        )
    }
}

/// A stack event, as one `<member>` of DescribeStackEvents.
pub struct EventXml<'a> {
    pub id: String,
    pub stack: &'a str,
    pub logical_id: &'a str,
    pub resource_type: &'a str,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    pub second: u32,
}

impl EventXml<'_> {
    pub fn xml(&self) -> String {
        let reason = self
            .reason
            .map(|r| format!("<ResourceStatusReason>{}</ResourceStatusReason>", escape(r)))
            .unwrap_or_default();
        format!(
            "<member><EventId>{}</EventId><StackName>{}</StackName><StackId>{}</StackId>\
             <LogicalResourceId>{}</LogicalResourceId><PhysicalResourceId>{}</PhysicalResourceId>\
             <ResourceType>{}</ResourceType><Timestamp>2026-12-01T10:00:{:02}.000Z</Timestamp>\
             <ResourceStatus>{}</ResourceStatus>{reason}</member>",
            self.id,
            self.stack,
            stack_id(self.stack),
            self.logical_id,
            self.logical_id,
            self.resource_type,
            self.second,
            self.status
        )
    }
}

/// DescribeStackEvents: the events newest first, as the API lists them.
pub fn events_reply(newest_first: &[String]) -> HttpResponse {
    cfn(
        "DescribeStackEvents",
        &format!("<StackEvents>{}</StackEvents>", newest_first.concat()),
    )
}

/// GetTemplate, with the body as submitted.
pub fn template_reply(body: &str) -> HttpResponse {
    cfn(
        "GetTemplate",
        &format!(
            "<TemplateBody>{}</TemplateBody><StagesAvailable><member>Original</member><member>Processed</member></StagesAvailable>",
            escape(body)
        ),
    )
}

/// A REST JSON error (Lambda, API Gateway): the type in `x-amzn-errortype`.
pub fn rest_json_error(status: u16, code: &str, message: &str) -> HttpResponse {
    http(
        status,
        &[("content-type", "application/json"), ("x-amzn-errortype", code)],
        format!(
            "{{\"Type\":\"User\",\"message\":{}}}",
            serde_json::Value::from(message)
        ),
    )
}

/// An AWS JSON (1.0 / 1.1) error: `{"__type": code, "message": ...}`.
pub fn aws_json_error(code: &str, message: &str) -> HttpResponse {
    http(
        400,
        &[("content-type", "application/x-amz-json-1.0")],
        format!(
            "{{\"__type\":\"{code}\",\"message\":{}}}",
            serde_json::Value::from(message)
        ),
    )
}

pub fn json(body: serde_json::Value) -> HttpResponse {
    http(200, &[("content-type", "application/json")], body.to_string())
}

/// Clients of every service deploy uses, each answering from the rules (the first rule that
/// matches a request answers it; a request no rule matches fails the test).
pub fn aws_with(region: &str, rules: &[Rule]) -> Aws {
    macro_rules! client {
        ($krate:ident) => {{
            // MatchAny: the first rule that matches answers, and stays for the next request.
            let i = rules.iter().fold(
                MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
                |i, rule| i.with_rule(rule),
            );
            $krate::Client::from_conf(
                $krate::Config::builder()
                    .behavior_version($krate::config::BehaviorVersion::latest())
                    .region($krate::config::Region::new(region.to_owned()))
                    .credentials_provider($krate::config::Credentials::new(
                        "AKIDEXAMPLE",
                        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                        None,
                        None,
                        "test",
                    ))
                    .http_client(create_mock_http_client())
                    .interceptor(i)
                    .retry_config($krate::config::retry::RetryConfig::disabled())
                    .stalled_stream_protection($krate::config::StalledStreamProtectionConfig::disabled())
                    .build(),
            )
        }};
    }
    let clients = Clients {
        cfn: client!(aws_sdk_cloudformation),
        s3: client!(aws_sdk_s3),
        secrets: client!(aws_sdk_secretsmanager),
        apigateway: client!(aws_sdk_apigateway),
        dynamodb: client!(aws_sdk_dynamodb),
        lambda: client!(aws_sdk_lambda),
        logs: client!(aws_sdk_cloudwatchlogs),
        cloudwatch: client!(aws_sdk_cloudwatch),
        sqs: client!(aws_sdk_sqs),
        sfn: client!(aws_sdk_sfn),
    };
    Aws::from_clients(
        &AwsSettings {
            region: Some(region.to_owned()),
            profile: None,
            endpoint_url: None,
        },
        Identity {
            region: region.to_owned(),
            account: ACCOUNT.to_owned(),
            caller_arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci"),
        },
        clients,
    )
}

pub fn aws(rules: &[Rule]) -> Aws {
    aws_with(REGION, rules)
}
