//! Builds the system's template for one environment.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::api::{CORS_ALLOWED_HEADERS, ROUTES, Route, methods_of};
use super::bindings::{Binding, SystemResource};
use super::env::{Env, Settings};
use super::functions::{FUNCTIONS, FunctionSpec, RESERVE_STOCK, START_WORKFLOW, Trigger};
use super::security::{self, Accepted, accept};
use super::{APP, parameters, workflow};
use crate::aws::apigateway::{
    Account, ApiKey, Deployment, GatewayResponse, Integration, Method, Model, PathResource, RequestValidator,
    RestApi, Stage, UsagePlan, UsagePlanKey, static_origin,
};
use crate::aws::cloudwatch::{Alarm, Comparison, Dashboard, Statistic};
use crate::aws::dynamodb::{GlobalIndex, Projection, StreamView, Table};
use crate::aws::iam::{PolicyDocument, Principal, Role, Statement};
use crate::aws::kms::{Alias, Key};
use crate::aws::lambda::{Code, EventSourceMapping, Function, Permission, Source, StartingPosition};
use crate::aws::logs::LogGroup;
use crate::aws::secretsmanager::GeneratedSecret;
use crate::aws::sns::{EmailSubscription, Topic, TopicPolicy};
use crate::aws::sqs::{MAX_RETENTION, Queue};
use crate::aws::stepfunctions::StateMachine;
use crate::cfn::{Cond, Expr, Handle, Options, Output, ParamHandle, Parameter, Policy, Template};
use crate::contract::api::ErrorCode;
use crate::contract::tables;

/// The order system's template for one environment.
pub fn template(env: Env) -> Template {
    let settings = env.settings();
    let mut t = Template::new(format!(
        "Order processing backend ({}): API, order pipeline and workflow. Synthesized by infra-model; \
         do not edit, run `cargo xtask synth`.",
        env.name()
    ));
    let params = Params::add(&mut t);
    let data = Data::add(&mut t, &settings);

    // Functions that bind the workflow are added after it; the workflow needs the others.
    let mut functions: BTreeMap<&'static str, Handle<Function>> = BTreeMap::new();
    let binds_workflow = |f: &FunctionSpec| {
        f.bindings
            .iter()
            .any(|b| b.resource == SystemResource::OrderWorkflow)
    };
    for spec in FUNCTIONS.iter().filter(|f| !binds_workflow(f)) {
        let h = add_function(&mut t, env, &settings, &params, &data, None, spec);
        functions.insert(spec.name, h);
    }
    let order_workflow = add_workflow(&mut t, &settings, &functions);
    for spec in FUNCTIONS.iter().filter(|f| binds_workflow(f)) {
        let h = add_function(
            &mut t,
            env,
            &settings,
            &params,
            &data,
            Some(&order_workflow),
            spec,
        );
        functions.insert(spec.name, h);
    }
    add_event_sources(&mut t, env, &settings, &data, &functions);
    let api = add_api(&mut t, env, &settings, &functions);
    add_monitoring(
        &mut t,
        env,
        &settings,
        &params,
        &data,
        &functions,
        &order_workflow,
        &api,
    );

    t.output(
        "ApiUrl",
        Output::new(Expr::sub_with(
            "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}/",
            [("Stage", api.stage.name())],
        ))
        .description("The base URL of the REST API"),
    );
    t.output(
        "ApiKeyId",
        Output::new(api.key.id()).description(
            "The id of the API key; its value: aws apigateway get-api-key --include-value --api-key <id>",
        ),
    );
    for (id, table) in [
        ("OrdersTableName", &data.orders),
        ("InventoryTableName", &data.inventory),
        ("BusinessesTableName", &data.businesses),
        ("IdempotencyTableName", &data.idempotency),
    ] {
        t.output(id, Output::new(table.name()));
    }
    t.output("OrderEventsQueueUrl", Output::new(data.order_events.url()));
    t.output(
        "OrderEventsDeadLetterQueueUrl",
        Output::new(data.order_events_dlq.url()),
    );
    t.output(
        "ReservationFailuresQueueUrl",
        Output::new(data.reservation_failures.url()),
    );
    t.output("OrderWorkflowArn", Output::new(order_workflow.arn()));
    t
}

struct Params {
    bucket: ParamHandle,
    alarm_email: ParamHandle,
}

impl Params {
    fn add(t: &mut Template) -> Params {
        let bucket = t.parameter(
            parameters::ARTIFACTS_BUCKET,
            Parameter::string("The S3 bucket holding the function zips (created by `cargo xtask deploy`)")
                .length(3, 63),
        );
        let alarm_email = t.parameter(
            parameters::ALARM_EMAIL,
            Parameter::string("An e-mail address to notify of alarms; empty for none")
                .default_value("")
                .pattern(
                    "^$|^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$",
                    "an e-mail address, or nothing",
                ),
        );
        Params { bucket, alarm_email }
    }
}

