//! Assertions on the synthesized system, in the style of CDK's `Template.fromStack` tests:
//! properties every template must have, checked on the JSON CloudFormation receives.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};

use infra_model::Env;
use infra_model::aws::iam::ACCOUNT_LEVEL_ACTIONS;
use infra_model::cfn::{INLINE_TEMPLATE_LIMIT, RESOURCE_LIMIT, S3_TEMPLATE_LIMIT};
use infra_model::decl::{FunctionBindings, Target, Trigger};
use infra_model::system::FUNCTIONS;
use infra_model::system::api::ROUTES;
use infra_model::system::functions::{
    HealthBindings, OrdersApiBindings, StartWorkflowBindings, config_values,
};
use infra_model::system::resources::ORDER_WORKFLOW;
use serde_json::{Value, json};

fn template(env: Env) -> Value {
    infra_model::synth(env).unwrap().to_value()
}

fn resources<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

fn ref_id(v: &Value) -> Option<&str> {
    v.get("Ref")
        .and_then(Value::as_str)
        .or_else(|| v.get("Fn::GetAtt").and_then(|a| a[0].as_str()))
}

#[test]
fn every_function_logs_to_its_own_group_with_the_environments_retention() {
    for env in Env::ALL {
        let t = template(env);
        let functions = resources(&t, "AWS::Lambda::Function");
        assert_eq!(functions.len(), FUNCTIONS.len());
        for (id, f) in functions {
            let group = ref_id(&f["Properties"]["LoggingConfig"]["LogGroup"]).unwrap();
            let g = &t["Resources"][group];
            assert_eq!(g["Type"], "AWS::Logs::LogGroup", "{id}");
            assert_eq!(
                g["Properties"]["RetentionInDays"],
                env.settings().log_retention_days,
                "{id}"
            );
            assert_eq!(f["Properties"]["LoggingConfig"]["LogFormat"], "JSON");
            assert_eq!(f["Properties"]["TracingConfig"]["Mode"], "Active");
            assert_eq!(f["Properties"]["Architectures"], json!(["arm64"]));
            assert_eq!(f["Properties"]["Runtime"], "provided.al2023");
        }
        for (id, g) in resources(&t, "AWS::Logs::LogGroup") {
            assert_eq!(
                g["Properties"]["RetentionInDays"],
                env.settings().log_retention_days,
                "{id}"
            );
        }
    }
}

