//! Following a stack operation: its events as they come, a progress bar, and at the end the
//! resources that failed with their reasons.

use std::collections::BTreeSet;
use tokio::time::Instant;

use anyhow::{Result, anyhow};
use aws_sdk_cloudformation::primitives::DateTimeFormat;
use aws_sdk_cloudformation::types::StackEvent;
use serde::Serialize;

use super::aws::{Aws, error_message};
use super::console::Console;

/// One stack event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    pub id: String,
    /// RFC 3339.
    pub time: String,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Event {
    pub(crate) fn from_sdk(e: &StackEvent) -> Event {
        Event {
            id: e.event_id().unwrap_or("").to_owned(),
            time: e
                .timestamp()
                .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
                .unwrap_or_default(),
            logical_id: e.logical_resource_id().unwrap_or("").to_owned(),
            resource_type: e.resource_type().unwrap_or("").to_owned(),
            status: e
                .resource_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            reason: e
                .resource_status_reason()
                .map(str::to_owned)
                .filter(|r| !r.is_empty()),
        }
    }

    /// `12:01:02  CREATE_COMPLETE       AWS::SQS::Queue  OrderEventsQueue  (reason)`
    pub fn line(&self) -> String {
        let clock = self.time.get(11..19).unwrap_or(&self.time);
        let mut s = format!(
            "  {clock}  {:<24} {:<34} {}",
            self.status, self.resource_type, self.logical_id
        );
        if let Some(r) = &self.reason {
            s.push_str(&format!("  ({r})"));
        }
        s
    }
}

/// A resource that failed, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailedResource {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

/// How a followed operation ended.
#[derive(Clone, Debug, Serialize)]
pub struct Followed {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub succeeded: bool,
    pub events: Vec<Event>,
    /// The resources whose own failure caused the outcome (cancellations are counted apart).
    pub failures: Vec<FailedResource>,
    /// Resources CloudFormation stopped because another one failed.
    pub cancelled: usize,
}

/// The id of the stack's newest event: where following starts.
pub async fn newest_event_id(aws: &Aws, stack: &str) -> Result<Option<String>> {
    let page = aws
        .cfn
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| aws.explain(&format!("read the events of {stack}"), e))?;
    Ok(page
        .stack_events()
        .first()
        .and_then(|e| e.event_id())
        .map(str::to_owned))
}

/// The events after `since` (oldest first).
async fn events_after(
    aws: &Aws,
    stack: &str,
    since: Option<&str>,
    seen: &BTreeSet<String>,
) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    'pages: loop {
        let page = aws
            .cfn
            .describe_stack_events()
            .stack_name(stack)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| aws.explain(&format!("read the events of {stack}"), e))?;
        for e in page.stack_events() {
            let id = e.event_id().unwrap_or("");
            if Some(id) == since || seen.contains(id) {
                break 'pages;
            }
            out.push(Event::from_sdk(e));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    out.reverse();
    Ok(out)
}

/// Whether a stack status is final.
pub fn is_terminal(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

/// Whether a final stack status means the operation did what was asked.
pub fn is_success(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" | "DELETE_COMPLETE"
    )
}

/// The reasons that mean "stopped because something else failed".
fn is_cancellation(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("cancelled") || r.contains("canceled")
}

/// Why following stopped before the operation ended. The operation itself goes on in
/// CloudFormation: the error says so, and how to watch or cancel it.
fn still_running(aws: &Aws, stack: &str, status: &str, why: &str) -> anyhow::Error {
    let cancel = if status.starts_with("UPDATE_ROLLBACK") || status.starts_with("ROLLBACK") {
        "a rollback cannot be cancelled: let it finish".to_owned()
    } else if status.starts_with("UPDATE") {
        format!(
            "cancel it with `aws cloudformation cancel-update-stack --stack-name {stack} --region {}` \
             (CloudFormation then rolls the update back)",
            aws.region
        )
    } else if status.starts_with("CREATE") {
        format!(
            "a create cannot be cancelled, only deleted: `aws cloudformation delete-stack --stack-name {stack} --region {}`",
            aws.region
        )
    } else if status.starts_with("DELETE") {
        "a delete cannot be cancelled: let it finish".to_owned()
    } else {
        "let it finish".to_owned()
    };
    anyhow!(
        "{why}.\nThe stack operation is still running in CloudFormation ({stack} is {status}): \
         nothing was stopped.\nWhat to do: watch it with `{}`; {cancel}",
        aws.status_command(stack)
    )
}

/// An error while following: the operation goes on whatever happened to this process's
/// requests. Expired credentials say to log in again first.
fn lost_track(aws: &Aws, stack: &str, status: &str, err: anyhow::Error) -> anyhow::Error {
    let text = format!("{err:#}");
    let why = if text.contains("session has expired") {
        format!(
            "stopped following {stack}: the AWS session expired while following it ({text}); \
             log in again (`aws sso login`, or fresh credentials) before checking it"
        )
    } else {
        format!("stopped following {stack}: {text}")
    };
    still_running(aws, stack, status, &why)
}

