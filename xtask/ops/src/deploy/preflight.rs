//! Preflight: what only the account knows, checked before the change set (in `deploy` and
//! `diff`), so that a deploy that would fail late, inside CloudFormation and after minutes,
//! is refused at once with the numbers, the names and what to do. Every call runs at once.
//!
//! 1. Lambda's concurrency: an account may reserve concurrency for its functions only while
//!    at least 100 stays unreserved ("You can reserve concurrency for as many functions as you
//!    like, as long as you leave at least 100 simultaneous executions unreserved":
//!    <https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionConcurrency.html>; the
//!    numbers come from `GetAccountSettings`). The stack's functions' reservations replace what
//!    the deployed stack's functions reserve now, which Lambda gives back when they change.
//! 2. Fixed names: a resource whose name the template fixes (log groups, functions, the state
//!    machine, any named table or queue) that exists outside the stack makes its creation
//!    fail with "already exists"; typically a log group an earlier stack retained.
//! 3. The artifacts bucket's region ([`super::bucket::inspect`]).
//! 4. API Gateway's account setting ([`super::account::plan`]).
//!
//! Against a loopback endpoint (moto) there are no quotas, no other stacks' leftovers and no
//! account setting to check: preflight is skipped, and says so.

use std::collections::BTreeSet;

use anyhow::{Result, anyhow};
use infra_model::aws::dynamodb::Table;
use infra_model::aws::lambda::Function;
use infra_model::aws::logs::LogGroup;
use infra_model::aws::sqs::Queue;
use infra_model::aws::stepfunctions::StateMachine;
use infra_model::cfn::Resource;
use serde::Serialize;
use serde_json::Value;

use super::account::{self, AccountPlan};
use super::aws::{Aws, error_code};
use super::bucket::{self, BucketFound};
use super::template::{resource_type, resources};

/// Lambda keeps this much of the account's concurrency unreserved.
pub const MIN_UNRESERVED: i64 = 100;

/// The Service Quotas name and code of Lambda's concurrency limit.
pub const CONCURRENCY_QUOTA: (&str, &str) = ("Concurrent executions", "L-B99A9384");

/// What preflight is given.
pub struct Input<'a> {
    pub stack: &'a str,
    /// The template about to be deployed.
    pub template: &'a Value,
    /// The template the stack runs now, if it exists.
    pub deployed: Option<&'a Value>,
    pub stack_exists: bool,
    pub bucket: &'a str,
}

/// The account's Lambda concurrency, before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Concurrency {
    /// `AccountLimit.ConcurrentExecutions`.
    pub account_limit: i64,
    /// `AccountLimit.UnreservedConcurrentExecutions`.
    pub unreserved_now: i64,
    /// What the template's functions reserve.
    pub stack_reserves: i64,
    /// What the deployed stack's functions reserve now (given back on update).
    pub deployed_reserves: i64,
    pub unreserved_after: i64,
}

/// A fixed name the template would create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FixedName {
    pub logical_id: String,
    pub resource_type: String,
    pub name: String,
}

/// What preflight found (it refuses with an error when something would fail).
#[derive(Clone, Debug, Serialize)]
pub struct Preflight {
    pub concurrency: Concurrency,
    /// The fixed names checked, all free.
    pub names_checked: usize,
    pub bucket_exists: bool,
    pub account: AccountPlan,
}

impl Preflight {
    /// One line per check.
    pub fn lines(&self, stack: &str, region: &str, bucket: &str) -> Vec<String> {
        let c = &self.concurrency;
        let mut lines = vec![
            format!(
                "Preflight: Lambda concurrency in {region}: limit {}, {} unreserved now, {} after {stack} \
                 reserves {} (at least {MIN_UNRESERVED} must stay unreserved)",
                c.account_limit, c.unreserved_now, c.unreserved_after, c.stack_reserves
            ),
            format!(
                "Preflight: {} fixed name(s) the template creates are free (log groups, functions, \
                 state machine, tables, queues)",
                self.names_checked
            ),
            format!(
                "Preflight: the artifacts bucket {bucket} {} in {region}",
                if self.bucket_exists {
                    "is"
                } else {
                    "will be created"
                }
            ),
        ];
        lines.extend(
            self.account
                .lines()
                .into_iter()
                .map(|l| format!("Preflight: {l}")),
        );
        lines
    }
}

