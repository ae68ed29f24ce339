//! An operation already running on the stack when `deploy` or `diff` starts: an earlier deploy
//! whose following was stopped (Ctrl-C, expired credentials, the time limit; the operation goes
//! on in CloudFormation), or a deploy running elsewhere. The command says what is running,
//! follows its events to its end (with the same Ctrl-C handling and time limit as its own
//! operation), says how it ended, and then plans against the settled stack: nothing to change
//! when the earlier operation applied the same template, a change set for the difference
//! otherwise (from the rolled-back stack when it failed).

use anyhow::Result;
use serde::Serialize;
use tokio::time::Instant;

use super::aws::Aws;
use super::console::{Console, human_duration};
use super::events::{self, FailedResource, Followed};
use super::run::failure_lines;
use super::stack::{StackInfo, list_resources};

/// How the operation that was running ended.
#[derive(Clone, Debug, Serialize)]
pub struct EarlierOperation {
    /// The stack's status when the command found it (`UPDATE_IN_PROGRESS`, ...).
    pub found: String,
    /// The status it ended in.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub succeeded: bool,
    /// Its events, from its start (as far as they could be found) to its end.
    pub events: usize,
    pub failures: Vec<FailedResource>,
    pub cancelled: usize,
    pub waited_ms: u64,
}

/// The stack events that begin an operation: a rollback or a cleanup continues the update
/// before it, and has no such event of its own.
const BEGINS: [&str; 3] = ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "IMPORT_IN_PROGRESS"];

/// What the command does once the operation has ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    /// deploy and diff: plan against the settled stack.
    Plan,
    /// destroy: delete it.
    Delete,
}

impl Then {
    fn waiting(self) -> &'static str {
        match self {
            Then::Plan => "planning",
            Then::Delete => "deleting the stack",
        }
    }

    fn next(self) -> &'static str {
        match self {
            Then::Plan => "planning against it",
            Then::Delete => "deleting it",
        }
    }
}

/// How many operations in a row deploy, diff and destroy wait for before they give up (someone
/// keeps starting new ones).
pub(crate) const MAX_WAITS: usize = 3;

/// The refusal once [`MAX_WAITS`] operations in a row have been waited for and the stack is
/// busy again (`status`).
pub(crate) fn busy_again(aws: &Aws, stack: &str, status: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{stack} is busy again ({status}) after {MAX_WAITS} operations in a row: another deploy \
         or destroy keeps starting new ones.\nWhat to do: find out who runs them (`{}` shows the \
         events), then run this again",
        aws.status_command(stack)
    )
}

/// How many pages of events are read back to find where the running operation began.
const MAX_PAGES: usize = 10;

/// Says what is running on `stack`, follows it to its end and says how it ended. Stopped
/// following (Ctrl-C, expired credentials, the time limit), it fails saying that this command
/// changed nothing and that the operation goes on.
pub(crate) async fn wait_for(
    aws: &Aws,
    stack: &StackInfo,
    then: Then,
    console: &Console,
) -> Result<EarlierOperation> {
    let started = Instant::now();
    let name = &stack.name;
    let since_when = stack
        .updated
        .as_ref()
        .or(stack.created.as_ref())
        .map(|t| format!(", last changed {t}"))
        .unwrap_or_default();
    console.line(format!(
        "{name} is {}{since_when}: an operation started before this command (an interrupted \
         deploy, or one running elsewhere) is still running in CloudFormation.",
        stack.status
    ));
    console.line(format!(
        "Waiting for it to end before {} (at most {}; Ctrl-C stops waiting, and the \
         operation goes on):",
        then.waiting(),
        human_duration(aws.poll.operation_limit)
    ));
    let since = before_operation(aws, &stack.id, name).await?;
    let expected = list_resources(aws, name).await?.len();
    let followed = events::follow(aws, &stack.id, name, since, expected, console)
        .await
        .map_err(|e| {
            e.context(format!(
                "this command changed nothing: it was waiting for the operation already running \
                 on {name} to end; run it again once that has ended"
            ))
        })?;
    console.lines(outcome_lines(name, &followed, then));
    Ok(EarlierOperation {
        found: stack.status.clone(),
        status: followed.status,
        status_reason: followed.status_reason,
        succeeded: followed.succeeded,
        events: followed.events.len(),
        failures: followed.failures,
        cancelled: followed.cancelled,
        waited_ms: super::ms(started.elapsed()),
    })
}

