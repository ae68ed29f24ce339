//! Change sets: create one, wait for it, read it as a list of [`Change`]s, and print it.

use infra_model::aws as model;
use infra_model::cfn::Resource as _;
use std::collections::BTreeSet;

use anyhow::{Result, bail};
use aws_sdk_cloudformation::types::{
    Capability, ChangeAction, ChangeSetStatus, ChangeSetType, Parameter, Replacement, RequiresRecreation, Tag,
};
use serde::Serialize;

use super::aws::{Aws, error_code, error_message};

/// What happens to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Add,
    Modify,
    Remove,
    Import,
    Dynamic,
}

/// Whether a Modify replaces the resource (a new one is created, the old one deleted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Replaces {
    No,
    /// Depends on a value CloudFormation knows only while deploying.
    Conditionally,
    Yes,
}

/// Where a change came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSource {
    /// Listed by CloudFormation's change set.
    ChangeSet,
    /// Computed by xtask: moto's change sets do not list changes that come from parameters
    /// only (a function's new code key), though executing them applies those changes.
    ParameterDiff,
}

/// One resource change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub action: Action,
    pub logical_id: String,
    pub resource_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical_id: Option<String>,
    pub replacement: Replaces,
    /// What changes: `Properties`, `Tags`, ...
    pub scope: Vec<String>,
    /// The properties (or parameters) that change; those that force a replacement end in `!`.
    pub details: Vec<String>,
    pub source: ChangeSource,
}

impl Change {
    /// A Modify whose only change is the resource's tags (for example a new commit tag).
    pub fn is_tags_only(&self) -> bool {
        self.action == Action::Modify && !self.scope.is_empty() && self.scope.iter().all(|s| s == "Tags")
    }
}

/// A change set, once CloudFormation has computed it.
#[derive(Clone, Debug)]
pub struct ChangeSet {
    pub id: String,
    pub name: String,
    pub kind: ChangeSetKind,
    pub changes: Vec<Change>,
    /// The change set lists no resource change.
    pub empty: bool,
    /// The service refused it as having nothing to do (AWS: FAILED "didn't contain changes";
    /// moto: "No updates are to be performed"). There is no change set left to execute.
    pub nothing_to_do: bool,
}

impl ChangeSet {
    /// What the service answers when there is nothing to change: no change set is left.
    fn nothing_to_do(name: String, kind: ChangeSetKind) -> ChangeSet {
        ChangeSet {
            id: String::new(),
            name,
            kind,
            changes: Vec::new(),
            empty: true,
            nothing_to_do: true,
        }
    }
}

/// Whether the change set creates the stack or updates it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSetKind {
    Create,
    Update,
}

/// What a change set is made of.
pub struct ChangeSetRequest<'a> {
    pub stack: &'a str,
    pub kind: ChangeSetKind,
    /// Inline body, or an S3 URL.
    pub template: TemplateRef<'a>,
    pub parameters: &'a std::collections::BTreeMap<String, String>,
    pub tags: &'a [(String, String)],
    pub description: &'a str,
}

