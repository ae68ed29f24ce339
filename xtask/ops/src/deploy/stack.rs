//! The stack as it is: its description, its state, its resources, waiting for its deletion.

use super::*;

// ---------------------------------------------------------------------------------------------
// The stack as it is

/// A deployed stack.
#[derive(Clone, Debug, Serialize)]
pub struct StackInfo {
    pub id: String,
    pub name: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub parameters: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// CloudFormation refuses to delete the stack until this is lifted (prod).
    pub termination_protection: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
}

/// The stack, or `None` if it does not exist.
pub async fn read_stack(aws: &Aws, name: &str) -> Result<Option<StackInfo>> {
    use aws_sdk_cloudformation::primitives::DateTimeFormat;
    let out = match aws.cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => out,
        Err(e) if error_message(&e).is_some_and(|m| m.contains("does not exist")) => return Ok(None),
        Err(e) => return Err(aws.explain(&format!("read the stack {name}"), e)),
    };
    let Some(s) = out.stacks().first() else {
        return Ok(None);
    };
    let time = |t: Option<&aws_sdk_cloudformation::primitives::DateTime>| {
        t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
    };
    Ok(Some(StackInfo {
        id: s.stack_id().unwrap_or(name).to_owned(),
        name: name.to_owned(),
        status: s
            .stack_status()
            .map(|x| x.as_str().to_owned())
            .unwrap_or_default(),
        status_reason: s.stack_status_reason().map(str::to_owned),
        parameters: s
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_owned(),
                    p.parameter_value().unwrap_or("").to_owned(),
                ))
            })
            .collect(),
        outputs: s
            .outputs()
            .iter()
            .filter_map(|o| {
                Some((
                    o.output_key()?.to_owned(),
                    o.output_value().unwrap_or("").to_owned(),
                ))
            })
            .collect(),
        tags: s
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
            .collect(),
        termination_protection: s.enable_termination_protection().unwrap_or(false),
        created: time(s.creation_time()),
        updated: time(s.last_updated_time()),
    }))
}

/// The template a stack was deployed with (as submitted), parsed.
pub(crate) async fn deployed_template(aws: &Aws, stack: &str) -> Result<Option<Value>> {
    let out = aws
        .cfn
        .get_template()
        .stack_name(stack)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(|e| aws.explain(&format!("read the deployed template of {stack}"), e))?;
    Ok(out.template_body().and_then(|b| serde_json::from_str(b).ok()))
}

/// What to do with a stack in this state: go on (create or update), or stop with advice.
pub(crate) enum StackState {
    Absent,
    /// Created by an unexecuted CREATE change set: holds nothing, deleted before creating.
    Empty,
    Updatable(StackInfo),
    /// An operation is running (an earlier deploy that was interrupted, or one running
    /// elsewhere) and will end by itself: deploy and diff wait for it ([`super::earlier`]),
    /// then look again.
    Busy(StackInfo),
    /// A failed or stuck stack that only deleting fixes (a failed first create, a local stack
    /// moto left half-done).
    NeedsDelete(StackInfo, String),
}

