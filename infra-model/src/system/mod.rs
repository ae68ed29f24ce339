//! The order system: its declarations, once per fact, and their synthesis per environment.
//!
//! - [`env`]: the environments and the settings in which they differ;
//! - [`resources`]: the tables, queues, topics, secret and workflow;
//! - [`functions`]: the functions, their triggers, bindings, settings and sizes;
//! - [`api`]: the REST API's routes, parameters and gateway responses;
//! - [`workflow`]: the order workflow's definition.
//!
//! The lists below are what synthesis, the local cloud and the tests walk: a declaration that
//! is not listed here is not part of the system.

pub mod account;
pub mod api;
mod build;
pub mod env;
pub mod functions;
pub mod openapi;
pub mod resources;
mod security;
pub mod workflow;

pub use build::template;
pub use env::{Cors, Env, Settings, UnknownEnv};

use crate::cfn::{SynthError, Synthesized};
use crate::decl::{Function, QueueSpec, Secret, TableSpec, TopicSpec, WorkflowSpec};

/// The application's name: stacks are `<APP>-<env>`.
pub const APP: &str = "orders";

/// The CloudFormation stack name of an environment.
pub fn stack_name(env: Env) -> String {
    format!("{APP}-{}", env.name())
}

/// Synthesizes the template of one environment.
pub fn synth(env: Env) -> Result<Synthesized, SynthError> {
    template(env).into_synth()
}

/// Every function of the system.
pub static FUNCTIONS: &[&Function] = &[
    &functions::HEALTH,
    &functions::ORDERS_API,
    &functions::INVENTORY_API,
    &functions::BUSINESS_API,
    &functions::RESERVE_STOCK,
    &functions::START_WORKFLOW,
    &functions::PAYMENT,
    &functions::SHIPPING,
    &functions::COMPENSATION,
    &functions::NOTIFY_CUSTOMER,
];

/// Every table.
pub static TABLES: &[&TableSpec] = &[
    &resources::ORDERS.spec,
    &resources::INVENTORY.spec,
    &resources::BUSINESSES.spec,
    &resources::IDEMPOTENCY.spec,
];

/// Every queue, dead-letter queues included.
pub static QUEUES: &[&QueueSpec] = &[
    &resources::ORDER_EVENTS.spec,
    &resources::ORDER_EVENTS_DLQ.spec,
    &resources::RESERVATION_FAILURES.spec,
    &resources::NOTIFICATION_FAILURES.spec,
];

/// Every topic.
pub static TOPICS: &[&TopicSpec] = &[&resources::ALARMS.spec, &resources::CUSTOMER_NOTIFICATIONS.spec];

/// Every secret.
pub static SECRETS: &[&Secret] = &[&resources::PAGINATION_KEY];

/// Every workflow.
pub static WORKFLOWS: &[&WorkflowSpec] = &[&resources::ORDER_WORKFLOW.spec];

/// The function with this crate name.
pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().copied().find(|f| f.name == name)
}

/// The function whose resources have this logical id prefix (`ReserveStock`).
pub fn function_by_id(id: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().copied().find(|f| f.id == id)
}

/// The functions a queue or table stream invokes.
pub fn consumers_of_queue(queue: &QueueSpec) -> impl Iterator<Item = &'static Function> + '_ {
    FUNCTIONS.iter().copied().filter(move |f| match f.trigger {
        crate::decl::Trigger::Queue(q) => q.queue.id == queue.id,
        _ => false,
    })
}

/// A queue's visibility timeout: six times the longest timeout of its consumers in any
/// environment, as AWS recommends for queues read by Lambda (a message in flight is not handed
/// to another poller while its batch may still be running), and SQS's default of 30 s for a
/// queue no function reads.
pub fn queue_visibility(queue: &QueueSpec) -> std::time::Duration {
    consumers_of_queue(queue)
        .map(|f| f.longest_timeout() * 6)
        .max()
        .unwrap_or(std::time::Duration::from_secs(30))
}

/// How many pollers a function's queue mapping may run: never more than the function may run,
/// because throttled messages count as receives and would reach the dead-letter queue without
/// having failed (at least 2, Lambda's minimum).
pub fn queue_pollers(function: &Function, env: Env, settings: &Settings) -> u32 {
    if settings.reserve_concurrency {
        function.sizing(env).reserved_concurrency.max(2)
    } else {
        5
    }
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
