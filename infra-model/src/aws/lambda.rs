//! `AWS::Lambda::Function`, event source mappings and invoke permissions.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cfn::{Expr, Handle, Resource, Tag};

/// The CPU architecture a function runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Architecture {
    Arm64,
    X86_64,
}

/// Where the function's code is: a zip in S3. The key is a content hash, given at deploy time.
#[derive(Clone, Debug, PartialEq)]
pub struct Code {
    pub bucket: Expr,
    pub key: Expr,
}

/// A Lambda function on the OS-only runtime (`provided.al2023`), whose code is a `bootstrap`.
///
/// Defaults (`Function::new`): arm64, 128 MB, 3 s, X-Ray active tracing, JSON logs into the
/// given log group at INFO (application) and WARN (system), no reserved concurrency.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    pub name: Expr,
    pub description: String,
    pub code: Code,
    pub role_arn: Expr,
    pub architecture: Architecture,
    pub memory_mb: u32,
    pub timeout: Duration,
    pub environment: BTreeMap<String, Expr>,
    pub log_group: Expr,
    pub reserved_concurrency: Option<u32>,
    pub tags: Vec<Tag>,
}

impl Function {
    pub fn new(name: impl Into<Expr>, code: Code, role_arn: Expr, log_group: Expr) -> Function {
        Function {
            name: name.into(),
            description: String::new(),
            code,
            role_arn,
            architecture: Architecture::Arm64,
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            environment: BTreeMap::new(),
            log_group,
            reserved_concurrency: None,
            tags: Vec::new(),
        }
    }
}

impl Resource for Function {
    const TYPE: &'static str = "AWS::Lambda::Function";
    fn properties(&self) -> Value {
        let arch = match self.architecture {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        };
        let mut p = json!({
            "FunctionName": self.name,
            "Description": self.description,
            "Runtime": "provided.al2023",
            "Handler": "bootstrap",
            "Architectures": [arch],
            "Code": {"S3Bucket": self.code.bucket, "S3Key": self.code.key},
            "Role": self.role_arn,
            "MemorySize": self.memory_mb,
            "Timeout": self.timeout.as_secs(),
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {
                "LogFormat": "JSON",
                "LogGroup": self.log_group,
                "ApplicationLogLevel": "INFO",
                "SystemLogLevel": "WARN",
            },
        });
        if !self.environment.is_empty() {
            p["Environment"] = json!({"Variables": self.environment});
        }
        if let Some(n) = self.reserved_concurrency {
            p["ReservedConcurrentExecutions"] = json!(n);
        }
        if !self.tags.is_empty() {
            p["Tags"] = json!(self.tags);
        }
        p
    }
}

impl Handle<Function> {
    pub fn name(&self) -> Expr {
        self.reference()
    }
    pub fn arn(&self) -> Expr {
        self.att("Arn")
    }
}

/// Where a stream mapping starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
}

/// What a mapping reads from, with the settings that only apply to that kind of source.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// An SQS queue: failed messages go back to the queue and, after its max receive count,
    /// to its dead-letter queue.
    Queue {
        arn: Expr,
        /// Upper bound on concurrent invocations (2 to 1000).
        max_concurrency: u32,
    },
    /// A DynamoDB stream.
    Stream {
        arn: Expr,
        starting_position: StartingPosition,
        /// Split a failing batch in two and retry each half.
        bisect_on_error: bool,
        max_retry_attempts: u32,
        max_record_age: Duration,
        /// Where records that still fail are sent (an SQS queue or SNS topic ARN).
        on_failure: Expr,
        /// EventBridge-style patterns; only matching records invoke the function.
        filters: Vec<Value>,
    },
}

/// Invokes a function with batches from a queue or a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct EventSourceMapping {
    pub function: Expr,
    pub source: Source,
    pub batch_size: u32,
    pub batching_window: Duration,
    /// The function answers `batchItemFailures`, so only failed records are retried.
    pub report_batch_item_failures: bool,
}

