//! The request bodies of the API, parsed and validated into the contract types with their text
//! sanitized (see [`crate::text`]) and every rule checked. See [`crate::body`] for the order in
//! which problems are found; this module adds the rules of each field.
//!
//! Decisions:
//! - **A SKU listed twice in one order is refused** (`Invalid field items[2].sku: duplicates
//!   items[0].sku; list each SKU once with the total quantity`). Merging would have to choose
//!   between two product names and two client prices, and would shift the item indices that
//!   later messages (pricing) name. SKUs are compared exactly (they are case-sensitive keys).
//! - **A price must be greater than 0**, in an order (the client's price is only compared
//!   with the stored one, but 0 is the usual sign of a client that lost it) and in the
//!   inventory (the shop gives nothing away through this API).
//! - **The country must be one we ship to** ([`crate::shipping::Country`]): an order that
//!   cannot be shipped is refused at the door rather than failed after payment.
//! - Text is sanitized before its length is counted; lengths are in characters.

use infra_model::contract::api::{
    CreateOrderRequest, OrderItemRequest, PaymentMethod, PutInventoryRequest, RegisterBusinessRequest,
    ShippingAddress, limits, patterns,
};
use infra_model::contract::money::Money;

use crate::body::{Shape, parse_request};
use crate::problem::ApiProblem;
use crate::shipping::Country;
use crate::text::{
    SKU_RULE, char_len, clean_multiline, clean_text, email_problem, has_visible, is_valid_sku, matches,
    normalize_email,
};

/// The wire names of [`PaymentMethod`], in declaration order.
pub const PAYMENT_METHODS: [&str; 3] = ["CARD", "PAYPAL", "BANK_TRANSFER"];

/// The wire name of a payment method.
pub fn payment_method_name(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::Card => PAYMENT_METHODS[0],
        PaymentMethod::Paypal => PAYMENT_METHODS[1],
        PaymentMethod::BankTransfer => PAYMENT_METHODS[2],
    }
}

const ADDRESS: Shape = Shape::Object(&[
    ("street", Shape::Text),
    ("city", Shape::Text),
    ("postalCode", Shape::Text),
    ("country", Shape::Text),
]);

const ORDER_ITEM: Shape = Shape::Object(&[
    ("sku", Shape::Text),
    ("productName", Shape::Text),
    (
        "quantity",
        Shape::Integer {
            min: 1,
            max: limits::MAX_QUANTITY as u64,
        },
    ),
    ("price", Shape::Any),
]);

const CREATE_ORDER: Shape = Shape::Object(&[
    ("customerName", Shape::Text),
    ("customerEmail", Shape::Text),
    (
        "items",
        Shape::Array {
            item: &ORDER_ITEM,
            min: 1,
            max: limits::MAX_ITEMS,
        },
    ),
    ("shippingAddress", ADDRESS),
    ("paymentMethod", Shape::OneOf(&PAYMENT_METHODS)),
]);

const PUT_INVENTORY: Shape = Shape::Object(&[
    (
        "stock",
        Shape::Integer {
            min: 0,
            max: limits::MAX_STOCK as u64,
        },
    ),
    ("price", Shape::Any),
    ("name", Shape::Text),
    ("description", Shape::Text),
]);

const REGISTER_BUSINESS: Shape = Shape::Object(&[
    ("business_name", Shape::Text),
    ("email", Shape::Text),
    ("phone", Shape::Text),
    ("address", Shape::Text),
    ("cognito_user_id", Shape::Text),
]);