/// The line printed instead, against a local endpoint.
pub const SKIPPED_LOCALLY: &str = "local: preflight skipped (Lambda quotas, names left outside the stack, the \
     bucket's region and API Gateway's account setting are things of a real account; moto has none)";

/// Runs every check at once; refuses (an error naming each problem and its fix) before
/// anything is created.
pub async fn run(aws: &Aws, input: &Input<'_>) -> Result<Preflight> {
    let (concurrency, names, bucket_found, account_plan) = tokio::join!(
        concurrency(aws, input),
        names_taken(aws, input),
        bucket::inspect(aws, input.bucket),
        account::plan(aws),
    );
    let mut refusals = Vec::new();
    let mut failed = Vec::new();
    let concurrency = match concurrency {
        Ok((c, refusal)) => {
            refusals.extend(refusal);
            Some(c)
        }
        Err(e) => {
            failed.push(format!("{e:#}"));
            None
        }
    };
    let names_checked = match names {
        Ok((n, taken)) => {
            refusals.extend(taken);
            n
        }
        Err(e) => {
            failed.push(format!("{e:#}"));
            0
        }
    };
    let bucket_exists = match bucket_found {
        Ok(found) => found == BucketFound::Usable,
        Err(e) => {
            refusals.push(format!("{e:#}"));
            false
        }
    };
    let account_plan = match account_plan {
        Ok(p) => Some(p),
        Err(e) => {
            failed.push(format!("{e:#}"));
            None
        }
    };
    if !refusals.is_empty() || !failed.is_empty() {
        let mut text = format!(
            "preflight refused to deploy {}: nothing was created or changed.",
            input.stack
        );
        for (i, r) in refusals.iter().enumerate() {
            text.push_str(&format!("\n\n{}. {r}", i + 1));
        }
        for f in &failed {
            text.push_str(&format!("\n\npreflight could not check: {f}"));
        }
        return Err(anyhow!(text));
    }
    match (concurrency, account_plan) {
        (Some(concurrency), Some(account)) => Ok(Preflight {
            concurrency,
            names_checked,
            bucket_exists,
            account,
        }),
        _ => Err(anyhow!("internal error: preflight ended without its results")),
    }
}

/// The sum of `ReservedConcurrentExecutions` of a template's functions.
pub fn reserved_total(template: &Value) -> i64 {
    resources(template)
        .values()
        .filter(|r| resource_type(r) == Function::TYPE)
        .filter_map(|r| r.pointer("/Properties/ReservedConcurrentExecutions")?.as_i64())
        .sum()
}

async fn concurrency(aws: &Aws, input: &Input<'_>) -> Result<(Concurrency, Option<String>)> {
    let out = aws
        .lambda
        .get_account_settings()
        .send()
        .await
        .map_err(|e| aws.explain("read the account's Lambda limits (lambda:GetAccountSettings)", e))?;
    let limit = out.account_limit();
    let account_limit = i64::from(limit.map_or(0, |l| l.concurrent_executions()));
    let unreserved_now = i64::from(
        limit
            .and_then(|l| l.unreserved_concurrent_executions())
            .unwrap_or(limit.map_or(0, |l| l.concurrent_executions())),
    );
    let stack_reserves = reserved_total(input.template);
    let deployed_reserves = input.deployed.map_or(0, reserved_total);
    let unreserved_after = unreserved_now + deployed_reserves - stack_reserves;
    let c = Concurrency {
        account_limit,
        unreserved_now,
        stack_reserves,
        deployed_reserves,
        unreserved_after,
    };
    if unreserved_after >= MIN_UNRESERVED || stack_reserves <= deployed_reserves {
        return Ok((c, None));
    }
    let reserved_elsewhere = account_limit - unreserved_now - deployed_reserves;
    let needed = stack_reserves + reserved_elsewhere.max(0) + MIN_UNRESERVED;
    let ask = (needed.max(1000) + 99) / 100 * 100;
    let dev = infra_model::synth(infra_model::Env::Dev)
        .map(|t| reserved_total(&t.to_value()))
        .unwrap_or(0);
    let (quota, code) = CONCURRENCY_QUOTA;
    let refusal = format!(
        "Lambda concurrency: {stack} reserves {stack_reserves} concurrent executions for its functions, \
         but the account's limit in {region} is {account_limit} with {unreserved_now} unreserved{given}; \
         after this deploy {unreserved_after} would be unreserved, and Lambda keeps at least \
         {MIN_UNRESERVED} unreserved (it refuses the functions' ReservedConcurrentExecutions, late, \
         inside the change set).\nWhat to do: ask for a higher \"{quota}\" quota ({code}) of AWS Lambda \
         in Service Quotas, at least {needed}: `aws service-quotas request-service-quota-increase \
         --service-code lambda --quota-code {code} --desired-value {ask} --region {region}`; or \
         deploy an environment that reserves less (dev reserves {dev})",
        stack = input.stack,
        region = aws.region,
        given = if deployed_reserves > 0 {
            format!(
                " (the deployed {} gives back its {deployed_reserves})",
                input.stack
            )
        } else {
            String::new()
        },
    );
    Ok((c, Some(refusal)))
}

