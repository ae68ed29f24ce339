//! What holds the system's data and messages: tables, queues, topics, secrets and workflows.
//!
//! Each is declared once as a `static` of a typed wrapper (`Table<OrderRecord>`,
//! `Queue<OrderReserved>`), whose type parameter is what the resource holds: a binding to it
//! gives the handler a value of the same type (`TableName<OrderRecord>`), so a handler that
//! writes the wrong record or sends the wrong message does not compile. The untyped part
//! (`TableSpec`, `QueueSpec`, ...) is what synthesis and the local cloud walk.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use super::function::{Access, Bind, QueueUrl, SecretArn, StateMachineArn, TableName, TopicArn};
use super::screaming_snake;
use crate::aws::dynamodb::{Key, StreamView};
use crate::aws::stepfunctions::Definition;

/// What happens to a table's data when the stack deletes or replaces the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Business data: point-in-time recovery, retention and deletion protection follow the
    /// environment's settings (kept in prod).
    Durable,
    /// Records that expire on their own (TTL): never retained, no point-in-time recovery.
    Ephemeral,
}

/// Which attributes an index copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexProjection {
    All,
    KeysOnly,
}

/// A global secondary index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub partition: Key,
    pub sort: Option<Key>,
    pub projection: IndexProjection,
}

/// A DynamoDB table, untyped: what synthesis and the local cloud read.
///
/// Defaults ([`TableSpec::new`]): no sort key, no index, no stream, no TTL, durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableSpec {
    /// The logical id (`OrdersTable`); the stem of its variable and output names.
    pub id: &'static str,
    pub partition: Key,
    pub sort: Option<Key>,
    pub indexes: &'static [Index],
    pub stream: Option<StreamView>,
    /// The attribute holding the epoch second after which DynamoDB deletes an item.
    pub ttl: Option<&'static str>,
    pub lifecycle: Lifecycle,
}

impl TableSpec {
    pub const fn new(id: &'static str, partition: Key) -> TableSpec {
        TableSpec {
            id,
            partition,
            sort: None,
            indexes: &[],
            stream: None,
            ttl: None,
            lifecycle: Lifecycle::Durable,
        }
    }

    /// The index with this name.
    pub fn index(&self, name: &str) -> Option<&'static Index> {
        self.indexes.iter().find(|i| i.name == name)
    }
}

/// A table whose items are records of type `R`.
pub struct Table<R: 'static> {
    pub spec: TableSpec,
    record: PhantomData<fn() -> R>,
}

impl<R> Table<R> {
    pub const fn new(spec: TableSpec) -> Table<R> {
        Table {
            spec,
            record: PhantomData,
        }
    }

    const fn bind(&'static self, access: Access) -> Bind<TableName<R>> {
        Bind::new(Target::Table(&self.spec), access)
    }
    /// Get, query and scan the table and its indexes.
    pub const fn read(&'static self) -> Bind<TableName<R>> {
        self.bind(Access::TableRead)
    }
    /// Put, update and delete items, conditions included.
    pub const fn write(&'static self) -> Bind<TableName<R>> {
        self.bind(Access::TableWrite)
    }
    pub const fn read_write(&'static self) -> Bind<TableName<R>> {
        self.bind(Access::TableReadWrite)
    }
    /// `DescribeTable` only (health checks).
    pub const fn describe(&'static self) -> Bind<TableName<R>> {
        self.bind(Access::TableDescribe)
    }
}

/// What a queue is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueKind {
    /// Work for a consumer; failed messages come back, then go to its dead letters.
    Work,
    /// Messages that failed every retry: kept as long as SQS keeps anything (14 days), and an
    /// alarm fires as soon as one arrives.
    DeadLetters,
}

/// Where a work queue's messages go after too many receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub queue: &'static QueueSpec,
    pub max_receives: u32,
}

