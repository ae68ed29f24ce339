//! The account stack (`orders-account`, `infra_model::system::account`): API Gateway's
//! account-wide setting and its CloudWatch role, one per account and region. `deploy` creates
//! or updates it when it is missing or differs (after the confirmation, before the
//! environment's change set runs: a stage's execution logging needs the role), `diff` reports
//! what it would do, and `destroy` never touches it. It gets termination protection.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use infra_model::system::{APP, account};
use serde::Serialize;
use serde_json::Value;

use super::aws::Aws;
use super::changes::{self, ChangeSetKind, ChangeSetRequest, TemplateRef};
use super::console::Console;
use super::{events, protect, read_stack, stack::deployed_template, wait_deleted};

/// What deploy does with the account stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountAction {
    /// It exists with this template.
    UpToDate,
    Create,
    /// A failed first create (ROLLBACK_COMPLETE) or an unexecuted one (REVIEW_IN_PROGRESS):
    /// it holds nothing, so it is deleted and created again.
    Recreate,
    Update,
}

/// The account stack and API Gateway's account setting, as read before deploying.
#[derive(Clone, Debug, Serialize)]
pub struct AccountPlan {
    pub stack: String,
    pub action: AccountAction,
    /// API Gateway's CloudWatch role in this region now (`apigateway:GetAccount`), if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloudwatch_role_now: Option<String>,
    /// The role the account stack holds, if it exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_role: Option<String>,
}

impl AccountPlan {
    /// The lines diff and deploy print.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let role = match (&self.cloudwatch_role_now, &self.stack_role) {
            (None, _) => "no CloudWatch role is set".to_owned(),
            (Some(now), Some(ours)) if now == ours => {
                format!("its CloudWatch role is {now}, from {}", self.stack)
            }
            (Some(now), _) => format!("its CloudWatch role is {now}, set outside {}", self.stack),
        };
        lines.push(format!(
            "API Gateway account setting (one per account and region): {role}"
        ));
        match self.action {
            AccountAction::UpToDate => {}
            AccountAction::Create | AccountAction::Recreate | AccountAction::Update => {
                let verb = match self.action {
                    AccountAction::Update => "updates",
                    AccountAction::Recreate => "deletes the failed stack and creates again",
                    _ => "creates",
                };
                let replaces = match (&self.cloudwatch_role_now, &self.stack_role) {
                    (Some(now), Some(ours)) if now == ours => String::new(),
                    (Some(now), _) => {
                        format!("; API Gateway then writes execution logs with its role instead of {now}")
                    }
                    (None, _) => String::new(),
                };
                lines.push(format!(
                    "  + deploy {verb} the account stack {} (API Gateway's account setting and its \
                     CloudWatch role, shared by every environment; destroy never deletes it){replaces}",
                    self.stack
                ));
            }
        }
        lines
    }

    pub fn changes_something(&self) -> bool {
        self.action != AccountAction::UpToDate
    }
}

/// The account stack's template, as JSON.
pub fn template_value() -> Result<Value> {
    Ok(account::template()
        .synth()
        .map_err(|e| anyhow::anyhow!("cannot synthesize the account stack: {e}"))?
        .to_value())
}

