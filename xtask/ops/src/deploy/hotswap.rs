//! `cargo xtask deploy --env dev --hotswap`: when only function code changed, the new zips go
//! straight to Lambda (`UpdateFunctionCode`), without a change set: seconds instead of a
//! stack update. Like `cdk deploy --hotswap`, it leaves the stack drifted (its code-key
//! parameters still name the old zips) until the next full deploy, and it is refused for prod.
//!
//! "Only code changed" is decided on what deploy would send: the template (through the local
//! profile on an emulator) equals the deployed one, and the parameters differ in functions'
//! code keys alone. Anything else falls back to a change set, saying why.
//!
//! After `UpdateFunctionCode`, Lambda updates the function asynchronously: `LastUpdateStatus`
//! is `InProgress`, then `Successful` or `Failed`, and a second update before then is refused
//! with `ResourceConflictException` (<https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html>).
//! Each function is waited for with the SDK's `FunctionUpdatedV2` waiter (GetFunction until
//! the status leaves `InProgress`).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use aws_sdk_lambda::client::Waiters;
use infra_model::Env;
use infra_model::system::{FUNCTIONS, parameters};
use serde::Serialize;

use super::plan::{ms, template_to_send};
use super::stack::deployed_template;
use super::{Artifact, Aws, DeployTarget, StackState, bucket, classify, read_stack};

/// How long one function's update may take.
pub const UPDATE_TIMEOUT: Duration = Duration::from_secs(300);

/// One function whose code was swapped.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Swapped {
    pub function: String,
    /// The deployed function's name.
    pub function_name: String,
    pub code_key: String,
    /// From UpdateFunctionCode to `Successful`.
    pub millis: u64,
}

/// What a hotswap did, or why it could not.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HotswapReport {
    pub stack: String,
    pub env: String,
    pub swapped: Vec<Swapped>,
    /// Set when the change is not code alone: the caller deploys through a change set.
    pub fallback: Option<String>,
    pub millis: u64,
}

impl HotswapReport {
    pub fn lines(&self) -> Vec<String> {
        if let Some(why) = &self.fallback {
            return vec![format!(
                "hotswap: not possible ({why}): deploying through a change set"
            )];
        }
        if self.swapped.is_empty() {
            return vec![format!(
                "hotswap: No changes: {} runs this code already",
                self.stack
            )];
        }
        let mut out: Vec<String> = self
            .swapped
            .iter()
            .map(|s| {
                format!(
                    "  {} ({}): {} in {:.1} s",
                    s.function,
                    s.function_name,
                    s.code_key,
                    s.millis as f64 / 1000.0
                )
            })
            .collect();
        out.insert(
            0,
            format!(
                "hotswap: updated the code of {} function(s) in {:.1} s, without a change set:",
                self.swapped.len(),
                self.millis as f64 / 1000.0
            ),
        );
        out.push(format!(
            "{} has drifted: its functions run code its parameters do not name. The next \
             `cargo xtask deploy --env {}` (without --hotswap) puts the stack right.",
            self.stack, self.env
        ));
        out
    }
}

/// Why a hotswap is refused outright (not a fallback): prod.
pub fn refuse(env: Env) -> Result<()> {
    if env == Env::Prod {
        bail!(
            "--hotswap is refused for prod: production changes go through a change set, reviewed. \
             Deploy without --hotswap"
        );
    }
    Ok(())
}

