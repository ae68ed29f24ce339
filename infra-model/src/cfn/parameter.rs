//! A template's parameters and the handles to them and to its conditions.

use serde::Serialize;

use super::expr::Expr;

/// A template parameter.
#[derive(Clone, Debug, Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_echo: bool,
}

impl Parameter {
    pub fn string(description: impl Into<String>) -> Parameter {
        Parameter {
            kind: "String".into(),
            description: Some(description.into()),
            ..Parameter::default()
        }
    }
    pub fn number(description: impl Into<String>) -> Parameter {
        Parameter {
            kind: "Number".into(),
            description: Some(description.into()),
            ..Parameter::default()
        }
    }
    pub fn default_value(mut self, v: impl Into<String>) -> Parameter {
        self.default = Some(v.into());
        self
    }
    pub fn allowed_values(mut self, vs: impl IntoIterator<Item = impl Into<String>>) -> Parameter {
        self.allowed_values = vs.into_iter().map(Into::into).collect();
        self
    }
    pub fn pattern(mut self, pattern: impl Into<String>, explanation: impl Into<String>) -> Parameter {
        self.allowed_pattern = Some(pattern.into());
        self.constraint_description = Some(explanation.into());
        self
    }
    pub fn length(mut self, min: u32, max: u32) -> Parameter {
        self.min_length = Some(min);
        self.max_length = Some(max);
        self
    }
}

/// A handle to a parameter of a template.
#[derive(Clone, Debug)]
pub struct ParamHandle(pub(super) String);

impl ParamHandle {
    pub fn name(&self) -> &str {
        &self.0
    }
    pub fn reference(&self) -> Expr {
        Expr::reference(&self.0)
    }
}

/// A handle to a named condition of a template.
#[derive(Clone, Debug)]
pub struct ConditionHandle(pub(super) String);

impl ConditionHandle {
    pub fn name(&self) -> &str {
        &self.0
    }
}