/// The value of a name in the template: a string, or a `Fn::Sub` of pseudo parameters.
fn resolve(v: &Value, aws: &Aws, stack: &str) -> Option<String> {
    let raw = match v {
        Value::String(s) => return Some(s.clone()),
        Value::Object(m) if m.len() == 1 => m.get("Fn::Sub")?.as_str()?,
        _ => return None,
    };
    let mut out = raw.to_owned();
    for (var, value) in [
        ("AWS::StackName", stack),
        ("AWS::Region", aws.region.as_str()),
        ("AWS::AccountId", aws.account.as_str()),
        ("AWS::Partition", aws.partition()),
        ("AWS::URLSuffix", url_suffix(&aws.region)),
    ] {
        out = out.replace(&format!("${{{var}}}"), value);
    }
    (!out.contains("${")).then_some(out)
}

fn url_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// The name property of each type preflight checks.
const NAMED: &[(&str, &str)] = &[
    (LogGroup::TYPE, "LogGroupName"),
    (Function::TYPE, "FunctionName"),
    (StateMachine::TYPE, "StateMachineName"),
    (Table::TYPE, "TableName"),
    (Queue::TYPE, "QueueName"),
];

/// The fixed names of the resources a template declares, resolved.
pub fn fixed_names(template: &Value, aws: &Aws, stack: &str) -> Vec<FixedName> {
    let mut out = Vec::new();
    for (id, r) in resources(template) {
        let ty = resource_type(&r);
        let Some((_, prop)) = NAMED.iter().find(|(t, _)| *t == ty) else {
            continue;
        };
        if let Some(name) = r
            .pointer(&format!("/Properties/{prop}"))
            .and_then(|v| resolve(v, aws, stack))
        {
            out.push(FixedName {
                logical_id: id.clone(),
                resource_type: ty.to_owned(),
                name,
            });
        }
    }
    out
}

/// Where a name is taken: its identifier (ARN, URL) when one is needed to delete it.
async fn exists(aws: &Aws, n: &FixedName) -> Result<Option<String>> {
    let what = format!("check whether {} ({}) exists", n.name, n.resource_type);
    let ty = n.resource_type.as_str();
    if ty == LogGroup::TYPE {
        let out = aws
            .logs
            .describe_log_groups()
            .log_group_name_prefix(&n.name)
            .send()
            .await
            .map_err(|e| aws.explain(&what, e))?;
        Ok(out
            .log_groups()
            .iter()
            .any(|g| g.log_group_name() == Some(n.name.as_str()))
            .then(|| n.name.clone()))
    } else if ty == Function::TYPE {
        match aws.lambda.get_function().function_name(&n.name).send().await {
            Ok(_) => Ok(Some(n.name.clone())),
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(aws.explain(&what, e)),
        }
    } else if ty == StateMachine::TYPE {
        let arn = format!(
            "arn:{}:states:{}:{}:stateMachine:{}",
            aws.partition(),
            aws.region,
            aws.account,
            n.name
        );
        match aws
            .sfn
            .describe_state_machine()
            .state_machine_arn(&arn)
            .send()
            .await
        {
            Ok(_) => Ok(Some(arn)),
            Err(e) if error_code(&e) == Some("StateMachineDoesNotExist") => Ok(None),
            Err(e) => Err(aws.explain(&what, e)),
        }
    } else if ty == Table::TYPE {
        match aws.dynamodb.describe_table().table_name(&n.name).send().await {
            Ok(_) => Ok(Some(n.name.clone())),
            Err(e) if error_code(&e) == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(aws.explain(&what, e)),
        }
    } else if ty == Queue::TYPE {
        match aws.sqs.get_queue_url().queue_name(&n.name).send().await {
            Ok(out) => Ok(Some(out.queue_url().unwrap_or(&n.name).to_owned())),
            Err(e)
                if matches!(
                    error_code(&e),
                    Some("QueueDoesNotExist" | "AWS.SimpleQueueService.NonExistentQueue")
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws.explain(&what, e)),
        }
    } else {
        Ok(None)
    }
}

