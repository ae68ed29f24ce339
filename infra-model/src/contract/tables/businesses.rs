//! Registered businesses. E-mail uniqueness is enforced with a second item per business whose
//! key is `EMAIL#<lower-case e-mail>`, written in the same transaction as the business with
//! `attribute_not_exists`: a DynamoDB index cannot enforce uniqueness.

use serde::{Deserialize, Serialize};

use crate::aws::dynamodb::Key;

pub const BUSINESS_ID: Key = Key::string("businessId");
pub const EMAIL_CLAIM_PREFIX: &str = "EMAIL#";
pub const BUSINESS_NAME: &str = "businessName";
pub const EMAIL: &str = "email";
pub const PHONE: &str = "phone";
pub const ADDRESS: &str = "address";
pub const COGNITO_USER_ID: &str = "cognitoUserId";
pub const CREATED_AT: &str = "createdAt";

pub fn email_claim(email: &str) -> String {
    format!("{EMAIL_CLAIM_PREFIX}{}", email.trim().to_lowercase())
}

/// A registered business: the items of the businesses table (besides the e-mail claims).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessRecord {
    pub business_id: String,
    pub business_name: String,
    pub email: String,
    pub phone: String,
    pub address: String,
    pub cognito_user_id: String,
    pub created_at: String,
}
