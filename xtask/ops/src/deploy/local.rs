//! The local endpoint profile: what changes in a template deployed to moto server, and why.
//!
//! moto 5.2.5's CloudFormation creates most of our resource types faithfully, but not all (see
//! `shared/notes/moto-server.md` and the probes of our own template recorded in the README's
//! "Deploying" section). [`apply`] rewrites the synthesized template for a loopback endpoint
//! only, and returns one [`LocalNote`] per change, which deploy prints as one line each:
//!
//! - types moto does not create are left out, and what referred to them is fixed: a `Ref` to
//!   the stage becomes the stage name, a method drops its validator and models, an output
//!   naming the API key is left out, a condition or parameter nothing uses any more goes too;
//! - a secret is created through the Secrets Manager API instead (the functions read its ARN),
//!   and references to it become that ARN;
//! - MOCK methods (CORS preflight) are left out: moto's CloudFormation requires an
//!   integration URI on every method;
//! - the resources are written in dependency order: moto creates a change set's new
//!   resources in template order and ignores `DependsOn`.
//!
//! Updates moto cannot apply (a Modify of a table, a log group, an API Gateway resource, ...)
//! are caught by [`cannot_update`] before a change set is executed.

use infra_model::aws as model;
use infra_model::cfn::Resource as _;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::{Result, bail};
use serde::Serialize;
use serde_json::{Map, Value};

use super::template::{self, RefKind, condition_references, depends_on, references, resource_type};

/// What the local profile did to one part of the template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalChange {
    /// The resource (or output, condition, parameter) is not deployed locally.
    LeftOut,
    /// The resource is created through its own API instead, and references use that.
    CreatedThroughApi,
    /// Some properties of the resource are dropped.
    PropertiesDropped,
    /// The resources are written in dependency order.
    Ordered,
}

/// One change of the local profile: printed as one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocalNote {
    /// The logical id (or output, condition, parameter name).
    pub id: String,
    /// The resource type, or `Output`, `Condition`, `Parameter`, `Template`.
    pub kind: String,
    pub change: LocalChange,
    pub reason: String,
}

impl LocalChange {
    fn verb(self) -> &'static str {
        match self {
            LocalChange::LeftOut => "left out",
            LocalChange::CreatedThroughApi => "replaced",
            LocalChange::PropertiesDropped => "changed",
            LocalChange::Ordered => "ordered",
        }
    }
}

impl fmt::Display for LocalNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.change == LocalChange::Ordered {
            return write!(f, "local: ordered the resources {}", self.reason);
        }
        write!(
            f,
            "local: {} {} ({}): {}",
            self.change.verb(),
            self.id,
            self.kind,
            self.reason
        )
    }
}

/// What the profile needs from the emulator before it can rewrite the template.
#[derive(Clone, Debug, Default)]
pub struct LocalProfile {
    /// The ARN of the secret created for each `AWS::SecretsManager::Secret` (by logical id).
    pub secret_arns: BTreeMap<String, String>,
    /// The names those secrets were created under (for the notes).
    pub secret_names: BTreeMap<String, String>,
}

/// The rewritten template.
#[derive(Clone, Debug)]
pub struct LocalTemplate {
    pub value: Value,
    /// Compact JSON, resources in dependency order.
    pub body: String,
    pub notes: Vec<LocalNote>,
}

