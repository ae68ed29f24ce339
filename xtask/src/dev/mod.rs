//! `cargo xtask dev`: the whole order system on this machine, without Docker or an AWS account.
//!
//! The parts: the workflow executor ([`workflow`]), the event-source drivers ([`sources`]), the
//! REST API ([`api`]) and a small HTTP client for moto and the API ([`http`]).

pub mod api;
pub mod http;
pub mod sources;
pub mod workflow;
