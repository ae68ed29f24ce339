//! An account as the SDK sees it, described by a few fields and served as rules: what
//! preflight reads (Lambda's limits, log groups, functions, the state machine, the bucket, API
//! Gateway's account setting, the account stack) and what diff and deploy read and do on the
//! environment's stack.

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use aws_smithy_mocks::{MockResponse, Rule, mock};
use serde_json::json;

use super::*;

/// The account before the command runs.
#[derive(Clone, Debug)]
pub struct World {
    pub region: String,
    /// `AccountLimit.ConcurrentExecutions` and `UnreservedConcurrentExecutions`.
    pub concurrency: (i32, i32),
    /// Log groups that exist.
    pub log_groups: Vec<String>,
    /// Lambda functions that exist.
    pub functions: Vec<String>,
    /// The artifacts bucket's region; `None`: no such bucket.
    pub bucket_region: Option<String>,
    /// API Gateway's CloudWatch role.
    pub cloudwatch_role: Option<String>,
    /// The account stack exists, up to date, holding this role.
    pub account_stack_role: Option<String>,
}

impl Default for World {
    fn default() -> World {
        World {
            region: REGION.to_owned(),
            concurrency: (1000, 1000),
            log_groups: Vec::new(),
            functions: Vec::new(),
            bucket_region: None,
            cloudwatch_role: None,
            account_stack_role: None,
        }
    }
}

/// Requests the rules saw, for assertions.
#[derive(Clone, Debug, Default)]
pub struct Seen(pub Arc<Mutex<Vec<String>>>);

impl Seen {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    pub fn has(&self, prefix: &str) -> bool {
        self.all().iter().any(|s| s.starts_with(prefix))
    }
}

pub const ACCOUNT_STACK: &str = "orders-account";

impl World {
    /// The rules of everything preflight reads.
    pub fn preflight_rules(&self, seen: &Seen) -> Vec<Rule> {
        let (limit, unreserved) = self.concurrency;
        let groups = self.log_groups.clone();
        let functions = self.functions.clone();
        let region = self.region.clone();
        let mut rules = vec![
            mock!(aws_sdk_lambda::Client::get_account_settings).then_http_response(move || {
                json(json!({
                    "AccountLimit": {
                        "TotalCodeSize": 80_530_636_800u64,
                        "CodeSizeUnzipped": 262_144_000,
                        "CodeSizeZipped": 52_428_800,
                        "ConcurrentExecutions": limit,
                        "UnreservedConcurrentExecutions": unreserved
                    },
                    "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": 0}
                }))
            }),
            mock!(aws_sdk_cloudwatchlogs::Client::describe_log_groups).then_compute_response(move |req| {
                let prefix = req.log_group_name_prefix().unwrap_or("").to_owned();
                let found: Vec<_> = groups
                    .iter()
                    .filter(|g| g.starts_with(&prefix))
                    .map(|g| {
                        json!({
                            "logGroupName": g,
                            "creationTime": 1_764_000_000_000u64,
                            "retentionInDays": 30,
                            "metricFilterCount": 0,
                            "arn": format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{g}:*"),
                            "storedBytes": 2048
                        })
                    })
                    .collect();
                MockResponse::Http(http(
                    200,
                    &[("content-type", "application/x-amz-json-1.1")],
                    json!({"logGroups": found}).to_string(),
                ))
            }),
            mock!(aws_sdk_lambda::Client::get_function).then_compute_response(move |req| {
                let name = req.function_name().unwrap_or("").to_owned();
                if functions.contains(&name) {
                    MockResponse::Http(json(json!({
                        "Configuration": {
                            "FunctionName": name,
                            "FunctionArn": format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
                            "Runtime": "provided.al2023",
                            "State": "Active"
                        }
                    })))
                } else {
                    MockResponse::Http(rest_json_error(
                        404,
                        "ResourceNotFoundException",
                        &format!("Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
                    ))
                }
            }),
            mock!(aws_sdk_sfn::Client::describe_state_machine).then_compute_response(|req| {
                MockResponse::Http(aws_json_error(
                    "StateMachineDoesNotExist",
                    &format!(
                        "State Machine Does Not Exist: '{}'",
                        req.state_machine_arn().unwrap_or("")
                    ),
                ))
            }),
        ];
        let bucket_region = self.bucket_region.clone();
        let s = seen.clone();
        rules.push(
            mock!(aws_sdk_s3::Client::head_bucket).then_compute_response(move |req| {
                s.push(format!("HeadBucket {}", req.bucket().unwrap_or("")));
                MockResponse::Http(match &bucket_region {
                    None => http(404, &[], ""),
                    Some(r) if *r == region => http(200, &[("x-amz-bucket-region", r)], ""),
                    // Asked in another region than the bucket's: 301, and the bucket's region.
                    Some(r) => http(
                        301,
                        &[("x-amz-bucket-region", r), ("content-type", "application/xml")],
                        "",
                    ),
                })
            }),
        );
        let role = self.cloudwatch_role.clone();
        rules.push(
            mock!(aws_sdk_apigateway::Client::get_account).then_http_response(move || {
                let mut body = json!({
                    "throttleSettings": {"burstLimit": 5000, "rateLimit": 10000.0},
                    "features": ["UsagePlans"],
                    "apiKeyVersion": "4"
                });
                if let Some(r) = &role {
                    body["cloudwatchRoleArn"] = json!(r);
                }
                json(body)
            }),
        );
        match &self.account_stack_role {
            None => rules.push(
                mock!(aws_sdk_cloudformation::Client::describe_stacks)
                    .match_requests(|r| r.stack_name() == Some(ACCOUNT_STACK))
                    .then_http_response(|| no_such_stack(ACCOUNT_STACK)),
            ),
            Some(role) => {
                let role = role.clone();
                rules.push(
                    mock!(aws_sdk_cloudformation::Client::describe_stacks)
                        .match_requests(|r| r.stack_name() == Some(ACCOUNT_STACK))
                        .then_http_response(move || {
                            StackXml {
                                outputs: vec![("ApiGatewayCloudWatchRoleArn", role.clone())],
                                termination_protection: true,
                                ..StackXml::new(ACCOUNT_STACK, "CREATE_COMPLETE")
                            }
                            .reply()
                        }),
                );
                rules.push(
                    mock!(aws_sdk_cloudformation::Client::get_template)
                        .match_requests(|r| r.stack_name() == Some(ACCOUNT_STACK))
                        // As deploy submitted it: sorted, where the value it is compared with keeps
                        // the template's field order under preserve_order.
                        .then_http_response(|| {
                            let value = xtask_ops::deploy::account::template_value().unwrap();
                            template_reply(&xtask_ops::deploy::template::body(&value))
                        }),
                );
            }
        }
        rules
    }
}

/// Artifacts for every function (the zips exist: the upload path hashes them).
pub fn artifacts(dir: &std::path::Path) -> Vec<xtask_ops::artifact::Artifact> {
    for f in infra_model::system::FUNCTIONS.iter() {
        let d = dir.join(f.name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("bootstrap.zip"), format!("zip of {}", f.name)).unwrap();
    }
    xtask_ops::deploy::artifacts_from_dir(dir).unwrap()
}

pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("orders-aws-replies-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
