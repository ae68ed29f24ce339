//! `cargo xtask synth`: writes the templates, or checks them against the committed snapshots.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use infra_model::Env;
use infra_model::cfn::{INLINE_TEMPLATE_LIMIT, Synthesized};
use infra_model::system::stack_name;

/// Which files `synth` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Yaml,
    Json,
    Both,
}

/// One synthesized environment.
pub struct Stack {
    pub env: Env,
    pub name: String,
    pub template: Synthesized,
}

/// Synthesizes the given environments; fails with every problem the model has.
pub fn synth(envs: &[Env]) -> Result<Vec<Stack>> {
    envs.iter()
        .map(|&env| {
            let template = infra_model::synth(env)
                .with_context(|| format!("cannot synthesize the {env} environment"))?;
            Ok(Stack {
                env,
                name: stack_name(env),
                template,
            })
        })
        .collect()
}

/// The file a stack's template is written to.
pub fn template_path(out: &Path, stack: &str, ext: &str) -> PathBuf {
    out.join(format!("{stack}.template.{ext}"))
}

/// Writes the templates and prints one summary line each.
pub fn write(stacks: &[Stack], out: &Path, format: Format) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(out).with_context(|| format!("cannot create the output folder {}", out.display()))?;
    let mut written = Vec::new();
    for s in stacks {
        let mut files = Vec::new();
        if matches!(format, Format::Yaml | Format::Both) {
            files.push((template_path(out, &s.name, "yaml"), s.template.to_yaml()));
        }
        if matches!(format, Format::Json | Format::Both) {
            files.push((template_path(out, &s.name, "json"), s.template.to_json()));
        }
        for (path, body) in files {
            fs::write(&path, &body).with_context(|| format!("cannot write {}", path.display()))?;
            let deploy_bytes = s.template.to_json_compact().len();
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

/// The template inside an insta snapshot file (after its `---` header).
pub fn snapshot_body(snap: &str) -> Option<&str> {
    let rest = snap.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(&rest[end + 5..])
}

/// Compares each template with its committed snapshot. Returns a readable diff for each one
/// that differs (or is missing); an empty list means everything is up to date.
pub fn check(stacks: &[Stack], snapshots: &Path) -> Result<Vec<String>> {
    let mut stale = Vec::new();
    for s in stacks {
        let path = snapshot_path(snapshots, &s.name);
        let yaml = s.template.to_yaml();
        let Ok(snap) = fs::read_to_string(&path) else {
            stale.push(format!("{}: missing", display_path(&path)));
            continue;
        };
        let Some(committed) = snapshot_body(&snap) else {
            bail!(
                "{} is not an insta snapshot (no `---` header)",
                display_path(&path)
            );
        };
        if committed.trim_end() != yaml.trim_end() {
            let diff = similar::TextDiff::from_lines(committed.trim_end(), yaml.trim_end());
            let unified = diff
                .unified_diff()
                .context_radius(3)
                .header(
                    &format!("{} (committed)", display_path(&path)),
                    &format!("{} (model)", s.name),
                )
                .to_string();
            stale.push(unified);
        }
    }
    Ok(stale)
}