/// An SQS queue, untyped.
///
/// Defaults ([`QueueSpec::work`], [`QueueSpec::dead_letters`]): encrypted with
/// `alias/aws/sqs`; a work queue's visibility timeout is six times its consumer's timeout, as
/// AWS recommends for queues read by Lambda.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSpec {
    /// The logical id (`OrderEventsQueue`).
    pub id: &'static str,
    /// A short name for alarms and dashboards (`order-events`).
    pub name: &'static str,
    pub kind: QueueKind,
    /// Long polling: how long a receive waits for a message.
    pub receive_wait: Duration,
    pub dead_letter: Option<DeadLetter>,
}

impl QueueSpec {
    pub const fn work(id: &'static str, name: &'static str) -> QueueSpec {
        QueueSpec {
            id,
            name,
            kind: QueueKind::Work,
            receive_wait: Duration::ZERO,
            dead_letter: None,
        }
    }

    pub const fn dead_letters(id: &'static str, name: &'static str) -> QueueSpec {
        QueueSpec {
            kind: QueueKind::DeadLetters,
            ..QueueSpec::work(id, name)
        }
    }
}

/// A queue whose messages are of type `M`.
pub struct Queue<M: 'static> {
    pub spec: QueueSpec,
    message: PhantomData<fn() -> M>,
}

impl<M> Queue<M> {
    pub const fn new(spec: QueueSpec) -> Queue<M> {
        Queue {
            spec,
            message: PhantomData,
        }
    }

    pub const fn send(&'static self) -> Bind<QueueUrl<M>> {
        Bind::new(Target::Queue(&self.spec), Access::QueueSend)
    }
    /// `GetQueueAttributes` only (health checks).
    pub const fn describe(&'static self) -> Bind<QueueUrl<M>> {
        Bind::new(Target::Queue(&self.spec), Access::QueueDescribe)
    }
}

/// An SNS topic, untyped. Always encrypted with a customer-managed KMS key of its own (an
/// AWS-managed key cannot be used by the AWS services that publish to topics, such as
/// CloudWatch), and its policy refuses publishing over plain HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    /// The logical id (`AlarmTopic`).
    pub id: &'static str,
    /// A short name (`alarms`): the key's alias and the display name end with it.
    pub name: &'static str,
    /// What it carries, for descriptions ("alarm notifications").
    pub purpose: &'static str,
    /// AWS services that publish to it, with a name for statement ids
    /// (`("cloudwatch.amazonaws.com", "CloudWatch")`): the key and the topic's policy let them,
    /// from this account only.
    pub service_publishers: &'static [(&'static str, &'static str)],
}

/// A topic whose messages are of type `M`.
pub struct Topic<M: 'static> {
    pub spec: TopicSpec,
    message: PhantomData<fn() -> M>,
}

impl<M> Topic<M> {
    pub const fn new(spec: TopicSpec) -> Topic<M> {
        Topic {
            spec,
            message: PhantomData,
        }
    }

    pub const fn publish(&'static self) -> Bind<TopicArn<M>> {
        Bind::new(Target::Topic(&self.spec), Access::TopicPublish)
    }
}

/// A Secrets Manager secret whose value CloudFormation generates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Secret {
    /// The logical id (`PaginationKeySecret`).
    pub id: &'static str,
    pub description: &'static str,
    /// Characters of the generated value.
    pub length: u32,
}

impl Secret {
    pub const fn read(&'static self) -> Bind<SecretArn> {
        Bind::new(Target::Secret(self), Access::SecretRead)
    }
}

/// A Step Functions state machine, untyped.
#[derive(Clone, Copy, Debug)]
pub struct WorkflowSpec {
    /// The logical id (`OrderWorkflow`).
    pub id: &'static str,
    /// The deployed name's suffix (`order-workflow`: `<stack>-order-workflow`).
    pub name: &'static str,
    /// The typed definition, emitted as ASL and run by the local executor.
    pub definition: fn() -> Definition,
}

impl WorkflowSpec {
    /// Its execution log group's logical id (`OrderWorkflowLogGroup`).
    pub fn log_group_id(&self) -> String {
        format!("{}LogGroup", self.id)
    }
}

impl PartialEq for WorkflowSpec {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

/// A workflow whose executions take an input of type `I`.
pub struct Workflow<I: 'static> {
    pub spec: WorkflowSpec,
    input: PhantomData<fn() -> I>,
}