/// Why a type is left out, or `None` if moto creates it.
fn left_out_reason(ty: &str, resource: &Value) -> Option<&'static str> {
    Some(match ty {
        model::apigateway::Stage::TYPE => {
            "moto does not create stages; the local API server serves the stage itself \
             (references to it use the stage name)"
        }
        model::apigateway::ApiKey::TYPE => "moto does not create API keys: no key exists locally",
        model::apigateway::UsagePlan::TYPE => {
            "moto does not create usage plans: no throttling or quota locally"
        }
        model::apigateway::UsagePlanKey::TYPE => "moto does not create usage plans or API keys",
        model::apigateway::Account::TYPE => {
            "moto does not create it (an account-wide setting: the role API Gateway writes logs with)"
        }
        model::apigateway::Model::TYPE => {
            "moto does not create request models (the handlers validate bodies with the same types)"
        }
        model::apigateway::RequestValidator::TYPE => "moto does not create request validators",
        model::apigateway::GatewayResponse::TYPE => "moto does not create gateway responses",
        model::apigateway::Method::TYPE if is_mock_method(resource) => {
            "moto's CloudFormation needs IntegrationHttpMethod and Uri on every method, and a MOCK \
             integration (CORS preflight) has neither"
        }
        model::cloudwatch::Alarm::TYPE => {
            "moto does not create alarms (and a GetAtt of one fails): no alarm exists locally"
        }
        model::sns::EmailSubscription::TYPE => {
            "moto does not create subscriptions: no e-mail is sent locally"
        }
        model::sns::TopicPolicy::TYPE => "moto does not create topic policies (and does not enforce them)",
        "AWS::SQS::QueuePolicy" => "moto does not create queue policies (and does not enforce them)",
        "AWS::S3::BucketPolicy" => "moto does not create bucket policies through CloudFormation",
        _ => return None,
    })
}

fn is_mock_method(resource: &Value) -> bool {
    resource
        .pointer("/Properties/Integration/Type")
        .and_then(Value::as_str)
        == Some("MOCK")
}

/// Properties that may be dropped (rather than leaving the whole resource out) when they
/// name a resource that is left out.
const DROPPABLE: &[(&str, &str)] = &[
    (model::apigateway::Method::TYPE, "RequestValidatorId"),
    (model::apigateway::Method::TYPE, "RequestModels"),
];

/// The types whose Modify moto's CloudFormation cannot apply: it keeps the old resource, drops
/// it from the stack, and later references to it resolve to nothing.
pub const MOTO_CANNOT_UPDATE: &[&str] = &[
    model::dynamodb::Table::TYPE,
    model::logs::LogGroup::TYPE,
    model::apigateway::RestApi::TYPE,
    model::apigateway::PathResource::TYPE,
    model::apigateway::Method::TYPE,
    model::apigateway::Deployment::TYPE,
    model::lambda::Permission::TYPE,
    model::kms::Key::TYPE,
];

/// What moto does with a Modify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalUpdate {
    /// It applies it.
    Applied,
    /// It skips these properties, which change nothing locally (moto runs no function code and
    /// enforces no IAM): a note, not a stop.
    Skipped(Vec<String>),
    /// It cannot apply it: the stack must be recreated. The reason says what moto would do.
    NeedsRecreate(String),
}

/// The properties moto's update of a type applies (found in its code: `update_from_cloudformation_json`).
const SQS_QUEUE_UPDATES: &[&str] = &["VisibilityTimeout", "ReceiveMessageWaitTimeSeconds"];
const LAMBDA_FUNCTION_UPDATES: &[&str] = &[
    "Code",
    "Description",
    "Handler",
    "MemorySize",
    "Role",
    "Runtime",
    "Timeout",
    "VpcConfig",
    "Environment",
    "Layers",
];
const IAM_ROLE_UPDATES: &[&str] = &["Description", "MaxSessionDuration"];

/// Whether moto applies a Modify of a resource of this type changing these properties.
pub fn local_update(resource_type: &str, changed: &[String]) -> LocalUpdate {
    let not_in = |applied: &[&str]| -> Vec<String> {
        changed
            .iter()
            .filter(|p| !applied.contains(&p.as_str()))
            .cloned()
            .collect()
    };
    if cannot_update(resource_type) {
        return LocalUpdate::NeedsRecreate(
            "moto's CloudFormation cannot update this type: it would keep the old resource and lose track of it".into(),
        );
    }
    match resource_type {
        model::sqs::Queue::TYPE => {
            let rest = not_in(SQS_QUEUE_UPDATES);
            if rest.is_empty() {
                LocalUpdate::Applied
            } else {
                LocalUpdate::NeedsRecreate(format!(
                    "moto updates only a queue's VisibilityTimeout and ReceiveMessageWaitTimeSeconds, not {}",
                    rest.join(", ")
                ))
            }
        }
        model::lambda::Function::TYPE => match not_in(LAMBDA_FUNCTION_UPDATES) {
            rest if rest.is_empty() => LocalUpdate::Applied,
            rest => LocalUpdate::Skipped(rest),
        },
        model::iam::Role::TYPE => match not_in(IAM_ROLE_UPDATES) {
            rest if rest.is_empty() => LocalUpdate::Applied,
            rest => LocalUpdate::Skipped(rest),
        },
        _ => LocalUpdate::Applied,
    }
}

