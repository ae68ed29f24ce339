//! The Lambda functions of the system: what each is, how big, what it binds and which settings
//! it reads. One crate per function under `functions/`, named as [`FunctionSpec::name`].

use std::time::Duration;

use super::bindings::{
    Binding, BusinessApiBindings, CompensationBindings, HealthBindings, InventoryApiBindings,
    OrdersApiBindings, PaymentBindings, ReserveStockBindings, ShippingBindings, StartWorkflowBindings,
};
use super::env::{Env, Settings};

/// Memory, timeout and reserved concurrency of a function in one environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizing {
    pub memory_mb: u32,
    pub timeout: Duration,
    /// Reserved concurrency where the environment reserves it (see `Settings`).
    pub reserved_concurrency: u32,
}

const fn size(memory_mb: u32, timeout_secs: u64, reserved_concurrency: u32) -> Sizing {
    Sizing {
        memory_mb,
        timeout: Duration::from_secs(timeout_secs),
        reserved_concurrency,
    }
}

/// Settings a function reads from its environment besides its bindings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigVar {
    /// `APP_ENVIRONMENT`: dev, staging or prod.
    Environment,
    /// `CORS_ALLOWED_ORIGINS`: `*` or a comma-separated list.
    CorsAllowedOrigins,
    /// `PAYMENT_DECLINE_PERCENT` and `PAYMENT_UNAVAILABLE_PERCENT`.
    PaymentFailureRates,
}

/// The names of the configuration variables, shared with the handlers.
pub mod config {
    pub const ENVIRONMENT: &str = "APP_ENVIRONMENT";
    pub const CORS_ALLOWED_ORIGINS: &str = "CORS_ALLOWED_ORIGINS";
    pub const PAYMENT_DECLINE_PERCENT: &str = "PAYMENT_DECLINE_PERCENT";
    pub const PAYMENT_UNAVAILABLE_PERCENT: &str = "PAYMENT_UNAVAILABLE_PERCENT";
}

impl ConfigVar {
    /// The variables and their values in an environment.
    pub fn values(self, env: Env, settings: &Settings) -> Vec<(&'static str, String)> {
        match self {
            ConfigVar::Environment => vec![(config::ENVIRONMENT, env.name().to_owned())],
            ConfigVar::CorsAllowedOrigins => vec![(config::CORS_ALLOWED_ORIGINS, settings.cors.to_config())],
            ConfigVar::PaymentFailureRates => vec![
                (
                    config::PAYMENT_DECLINE_PERCENT,
                    settings.payment_failures.decline_percent.to_string(),
                ),
                (
                    config::PAYMENT_UNAVAILABLE_PERCENT,
                    settings.payment_failures.unavailable_percent.to_string(),
                ),
            ],
        }
    }
}

/// How a function is invoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// By API Gateway (routes in [`super::api::ROUTES`]).
    Api,
    /// By the orders table's stream.
    OrdersStream,
    /// By the order-events queue.
    OrderEventsQueue,
    /// By the order workflow, as a task.
    Workflow,
}

/// One Lambda function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunctionSpec {
    /// The crate and binary name, and the suffix of the deployed function's name.
    pub name: &'static str,
    /// The prefix of its resources' logical ids.
    pub id: &'static str,
    pub description: &'static str,
    pub trigger: Trigger,
    pub bindings: &'static [Binding],
    pub config: &'static [ConfigVar],
    /// Per environment, in the order of [`Env::ALL`].
    pub sizing: [Sizing; 3],
}

impl FunctionSpec {
    pub fn sizing(&self, env: Env) -> Sizing {
        self.sizing[env.index()]
    }
}

pub const HEALTH: FunctionSpec = FunctionSpec {
    name: "health",
    id: "Health",
    description: "GET /, /health, /health/detailed and /auth/health",
    trigger: Trigger::Api,
    bindings: HealthBindings::BINDINGS,
    config: &[ConfigVar::Environment, ConfigVar::CorsAllowedOrigins],
    sizing: [size(128, 10, 2), size(128, 10, 2), size(128, 10, 5)],
};

