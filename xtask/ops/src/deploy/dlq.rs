//! `cargo xtask dlq --env E`: the dead-letter queues and failure destinations, from the model.
//!
//! - Each queue a work queue redrives to (`QueueSpec::dead_letter`), and each queue a stream
//!   trigger sends its failed batches to (`StreamTrigger::on_failure`), with its depth and the
//!   age of its oldest message.
//! - `--show N` prints up to N messages without consuming them: they are received with a short
//!   visibility timeout and made visible again at once (`ChangeMessageVisibility` to 0). Their
//!   receive count goes up by one; a dead-letter queue has no redrive policy of its own, so
//!   nothing moves because of it.
//! - `--redrive` moves a dead-letter queue's messages back to its source queue with SQS's
//!   `StartMessageMoveTask` ("moves messages from a dead-letter queue to its source queue", SQS
//!   API Reference), which AWS runs in the background. moto answers that call with HTTP 500, so
//!   against a local endpoint the messages are moved by receive, send and delete, one at a time.
//!   A stream's failure destination holds Lambda's invocation records (which shard and sequence
//!   numbers failed), not the records themselves, so it is shown and never redriven: its orders
//!   stayed PENDING, and the fix is to place them again (the record names the batch's range).

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, bail};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use infra_model::decl::{QueueSpec, Target, Trigger};
use infra_model::system::{FUNCTIONS, QUEUES};
use serde::Serialize;
use serde_json::Value;

use super::{Aws, DeployTarget, read_stack};

/// Where a dead-letter queue's messages come from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// A work queue that moves a message here after `max_receives` receives.
    Queue {
        queue: &'static QueueSpec,
        max_receives: u32,
    },
    /// A stream trigger's failed batches (Lambda's invocation records).
    Stream {
        function: &'static str,
        table: &'static str,
    },
}

/// A dead-letter queue or failure destination, as the model declares it.
#[derive(Clone, Copy, Debug)]
pub struct DeadLetters {
    pub queue: &'static QueueSpec,
    pub source: Source,
}

/// Every dead-letter queue and failure destination of the system, from the declarations.
pub fn declared() -> Vec<DeadLetters> {
    let mut out: Vec<DeadLetters> = QUEUES
        .iter()
        .filter_map(|q| {
            q.dead_letter.map(|d| DeadLetters {
                queue: d.queue,
                source: Source::Queue {
                    queue: q,
                    max_receives: d.max_receives,
                },
            })
        })
        .collect();
    for f in FUNCTIONS {
        if let Trigger::Stream(s) = &f.trigger {
            out.push(DeadLetters {
                queue: s.on_failure,
                source: Source::Stream {
                    function: f.name,
                    table: s.table.id,
                },
            });
        }
    }
    out
}

/// A queue's URL from the stack's outputs (the model names the output).
pub fn queue_url(outputs: &BTreeMap<String, String>, queue: &'static QueueSpec) -> Option<String> {
    outputs.get(&Target::Queue(queue).output_id()).cloned()
}

/// One message, as `--show` prints it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Shown {
    pub message_id: String,
    /// The order it is about, when the body names one.
    pub order_id: Option<String>,
    /// Why it failed, when the body says (Lambda's invocation record: the condition).
    pub reason: Option<String>,
    pub receive_count: u32,
    pub age_seconds: u64,
    pub body: String,
}

/// One dead-letter queue's state.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueReport {
    pub name: String,
    pub url: String,
    /// `queue <name>` or `stream of <table> (<function>)`.
    pub source: String,
    pub depth: u64,
    /// The oldest of the messages looked at, in seconds.
    pub oldest_age_seconds: Option<u64>,
    pub shown: Vec<Shown>,
    /// Messages moved back to the source by `--redrive`.
    pub redriven: Option<u64>,
}

/// What `dlq` reports.
#[derive(Clone, Debug, Serialize)]
pub struct DlqReport {
    pub stack: String,
    pub queues: Vec<QueueReport>,
}

