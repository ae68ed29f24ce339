//! `cargo xtask deploy`, `diff`, `destroy`, `status`, `outputs`, `seed-inventory`: the stack
//! through CloudFormation change sets, against AWS or a local emulator (moto server).
//!
//! The pipeline, as library functions (the `dev` command and the tests call the same code):
//!
//! 1. artifacts: [`artifacts_for_deploy`] (the one place where `xtask::build` plugs in);
//! 2. connect ([`aws::Aws`]): credentials from the usual chain, the account from STS;
//! 3. the stack's state: a failed or busy stack is refused with what to do;
//! 4. the template: synthesized (or given), through the local profile ([`local`]) when the
//!    endpoint is loopback, with its parameters (bucket, content-addressed code keys);
//! 5. no change? the template and parameters equal the deployed ones: `No changes`, done;
//! 6. the artifacts bucket ([`bucket`]) and the uploads (skipping what is there); a template
//!    over 51,200 bytes goes through the bucket;
//! 7. a change set ([`changes`]), read back as a diff with replacements flagged;
//! 8. `diff` stops here (the change set is deleted); `deploy` asks for confirmation on prod,
//!    executes, follows the events ([`events`]) and prints the outputs, or the failures.

pub mod aws;
pub mod bucket;
pub mod changes;
pub mod cli;
pub mod console;
pub mod events;
pub mod local;
pub mod seed;
pub mod template;

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_cloudformation::types::TemplateStage;
use infra_model::Env;
use infra_model::system::FUNCTIONS;
use infra_model::system::{APP, stack_name};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use self::aws::error_message;
pub use self::aws::{Aws, AwsSettings};
use self::bucket::{BucketState, Uploads};
use self::changes::{
    Action, Change, ChangeSet, ChangeSetKind, ChangeSetRequest, ChangeSource, Replaces, TemplateRef,
};
pub use self::console::{Console, OutputMode};
use self::events::{FailedResource, Followed};
use self::local::LocalNote;
use self::template::TemplateDelivery;
use crate::artifact::Artifact;

/// The exit codes of the deploy commands.
pub mod exit {
    /// Done; or nothing to change.
    pub const OK: u8 = 0;
    /// Could not run: bad input, credentials, permissions, a stack in a state that needs a
    /// person, an emulator that cannot apply an update.
    pub const ERROR: u8 = 1;
    /// `diff --fail`: there are changes.
    pub const CHANGES: u8 = 2;
    /// The stack operation ran and failed (rolled back, or the emulator failed).
    pub const FAILED: u8 = 3;
    /// Not confirmed: the prompt was declined, or prod without `--yes` and no terminal.
    pub const NOT_CONFIRMED: u8 = 4;
}

// ---------------------------------------------------------------------------------------------
// Inputs

/// What to deploy, and where.
#[derive(Clone, Debug)]
pub struct DeployTarget {
    pub env: Env,
    /// `<app>-<env>` unless a test chooses another.
    pub stack: String,
    pub aws: AwsSettings,
    pub template: TemplateSource,
}

/// Where the template comes from.
#[derive(Clone, Debug)]
pub enum TemplateSource {
    /// Synthesized from the model for the target's environment.
    Model,
    /// A given template (tests, and hand-written fixes).
    Custom(Value),
}

impl DeployTarget {
    /// The environment's stack, from the model.
    pub fn new(env: Env, aws: AwsSettings) -> DeployTarget {
        DeployTarget {
            env,
            stack: stack_name(env),
            aws,
            template: TemplateSource::Model,
        }
    }

    /// The same target with a given template.
    pub fn with_template(mut self, template: Value) -> DeployTarget {
        self.template = TemplateSource::Custom(template);
        self
    }

    /// The same target under another stack name.
    pub fn with_stack_name(mut self, stack: impl Into<String>) -> DeployTarget {
        self.stack = stack.into();
        self
    }

