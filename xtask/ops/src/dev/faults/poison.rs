//! `poison`: messages and records no consumer can read, and where they ended.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use infra_model::decl::Target;
use infra_model::system::resources::{ORDER_EVENTS, ORDER_EVENTS_DLQ, ORDERS, RESERVATION_FAILURES};
use serde_json::json;

use super::Injected;
use crate::dev::http::Aws;
use crate::dev::sources::Say;
use crate::runtime_api::uuid_v4;

/// Where the poison ended: waits until every poison message is in the dead-letter queue and
/// as many batches as poison records are in the reservation-failures queue, or `until`.
/// Reads the dead-letter queue's messages (hiding each for a minute, so that every receive
/// returns new ones); counts the others.
pub fn poison_check(
    aws: &Aws,
    outputs: &BTreeMap<String, String>,
    injected: &Injected,
    until: Instant,
) -> Result<crate::live::invariants::PoisonCheck> {
    let url = |spec| {
        outputs
            .get(&Target::Queue(spec).output_id())
            .cloned()
            .with_context(|| format!("the dev stack has no output {}", Target::Queue(spec).output_id()))
    };
    let (source, dlq, failures) = (
        url(&ORDER_EVENTS.spec)?,
        url(&ORDER_EVENTS_DLQ.spec)?,
        url(&RESERVATION_FAILURES.spec)?,
    );
    let count = |queue: &str| -> Result<usize> {
        let r = aws.call(
            "sqs",
            "AmazonSQS.GetQueueAttributes",
            &json!({"QueueUrl": queue, "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]}),
        )?;
        let n = |k: &str| {
            r["Attributes"][k]
                .as_str()
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        };
        Ok(n("ApproximateNumberOfMessages") + n("ApproximateNumberOfMessagesNotVisible"))
    };
    let mut check = crate::live::invariants::PoisonCheck {
        messages_sent: injected.poison_messages(),
        max_receive_count: ORDER_EVENTS
            .spec
            .dead_letter
            .map_or(0, |d| u64::from(d.max_receives)),
        records_sent: injected.poison_records().len(),
        ..Default::default()
    };
    loop {
        let r = aws.call(
            "sqs",
            "AmazonSQS.ReceiveMessage",
            &json!({"QueueUrl": dlq, "MaxNumberOfMessages": 10, "VisibilityTimeout": 60, "AttributeNames": ["All"]}),
        )?;
        for m in r["Messages"].as_array().into_iter().flatten() {
            if let Some(id) = m["MessageId"].as_str() {
                // This receive is the dead-letter queue's own: the count before it is the
                // source queue's.
                let n = m["Attributes"]["ApproximateReceiveCount"]
                    .as_str()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
                check
                    .in_dead_letter_queue
                    .insert(id.to_owned(), n.saturating_sub(1));
            }
        }
        check.records_discarded = count(&failures)?;
        check.left_in_queue = count(&source)?;
        let done = check
            .messages_sent
            .iter()
            .all(|id| check.in_dead_letter_queue.contains_key(id))
            && check.records_discarded >= check.records_sent
            && check.left_in_queue == 0;
        if done || Instant::now() >= until {
            return Ok(check);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// One poison message and one poison record. The message is JSON but no `OrderReserved`, so
/// start-workflow fails it on every receive and the queue's redrive moves it to the dead-letter
/// queue after `maxReceiveCount` receives; the record has the orders table's key and nothing
/// else, so reserve-stock fails it on every retry and the mapping sends it to the
/// reservation-failures queue. Sent straight to moto: the AWS faults are the functions'.
pub(super) fn poison(aws: &Aws, queue: &str, table: &str, injected: &Injected, say: &Say) {
    let id = format!("poison-{}", &uuid_v4()[..8]);
    match aws.call(
        "sqs",
        "AmazonSQS.SendMessage",
        &json!({"QueueUrl": queue, "MessageBody": json!({"poison": id}).to_string()}),
    ) {
        Ok(r) => {
            if let (Some(m), Ok(mut list)) = (r["MessageId"].as_str(), injected.poison_messages.lock()) {
                list.push(m.to_owned());
            }
            injected.count(|c| c.poison_messages += 1);
        }
        Err(e) => say(&format!("fault: cannot send a poison message: {e:#}")),
    }
    let key = ORDERS.spec.partition.name;
    match aws.call(
        "dynamodb",
        "DynamoDB_20120810.PutItem",
        &json!({"TableName": table, "Item": {key: {"S": id}}}),
    ) {
        Ok(_) => {
            if let Ok(mut list) = injected.poison_records.lock() {
                list.push(id.clone());
            }
            injected.count(|c| c.poison_records += 1);
        }
        Err(e) => say(&format!("fault: cannot write a poison record: {e:#}")),
    }
}
