//! Reading a synthesized template as JSON: the references between its parts, the parameters
//! deploy fills in, and the comparison with what a stack runs.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use infra_model::cfn::{INLINE_TEMPLATE_LIMIT, S3_TEMPLATE_LIMIT};
use infra_model::system::FUNCTIONS;
use infra_model::system::parameters;
use serde_json::{Map, Value};

use crate::artifact::Artifact;

/// How one part of a template names another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    /// `{"Ref": "X"}`
    Ref,
    /// `{"Fn::GetAtt": ["X", "Attr"]}`
    GetAtt,
    /// `${X}` in a `Fn::Sub` string
    SubVar,
    /// `${X.Attr}` in a `Fn::Sub` string
    SubAttr,
}

impl RefKind {
    /// Whether the reference is to the resource's `Ref` value (which a literal can replace),
    /// rather than to one of its attributes.
    pub fn is_plain(self) -> bool {
        matches!(self, RefKind::Ref | RefKind::SubVar)
    }
}

/// Every logical id or parameter a value names (`Ref`, `Fn::GetAtt`, `Fn::Sub`), with how.
/// Pseudo parameters (`AWS::Region`) are included; callers filter by what they look for.
pub fn references(v: &Value) -> Vec<(String, RefKind)> {
    let mut out = Vec::new();
    collect_refs(v, &mut out);
    out
}

fn collect_refs(v: &Value, out: &mut Vec<(String, RefKind)>) {
    match v {
        Value::Object(m) if m.len() == 1 => {
            let Some((k, inner)) = m.iter().next() else {
                return;
            };
            match (k.as_str(), inner) {
                ("Ref", Value::String(name)) => out.push((name.clone(), RefKind::Ref)),
                ("Fn::GetAtt", Value::Array(parts)) => {
                    if let Some(Value::String(name)) = parts.first() {
                        out.push((name.clone(), RefKind::GetAtt));
                    }
                }
                ("Fn::GetAtt", Value::String(dotted)) => {
                    let name = dotted.split('.').next().unwrap_or(dotted);
                    out.push((name.to_owned(), RefKind::GetAtt));
                }
                ("Fn::Sub", Value::String(s)) => sub_refs(s, &BTreeSet::new(), out),
                ("Fn::Sub", Value::Array(parts)) => {
                    let vars: BTreeSet<String> = parts
                        .get(1)
                        .and_then(Value::as_object)
                        .map(|m| m.keys().cloned().collect())
                        .unwrap_or_default();
                    if let Some(Value::String(s)) = parts.first() {
                        sub_refs(s, &vars, out);
                    }
                    if let Some(m) = parts.get(1) {
                        collect_refs(m, out);
                    }
                }
                _ => collect_refs(inner, out),
            }
        }
        Value::Object(m) => m.values().for_each(|x| collect_refs(x, out)),
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

fn sub_refs(s: &str, local_vars: &BTreeSet<String>, out: &mut Vec<(String, RefKind)>) {
    let Ok(vars) = infra_model::cfn::sub_variables(s) else {
        return;
    };
    for var in vars {
        let (name, kind) = match var.split_once('.') {
            Some((name, _)) => (name, RefKind::SubAttr),
            None => (var, RefKind::SubVar),
        };
        if !local_vars.contains(var) {
            out.push((name.to_owned(), kind));
        }
    }
}

/// The conditions a value names (`Fn::If` and `{"Condition": X}` inside condition functions).
pub fn condition_references(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect_conditions(v, &mut out);
    out
}

fn collect_conditions(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, inner) in m {
                match (k.as_str(), inner) {
                    ("Fn::If", Value::Array(parts)) => {
                        if let Some(Value::String(c)) = parts.first() {
                            out.insert(c.clone());
                        }
                        parts.iter().skip(1).for_each(|p| collect_conditions(p, out));
                    }
                    ("Condition", Value::String(c)) if m.len() == 1 => {
                        out.insert(c.clone());
                    }
                    _ => collect_conditions(inner, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_conditions(x, out)),
        _ => {}
    }
}

/// Replaces `{"Ref": X}` and `${X}` (in `Fn::Sub` strings) by a literal, for each X in `with`.
pub fn substitute(v: &mut Value, with: &BTreeMap<String, String>) {
    if with.is_empty() {
        return;
    }
    match v {
        Value::Object(m) if m.len() == 1 => {
            if let Some(Value::String(name)) = m.get("Ref")
                && let Some(lit) = with.get(name)
            {
                *v = Value::String(lit.clone());
                return;
            }
            if let Some(sub) = m.get_mut("Fn::Sub") {
                match sub {
                    Value::String(s) => *s = sub_replace(s, with, &BTreeSet::new()),
                    Value::Array(parts) => {
                        let vars: BTreeSet<String> = parts
                            .get(1)
                            .and_then(Value::as_object)
                            .map(|m| m.keys().cloned().collect())
                            .unwrap_or_default();
                        if let Some(Value::String(s)) = parts.first_mut() {
                            *s = sub_replace(s, with, &vars);
                        }
                        if let Some(m) = parts.get_mut(1) {
                            substitute(m, with);
                        }
                    }
                    _ => {}
                }
                return;
            }
            m.values_mut().for_each(|x| substitute(x, with));
        }
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, with)),
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, with)),
        _ => {}
    }
}

