//! The Lambda functions of the system: what each is, what invokes it, what it binds, which
//! settings it reads and how big it is. One crate per function under `functions/`, named as
//! [`Function::name`]; its handler reads its bindings with
//! `infra_model::bindings!(<Name>Bindings)`.

use std::time::Duration;

use super::env::{Env, Settings};
use super::resources::{
    BUSINESSES, CUSTOMER_NOTIFICATIONS, IDEMPOTENCY, INVENTORY, NOTIFICATION_FAILURES, ORDER_EVENTS,
    ORDER_WORKFLOW, ORDERS, PAGINATION_KEY, RESERVATION_FAILURES,
};
use crate::contract::api::OrderStatus;
use crate::contract::messages::{CustomerNotification, OrderReserved, WorkflowInput};
use crate::contract::tables::businesses::BusinessRecord;
use crate::contract::tables::idempotency::IdempotencyRecord;
use crate::contract::tables::inventory::ProductRecord;
use crate::contract::tables::orders;
use crate::contract::tables::orders::OrderRecord;
use crate::decl::{
    Config, Function, FunctionBindings, QueueTrigger, QueueUrl, SecretArn, Sizing, StateMachineArn,
    StreamEvent, StreamFilter, StreamTrigger, TableName, TopicArn, Trigger,
};
use crate::function_bindings;

/// The settings the functions read besides their bindings.
pub mod config {
    use super::{Config, Env, Settings};

    /// `dev`, `staging` or `prod`.
    pub static ENVIRONMENT: Config = Config {
        var: "APP_ENVIRONMENT",
        value: |env: Env, _: &Settings| env.name().to_owned(),
    };
    /// `*` or a comma-separated list of origins.
    pub static CORS_ALLOWED_ORIGINS: Config = Config {
        var: "CORS_ALLOWED_ORIGINS",
        value: |_: Env, s: &Settings| s.cors.to_config(),
    };
    /// Percent of payments the mock gateway declines at random.
    pub static PAYMENT_DECLINE_PERCENT: Config = Config {
        var: "PAYMENT_DECLINE_PERCENT",
        value: |_: Env, s: &Settings| s.payment_failures.decline_percent.to_string(),
    };
    /// Percent of payments for which the mock gateway is unavailable at random.
    pub static PAYMENT_UNAVAILABLE_PERCENT: Config = Config {
        var: "PAYMENT_UNAVAILABLE_PERCENT",
        value: |_: Env, s: &Settings| s.payment_failures.unavailable_percent.to_string(),
    };
}

use config::{CORS_ALLOWED_ORIGINS, ENVIRONMENT, PAYMENT_DECLINE_PERCENT, PAYMENT_UNAVAILABLE_PERCENT};

const API_CONFIG: &[&Config] = &[&ENVIRONMENT, &CORS_ALLOWED_ORIGINS];

pub static HEALTH: Function = Function {
    name: "health",
    id: "Health",
    description: "GET /, /health, /health/detailed and /auth/health",
    trigger: Trigger::Api,
    bindings: <HealthBindings as FunctionBindings>::BINDINGS,
    config: API_CONFIG,
    sizing: [
        Sizing::new(128, 10, 2),
        Sizing::new(128, 10, 2),
        Sizing::new(128, 10, 5),
    ],
};

function_bindings!(
    /// `health`: checks that every table and the queue answer.
    pub struct HealthBindings for HEALTH {
        orders: TableName<OrderRecord> = ORDERS.describe(),
        inventory: TableName<ProductRecord> = INVENTORY.describe(),
        businesses: TableName<BusinessRecord> = BUSINESSES.describe(),
        idempotency: TableName<IdempotencyRecord> = IDEMPOTENCY.describe(),
        order_events: QueueUrl<OrderReserved> = ORDER_EVENTS.describe(),
    }
);

pub static ORDERS_API: Function = Function {
    name: "orders-api",
    id: "OrdersApi",
    description: "POST /orders, GET /orders and GET /orders/{orderId}",
    trigger: Trigger::Api,
    bindings: <OrdersApiBindings as FunctionBindings>::BINDINGS,
    config: API_CONFIG,
    sizing: [
        Sizing::new(256, 10, 10),
        Sizing::new(256, 10, 20),
        Sizing::new(512, 10, 50),
    ],
};