/// The tables, queues and the secret.
struct Data {
    orders: Handle<Table>,
    inventory: Handle<Table>,
    businesses: Handle<Table>,
    idempotency: Handle<Table>,
    order_events: Handle<Queue>,
    order_events_dlq: Handle<Queue>,
    reservation_failures: Handle<Queue>,
    pagination_key: Handle<GeneratedSecret>,
}

/// The visibility timeout of the order-events queue: at least six times its consumer's timeout,
/// as AWS recommends for queues read by Lambda.
pub fn order_events_visibility() -> Duration {
    START_WORKFLOW
        .sizing
        .iter()
        .map(|s| s.timeout * 6)
        .max()
        .unwrap_or(Duration::from_secs(180))
}

/// What happens to data (tables, queues, logs) when the stack deletes or replaces its resource.
fn data_policy(s: &Settings) -> Policy {
    if s.retain_data {
        Policy::Retain
    } else {
        Policy::Delete
    }
}

/// How many times a message is received before it goes to the dead-letter queue.
pub const MAX_RECEIVES: u32 = 3;

impl Data {
    fn add(t: &mut Template, s: &Settings) -> Data {
        let policy = data_policy(s);
        let table = |partition| {
            let mut table = Table::new(partition);
            table.point_in_time_recovery = s.point_in_time_recovery;
            table.deletion_protection = s.retain_data;
            table
        };
        let table_options = || accept(Options::new().policy(policy), &[security::TABLE_AWS_KEY]);

        let mut orders = table(tables::orders::ORDER_ID);
        // Both indexes sort by creation time; the status index is sharded (see `tables::orders`).
        orders.indexes = vec![
            GlobalIndex {
                name: tables::orders::BY_STATUS,
                partition: tables::orders::STATUS_SHARD,
                sort: Some(tables::orders::CREATED_AT),
                projection: Projection::All,
            },
            GlobalIndex {
                name: tables::orders::BY_CUSTOMER,
                partition: tables::orders::CUSTOMER_EMAIL,
                sort: Some(tables::orders::CREATED_AT),
                projection: Projection::All,
            },
        ];
        orders.stream = Some(StreamView::NewAndOldImages);
        let orders = t.add_with("OrdersTable", orders, table_options());
        let inventory = t.add_with("InventoryTable", table(tables::inventory::SKU), table_options());
        let businesses = t.add_with(
            "BusinessesTable",
            table(tables::businesses::BUSINESS_ID),
            table_options(),
        );
        let mut idempotency = table(tables::idempotency::KEY);
        idempotency.ttl_attribute = Some(tables::idempotency::EXPIRES_AT);
        // Idempotency records live a day: nothing to recover, nothing to retain.
        idempotency.point_in_time_recovery = false;
        idempotency.deletion_protection = false;
        let idempotency = t.add_with(
            "IdempotencyTable",
            idempotency,
            accept(
                Options::new().policy(Policy::Delete),
                &[
                    security::TABLE_AWS_KEY,
                    Accepted {
                        checkov: Some("CKV_AWS_28"),
                        cfn_nag: None,
                        reason: "Records expire after a day (TTL): nothing to restore.",
                    },
                ],
            ),
        );

        let dlq = || Queue {
            retention: MAX_RETENTION,
            ..Queue::new()
        };
        let order_events_dlq = t.add_with("OrderEventsDeadLetterQueue", dlq(), Options::new().policy(policy));
        let order_events = t.add_with(
            "OrderEventsQueue",
            Queue {
                visibility_timeout: order_events_visibility(),
                receive_wait: Duration::from_secs(20),
                ..Queue::new().dead_letter_to(&order_events_dlq, MAX_RECEIVES)
            },
            Options::new().policy(policy),
        );
        let reservation_failures =
            t.add_with("ReservationFailuresQueue", dlq(), Options::new().policy(policy));
        let pagination_key = t.add_with(
            "PaginationKeySecret",
            GeneratedSecret {
                description: "HMAC key that signs the API's pagination tokens".into(),
                length: 64,
                tags: Vec::new(),
            },
            accept(
                Options::new().policy(Policy::Delete),
                &[security::SECRET_NO_ROTATION, security::SECRET_AWS_KEY],
            ),
        );
        Data {
            orders,
            inventory,
            businesses,
            idempotency,
            order_events,
            order_events_dlq,
            reservation_failures,
            pagination_key,
        }
    }

