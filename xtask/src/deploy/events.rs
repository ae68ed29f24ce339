//! Following a stack operation: its events as they come, a progress bar, and at the end the
//! resources that failed with their reasons.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Result;
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

/// Follows a stack (by id, so that a deleted stack can still be read) until its status is
/// final, printing each event as it comes and a progress bar over `expected` resources.
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
    let mut delay = Duration::from_millis(if aws.local { 50 } else { 1000 });
    let max_delay = Duration::from_millis(if aws.local { 250 } else { 3000 });
    loop {
        let (status, reason) = stack_status(aws, stack_id).await?;
        let new = events_after(aws, stack_id, since.as_deref(), &seen).await?;
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
            return Ok(Followed {
                succeeded: is_success(&status),
                status,
                status_reason: reason,
                events,
                failures,
                cancelled,
            });
        }
        console.progress(done.len(), expected, start.elapsed(), &status);
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(max_delay);
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
            resource_type: "AWS::SQS::Queue".into(),
            status: "CREATE_FAILED".into(),
            reason: Some("boom".into()),
        };
        assert!(e.line().starts_with("  04:30:34  CREATE_FAILED"), "{}", e.line());
        assert!(e.line().ends_with("Q  (boom)"), "{}", e.line());
    }
}
