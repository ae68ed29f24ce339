//! The developer commands that need the AWS SDK, the local cloud or the cross build: build, dev,
//! deploy and the other stack commands, bench of the artifacts and of the local system. `cargo
//! xtask` (the light binary, `xtask/`) runs this crate's binary for them, with the same command
//! line ([`xtask::cli`]). A library so that tests call the same code.

pub mod artifact;
pub mod bench;
pub mod build;
pub mod deploy;
pub mod dev;
pub mod elf;
pub mod live;
pub mod zip;

pub use local_cloud::{moto, runtime_api};
pub use xtask::{ci, cli, lint, root, synth, tools, workflows};
