//! `cargo xtask dev`: the whole order system on this machine, without Docker or an AWS account.

pub mod workflow;
