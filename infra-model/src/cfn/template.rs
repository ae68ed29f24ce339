//! A CloudFormation template built from typed resources, and its synthesis.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde_json::Value;

use super::expr::{Cond, Expr, Pseudo};
use super::parameter::{ConditionHandle, ParamHandle, Parameter};
use super::refs::{Refs, collect_refs, find_cycle};

/// CloudFormation's limit on a template passed inline (`TemplateBody`).
pub const INLINE_TEMPLATE_LIMIT: usize = 51_200;
/// CloudFormation's limit on a template read from S3 (`TemplateURL`).
pub const S3_TEMPLATE_LIMIT: usize = 1_000_000;
/// CloudFormation's limit on the number of resources in one stack.
pub const RESOURCE_LIMIT: usize = 500;
/// The longest logical id CloudFormation accepts.
pub const LOGICAL_ID_MAX: usize = 255;

/// A typed CloudFormation resource: the properties of one resource type.
pub trait Resource {
    /// The CloudFormation type name, e.g. `AWS::DynamoDB::Table`.
    const TYPE: &'static str;
    /// The `Properties` of the resource.
    fn properties(&self) -> Value;
}

/// A reference to a resource that was added to a template. The only way to `Ref` or
/// `Fn::GetAtt` a resource; each resource type adds its own attribute methods.
pub struct Handle<R> {
    id: String,
    _resource: PhantomData<fn() -> R>,
}

impl<R> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Handle {
            id: self.id.clone(),
            _resource: PhantomData,
        }
    }
}

impl<R> fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle({})", self.id)
    }
}

impl<R> Handle<R> {
    /// The logical id of the resource in its template.
    pub fn logical_id(&self) -> &str {
        &self.id
    }

    /// `Ref` to the resource. What it returns depends on the type (a name, a URL, an ARN);
    /// resource types offer a method named for what it is, e.g. `Table::name`.
    pub fn reference(&self) -> Expr {
        Expr::reference(&self.id)
    }

    /// `Fn::GetAtt` of an attribute. Crate-private so that only attributes a resource type
    /// declares as methods can be asked for.
    pub(crate) fn att(&self, attribute: &str) -> Expr {
        Expr::get_att(&self.id, attribute)
    }

    /// A `Fn::Sub` template fragment that stands for this resource's `Ref`.
    pub fn sub_ref(&self) -> String {
        format!("${{{}}}", self.id)
    }

    /// Erases the resource type, e.g. for `DependsOn`.
    pub fn any(&self) -> AnyHandle {
        AnyHandle(self.id.clone())
    }
}

/// A handle with its resource type erased.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AnyHandle(String);

/// What CloudFormation does with a resource's physical resource when the resource is deleted
/// from the stack or replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Policy {
    Delete,
    Retain,
    RetainExceptOnCreate,
    Snapshot,
}

/// The properties that give a resource a fixed physical name (one CloudFormation does not
/// generate).
pub const FIXED_NAME_PROPERTIES: [&str; 10] = [
    "LogGroupName",
    "TableName",
    "QueueName",
    "FunctionName",
    "StateMachineName",
    "TopicName",
    "RoleName",
    "BucketName",
    "AlarmName",
    "DashboardName",
];

/// The resource attributes that are not properties.
#[derive(Clone, Debug, Default)]
pub struct Options {
    depends_on: BTreeSet<String>,
    deletion_policy: Option<Policy>,
    update_replace_policy: Option<Policy>,
    condition: Option<String>,
    metadata: BTreeMap<String, Value>,
}

impl Options {
    pub fn new() -> Options {
        Options::default()
    }
    /// An explicit `DependsOn`. Only needed where no `Ref`/`GetAtt` already implies it.
    pub fn depends_on(mut self, other: impl Into<AnyHandle>) -> Options {
        self.depends_on.insert(other.into().0);
        self
    }
    pub fn deletion_policy(mut self, p: Policy) -> Options {
        self.deletion_policy = Some(p);
        self
    }
    pub fn update_replace_policy(mut self, p: Policy) -> Options {
        self.update_replace_policy = Some(p);
        self
    }
    /// Sets both `DeletionPolicy` and `UpdateReplacePolicy`. `RetainExceptOnCreate` applies to
    /// deletion only (CloudFormation does not accept it as an `UpdateReplacePolicy`): the
    /// replaced resource is then retained.
    pub fn policy(self, p: Policy) -> Options {
        let replace = if p == Policy::RetainExceptOnCreate {
            Policy::Retain
        } else {
            p
        };
        self.deletion_policy(p).update_replace_policy(replace)
    }
    pub fn condition(mut self, c: &ConditionHandle) -> Options {
        self.condition = Some(c.0.clone());
        self
    }
    /// Adds one `Metadata` entry (e.g. `cfn_nag` or `checkov` suppressions).
    pub fn metadata(mut self, key: impl Into<String>, value: Value) -> Options {
        self.metadata.insert(key.into(), value);
        self
    }
}

