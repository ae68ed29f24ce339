//! A queue → its consumer, as Lambda's event source mapping polls it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::{Say, chance, invoke};
use crate::dev::http::Aws;
use crate::runtime_api::LocalFunction;

/// A queue mapping's settings, from the function's declared trigger.
#[derive(Clone, Debug)]
pub struct QueueMapping {
    pub batch_size: usize,
    pub visibility_timeout: Duration,
    pub max_concurrency: usize,
    /// How long the poller gathers messages before it invokes (scaled like every dev wait).
    pub batching_window: Duration,
    /// The share of batches delivered a second time (the `duplicates` fault).
    pub duplicates: f64,
}

/// Polls the queue and feeds the function (`max_concurrency` pollers).
pub fn spawn_queue(
    aws: Aws,
    queue_url: String,
    mapping: QueueMapping,
    function: Arc<LocalFunction>,
    stop: Arc<AtomicBool>,
    say: Say,
) -> Result<Vec<JoinHandle<()>>> {
    let attrs = aws.call(
        "sqs",
        "AmazonSQS.GetQueueAttributes",
        &json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]}),
    )?;
    let arn = attrs["Attributes"]["QueueArn"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut handles = Vec::new();
    for n in 0..mapping.max_concurrency.max(1) {
        let (aws, url, arn, mapping, function, stop, say) = (
            aws.clone(),
            queue_url.clone(),
            arn.clone(),
            mapping.clone(),
            function.clone(),
            stop.clone(),
            say.clone(),
        );
        handles.push(
            std::thread::Builder::new()
                .name(format!("dev-queue-{n}"))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if let Err(e) = poll_queue(&aws, &url, &arn, &mapping, &function) {
                            say(&format!("queue poller: {e:#} (retrying in 1 s)"));
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                })
                .context("cannot start a queue poller thread")?,
        );
    }
    Ok(handles)
}

fn receive(aws: &Aws, url: &str, m: &QueueMapping, max: usize, wait_seconds: u64) -> Result<Vec<Value>> {
    let r = aws.call(
        "sqs",
        "AmazonSQS.ReceiveMessage",
        &json!({
            "QueueUrl": url,
            "MaxNumberOfMessages": max.clamp(1, 10),
            "WaitTimeSeconds": wait_seconds,
            "VisibilityTimeout": m.visibility_timeout.as_secs().max(1),
            "AttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }),
    )?;
    Ok(r["Messages"].as_array().cloned().unwrap_or_default())
}

fn poll_queue(aws: &Aws, url: &str, arn: &str, m: &QueueMapping, f: &LocalFunction) -> Result<()> {
    let mut messages = receive(aws, url, m, m.batch_size, 1)?;
    if messages.is_empty() {
        return Ok(());
    }
    // The batching window: Lambda keeps polling until the batch is full or the window has
    // passed since the first message (AWS Lambda Developer Guide, "Batching behavior").
    let window_end = Instant::now() + m.batching_window;
    while messages.len() < m.batch_size && Instant::now() < window_end {
        let more = receive(aws, url, m, m.batch_size - messages.len(), 0)?;
        if more.is_empty() {
            std::thread::sleep(
                Duration::from_millis(5).min(window_end.saturating_duration_since(Instant::now())),
            );
        }
        messages.extend(more);
    }
    let records: Vec<Value> = messages
        .iter()
        .map(|msg| {
            json!({
                "messageId": msg["MessageId"],
                "receiptHandle": msg["ReceiptHandle"],
                "body": msg["Body"],
                "attributes": msg["Attributes"],
                "messageAttributes": msg.get("MessageAttributes").cloned().unwrap_or(json!({})),
                "md5OfBody": msg["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": aws.region,
            })
        })
        .collect();
    let result = invoke(f, json!({"Records": records}));
    if result.is_ok() && chance(m.duplicates) {
        // SQS delivers at least once: the same messages to the function a second time.
        let _ = invoke(f, json!({"Records": records}));
    }
    let failed: BTreeSet<String> = match result {
        Ok(v) => v["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["itemIdentifier"].as_str().map(str::to_owned))
            .collect(),
        // A function error: the whole batch comes back.
        Err(_) => records
            .iter()
            .filter_map(|r| r["messageId"].as_str().map(str::to_owned))
            .collect(),
    };
    let entries: Vec<Value> = messages
        .iter()
        .enumerate()
        .filter(|(_, msg)| !msg["MessageId"].as_str().is_some_and(|id| failed.contains(id)))
        .map(|(i, msg)| json!({"Id": i.to_string(), "ReceiptHandle": msg["ReceiptHandle"]}))
        .collect();
    if !entries.is_empty() {
        aws.call(
            "sqs",
            "AmazonSQS.DeleteMessageBatch",
            &json!({"QueueUrl": url, "Entries": entries}),
        )?;
    }
    Ok(())
}
