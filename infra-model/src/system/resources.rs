//! The order system's tables, queues, topics, secret and workflow: each declared once.

use std::time::Duration;

use serde_json::Value;

use super::workflow;
use crate::aws::dynamodb::StreamView;
use crate::contract::messages::{CustomerNotification, OrderReserved, WorkflowInput};
use crate::contract::tables::businesses::{self, BusinessRecord};
use crate::contract::tables::idempotency::{self, IdempotencyRecord};
use crate::contract::tables::inventory::{self, ProductRecord};
use crate::contract::tables::orders::{self, OrderRecord};
use crate::decl::{
    DeadLetter, Index, IndexProjection, Lifecycle, Queue, QueueSpec, Secret, Table, TableSpec, Topic,
    TopicSpec, Workflow, WorkflowSpec,
};

/// Orders, with their status history. Its stream (new and old images) drives reservation.
pub static ORDERS: Table<OrderRecord> = Table::new(TableSpec {
    // Both indexes sort by creation time; the status index is sharded (see `tables::orders`).
    indexes: &[
        Index {
            name: orders::BY_STATUS,
            partition: orders::STATUS_SHARD,
            sort: Some(orders::CREATED_AT),
            projection: IndexProjection::All,
        },
        Index {
            name: orders::BY_CUSTOMER,
            partition: orders::CUSTOMER_EMAIL,
            sort: Some(orders::CREATED_AT),
            projection: IndexProjection::All,
        },
    ],
    stream: Some(StreamView::NewAndOldImages),
    ..TableSpec::new("OrdersTable", orders::ORDER_ID)
});

/// Products: stock and price per SKU.
pub static INVENTORY: Table<ProductRecord> = Table::new(TableSpec::new("InventoryTable", inventory::SKU));

/// Registered businesses, and one e-mail claim item per business.
pub static BUSINESSES: Table<BusinessRecord> =
    Table::new(TableSpec::new("BusinessesTable", businesses::BUSINESS_ID));

/// Requests and messages seen once; the records expire after a day.
pub static IDEMPOTENCY: Table<IdempotencyRecord> = Table::new(TableSpec {
    ttl: Some(idempotency::EXPIRES_AT),
    // Idempotency records live a day: nothing to recover, nothing to retain.
    lifecycle: Lifecycle::Ephemeral,
    ..TableSpec::new("IdempotencyTable", idempotency::KEY)
});

/// How many times a message is received before it goes to the dead-letter queue.
pub const MAX_RECEIVES: u32 = 3;

/// Reserved orders whose workflow could not be started, after [`MAX_RECEIVES`] receives.
pub static ORDER_EVENTS_DLQ: Queue<OrderReserved> = Queue::new(QueueSpec::dead_letters(
    "OrderEventsDeadLetterQueue",
    "order-events-dlq",
));

/// Reserved orders, on their way to the workflow.
pub static ORDER_EVENTS: Queue<OrderReserved> = Queue::new(QueueSpec {
    receive_wait: Duration::from_secs(20),
    dead_letter: Some(DeadLetter {
        queue: &ORDER_EVENTS_DLQ.spec,
        max_receives: MAX_RECEIVES,
    }),
    ..QueueSpec::work("OrderEventsQueue", "order-events")
});

/// Stream records that failed reservation after every retry (Lambda's failure records: the
/// shard and sequence numbers of the batch, to re-read from the stream).
pub static RESERVATION_FAILURES: Queue<Value> = Queue::new(QueueSpec::dead_letters(
    "ReservationFailuresQueue",
    "reservation-failures",
));

/// Where the alarms notify (an e-mail subscription when the `AlarmEmail` parameter is set).
pub static ALARMS: Topic<Value> = Topic::new(TopicSpec {
    id: "AlarmTopic",
    name: "alarms",
    purpose: "alarm notifications",
    service_publishers: &[("cloudwatch.amazonaws.com", "CloudWatch")],
});

/// What customers are told when their orders are rejected, shipped or failed; an e-mail or
/// SMS service subscribes to it.
pub static CUSTOMER_NOTIFICATIONS: Topic<CustomerNotification> = Topic::new(TopicSpec {
    id: "CustomerNotificationsTopic",
    name: "customer-notifications",
    purpose: "customer notifications",
    service_publishers: &[],
});

/// Order status changes whose notification could not be published after every retry.
pub static NOTIFICATION_FAILURES: Queue<Value> = Queue::new(QueueSpec::dead_letters(
    "NotificationFailuresQueue",
    "notification-failures",
));

/// The key that signs the API's pagination tokens.
pub static PAGINATION_KEY: Secret = Secret {
    id: "PaginationKeySecret",
    description: "HMAC key that signs the API's pagination tokens",
    length: 64,
};

/// Payment, shipping, and compensation when either fails.
pub static ORDER_WORKFLOW: Workflow<WorkflowInput> = Workflow::new(WorkflowSpec {
    id: "OrderWorkflow",
    name: "order-workflow",
    definition: workflow::definition,
});