impl<R> From<&Handle<R>> for AnyHandle {
    fn from(h: &Handle<R>) -> AnyHandle {
        h.any()
    }
}

/// One resource, as emitted.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    #[serde(rename = "Type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<String>,
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    depends_on: BTreeSet<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_policy: Option<Policy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_replace_policy: Option<Policy>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, Value>,
    #[serde(skip_serializing_if = "is_empty_object")]
    properties: Value,
}

fn is_empty_object(v: &Value) -> bool {
    v.as_object().is_some_and(|o| o.is_empty()) || v.is_null()
}

/// A stack output.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<String>,
    value: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    export: Option<Export>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Export {
    name: Expr,
}

impl Output {
    pub fn new(value: impl Into<Expr>) -> Output {
        Output {
            description: None,
            condition: None,
            value: value.into(),
            export: None,
        }
    }
    pub fn description(mut self, d: impl Into<String>) -> Output {
        self.description = Some(d.into());
        self
    }
    /// Exports the value under a name other stacks can `Fn::ImportValue`.
    pub fn export(mut self, name: impl Into<Expr>) -> Output {
        self.export = Some(Export { name: name.into() });
        self
    }
    pub fn condition(mut self, c: &ConditionHandle) -> Output {
        self.condition = Some(c.0.clone());
        self
    }
}

/// A CloudFormation template under construction.
///
/// Adding things never fails: problems (an invalid or duplicate logical id) are collected and
/// reported together by [`Template::synth`], which also checks every reference.
#[derive(Clone, Debug, Default)]
pub struct Template {
    description: Option<String>,
    parameters: BTreeMap<String, Parameter>,
    conditions: BTreeMap<String, Cond>,
    resources: BTreeMap<String, Entry>,
    outputs: BTreeMap<String, Output>,
    problems: Vec<String>,
}

/// Why a template cannot be synthesized. Each problem names the logical id it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the template is not valid CloudFormation:\n  - {}", .problems.join("\n  - "))]
pub struct SynthError {
    pub problems: Vec<String>,
}

/// Checks a logical id: 1 to 255 ASCII letters and digits.
pub fn validate_logical_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("a logical id cannot be empty".into());
    }
    if id.len() > LOGICAL_ID_MAX {
        return Err(format!(
            "logical id {id:?} is {} characters long; CloudFormation allows at most {LOGICAL_ID_MAX}",
            id.len()
        ));
    }
    if let Some(c) = id.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Err(format!(
            "logical id {id:?} contains {c:?}; CloudFormation allows only ASCII letters and digits"
        ));
    }
    Ok(())
}

impl Template {
    pub fn new(description: impl Into<String>) -> Template {
        Template {
            description: Some(description.into()),
            ..Template::default()
        }
    }

    fn claim(&mut self, kind: &str, id: &str, taken: bool) {
        if let Err(e) = validate_logical_id(id) {
            self.problems.push(format!("{kind} {id:?}: {e}"));
        }
        if taken {
            self.problems.push(format!(
                "{kind} {id:?}: the logical id is already used in this template"
            ));
        }
    }

    /// Adds a resource with no resource attributes.
    pub fn add<R: Resource>(&mut self, id: &str, resource: R) -> Handle<R> {
        self.add_with(id, resource, Options::default())
    }

    /// Adds a resource with resource attributes (policies, `DependsOn`, condition, metadata).
    pub fn add_with<R: Resource>(&mut self, id: &str, resource: R, options: Options) -> Handle<R> {
        let taken = self.resources.contains_key(id) || self.parameters.contains_key(id);
        self.claim("resource", id, taken);
        if !taken {
            self.resources.insert(
                id.to_owned(),
                Entry {
                    kind: R::TYPE,
                    condition: options.condition,
                    depends_on: options.depends_on,
                    deletion_policy: options.deletion_policy,
                    update_replace_policy: options.update_replace_policy,
                    metadata: options.metadata,
                    properties: resource.properties(),
                },
            );
        }
        Handle {
            id: id.to_owned(),
            _resource: PhantomData,
        }
    }