#[test]
fn every_queue_is_encrypted_and_every_work_queue_has_a_dead_letter_queue() {
    let t = template(Env::Prod);
    let queues = resources(&t, "AWS::SQS::Queue");
    let dead_letter_targets: BTreeSet<&str> = queues
        .iter()
        .filter_map(|(_, q)| ref_id(&q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]))
        .chain(
            resources(&t, "AWS::Lambda::EventSourceMapping")
                .iter()
                .filter_map(|(_, m)| {
                    ref_id(&m["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])
                }),
        )
        .collect();
    assert_eq!(queues.len(), infra_model::system::QUEUES.len());
    for (id, q) in &queues {
        assert_eq!(q["Properties"]["KmsMasterKeyId"], "alias/aws/sqs", "{id}");
        if dead_letter_targets.contains(id.as_str()) {
            assert_eq!(
                q["Properties"]["MessageRetentionPeriod"], 1_209_600,
                "{id} keeps failures 14 days"
            );
        } else {
            assert_eq!(q["Properties"]["RedrivePolicy"]["maxReceiveCount"], 3, "{id}");
        }
    }
    // Exactly the declared dead-letter queues are targets, and every one is.
    let declared: BTreeSet<&str> = infra_model::system::QUEUES
        .iter()
        .filter(|q| q.kind == infra_model::decl::QueueKind::DeadLetters)
        .map(|q| q.id)
        .collect();
    assert_eq!(dead_letter_targets, declared);
}

#[test]
fn every_asynchronous_consumer_has_a_failure_destination() {
    for env in Env::ALL {
        let t = template(env);
        for (id, m) in resources(&t, "AWS::Lambda::EventSourceMapping") {
            let p = &m["Properties"];
            assert_eq!(
                p["FunctionResponseTypes"],
                json!(["ReportBatchItemFailures"]),
                "{id}"
            );
            let source = ref_id(&p["EventSourceArn"]).unwrap();
            match t["Resources"][source]["Type"].as_str().unwrap() {
                "AWS::DynamoDB::Table" => {
                    assert!(
                        ref_id(&p["DestinationConfig"]["OnFailure"]["Destination"]).is_some(),
                        "{id}"
                    );
                    assert_eq!(p["BisectBatchOnFunctionError"], true);
                    assert!(p["MaximumRetryAttempts"].as_u64().unwrap() <= 10);
                }
                "AWS::SQS::Queue" => {
                    assert!(
                        t["Resources"][source]["Properties"]["RedrivePolicy"].is_object(),
                        "{id}"
                    );
                }
                other => panic!("{id} reads from {other}"),
            }
        }
    }
}

#[test]
fn no_iam_action_is_a_wildcard_and_star_resources_are_only_where_aws_requires() {
    for env in Env::ALL {
        let t = template(env);
        for (id, role) in resources(&t, "AWS::IAM::Role") {
            for policy in role["Properties"]["Policies"].as_array().into_iter().flatten() {
                for s in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                    let sid = s["Sid"].as_str().unwrap();
                    let star = s["Resource"].as_array().unwrap().iter().any(|r| r == "*");
                    for a in s["Action"].as_array().unwrap() {
                        let a = a.as_str().unwrap();
                        assert!(!a.contains('*'), "{id}: wildcard action {a}");
                        // An action with no resource-level permission granted on a resource
                        // grants nothing; one that has them is never granted on "*".
                        assert_eq!(
                            ACCOUNT_LEVEL_ACTIONS.contains(&a),
                            star,
                            "{id}: statement {sid} grants {a} on {}",
                            s["Resource"]
                        );
                    }
                }
            }
        }
    }
}

