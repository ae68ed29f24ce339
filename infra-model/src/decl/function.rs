//! Functions: what each is, what invokes it, what it uses and how big it is.
//!
//! A function's bindings are declared once with [`function_bindings!`](crate::function_bindings),
//! which gives three things that cannot disagree: the least-privilege IAM statement of each
//! binding, the environment variable that carries the resource to the function, and the typed
//! struct the handler reads back at start-up with [`bindings!`](crate::bindings) (which refuses
//! to compile in any crate but the function's own).

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde_json::{Value, json};

use super::data::{QueueSpec, TableSpec, Target};
use crate::aws::lambda::StartingPosition;
use crate::system::env::{Env, Settings};

/// Memory, timeout and reserved concurrency of a function in one environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizing {
    pub memory_mb: u32,
    pub timeout: Duration,
    /// Reserved concurrency where the environment reserves it (see `Settings`).
    pub reserved_concurrency: u32,
}

impl Sizing {
    pub const fn new(memory_mb: u32, timeout_secs: u64, reserved_concurrency: u32) -> Sizing {
        Sizing {
            memory_mb,
            timeout: Duration::from_secs(timeout_secs),
            reserved_concurrency,
        }
    }
}

/// A setting a function reads from its environment besides its bindings: the variable's name
/// and its value in each environment.
#[derive(Clone, Copy)]
pub struct Config {
    pub var: &'static str,
    pub value: fn(Env, &Settings) -> String,
}

impl Config {
    /// The value in the process environment (at start-up), if set.
    pub fn read(&self) -> Option<String> {
        std::env::var(self.var).ok()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.var)
    }
}

impl PartialEq for Config {
    fn eq(&self, other: &Self) -> bool {
        self.var == other.var
    }
}

/// A kind of stream record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamEvent {
    Insert,
    Modify,
    Remove,
}

impl StreamEvent {
    pub const fn name(self) -> &'static str {
        match self {
            StreamEvent::Insert => "INSERT",
            StreamEvent::Modify => "MODIFY",
            StreamEvent::Remove => "REMOVE",
        }
    }
}

/// Which stream records invoke the function (Lambda's event filtering): records of these
/// kinds whose new image has, for each listed string attribute, one of the listed values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamFilter {
    pub events: &'static [StreamEvent],
    pub new_image: &'static [(&'static str, &'static [&'static str])],
}

impl StreamFilter {
    /// New items only.
    pub const INSERTS: StreamFilter = StreamFilter {
        events: &[StreamEvent::Insert],
        new_image: &[],
    };

    /// The EventBridge-style pattern Lambda matches against each record.
    pub fn pattern(&self) -> Value {
        let mut p = json!({"eventName": self.events.iter().map(|e| e.name()).collect::<Vec<_>>()});
        if !self.new_image.is_empty() {
            let image: serde_json::Map<String, Value> = self
                .new_image
                .iter()
                .map(|(attr, values)| ((*attr).to_owned(), json!({ "S": values })))
                .collect();
            p["dynamodb"] = json!({ "NewImage": image });
        }
        p
    }
}

/// Records of a table's stream, in order, per shard.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StreamTrigger {
    pub table: &'static TableSpec,
    /// Only matching records invoke the function; empty: every record.
    pub filters: &'static [StreamFilter],
    pub batch_size: u32,
    /// How long Lambda gathers records before it invokes.
    pub batching_window: Duration,
    pub starting_position: StartingPosition,
    /// Split a failing batch in two and retry each half.
    pub bisect_on_error: bool,
    pub max_retries: u32,
    pub max_record_age: Duration,
    /// Where a record goes after its retries: a dead-letter queue.
    pub on_failure: &'static QueueSpec,
}

impl StreamTrigger {
    /// Every record of `table`'s stream from the oldest kept, in batches of 10 with no wait;
    /// a failing batch split in two and retried, five times at most and for an hour at most;
    /// then the record's description goes to `on_failure`.
    pub const fn new(table: &'static TableSpec, on_failure: &'static QueueSpec) -> StreamTrigger {
        StreamTrigger {
            table,
            filters: &[],
            batch_size: 10,
            batching_window: Duration::ZERO,
            starting_position: StartingPosition::TrimHorizon,
            bisect_on_error: true,
            max_retries: 5,
            max_record_age: Duration::from_secs(3600),
            on_failure,
        }
    }
}

