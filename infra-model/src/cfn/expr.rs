//! CloudFormation values and intrinsic functions as one typed expression.
//!
//! An [`Expr`] is opaque: a reference to a resource can only be made from that resource's
//! [`Handle`](super::Handle) (or a parameter's), so a `Ref` to something that was never added
//! cannot be written by accident. Synthesis still checks every reference in the finished
//! template (see [`Template::synth`](super::Template::synth)), which also covers the names
//! inside `Fn::Sub` strings.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// A CloudFormation value: a literal, a list or map of values, or an intrinsic function.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr(Node);

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Bool(bool),
    Int(i64),
    Str(String),
    Json(serde_json::Value),
    List(Vec<Expr>),
    Map(BTreeMap<String, Expr>),
    Ref(String),
    GetAtt(String, String),
    Sub(String, BTreeMap<String, Expr>),
    Join(String, Vec<Expr>),
    Select(u32, Box<Expr>),
    Split(String, Box<Expr>),
    If(String, Box<Expr>, Box<Expr>),
    ImportValue(Box<Expr>),
    GetAzs(Box<Expr>),
    Base64(Box<Expr>),
}

/// The pseudo parameters CloudFormation defines in every stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pseudo {
    Region,
    AccountId,
    Partition,
    StackName,
    StackId,
    UrlSuffix,
    NoValue,
    NotificationArns,
}

impl Pseudo {
    pub const ALL: [Pseudo; 8] = [
        Pseudo::Region,
        Pseudo::AccountId,
        Pseudo::Partition,
        Pseudo::StackName,
        Pseudo::StackId,
        Pseudo::UrlSuffix,
        Pseudo::NoValue,
        Pseudo::NotificationArns,
    ];

