//! The event sources, driven from the functions' declared triggers (the same values synthesis
//! turns into `AWS::Lambda::EventSourceMapping`s), against moto:
//! - a table's **stream → its consumer** (`Trigger::Stream`): shards read through the DynamoDB
//!   Streams API from the starting position, records kept by the trigger's filters, delivered
//!   in batches of the batch size; a partial batch response (`ReportBatchItemFailures`)
//!   retries from the first failed record, a function error retries the batch (halved when the
//!   trigger bisects); after the maximum retries the batch's description goes to the failure
//!   queue and the shard moves on.
//! - a **queue → its consumer** (`Trigger::Queue`): receive up to the batch size, invoke, delete what
//!   succeeded; failures stay, come back after the visibility timeout and, after the queue's
//!   `maxReceiveCount`, moto's redrive moves them to the dead-letter queue. The visibility
//!   timeout is the queue's, **scaled** like every wait of `cargo xtask dev` (180 s × 0.01 → 2 s;
//!   at least 1 s), passed on each receive.
//! - **Step Functions**: start-workflow calls `StartExecution` on moto, which only records the
//!   execution (moto runs no Lambda code without Docker). The runner lists moto's RUNNING
//!   executions of the order workflow, runs each with the local executor
//!   ([`super::workflow`]), then stops it in moto with the local outcome as the cause.

mod activity;
mod queue;
mod runner;
mod stream;

use std::sync::Arc;

use serde_json::Value;

use crate::runtime_api::{LocalFunction, Outcome};

pub use activity::{Activity, Observer, observer};
pub use queue::{QueueMapping, spawn_queue};
pub use runner::{Executions, WorkflowRunner, invoke_within};
pub use stream::{StreamMapping, pattern_matches, spawn_stream};

/// How often an idle poller asks the emulator anyway, for what was written from outside the
/// local system (a developer's `aws` command); the system's own writes wake it at once (see
/// [`Activity`]). Lambda itself polls a stream's shard 4 times a second
/// (Lambda Developer Guide, "Using AWS Lambda with Amazon DynamoDB", "Polling and batching
/// streams": "Lambda polls shards in your DynamoDB stream for records at a base rate of 4 times per second").
pub const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// What drivers print (`[dev] ...` lines).
pub type Say = Arc<dyn Fn(&str) + Send + Sync>;

/// Invokes a local function: the response, or `(errorType, errorMessage)`.
pub fn invoke(f: &LocalFunction, event: Value) -> Result<Value, (String, String)> {
    match f.invoke(event) {
        Ok(inv) => match inv.outcome {
            Outcome::Response(v) => Ok(v),
            Outcome::Error {
                error_type,
                error_message,
            } => Err((error_type, error_message)),
        },
        Err(e) => Err(("Lambda.ServiceException".into(), e.to_string())),
    }
}

/// A random number in `[0, 1)`.
pub fn unit_random() -> f64 {
    let bits = crate::runtime_api::random_u64() >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// True with probability `p`.
pub fn chance(p: f64) -> bool {
    p > 0.0 && unit_random() < p
}
