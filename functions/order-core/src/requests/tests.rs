use super::*;
use infra_model::contract::api::ErrorCode;
use serde_json::{Value, json};

fn order() -> Value {
    json!({
        "customerName": "Ada Lovelace",
        "customerEmail": "ada@example.com",
        "items": [
            {"sku": "laptop", "productName": "Laptop 15", "quantity": 1, "price": 999.99},
            {"sku": "mouse", "productName": "Mouse", "quantity": 2, "price": 29.99}
        ],
        "shippingAddress": {"street": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "USA"},
        "paymentMethod": "CARD"
    })
}

fn create(v: &Value) -> Result<CreateOrderRequest, ApiProblem> {
    parse_create_order(v.to_string().as_bytes(), Some("application/json"))
}

fn create_err(v: &Value) -> String {
    let p = create(v).unwrap_err();
    assert_eq!(p.status, 400, "{p:?}");
    p.message
}

/// A refusal by a business rule (422), not by the schema.
fn create_refused(v: &Value) -> String {
    let p = create(v).unwrap_err();
    assert_eq!((p.status, p.code), (422, ErrorCode::BusinessRule), "{p:?}");
    p.message
}

/// The order with one JSON pointer replaced (or removed, when `with` is `None`).
fn with(pointer: &str, value: Option<Value>) -> Value {
    let mut v = order();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = v.pointer_mut(parent).unwrap();
    match (target, value) {
        (Value::Object(m), Some(x)) => {
            m.insert(key.into(), x);
        }
        (Value::Object(m), None) => {
            m.remove(key);
        }
        (Value::Array(a), Some(x)) => a[key.parse::<usize>().unwrap()] = x,
        _ => panic!("bad pointer {pointer}"),
    }
    v
}

#[test]
fn a_good_order_parses_and_is_sanitized() {
    let mut v = order();
    v["customerName"] = json!("  Ada \t\n Lovelace\u{0007} ");
    v["customerEmail"] = json!("Ada@Example.COM");
    v["items"][0]["productName"] = json!("Laptop   15\u{202E}");
    v["shippingAddress"]["city"] = json!(" New   York ");
    let o = create(&v).unwrap();
    assert_eq!(o.customer_name, "Ada Lovelace");
    assert_eq!(o.customer_email, "ada@example.com");
    assert_eq!(o.items[0].sku, "laptop");
    assert_eq!(o.items[0].product_name, "Laptop 15");
    // Keys and addresses are checked as written, as their schemas' patterns say: no
    // surrounding spaces.
    let mut bad = order();
    bad["items"][0]["sku"] = json!(" laptop ");
    assert!(create_err(&bad).starts_with("Invalid field items[0].sku:"));
    let mut bad = order();
    bad["customerEmail"] = json!(" ada@example.com");
    assert!(create_err(&bad).starts_with("Invalid field customerEmail:"));
    assert_eq!(o.items[0].price, Money::from_cents(99_999));
    assert_eq!(o.items[1].quantity, 2);
    assert_eq!(o.shipping_address.city, "New York");
    assert_eq!(o.shipping_address.country, "USA");
    assert_eq!(o.payment_method, PaymentMethod::Card);
    // Without a Content-Type, and with the charset.
    assert!(parse_create_order(order().to_string().as_bytes(), None).is_ok());
    assert!(
        parse_create_order(
            order().to_string().as_bytes(),
            Some("application/json; charset=utf-8")
        )
        .is_ok()
    );
}

#[test]
fn unicode_text_is_kept() {
    let mut v = order();
    v["customerName"] = json!("Zoë 東京 👩‍💻");
    v["items"][0]["productName"] = json!("Ноутбук");
    let o = create(&v).unwrap();
    assert_eq!(o.customer_name, "Zoë 東京 👩‍💻");
    assert_eq!(o.items[0].product_name, "Ноутбук");
}

#[test]
fn missing_fields_are_named_by_path() {
    assert_eq!(
        create_err(&with("/customerEmail", None)),
        "Missing required field: customerEmail"
    );
    assert_eq!(
        create_err(&with("/shippingAddress/city", None)),
        "Missing required field: shippingAddress.city"
    );
    assert_eq!(
        create_err(&with(
            "/items/1",
            Some(json!({"sku": "mouse", "productName": "M", "price": 1}))
        )),
        "Missing required field: items[1].quantity"
    );
    assert_eq!(create_err(&json!({})), "Missing required field: customerName");
}

