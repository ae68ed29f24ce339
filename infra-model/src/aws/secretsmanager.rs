//! `AWS::SecretsManager::Secret` with a generated value: the secret never appears in the
//! template, an environment variable or a log; functions read it by ARN at start-up.

use serde_json::{Value, json};

use crate::cfn::{Expr, Handle, Resource, Tag};

#[derive(Clone, Debug, PartialEq)]
pub struct GeneratedSecret {
    pub description: String,
    pub length: u32,
    pub tags: Vec<Tag>,
}

impl Resource for GeneratedSecret {
    const TYPE: &'static str = "AWS::SecretsManager::Secret";
    fn properties(&self) -> Value {
        let mut p = json!({
            "Description": self.description,
            "GenerateSecretString": {"PasswordLength": self.length, "ExcludePunctuation": true},
        });
        if !self.tags.is_empty() {
            p["Tags"] = json!(self.tags);
        }
        p
    }
}

impl Handle<GeneratedSecret> {
    pub fn arn(&self) -> Expr {
        self.reference()
    }
}