/// How the template is given.
pub enum TemplateRef<'a> {
    Body(&'a str),
    Url(&'a str),
}

/// The state named by CloudFormation's refusal of a change set for a stack that is busy:
/// `ValidationError`, `Stack:<arn> is in <STATE> state and can not be updated.`
fn busy_state<E: aws_sdk_cloudformation::error::ProvideErrorMetadata, R>(
    e: &aws_sdk_cloudformation::error::SdkError<E, R>,
) -> Option<String> {
    if error_code(e) != Some("ValidationError") {
        return None;
    }
    let rest = error_message(e)?.split(" is in ").nth(1)?;
    let state = rest.split(" state").next()?;
    (state.ends_with("_IN_PROGRESS") && state != "REVIEW_IN_PROGRESS").then(|| state.to_owned())
}

/// The reasons CloudFormation gives for a change set with nothing in it.
fn means_no_changes(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("didn't contain changes") || r.contains("no updates are to be performed")
}

/// Creates a change set and waits until it is ready. An empty change set (AWS: status FAILED
/// with "didn't contain changes"; moto: "No updates are to be performed", or an empty list)
/// comes back with `empty` set, already deleted where AWS keeps failed ones.
pub async fn create(aws: &Aws, req: &ChangeSetRequest<'_>) -> Result<ChangeSet> {
    let name = change_set_name();
    let mut call = aws
        .cfn
        .create_change_set()
        .stack_name(req.stack)
        .change_set_name(&name)
        .change_set_type(match req.kind {
            ChangeSetKind::Create => ChangeSetType::Create,
            ChangeSetKind::Update => ChangeSetType::Update,
        })
        .description(req.description)
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .set_parameters(Some(
            req.parameters
                .iter()
                .map(|(k, v)| Parameter::builder().parameter_key(k).parameter_value(v).build())
                .collect(),
        ));
    for (k, v) in req.tags {
        call = call.tags(Tag::builder().key(k).value(v).build());
    }
    call = match req.template {
        TemplateRef::Body(b) => call.template_body(b),
        TemplateRef::Url(u) => call.template_url(u),
    };
    let created = match call.send().await {
        Ok(c) => c,
        Err(e) => {
            if error_message(&e).is_some_and(means_no_changes) {
                return Ok(ChangeSet::nothing_to_do(name, req.kind));
            }
            // Another operation began after the stack was read (a deploy elsewhere): CloudFormation
            // runs one operation on a stack at a time and refuses the change set with a
            // ValidationError, `Stack:<arn> is in UPDATE_IN_PROGRESS state and can not be
            // updated.`
            if let Some(state) = busy_state(&e) {
                bail!(
                    "{stack} became busy ({state}) after this command read it: another deploy or \
                     destroy started meanwhile, and CloudFormation runs one operation on a stack at \
                     a time. Nothing was changed.\nWhat to do: run this again: it waits for that \
                     operation to end (`{}` shows it)",
                    aws.status_command(req.stack),
                    stack = req.stack
                );
            }
            let already = error_code(&e) == Some("AlreadyExistsException");
            let err = aws.explain(&format!("create a change set for {}", req.stack), e);
            if already {
                return Err(err.context(format!(
                    "{} exists already: run `cargo xtask status` to see its state",
                    req.stack
                )));
            }
            return Err(err);
        }
    };
    let id = created.id().unwrap_or(&name).to_owned();

    // Wait: moto answers at once; AWS takes a few seconds.
    let started = tokio::time::Instant::now();
    let mut delay = aws.poll.first_delay;
    loop {
        let d = aws
            .cfn
            .describe_change_set()
            .change_set_name(&id)
            .stack_name(req.stack)
            .include_property_values(true)
            .send()
            .await
            .map_err(|e| aws.explain("read the change set", e))?;
        match d.status() {
            Some(ChangeSetStatus::CreateComplete) => break,
            Some(ChangeSetStatus::Failed) => {
                let reason = d.status_reason().unwrap_or("").to_owned();
                if means_no_changes(&reason) {
                    delete(aws, req.stack, &id).await?;
                    return Ok(ChangeSet::nothing_to_do(name, req.kind));
                }
                bail!(
                    "CloudFormation could not create the change set for {}: {reason}",
                    req.stack
                );
            }
            other => {
                if started.elapsed() >= aws.poll.change_set_limit {
                    bail!(
                        "CloudFormation is still computing the change set {name} of {} after {} \
                         (status {}); it changed nothing and was left in place.\nWhat to do: run the \
                         command again later, and delete the old change set with `aws cloudformation \
                         delete-change-set --change-set-name {id} --region {}`",
                        req.stack,
                        super::console::human_duration(aws.poll.change_set_limit),
                        other.map_or("unknown", |s| s.as_str()),
                        aws.region
                    );
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(aws.poll.max_delay);
            }
        }
    }
    let changes = describe(aws, req.stack, &id).await?;
    Ok(ChangeSet {
        empty: changes.is_empty(),
        nothing_to_do: false,
        id,
        name,
        kind: req.kind,
        changes,
    })
}

/// The changes of a ready change set, every page.
pub async fn describe(aws: &Aws, stack: &str, id: &str) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .cfn
            .describe_change_set()
            .change_set_name(id)
            .stack_name(stack)
            .set_next_token(token.clone())
            // The properties' old and new values (`BeforeValue`/`AfterValue` in each detail's
            // target): https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html
            .include_property_values(true)
            .send()
            .await
            .map_err(|e| aws.explain("read the change set", e))?;
        for c in page.changes() {
            let Some(rc) = c.resource_change() else { continue };
            let action = match rc.action() {
                Some(ChangeAction::Add) => Action::Add,
                Some(ChangeAction::Modify) => Action::Modify,
                Some(ChangeAction::Remove) => Action::Remove,
                Some(ChangeAction::Import) => Action::Import,
                _ => Action::Dynamic,
            };
            let replacement = match rc.replacement() {
                Some(Replacement::True) => Replaces::Yes,
                Some(Replacement::Conditional) => Replaces::Conditionally,
                _ => Replaces::No,
            };
            let mut details: Vec<String> = Vec::new();
            for d in rc.details() {
                let Some(t) = d.target() else { continue };
                let name = t
                    .name()
                    .map(str::to_owned)
                    .or_else(|| t.attribute().map(|a| a.as_str().to_owned()))
                    .unwrap_or_default();
                if name.is_empty() {
                    continue;
                }
                let forced = matches!(t.requires_recreation(), Some(RequiresRecreation::Always));
                let mut label = if forced { format!("{name}!") } else { name };
                if let (Some(before), Some(after)) = (t.before_value(), t.after_value())
                    && before.len() <= VALUE_WIDTH
                    && after.len() <= VALUE_WIDTH
                {
                    label.push_str(&format!(" ({before} -> {after})"));
                }
                if !details.contains(&label) {
                    details.push(label);
                }
            }
            out.push(Change {
                action,
                logical_id: rc.logical_resource_id().unwrap_or("").to_owned(),
                resource_type: rc.resource_type().unwrap_or("").to_owned(),
                physical_id: rc.physical_resource_id().map(str::to_owned),
                replacement,
                scope: rc.scope().iter().map(|s| s.as_str().to_owned()).collect(),
                details,
                source: ChangeSource::ChangeSet,
            });
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    out.sort_by(|a, b| (a.action, &a.logical_id).cmp(&(b.action, &b.logical_id)));
    Ok(out)
}

/// Property values longer than this are not printed (policies, definitions): the name says
/// what changes.
const VALUE_WIDTH: usize = 40;

/// Deletes a change set (diff, a declined prompt, a refused local update).
pub async fn delete(aws: &Aws, stack: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Ok(());
    }
    aws.cfn
        .delete_change_set()
        .change_set_name(id)
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| aws.explain("delete the change set", e))?;
    Ok(())
}

