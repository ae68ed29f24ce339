//! The idempotency table: a request (or message) key claimed once, then its answer stored so a
//! retry gets the same answer and changes nothing.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use infra_model::contract::tables::idempotency as t;
pub use infra_model::contract::tables::idempotency::IdempotencyRecord;
use infra_model::decl::Function;

use crate::error::StoreError;
use crate::item::{from_item, n, s, to_item};

/// How long an in-progress claim of `holder` (the function that writes it) blocks its key
/// before another attempt may take it over: the function's longest timeout in the model, and
/// [`t::CLAIM_MARGIN_SECONDS`]. By then Lambda has stopped the invocation that claimed it
/// (its timeout), so a retry cannot run beside it; and a handler that died mid-request does
/// not block its key for longer than that (orders-api: 10 + 5 s, where a fixed 60 s made a
/// client that retried after the API's timeout wait 50 s for nothing).
pub fn claim_seconds(holder: &Function) -> u64 {
    holder.longest_timeout().as_secs() + t::CLAIM_MARGIN_SECONDS
}

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
    /// [`claim_seconds`] of the function that claims keys through this store.
    claim_seconds: u64,
}

impl IdempotencyStore {
    /// The store of `holder`, the function whose handler claims keys through it (its
    /// `FunctionBindings::FUNCTION`).
    pub fn new(client: Client, table: impl Into<String>, holder: &Function) -> IdempotencyStore {
        IdempotencyStore {
            client,
            table: table.into(),
            claim_seconds: claim_seconds(holder),
        }
    }

    /// How long a claim made through this store blocks its key.
    pub fn claim_seconds(&self) -> u64 {
        self.claim_seconds
    }

    /// Claims `key` for a request with `request_hash` at `now` (epoch seconds).
    pub async fn claim(&self, key: &str, request_hash: &str, now: u64) -> Result<Claim, StoreError> {
        let record = IdempotencyRecord {
            idempotency_key: key.to_owned(),
            request_hash: request_hash.to_owned(),
            state: t::IN_PROGRESS.into(),
            status_code: None,
            response: None,
            claim_expires_at: now + self.claim_seconds,
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