/// Follows a stack (by id, so that a deleted stack can still be read) until its status is
/// final, printing each event as it comes and a progress bar over `expected` resources.
///
/// It stops early, with an error saying that the operation goes on in CloudFormation and how
/// to watch and cancel it, on Ctrl-C (or [`Aws::interrupt`]), when the credentials expire, and
/// after [`super::aws::Polling::operation_limit`].
pub async fn follow(
    aws: &Aws,
    stack_id: &str,
    stack_name: &str,
    since: Option<String>,
    expected: usize,
    console: &Console,
) -> Result<Followed> {
    let start = Instant::now();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut events: Vec<Event> = Vec::new();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut delay = aws.poll.first_delay;
    let mut status = "UNKNOWN".to_owned();
    loop {
        let (now, reason) = match stack_status(aws, stack_id).await {
            Ok(s) => s,
            Err(e) => {
                console.clear_bar();
                return Err(lost_track(aws, stack_name, &status, e));
            }
        };
        status = now;
        let new = match events_after(aws, stack_id, since.as_deref(), &seen).await {
            Ok(n) => n,
            Err(e) => {
                console.clear_bar();
                return Err(lost_track(aws, stack_name, &status, e));
            }
        };
        for e in new {
            seen.insert(e.id.clone());
            if e.logical_id != stack_name && e.status.ends_with("_COMPLETE") {
                done.insert(e.logical_id.clone());
            }
            console.line(e.line());
            events.push(e);
        }
        if is_terminal(&status) {
            console.clear_bar();
            return Ok(finished(events, status, reason, stack_name));
        }
        if start.elapsed() >= aws.poll.operation_limit {
            console.clear_bar();
            return Err(still_running(
                aws,
                stack_name,
                &status,
                &format!(
                    "gave up following {stack_name} after {}: CloudFormation has not finished",
                    super::console::human_duration(aws.poll.operation_limit)
                ),
            ));
        }
        console.progress(done.len(), expected, start.elapsed(), &status);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = aws.interrupt.notified() => {
                console.clear_bar();
                return Err(still_running(aws, stack_name, &status, &format!("stopped following {stack_name} (interrupted)")));
            }
            r = tokio::signal::ctrl_c() => {
                console.clear_bar();
                let why = match r {
                    Ok(()) => format!("stopped following {stack_name} (Ctrl-C)"),
                    Err(e) => format!("stopped following {stack_name}: cannot listen for Ctrl-C ({e})"),
                };
                return Err(still_running(aws, stack_name, &status, &why));
            }
        }
        delay = (delay * 3 / 2).min(aws.poll.max_delay);
    }
}

/// The outcome of a finished operation: its failures (own failures apart from cancellations).
fn finished(events: Vec<Event>, status: String, reason: Option<String>, stack_name: &str) -> Followed {
    let mut failures = Vec::new();
    let mut cancelled = 0;
    for e in &events {
        if !e.status.ends_with("_FAILED") || e.logical_id == stack_name {
            continue;
        }
        let reason = e.reason.clone().unwrap_or_default();
        if is_cancellation(&reason) {
            cancelled += 1;
        } else {
            failures.push(FailedResource {
                logical_id: e.logical_id.clone(),
                resource_type: e.resource_type.clone(),
                status: e.status.clone(),
                reason,
            });
        }
    }
    Followed {
        succeeded: is_success(&status),
        status,
        status_reason: reason,
        events,
        failures,
        cancelled,
    }
}

/// A stack's status and reason; a stack that is gone reads as DELETE_COMPLETE.
pub async fn stack_status(aws: &Aws, stack: &str) -> Result<(String, Option<String>)> {
    match aws.cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => {
            let s = out.stacks().first();
            Ok((
                s.and_then(|s| s.stack_status())
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_else(|| "UNKNOWN".to_owned()),
                s.and_then(|s| s.stack_status_reason()).map(str::to_owned),
            ))
        }
        Err(e) if error_message(&e).is_some_and(|m| m.contains("does not exist")) => {
            Ok(("DELETE_COMPLETE".to_owned(), None))
        }
        Err(e) => Err(aws.explain(&format!("read the status of {stack}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infra_model::aws as model;
    use infra_model::cfn::Resource as _;

    #[test]
    fn statuses_are_classified() {
        assert!(is_terminal("UPDATE_ROLLBACK_COMPLETE") && !is_success("UPDATE_ROLLBACK_COMPLETE"));
        assert!(is_terminal("ROLLBACK_COMPLETE") && !is_success("ROLLBACK_COMPLETE"));
        assert!(!is_terminal("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
        assert!(is_success("CREATE_COMPLETE") && is_success("DELETE_COMPLETE"));
        assert!(is_cancellation("Resource creation cancelled"));
        let e = Event {
            id: "1".into(),
            time: "2026-11-23T04:30:34.221Z".into(),
            logical_id: "Q".into(),
            resource_type: model::sqs::Queue::TYPE.into(),
            status: "CREATE_FAILED".into(),
            reason: Some("boom".into()),
        };
        assert!(e.line().starts_with("  04:30:34  CREATE_FAILED"), "{}", e.line());
        assert!(e.line().ends_with("Q  (boom)"), "{}", e.line());
    }
}
