//! Bindings: what each function uses, and how.
//!
//! One declaration per function (with [`function_bindings!`]) gives three things that cannot
//! disagree: the least-privilege IAM statement of each binding, the environment variable that
//! carries the resource's name to the function, and the typed struct the handler reads back at
//! start-up. A handler has no field for a resource its function did not bind, so reading one is
//! a compile error.

use std::fmt;

/// The resources of the system a function can bind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SystemResource {
    OrdersTable,
    InventoryTable,
    BusinessesTable,
    IdempotencyTable,
    OrderEventsQueue,
    OrderWorkflow,
    PaginationKey,
}

/// What kind of value a binding carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A table name.
    Table,
    /// A queue URL.
    Queue,
    /// A state machine ARN.
    StateMachine,
    /// A Secrets Manager secret ARN.
    Secret,
}

impl SystemResource {
    pub const ALL: [SystemResource; 7] = [
        SystemResource::OrdersTable,
        SystemResource::InventoryTable,
        SystemResource::BusinessesTable,
        SystemResource::IdempotencyTable,
        SystemResource::OrderEventsQueue,
        SystemResource::OrderWorkflow,
        SystemResource::PaginationKey,
    ];

    /// The environment variable that carries the resource to a function that binds it.
    pub const fn env_var(self) -> &'static str {
        match self {
            SystemResource::OrdersTable => "ORDERS_TABLE_NAME",
            SystemResource::InventoryTable => "INVENTORY_TABLE_NAME",
            SystemResource::BusinessesTable => "BUSINESSES_TABLE_NAME",
            SystemResource::IdempotencyTable => "IDEMPOTENCY_TABLE_NAME",
            SystemResource::OrderEventsQueue => "ORDER_EVENTS_QUEUE_URL",
            SystemResource::OrderWorkflow => "ORDER_WORKFLOW_ARN",
            SystemResource::PaginationKey => "PAGINATION_KEY_SECRET_ARN",
        }
    }

    pub const fn kind(self) -> Kind {
        match self {
            SystemResource::OrdersTable
            | SystemResource::InventoryTable
            | SystemResource::BusinessesTable
            | SystemResource::IdempotencyTable => Kind::Table,
            SystemResource::OrderEventsQueue => Kind::Queue,
            SystemResource::OrderWorkflow => Kind::StateMachine,
            SystemResource::PaginationKey => Kind::Secret,
        }
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
    WorkflowStart,
    SecretRead,
}

impl Access {
    /// The kind of resource this access applies to.
    pub const fn kind(self) -> Kind {
        match self {
            Access::TableRead | Access::TableWrite | Access::TableReadWrite | Access::TableDescribe => {
                Kind::Table
            }
            Access::QueueSend | Access::QueueDescribe => Kind::Queue,
            Access::WorkflowStart => Kind::StateMachine,
            Access::SecretRead => Kind::Secret,
        }
    }

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
    pub resource: SystemResource,
    pub access: Access,
}

/// A binding the handler could not read back at start-up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    #[error(
        "environment variable {var} is not set: the function is not deployed with its binding to {resource:?} \
         (deploy with `cargo xtask deploy`, or run it locally with `cargo xtask dev`)"
    )]
    Missing {
        var: &'static str,
        resource: SystemResource,
    },
    #[error("environment variable {var} is empty: the binding to {resource:?} has no value")]
    Empty {
        var: &'static str,
        resource: SystemResource,
    },
}

/// A typed value read from a binding's environment variable.
pub trait BoundValue: Sized {
    const KIND: Kind;
    fn from_value(value: String) -> Self;