function_bindings!(
    /// `orders-api`: takes, reads and lists orders.
    pub struct OrdersApiBindings for ORDERS_API {
        orders: TableName<OrderRecord> = ORDERS.read_write(),
        inventory: TableName<ProductRecord> = INVENTORY.read(),
        idempotency: TableName<IdempotencyRecord> = IDEMPOTENCY.read_write(),
        pagination_key: SecretArn = PAGINATION_KEY.read(),
    }
);

pub static INVENTORY_API: Function = Function {
    name: "inventory-api",
    id: "InventoryApi",
    description: "PUT /inventory/{sku}, GET /inventory and GET /inventory/{sku}",
    trigger: Trigger::Api,
    bindings: <InventoryApiBindings as FunctionBindings>::BINDINGS,
    config: API_CONFIG,
    sizing: [
        Sizing::new(256, 10, 5),
        Sizing::new(256, 10, 5),
        Sizing::new(256, 10, 10),
    ],
};

function_bindings!(
    /// `inventory-api`: manages the products and their stock.
    pub struct InventoryApiBindings for INVENTORY_API {
        inventory: TableName<ProductRecord> = INVENTORY.read_write(),
        pagination_key: SecretArn = PAGINATION_KEY.read(),
    }
);

pub static BUSINESS_API: Function = Function {
    name: "business-api",
    id: "BusinessApi",
    description: "POST /auth/register-business",
    trigger: Trigger::Api,
    bindings: <BusinessApiBindings as FunctionBindings>::BINDINGS,
    config: API_CONFIG,
    sizing: [
        Sizing::new(256, 10, 5),
        Sizing::new(256, 10, 5),
        Sizing::new(256, 10, 10),
    ],
};

function_bindings!(
    /// `business-api`: registers businesses.
    pub struct BusinessApiBindings for BUSINESS_API {
        businesses: TableName<BusinessRecord> = BUSINESSES.read_write(),
    }
);

pub static RESERVE_STOCK: Function = Function {
    name: "reserve-stock",
    id: "ReserveStock",
    description: "Reserves stock for new orders from the orders stream, atomically, and queues reserved orders",
    trigger: Trigger::Stream(StreamTrigger {
        // Only new orders need stock; status changes do not invoke the function.
        filters: &[StreamFilter::INSERTS],
        ..StreamTrigger::new(&ORDERS.spec, &RESERVATION_FAILURES.spec)
    }),
    bindings: <ReserveStockBindings as FunctionBindings>::BINDINGS,
    config: &[&ENVIRONMENT],
    sizing: [
        Sizing::new(256, 30, 5),
        Sizing::new(256, 30, 5),
        Sizing::new(512, 30, 10),
    ],
};

function_bindings!(
    /// `reserve-stock`: reserves stock for new orders (from the orders stream) and hands
    /// reserved orders to the queue.
    pub struct ReserveStockBindings for RESERVE_STOCK {
        orders: TableName<OrderRecord> = ORDERS.read_write(),
        inventory: TableName<ProductRecord> = INVENTORY.read_write(),
        order_events: QueueUrl<OrderReserved> = ORDER_EVENTS.send(),
    }
);

pub static START_WORKFLOW: Function = Function {
    name: "start-workflow",
    id: "StartWorkflow",
    description: "Starts the order workflow for each reserved order from the order-events queue",
    trigger: Trigger::Queue(QueueTrigger {
        queue: &ORDER_EVENTS.spec,
        batch_size: 10,
        batching_window: Duration::from_secs(1),
    }),
    bindings: <StartWorkflowBindings as FunctionBindings>::BINDINGS,
    config: &[&ENVIRONMENT],
    sizing: [
        Sizing::new(128, 30, 5),
        Sizing::new(128, 30, 5),
        Sizing::new(256, 30, 10),
    ],
};

function_bindings!(
    /// `start-workflow`: starts the order workflow for each reserved order (from the queue).
    pub struct StartWorkflowBindings for START_WORKFLOW {
        workflow: StateMachineArn<WorkflowInput> = ORDER_WORKFLOW.start(),
    }
);

pub static PAYMENT: Function = Function {
    name: "payment",
    id: "Payment",
    description: "Takes an order's payment (workflow task)",
    trigger: Trigger::WorkflowTask,
    bindings: <PaymentBindings as FunctionBindings>::BINDINGS,
    config: &[
        &ENVIRONMENT,
        &PAYMENT_DECLINE_PERCENT,
        &PAYMENT_UNAVAILABLE_PERCENT,
    ],
    sizing: [
        Sizing::new(256, 15, 5),
        Sizing::new(256, 15, 10),
        Sizing::new(256, 15, 20),
    ],
};

