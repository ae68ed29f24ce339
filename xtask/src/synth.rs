//! `cargo xtask synth`: writes the templates and the OpenAPI documents, or checks them against
//! the committed snapshots.

use std::borrow::Cow;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use infra_model::Env;
use infra_model::cfn::{INLINE_TEMPLATE_LIMIT, Synthesized};
use infra_model::system::{openapi, stack_name};
use serde_json::Value;

/// Which files `synth` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Yaml,
    Json,
    Both,
}

/// One synthesized environment, with what `synth`, `synth --check` and `lint` write of it.
pub struct Stack {
    pub env: Env,
    pub name: String,
    pub template: Synthesized,
    /// The API's OpenAPI 3.1 document (`infra_model::system::openapi::document`).
    pub openapi: Value,
    /// The template as YAML: what `synth` writes and the snapshots hold.
    pub yaml: String,
    /// The OpenAPI document as written: pretty JSON with a final newline.
    pub openapi_json: String,
    /// The size of the template as deployed (compact JSON), against CloudFormation's limits.
    pub deploy_bytes: usize,
}

/// Synthesizes the given environments, each template and each OpenAPI document on a thread of
/// its own: they share nothing, and are a few milliseconds of work each, so on two cores the
/// whole `synth` process takes about half the time (and smaller pieces share the cores more
/// evenly than one thread per environment). Fails with every problem the model has. The stacks
/// come back in the order asked for, whatever order the threads finish in.
pub fn synth(envs: &[Env]) -> Result<Vec<Stack>> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = envs
            .iter()
            .map(|&env| {
                let template = scope.spawn(move || {
                    let template = infra_model::synth(env)
                        .with_context(|| format!("cannot synthesize the {env} environment"))?;
                    let yaml = template.to_yaml();
                    let deploy_bytes = template.to_json_compact().len();
                    anyhow::Ok((template, yaml, deploy_bytes))
                });
                let openapi = scope.spawn(move || {
                    let document = openapi::document(env).with_context(|| {
                        format!("cannot write the OpenAPI document of the {env} environment")
                    })?;
                    let json = openapi::to_json(&document);
                    anyhow::Ok((document, json))
                });
                (env, template, openapi)
            })
            .collect();
        threads
            .into_iter()
            .map(|(env, template, openapi)| {
                let (template, yaml, deploy_bytes) = join(template)?;
                let (openapi, openapi_json) = join(openapi)?;
                Ok(Stack {
                    env,
                    name: stack_name(env),
                    template,
                    openapi,
                    yaml,
                    openapi_json,
                    deploy_bytes,
                })
            })
            .collect()
    })
}