/// Each binding is exactly one IAM statement and one environment variable, and the handler's
/// struct reads back from exactly what the template gives the function.
#[test]
fn bindings_become_one_statement_and_one_variable_each() {
    let t = template(Env::Staging);
    for spec in FUNCTIONS {
        let f = &t["Resources"][format!("{}Function", spec.id)]["Properties"];
        let vars = f["Environment"]["Variables"].as_object().unwrap();
        let role_id = ref_id(&f["Role"]).unwrap();
        let statements = t["Resources"][role_id]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
        let mut expected_vars: BTreeSet<String> = spec.bindings.iter().map(|b| b.target.env_var()).collect();
        for b in spec.bindings {
            let sid = b.sid();
            let s = statements.iter().find(|s| s["Sid"] == sid.as_str());
            let s = s.unwrap_or_else(|| panic!("{}: no statement {sid}", spec.name));
            let actions: Vec<&str> = s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert_eq!(actions, b.access.actions(), "{}: {sid}", spec.name);
            assert!(vars.contains_key(&b.target.env_var()), "{}", spec.name);
        }
        for (k, _) in config_values(spec, Env::Staging, &Env::Staging.settings()) {
            expected_vars.insert(k.to_owned());
        }
        let actual: BTreeSet<String> = vars.keys().cloned().collect();
        assert_eq!(actual, expected_vars, "{}: environment variables", spec.name);
    }

    // The handler side: each struct reads back from the variables the template sets.
    let vars_of = |id: &str| -> BTreeMap<String, String> {
        t["Resources"][format!("{id}Function")]["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| (k.clone(), format!("value-of-{k}")))
            .collect()
    };
    let orders = vars_of("OrdersApi");
    let b = OrdersApiBindings::from_lookup(|k| orders.get(k).cloned()).unwrap();
    assert_eq!(b.orders.as_str(), "value-of-ORDERS_TABLE_NAME");
    let start = vars_of("StartWorkflow");
    let b = StartWorkflowBindings::from_lookup(|k| start.get(k).cloned()).unwrap();
    assert_eq!(b.workflow.as_str(), "value-of-ORDER_WORKFLOW_ARN");
    // A function that did not bind the workflow has no variable for it.
    assert!(!orders.contains_key(&Target::Workflow(&ORDER_WORKFLOW.spec).env_var()));
    let health = vars_of("Health");
    assert!(HealthBindings::from_lookup(|k| health.get(k).cloned()).is_ok());
    // Health describes the tables but cannot start the workflow: it has no variable for it.
    assert!(StartWorkflowBindings::from_lookup(|k| health.get(k).cloned()).is_err());
}

#[test]
fn the_queue_outlasts_six_times_its_consumers_timeout_and_pollers_fit_the_concurrency() {
    for env in Env::ALL {
        let t = template(env);
        for (id, m) in resources(&t, "AWS::Lambda::EventSourceMapping") {
            let source = ref_id(&m["Properties"]["EventSourceArn"]).unwrap();
            if t["Resources"][source]["Type"] != "AWS::SQS::Queue" {
                continue;
            }
            let function = &t["Resources"][ref_id(&m["Properties"]["FunctionName"]).unwrap()]["Properties"];
            let visibility = t["Resources"][source]["Properties"]["VisibilityTimeout"]
                .as_u64()
                .unwrap();
            let timeout = function["Timeout"].as_u64().unwrap();
            assert!(
                visibility >= 6 * timeout,
                "{id}: {visibility} s < 6 × {timeout} s"
            );
            let pollers = m["Properties"]["ScalingConfig"]["MaximumConcurrency"]
                .as_u64()
                .unwrap();
            assert!(pollers >= 2);
            if let Some(reserved) = function["ReservedConcurrentExecutions"].as_u64() {
                assert!(
                    pollers <= reserved.max(2),
                    "{id}: {pollers} pollers, {reserved} reserved"
                );
            }
        }
    }
}

#[test]
fn prod_tables_keep_their_data_and_dev_tables_do_not() {
    for env in Env::ALL {
        let t = template(env);
        let s = env.settings();
        for (id, table) in resources(&t, "AWS::DynamoDB::Table") {
            let p = &table["Properties"];
            assert_eq!(p["BillingMode"], "PAY_PER_REQUEST", "{id}");
            assert_eq!(p["SSESpecification"]["SSEEnabled"], true, "{id}");
            if id == "IdempotencyTable" {
                assert_eq!(table["DeletionPolicy"], "Delete");
                assert_eq!(p["TimeToLiveSpecification"]["AttributeName"], "expiresAt");
                continue;
            }
            let pitr = p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
                .as_bool()
                .unwrap();
            assert_eq!(pitr, s.point_in_time_recovery, "{env} {id}");
            let policy = if s.retain_data { "Retain" } else { "Delete" };
            assert_eq!(table["DeletionPolicy"], policy, "{env} {id}");
            assert_eq!(table["UpdateReplacePolicy"], policy, "{env} {id}");
            assert_eq!(
                p.get("DeletionProtectionEnabled").is_some(),
                s.retain_data,
                "{env} {id}"
            );
        }
    }
    let prod = template(Env::Prod);
    assert_eq!(prod["Resources"]["OrdersTable"]["DeletionPolicy"], "Retain");
    assert_eq!(
        prod["Resources"]["OrdersTable"]["Properties"]["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );
}

/// Flattens a JSON value into `path → leaf` pairs.
fn flatten(prefix: String, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| flatten(format!("{prefix}/{k}"), v, out)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| flatten(format!("{prefix}/{i}"), v, out)),
        leaf => {
            out.insert(prefix, leaf.clone());
        }
    }
}

/// A difference's place with logical ids replaced by their type, and list indexes dropped.
fn normalize(t: &Value, path: &str) -> String {
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    let mut out = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i == 1 && parts[0] == "Resources" {
            out.push(t["Resources"][p]["Type"].as_str().unwrap_or(p).to_string());
        } else if p.parse::<usize>().is_err() {
            out.push((*p).to_string());
        }
    }
    out.join("/")
}