/// The command that deletes a resource, and the identifier import needs.
fn delete_command(aws: &Aws, n: &FixedName, id: &str) -> (String, String) {
    let r = &aws.region;
    let ty = n.resource_type.as_str();
    if ty == LogGroup::TYPE {
        (
            format!("aws logs delete-log-group --log-group-name {id} --region {r}"),
            format!("\"LogGroupName\": \"{id}\""),
        )
    } else if ty == Function::TYPE {
        (
            format!("aws lambda delete-function --function-name {id} --region {r}"),
            format!("\"FunctionName\": \"{id}\""),
        )
    } else if ty == StateMachine::TYPE {
        (
            format!("aws stepfunctions delete-state-machine --state-machine-arn {id} --region {r}"),
            format!("\"Arn\": \"{id}\""),
        )
    } else if ty == Table::TYPE {
        (
            format!("aws dynamodb delete-table --table-name {id} --region {r}"),
            format!("\"TableName\": \"{id}\""),
        )
    } else {
        (
            format!("aws sqs delete-queue --queue-url {id} --region {r}"),
            format!("\"QueueUrl\": \"{id}\""),
        )
    }
}

/// The fixed names the template would create that exist outside the stack, as refusals.
async fn names_taken(aws: &Aws, input: &Input<'_>) -> Result<(usize, Vec<String>)> {
    let names = fixed_names(input.template, aws, input.stack);
    let listing = async {
        if input.stack_exists {
            super::list_resources(aws, input.stack).await
        } else {
            Ok(Vec::new())
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    for n in names.clone() {
        let aws = aws.clone();
        tasks.spawn(async move {
            let found = exists(&aws, &n).await;
            (n, found)
        });
    }
    let (owned, found) = tokio::join!(listing, async {
        let mut found = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            found.push(joined.map_err(|e| anyhow!("a preflight check failed: {e}")));
        }
        found
    });
    let owned = owned?;
    let in_stack: BTreeSet<&str> = owned.iter().map(|(l, _, _)| l.as_str()).collect();
    let physical: BTreeSet<&str> = owned.iter().map(|(_, _, p)| p.as_str()).collect();
    let mut refusals = Vec::new();
    let mut found_all = Vec::new();
    for f in found {
        let (n, r) = f?;
        found_all.push((n, r?));
    }
    found_all.sort_by(|a, b| a.0.logical_id.cmp(&b.0.logical_id));
    for (n, id) in found_all {
        let Some(id) = id else { continue };
        // The stack's own resource (updated in place), or one it holds under another id.
        if in_stack.contains(n.logical_id.as_str()) || physical.contains(id.as_str()) {
            continue;
        }
        let (delete, identifier) = delete_command(aws, &n, &id);
        refusals.push(format!(
            "name taken: {} ({}, the template's {}) already exists outside {}, so CloudFormation \
             cannot create it (\"already exists\"). It is usually left by an earlier stack whose \
             DeletionPolicy kept it, after a destroy or a failed first deploy.\nWhat to do: delete \
             it if what it holds is no longer needed: `{delete}`; or keep it and bring it into the \
             stack with a resource import (a change set of type IMPORT with \
             --resources-to-import '[{{\"ResourceType\": \"{}\", \"LogicalResourceId\": \"{}\", \
             \"ResourceIdentifier\": {{{identifier}}}}}]'), then deploy again",
            n.name, n.resource_type, n.logical_id, input.stack, n.resource_type, n.logical_id
        ));
    }
    Ok((names.len(), refusals))
}