    fn template_value(&self) -> Result<Value> {
        match &self.template {
            TemplateSource::Model => Ok(infra_model::synth(self.env)
                .with_context(|| format!("cannot synthesize the {} environment", self.env))?
                .to_value()),
            TemplateSource::Custom(v) => Ok(v.clone()),
        }
    }
}

/// What a local endpoint does when the change set modifies a resource moto cannot update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalUpdates {
    /// Stop, delete the change set and say what to do (the default).
    #[default]
    Refuse,
    /// Delete the local stack and create it again (its data goes).
    Recreate,
}

/// How to deploy.
#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
    /// `--yes`: no prompt, prod included.
    pub yes: bool,
    /// `--artifacts-bucket`: instead of `orders-artifacts-<account>-<region>`.
    pub artifacts_bucket: Option<String>,
    /// `--alarm-email`: the AlarmEmail parameter; without it the deployed value stays.
    pub alarm_email: Option<String>,
    /// `--recreate`: what a local endpoint does with updates moto cannot apply.
    pub local_updates: LocalUpdates,
    pub output: OutputMode,
    /// The emulator's log, to explain its internal errors (tests and `dev` know it).
    pub emulator_log: Option<PathBuf>,
}

// ---------------------------------------------------------------------------------------------
// Artifacts

/// The artifacts deploy and diff use: **the one place where deploy gets them.** With
/// `--artifacts DIR`, the zips in `DIR/<function>/bootstrap.zip`, hashed here; without it, the
/// arm64 build (`xtask::build`, which skips what is up to date).
pub fn artifacts_for_deploy(artifacts_dir: Option<&Path>) -> Result<Vec<Artifact>> {
    match artifacts_dir {
        Some(dir) => artifacts_from_dir(dir),
        None => crate::build::build(&crate::build::BuildOptions::all(crate::build::Arch::Arm64)).context(
            "deploy needs the functions' arm64 zips and building them failed; fix the build \
             (`cargo xtask build`), or pass --artifacts DIR with DIR/<function>/bootstrap.zip",
        ),
    }
}

/// `DIR/<function>/bootstrap.zip` for every function of the model, hashed.
pub fn artifacts_from_dir(dir: &Path) -> Result<Vec<Artifact>> {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for f in FUNCTIONS.iter() {
        let zip = dir.join(f.name).join("bootstrap.zip");
        match std::fs::read(&zip) {
            Ok(bytes) => out.push(Artifact {
                function: f.name.to_owned(),
                sha256: bucket::hex(&Sha256::digest(&bytes)),
                zip,
            }),
            Err(_) => missing.push(zip.display().to_string()),
        }
    }
    if !missing.is_empty() {
        bail!(
            "missing function zip(s): {}\nWhat to do: run `cargo xtask build` (it writes \
             target/lambda/<function>/bootstrap.zip) and pass --artifacts target/lambda",
            missing.join(", ")
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Reports

/// What deploy found it has to do: the diff.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub stack: String,
    pub env: String,
    pub region: String,
    pub account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub local: bool,
    pub bucket: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_state: Option<BucketState>,
    pub uploads: Uploads,
    pub template_bytes: usize,
    pub template_delivery: TemplateDelivery,
    pub local_notes: Vec<LocalNote>,
    /// `None` when the fast comparison found nothing to change (no change set was made).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_set: Option<ChangeSetKind>,
    pub no_changes: bool,
    pub changes: Vec<Change>,
    /// Local only: Modify changes moto cannot apply (deploy refuses them, or recreates).
    pub needs_recreate: Vec<String>,
    /// Local only: property changes moto skips that change nothing locally.
    pub local_skipped: Vec<String>,
}

/// How a deploy ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    NoChanges,
    Deployed,
    Failed,
    NotConfirmed,
}

/// Everything a deploy did.
#[derive(Clone, Debug, Serialize)]
pub struct DeployReport {
    #[serde(flatten)]
    pub plan: Plan,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub failures: Vec<FailedResource>,
    pub cancelled: usize,
    pub outputs: BTreeMap<String, String>,
    /// Milliseconds per phase: connect, plan, upload, change_set, execute, total.
    pub timings_ms: BTreeMap<String, u64>,
}

impl DeployReport {
    pub fn exit_code(&self) -> u8 {
        match self.outcome {
            Outcome::NoChanges | Outcome::Deployed => exit::OK,
            Outcome::Failed => exit::FAILED,
            Outcome::NotConfirmed => exit::NOT_CONFIRMED,
        }
    }
}

/// What `diff` found.
#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    #[serde(flatten)]
    pub plan: Plan,
    pub timings_ms: BTreeMap<String, u64>,
}