    fn table(&self, r: SystemResource) -> Option<(&Handle<Table>, &'static [&'static str])> {
        let indexes: &'static [&'static str] = &[tables::orders::BY_STATUS, tables::orders::BY_CUSTOMER];
        match r {
            SystemResource::OrdersTable => Some((&self.orders, indexes)),
            SystemResource::InventoryTable => Some((&self.inventory, &[])),
            SystemResource::BusinessesTable => Some((&self.businesses, &[])),
            SystemResource::IdempotencyTable => Some((&self.idempotency, &[])),
            _ => None,
        }
    }

    /// The environment variable value and the IAM resources of a binding.
    fn resolve(&self, b: &Binding, workflow: Option<&Handle<StateMachine>>) -> (Expr, Vec<Expr>) {
        if let Some((table, indexes)) = self.table(b.resource) {
            let mut arns = vec![table.arn()];
            if b.access.covers_indexes() {
                arns.extend(indexes.iter().map(|i| table.index_arn(i)));
            }
            return (table.name(), arns);
        }
        match b.resource {
            SystemResource::OrderEventsQueue => (self.order_events.url(), vec![self.order_events.arn()]),
            SystemResource::PaginationKey => (self.pagination_key.arn(), vec![self.pagination_key.arn()]),
            SystemResource::OrderWorkflow => {
                let w = workflow.expect("functions that bind the workflow are added after it");
                (w.arn(), vec![w.arn()])
            }
            _ => unreachable!("tables are resolved above"),
        }
    }
}

/// `OrdersApi` + `CodeKey`: a readable statement id from a binding.
fn sid(b: &Binding) -> String {
    format!("{:?}{:?}", b.access, b.resource)
}

