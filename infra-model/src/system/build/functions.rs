//! Functions, their event source mappings and the workflows that call them as tasks.

use std::collections::BTreeMap;

use super::{Built, Params, log_policy, stem};
use crate::aws::iam::{PolicyDocument, Role, Statement};
use crate::aws::lambda::{Code, EventSourceMapping, Function, Source};
use crate::aws::logs::LogGroup;
use crate::aws::stepfunctions::StateMachine;
use crate::cfn::{Expr, Options, Parameter, Template};
use crate::decl::{self, Binding, Target, Trigger, WorkflowSpec};
use crate::system::env::{Env, Settings};
use crate::system::functions::config_values;
use crate::system::parameters;
use crate::system::security::{self, accept};

/// The environment variable value and the IAM resources of a binding.
fn resolve(built: &Built, b: &Binding) -> (Expr, Vec<Expr>) {
    match b.target {
        Target::Table(spec) => {
            let table = &built.tables[spec.id];
            let mut arns = vec![table.arn()];
            if b.access.covers_indexes() {
                arns.extend(spec.indexes.iter().map(|i| table.index_arn(i.name)));
            }
            (table.name(), arns)
        }
        Target::Queue(spec) => {
            let q = &built.queues[spec.id];
            (q.url(), vec![q.arn()])
        }
        // Publishing to an encrypted topic needs its key too: kms:GenerateDataKey and kms:Decrypt
        // on it (Amazon SNS Developer Guide, "Encryption at rest": publishers need both on the
        // topic's key). One statement names the topic and the key; each action applies only to
        // its own resource type.
        Target::Topic(spec) => {
            let (topic, key) = &built.topics[spec.id];
            (topic.arn(), vec![topic.arn(), key.arn()])
        }
        Target::Secret(spec) => {
            let s = &built.secrets[spec.id];
            (s.arn(), vec![s.arn()])
        }
        Target::Workflow(spec) => {
            let w = &built.workflows[spec.id];
            (w.arn(), vec![w.arn()])
        }
    }
}

