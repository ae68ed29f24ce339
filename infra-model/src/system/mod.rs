//! The order system, built from the typed resources, once per environment.

mod env;

use std::time::Duration;

pub use env::{Env, Settings, UnknownEnv};

use crate::aws::dynamodb::{GlobalIndex, Projection, StreamView, Table};
use crate::aws::sqs::Queue;
use crate::cfn::{Expr, Options, Output, Policy, SynthError, Synthesized, Tag, Template};
use crate::contract::tables::orders as orders_table;

/// The application's name: stacks are `<APP>-<env>`.
pub const APP: &str = "orders";

/// The CloudFormation stack name of an environment.
pub fn stack_name(env: Env) -> String {
    format!("{APP}-{}", env.name())
}

/// The order system's template for one environment.
pub fn template(env: Env) -> Template {
    let settings = env.settings();
    let mut t = Template::new(format!(
        "Order processing backend ({}), synthesized by infra-model. Do not edit: run `cargo xtask synth`.",
        env.name()
    ));
    let data_policy = if settings.retain_data {
        Policy::Retain
    } else {
        Policy::Delete
    };
    let tags = |component: &str| {
        vec![
            Tag::new("app", APP),
            Tag::new("component", component),
            Tag::new("environment", env.name()),
        ]
    };

    let mut orders = Table::new(orders_table::ORDER_ID);
    orders.indexes = vec![
        GlobalIndex {
            name: orders_table::BY_STATUS,
            partition: orders_table::STATUS_SHARD,
            sort: Some(orders_table::CREATED_AT),
            projection: Projection::All,
        },
        GlobalIndex {
            name: orders_table::BY_CUSTOMER,
            partition: orders_table::CUSTOMER_EMAIL,
            sort: Some(orders_table::CREATED_AT),
            projection: Projection::All,
        },
    ];
    orders.stream = Some(StreamView::NewAndOldImages);
    orders.point_in_time_recovery = settings.point_in_time_recovery;
    orders.tags = tags("orders");
    let orders = t.add_with("OrdersTable", orders, Options::new().policy(data_policy));

    let events_dlq = t.add_with(
        "OrderEventsDeadLetterQueue",
        Queue {
            retention: crate::aws::sqs::MAX_RETENTION,
            tags: tags("order-events"),
            ..Queue::new()
        },
        Options::new().policy(data_policy),
    );
    let events = t.add_with(
        "OrderEventsQueue",
        Queue {
            visibility_timeout: Duration::from_secs(180),
            receive_wait: Duration::from_secs(20),
            tags: tags("order-events"),
            ..Queue::new().dead_letter_to(&events_dlq, 3)
        },
        Options::new().policy(data_policy),
    );

    t.output(
        "OrdersTableName",
        Output::new(orders.name())
            .description("The orders table")
            .export(Expr::sub("${AWS::StackName}-OrdersTable")),
    );
    t.output(
        "OrderEventsQueueUrl",
        Output::new(events.url()).description("The order-events queue"),
    );
    t.output(
        "OrderEventsDeadLetterQueueUrl",
        Output::new(events_dlq.url()).description("The order-events dead-letter queue"),
    );
    t
}

/// Synthesizes the template of one environment.
pub fn synth(env: Env) -> Result<Synthesized, SynthError> {
    template(env).synth()
}