/// Whether moto can apply a Modify of this type at all.
pub fn cannot_update(resource_type: &str) -> bool {
    MOTO_CANNOT_UPDATE.contains(&resource_type)
}

/// A secret the local profile creates through the Secrets Manager API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretSpec {
    pub logical_id: String,
    /// `<stack>/<logical id>`.
    pub name: String,
    /// The literal `SecretString`, if the template gives one.
    pub secret_string: Option<String>,
    /// `GenerateSecretString.PasswordLength` (32 by default, as in CloudFormation).
    pub length: i64,
    pub exclude_punctuation: bool,
    pub exclude_characters: Option<String>,
}

/// The secrets a template declares, and how to create each.
pub fn secrets(template: &Value, stack: &str) -> Vec<SecretSpec> {
    template::resources(template)
        .into_iter()
        .filter(|(_, r)| resource_type(r) == model::secretsmanager::GeneratedSecret::TYPE)
        .map(|(id, r)| {
            let gen_ = r.pointer("/Properties/GenerateSecretString");
            SecretSpec {
                name: secret_name(stack, &id),
                secret_string: r
                    .pointer("/Properties/SecretString")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                length: gen_
                    .and_then(|g| g.get("PasswordLength"))
                    .and_then(Value::as_i64)
                    .unwrap_or(32),
                exclude_punctuation: gen_
                    .and_then(|g| g.get("ExcludePunctuation"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                exclude_characters: gen_
                    .and_then(|g| g.get("ExcludeCharacters"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                logical_id: id,
            }
        })
        .collect()
}

/// The name of the secret created locally for a template's secret.
pub fn secret_name(stack: &str, logical_id: &str) -> String {
    format!("{stack}/{logical_id}")
}

/// Rewrites a template for moto. Pure: the secrets must exist already (see [`secrets`]).
pub fn apply(template: &Value, profile: &LocalProfile) -> Result<LocalTemplate> {
    let mut value = template.clone();
    let Some(obj) = value.as_object_mut() else {
        bail!("the template is not a JSON object");
    };
    let mut resources = obj
        .get("Resources")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut notes = Vec::new();

    // 1. Types moto does not create; the literal that replaces a Ref to each, where one can.
    let mut removed: BTreeMap<String, String> = BTreeMap::new(); // id -> type
    let mut literal: BTreeMap<String, String> = BTreeMap::new();
    for (id, r) in &resources {
        let ty = resource_type(r);
        if ty == model::secretsmanager::GeneratedSecret::TYPE {
            let Some(arn) = profile.secret_arns.get(id) else {
                bail!("no local secret was created for {id}: create it before applying the local profile");
            };
            let name = profile
                .secret_names
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.clone());
            removed.insert(id.clone(), ty.to_owned());
            literal.insert(id.clone(), arn.clone());
            notes.push(LocalNote {
                id: id.clone(),
                kind: ty.to_owned(),
                change: LocalChange::CreatedThroughApi,
                reason: format!(
                    "moto does not create secrets: the secret {name}, created through the Secrets \
                     Manager API with a random value (as GenerateSecretString asks), stands in for \
                     it; references use its ARN"
                ),
            });
        } else if let Some(reason) = left_out_reason(ty, r) {
            removed.insert(id.clone(), ty.to_owned());
            if ty == model::apigateway::Stage::TYPE
                && let Some(name) = r.pointer("/Properties/StageName").and_then(Value::as_str)
            {
                literal.insert(id.clone(), name.to_owned());
            }
            notes.push(LocalNote {
                id: id.clone(),
                kind: ty.to_owned(),
                change: LocalChange::LeftOut,
                reason: reason.to_owned(),
            });
        }
    }
    for id in removed.keys() {
        resources.remove(id);
    }

    // A reference the literals cannot stand in for.
    let unresolvable = |refs: &[(String, RefKind)], removed: &BTreeMap<String, String>| -> Option<String> {
        refs.iter()
            .find(|(name, kind)| {
                removed.contains_key(name) && !(kind.is_plain() && literal.contains_key(name))
            })
            .map(|(name, _)| name.clone())
    };

    // 2. Properties that may go; 3. resources that cannot stay (to a fixed point).
    loop {
        let mut changed = false;
        let ids: Vec<String> = resources.keys().cloned().collect();
        for id in ids {
            let Some(r) = resources.get_mut(&id) else { continue };
            let ty = resource_type(r).to_owned();
            let mut dropped = Vec::new();
            if let Some(props) = r.get_mut("Properties").and_then(Value::as_object_mut) {
                let names: Vec<String> = props.keys().cloned().collect();
                for p in names {
                    if !DROPPABLE.contains(&(ty.as_str(), p.as_str())) {
                        continue;
                    }
                    let refs = props.get(&p).map(references).unwrap_or_default();
                    if let Some(target) = unresolvable(&refs, &removed) {
                        props.remove(&p);
                        dropped.push((p, target));
                    }
                }
            }
            if !dropped.is_empty() {
                let names: Vec<&str> = dropped.iter().map(|(p, _)| p.as_str()).collect();
                let targets: BTreeSet<&str> = dropped.iter().map(|(_, t)| t.as_str()).collect();
                notes.push(LocalNote {
                    id: id.clone(),
                    kind: ty.clone(),
                    change: LocalChange::PropertiesDropped,
                    reason: format!(
                        "dropped {}, which name{} {}, left out",
                        names.join(" and "),
                        if names.len() == 1 { "s" } else { "" },
                        targets.into_iter().collect::<Vec<_>>().join(" and ")
                    ),
                });
            }
            let refs = r.get("Properties").map(references).unwrap_or_default();
            if let Some(target) = unresolvable(&refs, &removed) {
                notes.push(LocalNote {
                    id: id.clone(),
                    kind: ty.clone(),
                    change: LocalChange::LeftOut,
                    reason: format!("it refers to {target}, which is left out"),
                });
                removed.insert(id.clone(), ty);
                resources.remove(&id);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    // 4. Literals in what stays; DependsOn without what is gone.
    for r in resources.values_mut() {
        if let Some(props) = r.get_mut("Properties") {
            template::substitute(props, &literal);
        }
        let deps = depends_on(r);
        if !deps.is_empty()
            && let Some(m) = r.as_object_mut()
        {
            let kept: Vec<Value> = deps
                .into_iter()
                .filter(|d| !removed.contains_key(d))
                .map(Value::String)
                .collect();
            if kept.is_empty() {
                m.remove("DependsOn");
            } else {
                m.insert("DependsOn".into(), Value::Array(kept));
            }
        }
    }

    // 5. Outputs.
    let mut outputs = obj
        .get("Outputs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let output_ids: Vec<String> = outputs.keys().cloned().collect();
    for id in output_ids {
        let refs = outputs.get(&id).map(references).unwrap_or_default();
        if let Some(target) = unresolvable(&refs, &removed) {
            outputs.remove(&id);
            notes.push(LocalNote {
                id,
                kind: "Output".into(),
                change: LocalChange::LeftOut,
                reason: format!("it names {target}, which is left out"),
            });
        } else if let Some(o) = outputs.get_mut(&id) {
            template::substitute(o, &literal);
        }
    }

    // 6. Conditions and parameters nothing uses any more.
    let mut conditions = obj
        .get("Conditions")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut used_conditions: BTreeSet<String> = BTreeSet::new();
    for r in resources.values() {
        if let Some(c) = r.get("Condition").and_then(Value::as_str) {
            used_conditions.insert(c.to_owned());
        }
        used_conditions.extend(condition_references(r));
    }
    for o in outputs.values() {
        if let Some(c) = o.get("Condition").and_then(Value::as_str) {
            used_conditions.insert(c.to_owned());
        }
        used_conditions.extend(condition_references(o));
    }
    let mut frontier: Vec<String> = used_conditions.iter().cloned().collect();
    while let Some(c) = frontier.pop() {
        if let Some(def) = conditions.get(&c) {
            for inner in condition_references(def) {
                if used_conditions.insert(inner.clone()) {
                    frontier.push(inner);
                }
            }
        }
    }
    let condition_ids: Vec<String> = conditions.keys().cloned().collect();
    for c in condition_ids {
        if !used_conditions.contains(&c) {
            conditions.remove(&c);
            notes.push(LocalNote {
                id: c,
                kind: "Condition".into(),
                change: LocalChange::LeftOut,
                reason: "only what is left out used it (moto's template check refuses unused conditions)"
                    .into(),
            });
        }
    }
    let mut used_names: BTreeSet<String> = BTreeSet::new();
    for v in resources
        .values()
        .chain(outputs.values())
        .chain(conditions.values())
    {
        used_names.extend(references(v).into_iter().map(|(n, _)| n));
    }
    let mut params = obj
        .get("Parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let param_ids: Vec<String> = params.keys().cloned().collect();
    for p in param_ids {
        if !used_names.contains(&p) {
            params.remove(&p);
            notes.push(LocalNote {
                id: p,
                kind: "Parameter".into(),
                change: LocalChange::LeftOut,
                reason: "only what is left out used it".into(),
            });
        }
    }

    set_or_remove(obj, "Resources", resources);
    set_or_remove(obj, "Outputs", outputs);
    set_or_remove(obj, "Conditions", conditions);
    set_or_remove(obj, "Parameters", params);

    let order = template::dependency_order(&template::resources(&value));
    notes.push(LocalNote {
        id: "Resources".into(),
        kind: "Template".into(),
        change: LocalChange::Ordered,
        reason:
            "by dependency: moto creates a change set's new resources in template order and ignores DependsOn"
                .into(),
    });
    let body = template::to_json_ordered(&value, &order);
    Ok(LocalTemplate { value, body, notes })
}

fn set_or_remove(obj: &mut Map<String, Value>, key: &str, map: Map<String, Value>) {
    if map.is_empty() {
        obj.remove(key);
    } else {
        obj.insert(key.to_owned(), Value::Object(map));
    }
}

/// The notes as printed: one line each, except that resources of one type left out for the
/// same reason share a line (23 alarms are one line, not 23).
pub fn render_notes(notes: &[LocalNote]) -> Vec<String> {
    let mut groups: Vec<(&LocalNote, Vec<&str>)> = Vec::new();
    for n in notes {
        match groups
            .iter_mut()
            .find(|(g, _)| g.kind == n.kind && g.change == n.change && g.reason == n.reason)
        {
            Some((_, ids)) => ids.push(&n.id),
            None => groups.push((n, vec![&n.id])),
        }
    }
    groups
        .into_iter()
        .map(|(n, ids)| {
            if ids.len() == 1 {
                return n.to_string();
            }
            let shown = ids.iter().take(3).copied().collect::<Vec<_>>().join(", ");
            let more = if ids.len() > 3 {
                format!(" and {} more", ids.len() - 3)
            } else {
                String::new()
            };
            format!(
                "local: {} {} x {} ({shown}{more}): {}",
                n.change.verb(),
                ids.len(),
                n.kind,
                n.reason
            )
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "local_tests.rs"]
mod tests;