#[test]
fn unknown_fields_are_refused() {
    assert_eq!(
        create_err(&with("/discount", Some(json!(10)))),
        "Unknown field: discount"
    );
    assert_eq!(
        create_err(&with("/items/0/productId", Some(json!("p1")))),
        "Unknown field: items[0].productId"
    );
    assert_eq!(
        create_err(&with("/shippingAddress/state", Some(json!("CA")))),
        "Unknown field: shippingAddress.state"
    );
}

#[test]
fn quantities_are_whole_numbers_from_1_to_1000() {
    let q = |x: Value| create(&with("/items/0/quantity", Some(x)));
    assert!(q(json!(1)).is_ok());
    assert!(q(json!(1000)).is_ok());
    // A number with no fraction is an integer, as JSON Schema counts it.
    assert_eq!(q(json!(2.0)).unwrap().items[0].quantity, 2);
    for bad in [json!(0), json!(1001), json!(-1), json!(5_000_000_000_u64)] {
        assert_eq!(
            q(bad.clone()).unwrap_err().message,
            "Invalid field items[0].quantity: must be between 1 and 1000",
            "{bad}"
        );
    }
    assert_eq!(
        q(json!("5")).unwrap_err().message,
        "Invalid field items[0].quantity: must be a whole number between 1 and 1000, got a string"
    );
    assert_eq!(
        q(json!(1.5)).unwrap_err().message,
        "Invalid field items[0].quantity: must be a whole number between 1 and 1000"
    );
    assert_eq!(
        q(Value::Null).unwrap_err().message,
        "Invalid field items[0].quantity: must be a whole number between 1 and 1000, got null"
    );
}

#[test]
fn prices_are_positive_with_two_decimals() {
    let p = |x: Value| create(&with("/items/1/price", Some(x)));
    assert_eq!(p(json!(0.01)).unwrap().items[1].price, Money::from_cents(1));
    assert_eq!(p(json!(5)).unwrap().items[1].price, Money::from_cents(500));
    for (bad, rule) in [
        (json!(19.999), "must have at most 2 decimal places"),
        (json!(0), "must be greater than 0"),
        (json!(0.0), "must be greater than 0"),
        (json!(-1), "must not be negative"),
        (json!(-0.5), "must not be negative"),
        (json!(10_000_000.01), "must be at most 10000000.00"),
        (json!("19.99"), "must be a number such as 19.99, got a string"),
        (Value::Null, "must be a number such as 19.99, got null"),
        (json!([1]), "must be a number such as 19.99, got an array"),
    ] {
        assert_eq!(
            p(bad.clone()).unwrap_err().message,
            format!("Invalid field items[1].price: {rule}"),
            "{bad}"
        );
    }
}

#[test]
fn payment_methods() {
    for (name, m) in [
        ("CARD", PaymentMethod::Card),
        ("PAYPAL", PaymentMethod::Paypal),
        ("BANK_TRANSFER", PaymentMethod::BankTransfer),
    ] {
        assert_eq!(
            create(&with("/paymentMethod", Some(json!(name))))
                .unwrap()
                .payment_method,
            m
        );
        assert_eq!(payment_method_name(m), name);
        assert_eq!(serde_json::to_value(m).unwrap(), json!(name));
    }
    for bad in [
        json!("CASH"),
        json!("card"),
        json!(""),
        json!(1),
        json!({"CARD": null}),
        Value::Null,
    ] {
        assert_eq!(
            create_err(&with("/paymentMethod", Some(bad.clone()))),
            "Invalid field paymentMethod: must be one of CARD, PAYPAL, BANK_TRANSFER",
            "{bad}"
        );
    }
}

