//! A count of writes that event-source pollers wait on.
//!
//! The functions reach moto through the local AWS endpoint ([`super::super::faults::FaultProxy`]),
//! which bumps an [`Activity`] when moto has accepted a write a poller cares about (a table
//! write for the stream pollers, a `StartExecution` for the workflow runner). So a poller that
//! found nothing sleeps until such a write (or [`super::IDLE_POLL`] passes, for writes from
//! outside: a developer's `aws` command) instead of asking moto again and again, which kept
//! moto busy, and its DynamoDB lock taken, while the system was idle or only read.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

/// Shared by the functions that bump it and the pollers that wait on it; clones share the count.
#[derive(Clone, Debug, Default)]
pub struct Activity(Arc<(Mutex<u64>, Condvar)>);

impl Activity {
    /// The number of writes so far.
    pub fn count(&self) -> u64 {
        *self.0.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One more write: wakes every waiter.
    pub fn bump(&self) {
        let (count, changed) = &*self.0;
        *count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        changed.notify_all();
    }

    /// Waits until the count is past `seen` or `timeout` passes; returns the count then.
    pub fn wait_past(&self, seen: u64, timeout: Duration) -> u64 {
        let (count, changed) = &*self.0;
        let n = count.lock().unwrap_or_else(PoisonError::into_inner);
        *changed
            .wait_timeout_while(n, timeout, |n| *n <= seen)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }
}

/// What the local AWS endpoint calls with each request's `X-Amz-Target` once moto has answered
/// it with a success.
pub type Observer = Arc<dyn Fn(&str) + Send + Sync>;

/// The writes the pollers wait on: a table write (any DynamoDB write operation, so any table's
/// stream may have a record) bumps `writes`; a `StartExecution` bumps `starts`.
pub fn observer(writes: Activity, starts: Activity) -> Observer {
    Arc::new(move |target: &str| match target.split_once('.') {
        Some(("DynamoDB_20120810", op)) if DYNAMODB_WRITES.contains(&op) => writes.bump(),
        Some(("AWSStepFunctions", "StartExecution")) => starts.bump(),
        _ => {}
    })
}

/// The DynamoDB operations that can add a stream record.
const DYNAMODB_WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
];

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn only_writes_and_starts_wake_their_pollers() {
        let (writes, starts) = (Activity::default(), Activity::default());
        let observe = observer(writes.clone(), starts.clone());
        for target in [
            "DynamoDB_20120810.GetItem",
            "DynamoDB_20120810.Query",
            "DynamoDBStreams_20120810.GetRecords",
            "AmazonSQS.SendMessage",
            "AWSStepFunctions.DescribeExecution",
            "",
        ] {
            observe(target);
        }
        assert_eq!((writes.count(), starts.count()), (0, 0));
        observe("DynamoDB_20120810.TransactWriteItems");
        observe("DynamoDB_20120810.UpdateItem");
        observe("AWSStepFunctions.StartExecution");
        assert_eq!((writes.count(), starts.count()), (2, 1));
    }

    #[test]
    fn a_waiter_wakes_on_the_next_bump_and_not_before() {
        let activity = Activity::default();
        let seen = activity.count();
        let t = Instant::now();
        assert_eq!(activity.wait_past(seen, Duration::from_millis(30)), seen);
        assert!(
            t.elapsed() >= Duration::from_millis(30),
            "it waited out the timeout"
        );
        let bumper = activity.clone();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            bumper.bump();
        });
        assert_eq!(activity.wait_past(seen, Duration::from_secs(30)), seen + 1);
        waker.join().unwrap();
        // A bump that came before the wait is not lost.
        activity.bump();
        assert_eq!(activity.wait_past(seen + 1, Duration::from_secs(30)), seen + 2);
    }
}
