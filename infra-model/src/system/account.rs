//! The account stack (`orders-account`): what is one per AWS account and region rather than one
//! per environment. Today that is API Gateway's account setting, the IAM role API Gateway
//! writes execution logs with, and the role itself.
//!
//! API Gateway has one such setting per account and region ("To avoid overwriting other roles,
//! you should only have one `AWS::ApiGateway::Account` resource per region per account":
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-apigateway-account.html>).
//! Held by every environment's stack, the last deploy would win, and deleting one environment
//! would delete the role the setting may still point at, so the other environments' execution
//! logs would stop. Here it has a home of its own: `cargo xtask deploy` creates or updates this
//! stack when it is missing or differs, and `destroy --env X` never touches it.

use super::APP;
use super::security::{self, accept};
use crate::aws::apigateway::Account;
use crate::aws::iam::Role;
use crate::cfn::{Expr, Options, Output, Template};

/// The account stack's name.
pub fn stack_name() -> String {
    format!("{APP}-account")
}

/// The logical id of the logging role; its ARN is the output [`ROLE_ARN_OUTPUT`].
pub const ROLE: &str = "ApiGatewayCloudWatchRole";
/// The logical id of the account setting.
pub const ACCOUNT: &str = "ApiGatewayAccount";
/// The output with the role's ARN (what `apigateway:GetAccount` answers once it is set).
pub const ROLE_ARN_OUTPUT: &str = "ApiGatewayCloudWatchRoleArn";

/// The account stack's template.
pub fn template() -> Template {
    let mut t = Template::new(format!(
        "{APP}: the settings that are one per AWS account and region (API Gateway's CloudWatch \
         role), shared by every environment. Synthesized by infra-model; deployed by `cargo xtask \
         deploy` when missing; never deleted by `cargo xtask destroy`."
    ));
    let role = t.add(
        ROLE,
        Role {
            managed_policy_arns: vec![Expr::sub(
                "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
            )],
            // Finding 5 of issue 13: no `aws:SourceAccount` condition on this trust policy.
            // - AWS's own examples of this role trust `apigateway.amazonaws.com` with no
            //   condition: the API Gateway developer guide ("Set up CloudWatch logging for REST
            //   APIs in API Gateway", "Permissions for CloudWatch logging":
            //   https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html)
            //   and the example of `AWS::ApiGateway::Account` in the CloudFormation reference.
            // - API Gateway is not documented to send `aws:SourceAccount` (or `aws:SourceArn`)
            //   when it assumes this role, unlike the services whose "cross-service confused
            //   deputy prevention" pages show those keys in a role's trust policy. A
            //   `StringEquals` on a key the request does not carry never matches: the setting
            //   would be accepted, and every execution log would silently fail to be written.
            // - The confused deputy it would guard against needs another account to point its
            //   own API Gateway setting at this role, and `UpdateAccount` requires
            //   `iam:PassRole` on the role, which cannot be granted across accounts. The role
            //   can do only what the managed policy allows: write logs in this account.
            source_account_only: false,
            ..Role::for_service(
                "apigateway.amazonaws.com",
                "Lets API Gateway write execution logs to CloudWatch Logs (one per account and region)",
            )
        },
    );
    t.add_with(
        ACCOUNT,
        Account {
            cloudwatch_role_arn: role.arn(),
        },
        accept(Options::new(), &[security::ACCOUNT_WIDE_SETTING]),
    );
    t.output(
        ROLE_ARN_OUTPUT,
        Output::new(role.arn()).description("The role API Gateway writes execution logs with"),
    );
    t
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::cfn::Resource;

    fn synthesized() -> Value {
        template().synth().unwrap().to_value()
    }

    #[test]
    fn it_holds_the_account_setting_and_its_role_and_nothing_else() {
        let t = synthesized();
        let resources = t["Resources"].as_object().unwrap();
        let mut types: Vec<(&str, &str)> = resources
            .iter()
            .map(|(id, r)| (id.as_str(), r["Type"].as_str().unwrap()))
            .collect();
        types.sort();
        assert_eq!(
            types,
            [(ACCOUNT, Account::TYPE), (ROLE, Role::TYPE)],
            "one account setting and its role"
        );
        assert_eq!(
            resources[ACCOUNT]["Properties"]["CloudWatchRoleArn"],
            json!({"Fn::GetAtt": [ROLE, "Arn"]})
        );
        assert_eq!(
            t["Outputs"][ROLE_ARN_OUTPUT]["Value"],
            json!({"Fn::GetAtt": [ROLE, "Arn"]})
        );
        assert!(t.get("Parameters").is_none(), "deploy fills in nothing");
        assert_eq!(stack_name(), "orders-account");
    }

    #[test]
    fn the_role_trusts_api_gateway_with_the_managed_logging_policy_and_no_source_account_condition() {
        let t = synthesized();
        let role = &t["Resources"][ROLE]["Properties"];
        let trust = &role["AssumeRolePolicyDocument"]["Statement"];
        assert_eq!(trust.as_array().unwrap().len(), 1);
        assert_eq!(
            trust[0]["Principal"],
            json!({"Service": "apigateway.amazonaws.com"})
        );
        assert_eq!(trust[0]["Action"], json!(["sts:AssumeRole"]));
        assert!(
            trust[0].get("Condition").is_none(),
            "API Gateway is not documented to send aws:SourceAccount: {trust}"
        );
        assert_eq!(
            role["ManagedPolicyArns"],
            json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}])
        );
        assert!(
            role.get("Policies").is_none(),
            "no inline policy: the managed one is enough"
        );
    }

    #[test]
    fn the_template_is_deterministic_and_small_enough_to_send_inline() {
        let a = template().synth().unwrap();
        let b = template().synth().unwrap();
        assert_eq!(a.to_yaml(), b.to_yaml());
        assert!(a.to_json_compact().len() < crate::cfn::INLINE_TEMPLATE_LIMIT);
    }
}