/// `POST /orders`: the order with its text sanitized, the e-mail in lower case and every rule
/// checked. Its prices are still the client's: see [`crate::pricing`].
pub fn parse_create_order(body: &[u8], content_type: Option<&str>) -> Result<CreateOrderRequest, ApiProblem> {
    let raw: CreateOrderRequest = parse_request(body, content_type, &CREATE_ORDER)?;
    // In the document's order, so that the first problem told is the first one written.
    let customer_name = text_field("customerName", &raw.customer_name, 1, limits::MAX_TEXT)?;
    let customer_email = email_field("customerEmail", &raw.customer_email)?;
    let mut items = Vec::with_capacity(raw.items.len());
    for (i, item) in raw.items.into_iter().enumerate() {
        let sku = sku_field(&format!("items[{i}].sku"), &item.sku)?;
        let product_name = text_field(
            &format!("items[{i}].productName"),
            &item.product_name,
            1,
            limits::MAX_TEXT,
        )?;
        positive_price(&format!("items[{i}].price"), item.price)?;
        items.push(OrderItemRequest {
            sku,
            product_name,
            quantity: item.quantity,
            price: item.price,
        });
    }
    let address = raw.shipping_address;
    let street = text_field("shippingAddress.street", &address.street, 1, limits::MAX_TEXT)?;
    let city = text_field("shippingAddress.city", &address.city, 1, limits::MAX_TEXT)?;
    let postal_code = postal_code_field("shippingAddress.postalCode", &address.postal_code)?;
    let country = text_field(
        "shippingAddress.country",
        &address.country,
        limits::MIN_COUNTRY,
        limits::MAX_COUNTRY,
    )?;
    // The schema's rules are all checked (400); the business rules come after (422).
    for (i, item) in items.iter().enumerate() {
        if let Some(first) = items[..i].iter().position(|seen| seen.sku == item.sku) {
            return Err(ApiProblem::business_rule(
                &format!("items[{i}].sku"),
                format!("duplicates items[{first}].sku; list each SKU once with the total quantity"),
            ));
        }
    }
    if Country::parse(&country).is_none() {
        return Err(ApiProblem::business_rule(
            "shippingAddress.country",
            format!(
                "must be a country we ship to, as an ISO 3166 code or English name (one of {})",
                Country::supported_codes().join(", ")
            ),
        ));
    }
    Ok(CreateOrderRequest {
        customer_name,
        customer_email,
        items,
        shipping_address: ShippingAddress {
            street,
            city,
            postal_code,
            country,
        },
        payment_method: raw.payment_method,
    })
}

/// A SKU taken from a path (`/inventory/{sku}`), checked against
/// [`limits::SKU_PATTERN`]. Problems name the field `sku`.
pub fn parse_sku_param(sku: &str) -> Result<String, ApiProblem> {
    sku_field("sku", sku)
}

/// `PUT /inventory/{sku}`: the SKU from the path and the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InventoryUpdate {
    pub sku: String,
    pub item: PutInventoryRequest,
}