fn sub_replace(s: &str, with: &BTreeMap<String, String>, local_vars: &BTreeSet<String>) -> String {
    let mut out = s.to_owned();
    for (name, lit) in with {
        if !local_vars.contains(name) {
            out = out.replace(&format!("${{{name}}}", name = name), lit);
        }
    }
    out
}

/// The logical ids of the resources in an order where each comes after everything it names
/// (references and `DependsOn`); ties in logical-id order. Cycles (which synthesis refuses)
/// are broken arbitrarily rather than looping.
pub fn dependency_order(resources: &Map<String, Value>) -> Vec<String> {
    fn visit(
        id: &str,
        resources: &Map<String, Value>,
        state: &mut BTreeMap<String, bool>,
        out: &mut Vec<String>,
    ) {
        match state.get(id) {
            Some(_) => return, // done, or in progress (a cycle)
            None => {
                state.insert(id.to_owned(), false);
            }
        }
        let Some(r) = resources.get(id) else {
            return;
        };
        let mut deps: BTreeSet<String> = r
            .get("Properties")
            .map(references)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| resources.contains_key(name))
            .collect();
        deps.extend(depends_on(r).into_iter().filter(|d| resources.contains_key(d)));
        for d in deps {
            visit(&d, resources, state, out);
        }
        state.insert(id.to_owned(), true);
        out.push(id.to_owned());
    }
    let mut state = BTreeMap::new();
    let mut out = Vec::with_capacity(resources.len());
    for id in resources.keys() {
        visit(id, resources, &mut state, &mut out);
    }
    out
}

/// A resource's `DependsOn`, as a list.
pub fn depends_on(resource: &Value) -> Vec<String> {
    match resource.get("DependsOn") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// The template body sent to CloudFormation: compact JSON with every object's keys sorted, so
/// that the bytes (and the S3 key, their hash) do not depend on serde_json's map order (its
/// `preserve_order` feature, on in test builds, keeps insertion order).
pub fn body(template: &Value) -> String {
    infra_model::cfn::sorted(template.clone()).to_string()
}

/// [`body`] with the resources in the given order (every other map sorted).
pub fn to_json_ordered(template: &Value, order: &[String]) -> String {
    let template = infra_model::cfn::sorted(template.clone());
    let Some(obj) = template.as_object() else {
        return template.to_string();
    };
    let empty = Map::new();
    let resources = obj.get("Resources").and_then(Value::as_object).unwrap_or(&empty);
    let mut parts: Vec<String> = Vec::new();
    for (k, v) in obj {
        if k == "Resources" {
            let inner: Vec<String> = order
                .iter()
                .filter_map(|id| {
                    resources
                        .get(id)
                        .map(|r| format!("{}:{}", Value::from(id.as_str()), r))
                })
                .collect();
            parts.push(format!("\"Resources\":{{{}}}", inner.join(",")));
        } else {
            parts.push(format!("{}:{}", Value::from(k.as_str()), v));
        }
    }
    format!("{{{}}}", parts.join(","))
}

/// The template's resources (an empty map if it has none).
pub fn resources(template: &Value) -> Map<String, Value> {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The type of a resource.
pub fn resource_type(resource: &Value) -> &str {
    resource.get("Type").and_then(Value::as_str).unwrap_or("")
}

/// How the template body reaches CloudFormation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateDelivery {
    Inline,
    ViaS3,
}

/// Inline up to 51,200 bytes, through S3 above; refuses what S3 cannot take either.
pub fn delivery(body: &str) -> Result<TemplateDelivery> {
    if body.len() <= INLINE_TEMPLATE_LIMIT {
        Ok(TemplateDelivery::Inline)
    } else if body.len() <= S3_TEMPLATE_LIMIT {
        Ok(TemplateDelivery::ViaS3)
    } else {
        bail!(
            "the template is {} bytes, over CloudFormation's limit of {} bytes even through S3: \
             split the system into more than one stack",
            body.len(),
            S3_TEMPLATE_LIMIT
        )
    }
}

/// What deploy puts in the template's parameters.
#[derive(Clone, Debug)]
pub struct ParameterInputs<'a> {
    pub bucket: &'a str,
    pub artifacts: &'a [Artifact],
    /// `--alarm-email`; `None` keeps the deployed value (or the default on first deploy).
    pub alarm_email: Option<&'a str>,
    /// The values the stack has now, if it exists.
    pub deployed: &'a BTreeMap<String, String>,
}

