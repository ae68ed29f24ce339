//! Idempotency records for requests and messages that may arrive twice. Expired records are
//! removed by DynamoDB's TTL.

use serde::{Deserialize, Serialize};

use crate::aws::dynamodb::Key;

/// `<scope>#<key>`, e.g. `POST /orders#<Idempotency-Key>` or `reserve#<event id>`.
pub const KEY: Key = Key::string("idempotencyKey");
/// Epoch seconds after which DynamoDB deletes the record.
pub const EXPIRES_AT: &str = "expiresAt";
pub const REQUEST_HASH: &str = "requestHash";
pub const STATUS_CODE: &str = "statusCode";
pub const RESPONSE: &str = "response";
/// The `state` of a claim whose work is under way.
pub const IN_PROGRESS: &str = "IN_PROGRESS";
/// The `state` of a claim whose answer is stored.
pub const COMPLETED: &str = "COMPLETED";
/// How long a record is kept.
pub const TTL_SECONDS: u64 = 24 * 3600;
/// How long an in-progress claim outlasts the longest run of the function that wrote it: the
/// claim is written as the invocation starts, a little after the time it is stamped with, and
/// another invocation compares it with its own clock.
pub const CLAIM_MARGIN_SECONDS: u64 = 5;

/// A claimed key and, once the work is done, its answer: the items of the idempotency table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyRecord {
    pub idempotency_key: String,
    pub request_hash: String,
    /// [`IN_PROGRESS`] or [`COMPLETED`].
    pub state: String,
    #[serde(default)]
    pub status_code: Option<u16>,
    #[serde(default)]
    pub response: Option<String>,
    /// Epoch seconds after which an in-progress claim may be taken over.
    pub claim_expires_at: u64,
    /// Epoch seconds after which DynamoDB deletes the record (TTL).
    pub expires_at: u64,
}

impl IdempotencyRecord {
    pub fn is_completed(&self) -> bool {
        self.state == COMPLETED
    }
}