    pub fn parameter(&mut self, id: &str, parameter: Parameter) -> ParamHandle {
        let taken = self.resources.contains_key(id) || self.parameters.contains_key(id);
        self.claim("parameter", id, taken);
        if !taken {
            self.parameters.insert(id.to_owned(), parameter);
        }
        ParamHandle(id.to_owned())
    }

    pub fn condition(&mut self, name: &str, condition: Cond) -> ConditionHandle {
        let taken = self.conditions.contains_key(name);
        self.claim("condition", name, taken);
        if !taken {
            self.conditions.insert(name.to_owned(), condition);
        }
        ConditionHandle(name.to_owned())
    }

    pub fn output(&mut self, id: &str, output: Output) {
        let taken = self.outputs.contains_key(id);
        self.claim("output", id, taken);
        if !taken {
            self.outputs.insert(id.to_owned(), output);
        }
    }

    /// Number of resources so far.
    pub fn resource_count(&self) -> usize {
        self.resources.len()
    }

    /// The logical ids and types of the resources, sorted by id.
    pub fn resource_types(&self) -> impl Iterator<Item = (&str, &'static str)> {
        self.resources.iter().map(|(id, e)| (id.as_str(), e.kind))
    }

    /// Checks the template and returns its final form, ready to emit as YAML or JSON.
    ///
    /// Refuses: invalid or duplicate logical ids, a `Ref`/`Fn::GetAtt`/`Fn::Sub` name or a
    /// `DependsOn` that names nothing in the template, a `GetAtt` of a parameter, an unknown
    /// condition, a dependency cycle between resources, more than 500 resources.
    pub fn synth(&self) -> Result<Synthesized, SynthError> {
        self.clone().into_synth()
    }

    /// [`Template::synth`], consuming the template: no copy of its resources (what
    /// `infra_model::synth` uses; a third of synthesis's time was that copy).
    pub fn into_synth(self) -> Result<Synthesized, SynthError> {
        let problems = self.check();
        if !problems.is_empty() {
            return Err(SynthError { problems });
        }
        let mut resources = self.resources;
        for e in resources.values_mut() {
            e.properties.sort_all_objects();
            e.metadata.values_mut().for_each(Value::sort_all_objects);
        }
        Ok(Synthesized {
            document: Document {
                version: "2010-09-09",
                description: self.description,
                parameters: self.parameters,
                conditions: self.conditions,
                resources,
                outputs: self.outputs,
            },
        })
    }

