//! `AWS::SQS::Queue`, encrypted by default, with typed redrive.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cfn::{Expr, Handle, Resource, Tag};

/// How messages are encrypted at rest.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueEncryption {
    /// SSE with keys managed by SQS (no KMS).
    SqsManaged,
    /// SSE-KMS with the given key (an id, ARN or alias such as `alias/aws/sqs`); the data key
    /// is reused for the given time, which bounds the KMS calls.
    Kms { key: Expr, data_key_reuse: Duration },
}

impl QueueEncryption {
    /// SSE-KMS with the AWS-managed key `alias/aws/sqs`.
    pub fn aws_managed_kms() -> QueueEncryption {
        QueueEncryption::Kms {
            key: Expr::str("alias/aws/sqs"),
            data_key_reuse: Duration::from_secs(300),
        }
    }
}

/// Where messages go after they have been received too often without being deleted.
#[derive(Clone, Debug, PartialEq)]
pub struct Redrive {
    pub dead_letter_queue_arn: Expr,
    pub max_receive_count: u32,
}

/// An SQS standard queue.
///
/// Defaults (`Queue::new`): SSE-KMS with `alias/aws/sqs`, visibility timeout 30 s, retention
/// 4 days, no long polling, no redrive.
#[derive(Clone, Debug, PartialEq)]
pub struct Queue {
    pub visibility_timeout: Duration,
    pub retention: Duration,
    pub receive_wait: Duration,
    pub encryption: QueueEncryption,
    pub redrive: Option<Redrive>,
    pub tags: Vec<Tag>,
}

/// The longest SQS keeps a message.
pub const MAX_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);
/// The longest receive wait (long polling).
pub const MAX_RECEIVE_WAIT: Duration = Duration::from_secs(20);

impl Default for Queue {
    fn default() -> Self {
        Queue::new()
    }
}

impl Queue {
    pub fn new() -> Queue {
        Queue {
            visibility_timeout: Duration::from_secs(30),
            retention: Duration::from_secs(4 * 24 * 3600),
            receive_wait: Duration::ZERO,
            encryption: QueueEncryption::aws_managed_kms(),
            redrive: None,
            tags: Vec::new(),
        }
    }

    /// Sends messages received `max_receive_count` times to `dead_letter_queue`.
    pub fn dead_letter_to(mut self, dead_letter_queue: &Handle<Queue>, max_receive_count: u32) -> Queue {
        self.redrive = Some(Redrive {
            dead_letter_queue_arn: dead_letter_queue.arn(),
            max_receive_count,
        });
        self
    }
}

impl Resource for Queue {
    const TYPE: &'static str = "AWS::SQS::Queue";

    fn properties(&self) -> Value {
        let mut p = serde_json::Map::new();
        p.insert(
            "VisibilityTimeout".into(),
            json!(self.visibility_timeout.as_secs()),
        );
        p.insert("MessageRetentionPeriod".into(), json!(self.retention.as_secs()));
        p.insert(
            "ReceiveMessageWaitTimeSeconds".into(),
            json!(self.receive_wait.as_secs()),
        );
        match &self.encryption {
            QueueEncryption::SqsManaged => {
                p.insert("SqsManagedSseEnabled".into(), json!(true));
            }
            QueueEncryption::Kms { key, data_key_reuse } => {
                p.insert("KmsMasterKeyId".into(), json!(key));
                p.insert(
                    "KmsDataKeyReusePeriodSeconds".into(),
                    json!(data_key_reuse.as_secs()),
                );
            }
        }
        if let Some(r) = &self.redrive {
            p.insert(
                "RedrivePolicy".into(),
                json!({"deadLetterTargetArn": r.dead_letter_queue_arn, "maxReceiveCount": r.max_receive_count}),
            );
        }
        if !self.tags.is_empty() {
            p.insert("Tags".into(), json!(self.tags));
        }
        Value::Object(p)
    }
}

impl Handle<Queue> {
    /// The queue's URL (`Ref`). Prefer it to `GetAtt QueueUrl`, which some emulators refuse.
    pub fn url(&self) -> Expr {
        self.reference()
    }
    pub fn arn(&self) -> Expr {
        self.att("Arn")
    }
    pub fn queue_name(&self) -> Expr {
        self.att("QueueName")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfn::Template;

    #[test]
    fn a_queue_defaults_to_kms_encryption_and_four_days() {
        let p = Queue::new().properties();
        assert_eq!(p["KmsMasterKeyId"], "alias/aws/sqs");
        assert_eq!(p["MessageRetentionPeriod"], 345_600);
        assert_eq!(p["VisibilityTimeout"], 30);
        assert!(p.get("RedrivePolicy").is_none());
    }

    #[test]
    fn redrive_points_at_the_dead_letter_queue_arn() {
        let mut t = Template::new("t");
        let dlq = t.add("Dlq", Queue::new());
        let p = Queue::new().dead_letter_to(&dlq, 3).properties();
        assert_eq!(
            p["RedrivePolicy"],
            json!({"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 3})
        );
    }
}