fn add_function(
    t: &mut Template,
    env: Env,
    settings: &Settings,
    params: &Params,
    data: &Data,
    workflow: Option<&Handle<StateMachine>>,
    spec: &FunctionSpec,
) -> Handle<Function> {
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
        &format!("{id}FunctionLogGroup"),
        LogGroup::new(
            Expr::sub(format!("/aws/lambda/${{AWS::StackName}}-{}", spec.name)),
            settings.log_retention_days,
        ),
        accept(
            Options::new().policy(data_policy(settings)),
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
        let (value, arns) = data.resolve(b, workflow);
        statements.push(Statement::allow(sid(b), b.access.actions().iter().copied(), arns));
        environment.insert(b.resource.env_var().to_owned(), value);
    }
    for c in spec.config {
        for (k, v) in c.values(env, settings) {
            environment.insert(k.to_owned(), Expr::str(v));
        }
    }
    // What the event source mapping needs: Lambda polls with the function's role.
    match spec.trigger {
        Trigger::OrdersStream => {
            statements.push(Statement::allow(
                "ReadOrdersStream",
                [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                ],
                [data.orders.stream_arn()],
            ));
            statements.push(Statement::allow(
                "SendFailedRecords",
                ["sqs:SendMessage"],
                [data.reservation_failures.arn()],
            ));
        }
        Trigger::OrderEventsQueue => statements.push(Statement::allow(
            "ConsumeOrderEvents",
            [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
            [data.order_events.arn()],
        )),
        Trigger::Api | Trigger::Workflow => {}
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
    let mut accepted = vec![security::NO_VPC, security::ENV_VARS_AWS_KEY];
    if spec.trigger != Trigger::OrdersStream && spec.trigger != Trigger::OrderEventsQueue {
        accepted.push(security::NO_FUNCTION_DLQ);
    }
    if settings.reserve_concurrency {
        f.reserved_concurrency = Some(sizing.reserved_concurrency);
    } else {
        accepted.push(security::NO_RESERVED_CONCURRENCY_IN_DEV);
    }
    t.add_with(&format!("{id}Function"), f, accept(Options::new(), &accepted))
}

fn add_event_sources(
    t: &mut Template,
    env: Env,
    settings: &Settings,
    data: &Data,
    functions: &BTreeMap<&str, Handle<Function>>,
) {
    let reserve = &functions[RESERVE_STOCK.name];
    t.add(
        "ReserveStockStreamMapping",
        EventSourceMapping {
            function: reserve.arn(),
            source: Source::Stream {
                arn: data.orders.stream_arn(),
                starting_position: StartingPosition::TrimHorizon,
                bisect_on_error: true,
                max_retry_attempts: 5,
                max_record_age: Duration::from_secs(3600),
                on_failure: data.reservation_failures.arn(),
                // Only new orders need stock; status changes do not invoke the function.
                filters: vec![json!({"eventName": ["INSERT"]})],
            },
            batch_size: 10,
            batching_window: Duration::ZERO,
            report_batch_item_failures: true,
        },
    );
    let start = &functions[START_WORKFLOW.name];
    // Never more pollers than the function may run: throttled messages count as receives and
    // would reach the dead-letter queue without having failed.
    let max_concurrency = if settings.reserve_concurrency {
        START_WORKFLOW.sizing(env).reserved_concurrency.max(2)
    } else {
        5
    };
    t.add(
        "StartWorkflowQueueMapping",
        EventSourceMapping {
            function: start.arn(),
            source: Source::Queue {
                arn: data.order_events.arn(),
                max_concurrency,
            },
            batch_size: 10,
            batching_window: Duration::from_secs(1),
            report_batch_item_failures: true,
        },
    );
}

fn add_workflow(
    t: &mut Template,
    settings: &Settings,
    functions: &BTreeMap<&str, Handle<Function>>,
) -> Handle<StateMachine> {
    let log_group = t.add_with(
        "OrderWorkflowLogGroup",
        LogGroup::new(
            Expr::sub("/aws/vendedlogs/states/${AWS::StackName}-order-workflow"),
            settings.log_retention_days,
        ),
        accept(
            Options::new().policy(data_policy(settings)),
            &[security::LOGS_AWS_KEY],
        ),
    );
    let tasks = [
        (workflow::PAYMENT_ARN, &functions["payment"]),
        (workflow::SHIPPING_ARN, &functions["shipping"]),
        (workflow::COMPENSATION_ARN, &functions["compensation"]),
    ];
    let role = t.add(
        "OrderWorkflowRole",
        Role::for_service("states.amazonaws.com", "Runs the order workflow").policy(
            "least-privilege",
            PolicyDocument::new([
                Statement::allow(
                    "InvokeTasks",
                    ["lambda:InvokeFunction"],
                    tasks.iter().map(|(_, f)| f.arn()),
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
    t.add(
        "OrderWorkflow",
        StateMachine {
            name: Expr::sub("${AWS::StackName}-order-workflow"),
            definition: workflow::definition(),
            substitutions: tasks.iter().map(|(var, f)| (var.to_string(), f.arn())).collect(),
            role_arn: role.arn(),
            log_group_arn: log_group.arn(),
            tags: Vec::new(),
        },
    )
}

struct Api {
    stage: Handle<Stage>,
    key: Handle<ApiKey>,
}

/// `/orders/{orderId}` → `OrdersOrderId`; `/` → `Root`.
fn path_id(path: &str) -> String {
    let id: String = path
        .split(['/', '-', '{', '}'])
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    if id.is_empty() { "Root".into() } else { id }
}

/// A stable 8-hex-digit FNV-1a hash, for the deployment's logical id.
fn fnv_hex(data: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:08X}", h >> 32)
}

fn add_api(
    t: &mut Template,
    env: Env,
    settings: &Settings,
    functions: &BTreeMap<&str, Handle<Function>>,
) -> Api {
    let api = t.add(
        "Api",
        RestApi {
            name: Expr::sub("${AWS::StackName}-api"),
            description: format!("Order processing API ({})", env.name()),
            tags: Vec::new(),
        },
    );
    // What the deployment snapshots; its hash is part of the deployment's logical id, so any
    // change to routes, models or gateway responses makes CloudFormation deploy it.
    let mut snapshot = String::new();

    let validator = t.add(
        "ApiRequestValidator",
        RequestValidator {
            rest_api_id: api.id(),
            name: "parameters".into(),
            // Bodies are validated by the handler against the same types, because API Gateway
            // cannot render its body-validation errors in the API's error format with the
            // field named (gateway response templates do no escaping).
            validate_body: false,
            validate_parameters: true,
        },
    );
    let mut models = BTreeMap::new();
    for body in ROUTES.iter().filter_map(|r| r.body) {
        let m = Model {
            rest_api_id: api.id(),
            name: body.name.into(),
            description: body.description.into(),
            schema: (body.schema)(),
        };
        snapshot.push_str(&m.schema.to_string());
        models.insert(body.name, t.add(&format!("ApiModel{}", body.name), m));
    }

    // The path tree: one resource per path segment.
    let mut paths: BTreeMap<String, Expr> = BTreeMap::new();
    paths.insert("/".into(), api.root_resource_id());
    let mut all_paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
    all_paths.sort();
    all_paths.dedup();
    for path in &all_paths {
        let mut current = String::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            let parent = if current.is_empty() {
                "/".to_string()
            } else {
                current.clone()
            };
            current = format!("{current}/{segment}");
            if !paths.contains_key(&current) {
                let r = t.add(
                    &format!("ApiPath{}", path_id(&current)),
                    PathResource {
                        rest_api_id: api.id(),
                        parent_id: paths[&parent].clone(),
                        path_part: segment.into(),
                    },
                );
                snapshot.push_str(&current);
                paths.insert(current.clone(), r.id());
            }
        }
    }

    let origins = settings.cors.origins();
    let mut methods = Vec::new();
    for route in &ROUTES {
        let m = route_method(route, &api, &paths, &validator, &models, functions);
        snapshot.push_str(&format!(
            "{}{}{}{:?}",
            route.method, route.path, route.api_key, route.query
        ));
        let accepted = if route.api_key {
            security::API_KEY_ROUTE
        } else {
            security::PUBLIC_ROUTE
        };
        methods.push(t.add_with(
            &format!(
                "ApiMethod{}{}",
                path_id(route.method.to_ascii_lowercase().as_str()),
                path_id(route.path)
            ),
            m,
            accept(Options::new(), &[accepted]),
        ));
    }
    for path in &all_paths {
        let mut allowed: Vec<String> = methods_of(path).iter().map(|m| m.to_string()).collect();
        allowed.push("OPTIONS".into());
        let m = Method {
            rest_api_id: api.id(),
            resource_id: paths[*path].clone(),
            http_method: "OPTIONS".into(),
            api_key_required: false,
            request_validator_id: None,
            request_model: None,
            request_parameters: BTreeMap::new(),
            integration: Integration::CorsPreflight {
                origins: origins.clone(),
                methods: allowed,
                headers: CORS_ALLOWED_HEADERS.iter().map(|s| s.to_string()).collect(),
            },
        };
        snapshot.push_str(&format!("OPTIONS{path}{origins:?}"));
        methods.push(t.add_with(
            &format!("ApiMethodOptions{}", path_id(path)),
            m,
            accept(
                Options::new(),
                &[Accepted {
                    reason: "CORS preflight: browsers send it without credentials.",
                    ..security::PUBLIC_ROUTE
                }],
            ),
        ));
    }

    for (response_type, status, code) in [
        ("DEFAULT_4XX", None, ErrorCode::ValidationFailed),
        ("DEFAULT_5XX", None, ErrorCode::InternalError),
        ("MISSING_AUTHENTICATION_TOKEN", Some(404), ErrorCode::NotFound),
        ("INVALID_API_KEY", Some(403), ErrorCode::Forbidden),
        ("ACCESS_DENIED", Some(403), ErrorCode::Forbidden),
        ("BAD_REQUEST_PARAMETERS", Some(400), ErrorCode::InvalidQuery),
        ("BAD_REQUEST_BODY", Some(400), ErrorCode::ValidationFailed),
        ("REQUEST_TOO_LARGE", Some(413), ErrorCode::PayloadTooLarge),
        (
            "UNSUPPORTED_MEDIA_TYPE",
            Some(415),
            ErrorCode::UnsupportedMediaType,
        ),
        ("THROTTLED", Some(429), ErrorCode::TooManyRequests),
        ("QUOTA_EXCEEDED", Some(429), ErrorCode::TooManyRequests),
        ("INTEGRATION_FAILURE", Some(502), ErrorCode::ServiceUnavailable),
        ("INTEGRATION_TIMEOUT", Some(504), ErrorCode::ServiceUnavailable),
    ] {
        let code = serde_json::to_value(code).unwrap_or(Value::Null);
        let code = code.as_str().unwrap_or("INTERNAL_ERROR");
        let message = if response_type == "MISSING_AUTHENTICATION_TOKEN" {
            "\"No route for this method and path\"".to_string()
        } else {
            "$context.error.messageString".to_string()
        };
        let template = format!(r#"{{"code":"{code}","message":{message},"requestId":"$context.requestId"}}"#);
        snapshot.push_str(&template);
        t.add(
            &format!(
                "ApiGatewayResponse{}",
                path_id(&response_type.to_ascii_lowercase().replace('_', "-"))
            ),
            GatewayResponse {
                rest_api_id: api.id(),
                response_type,
                status_code: status,
                allow_origin: static_origin(&origins),
                template,
            },
        );
    }

    let mut deployment_options = Options::new();
    for m in &methods {
        deployment_options = deployment_options.depends_on(m);
    }
    let deployment = t.add_with(
        &format!("ApiDeployment{}", fnv_hex(&snapshot)),
        Deployment {
            rest_api_id: api.id(),
            description: "The API's routes (the logical id changes with them)".into(),
        },
        deployment_options,
    );

    let access_logs = t.add_with(
        "ApiAccessLogGroup",
        LogGroup::new(
            Expr::sub("/aws/apigateway/${AWS::StackName}-api"),
            settings.log_retention_days,
        ),
        accept(
            Options::new().policy(data_policy(settings)),
            &[security::LOGS_AWS_KEY],
        ),
    );
    let cloudwatch_role = t.add(
        "ApiGatewayCloudWatchRole",
        Role {
            managed_policy_arns: vec![Expr::sub(
                "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
            )],
            ..Role::for_service(
                "apigateway.amazonaws.com",
                "Lets API Gateway write execution logs to CloudWatch",
            )
        },
    );
    let account = t.add_with(
        "ApiGatewayAccount",
        Account {
            cloudwatch_role_arn: cloudwatch_role.arn(),
        },
        accept(Options::new(), &[security::ACCOUNT_WIDE_SETTING]),
    );
    let stage = t.add_with(
        "ApiStage",
        Stage {
            rest_api_id: api.id(),
            deployment_id: deployment.id(),
            stage_name: env.name().into(),
            access_log_arn: access_logs.arn(),
            throttle: settings.stage_throttle,
            tags: Vec::new(),
        },
        // Execution logging needs the account's CloudWatch role first.
        accept(
            Options::new().depends_on(&account),
            &[security::NO_API_CACHE, security::NO_WAF, security::NO_CLIENT_CERT],
        ),
    );
    let key = t.add(
        "ApiKey",
        ApiKey {
            name: Expr::sub("${AWS::StackName}-key"),
            description: "The API key of the order and inventory routes".into(),
            tags: Vec::new(),
        },
    );
    let plan = t.add(
        "ApiUsagePlan",
        UsagePlan {
            name: Expr::sub("${AWS::StackName}-plan"),
            description: "Throttling and daily quota of the API key".into(),
            rest_api_id: api.id(),
            stage: stage.name(),
            throttle: settings.usage_plan.throttle,
            daily_quota: settings.usage_plan.daily_quota,
            tags: Vec::new(),
        },
    );
    t.add(
        "ApiUsagePlanKey",
        UsagePlanKey {
            key_id: key.id(),
            usage_plan_id: plan.id(),
        },
    );

    for spec in FUNCTIONS.iter().filter(|f| f.trigger == Trigger::Api) {
        t.add(
            &format!("{}ApiPermission", spec.id),
            Permission {
                function: functions[spec.name].arn(),
                principal: "apigateway.amazonaws.com",
                source_arn: Expr::sub_with(
                    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*",
                    [("Api", api.id())],
                ),
            },
        );
    }
    Api { stage, key }
}

fn route_method(
    route: &Route,
    api: &Handle<RestApi>,
    paths: &BTreeMap<String, Expr>,
    validator: &Handle<RequestValidator>,
    models: &BTreeMap<&str, Handle<Model>>,
    functions: &BTreeMap<&str, Handle<Function>>,
) -> Method {
    let mut request_parameters = BTreeMap::new();
    for p in super::api::path_params(route.path) {
        request_parameters.insert(format!("method.request.path.{p}"), true);
    }
    for q in route.query {
        request_parameters.insert(format!("method.request.querystring.{q}"), false);
    }
    Method {
        rest_api_id: api.id(),
        resource_id: paths[route.path].clone(),
        http_method: route.method.into(),
        api_key_required: route.api_key,
        request_validator_id: Some(validator.id()),
        request_model: route.body.map(|b| models[b.name].name()),
        request_parameters,
        integration: Integration::LambdaProxy {
            function_arn: functions[route.function.name].arn(),
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn add_monitoring(
    t: &mut Template,
    env: Env,
    settings: &Settings,
    params: &Params,
    data: &Data,
    functions: &BTreeMap<&str, Handle<Function>>,
    order_workflow: &Handle<StateMachine>,
    api: &Api,
) {
    // CloudWatch must be able to use the topic's key, which an AWS-managed key does not allow.
    let key = t.add_with(
        "AlarmTopicKey",
        Key {
            grants: vec![
                Statement::allow(
                    "CloudWatchPublishesAlarms",
                    ["kms:Decrypt", "kms:GenerateDataKey*"],
                    [Expr::str("*")],
                )
                .principal(Principal::Service("cloudwatch.amazonaws.com"))
                .condition(json!({"StringEquals": {"aws:SourceAccount": Expr::account_id()}})),
            ],
            ..Key::new("Encrypts the alarm notifications topic")
        },
        // Deleting a key schedules its deletion after the pending window; nothing is lost at once.
        Options::new().policy(Policy::Delete),
    );
    t.add(
        "AlarmTopicKeyAlias",
        Alias {
            name: Expr::sub("alias/${AWS::StackName}/alarms"),
            target_key_id: key.key_id(),
        },
    );
    let topic = t.add(
        "AlarmTopic",
        Topic {
            display_name: format!("{APP} alarms"),
            kms_key: key.arn(),
            tags: Vec::new(),
        },
    );
    t.add(
        "AlarmTopicPolicy",
        TopicPolicy {
            topics: vec![topic.arn()],
            policy: PolicyDocument::new([
                Statement::allow("CloudWatchPublishes", ["sns:Publish"], [topic.arn()])
                    .principal(Principal::Service("cloudwatch.amazonaws.com"))
                    .condition(json!({"StringEquals": {"aws:SourceAccount": Expr::account_id()}})),
                Statement::allow("DenyInsecureTransport", ["sns:Publish"], [topic.arn()])
                    .principal(Principal::Anyone)
                    .condition(json!({"Bool": {"aws:SecureTransport": "false"}}))
                    .deny(),
            ]),
        },
    );
    let has_email = t.condition(
        "HasAlarmEmail",
        Cond::not(Cond::equals(params.alarm_email.reference(), "")),
    );
    t.add_with(
        "AlarmEmailSubscription",
        EmailSubscription {
            topic_arn: topic.arn(),
            address: params.alarm_email.reference(),
        },
        Options::new().condition(&has_email),
    );

    let alarm =
        |name: &str, description: String, namespace, metric, dimensions, statistic, threshold: u32| Alarm {
            name: Expr::sub(format!("${{AWS::StackName}}-{name}")),
            description,
            namespace,
            metric,
            dimensions,
            statistic,
            period: Duration::from_secs(300),
            evaluation_periods: 1,
            threshold: f64::from(threshold),
            comparison: Comparison::GreaterThanOrEqualToThreshold,
            actions: vec![topic.arn()],
        };
    let a = &settings.alarms;
    for spec in &FUNCTIONS {
        let f = &functions[spec.name];
        t.add(
            &format!("{}FunctionErrorsAlarm", spec.id),
            alarm(
                &format!("{}-errors", spec.name),
                format!(
                    "{} or more errors of the {} function in 5 minutes",
                    a.function_errors_per_5_minutes, spec.name
                ),
                "AWS/Lambda",
                "Errors",
                vec![("FunctionName", f.name())],
                Statistic::Sum,
                a.function_errors_per_5_minutes,
            ),
        );
        t.add(
            &format!("{}FunctionThrottlesAlarm", spec.id),
            alarm(
                &format!("{}-throttles", spec.name),
                format!(
                    "The {} function was throttled (it hit its concurrency limit)",
                    spec.name
                ),
                "AWS/Lambda",
                "Throttles",
                vec![("FunctionName", f.name())],
                Statistic::Sum,
                1,
            ),
        );
    }
    for (id, q, what) in [
        (
            "OrderEventsDeadLetterQueueAlarm",
            &data.order_events_dlq,
            "order-events-dlq",
        ),
        (
            "ReservationFailuresQueueAlarm",
            &data.reservation_failures,
            "reservation-failures",
        ),
    ] {
        let mut al = alarm(
            &format!("{what}-not-empty"),
            format!(
                "A message is waiting in the {what} queue: an event failed every retry; inspect and replay it"
            ),
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            vec![("QueueName", q.queue_name())],
            Statistic::Maximum,
            1,
        );
        al.period = Duration::from_secs(60);
        t.add(id, al);
    }
    for (id, metric, what) in [
        ("OrderWorkflowFailedAlarm", "ExecutionsFailed", "failed"),
        ("OrderWorkflowTimedOutAlarm", "ExecutionsTimedOut", "timed-out"),
    ] {
        t.add(
            id,
            alarm(
                &format!("order-workflow-{what}"),
                format!("An order workflow execution {}", what.replace('-', " ")),
                "AWS/States",
                metric,
                vec![("StateMachineArn", order_workflow.arn())],
                Statistic::Sum,
                1,
            ),
        );
    }
    t.add(
        "Api5xxAlarm",
        alarm(
            "api-5xx",
            format!(
                "{} or more 5xx answers of the API in 5 minutes",
                a.api_5xx_per_5_minutes
            ),
            "AWS/ApiGateway",
            "5XXError",
            vec![
                ("ApiName", Expr::sub("${AWS::StackName}-api")),
                ("Stage", api.stage.name()),
            ],
            Statistic::Sum,
            a.api_5xx_per_5_minutes,
        ),
    );
    t.add(
        "ReserveStockIteratorAgeAlarm",
        alarm(
            "reserve-stock-iterator-age",
            format!(
                "Records of the OrdersTable stream wait more than {} s for the reserve-stock function (it is falling behind)",
                a.stream_iterator_age_ms / 1000
            ),
            "AWS/Lambda",
            "IteratorAge",
            vec![("FunctionName", functions[RESERVE_STOCK.name].name())],
            Statistic::Maximum,
            a.stream_iterator_age_ms,
        ),
    );

    t.add(
        "Dashboard",
        Dashboard {
            name: Expr::sub("${AWS::StackName}"),
            body: dashboard_body(env, functions, data, order_workflow, api),
        },
    );
}

fn dashboard_body(
    env: Env,
    functions: &BTreeMap<&str, Handle<Function>>,
    data: &Data,
    order_workflow: &Handle<StateMachine>,
    api: &Api,
) -> Expr {
    let mut vars: BTreeMap<String, Expr> = BTreeMap::new();
    let mut var = |name: &str, value: Expr| {
        vars.insert(name.to_owned(), value);
        format!("${{{name}}}")
    };
    let api_name = var("ApiName", Expr::sub("${AWS::StackName}-api"));
    let stage = var("Stage", api.stage.name());
    let workflow = var("OrderWorkflowArn", order_workflow.arn());
    let events = var("OrderEventsQueueName", data.order_events.queue_name());
    let dlq = var("OrderEventsDeadLetterQueueName", data.order_events_dlq.queue_name());
    let failures = var("ReservationFailuresQueueName", data.reservation_failures.queue_name());
    let fn_names: Vec<(String, String)> = FUNCTIONS
        .iter()
        .map(|s| {
            (
                s.name.to_string(),
                var(&format!("{}Fn", s.id), functions[s.name].name()),
            )
        })
        .collect();

    let widget = |x: u32, y: u32, title: &str, metrics: Vec<Value>, stat: &str| {
        json!({
            "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": {"title": title, "region": "${AWS::Region}", "stat": stat, "period": 300, "metrics": metrics}
        })
    };
    let lambda = |metric: &str| -> Vec<Value> {
        fn_names
            .iter()
            .map(|(label, v)| json!(["AWS/Lambda", metric, "FunctionName", v, {"label": label}]))
            .collect()
    };
    let body = json!({"widgets": [
        widget(0, 0, "API requests and errors", vec![
            json!(["AWS/ApiGateway", "Count", "ApiName", api_name, "Stage", stage]),
            json!(["AWS/ApiGateway", "4XXError", "ApiName", api_name, "Stage", stage]),
            json!(["AWS/ApiGateway", "5XXError", "ApiName", api_name, "Stage", stage]),
        ], "Sum"),
        widget(12, 0, "API latency (p99)", vec![
            json!(["AWS/ApiGateway", "Latency", "ApiName", api_name, "Stage", stage]),
            json!(["AWS/ApiGateway", "IntegrationLatency", "ApiName", api_name, "Stage", stage]),
        ], "p99"),
        widget(0, 6, "Function errors", lambda("Errors"), "Sum"),
        widget(12, 6, "Function duration (p99)", lambda("Duration"), "p99"),
        widget(0, 12, "Queues", vec![
            json!(["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", events]),
            json!(["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dlq]),
            json!(["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", failures]),
        ], "Maximum"),
        widget(12, 12, "Order workflow", vec![
            json!(["AWS/States", "ExecutionsStarted", "StateMachineArn", workflow]),
            json!(["AWS/States", "ExecutionsSucceeded", "StateMachineArn", workflow]),
            json!(["AWS/States", "ExecutionsFailed", "StateMachineArn", workflow]),
        ], "Sum"),
        widget(0, 18, "Orders (business metrics)", ["OrdersAccepted", "OrdersRejected", "OrdersPaid", "OrdersShipped", "OrdersFailed"]
            .iter()
            .map(|m| json!([APP, m, "Environment", env.name()]))
            .collect(), "Sum"),
    ]});
    Expr::sub_with(body.to_string(), vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids_are_pascal_case() {
        assert_eq!(path_id("/"), "Root");
        assert_eq!(path_id("/orders/{orderId}"), "OrdersOrderId");
        assert_eq!(path_id("/auth/register-business"), "AuthRegisterBusiness");
        assert_eq!(path_id("get"), "Get");
    }

    #[test]
    fn the_deployment_hash_is_stable() {
        assert_eq!(fnv_hex("abc"), fnv_hex("abc"));
        assert_ne!(fnv_hex("abc"), fnv_hex("abd"));
        assert_eq!(fnv_hex("").len(), 8);
    }
}
