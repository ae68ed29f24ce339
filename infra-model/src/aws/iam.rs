//! IAM roles and policy documents. Policies are built from typed statements; the system never
//! writes IAM JSON by hand (see [`crate::decl::function`]).

use serde::Serialize;
use serde_json::{Value, json};

use crate::cfn::{Expr, Handle, Resource, Tag};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// IAM actions that support no resource-level permission: a statement grants them only with
/// `"Resource": "*"` (the Service Authorization Reference lists no resource type for them).
/// Naming a resource grants nothing, silently.
pub const ACCOUNT_LEVEL_ACTIONS: &[&str] = &[
    "dynamodb:ListStreams",
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
];

/// Who a statement in a resource policy or trust policy applies to.
#[derive(Clone, Debug, PartialEq)]
pub enum Principal {
    /// An AWS service, e.g. `lambda.amazonaws.com`.
    Service(&'static str),
    /// An account or role ARN.
    Aws(Expr),
    /// Anyone (`*`), narrowed by conditions.
    Anyone,
}

impl Serialize for Principal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Principal::Service(svc) => json!({"Service": svc}).serialize(s),
            Principal::Aws(arn) => json!({"AWS": arn}).serialize(s),
            Principal::Anyone => json!({"AWS": "*"}).serialize(s),
        }
    }
}

/// One statement of a policy.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    #[serde(rename = "Action")]
    pub actions: Vec<String>,
    #[serde(rename = "Resource", skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Expr>,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

impl Statement {
    /// Allows named actions on named resources.
    pub fn allow(
        sid: impl Into<String>,
        actions: impl IntoIterator<Item = impl Into<String>>,
        resources: impl IntoIterator<Item = Expr>,
    ) -> Statement {
        Statement {
            sid: Some(sid.into()),
            effect: Effect::Allow,
            principal: None,
            actions: actions.into_iter().map(Into::into).collect(),
            resources: resources.into_iter().collect(),
            condition: None,
        }
    }

    pub fn principal(mut self, p: Principal) -> Statement {
        self.principal = Some(p);
        self
    }

    pub fn condition(mut self, c: Value) -> Statement {
        self.condition = Some(c);
        self
    }

    pub fn deny(mut self) -> Statement {
        self.effect = Effect::Deny;
        self
    }
}

/// A policy document.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

impl PolicyDocument {
    pub fn new(statements: impl IntoIterator<Item = Statement>) -> PolicyDocument {
        PolicyDocument {
            statements: statements.into_iter().collect(),
        }
    }
}

impl Serialize for PolicyDocument {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json!({"Version": "2012-10-17", "Statement": self.statements}).serialize(s)
    }
}

/// An IAM role assumed by an AWS service, with inline policies.
#[derive(Clone, Debug, PartialEq)]
pub struct Role {
    pub description: String,
    pub assumed_by: &'static str,
    /// Restricts who may assume the role to this account (the confused-deputy guard).
    pub source_account_only: bool,
    pub policies: Vec<(String, PolicyDocument)>,
    pub managed_policy_arns: Vec<Expr>,
    pub tags: Vec<Tag>,
}

impl Role {
    pub fn for_service(service: &'static str, description: impl Into<String>) -> Role {
        Role {
            description: description.into(),
            assumed_by: service,
            source_account_only: true,
            policies: Vec::new(),
            managed_policy_arns: Vec::new(),
            tags: Vec::new(),
        }
    }

    pub fn policy(mut self, name: impl Into<String>, doc: PolicyDocument) -> Role {
        self.policies.push((name.into(), doc));
        self
    }
}

impl Resource for Role {
    const TYPE: &'static str = "AWS::IAM::Role";

    fn properties(&self) -> Value {
        let mut trust = Statement {
            sid: None,
            effect: Effect::Allow,
            principal: Some(Principal::Service(self.assumed_by)),
            actions: vec!["sts:AssumeRole".into()],
            resources: Vec::new(),
            condition: None,
        };
        if self.source_account_only {
            trust.condition = Some(json!({"StringEquals": {"aws:SourceAccount": Expr::account_id()}}));
        }
        let mut p = serde_json::Map::new();
        p.insert(
            "AssumeRolePolicyDocument".into(),
            json!(PolicyDocument::new([trust])),
        );
        p.insert("Description".into(), json!(self.description));
        if !self.policies.is_empty() {
            let policies: Vec<Value> = self
                .policies
                .iter()
                .map(|(name, doc)| json!({"PolicyName": name, "PolicyDocument": doc}))
                .collect();
            p.insert("Policies".into(), Value::Array(policies));
        }
        if !self.managed_policy_arns.is_empty() {
            p.insert("ManagedPolicyArns".into(), json!(self.managed_policy_arns));
        }
        if !self.tags.is_empty() {
            p.insert("Tags".into(), json!(self.tags));
        }
        Value::Object(p)
    }
}

impl Handle<Role> {
    pub fn arn(&self) -> Expr {
        self.att("Arn")
    }
    pub fn name(&self) -> Expr {
        self.reference()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_role_trusts_only_its_service_in_this_account() {
        let p = Role::for_service("lambda.amazonaws.com", "r").properties();
        let trust = &p["AssumeRolePolicyDocument"]["Statement"][0];
        assert_eq!(trust["Principal"], json!({"Service": "lambda.amazonaws.com"}));
        assert_eq!(trust["Action"], json!(["sts:AssumeRole"]));
        assert_eq!(
            trust["Condition"],
            json!({"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}})
        );
        assert!(p.get("Policies").is_none() && p.get("ManagedPolicyArns").is_none());
    }

    #[test]
    fn statements_serialize_in_iam_form() {
        let s = Statement::allow("Read", ["dynamodb:GetItem"], [Expr::str("arn:x")]);
        assert_eq!(
            serde_json::to_value(PolicyDocument::new([s])).unwrap(),
            json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "Read", "Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": ["arn:x"]}
            ]})
        );
    }
}
