//! `cargo xtask deploy`, `diff`, `destroy`, `status`, `outputs`, `seed-inventory`: the stack
//! through CloudFormation change sets, against AWS or a local emulator (moto server).
//!
//! The pipeline, as library functions (the `dev` command and the tests call the same code):
//!
//! 1. artifacts: [`artifacts_for_deploy`] (the one place where `xtask::build` plugs in);
//! 2. connect ([`aws::Aws`]): credentials from the usual chain, the account from STS;
//! 3. the stack's state: a failed stack is refused with what to do; an operation still running
//!    (an interrupted deploy, or one elsewhere) is followed to its end first ([`earlier`]);
//! 4. the template: synthesized (or given), through the local profile ([`local`]) when the
//!    endpoint is loopback, with its parameters (bucket, content-addressed code keys);
//! 5. no change? the template and parameters equal the deployed ones: `No changes`, done;
//! 6. the artifacts bucket ([`bucket`]) and the uploads (skipping what is there); a template
//!    over 51,200 bytes goes through the bucket;
//! 7. a change set ([`changes`]), read back as a diff with replacements flagged;
//! 8. `diff` stops here (the change set is deleted); `deploy` asks for confirmation on prod,
//!    executes, follows the events ([`events`]) and prints the outputs, or the failures.

pub mod account;
pub mod apikey;
pub mod aws;
pub mod bucket;
pub mod changes;
pub mod cli;
pub mod console;
pub mod dlq;
pub mod earlier;
pub mod events;
pub mod health;
pub mod hotswap;
pub mod invoke;
pub mod local;
pub mod logs;
pub mod preflight;
pub mod seed;
pub mod template;

mod destroy;
mod plan;
mod run;
mod stack;
mod status;

pub use self::destroy::*;
use self::plan::*;
pub use self::run::*;
pub use self::stack::*;
pub use self::status::*;

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
                sha256: hex::encode(Sha256::digest(&bytes)),
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
    /// What preflight found (not against a local endpoint, nor when nothing changes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preflight: Option<preflight::Preflight>,
    /// The operation that was running on the stack when the command started, which it waited
    /// for before planning, and how it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earlier_operation: Option<earlier::EarlierOperation>,
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

/// Runs a future on a small runtime (the CLI is synchronous; the SDK is not).
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow!("cannot start the async runtime: {e}"))?;
    Ok(rt.block_on(f))
}
