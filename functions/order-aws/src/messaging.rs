//! The order-events queue, the order workflow and the pagination key secret.

use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use infra_model::contract::messages::{OrderReserved, WorkflowInput};

use crate::error::{describe, error_chain};

/// Sends order events to the queue.
#[derive(Clone, Debug)]
pub struct OrderEvents {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl OrderEvents {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> OrderEvents {
        OrderEvents {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub async fn send_reserved(&self, event: &OrderReserved) -> Result<(), String> {
        let body = serde_json::to_string(event).map_err(|e| e.to_string())?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| describe("SendMessage", &self.queue_url, error_chain(&e)))?;
        Ok(())
    }

    /// Whether the queue answers (for health checks).
    pub async fn ping(&self) -> Result<(), String> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe("GetQueueAttributes", &self.queue_url, error_chain(&e)))
    }
}

/// Whether a workflow execution was started by this call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Started {
    New(String),
    /// An execution with this name exists: a duplicate message, nothing started twice.
    AlreadyRunning,
}

/// Starts order workflow executions, one per order (the execution name is the order id).
#[derive(Clone, Debug)]
pub struct OrderWorkflow {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl OrderWorkflow {
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> OrderWorkflow {
        OrderWorkflow {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    pub async fn start(&self, order_id: &str) -> Result<Started, String> {
        let input = serde_json::to_string(&WorkflowInput {
            order_id: order_id.to_owned(),
        })
        .map_err(|e| e.to_string())?;
        match self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(order_id)
            .input(input)
            .send()
            .await
        {
            Ok(out) => Ok(Started::New(out.execution_arn().to_owned())),
            Err(e) => match e.into_service_error() {
                StartExecutionError::ExecutionAlreadyExists(_) => Ok(Started::AlreadyRunning),
                other => Err(describe(
                    "StartExecution",
                    &self.state_machine_arn,
                    error_chain(&other),
                )),
            },
        }
    }
}

/// Reads a secret's value (at start-up; never logged).
pub async fn read_secret(client: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<String, String> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| describe("GetSecretValue", arn, error_chain(&e)))?;
    out.secret_string()
        .map(str::to_owned)
        .ok_or_else(|| format!("secret {arn} has no string value"))
}
