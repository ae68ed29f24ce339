//! The event sources, driven from the functions' declared triggers (the same values synthesis
//! turns into `AWS::Lambda::EventSourceMapping`s), against moto:
//! - a table's **stream → its consumer** (`Trigger::Stream`): shards read through the DynamoDB
//!   Streams API from the starting position, records kept by the trigger's filters, delivered
//!   in batches of the batch size; a partial batch response (`ReportBatchItemFailures`)
//!   retries from the first failed record, a function error retries the batch (halved when the
//!   trigger bisects); after the maximum retries the batch's description goes to the failure
//!   queue and the shard moves on.
//! - a **queue → its consumer** (`Trigger::Queue`): receive up to the batch size, invoke, delete what
//!   succeeded; failures stay, come back after the visibility timeout and, after the queue's
//!   `maxReceiveCount`, moto's redrive moves them to the dead-letter queue. The visibility
//!   timeout is the queue's, **scaled** like every wait of `cargo xtask dev` (180 s × 0.01 → 2 s;
//!   at least 1 s), passed on each receive.
//! - **Step Functions**: start-workflow calls `StartExecution` on moto, which only records the
//!   execution (moto runs no Lambda code without Docker). The runner lists moto's RUNNING
//!   executions of the order workflow, runs each with the local executor
//!   ([`super::workflow`]), then stops it in moto with the local outcome as the cause.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use infra_model::aws::lambda::StartingPosition;
use infra_model::aws::stepfunctions::Definition;
use infra_model::decl::{Function, StreamTrigger};
use serde_json::{Value, json};

use super::http::Aws;
use super::workflow::{Executor, StateError, Status};
use crate::runtime_api::{LocalFunction, Outcome};

/// What drivers print (`[dev] ...` lines).
pub type Say = Arc<dyn Fn(&str) + Send + Sync>;

/// Invokes a local function: the response, or `(errorType, errorMessage)`.
pub fn invoke(f: &LocalFunction, event: Value) -> Result<Value, (String, String)> {
    match f.invoke(event) {
        Ok(inv) => match inv.outcome {
            Outcome::Response(v) => Ok(v),
            Outcome::Error {
                error_type,
                error_message,
            } => Err((error_type, error_message)),
        },
        Err(e) => Err(("Lambda.ServiceException".into(), e.to_string())),
    }
}

/// A stream mapping's settings, from the function's declared trigger.
#[derive(Clone, Debug)]
pub struct StreamMapping {
    pub batch_size: usize,
    pub max_retries: u32,
    pub bisect: bool,
    pub filters: Vec<Value>,
    pub starting_position: String,
    pub on_failure_queue_url: Option<String>,
}

