//! What the functions publish to the system's topics, shown locally. moto's SNS delivers a
//! published message to the SQS queues subscribed to the topic; for every declared topic, `dev`
//! subscribes a queue of its own (raw delivery: the message as published) and prints each
//! message as `[topic <name>] <message>`, and keeps it for tests ([`Published`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};
use infra_model::decl::TopicSpec;
use serde_json::{Value, json};

use super::http::Aws;
use super::sources::Say;

/// Every message published so far: the topic's id and the message.
pub type Published = Arc<Mutex<Vec<(&'static str, Value)>>>;

/// Subscribes a local queue to `topic` (deployed at `topic_arn`) and follows it.
pub fn spawn_listener(
    aws: Aws,
    topic: &'static TopicSpec,
    topic_arn: String,
    stop: Arc<AtomicBool>,
    say: Say,
    published: Published,
) -> Result<JoinHandle<()>> {
    let queue = aws.call(
        "sqs",
        "AmazonSQS.CreateQueue",
        &json!({"QueueName": format!("dev-{}-listener-{}", topic.name, std::process::id())}),
    )?;
    let url = queue["QueueUrl"]
        .as_str()
        .context("CreateQueue answered no QueueUrl")?
        .to_owned();
    let attrs = aws.call(
        "sqs",
        "AmazonSQS.GetQueueAttributes",
        &json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
    )?;
    let queue_arn = attrs["Attributes"]["QueueArn"]
        .as_str()
        .context("GetQueueAttributes answered no QueueArn")?
        .to_owned();
    aws.query(
        "sns",
        &[
            ("Action", "Subscribe"),
            ("Version", "2010-03-31"),
            ("TopicArn", &topic_arn),
            ("Protocol", "sqs"),
            ("Endpoint", &queue_arn),
            ("Attributes.entry.1.key", "RawMessageDelivery"),
            ("Attributes.entry.1.value", "true"),
        ],
    )
    .with_context(|| format!("cannot subscribe a local queue to the {} topic", topic.name))?;
    std::thread::Builder::new()
        .name(format!("dev-topic-{}", topic.name))
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let received = aws.call(
                    "sqs",
                    "AmazonSQS.ReceiveMessage",
                    &json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
                );
                let messages = match received {
                    Ok(r) => r["Messages"].as_array().cloned().unwrap_or_default(),
                    Err(e) => {
                        say(&format!("topic {}: {e:#} (retrying in 1 s)", topic.name));
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                };
                for m in messages {
                    let body = m["Body"].as_str().unwrap_or_default();
                    say(&format!("[topic {}] {body}", topic.name));
                    let value = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()));
                    if let Ok(mut p) = published.lock() {
                        p.push((topic.id, value));
                    }
                    let _ = aws.call(
                        "sqs",
                        "AmazonSQS.DeleteMessage",
                        &json!({"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]}),
                    );
                }
            }
        })
        .context("cannot start a topic listener thread")
}
