//! `destroy`: the stack goes, what its policies keep is listed, and locally what moto leaves behind.

use super::*;
use infra_model::aws as model;
use infra_model::cfn::Resource as _;

// ---------------------------------------------------------------------------------------------
// destroy

/// A resource that outlives its stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeptResource {
    pub logical_id: String,
    pub resource_type: String,
    pub physical_id: String,
    /// `Retain`, `RetainExceptOnCreate` or `Snapshot`.
    pub policy: String,
}

/// How a destroy ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DestroyOutcome {
    Destroyed,
    NotFound,
    Failed,
    NotConfirmed,
}

/// Everything a destroy did.
#[derive(Clone, Debug, Serialize)]
pub struct DestroyReport {
    pub stack: String,
    pub outcome: DestroyOutcome,
    pub kept: Vec<KeptResource>,
    pub failures: Vec<FailedResource>,
    /// Local only: what xtask deleted that moto leaves behind.
    pub local_cleanup: Vec<String>,
    pub elapsed_ms: u64,
}

impl DestroyReport {
    pub fn exit_code(&self) -> u8 {
        match self.outcome {
            DestroyOutcome::Destroyed | DestroyOutcome::NotFound => exit::OK,
            DestroyOutcome::Failed => exit::FAILED,
            DestroyOutcome::NotConfirmed => exit::NOT_CONFIRMED,
        }
    }
}

/// `cargo xtask destroy`: deletes the stack (prod asks first), reports what its deletion
/// policies keep, and locally removes what moto leaves behind.
pub async fn destroy(target: &DeployTarget, options: &DeployOptions) -> Result<DestroyReport> {
    let aws = Aws::connect(&target.aws).await?;
    destroy_with(&aws, target, options).await
}

/// [`destroy`] with given clients. The account stack ([`super::account`]) is never touched.
pub async fn destroy_with(
    aws: &Aws,
    target: &DeployTarget,
    options: &DeployOptions,
) -> Result<DestroyReport> {
    let console = Console::new(options.output);
    let total = Instant::now();
    let stack = target.stack.as_str();
    let mut report = DestroyReport {
        stack: stack.to_owned(),
        outcome: DestroyOutcome::NotFound,
        kept: Vec::new(),
        failures: Vec::new(),
        local_cleanup: Vec::new(),
        elapsed_ms: 0,
    };
    let Some(info) = settled_stack(aws, stack, &console).await? else {
        console.line(format!("{stack} does not exist: nothing to destroy"));
        report.elapsed_ms = ms(total.elapsed());
        return Ok(report);
    };
    let template = deployed_template(aws, stack).await.ok().flatten();
    let resources = list_resources(aws, stack).await?;
    for (id, r) in template.as_ref().map(template::resources).unwrap_or_default() {
        let policy = r
            .get("DeletionPolicy")
            .and_then(Value::as_str)
            .unwrap_or("Delete");
        if matches!(policy, "Retain" | "RetainExceptOnCreate" | "Snapshot") {
            let physical = resources
                .iter()
                .find(|(l, _, _)| *l == id)
                .map(|(_, _, p)| p.clone());
            let Some(physical_id) = physical else { continue };
            report.kept.push(KeptResource {
                logical_id: id.clone(),
                resource_type: template::resource_type(&r).to_owned(),
                physical_id,
                policy: policy.to_owned(),
            });
        }
    }
    let question = format!("Delete {stack} ({})? This cannot be undone.", info.status);
    if !confirmed(target.env, options, &question, &console)? {
        report.outcome = DestroyOutcome::NotConfirmed;
        report.elapsed_ms = ms(total.elapsed());
        return Ok(report);
    }
    if info.termination_protection {
        if !protected_env(target.env) {
            bail!(
                "{stack} has termination protection: CloudFormation refuses to delete it.\n\
                 What to do: if it is really to go, lift it with `aws cloudformation \
                 update-termination-protection --no-enable-termination-protection --stack-name \
                 {stack} --region {}` and run this again",
                aws.region
            );
        }
        // Prod: the deletion was confirmed explicitly (the prompt, or --yes), which is what
        // the protection asks for.
        aws.cfn
            .update_termination_protection()
            .stack_name(stack)
            .enable_termination_protection(false)
            .send()
            .await
            .map_err(|e| aws.explain(&format!("lift the termination protection of {stack}"), e))?;
        console.line(format!(
            "Lifted the termination protection of {stack} (the deletion was confirmed)"
        ));
    }
    console.line(format!("Deleting {stack} ({} resources)", resources.len()));
    let since = events::newest_event_id(aws, stack).await?;
    aws.cfn
        .delete_stack()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| aws.explain(&format!("delete {stack}"), e))?;
    let followed = events::follow(aws, &info.id, stack, since, resources.len(), &console).await?;
    if !followed.succeeded {
        console.line(format!("Destroy failed: {stack} is {}", followed.status));
        for f in &followed.failures {
            console.line(format!(
                "  {} ({}) {}: {}",
                f.logical_id, f.resource_type, f.status, f.reason
            ));
        }
        console.line(format!(
            "What to do: fix the cause above (often a non-empty bucket or a resource in use) and run \
             `cargo xtask destroy --env {}` again",
            target.env.name()
        ));
        report.outcome = DestroyOutcome::Failed;
        report.failures = followed.failures;
        report.elapsed_ms = ms(total.elapsed());
        return Ok(report);
    }
    if aws.local {
        report.local_cleanup = local_cleanup(aws, stack, &resources, true).await?;
        for line in &report.local_cleanup {
            console.line(line);
        }
    }
    report.outcome = DestroyOutcome::Destroyed;
    report.elapsed_ms = ms(total.elapsed());
    console.line(format!(
        "Destroyed {stack} in {}",
        console::human_duration(total.elapsed())
    ));
    for k in &report.kept {
        console.line(format!(
            "  kept {} ({}) {}: its DeletionPolicy is {}; delete it by hand when its data is no longer needed",
            k.logical_id, k.resource_type, k.physical_id, k.policy
        ));
    }
    let bucket = options
        .artifacts_bucket
        .clone()
        .unwrap_or_else(|| bucket::default_name(&aws.account, &aws.region));
    console.line(format!(
        "  kept the artifacts bucket s3://{bucket}: every stack of this account and region shares it"
    ));
    Ok(report)
}