#[test]
fn item_counts() {
    let item = |i: usize| json!({"sku": format!("sku-{i}"), "productName": "P", "quantity": 1, "price": 1});
    let items = |n: usize| Value::Array((0..n).map(item).collect());
    // 99, not 100: see `limits::MAX_ITEMS` (one DynamoDB transaction reserves the order).
    assert_eq!(create(&with("/items", Some(items(99)))).unwrap().items.len(), 99);
    for n in [0, 100] {
        assert_eq!(
            create_err(&with("/items", Some(items(n)))),
            "Invalid field items: must have between 1 and 99 entries"
        );
    }
    assert_eq!(
        create_err(&with("/items", Some(json!({"sku": "x"})))),
        "Invalid field items: must be an array, got an object"
    );
    assert_eq!(
        create_err(&with("/items", Some(json!(["laptop"])))),
        "Invalid field items[0]: must be an object, got a string"
    );
}

#[test]
fn duplicate_skus_are_refused() {
    let v = with(
        "/items/1",
        Some(json!({"sku": "laptop", "productName": "Laptop", "quantity": 1, "price": 999.99})),
    );
    assert_eq!(
        create_refused(&v),
        "Refused field items[1].sku: duplicates items[0].sku; list each SKU once with the total quantity"
    );
    // Case matters.
    let mut v = order();
    v["items"][1]["sku"] = json!("LAPTOP");
    assert!(create(&v).is_ok());
}