/// Reads the account stack and API Gateway's setting (both at once): what deploy will do.
pub async fn plan(aws: &Aws) -> Result<AccountPlan> {
    let stack = account::stack_name();
    let (current, setting) = tokio::join!(read_stack(aws, &stack), aws.apigateway.get_account().send());
    let current = current?;
    let setting = setting.map_err(|e| {
        aws.explain(
            "read API Gateway's account setting (apigateway:GET on /account)",
            e,
        )
    })?;
    let cloudwatch_role_now = setting
        .cloudwatch_role_arn()
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let stack_role = current
        .as_ref()
        .and_then(|s| s.outputs.get(account::ROLE_ARN_OUTPUT).cloned());
    let action = match &current {
        None => AccountAction::Create,
        Some(s) => match s.status.as_str() {
            "REVIEW_IN_PROGRESS" | "ROLLBACK_COMPLETE" => AccountAction::Recreate,
            st if st.ends_with("_IN_PROGRESS") => bail!(
                "the account stack {stack} is busy ({st}): another deploy is changing it.\n\
                 What to do: wait for it to finish (`{}`), then run this again",
                aws.status_command(&stack)
            ),
            "UPDATE_ROLLBACK_FAILED" => bail!(
                "the account stack {stack} is in UPDATE_ROLLBACK_FAILED.\nWhat to do: fix the cause \
                 (`{}`), then `aws cloudformation continue-update-rollback --stack-name {stack} \
                 --region {}` and deploy again",
                aws.status_command(&stack),
                aws.region
            ),
            "DELETE_FAILED" | "ROLLBACK_FAILED" => bail!(
                "the account stack {stack} is in {}: {}.\nWhat to do: look at `{}`, fix the cause, \
                 delete it (`aws cloudformation delete-stack --stack-name {stack} --region {}`) and \
                 deploy again",
                s.status,
                s.status_reason.as_deref().unwrap_or("no reason given"),
                aws.status_command(&stack),
                aws.region
            ),
            _ => {
                if deployed_template(aws, &stack).await?.as_ref() == Some(&template_value()?) {
                    AccountAction::UpToDate
                } else {
                    AccountAction::Update
                }
            }
        },
    };
    Ok(AccountPlan {
        stack,
        action,
        cloudwatch_role_now,
        stack_role,
    })
}

/// Creates or updates the account stack as planned; a failure stops the deploy before the
/// environment's change set runs.
pub async fn apply(aws: &Aws, plan: &AccountPlan, console: &Console) -> Result<()> {
    let stack = plan.stack.as_str();
    let kind = match plan.action {
        AccountAction::UpToDate => return Ok(()),
        AccountAction::Update => ChangeSetKind::Update,
        AccountAction::Create => ChangeSetKind::Create,
        AccountAction::Recreate => {
            aws.cfn
                .delete_stack()
                .stack_name(stack)
                .send()
                .await
                .map_err(|e| aws.explain(&format!("delete the failed account stack {stack}"), e))?;
            wait_deleted(aws, stack).await?;
            ChangeSetKind::Create
        }
    };
    let body = super::template::body(&template_value()?);
    let tags = [("app".to_owned(), APP.to_owned())];
    let cs = changes::create(
        aws,
        &ChangeSetRequest {
            stack,
            kind,
            template: TemplateRef::Body(&body),
            parameters: &BTreeMap::new(),
            tags: &tags,
            description: "cargo xtask deploy: the account stack",
        },
    )
    .await?;
    if cs.nothing_to_do {
        return Ok(());
    }
    let since = events::newest_event_id(aws, stack).await?;
    aws.cfn
        .execute_change_set()
        .change_set_name(&cs.id)
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| aws.explain(&format!("execute the change set of {stack}"), e))?;
    console.line(format!("Deploying the account stack {stack}:"));
    let id = read_stack(aws, stack)
        .await?
        .map_or_else(|| stack.to_owned(), |s| s.id);
    let followed = events::follow(aws, &id, stack, since, cs.changes.len(), console).await?;
    if !followed.succeeded {
        let reasons: Vec<String> = followed
            .failures
            .iter()
            .map(|f| format!("{} ({}): {}", f.logical_id, f.resource_type, f.reason))
            .collect();
        bail!(
            "the account stack {stack} could not be deployed ({}): {}.\nNothing of the \
             environment was changed. What to do: fix the cause and deploy again (a failed first \
             create is deleted and created again)",
            followed.status,
            if reasons.is_empty() {
                followed.status_reason.unwrap_or_default()
            } else {
                reasons.join("; ")
            }
        );
    }
    if kind == ChangeSetKind::Create {
        protect(aws, stack, console).await?;
    }
    Ok(())
}
