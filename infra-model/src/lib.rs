//! The order system's infrastructure as a typed model, and its synthesis into CloudFormation.
//!
//! - [`cfn`]: the CloudFormation core (template, intrinsic functions, logical ids, emission);
//! - [`aws`]: typed resources, one module per service;
//! - [`decl`]: declarations, the typed values a system is made of (tables, queues, functions,
//!   routes, ...);
//! - [`contract`]: what the infrastructure and the handlers share (bodies, records, messages);
//! - [`system`]: the order system itself, declared once, synthesized per environment.
//!
//! Synthesis is pure and deterministic: no clock, no randomness, no network, sorted maps.

pub mod aws;
pub mod cfn;
pub mod contract;
pub mod decl;
pub mod system;

pub use system::{Env, synth};