pub const ORDERS_API: FunctionSpec = FunctionSpec {
    name: "orders-api",
    id: "OrdersApi",
    description: "POST /orders, GET /orders and GET /orders/{orderId}",
    trigger: Trigger::Api,
    bindings: OrdersApiBindings::BINDINGS,
    config: &[ConfigVar::Environment, ConfigVar::CorsAllowedOrigins],
    sizing: [size(256, 10, 10), size(256, 10, 20), size(512, 10, 50)],
};

pub const INVENTORY_API: FunctionSpec = FunctionSpec {
    name: "inventory-api",
    id: "InventoryApi",
    description: "PUT /inventory/{sku}, GET /inventory and GET /inventory/{sku}",
    trigger: Trigger::Api,
    bindings: InventoryApiBindings::BINDINGS,
    config: &[ConfigVar::Environment, ConfigVar::CorsAllowedOrigins],
    sizing: [size(256, 10, 5), size(256, 10, 5), size(256, 10, 10)],
};

pub const BUSINESS_API: FunctionSpec = FunctionSpec {
    name: "business-api",
    id: "BusinessApi",
    description: "POST /auth/register-business",
    trigger: Trigger::Api,
    bindings: BusinessApiBindings::BINDINGS,
    config: &[ConfigVar::Environment, ConfigVar::CorsAllowedOrigins],
    sizing: [size(256, 10, 5), size(256, 10, 5), size(256, 10, 10)],
};

pub const RESERVE_STOCK: FunctionSpec = FunctionSpec {
    name: "reserve-stock",
    id: "ReserveStock",
    description: "Reserves stock for new orders from the orders stream, atomically, and queues reserved orders",
    trigger: Trigger::OrdersStream,
    bindings: ReserveStockBindings::BINDINGS,
    config: &[ConfigVar::Environment],
    sizing: [size(256, 30, 5), size(256, 30, 5), size(512, 30, 10)],
};

pub const START_WORKFLOW: FunctionSpec = FunctionSpec {
    name: "start-workflow",
    id: "StartWorkflow",
    description: "Starts the order workflow for each reserved order from the order-events queue",
    trigger: Trigger::OrderEventsQueue,
    bindings: StartWorkflowBindings::BINDINGS,
    config: &[ConfigVar::Environment],
    sizing: [size(128, 30, 5), size(128, 30, 5), size(256, 30, 10)],
};

pub const PAYMENT: FunctionSpec = FunctionSpec {
    name: "payment",
    id: "Payment",
    description: "Takes an order's payment (workflow task)",
    trigger: Trigger::Workflow,
    bindings: PaymentBindings::BINDINGS,
    config: &[ConfigVar::Environment, ConfigVar::PaymentFailureRates],
    sizing: [size(256, 15, 5), size(256, 15, 10), size(256, 15, 20)],
};

pub const SHIPPING: FunctionSpec = FunctionSpec {
    name: "shipping",
    id: "Shipping",
    description: "Arranges an order's shipping: carrier, tracking number, delivery estimate (workflow task)",
    trigger: Trigger::Workflow,
    bindings: ShippingBindings::BINDINGS,
    config: &[ConfigVar::Environment],
    sizing: [size(256, 15, 5), size(256, 15, 10), size(256, 15, 20)],
};

pub const COMPENSATION: FunctionSpec = FunctionSpec {
    name: "compensation",
    id: "Compensation",
    description: "Releases a failed order's stock, exactly once, and marks it FAILED (workflow task)",
    trigger: Trigger::Workflow,
    bindings: CompensationBindings::BINDINGS,
    config: &[ConfigVar::Environment],
    sizing: [size(256, 30, 5), size(256, 30, 5), size(256, 30, 10)],
};

/// Every function of the system.
pub const FUNCTIONS: [FunctionSpec; 9] = [
    HEALTH,
    ORDERS_API,
    INVENTORY_API,
    BUSINESS_API,
    RESERVE_STOCK,
    START_WORKFLOW,
    PAYMENT,
    SHIPPING,
    COMPENSATION,
];

/// The function with this crate name.
pub fn by_name(name: &str) -> Option<&'static FunctionSpec> {
    FUNCTIONS.iter().find(|f| f.name == name)
}