/// Whether DeleteStack must wait for the operation running on a stack in `status`.
/// CloudFormation runs one operation on a stack at a time and refuses to delete one that is
/// being updated: DeleteStack answers a ValidationError, `Stack [<id>] cannot be deleted while
/// in status UPDATE_COMPLETE_CLEANUP_IN_PROGRESS` (the same for the other update states). Each
/// such state ends by itself (User Guide, "Stack status codes"). A stack already being deleted
/// is deleted again (DeleteStack is accepted, and its deletion followed); one in
/// REVIEW_IN_PROGRESS holds nothing yet and is deleted at once. moto runs every operation
/// within its request: a local stack in an *_IN_PROGRESS state is stuck there, and deleting
/// it is the way out (`plan::classify`), so it is not waited for.
fn must_wait(status: &str, local: bool) -> bool {
    !local
        && status.ends_with("_IN_PROGRESS")
        && !matches!(status, "DELETE_IN_PROGRESS" | "REVIEW_IN_PROGRESS")
}

/// The stack once no operation that blocks its deletion runs on it ([`must_wait`]): one found
/// running is followed to its end, as deploy does ([`earlier::wait_for`]), and the stack read
/// again. `None`: there is no stack (or no longer).
async fn settled_stack(aws: &Aws, stack: &str, console: &Console) -> Result<Option<StackInfo>> {
    let mut rounds = 0;
    loop {
        match read_stack(aws, stack).await? {
            Some(info) if must_wait(&info.status, aws.local) && rounds < earlier::MAX_WAITS => {
                rounds += 1;
                earlier::wait_for(aws, &info, earlier::Then::Delete, console).await?;
            }
            Some(info) if must_wait(&info.status, aws.local) => {
                return Err(earlier::busy_again(aws, stack, &info.status));
            }
            settled => return Ok(settled),
        }
    }
}

/// After moto deletes a stack: delete the REST APIs it leaves behind, and the secrets xtask
/// created in place of the template's.
pub(crate) async fn local_cleanup(
    aws: &Aws,
    stack: &str,
    resources: &[(String, String, String)],
    delete_secrets: bool,
) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for (id, ty, physical) in resources {
        if ty != model::apigateway::RestApi::TYPE || physical.is_empty() {
            continue;
        }
        match aws.apigateway.delete_rest_api().rest_api_id(physical).send().await {
            Ok(_) => done.push(format!(
                "local: deleted the REST API {physical} ({id}): moto leaves REST APIs behind when it deletes a stack"
            )),
            Err(e) if aws::http_status(&e) == Some(404) => {}
            Err(e) => return Err(aws.explain(&format!("delete the REST API {physical} that moto left behind"), e)),
        }
    }
    if !delete_secrets {
        return Ok(done);
    }
    // The secrets the local profile created: `<stack>/<logical id>`.
    let prefix = format!("{stack}/");
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .secrets
            .list_secrets()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| aws.explain("list the local secrets", e))?;
        names.extend(
            page.secret_list()
                .iter()
                .filter_map(|s| s.name())
                .filter(|n| n.starts_with(&prefix))
                .map(str::to_owned),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    for name in names {
        match aws
            .secrets
            .delete_secret()
            .secret_id(&name)
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => done.push(format!(
                "local: deleted the secret {name}, which stood in for the template's (moto's CloudFormation skips secrets)"
            )),
            Err(e) if aws::error_code(&e) == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(aws.explain(&format!("delete the local secret {name}"), e)),
        }
    }
    Ok(done)
}

/// Deletes a local stack and cleans up after moto (for --recreate).
pub(crate) async fn delete_local_stack(aws: &Aws, stack: &str, console: &Console) -> Result<()> {
    // moto cannot list the resources of a stack it failed to create (REVIEW_IN_PROGRESS).
    let resources = list_resources(aws, stack).await.unwrap_or_default();
    aws.cfn
        .delete_stack()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| aws.explain(&format!("delete {stack}"), e))?;
    wait_deleted(aws, stack).await?;
    // The secrets stay: the new stack reuses them, so their values (and signed tokens) survive.
    for line in local_cleanup(aws, stack, &resources, false).await? {
        console.line(line);
    }
    Ok(())
}