    /// The name CloudFormation knows it by, e.g. `AWS::Region`.
    pub fn name(self) -> &'static str {
        match self {
            Pseudo::Region => "AWS::Region",
            Pseudo::AccountId => "AWS::AccountId",
            Pseudo::Partition => "AWS::Partition",
            Pseudo::StackName => "AWS::StackName",
            Pseudo::StackId => "AWS::StackId",
            Pseudo::UrlSuffix => "AWS::URLSuffix",
            Pseudo::NoValue => "AWS::NoValue",
            Pseudo::NotificationArns => "AWS::NotificationARNs",
        }
    }

    pub fn from_name(name: &str) -> Option<Pseudo> {
        Pseudo::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl From<Pseudo> for Expr {
    fn from(p: Pseudo) -> Expr {
        Expr(Node::Ref(p.name().to_owned()))
    }
}

impl Expr {
    /// A literal string.
    pub fn str(s: impl Into<String>) -> Expr {
        Expr(Node::Str(s.into()))
    }

    /// A literal integer.
    pub fn int(i: i64) -> Expr {
        Expr(Node::Int(i))
    }

    /// A literal boolean.
    pub fn bool(b: bool) -> Expr {
        Expr(Node::Bool(b))
    }

    /// Literal JSON data (a policy fragment, a dashboard body, ...). Any `Ref` it contains is
    /// still checked at synthesis.
    pub fn json(v: serde_json::Value) -> Expr {
        Expr(Node::Json(v))
    }

    /// A list of values.
    pub fn list(items: impl IntoIterator<Item = impl Into<Expr>>) -> Expr {
        Expr(Node::List(items.into_iter().map(Into::into).collect()))
    }

    /// A map of values, emitted with its keys sorted.
    pub fn map<K: Into<String>, V: Into<Expr>>(entries: impl IntoIterator<Item = (K, V)>) -> Expr {
        Expr(Node::Map(
            entries.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        ))
    }

    /// `Ref` to a logical id. Crate-private: outside code gets references from handles.
    pub(crate) fn reference(logical_id: &str) -> Expr {
        Expr(Node::Ref(logical_id.to_owned()))
    }

    /// `Fn::GetAtt`. Crate-private: each resource type offers its attributes as methods.
    pub(crate) fn get_att(logical_id: &str, attribute: &str) -> Expr {
        Expr(Node::GetAtt(logical_id.to_owned(), attribute.to_owned()))
    }

    /// `Fn::Sub` with a template string only: `${Name}` refers to a resource, parameter or
    /// pseudo parameter, `${Name.Attr}` to an attribute, `${!Literal}` is a literal `${Literal}`.
    pub fn sub(template: impl Into<String>) -> Expr {
        Expr(Node::Sub(template.into(), BTreeMap::new()))
    }

    /// `Fn::Sub` with variables: `${var}` is replaced by the value given for `var`.
    pub fn sub_with<K: Into<String>, V: Into<Expr>>(
        template: impl Into<String>,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Expr {
        Expr(Node::Sub(
            template.into(),
            vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        ))
    }

    /// `Fn::Join`.
    pub fn join(delimiter: impl Into<String>, parts: impl IntoIterator<Item = impl Into<Expr>>) -> Expr {
        Expr(Node::Join(
            delimiter.into(),
            parts.into_iter().map(Into::into).collect(),
        ))
    }

    /// `Fn::Select`: the element at `index` of a list.
    pub fn select(index: u32, list: impl Into<Expr>) -> Expr {
        Expr(Node::Select(index, Box::new(list.into())))
    }

    /// `Fn::Split`: a string split into a list.
    pub fn split(delimiter: impl Into<String>, source: impl Into<Expr>) -> Expr {
        Expr(Node::Split(delimiter.into(), Box::new(source.into())))
    }

    /// `Fn::If`: `then` when the condition holds, `otherwise` when not.
    pub fn if_(
        condition: &super::ConditionHandle,
        then: impl Into<Expr>,
        otherwise: impl Into<Expr>,
    ) -> Expr {
        Expr(Node::If(
            condition.name().to_owned(),
            Box::new(then.into()),
            Box::new(otherwise.into()),
        ))
    }

    /// `Fn::ImportValue`: an output exported by another stack.
    pub fn import_value(export_name: impl Into<Expr>) -> Expr {
        Expr(Node::ImportValue(Box::new(export_name.into())))
    }

    /// `Fn::GetAZs` for the stack's own region.
    pub fn azs() -> Expr {
        Expr(Node::GetAzs(Box::new(Expr::str(""))))
    }

    /// `Fn::GetAZs` for a given region.
    pub fn azs_in(region: impl Into<Expr>) -> Expr {
        Expr(Node::GetAzs(Box::new(region.into())))
    }

    /// `Fn::Base64`.
    pub fn base64(value: impl Into<Expr>) -> Expr {
        Expr(Node::Base64(Box::new(value.into())))
    }

    pub fn region() -> Expr {
        Pseudo::Region.into()
    }
    pub fn account_id() -> Expr {
        Pseudo::AccountId.into()
    }
    pub fn partition() -> Expr {
        Pseudo::Partition.into()
    }
    pub fn stack_name() -> Expr {
        Pseudo::StackName.into()
    }
    pub fn stack_id() -> Expr {
        Pseudo::StackId.into()
    }
    pub fn url_suffix() -> Expr {
        Pseudo::UrlSuffix.into()
    }
    /// `Ref AWS::NoValue`: removes the property it is the value of.
    pub fn no_value() -> Expr {
        Pseudo::NoValue.into()
    }

    /// The literal string inside, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.0 {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The logical id this expression refers to, if it is a plain `Ref` or `Fn::GetAtt`.
    pub fn target(&self) -> Option<&str> {
        match &self.0 {
            Node::Ref(id) | Node::GetAtt(id, _) => Some(id),
            _ => None,
        }
    }
}

impl From<&str> for Expr {
    fn from(s: &str) -> Expr {
        Expr::str(s)
    }
}
impl From<String> for Expr {
    fn from(s: String) -> Expr {
        Expr::str(s)
    }
}
impl From<&String> for Expr {
    fn from(s: &String) -> Expr {
        Expr::str(s.clone())
    }
}
impl From<i64> for Expr {
    fn from(i: i64) -> Expr {
        Expr::int(i)
    }
}
impl From<u32> for Expr {
    fn from(i: u32) -> Expr {
        Expr::int(i64::from(i))
    }
}
impl From<bool> for Expr {
    fn from(b: bool) -> Expr {
        Expr::bool(b)
    }
}
impl From<&Expr> for Expr {
    fn from(e: &Expr) -> Expr {
        e.clone()
    }
}
impl<T: Into<Expr>> From<Vec<T>> for Expr {
    fn from(v: Vec<T>) -> Expr {
        Expr::list(v)
    }
}

/// Serializes `{"<key>": <value>}`.
fn single<S: Serializer, V: Serialize + ?Sized>(s: S, key: &str, value: &V) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(1))?;
    m.serialize_entry(key, value)?;
    m.end()
}