impl DiffReport {
    /// 0, or [`exit::CHANGES`] with `--fail` when there is something to deploy.
    pub fn exit_code(&self, fail_on_changes: bool) -> u8 {
        if fail_on_changes && !self.plan.no_changes {
            exit::CHANGES
        } else {
            exit::OK
        }
    }
}

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
        created: time(s.creation_time()),
        updated: time(s.last_updated_time()),
    }))
}

/// The template a stack was deployed with (as submitted), parsed.
async fn deployed_template(aws: &Aws, stack: &str) -> Result<Option<Value>> {
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
enum StackState {
    Absent,
    /// Created by an unexecuted CREATE change set: holds nothing, deleted before creating.
    Empty,
    Updatable(StackInfo),
    /// A failed or stuck stack that only deleting fixes (a failed first create, a local stack
    /// moto left half-done).
    NeedsDelete(StackInfo, String),
}

/// `last_event` is the status of the stack's newest stack-level event: moto, after an internal
/// error, leaves a stack whose status looks done but whose last event is `*_IN_PROGRESS`, with
/// the operation half-applied.
fn classify(stack: Option<StackInfo>, env: Env, local: bool, last_event: Option<&str>) -> Result<StackState> {
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
                 `{destroy}` and deploy again",
                env = env.name()
            );
            StackState::NeedsDelete(s, msg)
        }
        "DELETE_FAILED" => bail!(
            "{name} is in DELETE_FAILED: an earlier destroy could not delete some resources.\n\
             What to do: `cargo xtask status --env {}` shows which and why; fix that and run `{destroy}` again",
            env.name()
        ),
        "UPDATE_ROLLBACK_FAILED" => bail!(
            "{name} is in UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback.\n\
             What to do: fix the cause shown by `cargo xtask status --env {}`, then run \
             `aws cloudformation continue-update-rollback --stack-name {name}` and deploy again",
            env.name()
        ),
        st if st.ends_with("_IN_PROGRESS") && local => StackState::NeedsDelete(
            s.clone(),
            format!(
                "{name} is stuck in {st}: the emulator stopped in the middle of an operation \
                 (an internal error).\nWhat to do: `{destroy} --endpoint-url URL` and deploy \
                 again, or deploy with --recreate"
            ),
        ),
        st if st.ends_with("_IN_PROGRESS") => bail!(
            "{name} is busy ({st}): another deploy or destroy is running.\n\
             What to do: wait for it to finish (`cargo xtask status --env {}` shows where it is), then run this again",
            env.name()
        ),
        _ => StackState::Updatable(s),
    })
}

// ---------------------------------------------------------------------------------------------
// Planning: everything up to a described change set

/// A plan, with what executing it needs.
struct Planned {
    plan: Plan,
    stack_id: Option<String>,
    change_set: Option<ChangeSet>,
    /// The stack existed before (so an abandoned CREATE change set leaves a stack to delete).
    existed: bool,
    deployed_outputs: BTreeMap<String, String>,
    /// The template as sent: its body, and its S3 URL when it went through the bucket.
    body: String,
    template_url: Option<String>,
}