/// Messages of a queue, in batches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueueTrigger {
    pub queue: &'static QueueSpec,
    pub batch_size: u32,
    /// How long Lambda gathers messages before it invokes.
    pub batching_window: Duration,
}

/// What invokes a function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trigger {
    /// API Gateway, for the routes that name the function.
    Api,
    Stream(StreamTrigger),
    Queue(QueueTrigger),
    /// A workflow, as one of its tasks.
    WorkflowTask,
}

/// One Lambda function: one crate under `functions/`, named as [`Function::name`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Function {
    /// The crate and binary name, and the suffix of the deployed function's name.
    pub name: &'static str,
    /// The prefix of its resources' logical ids (`ReserveStock`).
    pub id: &'static str,
    pub description: &'static str,
    pub trigger: Trigger,
    /// From its [`function_bindings!`](crate::function_bindings) declaration.
    pub bindings: &'static [Binding],
    pub config: &'static [&'static Config],
    /// Per environment, in the order of [`Env::ALL`].
    pub sizing: [Sizing; 3],
}

impl Function {
    pub fn sizing(&self, env: Env) -> Sizing {
        self.sizing[env.index()]
    }

    /// Its longest timeout in any environment: how long one of its invocations can run.
    pub fn longest_timeout(&self) -> Duration {
        self.sizing.iter().map(|s| s.timeout).max().unwrap_or_default()
    }

    /// The function resource's logical id (`ReserveStockFunction`).
    pub fn logical_id(&self) -> String {
        format!("{}Function", self.id)
    }

    /// Its log group's logical id (`ReserveStockFunctionLogGroup`).
    pub fn log_group_id(&self) -> String {
        format!("{}FunctionLogGroup", self.id)
    }

    /// The name of the workflow substitution holding its ARN (`PaymentFunctionArn`).
    pub fn arn_var(&self) -> String {
        format!("{}FunctionArn", self.id)
    }

    /// Whether it binds this resource.
    pub fn binds(&self, target: &Target) -> bool {
        self.bindings.iter().any(|b| b.target == *target)
    }
}

/// How a function uses a resource. Each access is one IAM statement of named actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Get, query and scan the table and its indexes.
    TableRead,
    /// Put, update and delete items (conditions included).
    TableWrite,
    TableReadWrite,
    /// `DescribeTable` only (health checks).
    TableDescribe,
    QueueSend,
    /// `GetQueueAttributes` only (health checks).
    QueueDescribe,
    TopicPublish,
    WorkflowStart,
    SecretRead,
}

impl Access {
    pub const ALL: [Access; 9] = [
        Access::TableRead,
        Access::TableWrite,
        Access::TableReadWrite,
        Access::TableDescribe,
        Access::QueueSend,
        Access::QueueDescribe,
        Access::TopicPublish,
        Access::WorkflowStart,
        Access::SecretRead,
    ];

    /// The IAM actions this access allows, sorted.
    pub fn actions(self) -> &'static [&'static str] {
        const READ: &[&str] = &[
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:Scan",
        ];
        const WRITE: &[&str] = &[
            "dynamodb:BatchWriteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ];
        const READ_WRITE: &[&str] = &[
            "dynamodb:BatchGetItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:Scan",
            "dynamodb:UpdateItem",
        ];
        match self {
            Access::TableRead => READ,
            Access::TableWrite => WRITE,
            Access::TableReadWrite => READ_WRITE,
            Access::TableDescribe => &["dynamodb:DescribeTable"],
            Access::QueueSend => &["sqs:SendMessage"],
            Access::QueueDescribe => &["sqs:GetQueueAttributes"],
            Access::TopicPublish => &["kms:Decrypt", "kms:GenerateDataKey", "sns:Publish"],
            Access::WorkflowStart => &["states:StartExecution"],
            Access::SecretRead => &["secretsmanager:GetSecretValue"],
        }
    }

    /// Whether the statement also covers the table's indexes.
    pub fn covers_indexes(self) -> bool {
        matches!(self, Access::TableRead | Access::TableReadWrite)
    }
}