/// A heterogeneous two-element list.
struct Pair<'a, A: ?Sized, B: ?Sized>(&'a A, &'a B);
impl<A: Serialize + ?Sized, B: Serialize + ?Sized> Serialize for Pair<'_, A, B> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(2))?;
        seq.serialize_element(self.0)?;
        seq.serialize_element(self.1)?;
        seq.end()
    }
}

impl Serialize for Expr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Int(i) => s.serialize_i64(*i),
            Node::Str(v) => s.serialize_str(v),
            Node::Json(v) => v.serialize(s),
            Node::List(items) => items.serialize(s),
            Node::Map(m) => m.serialize(s),
            Node::Ref(id) => single(s, "Ref", id),
            Node::GetAtt(id, att) => single(s, "Fn::GetAtt", &[id, att]),
            Node::Sub(t, vars) if vars.is_empty() => single(s, "Fn::Sub", t),
            Node::Sub(t, vars) => single(s, "Fn::Sub", &Pair(t, vars)),
            Node::Join(d, parts) => single(s, "Fn::Join", &Pair(d, parts)),
            Node::Select(i, list) => single(s, "Fn::Select", &Pair(i, list.as_ref())),
            Node::Split(d, src) => single(s, "Fn::Split", &Pair(d, src.as_ref())),
            Node::If(c, a, b) => {
                struct Triple<'a>(&'a str, &'a Expr, &'a Expr);
                impl Serialize for Triple<'_> {
                    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                        let mut seq = s.serialize_seq(Some(3))?;
                        seq.serialize_element(self.0)?;
                        seq.serialize_element(self.1)?;
                        seq.serialize_element(self.2)?;
                        seq.end()
                    }
                }
                single(s, "Fn::If", &Triple(c, a, b))
            }
            Node::ImportValue(v) => single(s, "Fn::ImportValue", v.as_ref()),
            Node::GetAzs(v) => single(s, "Fn::GetAZs", v.as_ref()),
            Node::Base64(v) => single(s, "Fn::Base64", v.as_ref()),
        }
    }
}

/// A condition expression, as used in the template's `Conditions` section.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// `Fn::Equals`.
    Equals(Expr, Expr),
    /// `Fn::And` (2 to 10 conditions).
    And(Vec<Cond>),
    /// `Fn::Or` (2 to 10 conditions).
    Or(Vec<Cond>),
    /// `Fn::Not`.
    Not(Box<Cond>),
    /// Another named condition.
    Condition(String),
}

impl Cond {
    pub fn equals(a: impl Into<Expr>, b: impl Into<Expr>) -> Cond {
        Cond::Equals(a.into(), b.into())
    }
    pub fn and(conds: impl IntoIterator<Item = Cond>) -> Cond {
        Cond::And(conds.into_iter().collect())
    }
    pub fn or(conds: impl IntoIterator<Item = Cond>) -> Cond {
        Cond::Or(conds.into_iter().collect())
    }
    #[allow(clippy::should_implement_trait)]
    pub fn not(c: Cond) -> Cond {
        Cond::Not(Box::new(c))
    }
    pub fn is(condition: &super::ConditionHandle) -> Cond {
        Cond::Condition(condition.name().to_owned())
    }
}

impl Serialize for Cond {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cond::Equals(a, b) => single(s, "Fn::Equals", &Pair(a, b)),
            Cond::And(cs) => single(s, "Fn::And", cs),
            Cond::Or(cs) => single(s, "Fn::Or", cs),
            Cond::Not(c) => single(s, "Fn::Not", &[c.as_ref()]),
            Cond::Condition(name) => single(s, "Condition", name),
        }
    }
}

/// Parses the variable names of a `Fn::Sub` template string: `${Name}` and `${Name.Attr}`,
/// skipping the literal form `${!...}`. Returns an error for an unterminated `${`.
pub fn sub_variables(template: &str) -> Result<Vec<&str>, String> {
    let mut vars = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unterminated `${{` in Fn::Sub string {template:?}"));
        };
        let name = &after[..end];
        if !name.starts_with('!') {
            vars.push(name.trim());
        }
        rest = &after[end + 1..];
    }
    Ok(vars)
}
