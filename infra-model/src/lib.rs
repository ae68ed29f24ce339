//! The order system's infrastructure as a typed model, and its synthesis into CloudFormation.
//!
//! - [`cfn`]: the CloudFormation core (template, intrinsic functions, logical ids, emission);
//! - [`aws`]: typed resources, one module per service;
//! - [`system`]: the order system itself, per environment.
//!
//! Synthesis is pure and deterministic: no clock, no randomness, no network, sorted maps.

pub mod aws;
pub mod cfn;
pub mod contract;
pub mod system;

pub use system::{Env, synth};
