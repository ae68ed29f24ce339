//! The idempotency table: a request (or message) key claimed once, then its answer stored so a
//! retry gets the same answer and changes nothing.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use infra_model::contract::tables::idempotency as t;
pub use infra_model::contract::tables::idempotency::IdempotencyRecord;

use crate::error::StoreError;
use crate::item::{from_item, n, s, to_item};

/// How long an in-progress claim blocks retries before another attempt may take it over (a
/// handler that died mid-request must not block its key for a day).
pub const CLAIM_SECONDS: u64 = 60;

/// The outcome of claiming a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Ours: proceed, then `complete` (or `abandon` on failure).
    Claimed,
    /// Someone has it: completed (replay its answer) or in progress.
    Existing(IdempotencyRecord),
}

#[derive(Clone, Debug)]
pub struct IdempotencyStore {
    client: Client,
    table: String,
}

impl IdempotencyStore {
    pub fn new(client: Client, table: impl Into<String>) -> IdempotencyStore {
        IdempotencyStore {
            client,
            table: table.into(),
        }
    }

    /// Claims `key` for a request with `request_hash` at `now` (epoch seconds).
    pub async fn claim(&self, key: &str, request_hash: &str, now: u64) -> Result<Claim, StoreError> {
        let record = IdempotencyRecord {
            idempotency_key: key.to_owned(),
            request_hash: request_hash.to_owned(),
            state: t::IN_PROGRESS.into(),
            status_code: None,
            response: None,
            claim_expires_at: now + CLAIM_SECONDS,
            expires_at: now + t::TTL_SECONDS,
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&record)?))
            .condition_expression("attribute_not_exists(#k) OR (#state = :in_progress AND #claim < :now)")
            .expression_attribute_names("#k", t::KEY.name)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#claim", "claimExpiresAt")
            .expression_attribute_values(":in_progress", s(t::IN_PROGRESS))
            .expression_attribute_values(":now", n(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Claimed),
            Err(e) => match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(c) => match c.item() {
                    Some(item) => Ok(Claim::Existing(from_item(item)?)),
                    // The record expired between the check and now: try again once.
                    None => Box::pin(self.claim(key, request_hash, now)).await,
                },
                other => Err(StoreError::service("PutItem", &self.table, other)),
            },
        }
    }

    /// Stores the answer of a claimed key.
    pub async fn complete(&self, key: &str, status_code: u16, response: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(t::KEY.name, s(key))
            .update_expression("SET #state = :done, #code = :code, #resp = :resp")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#code", "statusCode")
            .expression_attribute_names("#resp", "response")
            .expression_attribute_values(":done", s(t::COMPLETED))
            .expression_attribute_values(":code", n(status_code))
            .expression_attribute_values(":resp", s(response))
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("UpdateItem", &self.table, e))?;
        Ok(())
    }

    /// Gives a claim up after a failure, so that a retry can proceed.
    pub async fn abandon(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(t::KEY.name, s(key))
            .condition_expression("#state = :in_progress")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", s(t::IN_PROGRESS))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| match e.into_service_error() {
                aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(_) => Ok(()),
                other => Err(StoreError::service("DeleteItem", &self.table, other)),
            })
    }
}