/// What the command says when the earlier operation has ended.
fn outcome_lines(stack: &str, f: &Followed, then: Then) -> Vec<String> {
    if f.succeeded {
        let mut next = then.next().to_owned();
        next[..1].make_ascii_uppercase();
        return vec![format!(
            "The earlier operation ended: {stack} is {}. {next}.",
            f.status
        )];
    }
    let rolled_back = f.status.contains("ROLLBACK");
    let mut lines = vec![format!(
        "The earlier operation on {stack} failed: {stack} is {}{}",
        f.status,
        if rolled_back { " (rolled back)" } else { "" }
    )];
    lines.extend(failure_lines(f));
    // UPDATE_ROLLBACK_COMPLETE: the stack is back in its previous working state and can be
    // updated (User Guide, "Stack status codes"). The other ends are refused next, with what
    // to do.
    if matches!(
        f.status.as_str(),
        "UPDATE_ROLLBACK_COMPLETE" | "IMPORT_ROLLBACK_COMPLETE"
    ) {
        lines.push(format!(
            "{stack} is back as it was before that update: {}.",
            then.next()
        ));
    }
    lines
}

/// The id of the newest event before the running operation began, so that following prints
/// the operation from its start, with the failures it already had. `None`: from the stack's
/// first event. Where the start is not found, following starts from the newest event.
async fn before_operation(aws: &Aws, stack_id: &str, stack_name: &str) -> Result<Option<String>> {
    let mut token: Option<String> = None;
    let mut found = false;
    for _ in 0..MAX_PAGES {
        let page = aws
            .cfn
            .describe_stack_events()
            .stack_name(stack_id)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| aws.explain(&format!("read the events of {stack_name}"), e))?;
        for e in page.stack_events() {
            if found {
                return Ok(e.event_id().map(str::to_owned));
            }
            found = e.logical_resource_id() == Some(stack_name)
                && e.resource_status().is_some_and(|s| BEGINS.contains(&s.as_str()));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            if found {
                return Ok(None);
            }
            break;
        }
    }
    events::newest_event_id(aws, stack_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(status: &str, failures: Vec<FailedResource>) -> Followed {
        Followed {
            status: status.to_owned(),
            status_reason: None,
            succeeded: events::is_success(status),
            events: Vec::new(),
            failures,
            cancelled: 0,
        }
    }

    #[test]
    fn the_end_of_the_earlier_operation_is_said_with_what_failed() {
        assert_eq!(
            outcome_lines("orders-dev", &ended("UPDATE_COMPLETE", Vec::new()), Then::Plan),
            ["The earlier operation ended: orders-dev is UPDATE_COMPLETE. Planning against it."]
        );
        assert_eq!(
            outcome_lines("orders-dev", &ended("UPDATE_COMPLETE", Vec::new()), Then::Delete),
            ["The earlier operation ended: orders-dev is UPDATE_COMPLETE. Deleting it."]
        );
        let failed = vec![FailedResource {
            logical_id: "HealthFunction".into(),
            resource_type: "AWS::Lambda::Function".into(),
            status: "UPDATE_FAILED".into(),
            reason: "boom".into(),
        }];
        let lines = outcome_lines(
            "orders-dev",
            &ended("UPDATE_ROLLBACK_COMPLETE", failed.clone()),
            Then::Plan,
        );
        assert_eq!(
            lines,
            [
                "The earlier operation on orders-dev failed: orders-dev is UPDATE_ROLLBACK_COMPLETE (rolled back)",
                "Resources that failed:",
                "  HealthFunction (AWS::Lambda::Function) UPDATE_FAILED: boom",
                "orders-dev is back as it was before that update: planning against it.",
            ]
        );
        // A first create rolled back cannot be updated: no "planning" (the refusal follows).
        let lines = outcome_lines("orders-dev", &ended("ROLLBACK_COMPLETE", failed), Then::Plan);
        assert!(!lines.iter().any(|l| l.contains("planning")), "{lines:?}");
    }
}