    /// Every problem of the template: those met while adding, limits, references, conditions,
    /// dependency cycles.
    fn check(&self) -> Vec<String> {
        let mut problems = self.problems.clone();
        if self.resources.is_empty() {
            problems.push("a template needs at least one resource".into());
        }
        if self.resources.len() > RESOURCE_LIMIT {
            problems.push(format!(
                "the template has {} resources; CloudFormation allows at most {RESOURCE_LIMIT} per stack",
                self.resources.len()
            ));
        }

        let mut graph: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for (id, entry) in &self.resources {
            // `Retain` keeps a resource even when the operation that created it rolls back; one
            // with a fixed physical name then makes the next create fail with "already
            // exists". `RetainExceptOnCreate` deletes it when its own creation is rolled back
            // (AWS CloudFormation User Guide, "DeletionPolicy attribute").
            if entry.deletion_policy == Some(Policy::Retain)
                && let Some(key) = FIXED_NAME_PROPERTIES
                    .iter()
                    .find(|k| entry.properties.get(**k).is_some())
            {
                problems.push(format!(
                    "resource {id}: DeletionPolicy Retain with a fixed {key}: a rolled-back create would leave it behind and \
                     the next create fail; use RetainExceptOnCreate"
                ));
            }
            let mut refs = Refs::default();
            collect_refs(&entry.properties, &mut refs);
            entry.metadata.values().for_each(|v| collect_refs(v, &mut refs));
            let place = format!("resource {id}");
            self.check_refs(&place, &refs, &mut problems);
            if let Some(c) = &entry.condition {
                self.check_condition(&place, c, &mut problems);
            }
            let mut deps: BTreeSet<String> = refs
                .resources
                .into_iter()
                .filter(|r| self.resources.contains_key(r))
                .collect();
            for d in &entry.depends_on {
                if !self.resources.contains_key(d) {
                    problems.push(format!(
                        "{place}: DependsOn {d:?}, which is not a resource in this template"
                    ));
                } else if d == id {
                    problems.push(format!("{place}: DependsOn itself"));
                }
                deps.insert(d.clone());
            }
            graph.insert(id, deps);
        }
        for (name, cond) in &self.conditions {
            let v = serde_json::to_value(cond).unwrap_or(Value::Null);
            let mut refs = Refs::default();
            collect_refs(&v, &mut refs);
            let place = format!("condition {name}");
            for r in &refs.resources {
                if !self.parameters.contains_key(r) && Pseudo::from_name(r).is_none() {
                    problems.push(format!(
                        "{place}: refers to {r:?}; a condition may only refer to parameters and pseudo parameters"
                    ));
                }
            }
            for c in &refs.conditions {
                self.check_condition(&place, c, &mut problems);
            }
        }
        for (id, output) in &self.outputs {
            let v = serde_json::to_value(output).unwrap_or(Value::Null);
            let mut refs = Refs::default();
            collect_refs(&v, &mut refs);
            let place = format!("output {id}");
            self.check_refs(&place, &refs, &mut problems);
            if let Some(c) = &output.condition {
                self.check_condition(&place, c, &mut problems);
            }
        }
        if let Some(cycle) = find_cycle(&graph) {
            problems.push(format!(
                "circular dependency between resources: {}",
                cycle.join(" -> ")
            ));
        }

        problems
    }

    fn check_condition(&self, place: &str, name: &str, problems: &mut Vec<String>) {
        if !self.conditions.contains_key(name) {
            problems.push(format!("{place}: uses condition {name:?}, which is not defined"));
        }
    }

    fn check_refs(&self, place: &str, refs: &Refs, problems: &mut Vec<String>) {
        for r in &refs.resources {
            let known = self.resources.contains_key(r)
                || self.parameters.contains_key(r)
                || Pseudo::from_name(r).is_some();
            if !known {
                problems.push(format!(
                    "{place}: refers to {r:?}, which is not a resource, parameter or pseudo parameter of this template"
                ));
            }
        }
        for r in &refs.attributes {
            if self.parameters.contains_key(r) {
                problems.push(format!(
                    "{place}: Fn::GetAtt of parameter {r:?}; a parameter has no attributes"
                ));
            }
        }
        for c in &refs.conditions {
            self.check_condition(place, c, problems);
        }
        for e in &refs.errors {
            problems.push(format!("{place}: {e}"));
        }
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Document {
    #[serde(rename = "AWSTemplateFormatVersion")]
    version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    parameters: BTreeMap<String, Parameter>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    conditions: BTreeMap<String, Cond>,
    resources: BTreeMap<String, Entry>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    outputs: BTreeMap<String, Output>,
}

/// A checked template. Emission is deterministic: the same model gives the same bytes.
#[derive(Clone, Debug)]
pub struct Synthesized {
    document: Document,
}

impl Synthesized {
    /// The template as YAML (what `synth` writes and the snapshots hold).
    pub fn to_yaml(&self) -> String {
        crate::cfn::yaml::to_string(&self.document)
            .expect("a template of strings, numbers and maps always serializes")
    }

    /// The template as indented JSON.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.document)
            .expect("a template of strings, numbers and maps always serializes");
        s.push('\n');
        s
    }

    /// The template as compact JSON: the smallest form, used to deploy.
    pub fn to_json_compact(&self) -> String {
        serde_json::to_string(&self.document)
            .expect("a template of strings, numbers and maps always serializes")
    }

    /// The template as a JSON value, for tests that inspect it.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(&self.document)
            .expect("a template of strings, numbers and maps always serializes")
    }

    pub fn resource_count(&self) -> usize {
        self.document.resources.len()
    }

    /// The names of the parameters the template declares.
    pub fn parameter_names(&self) -> impl Iterator<Item = &str> {
        self.document.parameters.keys().map(String::as_str)
    }
}