/// One resource a function uses, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    pub target: Target,
    pub access: Access,
}

impl Binding {
    /// A readable IAM statement id (`TableReadWriteOrdersTable`).
    pub fn sid(&self) -> String {
        format!("{:?}{}", self.access, self.target.id())
    }
}

/// A binding, typed by the value the handler reads from it.
pub struct Bind<V> {
    pub binding: Binding,
    value: PhantomData<fn() -> V>,
}

impl<V> Bind<V> {
    pub const fn new(target: Target, access: Access) -> Bind<V> {
        Bind {
            binding: Binding { target, access },
            value: PhantomData,
        }
    }
}

/// A binding the handler could not read back at start-up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    #[error(
        "environment variable {var} is not set: the function is not deployed with its binding to {resource} \
         (deploy with `cargo xtask deploy`, or run it locally with `cargo xtask dev`)"
    )]
    Missing { var: String, resource: &'static str },
    #[error("environment variable {var} is empty: the binding to {resource} has no value")]
    Empty { var: String, resource: &'static str },
}

/// A typed value read from a binding's environment variable.
pub trait BoundValue: Sized {
    fn from_value(value: String) -> Self;

    /// Reads the binding's variable through `lookup` (the process environment at start-up).
    fn read(target: &Target, lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, BindingError> {
        let var = target.env_var();
        match lookup(&var) {
            None => Err(BindingError::Missing {
                var,
                resource: target.id(),
            }),
            Some(v) if v.trim().is_empty() => Err(BindingError::Empty {
                var,
                resource: target.id(),
            }),
            Some(v) => Ok(Self::from_value(v)),
        }
    }
}

macro_rules! bound_value {
    ($(#[$m:meta])* $name:ident $(<$p:ident>)?) => {
        $(#[$m])*
        pub struct $name $(<$p: 'static = ()>)? {
            value: String,
            $(kind: PhantomData<fn() -> $p>,)?
        }

        impl $(<$p>)? $name $(<$p>)? {
            pub fn as_str(&self) -> &str {
                &self.value
            }
        }

        impl $(<$p>)? BoundValue for $name $(<$p>)? {
            fn from_value(value: String) -> Self {
                $name { value, $(kind: PhantomData::<fn() -> $p>,)? }
            }
        }

        impl $(<$p>)? Clone for $name $(<$p>)? {
            fn clone(&self) -> Self {
                Self::from_value(self.value.clone())
            }
        }

        impl $(<$p>)? PartialEq for $name $(<$p>)? {
            fn eq(&self, other: &Self) -> bool {
                self.value == other.value
            }
        }

        impl $(<$p>)? Eq for $name $(<$p>)? {}

        impl $(<$p>)? fmt::Debug for $name $(<$p>)? {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.value)
            }
        }

        impl $(<$p>)? fmt::Display for $name $(<$p>)? {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.value)
            }
        }

        impl $(<$p>)? AsRef<str> for $name $(<$p>)? {
            fn as_ref(&self) -> &str {
                &self.value
            }
        }
    };
}

bound_value!(
    /// The name of a bound table whose items are `R`.
    TableName<R>
);
bound_value!(
    /// The URL of a bound queue of `M` messages.
    QueueUrl<M>
);
bound_value!(
    /// The ARN of a bound topic of `M` messages.
    TopicArn<M>
);
bound_value!(
    /// The ARN of a bound state machine whose executions take `I`.
    StateMachineArn<I>
);
bound_value!(
    /// The ARN of a bound secret.
    SecretArn
);

/// The typed bindings of one function, generated by
/// [`function_bindings!`](crate::function_bindings).
pub trait FunctionBindings: Sized {
    /// The function these bindings belong to.
    const FUNCTION: &'static Function;
    /// What the function binds, in declaration order.
    const BINDINGS: &'static [Binding];