/// `xtask-<seconds since the epoch>`: unique enough, and it says who made it.
fn change_set_name() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("xtask-{secs}")
}

/// The diff as printed: one line per resource, replacements flagged, then a summary.
pub fn render(stack: &str, kind: ChangeSetKind, changes: &[Change]) -> Vec<String> {
    let mut lines = Vec::new();
    let verb = match kind {
        ChangeSetKind::Create => "create",
        ChangeSetKind::Update => "update",
    };
    lines.push(format!("Changes to {stack} ({verb}):"));
    let tags_only: Vec<&Change> = changes.iter().filter(|c| c.is_tags_only()).collect();
    let width = changes
        .iter()
        .filter(|c| !c.is_tags_only())
        .map(|c| c.logical_id.len())
        .max()
        .unwrap_or(0);
    let type_width = changes
        .iter()
        .filter(|c| !c.is_tags_only())
        .map(|c| c.resource_type.len())
        .max()
        .unwrap_or(0);
    for c in changes.iter().filter(|c| !c.is_tags_only()) {
        let (mark, word) = match (c.action, c.replacement) {
            (Action::Add, _) => ("+", "add"),
            (Action::Remove, _) => ("-", "remove"),
            (Action::Modify, Replaces::Yes) => ("!", "REPLACE"),
            (Action::Modify, Replaces::Conditionally) => ("!", "REPLACE?"),
            (Action::Modify, Replaces::No) => ("~", "modify"),
            (Action::Import, _) => ("<", "import"),
            (Action::Dynamic, _) => ("?", "dynamic"),
        };
        let mut line = format!(
            "  {mark} {word:<8} {:<width$}  {:<type_width$}",
            c.logical_id, c.resource_type
        );
        if !c.details.is_empty() {
            line.push_str("  ");
            line.push_str(&c.details.join(", "));
        }
        if c.source == ChangeSource::ParameterDiff {
            line.push_str("  (from parameters)");
        }
        lines.push(line.trim_end().to_owned());
    }
    if changes.is_empty() {
        lines.push("  no resource changes: only outputs, parameters or metadata differ".to_owned());
    }
    if !tags_only.is_empty() {
        lines.push(format!(
            "  ~ {} resource(s) whose only change is their tags (the stack's tags: app, environment, commit)",
            tags_only.len()
        ));
    }
    let count = |a: Action| changes.iter().filter(|c| c.action == a).count();
    let replaced: Vec<&Change> = changes
        .iter()
        .filter(|c| c.action == Action::Modify && c.replacement != Replaces::No)
        .collect();
    let mut summary = format!(
        "{} change(s): {} to add, {} to modify, {} to remove",
        changes.len(),
        count(Action::Add),
        count(Action::Modify),
        count(Action::Remove)
    );
    if !replaced.is_empty() {
        summary.push_str(&format!(", {} REPLACED", replaced.len()));
    }
    lines.push(summary);
    for c in &replaced {
        let certainty = if c.replacement == Replaces::Yes {
            "WILL"
        } else {
            "MAY"
        };
        lines.push(format!(
            "WARNING: {} ({}) {certainty} BE REPLACED: a new one is created and the old one deleted{}",
            c.logical_id,
            c.resource_type,
            if c.resource_type == model::dynamodb::Table::TYPE {
                ", with its data unless its policy retains it"
            } else {
                ""
            }
        ));
    }
    lines
}