#[test]
fn dev_and_prod_differ_exactly_where_the_settings_say() {
    let (dev, prod) = (template(Env::Dev), template(Env::Prod));
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    flatten(String::new(), &dev, &mut a);
    flatten(String::new(), &prod, &mut b);
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let differing: BTreeSet<String> = keys
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| normalize(if a.contains_key(k) { &dev } else { &prod }, k))
        .collect();
    let expected: BTreeSet<String> = [
        "Description",
        // retain_data
        "Resources/AWS::DynamoDB::Table/DeletionPolicy",
        "Resources/AWS::DynamoDB::Table/UpdateReplacePolicy",
        "Resources/AWS::DynamoDB::Table/Properties/DeletionProtectionEnabled",
        "Resources/AWS::SQS::Queue/DeletionPolicy",
        "Resources/AWS::SQS::Queue/UpdateReplacePolicy",
        "Resources/AWS::Logs::LogGroup/DeletionPolicy",
        "Resources/AWS::Logs::LogGroup/UpdateReplacePolicy",
        // point_in_time_recovery (and dev's accepted scanner finding for its absence)
        "Resources/AWS::DynamoDB::Table/Properties/PointInTimeRecoverySpecification/PointInTimeRecoveryEnabled",
        "Resources/AWS::DynamoDB::Table/Metadata/checkov/skip/comment",
        "Resources/AWS::DynamoDB::Table/Metadata/checkov/skip/id",
        // log_retention_days
        "Resources/AWS::Logs::LogGroup/Properties/RetentionInDays",
        // cors
        "Resources/AWS::Lambda::Function/Properties/Environment/Variables/CORS_ALLOWED_ORIGINS",
        "Resources/AWS::ApiGateway::Method/Properties/Integration/IntegrationResponses/ResponseParameters/method.response.header.Access-Control-Allow-Origin",
        "Resources/AWS::ApiGateway::Method/Properties/Integration/IntegrationResponses/ResponseTemplates/application/json",
        "Resources/AWS::ApiGateway::GatewayResponse/Properties/ResponseParameters/gatewayresponse.header.Access-Control-Allow-Origin",
        // the deployment snapshots the CORS preflight, so its id changes with it
        "Resources/ApiDeployment",
        "Resources/AWS::ApiGateway::Stage/Properties/DeploymentId/Ref",
        // stage name = environment (and the execution log group named after the stage)
        "Resources/AWS::ApiGateway::Stage/Properties/StageName",
        "Resources/AWS::Logs::LogGroup/Properties/LogGroupName/Fn::Sub",
        "Resources/AWS::ApiGateway::RestApi/Properties/Description",
        // throttling and quota
        "Resources/AWS::ApiGateway::Stage/Properties/MethodSettings/ThrottlingRateLimit",
        "Resources/AWS::ApiGateway::Stage/Properties/MethodSettings/ThrottlingBurstLimit",
        "Resources/AWS::ApiGateway::UsagePlan/Properties/Throttle/RateLimit",
        "Resources/AWS::ApiGateway::UsagePlan/Properties/Throttle/BurstLimit",
        "Resources/AWS::ApiGateway::UsagePlan/Properties/Quota/Limit",
        // sizing and reserved concurrency
        "Resources/AWS::Lambda::Function/Properties/MemorySize",
        "Resources/AWS::Lambda::Function/Properties/ReservedConcurrentExecutions",
        "Resources/AWS::Lambda::Function/Metadata/checkov/skip/comment",
        "Resources/AWS::Lambda::Function/Metadata/checkov/skip/id",
        "Resources/AWS::Lambda::Function/Metadata/cfn_nag/rules_to_suppress/id",
        "Resources/AWS::Lambda::Function/Metadata/cfn_nag/rules_to_suppress/reason",
        "Resources/AWS::Lambda::EventSourceMapping/Properties/ScalingConfig/MaximumConcurrency",
        // alarm thresholds
        "Resources/AWS::CloudWatch::Alarm/Properties/Threshold",
        "Resources/AWS::CloudWatch::Alarm/Properties/AlarmDescription",
        // environment name
        "Resources/AWS::Lambda::Function/Properties/Environment/Variables/APP_ENVIRONMENT",
        "Resources/AWS::CloudWatch::Dashboard/Properties/DashboardBody/Fn::Sub",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    // The deployment's id carries a hash: normalize it.
    let differing: BTreeSet<String> = differing
        .into_iter()
        .map(|d| {
            if d.starts_with("Resources/AWS::ApiGateway::Deployment") {
                "Resources/ApiDeployment".into()
            } else {
                d
            }
        })
        .collect();
    let unexpected: Vec<_> = differing.difference(&expected).collect();
    let missing: Vec<_> = expected.difference(&differing).collect();
    assert!(
        unexpected.is_empty(),
        "dev and prod differ where no setting says so: {unexpected:#?}"
    );
    assert!(missing.is_empty(), "a setting makes no difference: {missing:#?}");
}