impl<I> Workflow<I> {
    pub const fn new(spec: WorkflowSpec) -> Workflow<I> {
        Workflow {
            spec,
            input: PhantomData,
        }
    }

    pub const fn start(&'static self) -> Bind<StateMachineArn<I>> {
        Bind::new(Target::Workflow(&self.spec), Access::WorkflowStart)
    }
}

/// The resource a binding names.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    Table(&'static TableSpec),
    Queue(&'static QueueSpec),
    Topic(&'static TopicSpec),
    Secret(&'static Secret),
    Workflow(&'static WorkflowSpec),
}

impl Target {
    /// The logical id of the resource.
    pub fn id(&self) -> &'static str {
        match self {
            Target::Table(t) => t.id,
            Target::Queue(q) => q.id,
            Target::Topic(t) => t.id,
            Target::Secret(s) => s.id,
            Target::Workflow(w) => w.id,
        }
    }

    /// What the binding's variable carries: `NAME`, `URL` or `ARN`.
    fn carried(&self) -> &'static str {
        match self {
            Target::Table(_) => "Name",
            Target::Queue(_) => "Url",
            Target::Topic(_) | Target::Secret(_) | Target::Workflow(_) => "Arn",
        }
    }

    /// The environment variable that carries the resource to a function that binds it:
    /// `ORDERS_TABLE_NAME`, `ORDER_EVENTS_QUEUE_URL`, `ORDER_WORKFLOW_ARN`.
    pub fn env_var(&self) -> String {
        format!(
            "{}_{}",
            screaming_snake(self.id()),
            self.carried().to_ascii_uppercase()
        )
    }

    /// The stack output that carries the same value: `OrdersTableName`, `OrderEventsQueueUrl`.
    pub fn output_id(&self) -> String {
        format!("{}{}", self.id(), self.carried())
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other) && self.id() == other.id()
    }
}

impl Eq for Target {}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static ORDERS: Table<()> = Table::new(TableSpec::new("OrdersTable", Key::string("orderId")));
    static EVENTS: Queue<()> = Queue::new(QueueSpec::work("OrderEventsQueue", "order-events"));
    static KEY: Secret = Secret {
        id: "PaginationKeySecret",
        description: "signs tokens",
        length: 64,
    };

    #[test]
    fn names_follow_from_the_id_and_the_kind() {
        let t = Target::Table(&ORDERS.spec);
        assert_eq!(t.env_var(), "ORDERS_TABLE_NAME");
        assert_eq!(t.output_id(), "OrdersTableName");
        let q = Target::Queue(&EVENTS.spec);
        assert_eq!(q.env_var(), "ORDER_EVENTS_QUEUE_URL");
        assert_eq!(q.output_id(), "OrderEventsQueueUrl");
        assert_eq!(Target::Secret(&KEY).env_var(), "PAGINATION_KEY_SECRET_ARN");
    }

    #[test]
    fn a_table_defaults_to_durable_with_no_stream_and_no_ttl() {
        let t = TableSpec::new("T", Key::string("k"));
        assert_eq!(t.lifecycle, Lifecycle::Durable);
        assert!(t.stream.is_none() && t.ttl.is_none() && t.indexes.is_empty() && t.sort.is_none());
        let q = QueueSpec::work("Q", "q");
        assert_eq!(q.kind, QueueKind::Work);
        assert!(q.dead_letter.is_none());
        assert_eq!(QueueSpec::dead_letters("D", "d").kind, QueueKind::DeadLetters);
    }

    #[test]
    fn bindings_name_their_target_and_access() {
        static B: Bind<TableName<()>> = ORDERS.read();
        assert_eq!(B.binding.target, Target::Table(&ORDERS.spec));
        assert_eq!(B.binding.access, Access::TableRead);
        assert_eq!(EVENTS.send().binding.access, Access::QueueSend);
        assert_ne!(Target::Table(&ORDERS.spec), Target::Queue(&EVENTS.spec));
    }
}
