//! Planning: everything up to a described change set (what `diff` shows and `deploy` executes).

use super::*;

// ---------------------------------------------------------------------------------------------
// Planning: everything up to a described change set

/// A plan, with what executing it needs.
pub(crate) struct Planned {
    pub(crate) plan: Plan,
    pub(crate) stack_id: Option<String>,
    pub(crate) change_set: Option<ChangeSet>,
    /// The stack existed before (so an abandoned CREATE change set leaves a stack to delete).
    pub(crate) existed: bool,
    pub(crate) deployed_outputs: BTreeMap<String, String>,
    /// The template as sent: its body, and its S3 URL when it went through the bucket.
    pub(crate) body: String,
    pub(crate) template_url: Option<String>,
}

impl Planned {
    pub(crate) fn template_ref(&self) -> TemplateRef<'_> {
        match &self.template_url {
            Some(u) => TemplateRef::Url(u),
            None => TemplateRef::Body(&self.body),
        }
    }
}

/// The stack's tags: CloudFormation puts them on every resource. Not in the template, so the
/// snapshots do not change per commit.
pub fn stack_tags(env: Env) -> Vec<(String, String)> {
    vec![
        ("app".to_owned(), APP.to_owned()),
        ("environment".to_owned(), env.name().to_owned()),
        ("commit".to_owned(), git_commit()),
    ]
}

