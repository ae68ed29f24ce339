//! Typed resources, one module per AWS service.

pub mod apigateway;
pub mod cloudwatch;
pub mod dynamodb;
pub mod iam;
pub mod kms;
pub mod lambda;
pub mod logs;
pub mod secretsmanager;
pub mod sns;
pub mod sqs;
pub mod stepfunctions;