impl DlqReport {
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{:<24} {:>6} {:>10}  {}",
            "dead letters", "depth", "oldest", "from"
        )];
        for q in &self.queues {
            let oldest = q.oldest_age_seconds.map_or("-".to_owned(), |s| format!("{s} s"));
            out.push(format!(
                "{:<24} {:>6} {:>10}  {}",
                q.name, q.depth, oldest, q.source
            ));
            for m in &q.shown {
                out.push(format!(
                    "    {}  order {}  received {}x  {} s old  {}",
                    m.message_id,
                    m.order_id.as_deref().unwrap_or("?"),
                    m.receive_count,
                    m.age_seconds,
                    m.reason.as_deref().unwrap_or("")
                ));
            }
            if let Some(n) = q.redriven {
                out.push(format!("    redrive: {n} message(s) moved back to {}", q.source));
            }
        }
        out
    }

    /// Messages left in any dead-letter queue.
    pub fn total(&self) -> u64 {
        self.queues.iter().map(|q| q.depth).sum()
    }
}

/// What to do besides reporting.
#[derive(Clone, Debug, Default)]
pub struct DlqOptions {
    /// Only the queue with this short name (`order-events-dlq`) or logical id.
    pub queue: Option<String>,
    pub show: usize,
    pub redrive: bool,
}

/// Reads the stack's outputs, then reports (and redrives) its dead-letter queues.
pub async fn dlq(target: &DeployTarget, options: &DlqOptions) -> Result<DlqReport> {
    let aws = Aws::connect(&target.aws).await?;
    let Some(stack) = read_stack(&aws, &target.stack).await? else {
        bail!(
            "{} does not exist: deploy it first (`cargo xtask deploy --env {}`)",
            target.stack,
            target.env.name()
        );
    };
    let queues = resolve(&stack.outputs, options.queue.as_deref())?;
    let queues = dlq_with(&aws, &queues, options).await?;
    Ok(DlqReport {
        stack: target.stack.clone(),
        queues,
    })
}

/// A declared dead-letter queue with its deployed URLs.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub declared: DeadLetters,
    pub url: String,
    /// The source queue's URL (a queue source only).
    pub source_url: Option<String>,
}

/// The declared dead-letter queues (or the one asked for) with their URLs from the outputs.
pub fn resolve(outputs: &BTreeMap<String, String>, only: Option<&str>) -> Result<Vec<Resolved>> {
    let all = declared();
    let chosen: Vec<DeadLetters> = match only {
        None => all,
        Some(name) => {
            let found: Vec<_> = all
                .into_iter()
                .filter(|d| d.queue.name == name || d.queue.id == name)
                .collect();
            if found.is_empty() {
                let names: Vec<&str> = declared().iter().map(|d| d.queue.name).collect();
                bail!(
                    "no dead-letter queue named {name:?}: the system has {}",
                    names.join(", ")
                );
            }
            found
        }
    };
    chosen
        .into_iter()
        .map(|d| {
            let output = Target::Queue(d.queue).output_id();
            let Some(url) = queue_url(outputs, d.queue) else {
                bail!("the stack has no output {output}: deploy the current model first");
            };
            let source_url = match d.source {
                Source::Queue { queue, .. } => queue_url(outputs, queue),
                Source::Stream { .. } => None,
            };
            Ok(Resolved {
                declared: d,
                url,
                source_url,
            })
        })
        .collect()
}