    /// Reads every binding through `lookup`; fails on the first one missing. Handlers use
    /// [`bindings!`](crate::bindings), which reads the process environment and checks at
    /// compile time that the crate is the function's own; tests call this with a map.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, BindingError>;
}

/// Declares a function's bindings: `field: Type = RESOURCE.access()`. Generates the struct the
/// handler reads and its [`FunctionBindings`] implementation, whose `BINDINGS` synthesis turns
/// into IAM statements and environment variables. A field type that does not fit the
/// resource's kind or content (`TableName<OrderRecord>` for the orders table) fails to
/// compile.
#[macro_export]
macro_rules! function_bindings {
    ($(#[$m:meta])* pub struct $name:ident for $function:ident {
        $($field:ident : $ty:ty = $bind:expr),* $(,)?
    }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            $(pub $field: $ty,)*
        }

        impl $crate::decl::FunctionBindings for $name {
            const FUNCTION: &'static $crate::decl::Function = &$function;
            const BINDINGS: &'static [$crate::decl::Binding] = &[
                $({
                    const B: $crate::decl::Bind<$ty> = $bind;
                    B.binding
                },)*
            ];

            fn from_lookup(
                lookup: impl Fn(&str) -> Option<String>,
            ) -> Result<Self, $crate::decl::BindingError> {
                use $crate::decl::BoundValue as _;
                Ok($name {
                    $($field: <$ty>::read(
                        &{
                            const B: $crate::decl::Bind<$ty> = $bind;
                            B.binding.target
                        },
                        &lookup,
                    )?,)*
                })
            }
        }
    };
}

/// A function's bindings from the process environment, at start-up:
/// `let b = infra_model::bindings!(ReserveStockBindings)?;`. Compiles only in the crate of the
/// function the bindings belong to: reading another function's bindings is a compile error.
///
/// This example is compiled as the crate `infra-model`, which is no function's crate, so it
/// must fail with the constant-evaluation error (E0080) the check raises:
///
/// ```compile_fail,E0080
/// let _ = infra_model::bindings!(infra_model::system::functions::PaymentBindings);
/// ```
#[macro_export]
macro_rules! bindings {
    ($b:ty) => {{
        const _: () = assert!(
            $crate::decl::str_eq(
                <$b as $crate::decl::FunctionBindings>::FUNCTION.name,
                env!("CARGO_PKG_NAME")
            ),
            concat!(
                "these bindings belong to another function: the crate `",
                env!("CARGO_PKG_NAME"),
                "` may read only its own function's bindings"
            )
        );
        <$b as $crate::decl::FunctionBindings>::from_lookup(|k| ::std::env::var(k).ok())
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_access_names_sorted_actions_without_wildcards() {
        for a in Access::ALL {
            assert!(!a.actions().is_empty());
            assert!(a.actions().iter().all(|x| !x.contains('*')), "{a:?}");
            assert!(
                a.actions().windows(2).all(|w| w[0] < w[1]),
                "{a:?} actions are sorted and unique"
            );
        }
    }

    #[test]
    fn the_longest_timeout_is_that_of_any_environment() {
        let f = Function {
            name: "f",
            id: "F",
            description: "",
            trigger: Trigger::Api,
            bindings: &[],
            config: &[],
            sizing: [
                Sizing::new(128, 3, 1),
                Sizing::new(128, 20, 1),
                Sizing::new(128, 9, 1),
            ],
        };
        assert_eq!(f.longest_timeout(), Duration::from_secs(20));
    }

    #[test]
    fn filters_are_lambda_patterns() {
        assert_eq!(
            StreamFilter::INSERTS.pattern().to_string(),
            r#"{"eventName":["INSERT"]}"#
        );
        let f = StreamFilter {
            events: &[StreamEvent::Modify],
            new_image: &[("status", &["SHIPPED", "FAILED"])],
        };
        assert_eq!(
            f.pattern(),
            json!({"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"status": {"S": ["SHIPPED", "FAILED"]}}}})
        );
    }
}
