//! A table's stream → its consumer, as Lambda's event source mapping drives it.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use infra_model::aws::lambda::StartingPosition;
use infra_model::decl::StreamTrigger;
use serde_json::{Value, json};

use super::Activity;
use super::{Say, chance, invoke};
use crate::dev::http::Aws;
use crate::runtime_api::LocalFunction;

/// A stream mapping's settings, from the function's declared trigger.
#[derive(Clone, Debug)]
pub struct StreamMapping {
    pub batch_size: usize,
    pub max_retries: u32,
    pub bisect: bool,
    pub filters: Vec<Value>,
    pub starting_position: String,
    pub on_failure_queue_url: Option<String>,
    /// Records older than this go to the failure queue instead of the function.
    pub max_record_age: Duration,
    /// The factor on the backoff between retries (dev's wait scale).
    pub backoff_scale: f64,
    /// The share of batches delivered a second time (the `duplicates` fault).
    pub duplicates: f64,
}

impl StreamMapping {
    /// The mapping of a declared stream trigger; `on_failure_queue_url` is the deployed URL of
    /// its failure destination.
    pub fn declared(trigger: &StreamTrigger, on_failure_queue_url: Option<String>) -> StreamMapping {
        StreamMapping {
            batch_size: usize::try_from(trigger.batch_size).unwrap_or(10),
            max_retries: trigger.max_retries,
            bisect: trigger.bisect_on_error,
            filters: trigger.filters.iter().map(|f| f.pattern()).collect(),
            starting_position: match trigger.starting_position {
                StartingPosition::TrimHorizon => "TRIM_HORIZON",
                StartingPosition::Latest => "LATEST",
            }
            .to_owned(),
            on_failure_queue_url,
            max_record_age: trigger.max_record_age,
            backoff_scale: 1.0,
            duplicates: 0.0,
        }
    }
}

/// Whether a record matches an event filter pattern (`{"eventName": ["INSERT"]}`; nested
/// objects match nested fields; a list matches any of its values).
pub fn pattern_matches(pattern: &Value, record: &Value) -> bool {
    match pattern {
        Value::Object(map) => map.iter().all(|(k, p)| match p {
            Value::Array(options) => record.get(k).is_some_and(|v| options.contains(v)),
            Value::Object(_) => record.get(k).is_some_and(|v| pattern_matches(p, v)),
            other => record.get(k) == Some(other),
        }),
        _ => false,
    }
}