#[test]
fn the_emitted_workflow_references_only_states_that_exist() {
    let t = template(Env::Dev);
    let sub = &t["Resources"]["OrderWorkflow"]["Properties"]["DefinitionString"]["Fn::Sub"];
    let asl: Value = serde_json::from_str(sub[0].as_str().unwrap()).unwrap();
    let states = asl["States"].as_object().unwrap();
    assert!(states.contains_key(asl["StartAt"].as_str().unwrap()));
    for (name, s) in states {
        let mut targets: Vec<&str> = Vec::new();
        targets.extend(s.get("Next").and_then(Value::as_str));
        targets.extend(s.get("Default").and_then(Value::as_str));
        for c in s.get("Catch").and_then(Value::as_array).into_iter().flatten() {
            targets.push(c["Next"].as_str().unwrap());
        }
        for target in targets {
            assert!(
                states.contains_key(target),
                "{name} goes to missing state {target}"
            );
        }
        if s["Type"] == "Task" {
            let f = s["Parameters"]["FunctionName"].as_str().unwrap();
            let var = f.trim_start_matches("${").trim_end_matches('}');
            assert!(sub[1][var].is_object(), "{name}: substitution {var} is not given");
        }
    }
}

#[test]
fn every_route_is_a_method_with_its_key_requirement_and_a_cors_preflight() {
    let t = template(Env::Prod);
    let methods = resources(&t, "AWS::ApiGateway::Method");
    let lambda_methods: Vec<_> = methods
        .iter()
        .filter(|(_, m)| m["Properties"]["Integration"]["Type"] == "AWS_PROXY")
        .collect();
    assert_eq!(lambda_methods.len(), ROUTES.len());
    for route in ROUTES {
        let found = lambda_methods.iter().any(|(_, m)| {
            m["Properties"]["HttpMethod"] == route.method
                && m["Properties"]["ApiKeyRequired"] == route.api_key
        });
        assert!(found, "{} {}", route.method, route.path);
    }
    let preflights = methods
        .iter()
        .filter(|(_, m)| m["Properties"]["HttpMethod"] == "OPTIONS")
        .count();
    let paths: BTreeSet<&str> = ROUTES.iter().map(|r| r.path).collect();
    assert_eq!(preflights, paths.len());
    let plan = &resources(&t, "AWS::ApiGateway::UsagePlan")[0].1["Properties"];
    assert_eq!(plan["Throttle"], json!({"RateLimit": 50, "BurstLimit": 100}));
    assert_eq!(plan["Quota"], json!({"Limit": 10000, "Period": "DAY"}));
}

