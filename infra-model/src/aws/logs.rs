//! `AWS::Logs::LogGroup`.

use serde_json::{Value, json};

use crate::cfn::{Expr, Handle, Resource, Tag};

/// The retention periods CloudWatch Logs accepts, in days.
pub const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

/// A log group with a retention period (never "forever" by accident).
#[derive(Clone, Debug, PartialEq)]
pub struct LogGroup {
    pub name: Expr,
    pub retention_days: u32,
    pub tags: Vec<Tag>,
}

impl LogGroup {
    /// A log group; `retention_days` must be one of [`RETENTION_DAYS`] (checked by a test of
    /// every environment's settings, and by cfn-lint).
    pub fn new(name: impl Into<Expr>, retention_days: u32) -> LogGroup {
        LogGroup {
            name: name.into(),
            retention_days,
            tags: Vec::new(),
        }
    }
}

impl Resource for LogGroup {
    const TYPE: &'static str = "AWS::Logs::LogGroup";
    fn properties(&self) -> Value {
        let mut p = json!({"LogGroupName": self.name, "RetentionInDays": self.retention_days});
        if !self.tags.is_empty() {
            p["Tags"] = json!(self.tags);
        }
        p
    }
}

impl Handle<LogGroup> {
    pub fn name(&self) -> Expr {
        self.reference()
    }
    /// The ARN as `GetAtt Arn` returns it: `arn:…:log-group:<name>:*`.
    pub fn arn(&self) -> Expr {
        self.att("Arn")
    }
}