function_bindings!(
    /// `payment`: takes the payment (a workflow task).
    pub struct PaymentBindings for PAYMENT {
        orders: TableName<OrderRecord> = ORDERS.read_write(),
    }
);

pub static SHIPPING: Function = Function {
    name: "shipping",
    id: "Shipping",
    description: "Arranges an order's shipping: carrier, tracking number, delivery estimate (workflow task)",
    trigger: Trigger::WorkflowTask,
    bindings: <ShippingBindings as FunctionBindings>::BINDINGS,
    config: &[&ENVIRONMENT],
    sizing: [
        Sizing::new(256, 15, 5),
        Sizing::new(256, 15, 10),
        Sizing::new(256, 15, 20),
    ],
};

function_bindings!(
    /// `shipping`: arranges shipping (a workflow task).
    pub struct ShippingBindings for SHIPPING {
        orders: TableName<OrderRecord> = ORDERS.read_write(),
    }
);

pub static COMPENSATION: Function = Function {
    name: "compensation",
    id: "Compensation",
    description: "Releases a failed order's stock, exactly once, and marks it FAILED (workflow task)",
    trigger: Trigger::WorkflowTask,
    bindings: <CompensationBindings as FunctionBindings>::BINDINGS,
    config: &[&ENVIRONMENT],
    sizing: [
        Sizing::new(256, 30, 5),
        Sizing::new(256, 30, 5),
        Sizing::new(256, 30, 10),
    ],
};

function_bindings!(
    /// `compensation`: releases the stock of a failed order, once, and marks it FAILED.
    pub struct CompensationBindings for COMPENSATION {
        orders: TableName<OrderRecord> = ORDERS.read_write(),
        inventory: TableName<ProductRecord> = INVENTORY.read_write(),
    }
);

pub static NOTIFY_CUSTOMER: Function = Function {
    name: "notify-customer",
    id: "NotifyCustomer",
    description: "Tells the customer when an order is rejected, shipped or failed: one notification per status change",
    trigger: Trigger::Stream(StreamTrigger {
        // Status changes to a final status; the handler also checks the old image.
        filters: &[StreamFilter {
            events: &[StreamEvent::Modify],
            new_image: &[(
                orders::STATUS,
                &[
                    OrderStatus::Rejected.as_str(),
                    OrderStatus::Shipped.as_str(),
                    OrderStatus::Failed.as_str(),
                ],
            )],
        }],
        ..StreamTrigger::new(&ORDERS.spec, &NOTIFICATION_FAILURES.spec)
    }),
    bindings: <NotifyCustomerBindings as FunctionBindings>::BINDINGS,
    config: &[&ENVIRONMENT],
    sizing: [
        Sizing::new(128, 30, 2),
        Sizing::new(128, 30, 2),
        Sizing::new(128, 30, 5),
    ],
};

function_bindings!(
    /// `notify-customer`: publishes each final status change once (the idempotency table
    /// remembers what was published).
    pub struct NotifyCustomerBindings for NOTIFY_CUSTOMER {
        notifications: TopicArn<CustomerNotification> = CUSTOMER_NOTIFICATIONS.publish(),
        idempotency: TableName<IdempotencyRecord> = IDEMPOTENCY.read_write(),
    }
);

/// The configuration variables of a function and their values in an environment.
pub fn config_values(function: &Function, env: Env, settings: &Settings) -> Vec<(&'static str, String)> {
    function
        .config
        .iter()
        .map(|c| (c.var, (c.value)(env, settings)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::decl::{Access, BindingError, FunctionBindings};

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
        assert_eq!(
            <ReserveStockBindings as FunctionBindings>::FUNCTION.name,
            "reserve-stock"
        );
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
                var: "ORDERS_TABLE_NAME".into(),
                resource: "OrdersTable"
            }
        );
    }

    #[test]
    fn every_function_names_its_own_bindings() {
        for f in super::super::FUNCTIONS {
            for b in f.bindings {
                assert!(f.binds(&b.target), "{}", f.name);
            }
        }
        assert!(!PAYMENT.binds(&crate::decl::Target::Secret(&PAGINATION_KEY)));
    }
}
