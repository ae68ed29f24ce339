//! What `cargo xtask dev` deploys into moto and how it finds moto: the log, the launcher, the
//! placeholder zips and the template without its event source mappings.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use infra_model::aws::lambda::EventSourceMapping;
use infra_model::cfn::Resource;
use infra_model::system::FUNCTIONS;
use serde_json::Value;

use super::http;
use crate::artifact::Artifact;
use crate::moto::MotoServer;

/// moto's log file for a port.
pub fn moto_log(port: u16) -> PathBuf {
    crate::root()
        .join("target")
        .join("dev")
        .join(format!("moto-{port}.log"))
}

pub(super) fn moto_answers(port: u16) -> bool {
    let Ok(addr) = http::addr_of(&format!("127.0.0.1:{port}")) else {
        return false;
    };
    http::request(addr, "GET", "/moto-api/", &[], b"", Duration::from_secs(2)).is_ok_and(|r| r.status == 200)
}

pub(super) fn start_moto(port: u16) -> Result<MotoServer> {
    MotoServer::start_logged(port, moto_log(port))
        .with_context(|| format!("moto did not start on port {port}; is the port taken? Try --moto-port 0"))
}

/// The placeholder zips deploy uploads: moto stores the code and never runs it; the local
/// processes run `target/debug/<function>`. Constant, so a second run deploys nothing.
pub(super) fn placeholder_artifacts() -> Result<Vec<Artifact>> {
    use sha2::{Digest, Sha256};
    let dir = crate::root().join("target").join("dev").join("artifacts");
    let mut out = Vec::new();
    for f in FUNCTIONS.iter() {
        let text = format!(
            "#!/bin/sh\necho 'placeholder: cargo xtask dev runs target/debug/{} as a local process' >&2\nexit 1\n",
            f.name
        );
        let bytes = crate::zip::single_file("bootstrap", text.as_bytes(), 0o755)?;
        let path = dir.join(f.name).join("bootstrap.zip");
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
        }
        if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            std::fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
        }
        out.push(Artifact {
            function: f.name.to_owned(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            zip: path,
        });
    }
    Ok(out)
}

/// The dev template without its event source mappings. moto's mappings cannot run the
/// functions (no Docker) and still take the records: a stream mapping empties the shard on every
/// write, and a queue mapping consumes messages. `cargo xtask dev` drives the mappings itself,
/// from the same template, so the stack it deploys leaves them out (and says so).
pub fn without_event_source_mappings(template: &Value) -> Value {
    let mut t = template.clone();
    let Some(resources) = t.get_mut("Resources").and_then(Value::as_object_mut) else {
        return t;
    };
    let esm: Vec<String> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == EventSourceMapping::TYPE)
        .map(|(k, _)| k.clone())
        .collect();
    for id in &esm {
        resources.remove(id);
    }
    for r in resources.values_mut() {
        if let Some(Value::Array(deps)) = r.get_mut("DependsOn") {
            deps.retain(|d| !d.as_str().is_some_and(|d| esm.iter().any(|e| e == d)));
        }
        if r["DependsOn"]
            .as_str()
            .is_some_and(|d| esm.iter().any(|e| e == d))
            && let Some(o) = r.as_object_mut()
        {
            o.remove("DependsOn");
        }
    }
    t
}