/// Reports (and redrives) the given queues.
pub async fn dlq_with(aws: &Aws, queues: &[Resolved], options: &DlqOptions) -> Result<Vec<QueueReport>> {
    let mut out = Vec::new();
    for q in queues {
        let attrs = aws
            .sqs
            .get_queue_attributes()
            .queue_url(&q.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| aws.explain(&format!("read the depth of {}", q.url), e))?;
        let number = |name: QueueAttributeName| -> u64 {
            attrs
                .attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let depth = number(QueueAttributeName::ApproximateNumberOfMessages)
            + number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible);
        let looked = if depth > 0 {
            peek(aws, &q.url, options.show.max(1)).await?
        } else {
            Vec::new()
        };
        let oldest_age_seconds = looked.iter().map(|m| m.age_seconds).max();
        let shown = looked.into_iter().take(options.show).collect();
        let source = match q.declared.source {
            Source::Queue { queue, max_receives } => {
                format!("queue {} (after {max_receives} receives)", queue.name)
            }
            Source::Stream { function, table } => format!("stream of {table} ({function})"),
        };
        let redriven = if options.redrive && depth > 0 {
            Some(redrive(aws, q).await?)
        } else {
            None
        };
        out.push(QueueReport {
            name: q.declared.queue.name.to_owned(),
            url: q.url.clone(),
            source,
            depth,
            oldest_age_seconds,
            shown,
            redriven,
        });
    }
    Ok(out)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Up to `n` messages, received and made visible again at once.
async fn peek(aws: &Aws, url: &str, n: usize) -> Result<Vec<Shown>> {
    let mut shown = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    while shown.len() < n {
        let want = i32::try_from((n - shown.len()).min(10)).unwrap_or(10);
        let got = aws
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(want)
            .visibility_timeout(30)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| aws.explain(&format!("look at the messages of {url}"), e))?;
        let messages = got.messages();
        if messages.is_empty() {
            break;
        }
        let mut fresh = 0;
        for m in messages {
            let id = m.message_id().unwrap_or_default().to_owned();
            if let Some(handle) = m.receipt_handle() {
                aws.sqs
                    .change_message_visibility()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .map_err(|e| aws.explain(&format!("release a message of {url}"), e))?;
            }
            if !seen.insert(id.clone()) {
                continue;
            }
            fresh += 1;
            let attr = |name: MessageSystemAttributeName| -> u64 {
                m.attributes()
                    .and_then(|a| a.get(&name))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            let sent = attr(MessageSystemAttributeName::SentTimestamp);
            let body = m.body().unwrap_or_default().to_owned();
            let (order_id, reason) = about(&body);
            shown.push(Shown {
                message_id: id,
                order_id,
                reason,
                receive_count: u32::try_from(attr(MessageSystemAttributeName::ApproximateReceiveCount))
                    .unwrap_or(u32::MAX),
                age_seconds: now_ms().saturating_sub(sent) / 1000,
                body,
            });
        }
        if fresh == 0 {
            break;
        }
    }
    Ok(shown)
}

/// The order a dead letter is about and why it failed, from what the body holds: an order event
/// (`orderId`), or Lambda's invocation record for a failed stream batch (`requestContext`
/// `condition`, and the batch's shard and sequence numbers).
pub fn about(body: &str) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return (None, Some("not JSON".to_owned()));
    };
    let order = v["orderId"].as_str().map(str::to_owned);
    let reason = v["requestContext"]["condition"].as_str().map(|c| {
        let batch = &v["DDBStreamBatchInfo"];
        match (
            batch["startSequenceNumber"].as_str(),
            batch["endSequenceNumber"].as_str(),
        ) {
            (Some(a), Some(b)) => format!(
                "{c}: stream records {a} to {b} of shard {}",
                batch["shardId"].as_str().unwrap_or("?")
            ),
            _ => c.to_owned(),
        }
    });
    (order, reason)
}