pub(super) fn add_function(
    t: &mut Template,
    env: Env,
    settings: &Settings,
    params: &Params,
    built: &mut Built,
    spec: &'static decl::Function,
) {
    let id = spec.id;
    let sizing = spec.sizing(env);
    let code_key = t.parameter(
        &parameters::code_key(id),
        Parameter::string(format!(
            "S3 key of the {} function's zip (content-addressed)",
            spec.name
        ))
        .pattern(
            format!("^functions/{}/[0-9a-f]{{64}}\\.zip$", spec.name),
            "functions/<name>/<sha256>.zip, as `cargo xtask deploy` uploads it",
        ),
    );
    let function_name = Expr::sub(format!("${{AWS::StackName}}-{}", spec.name));
    let log_group = t.add_with(
        &spec.log_group_id(),
        LogGroup::new(
            Expr::sub(format!("/aws/lambda/${{AWS::StackName}}-{}", spec.name)),
            settings.log_retention_days,
        ),
        accept(
            Options::new().policy(log_policy(settings)),
            &[security::LOGS_AWS_KEY],
        ),
    );

    let mut statements = vec![
        Statement::allow(
            "WriteOwnLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [log_group.arn()],
        ),
        // X-Ray accepts no narrower resource than "*".
        Statement::allow(
            "WriteTraces",
            ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
            [Expr::str("*")],
        ),
    ];
    let mut environment = BTreeMap::new();
    for b in spec.bindings {
        let (value, arns) = resolve(built, b);
        statements.push(Statement::allow(
            b.sid(),
            b.access.actions().iter().copied(),
            arns,
        ));
        environment.insert(b.target.env_var(), value);
    }
    for (var, value) in config_values(spec, env, settings) {
        environment.insert(var.to_owned(), Expr::str(value));
    }
    // What the event source mapping needs: Lambda polls with the function's role.
    match spec.trigger {
        Trigger::Stream(s) => {
            statements.push(Statement::allow(
                format!("Read{}Stream", stem(s.table.id, "Table")),
                [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                ],
                [built.tables[s.table.id].stream_arn()],
            ));
            // Lambda checks all four stream actions when it creates the mapping, and
            // ListStreams supports no resource-level permission: only "*" grants it (Service
            // Authorization Reference, Amazon DynamoDB, "ListStreams": no resource types).
            statements.push(Statement::allow(
                "ListStreams",
                ["dynamodb:ListStreams"],
                [Expr::str("*")],
            ));
            statements.push(Statement::allow(
                "SendFailedRecords",
                ["sqs:SendMessage"],
                [built.queues[s.on_failure.id].arn()],
            ));
        }
        Trigger::Queue(q) => statements.push(Statement::allow(
            format!("Consume{}", stem(q.queue.id, "Queue")),
            [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
            [built.queues[q.queue.id].arn()],
        )),
        Trigger::Api | Trigger::WorkflowTask => {}
    }
    let role = t.add(
        &format!("{id}FunctionRole"),
        Role::for_service("lambda.amazonaws.com", format!("Runs the {} function", spec.name))
            .policy("least-privilege", PolicyDocument::new(statements)),
    );

    let mut f = Function::new(
        function_name,
        Code {
            bucket: params.bucket.reference(),
            key: code_key.reference(),
        },
        role.arn(),
        log_group.name(),
    );
    f.description = spec.description.to_owned();
    f.memory_mb = sizing.memory_mb;
    f.timeout = sizing.timeout;
    f.environment = environment;
    // CKV_AWS_116 applies to every function: none is invoked asynchronously (the API and the
    // workflow invoke synchronously; stream and queue mappings have their own failure
    // destinations).
    let mut accepted = vec![
        security::NO_VPC,
        security::ENV_VARS_AWS_KEY,
        security::NO_FUNCTION_DLQ,
    ];
    if settings.reserve_concurrency {
        f.reserved_concurrency = Some(sizing.reserved_concurrency);
    } else {
        accepted.push(security::NO_RESERVED_CONCURRENCY_IN_DEV);
    }
    let handle = t.add_with(&spec.logical_id(), f, accept(Options::new(), &accepted));
    built.functions.insert(spec.name, handle);
}

pub(super) fn add_event_sources(t: &mut Template, env: Env, settings: &Settings, built: &Built) {
    for spec in crate::system::FUNCTIONS {
        let function = built.functions[spec.name].arn();
        match spec.trigger {
            Trigger::Stream(s) => {
                t.add(
                    &format!("{}StreamMapping", spec.id),
                    EventSourceMapping {
                        function,
                        source: Source::Stream {
                            arn: built.tables[s.table.id].stream_arn(),
                            starting_position: s.starting_position,
                            bisect_on_error: s.bisect_on_error,
                            max_retry_attempts: s.max_retries,
                            max_record_age: s.max_record_age,
                            on_failure: built.queues[s.on_failure.id].arn(),
                            filters: s.filters.iter().map(|f| f.pattern()).collect(),
                        },
                        batch_size: s.batch_size,
                        batching_window: s.batching_window,
                        report_batch_item_failures: true,
                    },
                );
            }
            Trigger::Queue(q) => {
                t.add(
                    &format!("{}QueueMapping", spec.id),
                    EventSourceMapping {
                        function,
                        source: Source::Queue {
                            arn: built.queues[q.queue.id].arn(),
                            max_concurrency: crate::system::queue_pollers(spec, env, settings),
                        },
                        batch_size: q.batch_size,
                        batching_window: q.batching_window,
                        report_batch_item_failures: true,
                    },
                );
            }
            Trigger::Api | Trigger::WorkflowTask => {}
        }
    }
}

pub(super) fn add_workflow(t: &mut Template, settings: &Settings, spec: &WorkflowSpec, built: &mut Built) {
    let id = spec.id;
    let log_group = t.add_with(
        &spec.log_group_id(),
        LogGroup::new(
            Expr::sub(format!(
                "/aws/vendedlogs/states/${{AWS::StackName}}-{}",
                spec.name
            )),
            settings.log_retention_days,
        ),
        accept(
            Options::new().policy(log_policy(settings)),
            &[security::LOGS_AWS_KEY],
        ),
    );
    let definition = (spec.definition)();
    let tasks: Vec<(String, Expr)> = definition
        .task_functions()
        .iter()
        .map(|f| (f.arn_var(), built.functions[f.name].arn()))
        .collect();
    let role = t.add(
        &format!("{id}Role"),
        Role::for_service(
            "states.amazonaws.com",
            format!("Runs the {}", spec.name.replace('-', " ")),
        )
        .policy(
            "least-privilege",
            PolicyDocument::new([
                Statement::allow(
                    "InvokeTasks",
                    ["lambda:InvokeFunction"],
                    tasks.iter().map(|(_, arn)| arn.clone()),
                ),
                // Step Functions log delivery and X-Ray accept no narrower resource than "*".
                Statement::allow(
                    "DeliverLogs",
                    [
                        "logs:CreateLogDelivery",
                        "logs:DeleteLogDelivery",
                        "logs:DescribeLogGroups",
                        "logs:DescribeResourcePolicies",
                        "logs:GetLogDelivery",
                        "logs:ListLogDeliveries",
                        "logs:PutResourcePolicy",
                        "logs:UpdateLogDelivery",
                    ],
                    [Expr::str("*")],
                ),
                Statement::allow(
                    "WriteTraces",
                    [
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                        "xray:PutTelemetryRecords",
                        "xray:PutTraceSegments",
                    ],
                    [Expr::str("*")],
                ),
            ]),
        ),
    );
    let machine = t.add(
        id,
        StateMachine {
            name: Expr::sub(format!("${{AWS::StackName}}-{}", spec.name)),
            definition,
            substitutions: tasks.into_iter().collect(),
            role_arn: role.arn(),
            log_group_arn: log_group.arn(),
            tags: Vec::new(),
        },
    );
    built.workflows.insert(id, machine);
}