impl Resource for EventSourceMapping {
    const TYPE: &'static str = "AWS::Lambda::EventSourceMapping";
    fn properties(&self) -> Value {
        let mut p = json!({
            "FunctionName": self.function,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.batching_window.as_secs(),
            "Enabled": true,
        });
        if self.report_batch_item_failures {
            p["FunctionResponseTypes"] = json!(["ReportBatchItemFailures"]);
        }
        match &self.source {
            Source::Queue { arn, max_concurrency } => {
                p["EventSourceArn"] = json!(arn);
                p["ScalingConfig"] = json!({"MaximumConcurrency": max_concurrency});
            }
            Source::Stream {
                arn,
                starting_position,
                bisect_on_error,
                max_retry_attempts,
                max_record_age,
                on_failure,
                filters,
            } => {
                p["EventSourceArn"] = json!(arn);
                p["StartingPosition"] = json!(match starting_position {
                    StartingPosition::TrimHorizon => "TRIM_HORIZON",
                    StartingPosition::Latest => "LATEST",
                });
                p["BisectBatchOnFunctionError"] = json!(bisect_on_error);
                p["MaximumRetryAttempts"] = json!(max_retry_attempts);
                p["MaximumRecordAgeInSeconds"] = json!(max_record_age.as_secs());
                p["DestinationConfig"] = json!({"OnFailure": {"Destination": on_failure}});
                if !filters.is_empty() {
                    let filters: Vec<Value> = filters
                        .iter()
                        .map(|f| json!({"Pattern": crate::cfn::sorted(f.clone()).to_string()}))
                        .collect();
                    p["FilterCriteria"] = json!({"Filters": filters});
                }
            }
        }
        p
    }
}

/// Lets a service invoke a function, from one source only.
#[derive(Clone, Debug, PartialEq)]
pub struct Permission {
    pub function: Expr,
    pub principal: &'static str,
    pub source_arn: Expr,
}

impl Resource for Permission {
    const TYPE: &'static str = "AWS::Lambda::Permission";
    fn properties(&self) -> Value {
        json!({
            "Action": "lambda:InvokeFunction",
            "FunctionName": self.function,
            "Principal": self.principal,
            "SourceArn": self.source_arn,
            "SourceAccount": Expr::account_id(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f() -> Function {
        Function::new(
            "fn",
            Code {
                bucket: "b".into(),
                key: "k".into(),
            },
            "arn:role".into(),
            "lg".into(),
        )
    }

    #[test]
    fn a_function_defaults_to_arm64_al2023_traced_json_logs() {
        let p = f().properties();
        assert_eq!(p["Runtime"], "provided.al2023");
        assert_eq!(p["Handler"], "bootstrap");
        assert_eq!(p["Architectures"], json!(["arm64"]));
        assert_eq!(p["TracingConfig"]["Mode"], "Active");
        assert_eq!(p["LoggingConfig"]["LogFormat"], "JSON");
        assert_eq!(p["LoggingConfig"]["LogGroup"], "lg");
        assert!(p.get("ReservedConcurrentExecutions").is_none());
        assert!(p.get("Environment").is_none());
    }

    #[test]
    fn a_stream_mapping_has_its_failure_destination_and_filters() {
        let m = EventSourceMapping {
            function: "fn".into(),
            source: Source::Stream {
                arn: "arn:stream".into(),
                starting_position: StartingPosition::TrimHorizon,
                bisect_on_error: true,
                max_retry_attempts: 5,
                max_record_age: Duration::from_secs(3600),
                on_failure: "arn:q".into(),
                filters: vec![json!({"eventName": ["INSERT"]})],
            },
            batch_size: 10,
            batching_window: Duration::ZERO,
            report_batch_item_failures: true,
        };
        let p = m.properties();
        assert_eq!(p["DestinationConfig"]["OnFailure"]["Destination"], "arn:q");
        assert_eq!(
            p["FilterCriteria"]["Filters"][0]["Pattern"],
            r#"{"eventName":["INSERT"]}"#
        );
        assert_eq!(p["FunctionResponseTypes"], json!(["ReportBatchItemFailures"]));
        assert!(p.get("ScalingConfig").is_none());
    }
}
