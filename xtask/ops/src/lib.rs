//! The developer commands that need the AWS SDK or the local cloud: dev, deploy and the other
//! stack commands, bench of the artifacts and of the local system. `cargo
//! xtask` (the light binary, `xtask/`) runs this crate's binary for them, with the same command
//! line ([`xtask::cli`]). A library so that tests call the same code.

pub mod bench;
pub mod deploy;
pub mod dev;
pub mod live;

pub use local_cloud::{moto, runtime_api};
pub use xtask::{artifact, build, ci, cli, elf, lint, root, synth, tools, workflows, zip};