/// `PUT /inventory/{sku}`: the path's SKU is checked first, then the body. The description
/// keeps its line breaks (see [`clean_multiline`]) and may be empty or absent.
pub fn parse_put_inventory(
    sku: &str,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<InventoryUpdate, ApiProblem> {
    let sku = parse_sku_param(sku)?;
    let raw: PutInventoryRequest = parse_request(body, content_type, &PUT_INVENTORY)?;
    positive_price("price", raw.price)?;
    let name = text_field("name", &raw.name, 1, limits::MAX_TEXT)?;
    if char_len(&raw.description) > limits::MAX_DESCRIPTION {
        return Err(ApiProblem::invalid_field(
            "description",
            format!("must be at most {} characters", limits::MAX_DESCRIPTION),
        ));
    }
    let description = clean_multiline(&raw.description);
    Ok(InventoryUpdate {
        sku,
        item: PutInventoryRequest {
            stock: raw.stock,
            price: raw.price,
            name,
            description,
        },
    })
}

/// `POST /auth/register-business` (snake_case fields, as seed 000 names them).
pub fn parse_register_business(
    body: &[u8],
    content_type: Option<&str>,
) -> Result<RegisterBusinessRequest, ApiProblem> {
    let raw: RegisterBusinessRequest = parse_request(body, content_type, &REGISTER_BUSINESS)?;
    let business_name = text_field("business_name", &raw.business_name, 1, limits::MAX_TEXT)?;
    let email = email_field("email", &raw.email)?;
    let phone = phone_field("phone", &raw.phone)?;
    let address = text_field("address", &raw.address, 1, limits::MAX_TEXT)?;
    let cognito_user_id = raw.cognito_user_id;
    if char_len(&cognito_user_id) > limits::MAX_COGNITO_USER_ID
        || !matches(patterns::COGNITO_USER_ID, &cognito_user_id)
    {
        return Err(ApiProblem::invalid_field(
            "cognito_user_id",
            format!(
                "must be 1 to {} visible ASCII characters, without spaces",
                limits::MAX_COGNITO_USER_ID
            ),
        ));
    }
    Ok(RegisterBusinessRequest {
        business_name,
        email,
        phone,
        address,
        cognito_user_id,
    })
}

/// One line of text, checked as the schema states it (`min..=max` characters as written, at
/// least one of them visible: [`patterns::VISIBLE`]), then sanitized.
fn text_field(path: &str, raw: &str, min: usize, max: usize) -> Result<String, ApiProblem> {
    let len = char_len(raw);
    if len > max {
        return Err(ApiProblem::invalid_field(
            path,
            format!("must be at most {max} characters"),
        ));
    }
    if len == 0 {
        return Err(ApiProblem::invalid_field(path, "must not be empty"));
    }
    if len < min {
        return Err(ApiProblem::invalid_field(
            path,
            format!("must be at least {min} characters"),
        ));
    }
    if !has_visible(raw) {
        return Err(ApiProblem::invalid_field(path, "must not be blank"));
    }
    Ok(clean_text(raw))
}

/// An e-mail address: [`patterns::EMAIL`] as written, then in lower case.
fn email_field(path: &str, raw: &str) -> Result<String, ApiProblem> {
    if raw.is_empty() {
        return Err(ApiProblem::invalid_field(path, "must not be empty"));
    }
    match email_problem(raw, limits::MAX_EMAIL) {
        Some(rule) => Err(ApiProblem::invalid_field(path, rule)),
        None => Ok(normalize_email(raw)),
    }
}

fn sku_field(path: &str, raw: &str) -> Result<String, ApiProblem> {
    if is_valid_sku(raw) {
        Ok(raw.to_owned())
    } else {
        Err(ApiProblem::invalid_field(path, SKU_RULE))
    }
}

fn positive_price(path: &str, price: Money) -> Result<(), ApiProblem> {
    if price == Money::ZERO {
        return Err(ApiProblem::invalid_field(path, "must be greater than 0"));
    }
    Ok(())
}

fn postal_code_field(path: &str, raw: &str) -> Result<String, ApiProblem> {
    if char_len(raw) <= limits::MAX_POSTAL_CODE && matches(patterns::POSTAL_CODE, raw) {
        Ok(clean_text(raw))
    } else {
        Err(ApiProblem::invalid_field(
            path,
            format!(
                "must be 1 to {} letters and digits, with spaces or hyphens between them",
                limits::MAX_POSTAL_CODE
            ),
        ))
    }
}

/// [`patterns::PHONE`]: an optional `+`, then 7 to 15 digits, which spaces, parentheses and
/// hyphens may separate.
fn phone_field(path: &str, raw: &str) -> Result<String, ApiProblem> {
    if (7..=limits::MAX_PHONE).contains(&char_len(raw)) && matches(patterns::PHONE, raw) {
        Ok(clean_text(raw))
    } else {
        Err(ApiProblem::invalid_field(
            path,
            format!(
                "must be a phone number of at most {} characters: an optional '+' and 7 to 15 digits, \
                 which spaces, parentheses and hyphens may separate",
                limits::MAX_PHONE
            ),
        ))
    }
}

#[cfg(test)]
mod tests;