/// A thread's result; a panic in synthesis is a bug in the model, and reads as one.
fn join<T>(thread: std::thread::ScopedJoinHandle<'_, T>) -> T {
    thread
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The file a stack's OpenAPI document is written to, beside its template.
pub fn openapi_path(out: &Path, stack: &str) -> PathBuf {
    out.join(format!("{stack}.openapi.json"))
}

/// The file a stack's template is written to.
pub fn template_path(out: &Path, stack: &str, ext: &str) -> PathBuf {
    out.join(format!("{stack}.template.{ext}"))
}

/// Writes the templates and prints one summary line each; returns the template files.
pub fn write(stacks: &[Stack], out: &Path, format: Format) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(out).with_context(|| format!("cannot create the output folder {}", out.display()))?;
    let mut written = Vec::new();
    for s in stacks {
        let mut files = Vec::new();
        if matches!(format, Format::Yaml | Format::Both) {
            files.push((
                template_path(out, &s.name, "yaml"),
                Cow::Borrowed(s.yaml.as_str()),
            ));
        }
        if matches!(format, Format::Json | Format::Both) {
            files.push((
                template_path(out, &s.name, "json"),
                Cow::Owned(s.template.to_json()),
            ));
        }
        for (path, body) in files {
            fs::write(&path, body.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
            let deploy_bytes = s.deploy_bytes;
            let how = if deploy_bytes <= INLINE_TEMPLATE_LIMIT {
                "inline"
            } else {
                "via S3"
            };
            println!(
                "{:<8} {:>3} resources  {:>7} bytes ({} bytes to deploy, {how})  {}",
                s.env.name(),
                s.template.resource_count(),
                body.len(),
                deploy_bytes,
                display_path(&path)
            );
            written.push(path);
        }
    }
    Ok(written)
}

/// Writes each stack's OpenAPI document beside its template and prints one summary line each.
pub fn write_openapi(stacks: &[Stack], out: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(out).with_context(|| format!("cannot create the output folder {}", out.display()))?;
    let mut written = Vec::new();
    for s in stacks {
        let path = openapi_path(out, &s.name);
        let body = &s.openapi_json;
        fs::write(&path, body.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
        let operations: usize = s.openapi["paths"].as_object().map_or(0, |p| {
            p.values().filter_map(Value::as_object).map(|m| m.len()).sum()
        });
        println!(
            "{:<8} {:>3} operations {:>7} bytes (OpenAPI {})  {}",
            s.env.name(),
            operations,
            body.len(),
            openapi::OPENAPI_VERSION,
            display_path(&path)
        );
        written.push(path);
    }
    Ok(written)
}

fn display_path(p: &Path) -> String {
    let root = crate::root();
    p.strip_prefix(&root).unwrap_or(p).display().to_string()
}

/// The folder of the committed snapshots.
pub fn snapshots_dir() -> PathBuf {
    crate::root().join("snapshots")
}

/// The snapshot of a stack's template in a snapshots folder.
pub fn snapshot_path(dir: &Path, stack: &str) -> PathBuf {
    dir.join(format!("{stack}.snap"))
}

/// The snapshot of a stack's OpenAPI document in a snapshots folder.
pub fn openapi_snapshot_path(dir: &Path, stack: &str) -> PathBuf {
    dir.join(format!("{stack}.openapi.snap"))
}

/// The template inside an insta snapshot file (after its `---` header).
pub fn snapshot_body(snap: &str) -> Option<&str> {
    let rest = snap.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(&rest[end + 5..])
}

/// What a stale snapshot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generated {
    Template,
    OpenApi,
}

impl Generated {
    /// The test whose snapshots these are; `INSTA_UPDATE=always` refreshes them.
    pub fn snapshot_test(self) -> &'static str {
        match self {
            Generated::Template => "snapshots",
            Generated::OpenApi => "openapi",
        }
    }
}

/// A snapshot that differs from the model (or is missing), with a readable diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stale {
    pub what: Generated,
    pub report: String,
}

/// Compares each template and OpenAPI document with its committed snapshot. Returns a
/// readable diff for each one that differs (or is missing); an empty list means everything is
/// up to date.
pub fn check(stacks: &[Stack], snapshots: &Path) -> Result<Vec<Stale>> {
    let mut stale = Vec::new();
    for s in stacks {
        let generated = [
            (
                Generated::Template,
                snapshot_path(snapshots, &s.name),
                s.yaml.as_str(),
            ),
            (
                Generated::OpenApi,
                openapi_snapshot_path(snapshots, &s.name),
                s.openapi_json.as_str(),
            ),
        ];
        for (what, path, body) in generated {
            if let Some(report) = compare(&path, body, &format!("{} (model)", s.name))? {
                stale.push(Stale { what, report });
            }
        }
    }
    Ok(stale)
}

/// A unified diff of a snapshot file against what the model gives, `None` when they agree.
fn compare(path: &Path, body: &str, model: &str) -> Result<Option<String>> {
    let Ok(snap) = fs::read_to_string(path) else {
        return Ok(Some(format!("{}: missing", display_path(path))));
    };
    let Some(committed) = snapshot_body(&snap) else {
        bail!(
            "{} is not an insta snapshot (no `---` header)",
            display_path(path)
        );
    };
    if committed.trim_end() == body.trim_end() {
        return Ok(None);
    }
    let diff = similar::TextDiff::from_lines(committed.trim_end(), body.trim_end());
    Ok(Some(
        diff.unified_diff()
            .context_radius(3)
            .header(&format!("{} (committed)", display_path(path)), model)
            .to_string(),
    ))
}
