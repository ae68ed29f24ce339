//! `cargo xtask invoke --env E FUNCTION [--event FILE]`: one synchronous invocation of a deployed
//! function with an event (by default the test-support fixture of its trigger), its response and
//! the tail of its log (Lambda's `LogType=Tail`: the last 4 KB, base64 in `X-Amz-Log-Result`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::LogType;
use base64::Engine as _;
use infra_model::decl::{Function, Trigger};
use infra_model::system::FUNCTIONS;
use serde::Serialize;
use serde_json::Value;

use super::{Aws, DeployTarget};

/// The declared function of a name; the error lists the names there are.
pub fn function(name: &str) -> Result<&'static Function> {
    FUNCTIONS
        .iter()
        .copied()
        .find(|f| f.name == name)
        .with_context(|| {
            let names: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
            format!("no function named {name:?}: the system has {}", names.join(", "))
        })
}

/// The example event of a function's trigger: a real event from `functions/test-support/fixtures`.
pub fn default_event(f: &Function) -> PathBuf {
    let file = match &f.trigger {
        Trigger::Api => "apigw-rest-proxy.json",
        Trigger::Stream(_) => "dynamodb-stream-insert.json",
        Trigger::Queue(_) => "sqs-event.json",
        Trigger::WorkflowTask if f.name.contains("compensation") => "sfn-compensation-task.json",
        Trigger::WorkflowTask => "sfn-payment-task.json",
    };
    crate::root().join("functions/test-support/fixtures").join(file)
}

/// What one invocation returned.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvokeReport {
    pub function: String,
    /// The deployed function's name (the stack's physical id).
    pub function_name: String,
    pub status_code: i32,
    /// `Handled` or `Unhandled` when the function failed.
    pub function_error: Option<String>,
    pub response: Value,
    /// The last 4 KB of the invocation's log.
    pub log_tail: String,
}

/// The event of `--event FILE`, or the fixture of the function's trigger.
fn read_event(f: &Function, event: Option<&Path>) -> Result<Value> {
    let path = event.map_or_else(|| default_event(f), Path::to_path_buf);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the event {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON: an event is a JSON document", path.display()))
}

/// Reads the event, finds the function's deployed name in the stack and invokes it.
pub async fn invoke(target: &DeployTarget, name: &str, event: Option<&Path>) -> Result<InvokeReport> {
    let f = function(name)?;
    let event = read_event(f, event)?;
    let aws = Aws::connect(&target.aws).await?;
    invoke_with(&aws, target, f, &event).await
}

/// `cargo xtask invoke --local`: the same, against the running `cargo xtask dev`: the names
/// from its stack in moto, the invocation through its Lambda Invoke endpoint
/// ([`crate::dev::lambda_api`]), which runs the function's local process.
pub async fn invoke_local(name: &str, event: Option<&Path>) -> Result<InvokeReport> {
    let state = crate::live::LocalState::read()?;
    let target = DeployTarget::new(
        infra_model::Env::Dev,
        super::AwsSettings {
            endpoint_url: Some(state.moto_endpoint.clone()),
            ..super::AwsSettings::default()
        },
    );
    let f = function(name)?;
    let event = read_event(f, event)?;
    let mut aws = Aws::connect(&target.aws).await?;
    aws.lambda = with_endpoint(&aws.lambda, &state.lambda_endpoint);
    invoke_with(&aws, &target, f, &event).await
}

/// A Lambda client like `client` that sends its requests to `endpoint`.
pub fn with_endpoint(client: &aws_sdk_lambda::Client, endpoint: &str) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::from_conf(client.config().to_builder().endpoint_url(endpoint).build())
}

/// [`invoke`] with given clients and event.
pub async fn invoke_with(
    aws: &Aws,
    target: &DeployTarget,
    f: &Function,
    event: &Value,
) -> Result<InvokeReport> {
    let logical = f.logical_id();
    let resource = aws
        .cfn
        .describe_stack_resource()
        .stack_name(&target.stack)
        .logical_resource_id(&logical)
        .send()
        .await
        .map_err(|e| {
            aws.explain(
                &format!(
                    "find {logical} in {} (is it deployed? `cargo xtask deploy --env {}`)",
                    target.stack,
                    target.env.name()
                ),
                e,
            )
        })?;
    let Some(function_name) = resource
        .stack_resource_detail()
        .and_then(|d| d.physical_resource_id())
        .map(str::to_owned)
    else {
        bail!("{} has no deployed {logical} yet: deploy it first", target.stack);
    };
    let out = aws
        .lambda
        .invoke()
        .function_name(&function_name)
        .payload(Blob::new(event.to_string()))
        .log_type(LogType::Tail)
        .send()
        .await
        .map_err(|e| aws.explain(&format!("invoke {function_name}"), e))?;
    let bytes = out.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default();
    let response = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    let log_tail = out
        .log_result()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Ok(InvokeReport {
        function: f.name.to_owned(),
        function_name,
        status_code: out.status_code(),
        function_error: out.function_error().map(str::to_owned),
        response,
        log_tail,
    })
}
