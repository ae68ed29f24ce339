//! What a template's values refer to (resources, attributes, conditions), and dependency cycles.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::expr::sub_variables;

#[derive(Default)]
pub(super) struct Refs {
    /// Names used by `Ref`, `Fn::GetAtt` and `Fn::Sub`.
    pub(super) resources: BTreeSet<String>,
    /// Names used by `Fn::GetAtt` (and `${X.Attr}` in `Fn::Sub`).
    pub(super) attributes: BTreeSet<String>,
    /// Condition names used by `Fn::If` and `Condition`.
    pub(super) conditions: BTreeSet<String>,
    pub(super) errors: Vec<String>,
}

pub(super) fn collect_refs(v: &Value, out: &mut Refs) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        Value::Object(map) => {
            if map.len() == 1 {
                let (k, arg) = map.iter().next().expect("one entry");
                match (k.as_str(), arg) {
                    ("Ref", Value::String(id)) => {
                        out.resources.insert(id.clone());
                        return;
                    }
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        if let Some(Value::String(id)) = parts.first() {
                            out.resources.insert(id.clone());
                            out.attributes.insert(id.clone());
                        }
                        parts.iter().skip(1).for_each(|p| collect_refs(p, out));
                        return;
                    }
                    ("Fn::GetAtt", Value::String(dotted)) => {
                        let id = dotted.split('.').next().unwrap_or_default().to_owned();
                        out.resources.insert(id.clone());
                        out.attributes.insert(id);
                        return;
                    }
                    ("Fn::Sub", Value::String(t)) => {
                        add_sub_vars(t, &serde_json::Map::new(), out);
                        return;
                    }
                    ("Fn::Sub", Value::Array(parts)) => {
                        let empty = serde_json::Map::new();
                        let vars = parts.get(1).and_then(Value::as_object).unwrap_or(&empty);
                        if let Some(Value::String(t)) = parts.first() {
                            add_sub_vars(t, vars, out);
                        }
                        vars.values().for_each(|v| collect_refs(v, out));
                        return;
                    }
                    ("Fn::If", Value::Array(parts)) => {
                        if let Some(Value::String(c)) = parts.first() {
                            out.conditions.insert(c.clone());
                        }
                        parts.iter().skip(1).for_each(|p| collect_refs(p, out));
                        return;
                    }
                    ("Condition", Value::String(c)) => {
                        out.conditions.insert(c.clone());
                        return;
                    }
                    _ => {}
                }
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        _ => {}
    }
}

fn add_sub_vars(template: &str, vars: &serde_json::Map<String, Value>, out: &mut Refs) {
    match sub_variables(template) {
        Ok(names) => {
            for name in names {
                if vars.contains_key(name) {
                    continue;
                }
                match name.split_once('.') {
                    Some((id, _attr)) => {
                        out.resources.insert(id.to_owned());
                        out.attributes.insert(id.to_owned());
                    }
                    None => {
                        out.resources.insert(name.to_owned());
                    }
                }
            }
        }
        Err(e) => out.errors.push(e),
    }
}

/// The first dependency cycle found, as a path that starts and ends at the same id.
pub(super) fn find_cycle(graph: &BTreeMap<&str, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<&str, BTreeSet<String>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Visiting) => {
                let start = path.iter().position(|n| *n == node).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node, Mark::Visiting);
        path.push(node);
        if let Some(deps) = graph.get(node) {
            for d in deps {
                if let Some(c) = visit(d, graph, marks, path) {
                    return Some(c);
                }
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}