/// The commit being deployed (12 hex digits, `-dirty` with uncommitted changes), or `unknown`.
pub fn git_commit() -> String {
    let root = crate::root();
    let run = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(sha) = run(&["rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".to_owned();
    };
    let dirty = run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty { format!("{sha}-dirty") } else { sha }
}

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Creates the secrets the local profile stands in for (or finds them from an earlier run).
pub(crate) async fn ensure_local_secrets(
    aws: &Aws,
    specs: &[local::SecretSpec],
) -> Result<local::LocalProfile> {
    let mut profile = local::LocalProfile::default();
    for s in specs {
        let arn = match aws.secrets.describe_secret().secret_id(&s.name).send().await {
            Ok(d) => d.arn().unwrap_or_default().to_owned(),
            Err(e) if aws::error_code(&e) == Some("ResourceNotFoundException") => {
                let value = match &s.secret_string {
                    Some(v) => v.clone(),
                    None => {
                        let mut call = aws
                            .secrets
                            .get_random_password()
                            .password_length(s.length)
                            .exclude_punctuation(s.exclude_punctuation);
                        if let Some(x) = &s.exclude_characters {
                            call = call.exclude_characters(x);
                        }
                        call.send()
                            .await
                            .map_err(|e| aws.explain("generate a local secret value", e))?
                            .random_password()
                            .unwrap_or_default()
                            .to_owned()
                    }
                };
                aws.secrets
                    .create_secret()
                    .name(&s.name)
                    .secret_string(value)
                    .description(format!(
                        "Stands in locally for {} (moto's CloudFormation skips secrets)",
                        s.logical_id
                    ))
                    .send()
                    .await
                    .map_err(|e| aws.explain(&format!("create the local secret {}", s.name), e))?
                    .arn()
                    .unwrap_or_default()
                    .to_owned()
            }
            Err(e) => return Err(aws.explain(&format!("read the local secret {}", s.name), e)),
        };
        profile.secret_arns.insert(s.logical_id.clone(), arn);
        profile.secret_names.insert(s.logical_id.clone(), s.name.clone());
    }
    Ok(profile)
}

/// The template as it is sent, and its body: through the local profile for an emulator (with
/// what that profile left out).
pub(crate) async fn template_to_send(
    aws: &Aws,
    target: &DeployTarget,
) -> Result<(Value, String, Vec<local::LocalNote>)> {
    let value = target.template_value()?;
    if aws.local {
        let specs = local::secrets(&value, &target.stack);
        let profile = ensure_local_secrets(aws, &specs).await?;
        let l = local::apply(&value, &profile)?;
        Ok((l.value, l.body, l.notes))
    } else {
        let body = template::body(&value);
        Ok((value, body, Vec::new()))
    }
}

/// The stack's state once no operation runs on it: an operation found running is followed to
/// its end ([`earlier::wait_for`]), and the stack read again.
async fn settled_state(
    aws: &Aws,
    target: &DeployTarget,
    console: &Console,
) -> Result<(StackState, Option<earlier::EarlierOperation>)> {
    let stack = target.stack.as_str();
    let mut waited = None;
    let mut rounds = 0;
    loop {
        let current = read_stack(aws, stack).await?;
        let last_event = match (&current, aws.local) {
            (Some(_), true) => newest_stack_event_status(aws, stack).await?,
            _ => None,
        };
        match classify(current, target.env, aws.local, last_event.as_deref(), &aws.region)? {
            StackState::Busy(s) if rounds < earlier::MAX_WAITS => {
                rounds += 1;
                waited = Some(earlier::wait_for(aws, &s, earlier::Then::Plan, console).await?);
            }
            StackState::Busy(s) => return Err(earlier::busy_again(aws, stack, &s.status)),
            state => return Ok((state, waited)),
        }
    }
}

/// Steps 3 to 7: the stack's state, the template and parameters, the fast comparison, the
/// bucket and uploads, the change set.
pub(crate) async fn plan(
    aws: &Aws,
    target: &DeployTarget,
    options: &DeployOptions,
    artifacts: &[Artifact],
    console: &Console,
    timings: &mut BTreeMap<String, u64>,
) -> Result<Planned> {
    let started = Instant::now();
    let stack = target.stack.as_str();
    let (mut state, earlier_operation) = settled_state(aws, target, console).await?;
    if let StackState::NeedsDelete(s, msg) = &state {
        if aws.local && options.local_updates == LocalUpdates::Recreate {
            console.line(format!(
                "local: deleting {stack} ({}) before creating it again (--recreate)",
                s.status
            ));
            delete_local_stack(aws, stack, console).await?;
            state = StackState::Absent;
        } else {
            bail!("{msg}");
        }
    }
    if let StackState::Empty = &state {
        // A CREATE change set that was never executed: an empty shell, in the way of a new one.
        // (moto also leaves one after failing to create a stack, with what it did create.)
        if aws.local {
            delete_local_stack(aws, stack, console).await?;
        } else {
            aws.cfn
                .delete_stack()
                .stack_name(stack)
                .send()
                .await
                .map_err(|e| {
                    aws.explain(&format!("delete the empty stack {stack} (REVIEW_IN_PROGRESS)"), e)
                })?;
            wait_deleted(aws, stack).await?;
        }
        state = StackState::Absent;
    }
    let existing = match &state {
        StackState::Updatable(s) => Some(s.clone()),
        _ => None,
    };

    let (value, body, notes) = template_to_send(aws, target).await?;
    for line in local::render_notes(&notes) {
        console.line(line);
    }
    let delivery = template::delivery(&body)?;
    let bucket_name = options
        .artifacts_bucket
        .clone()
        .unwrap_or_else(|| bucket::default_name(&aws.account, &aws.region));
    let no_params = BTreeMap::new();
    let deployed_params = existing.as_ref().map_or(&no_params, |s| &s.parameters);
    let params = template::parameter_values(
        &value,
        &template::ParameterInputs {
            bucket: &bucket_name,
            artifacts,
            alarm_email: options.alarm_email.as_deref(),
            deployed: deployed_params,
        },
    )?;

    let mut plan = Plan {
        stack: stack.to_owned(),
        env: target.env.name().to_owned(),
        region: aws.region.clone(),
        account: aws.account.clone(),
        endpoint: aws.endpoint.clone(),
        local: aws.local,
        bucket: bucket_name.clone(),
        bucket_state: None,
        uploads: Uploads::default(),
        template_bytes: body.len(),
        template_delivery: delivery,
        local_notes: notes,
        change_set: None,
        no_changes: false,
        changes: Vec::new(),
        needs_recreate: Vec::new(),
        local_skipped: Vec::new(),
        preflight: None,
        earlier_operation,
    };

    // Fast path: same template, same parameters.
    let deployed = match &existing {
        Some(_) => deployed_template(aws, stack).await?,
        None => None,
    };
    if let Some(s) = &existing
        && s.parameters == params
        && deployed.as_ref() == Some(&value)
    {
        plan.no_changes = true;
        timings.insert("plan".into(), ms(started.elapsed()));
        return Ok(Planned {
            plan,
            stack_id: Some(s.id.clone()),
            change_set: None,
            existed: true,
            deployed_outputs: s.outputs.clone(),
            body,
            template_url: None,
        });
    }
    timings.insert("plan".into(), ms(started.elapsed()));

    // Preflight: what only the account knows, before anything is created.
    if aws.local {
        console.line(preflight::SKIPPED_LOCALLY);
    } else {
        let started = Instant::now();
        // Boxed: the futures of deploy and diff stay small enough for a test thread's stack.
        let found = Box::pin(preflight::run(
            aws,
            &preflight::Input {
                stack,
                template: &value,
                deployed: deployed.as_ref(),
                stack_exists: existing.is_some(),
                bucket: &bucket_name,
            },
        ))
        .await?;
        timings.insert("preflight".into(), ms(started.elapsed()));
        console.lines(found.lines(stack, &aws.region, &bucket_name));
        plan.preflight = Some(found);
    }

    // The bucket, the artifacts, the template.
    let started = Instant::now();
    plan.bucket_state = Some(bucket::ensure(aws, &bucket_name).await?);
    if plan.bucket_state == Some(BucketState::Created) {
        console.line(format!(
            "Created the artifacts bucket s3://{bucket_name} (encrypted, versioned, public access blocked)"
        ));
        if aws.local {
            console.line(
                "local: the artifacts bucket has no TLS-only policy: the emulator speaks plain HTTP, and moto enforces bucket policies",
            );
        }
    }
    let needed: Vec<Artifact> = artifacts
        .iter()
        .filter(|a| {
            params
                .values()
                .any(|v| *v == infra_model::system::parameters::code_key_value(&a.function, &a.sha256))
        })
        .cloned()
        .collect();
    plan.uploads = bucket::upload_artifacts(aws, &bucket_name, &needed).await?;
    console.line(format!(
        "Artifacts: {} uploaded, {} already in s3://{bucket_name}",
        plan.uploads.uploaded.len(),
        plan.uploads.already_there.len()
    ));
    for key in &plan.uploads.uploaded {
        console.line(format!("  uploaded {key}"));
    }
    let template_url = match delivery {
        TemplateDelivery::Inline => None,
        TemplateDelivery::ViaS3 => {
            let url = bucket::upload_template(aws, &bucket_name, stack, &body).await?;
            console.line(format!(
                "Template: {} bytes, over the inline limit of 51,200: sent through {url}",
                body.len()
            ));
            Some(url)
        }
    };
    let template_ref = match &template_url {
        Some(u) => TemplateRef::Url(u),
        None => TemplateRef::Body(&body),
    };
    timings.insert("upload".into(), ms(started.elapsed()));

    // The change set.
    let started = Instant::now();
    let kind = if existing.is_some() {
        ChangeSetKind::Update
    } else {
        ChangeSetKind::Create
    };
    let tags = stack_tags(target.env);
    let commit = tags
        .iter()
        .find(|(k, _)| k == "commit")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let cs = changes::create(
        aws,
        &ChangeSetRequest {
            stack,
            kind,
            template: template_ref,
            parameters: &params,
            tags: &tags,
            description: &format!("cargo xtask deploy of {commit}"),
        },
    )
    .await?;
    timings.insert("change_set".into(), ms(started.elapsed()));
    let mut changes = cs.changes.clone();

    // moto lists no change that comes from parameters only (a function's new code key), though
    // it applies them: list those from the parameter diff.
    if aws.local && kind == ChangeSetKind::Update && changes.is_empty() {
        let changed = template::changed_parameters(deployed_params, &params);
        for (id, ty, used) in template::resources_using(&value, &changed) {
            changes.push(Change {
                action: Action::Modify,
                logical_id: id,
                resource_type: ty,
                physical_id: None,
                replacement: Replaces::No,
                scope: vec!["Properties".into()],
                details: used,
                source: ChangeSource::ParameterDiff,
            });
        }
        if !changes.is_empty() {
            console.line(
                "local: listed the changes that come from parameters from the parameter diff (moto's change sets leave them out)",
            );
        }
    }
    let stack_id = cs_stack_id(aws, stack).await?;
    plan.change_set = Some(kind);
    // Nothing to do when the service says so. An empty change set for a different template
    // (outputs only, say) still deploys.
    plan.no_changes = cs.nothing_to_do
        || (cs.empty
            && changes.is_empty()
            && existing.is_some()
            && deployed.as_ref() == Some(&value)
            && deployed_params == &params);
    if aws.local {
        // moto's change sets say which resources change, not which properties: compare the
        // templates, and check that moto can apply each change.
        let changed_params = template::changed_parameters(deployed_params, &params);
        let old = deployed.as_ref().map(template::resources).unwrap_or_default();
        let new = template::resources(&value);
        for c in changes.iter_mut().filter(|c| c.action == Action::Modify) {
            let Some(new_r) = new.get(&c.logical_id) else {
                continue;
            };
            let props = template::changed_properties(old.get(&c.logical_id), new_r, &changed_params);
            if c.details.is_empty() {
                c.details = props.clone();
            }
            match local::local_update(&c.resource_type, &props) {
                local::LocalUpdate::Applied => {}
                local::LocalUpdate::Skipped(p) => plan.local_skipped.push(format!(
                    "local: moto does not apply the change of {} ({}) to {}: it changes nothing locally \
                     (moto runs no function code and enforces no IAM)",
                    p.join(", "),
                    c.logical_id,
                    c.resource_type
                )),
                local::LocalUpdate::NeedsRecreate(why) => {
                    plan.needs_recreate
                        .push(format!("{} ({}): {why}", c.logical_id, c.resource_type));
                }
            }
        }
    }
    plan.changes = changes;
    Ok(Planned {
        plan,
        stack_id,
        change_set: Some(cs),
        existed: existing.is_some(),
        deployed_outputs: existing.map(|s| s.outputs).unwrap_or_default(),
        body,
        template_url,
    })
}

/// Prints the diff of a plan.
pub(crate) fn print_plan(plan: &Plan, console: &Console) {
    if plan.no_changes {
        console.line(format!("No changes: {} is up to date", plan.stack));
        return;
    }
    let kind = plan.change_set.unwrap_or(ChangeSetKind::Update);
    console.lines(changes::render(&plan.stack, kind, &plan.changes));
    for line in &plan.local_skipped {
        console.line(line);
    }
    for r in &plan.needs_recreate {
        console.line(format!("local: moto cannot apply the change of {r}"));
    }
    if !plan.needs_recreate.is_empty() {
        console.line(
            "local: deploy refuses this update; deploy --recreate deletes the local stack (and its data) and creates it again",
        );
    }
}

/// Throws away a change set that will not run, and the empty stack a CREATE one made.
pub(crate) async fn abandon(aws: &Aws, planned: &Planned) -> Result<()> {
    if let Some(cs) = &planned.change_set {
        changes::delete(aws, &planned.plan.stack, &cs.id).await?;
        if cs.kind == ChangeSetKind::Create && !planned.existed && !cs.id.is_empty() {
            aws.cfn
                .delete_stack()
                .stack_name(&planned.plan.stack)
                .send()
                .await
                .map_err(|e| {
                    aws.explain("delete the stack the change set created (REVIEW_IN_PROGRESS)", e)
                })?;
            wait_deleted(aws, &planned.plan.stack).await?;
        }
    }
    Ok(())
}
