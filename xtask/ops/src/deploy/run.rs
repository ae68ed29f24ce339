//! `diff` and `deploy`: the plan, the confirmation, the execution and its report.

use super::*;

// ---------------------------------------------------------------------------------------------
// diff, deploy

/// `cargo xtask diff`: steps 1 to 7, then the change set is deleted. Diff and deploy build the
/// same change set, so they agree.
pub async fn diff(
    target: &DeployTarget,
    options: &DeployOptions,
    artifacts: &[Artifact],
) -> Result<DiffReport> {
    let started = Instant::now();
    let aws = Aws::connect(&target.aws).await?;
    let connect = ms(started.elapsed());
    let mut report = Box::pin(diff_with(&aws, target, options, artifacts)).await?;
    report.timings_ms.insert("connect".into(), connect);
    Ok(report)
}

/// [`diff`] with given clients (tests of the AWS-only paths give mocked ones).
pub async fn diff_with(
    aws: &Aws,
    target: &DeployTarget,
    options: &DeployOptions,
    artifacts: &[Artifact],
) -> Result<DiffReport> {
    let console = Console::new(options.output);
    let total = Instant::now();
    let mut timings = BTreeMap::new();
    let planned = Box::pin(plan(aws, target, options, artifacts, &console, &mut timings)).await?;
    print_plan(&planned.plan, &console);
    abandon(aws, &planned).await?;
    timings.insert("total".into(), ms(total.elapsed()));
    Ok(DiffReport {
        plan: planned.plan,
        timings_ms: timings,
    })
}

/// Whether `CI` says this is an automated run.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

/// Whether a person can answer a prompt: a terminal on stdin and stderr, and not CI.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !ci()
}