/// `last_event` is the status of the stack's newest stack-level event: moto, after an internal
/// error, leaves a stack whose status looks done but whose last event is `*_IN_PROGRESS`, with
/// the operation half-applied.
///
/// `region` is named in the AWS CLI commands of the refusals.
pub(crate) fn classify(
    stack: Option<StackInfo>,
    env: Env,
    local: bool,
    last_event: Option<&str>,
    region: &str,
) -> Result<StackState> {
    let Some(s) = stack else {
        return Ok(StackState::Absent);
    };
    if local
        && s.status != "REVIEW_IN_PROGRESS"
        && let Some(ev) = last_event.filter(|e| e.ends_with("_IN_PROGRESS"))
    {
        let msg = format!(
            "{} is half-applied: the emulator failed in the middle of an operation ({ev}) and \
             left some changes made and others not.\nWhat to do: deploy again with --recreate \
             (deletes the local stack and its data, then creates it), or `cargo xtask destroy \
             --env {} --endpoint-url URL` first",
            s.name,
            env.name()
        );
        return Ok(StackState::NeedsDelete(s, msg));
    }
    let name = s.name.clone();
    let destroy = format!("cargo xtask destroy --env {}", env.name());
    let status = s.status.as_str();
    Ok(match status {
        "REVIEW_IN_PROGRESS" => StackState::Empty,
        "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED" => {
            let msg = format!(
                "{name} is in {status}: its first deploy failed and was rolled back, and \
                 CloudFormation cannot update a stack in that state.\n\
                 What to do: `cargo xtask status --env {env}` shows what failed; fix it, then \
                 `{destroy}` and deploy again. The destroy keeps what the template retains (log \
                 groups, prod's tables and queues): the next deploy's preflight names each one left \
                 in the way of the new stack, with the command that deletes it",
                env = env.name()
            );
            StackState::NeedsDelete(s, msg)
        }
        "DELETE_FAILED" => bail!(
            "{name} is in DELETE_FAILED: an earlier destroy could not delete some resources.\n\
             What to do: `cargo xtask status --env {}` shows which and why; fix that and run `{destroy}` again",
            env.name()
        ),
        // CloudFormation accepts no update in this state, and nothing ends it but
        // ContinueUpdateRollback (API reference, ContinueUpdateRollback: it continues rolling
        // the stack back from UPDATE_ROLLBACK_FAILED to UPDATE_ROLLBACK_COMPLETE, from which it
        // can be updated again; `ResourcesToSkip` names resources whose rollback failed and
        // cannot succeed: CloudFormation marks them UPDATE_COMPLETE, and they then differ from
        // the template until someone makes them agree). Deploy does not call it: what to fix
        // first is a person's judgement.
        "UPDATE_ROLLBACK_FAILED" => bail!(
            "{name} is in UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback, and \
             CloudFormation accepts no update until the rollback is finished.\n\
             What to do: fix the cause shown by `cargo xtask status --env {env}` (the resources \
             in UPDATE_FAILED and their reasons), then run `aws cloudformation \
             continue-update-rollback --stack-name {name} --region {region}` and deploy again \
             (it waits for the rollback to end). A resource whose rollback cannot succeed can be \
             skipped with `--resources-to-skip LOGICAL_ID`: CloudFormation then marks it rolled \
             back though it is not, so make it match the template by hand before deploying",
            env = env.name(),
        ),
        // moto runs each operation to its end within the request: a local stack in an
        // *_IN_PROGRESS state is one moto stopped in the middle (an internal error), and it
        // never ends. Refused, with --recreate (waiting would last until the time limit).
        st if st.ends_with("_IN_PROGRESS") && local => StackState::NeedsDelete(
            s.clone(),
            format!(
                "{name} is stuck in {st}: the emulator stopped in the middle of an operation \
                 (an internal error).\nWhat to do: `{destroy} --endpoint-url URL` and deploy \
                 again, or deploy with --recreate"
            ),
        ),
        // A destroy is running: deploying after it would create the stack again, which whoever
        // runs the destroy does not expect.
        "DELETE_IN_PROGRESS" => bail!(
            "{name} is being deleted (DELETE_IN_PROGRESS): a destroy is running.\n\
             What to do: let it finish (`cargo xtask status --env {}` shows where it is), then \
             deploy again to create the stack anew",
            env.name()
        ),
        // CloudFormation runs one operation on a stack at a time: in an *_IN_PROGRESS state,
        // CreateChangeSet fails with a ValidationError, `Stack:<arn> is in UPDATE_IN_PROGRESS
        // state and can not be updated.` Each of these states ends by itself (CloudFormation
        // User Guide, "Stack status codes": CREATE_IN_PROGRESS and UPDATE_IN_PROGRESS are
        // ongoing operations; UPDATE_COMPLETE_CLEANUP_IN_PROGRESS is the removal of old
        // resources after a successful update, the stack updated and usable but still busy;
        // UPDATE_ROLLBACK_IN_PROGRESS and ..._COMPLETE_CLEANUP_IN_PROGRESS return it to its
        // previous working state), so the deploy waits for it rather than refusing.
        st if st.ends_with("_IN_PROGRESS") => StackState::Busy(s),
        _ => StackState::Updatable(s),
    })
}

/// The status of the newest event about the stack itself.
pub(crate) async fn newest_stack_event_status(aws: &Aws, stack: &str) -> Result<Option<String>> {
    let page = aws
        .cfn
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| aws.explain(&format!("read the events of {stack}"), e))?;
    Ok(page
        .stack_events()
        .iter()
        .find(|e| e.logical_resource_id() == Some(stack))
        .and_then(|e| e.resource_status())
        .map(|s| s.as_str().to_owned()))
}

pub(crate) async fn cs_stack_id(aws: &Aws, stack: &str) -> Result<Option<String>> {
    Ok(read_stack(aws, stack).await?.map(|s| s.id))
}

/// Waits until a stack is gone (or deleted), at most [`super::aws::Polling::operation_limit`].
pub(crate) async fn wait_deleted(aws: &Aws, stack: &str) -> Result<()> {
    let started = tokio::time::Instant::now();
    let mut delay = aws.poll.first_delay;
    loop {
        match read_stack(aws, stack).await? {
            None => return Ok(()),
            Some(s) if s.status == "DELETE_COMPLETE" => return Ok(()),
            Some(s) if s.status == "DELETE_FAILED" => {
                bail!(
                    "could not delete {stack}: {}",
                    s.status_reason.unwrap_or_default()
                )
            }
            Some(s) => {
                if started.elapsed() >= aws.poll.operation_limit {
                    bail!(
                        "{stack} is still {} after {}: CloudFormation has not finished deleting it, \
                         and goes on.\nWhat to do: watch it with `{}`, then run the command again",
                        s.status,
                        console::human_duration(aws.poll.operation_limit),
                        aws.status_command(stack)
                    );
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(aws.poll.max_delay);
            }
        }
    }
}

/// (logical id, type, physical id) of every resource of a stack.
pub(crate) async fn list_resources(aws: &Aws, stack: &str) -> Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .cfn
            .list_stack_resources()
            .stack_name(stack)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| aws.explain(&format!("list the resources of {stack}"), e))?;
        for r in page.stack_resource_summaries() {
            out.push((
                r.logical_resource_id().unwrap_or("").to_owned(),
                r.resource_type().unwrap_or("").to_owned(),
                r.physical_resource_id().unwrap_or("").to_owned(),
            ));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// The stack's resources: logical id -> physical id (every page of ListStackResources).
pub async fn physical_ids(aws: &Aws, stack: &str) -> Result<BTreeMap<String, String>> {
    let mut physical = BTreeMap::new();
    let mut token = None;
    loop {
        let page = aws
            .cfn
            .list_stack_resources()
            .stack_name(stack)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| aws.explain("list the stack's resources", e))?;
        for r in page.stack_resource_summaries() {
            if let (Some(l), Some(p)) = (r.logical_resource_id(), r.physical_resource_id()) {
                physical.insert(l.to_owned(), p.to_owned());
            }
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(physical);
        }
    }
}