    /// Reads the binding's variable through `lookup` (the process environment at start-up).
    fn read(
        resource: SystemResource,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, BindingError> {
        let var = resource.env_var();
        match lookup(var) {
            None => Err(BindingError::Missing { var, resource }),
            Some(v) if v.trim().is_empty() => Err(BindingError::Empty { var, resource }),
            Some(v) => Ok(Self::from_value(v)),
        }
    }
}

macro_rules! bound_value {
    ($(#[$m:meta])* $name:ident, $kind:ident) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl BoundValue for $name {
            const KIND: Kind = Kind::$kind;
            fn from_value(value: String) -> Self {
                $name(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

bound_value!(
    /// The name of a bound table.
    TableName,
    Table
);
bound_value!(
    /// The URL of a bound queue.
    QueueUrl,
    Queue
);
bound_value!(
    /// The ARN of a bound state machine.
    StateMachineArn,
    StateMachine
);
bound_value!(
    /// The ARN of a bound secret.
    SecretArn,
    Secret
);

/// Declares a function's bindings: `field: Type = Resource.Access`. Generates the struct the
/// handler reads (`from_env`), and `BINDINGS`, which synthesis turns into IAM statements and
/// environment variables. A type that does not fit the resource, or an access that does not
/// fit it, fails to compile.
#[macro_export]
macro_rules! function_bindings {
    ($(#[$m:meta])* $name:ident { $($field:ident : $ty:ident = $res:ident . $access:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            $(pub $field: $crate::system::bindings::$ty,)*
        }

        impl $name {
            /// What the function binds, in declaration order.
            pub const BINDINGS: &'static [$crate::system::bindings::Binding] = &[
                $($crate::system::bindings::Binding {
                    resource: $crate::system::bindings::SystemResource::$res,
                    access: $crate::system::bindings::Access::$access,
                },)*
            ];

            /// Reads every binding through `lookup`; fails on the first one missing.
            pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, $crate::system::bindings::BindingError> {
                use $crate::system::bindings::BoundValue as _;
                Ok($name {
                    $($field: $crate::system::bindings::$ty::read(
                        $crate::system::bindings::SystemResource::$res,
                        &lookup,
                    )?,)*
                })
            }

            /// Reads every binding from the process environment (at start-up).
            pub fn from_env() -> Result<Self, $crate::system::bindings::BindingError> {
                Self::from_lookup(|k| std::env::var(k).ok())
            }
        }

        const _: () = {
            $(
                assert!(
                    <$crate::system::bindings::$ty as $crate::system::bindings::BoundValue>::KIND as u8
                        == $crate::system::bindings::SystemResource::$res.kind() as u8,
                    concat!(stringify!($name), ".", stringify!($field), ": the type does not fit the resource")
                );
                assert!(
                    $crate::system::bindings::Access::$access.kind() as u8
                        == $crate::system::bindings::SystemResource::$res.kind() as u8,
                    concat!(stringify!($name), ".", stringify!($field), ": the access does not fit the resource")
                );
            )*
        };
    };
}

function_bindings!(
    /// `health`: checks that every table and the queue answer.
    HealthBindings {
        orders: TableName = OrdersTable.TableDescribe,
        inventory: TableName = InventoryTable.TableDescribe,
        businesses: TableName = BusinessesTable.TableDescribe,
        idempotency: TableName = IdempotencyTable.TableDescribe,
        order_events: QueueUrl = OrderEventsQueue.QueueDescribe,
    }
);

function_bindings!(
    /// `orders-api`: takes, reads and lists orders.
    OrdersApiBindings {
        orders: TableName = OrdersTable.TableReadWrite,
        inventory: TableName = InventoryTable.TableRead,
        idempotency: TableName = IdempotencyTable.TableReadWrite,
        pagination_key: SecretArn = PaginationKey.SecretRead,
    }
);

function_bindings!(
    /// `inventory-api`: manages the products and their stock.
    InventoryApiBindings {
        inventory: TableName = InventoryTable.TableReadWrite,
        pagination_key: SecretArn = PaginationKey.SecretRead,
    }
);

function_bindings!(
    /// `business-api`: registers businesses.
    BusinessApiBindings {
        businesses: TableName = BusinessesTable.TableReadWrite,
    }
);

function_bindings!(
    /// `reserve-stock`: reserves stock for new orders (from the orders stream) and hands
    /// reserved orders to the queue.
    ReserveStockBindings {
        orders: TableName = OrdersTable.TableReadWrite,
        inventory: TableName = InventoryTable.TableReadWrite,
        order_events: QueueUrl = OrderEventsQueue.QueueSend,
    }
);

function_bindings!(
    /// `start-workflow`: starts the order workflow for each reserved order (from the queue).
    StartWorkflowBindings {
        workflow: StateMachineArn = OrderWorkflow.WorkflowStart,
    }
);

function_bindings!(
    /// `payment`: takes the payment (a workflow task).
    PaymentBindings {
        orders: TableName = OrdersTable.TableReadWrite,
    }
);

function_bindings!(
    /// `shipping`: arranges shipping (a workflow task).
    ShippingBindings {
        orders: TableName = OrdersTable.TableReadWrite,
    }
);

function_bindings!(
    /// `compensation`: releases the stock of a failed order, once, and marks it FAILED.
    CompensationBindings {
        orders: TableName = OrdersTable.TableReadWrite,
        inventory: TableName = InventoryTable.TableReadWrite,
    }
);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn bindings_read_back_from_the_environment_they_declare() {
        let env: BTreeMap<&str, &str> = [
            ("ORDERS_TABLE_NAME", "orders-dev-OrdersTable-1"),
            ("INVENTORY_TABLE_NAME", "inv"),
            ("ORDER_EVENTS_QUEUE_URL", "https://sqs/q"),
        ]
        .into();
        let b = ReserveStockBindings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(b.orders.as_str(), "orders-dev-OrdersTable-1");
        assert_eq!(b.order_events.to_string(), "https://sqs/q");
        assert_eq!(ReserveStockBindings::BINDINGS.len(), 3);
        assert_eq!(ReserveStockBindings::BINDINGS[2].access, Access::QueueSend);
    }

    #[test]
    fn a_missing_or_empty_binding_says_what_to_do() {
        let err = PaymentBindings::from_lookup(|_| None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("environment variable ORDERS_TABLE_NAME is not set")
        );
        assert!(err.to_string().contains("cargo xtask dev"));
        let err = PaymentBindings::from_lookup(|_| Some(" ".into())).unwrap_err();
        assert_eq!(
            err,
            BindingError::Empty {
                var: "ORDERS_TABLE_NAME",
                resource: SystemResource::OrdersTable
            }
        );
    }

    #[test]
    fn every_access_fits_only_its_kind_and_names_actions() {
        for a in [
            Access::TableRead,
            Access::TableWrite,
            Access::TableReadWrite,
            Access::TableDescribe,
            Access::QueueSend,
            Access::QueueDescribe,
            Access::WorkflowStart,
            Access::SecretRead,
        ] {
            assert!(!a.actions().is_empty());
            assert!(a.actions().iter().all(|x| !x.contains('*')), "{a:?}");
            assert!(
                a.actions().windows(2).all(|w| w[0] < w[1]),
                "{a:?} actions are sorted and unique"
            );
        }
        let env_vars: std::collections::BTreeSet<_> =
            SystemResource::ALL.iter().map(|r| r.env_var()).collect();
        assert_eq!(env_vars.len(), SystemResource::ALL.len());
    }
}