/// The (action, logical id) pairs: what diff and deploy must agree on.
pub fn summary(changes: &[Change]) -> BTreeSet<(Action, String)> {
    changes.iter().map(|c| (c.action, c.logical_id.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: Action, id: &str, replacement: Replaces, scope: &[&str]) -> Change {
        Change {
            action,
            logical_id: id.into(),
            resource_type: model::dynamodb::Table::TYPE.into(),
            physical_id: None,
            replacement,
            scope: scope.iter().map(|s| (*s).to_owned()).collect(),
            details: vec!["KeySchema!".into()],
            source: ChangeSource::ChangeSet,
        }
    }

    #[test]
    fn replacements_are_flagged_loudly_and_tag_changes_summarised() {
        let changes = [
            change(Action::Add, "NewTable", Replaces::No, &[]),
            change(Action::Modify, "OrdersTable", Replaces::Yes, &["Properties"]),
            change(Action::Modify, "Tagged1", Replaces::No, &["Tags"]),
            change(Action::Modify, "Tagged2", Replaces::No, &["Tags"]),
            change(Action::Remove, "OldTable", Replaces::No, &[]),
        ];
        let text = render("orders-dev", ChangeSetKind::Update, &changes).join("\n");
        assert!(text.contains("! REPLACE  OrdersTable"), "{text}");
        assert!(
            text.contains("WARNING: OrdersTable (AWS::DynamoDB::Table) WILL BE REPLACED"),
            "{text}"
        );
        assert!(text.contains("with its data"), "{text}");
        assert!(
            text.contains("2 resource(s) whose only change is their tags"),
            "{text}"
        );
        assert!(!text.contains("Tagged1"), "{text}");
        assert!(
            text.contains("5 change(s): 1 to add, 3 to modify, 1 to remove, 1 REPLACED"),
            "{text}"
        );
    }

    #[test]
    fn empty_change_set_reasons_are_recognised() {
        assert!(means_no_changes(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(means_no_changes("No updates are to be performed."));
        assert!(!means_no_changes("Template format error"));
    }
}
