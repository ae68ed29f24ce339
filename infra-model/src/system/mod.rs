//! The order system, built from the typed resources, once per environment.
//!
//! - [`env`]: the environments and the settings in which they differ;
//! - [`bindings`]: what each function uses (IAM, environment variables, handler structs);
//! - [`functions`]: the functions, their sizes and settings;
//! - [`api`]: the REST API's routes;
//! - [`workflow`]: the order workflow.

pub mod account;
pub mod api;
pub mod bindings;
mod build;
pub mod env;
pub mod functions;
mod security;
pub mod workflow;

pub use build::template;
pub use env::{Cors, Env, Settings, UnknownEnv};

use crate::cfn::{SynthError, Synthesized};

/// The application's name: stacks are `<APP>-<env>`.
pub const APP: &str = "orders";

/// The CloudFormation stack name of an environment.
pub fn stack_name(env: Env) -> String {
    format!("{APP}-{}", env.name())
}

/// Synthesizes the template of one environment.
pub fn synth(env: Env) -> Result<Synthesized, SynthError> {
    template(env).synth()
}

/// The names of the template's parameters that deploy fills in.
pub mod parameters {
    /// The bucket holding the function zips.
    pub const ARTIFACTS_BUCKET: &str = "ArtifactsBucket";
    /// An e-mail address for alarm notifications (optional).
    pub const ALARM_EMAIL: &str = "AlarmEmail";

    /// The parameter holding a function's code key (`functions/<name>/<sha256>.zip`).
    pub fn code_key(function_id: &str) -> String {
        format!("{function_id}CodeKey")
    }

    /// The S3 key of a function's zip with a given SHA-256.
    pub fn code_key_value(function_name: &str, sha256_hex: &str) -> String {
        format!("functions/{function_name}/{sha256_hex}.zip")
    }
}