/// Moves a dead-letter queue's messages back to its source queue; the number moved (on AWS,
/// the number the move task reports it will move).
async fn redrive(aws: &Aws, q: &Resolved) -> Result<u64> {
    let (Source::Queue { queue, .. }, Some(source_url)) = (q.declared.source, q.source_url.as_deref()) else {
        bail!(
            "{} holds Lambda's records of failed stream batches, not the records: it is not redriven. \
             Their orders stayed PENDING; place them again (`--show` names each batch's shard and sequence numbers)",
            q.declared.queue.name
        );
    };
    if !aws.local {
        let (dlq_arn, source_arn) = (queue_arn(aws, &q.url).await?, queue_arn(aws, source_url).await?);
        let task = aws
            .sqs
            .start_message_move_task()
            .source_arn(&dlq_arn)
            .destination_arn(&source_arn)
            .send()
            .await
            .map_err(|e| {
                aws.explain(
                    &format!("start moving {} back to {}", q.declared.queue.name, queue.name),
                    e,
                )
            })?;
        let _ = task.task_handle();
        let moved = aws
            .sqs
            .list_message_move_tasks()
            .source_arn(&dlq_arn)
            .max_results(1)
            .send()
            .await
            .map_err(|e| aws.explain("read the move task", e))?;
        return Ok(moved
            .results()
            .first()
            .and_then(|t| t.approximate_number_of_messages_to_move())
            .map_or(0, |n| u64::try_from(n).unwrap_or(0)));
    }
    // moto: receive, send to the source, delete.
    let mut moved = 0;
    loop {
        let got = aws
            .sqs
            .receive_message()
            .queue_url(&q.url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .send()
            .await
            .map_err(|e| aws.explain(&format!("receive from {}", q.url), e))?;
        if got.messages().is_empty() {
            break;
        }
        for m in got.messages() {
            aws.sqs
                .send_message()
                .queue_url(source_url)
                .message_body(m.body().unwrap_or_default())
                .send()
                .await
                .map_err(|e| aws.explain(&format!("send back to {source_url}"), e))?;
            if let Some(h) = m.receipt_handle() {
                aws.sqs
                    .delete_message()
                    .queue_url(&q.url)
                    .receipt_handle(h)
                    .send()
                    .await
                    .map_err(|e| aws.explain(&format!("delete from {}", q.url), e))?;
            }
            moved += 1;
        }
    }
    Ok(moved)
}

/// A queue's ARN, as SQS states it (`QueueArn`): no partition or account guessed.
async fn queue_arn(aws: &Aws, url: &str) -> Result<String> {
    let attrs = aws
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| aws.explain(&format!("read the ARN of {url}"), e))?;
    attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("SQS returned no QueueArn for {url}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dead_letter_queue_and_failure_destination_is_found_in_the_model() {
        let names: Vec<(&str, String)> = declared()
            .iter()
            .map(|d| {
                (
                    d.queue.name,
                    match d.source {
                        Source::Queue { queue, .. } => queue.name.to_owned(),
                        Source::Stream { function, .. } => function.to_owned(),
                    },
                )
            })
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.iter().any(|(_, s)| s == "reserve-stock"), "{names:?}");
        assert!(names.iter().any(|(_, s)| s == "notify-customer"), "{names:?}");
    }

    #[test]
    fn a_dead_letter_says_its_order_or_its_failed_batch() {
        assert_eq!(
            about(r#"{"orderId":"ord-1","status":"RESERVED"}"#),
            (Some("ord-1".to_owned()), None)
        );
        // Lambda's invocation record for a stream batch that ran out of retries.
        let record = r#"{"requestContext":{"requestId":"316aa6d0-8154-xmpl-9af7-85d5f4a6bc81","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:orders-dev-reserve-stock","condition":"RetryAttemptsExhausted","approximateInvokeCount":6},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2026-12-01T10:00:00.000Z","DDBStreamBatchInfo":{"shardId":"shardId-00000001-abc","startSequenceNumber":"100","endSequenceNumber":"120","approximateArrivalOfFirstRecord":"2026-12-01T09:59:00Z","approximateArrivalOfLastRecord":"2026-12-01T09:59:01Z","batchSize":3,"streamArn":"arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026"}}"#;
        assert_eq!(
            about(record),
            (
                None,
                Some(
                    "RetryAttemptsExhausted: stream records 100 to 120 of shard shardId-00000001-abc"
                        .to_owned()
                )
            )
        );
        assert_eq!(about("plain"), (None, Some("not JSON".to_owned())));
    }

    #[test]
    fn an_unknown_queue_name_lists_the_known_ones() {
        let err = format!("{:#}", resolve(&BTreeMap::new(), Some("nope")).unwrap_err());
        assert!(err.contains("no dead-letter queue named \"nope\""), "{err}");
        let err = format!("{:#}", resolve(&BTreeMap::new(), None).unwrap_err());
        assert!(err.contains("deploy the current model first"), "{err}");
    }
}