/// Swaps the code of the functions whose zips changed, or says why it cannot.
pub async fn hotswap(
    aws: &Aws,
    target: &DeployTarget,
    artifacts: &[Artifact],
    artifacts_bucket: Option<&str>,
) -> Result<HotswapReport> {
    refuse(target.env)?;
    let started = Instant::now();
    let fallback = |why: String| HotswapReport {
        stack: target.stack.clone(),
        env: target.env.name().to_owned(),
        swapped: Vec::new(),
        fallback: Some(why),
        millis: ms(started.elapsed()),
    };
    let current = read_stack(aws, &target.stack).await?;
    let stack = match classify(current, target.env, aws.local, None, &aws.region)? {
        StackState::Updatable(s) => s,
        StackState::Absent | StackState::Empty => {
            return Ok(fallback(format!("{} does not exist yet", target.stack)));
        }
        StackState::NeedsDelete(s, _) => return Ok(fallback(format!("the stack is {}", s.status))),
        StackState::Busy(s) => {
            return Ok(fallback(format!(
                "the stack is busy ({}): the change set deploy waits for the running operation",
                s.status
            )));
        }
    };
    let (value, _, _) = template_to_send(aws, target).await?;
    if deployed_template(aws, &target.stack).await?.as_ref() != Some(&value) {
        return Ok(fallback("the template changed, not only function code".into()));
    }
    let bucket_name = artifacts_bucket
        .map(str::to_owned)
        .or_else(|| stack.parameters.get(parameters::ARTIFACTS_BUCKET).cloned())
        .unwrap_or_else(|| bucket::default_name(&aws.account, &aws.region));
    let params = super::template::parameter_values(
        &value,
        &super::template::ParameterInputs {
            bucket: &bucket_name,
            artifacts,
            alarm_email: None,
            deployed: &stack.parameters,
        },
    )?;
    let changed = super::template::changed_parameters(&params, &stack.parameters);
    let mut swaps = Vec::new();
    for name in &changed {
        let Some(f) = FUNCTIONS.iter().find(|f| parameters::code_key(f.id) == *name) else {
            return Ok(fallback(format!("the parameter {name} changed")));
        };
        let Some(a) = artifacts.iter().find(|a| a.function == f.name) else {
            bail!("no artifact for {}: build it first (`cargo xtask build`)", f.name);
        };
        swaps.push((f, a.clone(), params[name].clone()));
    }
    if swaps.is_empty() {
        return Ok(HotswapReport {
            stack: target.stack.clone(),
            env: target.env.name().to_owned(),
            swapped: Vec::new(),
            fallback: None,
            millis: ms(started.elapsed()),
        });
    }
    let physical = super::physical_ids(aws, &stack.id).await?;
    let mut to_swap = Vec::new();
    for (f, a, key) in swaps {
        let Some(function_name) = physical.get(&f.logical_id()).cloned() else {
            bail!(
                "{} has no resource {} (the function {}): deploy without --hotswap",
                target.stack,
                f.logical_id(),
                f.name
            );
        };
        // An earlier hotswap may have put this zip there already (the parameters still differ).
        if running_sha256(aws, &function_name).await?.as_deref() == Some(a.sha256.as_str()) {
            continue;
        }
        to_swap.push((f, a, key, function_name));
    }
    let zips: Vec<Artifact> = to_swap.iter().map(|(_, a, _, _)| a.clone()).collect();
    bucket::upload_artifacts(aws, &bucket_name, &zips).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for (f, _, key, function_name) in to_swap {
        let (aws, bucket_name) = (aws.clone(), bucket_name.clone());
        tasks.spawn(async move {
            let start = Instant::now();
            update_code(&aws, &function_name, &bucket_name, &key).await?;
            Ok::<_, anyhow::Error>(Swapped {
                function: f.name.to_owned(),
                function_name,
                code_key: key,
                millis: ms(start.elapsed()),
            })
        });
    }
    let mut swapped = Vec::new();
    let mut failures = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(s)) => swapped.push(s),
            Ok(Err(e)) => failures.push(format!("{e:#}")),
            Err(e) => failures.push(format!("an update task failed: {e}")),
        }
    }
    if !failures.is_empty() {
        bail!(
            "hotswap failed: {}\nWhat to do: fix the cause, then deploy without --hotswap to put the stack right",
            failures.join("; ")
        );
    }
    swapped.sort_by(|a, b| a.function.cmp(&b.function));
    Ok(HotswapReport {
        stack: target.stack.clone(),
        env: target.env.name().to_owned(),
        swapped,
        fallback: None,
        millis: ms(started.elapsed()),
    })
}

/// The SHA-256 (lower-case hex) of the zip a function runs: Lambda's `CodeSha256` is its
/// base64 (<https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html>).
async fn running_sha256(aws: &Aws, function_name: &str) -> Result<Option<String>> {
    use base64::Engine as _;
    let c = aws
        .lambda
        .get_function_configuration()
        .function_name(function_name)
        .send()
        .await
        .map_err(|e| {
            aws.explain(
                &format!("read the configuration of {function_name} (lambda:GetFunctionConfiguration)"),
                e,
            )
        })?;
    Ok(c.code_sha256()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(hex::encode))
}

/// UpdateFunctionCode from the bucket, then the wait until Lambda has applied it.
pub async fn update_code(aws: &Aws, function_name: &str, bucket: &str, key: &str) -> Result<()> {
    aws.lambda
        .update_function_code()
        .function_name(function_name)
        .s3_bucket(bucket)
        .s3_key(key)
        .send()
        .await
        .map_err(|e| {
            aws.explain(
                &format!("update the code of {function_name} (lambda:UpdateFunctionCode, s3:GetObject on s3://{bucket}/{key})"),
                e,
            )
        })?;
    let waited = aws
        .lambda
        .wait_until_function_updated_v2()
        .function_name(function_name)
        .wait(UPDATE_TIMEOUT)
        .await;
    if waited.is_ok() {
        return Ok(());
    }
    // Why: the configuration's status reason (a failed update says it there).
    let reason = aws
        .lambda
        .get_function_configuration()
        .function_name(function_name)
        .send()
        .await
        .ok()
        .map(|c| {
            format!(
                "{} ({})",
                c.last_update_status().map_or("unknown", |s| s.as_str()),
                c.last_update_status_reason().unwrap_or("no reason given")
            )
        });
    match reason {
        Some(r) => bail!("{function_name}: the code update ended {r}"),
        None => bail!("{function_name}: the code update did not finish within {UPDATE_TIMEOUT:?}"),
    }
}
