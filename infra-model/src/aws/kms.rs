//! `AWS::KMS::Key` and `AWS::KMS::Alias`: customer-managed keys, for the cases where an
//! AWS-managed key cannot be used (a service principal must be granted use of the key).

use serde_json::{Value, json};

use super::iam::{PolicyDocument, Principal, Statement};
use crate::cfn::{Expr, Handle, Resource, Tag};

/// A symmetric encryption key with yearly rotation.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub description: String,
    /// Statements added to the key policy after the one that lets the account administer it.
    pub grants: Vec<Statement>,
    pub pending_window_days: u32,
    pub tags: Vec<Tag>,
}

impl Key {
    pub fn new(description: impl Into<String>) -> Key {
        Key {
            description: description.into(),
            grants: Vec::new(),
            pending_window_days: 30,
            tags: Vec::new(),
        }
    }
}

impl Resource for Key {
    const TYPE: &'static str = "AWS::KMS::Key";
    fn properties(&self) -> Value {
        let admin = Statement::allow("AccountAdministersTheKey", ["kms:*"], [Expr::str("*")]).principal(
            Principal::Aws(Expr::sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")),
        );
        let policy = PolicyDocument::new(std::iter::once(admin).chain(self.grants.iter().cloned()));
        let mut p = json!({
            "Description": self.description,
            "EnableKeyRotation": true,
            "KeyPolicy": policy,
            "PendingWindowInDays": self.pending_window_days,
        });
        if !self.tags.is_empty() {
            p["Tags"] = json!(self.tags);
        }
        p
    }
}

impl Handle<Key> {
    pub fn arn(&self) -> Expr {
        self.att("Arn")
    }
    pub fn key_id(&self) -> Expr {
        self.reference()
    }
}

/// A friendly name for a key.
#[derive(Clone, Debug, PartialEq)]
pub struct Alias {
    pub name: Expr,
    pub target_key_id: Expr,
}

impl Resource for Alias {
    const TYPE: &'static str = "AWS::KMS::Alias";
    fn properties(&self) -> Value {
        json!({"AliasName": self.name, "TargetKeyId": self.target_key_id})
    }
}
