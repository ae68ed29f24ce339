//! The contract shared by the infrastructure and the handlers: API bodies (with the JSON
//! Schemas API Gateway validates against), money, table layouts and the messages between the
//! functions. Written once; a mismatch is a compile error.

pub mod api;
pub mod messages;
pub mod metrics;
pub mod money;
pub mod schema;
pub mod tables;

pub use money::Money;
