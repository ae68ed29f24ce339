//! `AWS::SNS::Topic`, its policy and subscriptions.

use serde_json::{Value, json};

use super::iam::PolicyDocument;
use crate::cfn::{Expr, Handle, Resource, Tag};

/// A topic encrypted with a KMS key.
#[derive(Clone, Debug, PartialEq)]
pub struct Topic {
    pub display_name: String,
    pub kms_key: Expr,
    pub tags: Vec<Tag>,
}

impl Resource for Topic {
    const TYPE: &'static str = "AWS::SNS::Topic";
    fn properties(&self) -> Value {
        let mut p = json!({"DisplayName": self.display_name, "KmsMasterKeyId": self.kms_key});
        if !self.tags.is_empty() {
            p["Tags"] = json!(self.tags);
        }
        p
    }
}

impl Handle<Topic> {
    pub fn arn(&self) -> Expr {
        self.reference()
    }
}

/// Who may publish to a topic.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicPolicy {
    pub topics: Vec<Expr>,
    pub policy: PolicyDocument,
}

impl Resource for TopicPolicy {
    const TYPE: &'static str = "AWS::SNS::TopicPolicy";
    fn properties(&self) -> Value {
        json!({"Topics": self.topics, "PolicyDocument": self.policy})
    }
}

/// An e-mail subscription (confirmed by the recipient).
#[derive(Clone, Debug, PartialEq)]
pub struct EmailSubscription {
    pub topic_arn: Expr,
    pub address: Expr,
}

impl Resource for EmailSubscription {
    const TYPE: &'static str = "AWS::SNS::Subscription";
    fn properties(&self) -> Value {
        json!({"TopicArn": self.topic_arn, "Protocol": "email", "Endpoint": self.address})
    }
}