/// Polls the stream's shards and feeds the function.
pub fn spawn_stream(
    aws: Aws,
    table: String,
    mapping: StreamMapping,
    function: Arc<LocalFunction>,
    stop: Arc<AtomicBool>,
    activity: Activity,
    say: Say,
) -> Result<JoinHandle<()>> {
    let table_desc = aws.call(
        "dynamodb",
        "DynamoDB_20120810.DescribeTable",
        &json!({"TableName": table}),
    )?;
    let stream_arn = table_desc["Table"]["LatestStreamArn"]
        .as_str()
        .with_context(|| format!("the table {table} has no stream in the emulator: redeploy the dev stack"))?
        .to_owned();
    std::thread::Builder::new()
        .name("dev-stream".into())
        .spawn(move || {
            let mut driver = StreamDriver {
                aws,
                stream_arn,
                mapping,
                function,
                say,
                iterators: Vec::new(),
                known_shards: BTreeSet::new(),
                described: None,
                buffer: VecDeque::new(),
                seen: BTreeSet::new(),
            };
            while !stop.load(Ordering::Relaxed) {
                let seen = activity.count();
                match driver.poll() {
                    Ok(true) => {}
                    // Nothing new: the next records come from an invocation that ends (or,
                    // written from outside, within `IDLE_POLL`).
                    Ok(false) => {
                        activity.wait_past(seen, super::IDLE_POLL);
                    }
                    Err(e) => {
                        (driver.say)(&format!("stream poller: {e:#} (retrying in 1 s)"));
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
            }
        })
        .context("cannot start the stream poller thread")
}

struct StreamDriver {
    aws: Aws,
    stream_arn: String,
    mapping: StreamMapping,
    function: Arc<LocalFunction>,
    say: Say,
    /// Per shard: its id, the iterator, the last sequence number read, (unused).
    iterators: Vec<(String, String, Option<String>, u32)>,
    known_shards: BTreeSet<String>,
    /// When the shards were last listed (`DescribeStream`).
    described: Option<Instant>,
    buffer: VecDeque<Value>,
    /// Sequence numbers already taken into the buffer.
    seen: BTreeSet<String>,
}

impl StreamDriver {
    /// Lists the stream's shards and opens an iterator on each new one.
    fn describe(&mut self) -> Result<()> {
        let d = self.aws.call(
            "dynamodb",
            "DynamoDBStreams_20120810.DescribeStream",
            &json!({"StreamArn": self.stream_arn}),
        )?;
        for shard in d["StreamDescription"]["Shards"].as_array().into_iter().flatten() {
            let Some(id) = shard["ShardId"].as_str() else {
                continue;
            };
            if self.known_shards.insert(id.to_owned()) {
                let it = self.aws.call(
                    "dynamodb",
                    "DynamoDBStreams_20120810.GetShardIterator",
                    &json!({"StreamArn": self.stream_arn, "ShardId": id, "ShardIteratorType": self.mapping.starting_position}),
                )?;
                if let Some(i) = it["ShardIterator"].as_str() {
                    self.iterators.push((id.to_owned(), i.to_owned(), None, 0));
                }
            }
        }
        self.described = Some(Instant::now());
        Ok(())
    }

    /// One round: find new shards, read records, deliver a batch. True if it did something.
    fn poll(&mut self) -> Result<bool> {
        // New shards are rare (a table's stream has one open shard at a time): list them at
        // most once a second, as every call takes moto's DynamoDB lock.
        if self
            .described
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            self.describe()?;
        }
        let mut got = false;
        for (shard, it, last, _) in &mut self.iterators {
            // A fresh iterator on every read, after the last record taken: moto 5.2.5 undoes a
            // failed TransactWriteItems by putting deep copies of the tables back, stream shards
            // included, so an older iterator reads an orphaned shard (a stall, and records of
            // the rolled-back transaction whose sequence numbers the next writes reuse).
            let fresh = match last.as_deref() {
                Some(seq) => {
                    json!({"StreamArn": self.stream_arn, "ShardId": shard, "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seq})
                }
                None => {
                    json!({"StreamArn": self.stream_arn, "ShardId": shard, "ShardIteratorType": self.mapping.starting_position})
                }
            };
            let r = self
                .aws
                .call("dynamodb", "DynamoDBStreams_20120810.GetShardIterator", &fresh)?;
            if let Some(i) = r["ShardIterator"].as_str() {
                *it = i.to_owned();
            }
            let r = self.aws.call(
                "dynamodb",
                "DynamoDBStreams_20120810.GetRecords",
                &json!({"ShardIterator": it, "Limit": 1000}),
            )?;
            let records = r["Records"].as_array().map_or(0, Vec::len);
            if std::env::var_os("ORDERS_DEV_TRACE").is_some() {
                (self.say)(&format!("stream: {records} record(s) read"));
            }
            for rec in r["Records"].as_array().into_iter().flatten() {
                let Some(seq) = rec["dynamodb"]["SequenceNumber"].as_str() else {
                    continue;
                };
                *last = Some(seq.to_owned());
                let id = format!("{seq}/{}", rec["eventID"].as_str().unwrap_or_default());
                if !self.seen.insert(id) {
                    continue;
                }
                let mut rec = rec.clone();
                rec["eventSourceARN"] = json!(self.stream_arn);
                if self.mapping.filters.is_empty()
                    || self.mapping.filters.iter().any(|f| pattern_matches(f, &rec))
                {
                    self.buffer.push_back(rec);
                }
            }
        }
        while !self.buffer.is_empty() {
            got = true;
            self.deliver_batch();
        }
        Ok(got)
    }

    /// Delivers the front of the buffer until it succeeds or its retries run out.
    ///
    /// As Lambda does for a stream (AWS Lambda Developer Guide, "Configuring partial batch
    /// response with DynamoDB and Lambda"): a partial batch response checkpoints before the
    /// first failed record and retries from it; with `BisectBatchOnFunctionError` a failed
    /// batch (a function error, or the rest after a partial failure) is split in two before it
    /// is retried, so a bad record ends alone and only it goes to the failure destination,
    /// never the good records behind it. Retries are counted once the batch is one record.
    fn deliver_batch(&mut self) {
        let mut size = self.mapping.batch_size.min(self.buffer.len()).max(1);
        let mut retries = 0u32;
        loop {
            self.drop_expired();
            if self.buffer.is_empty() {
                return;
            }
            size = size.min(self.buffer.len());
            let batch: Vec<Value> = self.buffer.iter().take(size).cloned().collect();
            let result = invoke(&self.function, json!({"Records": batch}));
            let failed_at = failed_at(&result, &batch);
            if failed_at.is_none() && chance(self.mapping.duplicates) {
                // At least once: the same records again (a retried batch whose first answer
                // was lost). The function must make the second delivery a no-op.
                (self.say)(&format!(
                    "fault: {} stream record(s) delivered again",
                    batch.len()
                ));
                let _ = invoke(&self.function, json!({"Records": batch}));
            }
            let Some(i) = failed_at else {
                self.buffer.drain(..size);
                return;
            };
            // Everything before the first failure is done.
            self.buffer.drain(..i);
            let rest = size - i;
            let reason = match &result {
                Err((t, m)) => format!("function error {t}: {m}"),
                Ok(_) => "partial batch failure".to_owned(),
            };
            if self.mapping.bisect && rest > 1 {
                size = rest.div_ceil(2);
                (self.say)(&format!(
                    "{} failed a batch ({reason}); retrying the first {size} of its {rest} remaining record(s)",
                    self.function.name()
                ));
                continue;
            }
            size = rest.max(1);
            // The first attempt and `max_retries` retries: then the failure destination.
            if retries == self.mapping.max_retries {
                let dropped: Vec<Value> = self.buffer.drain(..size.min(self.buffer.len())).collect();
                self.on_failure(&dropped, "RetryAttemptsExhausted", retries + 1);
                return;
            }
            retries += 1;
            (self.say)(&format!(
                "{} batch retry {retries}/{} ({reason})",
                self.function.name(),
                self.mapping.max_retries
            ));
            // Lambda backs off between stream retries: 0.5 s, 1 s, 2 s, ... (scaled, at least
            // 10 ms).
            let backoff = Duration::from_millis(250 << retries.min(6)).mul_f64(self.mapping.backoff_scale);
            std::thread::sleep(backoff.max(Duration::from_millis(10)));
        }
    }

    /// Records older than the mapping's maximum age go to the failure queue unprocessed
    /// (`MaximumRecordAgeInSeconds`).
    fn drop_expired(&mut self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let expired = self
            .buffer
            .iter()
            .take_while(|r| record_age(r, now).is_some_and(|age| age > self.mapping.max_record_age))
            .count();
        if expired > 0 {
            let dropped: Vec<Value> = self.buffer.drain(..expired).collect();
            self.on_failure(&dropped, "RecordAgeExceeded", 0);
        }
    }

    /// The failure destination's record of discarded records, shaped as Lambda's
    /// (`requestContext.condition`: `RetryAttemptsExhausted` or `RecordAgeExceeded`).
    fn on_failure(&self, records: &[Value], condition: &str, invokes: u32) {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return;
        };
        (self.say)(&format!(
            "{} stream record(s) discarded ({condition}): sent to the on-failure queue",
            records.len()
        ));
        let Some(url) = &self.mapping.on_failure_queue_url else {
            return;
        };
        let body = json!({
            "requestContext": {"condition": condition, "approximateInvokeCount": invokes},
            "DDBStreamBatchInfo": {
                "streamArn": self.stream_arn,
                "startSequenceNumber": first["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": last["dynamodb"]["SequenceNumber"],
                "batchSize": records.len(),
            },
        });
        if let Err(e) = self.aws.call(
            "sqs",
            "AmazonSQS.SendMessage",
            &json!({"QueueUrl": url, "MessageBody": body.to_string()}),
        ) {
            (self.say)(&format!("cannot send to the on-failure queue: {e:#}"));
        }
    }
}

/// Where a stream batch failed: the index of its first failed record (a function error fails
/// it from the first); `None` when it all succeeded.
fn failed_at(result: &Result<Value, (String, String)>, batch: &[Value]) -> Option<usize> {
    match result {
        Ok(v) => v["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str())
            .filter_map(|id| {
                batch
                    .iter()
                    .position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(id))
            })
            .min(),
        Err(_) => Some(0),
    }
}

/// How old a stream record is (`dynamodb.ApproximateCreationDateTime`, epoch seconds).
fn record_age(record: &Value, now: Duration) -> Option<Duration> {
    let created = record["dynamodb"]["ApproximateCreationDateTime"].as_f64()?;
    Some(now.saturating_sub(Duration::from_secs_f64(created.max(0.0))))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn filters_match_as_lambda_event_filtering_does() {
        let p: Value = serde_json::from_str(r#"{"eventName":["INSERT"]}"#).unwrap();
        assert!(pattern_matches(&p, &json!({"eventName": "INSERT", "x": 1})));
        assert!(!pattern_matches(&p, &json!({"eventName": "MODIFY"})));
        assert!(!pattern_matches(&p, &json!({})));
        let nested = json!({"dynamodb": {"NewImage": {"status": {"S": ["PENDING"]}}}});
        assert!(pattern_matches(
            &nested,
            &json!({"dynamodb": {"NewImage": {"status": {"S": "PENDING"}}}})
        ));
    }
}
