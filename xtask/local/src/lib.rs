//! The local cloud's shared layer: what `cargo xtask dev`, the deploy tests and the functions'
//! `test-support` all run on. Free of the AWS SDK and of the CLI.

pub mod http;
pub mod moto;
pub mod runtime_api;
pub mod serve;
