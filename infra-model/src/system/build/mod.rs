//! Synthesis: the system's declarations turned into one environment's template. Generic over
//! the declarations: every table, queue, topic, secret, workflow, function, trigger and route
//! listed in [`crate::system`] becomes its resources here, with the environment's settings.
//!
//! - [`data`]: tables, queues, topics (with their keys and policies), secrets;
//! - [`functions`]: functions (log group, role from the bindings and the trigger, the
//!   function), event source mappings and workflows;
//! - [`api`]: the REST API from the routes;
//! - [`monitoring`]: alarms and the dashboard, derived from all of the above.

mod api;
mod data;
mod functions;
mod monitoring;

use std::collections::BTreeMap;

use super::env::{Env, Settings};
use super::{FUNCTIONS, QUEUES, TABLES, TOPICS, WORKFLOWS, parameters};
use crate::aws::dynamodb::Table;
use crate::aws::kms::Key;
use crate::aws::lambda::Function;
use crate::aws::secretsmanager::GeneratedSecret;
use crate::aws::sns::Topic;
use crate::aws::sqs::Queue;
use crate::aws::stepfunctions::StateMachine;
use crate::cfn::{Expr, Handle, Output, ParamHandle, Parameter, Policy, Template};
use crate::decl::Target;

/// The order system's template for one environment.
pub fn template(env: Env) -> Template {
    let settings = env.settings();
    let mut t = Template::new(format!(
        "Order processing backend ({}): API, order pipeline and workflow. Synthesized by infra-model; \
         do not edit, run `cargo xtask synth`.",
        env.name()
    ));
    let params = Params::add(&mut t);
    let mut built = Built::default();
    data::add(&mut t, &settings, &mut built);

    // A function that binds a workflow is added after it; the workflow needs its tasks.
    let binds_workflow =
        |f: &crate::decl::Function| f.bindings.iter().any(|b| matches!(b.target, Target::Workflow(_)));
    for f in FUNCTIONS.iter().filter(|f| !binds_workflow(f)) {
        functions::add_function(&mut t, env, &settings, &params, &mut built, f);
    }
    for w in WORKFLOWS {
        functions::add_workflow(&mut t, &settings, w, &mut built);
    }
    for f in FUNCTIONS.iter().filter(|f| binds_workflow(f)) {
        functions::add_function(&mut t, env, &settings, &params, &mut built, f);
    }
    functions::add_event_sources(&mut t, env, &settings, &built);
    let api = api::add(&mut t, env, &settings, &built);
    monitoring::add(&mut t, env, &settings, &params, &built, &api);

    t.output(
        super::api::URL_OUTPUT,
        Output::new(Expr::sub_with(
            "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}/",
            [("Stage", api.stage.name())],
        ))
        .description("The base URL of the REST API"),
    );
    t.output(
        super::api::KEY_ID_OUTPUT,
        Output::new(api.key.id()).description(
            "The id of the API key; its value: aws apigateway get-api-key --include-value --api-key <id>",
        ),
    );
    for table in TABLES {
        t.output(
            &Target::Table(table).output_id(),
            Output::new(built.tables[table.id].name()),
        );
    }
    for queue in QUEUES {
        t.output(
            &Target::Queue(queue).output_id(),
            Output::new(built.queues[queue.id].url()),
        );
    }
    for topic in TOPICS {
        t.output(
            &Target::Topic(topic).output_id(),
            Output::new(built.topics[topic.id].0.arn()),
        );
    }
    for w in WORKFLOWS {
        t.output(
            &Target::Workflow(w).output_id(),
            Output::new(built.workflows[w.id].arn()),
        );
    }
    t
}

/// The parameters deploy fills in.
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

/// The handles of what has been added so far, by declaration id (functions: by name).
#[derive(Default)]
struct Built {
    tables: BTreeMap<&'static str, Handle<Table>>,
    queues: BTreeMap<&'static str, Handle<Queue>>,
    topics: BTreeMap<&'static str, (Handle<Topic>, Handle<Key>)>,
    secrets: BTreeMap<&'static str, Handle<GeneratedSecret>>,
    workflows: BTreeMap<&'static str, Handle<StateMachine>>,
    functions: BTreeMap<&'static str, Handle<Function>>,
}

/// What happens to data (tables, queues) when the stack deletes or replaces its resource. Their
/// names are generated, so a retained one never blocks a later create.
fn data_policy(s: &Settings) -> Policy {
    if s.retain_data {
        Policy::Retain
    } else {
        Policy::Delete
    }
}

/// What happens to a log group, whose name is fixed (`/aws/lambda/<stack>-<function>`): kept
/// when the stack deletes it in an environment that retains data, but deleted when its own
/// creation rolls back, so that a failed first deploy leaves nothing to collide with.
fn log_policy(s: &Settings) -> Policy {
    if s.retain_data {
        Policy::RetainExceptOnCreate
    } else {
        Policy::Delete
    }
}

/// `OrdersTable` → `Orders`: a logical id without its
/// kind, for statement ids.
fn stem<'a>(id: &'a str, kind: &str) -> &'a str {
    id.strip_suffix(kind).unwrap_or(id)
}