/// Asks on the terminal; true for "y" or "yes".
pub(crate) fn confirm(question: &str) -> Result<bool> {
    let mut err = std::io::stderr().lock();
    write!(err, "{question} [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// Prod needs a yes: `--yes`, or a person at a terminal. Returns false when not confirmed.
pub(crate) fn confirmed(
    env: Env,
    options: &DeployOptions,
    question: &str,
    console: &Console,
) -> Result<bool> {
    if env != Env::Prod || options.yes {
        return Ok(true);
    }
    if !interactive() {
        console.line(format!(
            "Not confirmed: {} is production, and without a terminal (or with CI=true) there is \
             no prompt. Pass --yes to go ahead.",
            stack_name(env)
        ));
        return Ok(false);
    }
    console.clear_bar();
    let yes = confirm(question)?;
    if !yes {
        console.line("Not confirmed: nothing was changed.");
    }
    Ok(yes)
}

/// `cargo xtask deploy`: the whole pipeline. `Ok` with an outcome for every run that got as far
/// as the stack (deployed, no changes, failed, not confirmed); `Err` for what stopped it before
/// (credentials, permissions, a stack in a state that needs a person, ...).
pub async fn deploy(
    target: &DeployTarget,
    options: &DeployOptions,
    artifacts: &[Artifact],
) -> Result<DeployReport> {
    let started = Instant::now();
    let aws = Aws::connect(&target.aws).await?;
    let connect = ms(started.elapsed());
    let mut report = Box::pin(deploy_with(&aws, target, options, artifacts)).await?;
    report.timings_ms.insert("connect".into(), connect);
    Ok(report)
}

/// [`deploy`] with given clients (tests of the AWS-only paths give mocked ones).
pub async fn deploy_with(
    aws: &Aws,
    target: &DeployTarget,
    options: &DeployOptions,
    artifacts: &[Artifact],
) -> Result<DeployReport> {
    let console = Console::new(options.output);
    let total = Instant::now();
    let mut timings = BTreeMap::new();
    let where_ = match &aws.endpoint {
        Some(e) => format!("{e} (region {})", aws.region),
        None => format!("account {}, region {}", aws.account, aws.region),
    };
    console.line(format!("Deploying {} to {where_}", target.stack));
    let mut planned = Box::pin(plan(aws, target, options, artifacts, &console, &mut timings)).await?;

    // A local update moto cannot apply: refuse, or recreate.
    if !planned.plan.needs_recreate.is_empty() {
        print_plan(&planned.plan, &console);
        abandon(aws, &planned).await?;
        if options.local_updates == LocalUpdates::Refuse {
            bail!(
                "the emulator cannot apply this update: {}.\nWhat to do: deploy again with \
                 --recreate (deletes the local stack and its data, then creates it), or \
                 `cargo xtask destroy --env {} --endpoint-url {}` first",
                planned.plan.needs_recreate.join("; "),
                target.env.name(),
                aws.endpoint.as_deref().unwrap_or("URL")
            );
        }
        console.line(format!(
            "local: recreating {} because moto cannot apply the change of {} (--recreate)",
            target.stack,
            planned
                .plan
                .needs_recreate
                .iter()
                .map(|r| r.split(':').next().unwrap_or(r))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        delete_local_stack(aws, &target.stack, &console).await?;
        planned = Box::pin(plan(aws, target, options, artifacts, &console, &mut timings)).await?;
    }

    print_plan(&planned.plan, &console);
    let finish = |planned: Planned,
                  outcome,
                  followed: Option<Followed>,
                  outputs,
                  mut timings: BTreeMap<String, u64>| {
        timings.insert("total".into(), ms(total.elapsed()));
        let (status, status_reason, failures, cancelled) = match followed {
            Some(f) => (Some(f.status), f.status_reason, f.failures, f.cancelled),
            None => (None, None, Vec::new(), 0),
        };
        DeployReport {
            plan: planned.plan,
            outcome,
            status,
            status_reason,
            failures,
            cancelled,
            outputs,
            timings_ms: timings,
        }
    };
    let account_change = planned
        .plan
        .preflight
        .as_ref()
        .map(|p| p.account.clone())
        .filter(account::AccountPlan::changes_something);
    if planned.plan.no_changes && account_change.is_none() {
        let outputs = planned.deployed_outputs.clone();
        return Ok(finish(planned, Outcome::NoChanges, None, outputs, timings));
    }
    let question = format!(
        "Deploy these {} change(s) to {}?",
        planned.plan.changes.len(),
        target.stack
    );
    if !confirmed(target.env, options, &question, &console)? {
        abandon(aws, &planned).await?;
        return Ok(finish(
            planned,
            Outcome::NotConfirmed,
            None,
            BTreeMap::new(),
            timings,
        ));
    }

    // The account stack first: a stage's execution logging needs API Gateway's role.
    if let Some(a) = &account_change
        && let Err(e) = Box::pin(account::apply(aws, a, &console)).await
    {
        abandon(aws, &planned).await?;
        return Err(e);
    }
    if planned.plan.no_changes {
        let outputs = planned.deployed_outputs.clone();
        return Ok(finish(planned, Outcome::NoChanges, None, outputs, timings));
    }

    // Execute and follow.
    let started = Instant::now();
    let Some(cs) = planned.change_set.clone() else {
        bail!("internal error: a plan with changes but no change set");
    };
    let since = events::newest_event_id(aws, &target.stack).await?;
    let log_offset = options
        .emulator_log
        .as_ref()
        .and_then(|l| std::fs::metadata(l).ok())
        .map_or(0, |m| usize::try_from(m.len()).unwrap_or(usize::MAX));
    // Not retried: a retry after an error that hid a started execution would fail, or (moto)
    // succeed on half-applied state.
    if let Err(e) = aws
        .cfn
        .execute_change_set()
        .change_set_name(&cs.id)
        .stack_name(&target.stack)
        .customize()
        .config_override(
            aws_sdk_cloudformation::config::Builder::default()
                .retry_config(aws_config::retry::RetryConfig::disabled()),
        )
        .send()
        .await
    {
        if aws.local {
            let reason =
                explain_emulator_failure(aws, options, &e, &planned.template_ref(), log_offset).await;
            console.line(format!(
                "Deploy failed: the emulator could not apply the change set: {reason}"
            ));
            console.line(format!(
                "What to do: fix the cause; the local stack may be half-applied, so deploy again \
                 with --recreate (or `cargo xtask destroy --env {} --endpoint-url URL` first)",
                target.env.name()
            ));
            let followed = Followed {
                status: read_stack(aws, &target.stack)
                    .await?
                    .map(|s| s.status)
                    .unwrap_or_else(|| "UNKNOWN".into()),
                status_reason: Some(reason.clone()),
                succeeded: false,
                events: Vec::new(),
                failures: vec![FailedResource {
                    logical_id: target.stack.clone(),
                    resource_type: "AWS::CloudFormation::Stack".into(),
                    status: "EXECUTE_FAILED".into(),
                    reason,
                }],
                cancelled: 0,
            };
            timings.insert("execute".into(), ms(started.elapsed()));
            return Ok(finish(
                planned,
                Outcome::Failed,
                Some(followed),
                BTreeMap::new(),
                timings,
            ));
        }
        return Err(aws.explain(&format!("execute the change set of {}", target.stack), e));
    }
    let stack_id = planned.stack_id.clone().unwrap_or_else(|| target.stack.clone());
    console.line(format!(
        "Executing {} ({} change(s)):",
        cs.name,
        planned.plan.changes.len()
    ));
    let followed = events::follow(
        aws,
        &stack_id,
        &target.stack,
        since,
        planned.plan.changes.len(),
        &console,
    )
    .await?;
    if aws.local && followed.events.iter().all(|e| e.logical_id == target.stack) {
        console.line(format!(
            "local: moto reports stack-level events only: the {} change(s) above were applied in one step",
            planned.plan.changes.len()
        ));
    }
    timings.insert("execute".into(), ms(started.elapsed()));

    if !followed.succeeded {
        report_failure(&target.stack, target.env, &followed, &console);
        return Ok(finish(
            planned,
            Outcome::Failed,
            Some(followed),
            BTreeMap::new(),
            timings,
        ));
    }
    if aws.local {
        refresh_local_outputs(aws, &target.stack).await?;
    }
    let after = read_stack(aws, &target.stack).await?;
    if let Some(s) = &after
        && protected_env(target.env)
        && !s.termination_protection
    {
        if aws.local {
            console.line(format!(
                "local: {} gets no termination protection (moto answers UpdateTerminationProtection with an internal error)",
                target.stack
            ));
        } else {
            protect(aws, &target.stack, &console).await?;
        }
    }
    let outputs = after.map(|s| s.outputs).unwrap_or_default();
    console.line(format!(
        "Deployed {} ({}) in {}",
        target.stack,
        followed.status,
        console::human_duration(total.elapsed())
    ));
    print_outputs(&outputs, &console);
    Ok(finish(
        planned,
        Outcome::Deployed,
        Some(followed),
        outputs,
        timings,
    ))
}

/// moto computes a stack's outputs when the stack is created, not when a change set is
/// executed: an update with the same template and no parameters makes it compute them again
/// (it changes nothing else).
pub(crate) async fn refresh_local_outputs(aws: &Aws, stack: &str) -> Result<()> {
    match aws
        .cfn
        .update_stack()
        .stack_name(stack)
        .use_previous_template(true)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if error_message(&e).is_some_and(|m| m.contains("No updates")) => Ok(()),
        Err(e) => Err(aws.explain("refresh the local stack's outputs", e)),
    }
}

/// Why the emulator failed: its answer, the last error in its log, and its template check
/// (moto checks templates, with cfn-lint, only when asked).
pub(crate) async fn explain_emulator_failure<E>(
    aws: &Aws,
    options: &DeployOptions,
    err: &aws_sdk_cloudformation::error::SdkError<E, aws_sdk_cloudformation::config::http::HttpResponse>,
    template: &TemplateRef<'_>,
    log_offset: usize,
) -> String
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut parts = Vec::new();
    if let Some(m) = error_message(err) {
        parts.push(m.to_owned());
    } else if let Some(m) = aws::raw_error_text(err) {
        // moto answers some CloudFormation errors in another service's JSON.
        parts.push(m);
    }
    if let Some(log) = &options.emulator_log {
        // moto writes the traceback after it answers: wait a little for it, and read only what
        // came after the execution started.
        for _ in 0..40 {
            let text = std::fs::read(log).unwrap_or_default();
            let new = text.get(log_offset.min(text.len())..).unwrap_or_default();
            if let Some(line) = crate::moto::last_traceback_error(&String::from_utf8_lossy(new)) {
                parts.push(format!("moto: {line}"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    let check = match template {
        TemplateRef::Body(b) => aws.cfn.validate_template().template_body(*b).send().await,
        TemplateRef::Url(u) => aws.cfn.validate_template().template_url(*u).send().await,
    };
    if let Err(e) = check
        && let Some(m) = error_message(&e)
    {
        // moto words it "Stack with id <finding> does not exist".
        let m = m
            .trim_start_matches("Stack with id ")
            .trim_end_matches(" does not exist");
        parts.push(format!("template check: {m}"));
    }
    if parts.is_empty() {
        parts.push("HTTP 500, an internal error of moto (its log has the traceback)".to_owned());
    }
    parts.join("; ")
}

pub(crate) fn report_failure(stack: &str, env: Env, followed: &Followed, console: &Console) {
    let rolled_back = followed.status.contains("ROLLBACK");
    console.line(format!(
        "Deploy failed: {stack} is {}{}",
        followed.status,
        if rolled_back { " (rolled back)" } else { "" }
    ));
    console.lines(failure_lines(followed));
    if followed.status == "ROLLBACK_COMPLETE" {
        console.line(format!(
            "What to do: fix the cause above, then `cargo xtask destroy --env {}` (a stack whose \
             first deploy failed cannot be updated) and deploy again",
            env.name()
        ));
    } else {
        console.line("What to do: fix the cause above and deploy again");
    }
}

/// What failed in a stack operation: each failed resource with its reason (or the stack's
/// reason when no resource failed), and how many were cancelled because of it.
pub(crate) fn failure_lines(followed: &Followed) -> Vec<String> {
    let mut lines = Vec::new();
    if followed.failures.is_empty() {
        if let Some(r) = &followed.status_reason {
            lines.push(format!("  reason: {r}"));
        }
    } else {
        lines.push("Resources that failed:".to_owned());
        for f in &followed.failures {
            lines.push(format!(
                "  {} ({}) {}: {}",
                f.logical_id, f.resource_type, f.status, f.reason
            ));
        }
    }
    if followed.cancelled > 0 {
        lines.push(format!(
            "  ({} other resource(s) were cancelled because of the failure)",
            followed.cancelled
        ));
    }
    lines
}

pub(crate) fn print_outputs(outputs: &BTreeMap<String, String>, console: &Console) {
    if outputs.is_empty() {
        return;
    }
    console.line("Outputs:");
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in outputs {
        console.line(format!("  {k:<width$}  {v}"));
    }
}

/// The environments whose stack CloudFormation refuses to delete until its termination
/// protection is lifted (`destroy --env prod` lifts it after the confirmation).
pub fn protected_env(env: Env) -> bool {
    env == Env::Prod
}

/// Turns on a stack's termination protection (after its first deploy, or on a stack deployed
/// before it was set).
pub(crate) async fn protect(aws: &Aws, stack: &str, console: &Console) -> Result<()> {
    aws.cfn
        .update_termination_protection()
        .stack_name(stack)
        .enable_termination_protection(true)
        .send()
        .await
        .map_err(|e| aws.explain(&format!("turn on the termination protection of {stack}"), e))?;
    console.line(format!(
        "Turned on the termination protection of {stack}: CloudFormation refuses to delete it \
         until it is lifted (`cargo xtask destroy` lifts it after the confirmation)"
    ));
    Ok(())
}