/// The value of every parameter the template declares: the artifacts bucket, each function's
/// content-addressed code key, the alarm e-mail. A parameter with a default that deploy does
/// not know keeps its deployed value, or its default.
pub fn parameter_values(template: &Value, inputs: &ParameterInputs<'_>) -> Result<BTreeMap<String, String>> {
    let declared = template
        .get("Parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut values = BTreeMap::new();
    let mut missing_artifacts = Vec::new();
    for (name, decl) in &declared {
        let default = decl.get("Default").and_then(Value::as_str);
        let value = if name == parameters::ARTIFACTS_BUCKET {
            inputs.bucket.to_owned()
        } else if name == parameters::ALARM_EMAIL {
            match (inputs.alarm_email, inputs.deployed.get(name)) {
                (Some(v), _) => v.to_owned(),
                (None, Some(v)) => v.clone(),
                (None, None) => default.unwrap_or("").to_owned(),
            }
        } else if let Some(f) = FUNCTIONS.iter().find(|f| parameters::code_key(f.id) == *name) {
            match inputs.artifacts.iter().find(|a| a.function == f.name) {
                Some(a) => parameters::code_key_value(&a.function, &a.sha256),
                None => {
                    missing_artifacts.push(f.name);
                    continue;
                }
            }
        } else if let Some(v) = inputs.deployed.get(name) {
            v.clone()
        } else if let Some(d) = default {
            d.to_owned()
        } else {
            bail!(
                "the template's parameter {name} has no default and deploy does not know what to put in it"
            );
        };
        values.insert(name.clone(), value);
    }
    if !missing_artifacts.is_empty() {
        bail!(
            "no artifact for the function(s) {}: build them first (`cargo xtask build`)",
            missing_artifacts.join(", ")
        );
    }
    Ok(values)
}

/// The parameters whose values differ between two sets (a parameter only in one counts).
pub fn changed_parameters(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> BTreeSet<String> {
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// The resources whose properties name one of the given parameters: what a change of those
/// parameters modifies.
pub fn resources_using(template: &Value, params: &BTreeSet<String>) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for (id, r) in resources(template) {
        let used: BTreeSet<String> = r
            .get("Properties")
            .map(references)
            .unwrap_or_default()
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| params.contains(n))
            .collect();
        if !used.is_empty() {
            out.push((
                id.clone(),
                resource_type(&r).to_owned(),
                used.into_iter().collect(),
            ));
        }
    }
    out
}

/// The top-level properties (and resource attributes such as `DependsOn`) that differ between
/// two versions of a resource, plus those that name a changed parameter.
pub fn changed_properties(
    old: Option<&Value>,
    new: &Value,
    changed_params: &BTreeSet<String>,
) -> Vec<String> {
    let empty = Map::new();
    let props = |r: Option<&Value>| {
        r.and_then(|r| r.get("Properties"))
            .and_then(Value::as_object)
            .cloned()
    };
    let old_props = props(old).unwrap_or_default();
    let new_props = props(Some(new)).unwrap_or_else(|| empty.clone());
    let mut out: BTreeSet<String> = BTreeSet::new();
    for k in old_props.keys().chain(new_props.keys()) {
        if old_props.get(k) != new_props.get(k) {
            out.insert(k.clone());
        }
    }
    for (k, v) in &new_props {
        if references(v).iter().any(|(n, _)| changed_params.contains(n)) {
            out.insert(k.clone());
        }
    }
    for attr in [
        "DependsOn",
        "DeletionPolicy",
        "UpdateReplacePolicy",
        "Condition",
        "Metadata",
    ] {
        if old.and_then(|o| o.get(attr)) != new.get(attr) && old.is_some() {
            out.insert(attr.to_owned());
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