/// A queue mapping's settings, from the function's declared trigger.
#[derive(Clone, Debug)]
pub struct QueueMapping {
    pub batch_size: usize,
    pub visibility_timeout: Duration,
    pub max_concurrency: usize,
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
                buffer: VecDeque::new(),
                seen: BTreeSet::new(),
            };
            while !stop.load(Ordering::Relaxed) {
                match driver.poll() {
                    Ok(true) => {}
                    Ok(false) => std::thread::sleep(Duration::from_millis(100)),
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
    buffer: VecDeque<Value>,
    /// Sequence numbers already taken into the buffer.
    seen: BTreeSet<String>,
}

impl StreamDriver {
    /// One round: find new shards, read records, deliver a batch. True if it did something.
    fn poll(&mut self) -> Result<bool> {
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
    fn deliver_batch(&mut self) {
        let mut size = self.mapping.batch_size.min(self.buffer.len()).max(1);
        let mut retries = 0u32;
        loop {
            let batch: Vec<Value> = self.buffer.iter().take(size).cloned().collect();
            let result = invoke(&self.function, json!({"Records": batch}));
            let failed_at = match &result {
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
            };
            match failed_at {
                None => {
                    self.buffer.drain(..size);
                    return;
                }
                Some(i) => {
                    // Everything before the first failure is done.
                    self.buffer.drain(..i);
                    if let Err((t, m)) = &result
                        && self.mapping.bisect
                        && size > 1
                    {
                        size = size.div_ceil(2);
                        (self.say)(&format!(
                            "reserve-stock failed a batch ({t}: {m}); retrying half of it"
                        ));
                    } else {
                        size = (size - i).max(1);
                    }
                    retries += 1;
                    let reason = match &result {
                        Err((t, m)) => format!("function error {t}: {m}"),
                        Ok(_) => "partial batch failure".to_owned(),
                    };
                    (self.say)(&format!(
                        "reserve-stock batch retry {retries}/{} ({reason})",
                        self.mapping.max_retries
                    ));
                    if retries > self.mapping.max_retries {
                        let dropped: Vec<Value> = self.buffer.drain(..size.min(self.buffer.len())).collect();
                        self.on_failure(&dropped);
                        return;
                    }
                    // Lambda backs off between stream retries: 0.5 s, 1 s, 2 s, ...
                    std::thread::sleep(Duration::from_millis(250 << retries.min(6)));
                }
            }
        }
    }

    fn on_failure(&self, records: &[Value]) {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return;
        };
        (self.say)(&format!(
            "stream records failed after {} retries: sent to the on-failure queue",
            self.mapping.max_retries
        ));
        let Some(url) = &self.mapping.on_failure_queue_url else {
            return;
        };
        let body = json!({
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": self.mapping.max_retries + 1},
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

fn poll_queue(aws: &Aws, url: &str, arn: &str, m: &QueueMapping, f: &LocalFunction) -> Result<()> {
    let r = aws.call(
        "sqs",
        "AmazonSQS.ReceiveMessage",
        &json!({
            "QueueUrl": url,
            "MaxNumberOfMessages": m.batch_size.min(10),
            "WaitTimeSeconds": 1,
            "VisibilityTimeout": m.visibility_timeout.as_secs().max(1),
            "AttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }),
    )?;
    let messages: Vec<Value> = r["Messages"].as_array().cloned().unwrap_or_default();
    if messages.is_empty() {
        return Ok(());
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
    let failed: BTreeSet<String> = match invoke(f, json!({"Records": records})) {
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

/// What the workflow runner did, for tests and the console: execution name → outcome.
pub type Executions = Arc<Mutex<Vec<(String, Status)>>>;

/// Runs moto's recorded executions of the workflow with the local executor.
#[allow(clippy::too_many_arguments)]
pub fn spawn_workflow_runner(
    aws: Aws,
    state_machine_arn: String,
    definition: Arc<Definition>,
    tasks: Arc<Vec<(&'static Function, Arc<LocalFunction>)>>,
    wait_scale: f64,
    stop: Arc<AtomicBool>,
    say: Say,
    executions: Executions,
) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("dev-workflow".into())
        .spawn(move || {
            let started: Arc<Mutex<BTreeSet<String>>> = Arc::default();
            while !stop.load(Ordering::Relaxed) {
                let list = aws.call(
                    "states",
                    "AWSStepFunctions.ListExecutions",
                    &json!({"stateMachineArn": state_machine_arn, "statusFilter": "RUNNING", "maxResults": 1000}),
                );
                let list = match list {
                    Ok(l) => l,
                    Err(e) => {
                        say(&format!("workflow runner: {e:#} (retrying in 1 s)"));
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                };
                for ex in list["executions"].as_array().into_iter().flatten() {
                    let Some(arn) = ex["executionArn"].as_str() else { continue };
                    let Ok(mut set) = started.lock() else { return };
                    if !set.insert(arn.to_owned()) {
                        continue;
                    }
                    drop(set);
                    let (aws2, arn, definition, tasks, say2, executions) = (
                        aws.clone(),
                        arn.to_owned(),
                        definition.clone(),
                        tasks.clone(),
                        say.clone(),
                        executions.clone(),
                    );
                    let spawned = std::thread::Builder::new().name("dev-execution".into()).spawn(move || {
                        run_execution(&aws2, &arn, &definition, &tasks, wait_scale, &say2, &executions)
                    });
                    if let Err(e) = spawned {
                        say(&format!("cannot start an execution thread: {e}"));
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
        .context("cannot start the workflow runner thread")
}

fn run_execution(
    aws: &Aws,
    arn: &str,
    definition: &Definition,
    tasks: &[(&'static Function, Arc<LocalFunction>)],
    wait_scale: f64,
    say: &Say,
    executions: &Executions,
) {
    let d = match aws.call(
        "states",
        "AWSStepFunctions.DescribeExecution",
        &json!({"executionArn": arn}),
    ) {
        Ok(d) => d,
        Err(e) => return say(&format!("cannot read execution {arn}: {e:#}")),
    };
    let name = d["name"].as_str().unwrap_or(arn).to_owned();
    let input: Value = d["input"]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(json!({}));
    let invoke_task =
        |function: &'static Function, payload: Value, _timeout: Duration| -> Result<Value, StateError> {
            let f = tasks
                .iter()
                .find(|(declared, _)| declared.name == function.name)
                .map(|(_, f)| f)
                .ok_or_else(|| {
                    StateError::new("States.Runtime", format!("no local function {}", function.name))
                })?;
            invoke(f, payload).map_err(|(t, m)| {
                StateError::new(t.clone(), json!({"errorType": t, "errorMessage": m}).to_string())
            })
        };
    let start = Instant::now();
    let exec = Executor {
        definition,
        wait_scale,
        invoke: &invoke_task,
    }
    .run(&name, input);
    let summary = match &exec.status {
        Status::Succeeded(_) => "SUCCEEDED".to_owned(),
        Status::Failed(e) => format!("FAILED {}", e.error),
    };
    say(&format!(
        "workflow {name}: {} → {summary} in {} ms",
        exec.path().join(" → "),
        start.elapsed().as_millis()
    ));
    // moto keeps a recorded execution RUNNING forever: stop it, with the local outcome.
    let _ = aws.call(
        "states",
        "AWSStepFunctions.StopExecution",
        &json!({"executionArn": arn, "error": "LocalExecution", "cause": format!("ran locally by cargo xtask dev: {summary}")}),
    );
    if let Ok(mut list) = executions.lock() {
        list.push((name, exec.status));
    }
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
