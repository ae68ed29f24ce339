//! Typed resources, one module per AWS service.

pub mod dynamodb;
pub mod sqs;