#[test]
fn every_function_has_error_and_throttle_alarms_that_notify_the_topic() {
    let t = template(Env::Prod);
    let alarms = resources(&t, "AWS::CloudWatch::Alarm");
    for spec in FUNCTIONS {
        for metric in ["Errors", "Throttles"] {
            let found = alarms.iter().any(|(_, a)| {
                a["Properties"]["MetricName"] == metric
                    && ref_id(&a["Properties"]["Dimensions"][0]["Value"])
                        == Some(&format!("{}Function", spec.id))
            });
            assert!(found, "{} has no {metric} alarm", spec.name);
        }
    }
    for (id, a) in &alarms {
        assert_eq!(
            ref_id(&a["Properties"]["AlarmActions"][0]),
            Some("AlarmTopic"),
            "{id}"
        );
    }
    let metrics: BTreeSet<&str> = alarms
        .iter()
        .map(|(_, a)| a["Properties"]["MetricName"].as_str().unwrap())
        .collect();
    for m in [
        "ApproximateNumberOfMessagesVisible",
        "ExecutionsFailed",
        "5XXError",
        "IteratorAge",
    ] {
        assert!(metrics.contains(m), "no alarm on {m}");
    }
    assert_eq!(
        alarms
            .iter()
            .find(|(id, _)| *id == "OrdersApiFunctionErrorsAlarm")
            .unwrap()
            .1["Properties"]["Threshold"],
        5.0
    );
}

#[test]
fn stream_and_queue_consumers_are_wired_to_the_right_functions() {
    let t = template(Env::Dev);
    for spec in FUNCTIONS {
        let mapped = resources(&t, "AWS::Lambda::EventSourceMapping")
            .iter()
            .filter(|(_, m)| {
                ref_id(&m["Properties"]["FunctionName"]) == Some(&format!("{}Function", spec.id))
            })
            .count();
        let expected = usize::from(matches!(spec.trigger, Trigger::Stream(_) | Trigger::Queue(_)));
        assert_eq!(mapped, expected, "{}", spec.name);
    }
}

#[test]
fn templates_stay_within_cloudformation_limits() {
    for env in Env::ALL {
        let s = infra_model::synth(env).unwrap();
        let bytes = s.to_json_compact().len();
        println!(
            "{env}: {} resources, {bytes} bytes compact JSON ({})",
            s.resource_count(),
            if bytes <= INLINE_TEMPLATE_LIMIT {
                "inline"
            } else {
                "via S3"
            }
        );
        assert!(s.resource_count() <= RESOURCE_LIMIT);
        assert!(bytes <= S3_TEMPLATE_LIMIT);
        assert!(s.parameter_names().count() <= 200);
    }
}

#[test]
fn the_deployment_waits_for_everything_it_serves_and_its_id_changes_with_any_of_it() {
    let t = template(Env::Prod);
    let (id, deployment) = &resources(&t, "AWS::ApiGateway::Deployment")[0];
    let depends: BTreeSet<&str> = deployment["DependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    for kind in [
        "AWS::ApiGateway::Method",
        "AWS::ApiGateway::GatewayResponse",
        "AWS::ApiGateway::Model",
        "AWS::ApiGateway::RequestValidator",
        "AWS::ApiGateway::Resource",
    ] {
        let all = resources(&t, kind);
        assert!(!all.is_empty(), "{kind}");
        for (r, _) in all {
            assert!(
                depends.contains(r.as_str()),
                "{id} does not wait for {r} ({kind})"
            );
        }
    }
    // No account-wide setting in an environment's stack: it is the account stack's.
    assert!(resources(&t, "AWS::ApiGateway::Account").is_empty());
    // API Gateway's execution log group is the stack's, with the environment's retention.
    let stage = &resources(&t, "AWS::ApiGateway::Stage")[0].1;
    let group = stage["DependsOn"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(std::iter::once(&stage["DependsOn"]))
        .filter_map(Value::as_str)
        .find(|d| t["Resources"][*d]["Type"] == "AWS::Logs::LogGroup")
        .expect("the stage waits for its execution log group");
    let name = &t["Resources"][group]["Properties"]["LogGroupName"]["Fn::Sub"];
    assert!(
        name.to_string()
            .contains("API-Gateway-Execution-Logs_${Api}/prod"),
        "{name}"
    );
}

#[test]
fn retained_log_groups_are_not_kept_when_their_own_creation_rolls_back() {
    for env in Env::ALL {
        let t = template(env);
        for (id, g) in resources(&t, "AWS::Logs::LogGroup") {
            let expected = if env.settings().retain_data {
                "RetainExceptOnCreate"
            } else {
                "Delete"
            };
            assert_eq!(g["DeletionPolicy"], expected, "{env} {id}");
        }
    }
}
