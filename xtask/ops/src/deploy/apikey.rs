//! `cargo xtask api-key --env E`: the API key's value, read from API Gateway (the stack outputs
//! only its id), for `curl -H "x-api-key: ..."`.

use anyhow::{Result, bail};
use infra_model::system::api::{API_KEY_HEADER, KEY_ID_OUTPUT, URL_OUTPUT};
use serde::Serialize;

use super::{Aws, DeployTarget, read_stack};

/// What `api-key` found.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyReport {
    pub stack: String,
    pub key_id: String,
    pub value: String,
    /// The API's base URL, when the stack outputs it.
    pub url: Option<String>,
}

impl ApiKeyReport {
    /// A command to paste: the health route with the key.
    pub fn curl_hint(&self) -> String {
        let url = self.url.as_deref().unwrap_or("<the ApiUrl output>");
        format!(
            "curl -H '{API_KEY_HEADER}: {}' {}/orders?status=PENDING",
            self.value,
            url.trim_end_matches('/')
        )
    }
}

/// Reads the key id from the stack's outputs, then the key's value from API Gateway.
pub async fn api_key(target: &DeployTarget) -> Result<ApiKeyReport> {
    let aws = Aws::connect(&target.aws).await?;
    api_key_with(&aws, target).await
}

/// [`api_key`] with given clients.
pub async fn api_key_with(aws: &Aws, target: &DeployTarget) -> Result<ApiKeyReport> {
    let Some(stack) = read_stack(aws, &target.stack).await? else {
        bail!(
            "{} does not exist: deploy it first (`cargo xtask deploy --env {}`)",
            target.stack,
            target.env.name()
        );
    };
    let Some(key_id) = stack.outputs.get(KEY_ID_OUTPUT).cloned() else {
        if aws.local {
            bail!(
                "{} has no output {KEY_ID_OUTPUT}: moto does not create API keys through CloudFormation; \
                 the local system (`cargo xtask dev`) prints its own key when it starts",
                target.stack
            );
        }
        bail!(
            "{} has no output {KEY_ID_OUTPUT} (status {}): deploy the current model first",
            target.stack,
            stack.status
        );
    };
    let key = aws
        .apigateway
        .get_api_key()
        .api_key(&key_id)
        .include_value(true)
        .send()
        .await
        .map_err(|e| {
            aws.explain(
                &format!("read API key {key_id} (apigateway:GET on /apikeys/{key_id})"),
                e,
            )
        })?;
    let Some(value) = key.value().map(str::to_owned) else {
        bail!(
            "API Gateway returned API key {key_id} without its value: the caller needs apigateway:GET on it"
        );
    };
    Ok(ApiKeyReport {
        stack: target.stack.clone(),
        key_id,
        value,
        url: stack.outputs.get(URL_OUTPUT).cloned(),
    })
}