impl Planned {
    fn template_ref(&self) -> TemplateRef<'_> {
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

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Creates the secrets the local profile stands in for (or finds them from an earlier run).
async fn ensure_local_secrets(aws: &Aws, specs: &[local::SecretSpec]) -> Result<local::LocalProfile> {
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

/// Steps 3 to 7: the stack's state, the template and parameters, the fast comparison, the
/// bucket and uploads, the change set.
async fn plan(
    aws: &Aws,
    target: &DeployTarget,
    options: &DeployOptions,
    artifacts: &[Artifact],
    console: &Console,
    timings: &mut BTreeMap<String, u64>,
) -> Result<Planned> {
    let started = Instant::now();
    let stack = target.stack.as_str();
    let current = read_stack(aws, stack).await?;
    let last_event = match (&current, aws.local) {
        (Some(_), true) => newest_stack_event_status(aws, stack).await?,
        _ => None,
    };
    let mut state = classify(current, target.env, aws.local, last_event.as_deref())?;
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

    // The template, through the local profile for an emulator.
    let mut value = target.template_value()?;
    let mut notes = Vec::new();
    let body = if aws.local {
        let specs = local::secrets(&value, stack);
        let profile = ensure_local_secrets(aws, &specs).await?;
        let l = local::apply(&value, &profile)?;
        value = l.value;
        notes = l.notes;
        l.body
    } else {
        value.to_string()
    };
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

/// The status of the newest event about the stack itself.
async fn newest_stack_event_status(aws: &Aws, stack: &str) -> Result<Option<String>> {
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

async fn cs_stack_id(aws: &Aws, stack: &str) -> Result<Option<String>> {
    Ok(read_stack(aws, stack).await?.map(|s| s.id))
}

/// Prints the diff of a plan.
fn print_plan(plan: &Plan, console: &Console) {
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
async fn abandon(aws: &Aws, planned: &Planned) -> Result<()> {
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

/// Waits until a stack is gone (or deleted).
async fn wait_deleted(aws: &Aws, stack: &str) -> Result<()> {
    let mut delay = Duration::from_millis(if aws.local { 20 } else { 1000 });
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
            Some(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// diff, deploy

/// `cargo xtask diff`: steps 1 to 7, then the change set is deleted. Diff and deploy build the
/// same change set, so they agree.
pub async fn diff(
    target: &DeployTarget,
    options: &DeployOptions,
    artifacts: &[Artifact],
) -> Result<DiffReport> {
    let console = Console::new(options.output);
    let total = Instant::now();
    let mut timings = BTreeMap::new();
    let started = Instant::now();
    let aws = Aws::connect(&target.aws).await?;
    timings.insert("connect".into(), ms(started.elapsed()));
    let planned = plan(&aws, target, options, artifacts, &console, &mut timings).await?;
    print_plan(&planned.plan, &console);
    abandon(&aws, &planned).await?;
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
fn confirm(question: &str) -> Result<bool> {
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
fn confirmed(env: Env, options: &DeployOptions, question: &str, console: &Console) -> Result<bool> {
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
    let console = Console::new(options.output);
    let total = Instant::now();
    let mut timings = BTreeMap::new();
    let started = Instant::now();
    let aws = Aws::connect(&target.aws).await?;
    timings.insert("connect".into(), ms(started.elapsed()));
    let where_ = match &aws.endpoint {
        Some(e) => format!("{e} (region {})", aws.region),
        None => format!("account {}, region {}", aws.account, aws.region),
    };
    console.line(format!("Deploying {} to {where_}", target.stack));
    let mut planned = plan(&aws, target, options, artifacts, &console, &mut timings).await?;

    // A local update moto cannot apply: refuse, or recreate.
    if !planned.plan.needs_recreate.is_empty() {
        print_plan(&planned.plan, &console);
        abandon(&aws, &planned).await?;
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
        delete_local_stack(&aws, &target.stack, &console).await?;
        planned = plan(&aws, target, options, artifacts, &console, &mut timings).await?;
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
    if planned.plan.no_changes {
        let outputs = planned.deployed_outputs.clone();
        return Ok(finish(planned, Outcome::NoChanges, None, outputs, timings));
    }
    let question = format!(
        "Deploy these {} change(s) to {}?",
        planned.plan.changes.len(),
        target.stack
    );
    if !confirmed(target.env, options, &question, &console)? {
        abandon(&aws, &planned).await?;
        return Ok(finish(
            planned,
            Outcome::NotConfirmed,
            None,
            BTreeMap::new(),
            timings,
        ));
    }

    // Execute and follow.
    let started = Instant::now();
    let Some(cs) = planned.change_set.clone() else {
        bail!("internal error: a plan with changes but no change set");
    };
    let since = events::newest_event_id(&aws, &target.stack).await?;
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
                explain_emulator_failure(&aws, options, &e, &planned.template_ref(), log_offset).await;
            console.line(format!(
                "Deploy failed: the emulator could not apply the change set: {reason}"
            ));
            console.line(format!(
                "What to do: fix the cause; the local stack may be half-applied, so deploy again \
                 with --recreate (or `cargo xtask destroy --env {} --endpoint-url URL` first)",
                target.env.name()
            ));
            let followed = Followed {
                status: read_stack(&aws, &target.stack)
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
        &aws,
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
        refresh_local_outputs(&aws, &target.stack).await?;
    }
    let outputs = read_stack(&aws, &target.stack)
        .await?
        .map(|s| s.outputs)
        .unwrap_or_default();
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
async fn refresh_local_outputs(aws: &Aws, stack: &str) -> Result<()> {
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
async fn explain_emulator_failure<E>(
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

fn report_failure(stack: &str, env: Env, followed: &Followed, console: &Console) {
    let rolled_back = followed.status.contains("ROLLBACK");
    console.line(format!(
        "Deploy failed: {stack} is {}{}",
        followed.status,
        if rolled_back { " (rolled back)" } else { "" }
    ));
    if followed.failures.is_empty() {
        if let Some(r) = &followed.status_reason {
            console.line(format!("  reason: {r}"));
        }
    } else {
        console.line("Resources that failed:");
        for f in &followed.failures {
            console.line(format!(
                "  {} ({}) {}: {}",
                f.logical_id, f.resource_type, f.status, f.reason
            ));
        }
    }
    if followed.cancelled > 0 {
        console.line(format!(
            "  ({} other resource(s) were cancelled because of the failure)",
            followed.cancelled
        ));
    }
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

fn print_outputs(outputs: &BTreeMap<String, String>, console: &Console) {
    if outputs.is_empty() {
        return;
    }
    console.line("Outputs:");
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in outputs {
        console.line(format!("  {k:<width$}  {v}"));
    }
}

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
    let console = Console::new(options.output);
    let total = Instant::now();
    let aws = Aws::connect(&target.aws).await?;
    let stack = target.stack.as_str();
    let mut report = DestroyReport {
        stack: stack.to_owned(),
        outcome: DestroyOutcome::NotFound,
        kept: Vec::new(),
        failures: Vec::new(),
        local_cleanup: Vec::new(),
        elapsed_ms: 0,
    };
    let Some(info) = read_stack(&aws, stack).await? else {
        console.line(format!("{stack} does not exist: nothing to destroy"));
        report.elapsed_ms = ms(total.elapsed());
        return Ok(report);
    };
    let template = deployed_template(&aws, stack).await.ok().flatten();
    let resources = list_resources(&aws, stack).await?;
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
    console.line(format!("Deleting {stack} ({} resources)", resources.len()));
    let since = events::newest_event_id(&aws, stack).await?;
    aws.cfn
        .delete_stack()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| aws.explain(&format!("delete {stack}"), e))?;
    let followed = events::follow(&aws, &info.id, stack, since, resources.len(), &console).await?;
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
        report.local_cleanup = local_cleanup(&aws, stack, &resources, true).await?;
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

/// (logical id, type, physical id) of every resource of a stack.
async fn list_resources(aws: &Aws, stack: &str) -> Result<Vec<(String, String, String)>> {
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

/// After moto deletes a stack: delete the REST APIs it leaves behind, and the secrets xtask
/// created in place of the template's.
async fn local_cleanup(
    aws: &Aws,
    stack: &str,
    resources: &[(String, String, String)],
    delete_secrets: bool,
) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for (id, ty, physical) in resources {
        if ty != "AWS::ApiGateway::RestApi" || physical.is_empty() {
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
async fn delete_local_stack(aws: &Aws, stack: &str, console: &Console) -> Result<()> {
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

// ---------------------------------------------------------------------------------------------
// status, outputs

/// A stack's state: `status` and `outputs` print parts of it.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    pub stack: String,
    pub region: String,
    pub account: String,
    pub exists: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub info: Option<StackInfo>,
    /// The newest events, newest last.
    pub events: Vec<events::Event>,
}

impl StatusReport {
    pub fn exit_code(&self) -> u8 {
        if self.exists { exit::OK } else { exit::ERROR }
    }

    /// The text `status` prints.
    pub fn status_lines(&self) -> Vec<String> {
        let Some(info) = &self.info else {
            return vec![format!(
                "{} does not exist in account {}, region {}",
                self.stack, self.account, self.region
            )];
        };
        let mut lines = vec![format!("{}: {}", self.stack, info.status)];
        if let Some(r) = &info.status_reason {
            lines.push(format!("  reason: {r}"));
        }
        lines.push(format!("  account {}, region {}", self.account, self.region));
        if let Some(t) = info.updated.as_ref().or(info.created.as_ref()) {
            lines.push(format!("  last changed {t}"));
        }
        if !info.tags.is_empty() {
            let tags: Vec<String> = info.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            lines.push(format!("  tags: {}", tags.join(", ")));
        }
        lines.extend(self.output_lines());
        if !self.events.is_empty() {
            lines.push("Last events:".to_owned());
            lines.extend(self.events.iter().map(events::Event::line));
        }
        lines
    }

    /// The text `outputs` prints.
    pub fn output_lines(&self) -> Vec<String> {
        let Some(info) = &self.info else {
            return vec![format!("{} does not exist", self.stack)];
        };
        if info.outputs.is_empty() {
            return vec!["Outputs: none".to_owned()];
        }
        let width = info.outputs.keys().map(String::len).max().unwrap_or(0);
        std::iter::once("Outputs:".to_owned())
            .chain(info.outputs.iter().map(|(k, v)| format!("  {k:<width$}  {v}")))
            .collect()
    }
}

/// How many events `status` shows.
pub const STATUS_EVENTS: usize = 10;

/// `cargo xtask status` / `outputs`.
pub async fn status(target: &DeployTarget) -> Result<StatusReport> {
    let aws = Aws::connect(&target.aws).await?;
    let info = read_stack(&aws, &target.stack).await?;
    let mut evs = Vec::new();
    if let Some(i) = &info {
        let page = aws
            .cfn
            .describe_stack_events()
            .stack_name(&i.id)
            .send()
            .await
            .map_err(|e| aws.explain("read the stack's events", e))?;
        let mut newest: Vec<events::Event> = page
            .stack_events()
            .iter()
            .take(STATUS_EVENTS)
            .map(events::Event::from_sdk)
            .collect();
        newest.reverse();
        evs = newest;
    }
    Ok(StatusReport {
        stack: target.stack.clone(),
        region: aws.region.clone(),
        account: aws.account.clone(),
        exists: info.is_some(),
        info,
        events: evs,
    })
}

/// Runs a future on a small runtime (the CLI is synchronous; the SDK is not).
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow!("cannot start the async runtime: {e}"))?;
    Ok(rt.block_on(f))
}
