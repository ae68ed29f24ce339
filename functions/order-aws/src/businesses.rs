//! The businesses table, with one e-mail claim item per business so that an e-mail is
//! registered once (see `tables::businesses`).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use infra_model::contract::tables::businesses as t;
pub use infra_model::contract::tables::businesses::BusinessRecord;

use crate::error::StoreError;
use crate::item::{s, to_item};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registration {
    Registered,
    EmailTaken,
}

#[derive(Clone, Debug)]
pub struct BusinessStore {
    client: Client,
    table: String,
}

impl BusinessStore {
    pub fn new(client: Client, table: impl Into<String>) -> BusinessStore {
        BusinessStore {
            client,
            table: table.into(),
        }
    }

    /// Stores the business and claims its e-mail, both or neither.
    pub async fn register(&self, b: &BusinessRecord) -> Result<Registration, StoreError> {
        let condition = "attribute_not_exists(#id)";
        let put = |item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition)
                .expression_attribute_names("#id", t::BUSINESS_ID.name)
                .build()
                .map_err(|e| StoreError::Misconfigured(e.to_string()))
        };
        let claim = [
            (t::BUSINESS_ID.name.to_owned(), s(t::email_claim(&b.email))),
            ("ownerId".to_owned(), s(&b.business_id)),
        ]
        .into();
        let items = vec![
            TransactWriteItem::builder().put(put(to_item(b)?)?).build(),
            TransactWriteItem::builder().put(put(claim)?).build(),
        ];
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Registration::Registered),
            Err(e) => {
                let service = e.into_service_error();
                if let TransactWriteItemsError::TransactionCanceledException(c) = &service
                    && c.cancellation_reasons().get(1).and_then(|r| r.code())
                        == Some("ConditionalCheckFailed")
                {
                    return Ok(Registration::EmailTaken);
                }
                Err(StoreError::service("TransactWriteItems", &self.table, service))
            }
        }
    }
}