#[test]
fn text_rules() {
    for (pointer, value, message) in [
        (
            "/customerName",
            json!("   "),
            "Invalid field customerName: must not be blank",
        ),
        (
            "/customerName",
            json!("\u{0}\u{1}"),
            "Invalid field customerName: must not be blank",
        ),
        (
            "/customerName",
            json!(""),
            "Invalid field customerName: must not be empty",
        ),
        (
            "/customerName",
            json!("x".repeat(201)),
            "Invalid field customerName: must be at most 200 characters",
        ),
        (
            "/customerName",
            json!(5),
            "Invalid field customerName: must be a string, got a number",
        ),
        (
            "/customerName",
            Value::Null,
            "Invalid field customerName: must be a string, got null",
        ),
        (
            "/items/0/productName",
            json!(" "),
            "Invalid field items[0].productName: must not be blank",
        ),
        (
            "/items/0/sku",
            json!("bad sku"),
            "Invalid field items[0].sku: must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        ),
        (
            "/items/0/sku",
            json!("x".repeat(65)),
            "Invalid field items[0].sku: must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        ),
        (
            "/customerEmail",
            json!("not-an-email"),
            "Invalid field customerEmail: must be a valid e-mail address such as name@example.com",
        ),
        (
            "/customerEmail",
            json!("  "),
            "Invalid field customerEmail: must be a valid e-mail address such as name@example.com",
        ),
        (
            "/shippingAddress/postalCode",
            json!("12#45"),
            "Invalid field shippingAddress.postalCode: must be 1 to 20 letters and digits, with spaces or hyphens between them",
        ),
        (
            "/shippingAddress/postalCode",
            json!(" 1245"),
            "Invalid field shippingAddress.postalCode: must be 1 to 20 letters and digits, with spaces or hyphens between them",
        ),
        (
            "/shippingAddress/street",
            json!("\t"),
            "Invalid field shippingAddress.street: must not be blank",
        ),
        (
            "/shippingAddress/street",
            json!(""),
            "Invalid field shippingAddress.street: must not be empty",
        ),
        (
            "/shippingAddress/country",
            json!("X"),
            "Invalid field shippingAddress.country: must be at least 2 characters",
        ),
        (
            "/shippingAddress",
            json!(["1 Main St"]),
            "Invalid field shippingAddress: must be an object, got an array",
        ),
    ] {
        assert_eq!(create_err(&with(pointer, Some(value))), message, "{pointer}");
    }
    // 200 characters of a multi-byte script are fine: the limit counts characters.
    assert!(create(&with("/customerName", Some(json!("é".repeat(200))))).is_ok());
    // The length is counted as written, as the schema's maxLength counts it.
    let padded = format!("   {}   ", "x".repeat(197));
    assert!(
        create_err(&with("/customerName", Some(json!(padded)))).ends_with("must be at most 200 characters")
    );
    let padded = format!("   {}   ", "x".repeat(194));
    assert_eq!(
        create(&with("/customerName", Some(json!(padded))))
            .unwrap()
            .customer_name,
        "x".repeat(194)
    );
}

#[test]
fn the_first_problem_in_document_order_is_told() {
    let mut v = order();
    v["customerName"] = json!(" ");
    v["items"][0]["sku"] = json!("bad sku");
    v["shippingAddress"]["country"] = json!("Atlantis");
    assert_eq!(create_err(&v), "Invalid field customerName: must not be blank");
    v["customerName"] = json!("Ada");
    assert!(create_err(&v).starts_with("Invalid field items[0].sku:"));
    v["items"][0]["sku"] = json!("laptop");
    assert!(create_refused(&v).starts_with("Refused field shippingAddress.country:"));
    // Shape problems (types, counts, enums) come before text rules.
    v["paymentMethod"] = json!("CASH");
    assert_eq!(
        create_err(&v),
        "Invalid field paymentMethod: must be one of CARD, PAYPAL, BANK_TRANSFER"
    );
}

#[test]
fn countries_we_ship_to() {
    for ok in [
        "US",
        "usa",
        "United States",
        "DE",
        "Germany",
        "gb",
        "United Kingdom",
    ] {
        assert!(
            create(&with("/shippingAddress/country", Some(json!(ok)))).is_ok(),
            "{ok}"
        );
    }
    // A well-formed country we do not ship to is a business refusal, not a bad request.
    let message = create_refused(&with("/shippingAddress/country", Some(json!("Atlantis"))));
    assert!(
        message.starts_with(
            "Refused field shippingAddress.country: must be a country we ship to, as an ISO 3166 code or English name (one of US, CA, "
        ),
        "{message}"
    );
    assert_eq!(
        create_refused(&with("/shippingAddress/country", Some(json!("ZZ")))),
        message
    );
}

#[test]
fn whole_body_edge_cases() {
    for (body, code, message) in [
        (
            "",
            ErrorCode::MalformedJson,
            "Request body is empty: send a JSON object",
        ),
        (
            "null",
            ErrorCode::MalformedJson,
            "Request body must be a JSON object, got null",
        ),
        (
            "[]",
            ErrorCode::MalformedJson,
            "Request body must be a JSON object, got an array",
        ),
        (
            "{\"customerName\":\"A\",}",
            ErrorCode::MalformedJson,
            "Malformed JSON at line 1 column 21: trailing comma",
        ),
    ] {
        let p = parse_create_order(body.as_bytes(), None).unwrap_err();
        assert_eq!((p.code, p.message.as_str()), (code, message), "{body}");
    }
    // An array with the five fields in order would satisfy serde's struct-from-sequence;
    // it is refused before serde sees it.
    let as_array = json!(["Ada", "ada@example.com", [], {}, "CARD"]).to_string();
    assert_eq!(
        parse_create_order(as_array.as_bytes(), None).unwrap_err().message,
        "Request body must be a JSON object, got an array"
    );
    let mut huge = order();
    huge["customerName"] = json!("x".repeat(limits::MAX_BODY_BYTES));
    let p = parse_create_order(huge.to_string().as_bytes(), None).unwrap_err();
    assert_eq!((p.status, p.code), (413, ErrorCode::PayloadTooLarge));
    let p = parse_create_order(order().to_string().as_bytes(), Some("text/plain")).unwrap_err();
    assert_eq!((p.status, p.code), (415, ErrorCode::UnsupportedMediaType));
}

fn inventory(v: Value) -> Result<InventoryUpdate, ApiProblem> {
    parse_put_inventory("laptop-15", v.to_string().as_bytes(), None)
}

#[test]
fn inventory_updates() {
    let u = inventory(json!({"stock": 5, "price": 999.99, "name": " Laptop  15 ", "description": "Fast.\r\n\r\n\r\nLight.  "}))
        .unwrap();
    assert_eq!(
        u,
        InventoryUpdate {
            sku: "laptop-15".into(),
            item: PutInventoryRequest {
                stock: 5,
                price: Money::from_cents(99_999),
                name: "Laptop 15".into(),
                description: "Fast.\n\nLight.".into(),
            }
        }
    );
    let u = inventory(json!({"stock": 0, "price": 1, "name": "x"})).unwrap();
    assert_eq!((u.item.stock, u.item.description.as_str()), (0, ""));
    assert!(inventory(json!({"stock": 1_000_000, "price": 1, "name": "x"})).is_ok());
    for (v, message) in [
        (
            json!({"stock": -1, "price": 1, "name": "x"}),
            "Invalid field stock: must be between 0 and 1000000",
        ),
        (
            json!({"stock": 1_000_001, "price": 1, "name": "x"}),
            "Invalid field stock: must be between 0 and 1000000",
        ),
        (
            json!({"stock": "3", "price": 1, "name": "x"}),
            "Invalid field stock: must be a whole number between 0 and 1000000, got a string",
        ),
        (
            json!({"stock": 1, "price": 0, "name": "x"}),
            "Invalid field price: must be greater than 0",
        ),
        (
            json!({"stock": 1, "price": 1.001, "name": "x"}),
            "Invalid field price: must have at most 2 decimal places",
        ),
        (
            json!({"stock": 1, "price": 1, "name": ""}),
            "Invalid field name: must not be empty",
        ),
        (
            json!({"stock": 1, "price": 1, "name": "x", "description": null}),
            "Invalid field description: must be a string, got null",
        ),
        (
            json!({"stock": 1, "price": 1, "name": "x", "description": "d".repeat(2001)}),
            "Invalid field description: must be at most 2000 characters",
        ),
        (json!({"price": 1, "name": "x"}), "Missing required field: stock"),
        (
            json!({"stock": 1, "price": 1, "name": "x", "sku": "y"}),
            "Unknown field: sku",
        ),
    ] {
        assert_eq!(inventory(v.clone()).unwrap_err().message, message, "{v}");
    }
}

#[test]
fn the_path_sku_is_checked_first() {
    let p = parse_put_inventory("bad sku", b"not json", None).unwrap_err();
    assert_eq!(
        p.message,
        "Invalid field sku: must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    );
    assert_eq!(parse_sku_param("ok.SKU_1-2").unwrap(), "ok.SKU_1-2");
    assert!(parse_sku_param("").is_err());
}

fn business() -> Value {
    json!({
        "business_name": "Test Business",
        "email": "Test@Example.com",
        "phone": "+1234567890",
        "address": "123 Test St",
        "cognito_user_id": "test-user-123"
    })
}

#[test]
fn business_registration() {
    let b = parse_register_business(business().to_string().as_bytes(), None).unwrap();
    assert_eq!(b.email, "test@example.com");
    assert_eq!(b.phone, "+1234567890");
    let change = |k: &str, v: Value| {
        let mut b = business();
        b[k] = v;
        parse_register_business(b.to_string().as_bytes(), None)
    };
    for ok in ["+1 (555) 123-4567", "0301234567", "+49 30 1234567"] {
        assert!(change("phone", json!(ok)).is_ok(), "{ok}");
    }
    let phone_rule = "Invalid field phone: must be a phone number of at most 48 characters: an optional '+' and 7 to 15 digits, which spaces, parentheses and hyphens may separate";
    for bad in [
        "123",
        "++1234567890",
        "+1234567890123456",
        "phone: 1234567",
        "12345678901234567890123",
    ] {
        assert_eq!(
            change("phone", json!(bad)).unwrap_err().message,
            phone_rule,
            "{bad}"
        );
    }
    assert_eq!(
        change("cognito_user_id", json!("has space")).unwrap_err().message,
        "Invalid field cognito_user_id: must be 1 to 128 visible ASCII characters, without spaces"
    );
    assert_eq!(
        change("email", json!("nope")).unwrap_err().message,
        "Invalid field email: must be a valid e-mail address such as name@example.com"
    );
    let mut b = business();
    b.as_object_mut().unwrap().remove("business_name");
    assert_eq!(
        parse_register_business(b.to_string().as_bytes(), None)
            .unwrap_err()
            .message,
        "Missing required field: business_name"
    );
    // The camelCase spelling is not this endpoint's.
    let mut b = business();
    b["businessName"] = json!("x");
    assert_eq!(
        parse_register_business(b.to_string().as_bytes(), None)
            .unwrap_err()
            .message,
        "Unknown field: businessName"
    );
}
