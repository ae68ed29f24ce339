use super::*;

fn message(r: Result<Map<String, Value>, ApiProblem>) -> (u16, ErrorCode, String) {
    let p = r.unwrap_err();
    (p.status, p.code, p.message)
}

#[test]
fn content_types() {
    for ok in [
        None,
        Some(""),
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("Application/JSON;charset=UTF-8"),
        Some("  application/json ;  charset = \"utf-8\" "),
    ] {
        assert_eq!(check_content_type(ok), Ok(()), "{ok:?}");
    }
    for bad in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json; charset=latin1",
        "application/json; boundary=x",
        "application/json;",
        "application/jsonx",
        "multipart/form-data; charset=utf-8",
    ] {
        let p = check_content_type(Some(bad)).unwrap_err();
        assert_eq!(
            (p.status, p.code),
            (415, ErrorCode::UnsupportedMediaType),
            "{bad}"
        );
    }
    assert_eq!(
        check_content_type(Some("text/plain")).unwrap_err().message,
        "Unsupported Content-Type \"text/plain\": send application/json (charset utf-8)"
    );
}

#[test]
fn content_type_is_checked_before_size_and_syntax() {
    let huge = vec![b'x'; limits::MAX_BODY_BYTES + 1];
    assert_eq!(
        read_json_object(&huge, Some("text/plain")).unwrap_err().status,
        415
    );
    assert_eq!(read_json_object(&huge, None).unwrap_err().status, 413);
}

#[test]
fn size_limit_is_inclusive() {
    let mut body = b"{\"a\":\"".to_vec();
    body.resize(limits::MAX_BODY_BYTES - 2, b'x');
    body.extend_from_slice(b"\"}");
    assert_eq!(body.len(), limits::MAX_BODY_BYTES);
    assert!(read_json_object(&body, None).is_ok());
    body.insert(6, b'x');
    assert_eq!(
        message(read_json_object(&body, None)),
        (
            413,
            ErrorCode::PayloadTooLarge,
            "Request body is 65537 bytes: the limit is 65536 bytes".into()
        )
    );
}

#[test]
fn empty_and_non_object_bodies() {
    for (body, text) in [
        ("", "Request body is empty: send a JSON object"),
        (" \n\t", "Request body is empty: send a JSON object"),
        ("null", "Request body must be a JSON object, got null"),
        ("[]", "Request body must be a JSON object, got an array"),
        ("[{\"a\":1}]", "Request body must be a JSON object, got an array"),
        ("\"{}\"", "Request body must be a JSON object, got a string"),
        ("42", "Request body must be a JSON object, got a number"),
        ("true", "Request body must be a JSON object, got a boolean"),
    ] {
        assert_eq!(
            message(read_json_object(body.as_bytes(), None)),
            (400, ErrorCode::MalformedJson, text.into()),
            "{body:?}"
        );
    }
}

#[test]
fn syntax_errors_name_line_and_column() {
    for (body, text) in [
        ("{\"a\": }", "Malformed JSON at line 1 column 7: expected value"),
        ("{\"a\":1,}", "Malformed JSON at line 1 column 8: trailing comma"),
        (
            "{\n  \"a\": 1\n",
            "Malformed JSON at line 3 column 0: EOF while parsing an object",
        ),
        (
            "{\"a\":1} x",
            "Malformed JSON at line 1 column 9: trailing characters",
        ),
        (
            "{\"a\":1}{}",
            "Malformed JSON at line 1 column 8: trailing characters",
        ),
        (
            "{'a':1}",
            "Malformed JSON at line 1 column 2: key must be a string",
        ),
        (
            "{\"a\":1e400}",
            "Malformed JSON at line 1 column 10: number out of range",
        ),
        ("{\"a\":NaN}", "Malformed JSON at line 1 column 6: expected value"),
    ] {
        assert_eq!(
            message(read_json_object(body.as_bytes(), None)),
            (400, ErrorCode::MalformedJson, text.into()),
            "{body:?}"
        );
    }
}

#[test]
fn invalid_utf8_and_deep_nesting_are_malformed_not_panics() {
    let p = read_json_object(b"{\"a\":\"\xff\xfe\"}", None).unwrap_err();
    assert_eq!(p.code, ErrorCode::MalformedJson);
    assert!(
        p.message.starts_with("Malformed JSON at line 1 column"),
        "{}",
        p.message
    );
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
    let p = read_json_object(deep.as_bytes(), None).unwrap_err();
    assert_eq!(p.code, ErrorCode::MalformedJson);
    assert!(p.message.ends_with("recursion limit exceeded"), "{}", p.message);
}

#[test]
fn duplicate_keys_are_refused_with_their_path() {
    assert_eq!(
        message(read_json_object(br#"{"a":1,"a":2}"#, None)),
        (400, ErrorCode::MalformedJson, "Duplicate field: a".into())
    );
    assert_eq!(
        message(read_json_object(
            br#"{"items":[{"sku":"x"},{"sku":"y","sku":"z"}]}"#,
            None
        )),
        (
            400,
            ErrorCode::MalformedJson,
            "Duplicate field: items[1].sku".into()
        )
    );
}

#[test]
fn values_survive_the_strict_parser() {
    let map = read_json_object(
        br#"{"s":"x\u00e9","n":-3,"u":18446744073709551615,"f":1.5,"b":false,"z":null,"a":[1,{"k":[]}]}"#,
        Some("application/json"),
    )
    .unwrap();
    let expected: Value = serde_json::from_str(
        r#"{"s":"xé","n":-3,"u":18446744073709551615,"f":1.5,"b":false,"z":null,"a":[1,{"k":[]}]}"#,
    )
    .unwrap();
    assert_eq!(Value::Object(map), expected);
}

#[test]
fn paths_quote_keys_that_are_not_identifiers() {
    assert_eq!(join_key("", "customerEmail"), "customerEmail");
    assert_eq!(join_key("items[0]", "sku"), "items[0].sku");
    assert_eq!(join_key("", "a.b"), "[\"a.b\"]");
    assert_eq!(join_key("x", "with space"), "x[\"with space\"]");
    assert_eq!(join_key("", ""), "[\"\"]");
    assert_eq!(join_key("", "\u{1b}[31m"), "[\"\\u001b[31m\"]");
    let long = "k".repeat(100);
    assert_eq!(join_key("", &long), format!("[\"{}\"…]", "k".repeat(64)));
}

#[test]
fn serde_messages_are_rewritten() {
    for (path, serde_message, ours) in [
        (
            "",
            "missing field `customerEmail`",
            "Missing required field: customerEmail",
        ),
        (
            "shippingAddress",
            "missing field `city`",
            "Missing required field: shippingAddress.city",
        ),
        (
            "discount",
            "unknown field `discount`, expected one of `a`, `b`",
            "Unknown field: discount",
        ),
        ("x", "unknown field `x`, there are no fields", "Unknown field: x"),
        (
            "paymentMethod",
            "unknown variant `CASH`, expected one of `CARD`, `PAYPAL`, `BANK_TRANSFER`",
            "Invalid field paymentMethod: must be one of CARD, PAYPAL, BANK_TRANSFER",
        ),
        (
            "items[0].quantity",
            "invalid type: string \"5\", expected u32",
            "Invalid field items[0].quantity: must be a whole number, got a string",
        ),
        (
            "items[0].quantity",
            "invalid value: integer `-1`, expected u32",
            "Invalid field items[0].quantity: must be a whole number",
        ),
        (
            "items[0].price",
            "invalid type: string \"1\", expected an amount of money such as 19.99",
            "Invalid field items[0].price: must be a number such as 19.99, got a string",
        ),
        (
            "customerName",
            "invalid type: null, expected a string",
            "Invalid field customerName: must be a string, got null",
        ),
        (
            "shippingAddress",
            "invalid type: sequence, expected struct ShippingAddress",
            "Invalid field shippingAddress: must be an object, got an array",
        ),
        (
            "items",
            "invalid type: map, expected a sequence",
            "Invalid field items: must be an array, got an object",
        ),
        (
            "paymentMethod",
            "invalid type: boolean `true`, expected string or map",
            "Invalid field paymentMethod: must be a string, got a boolean",
        ),
        (
            "q",
            "invalid type: floating point `1.5`, expected u32",
            "Invalid field q: must be a whole number, got a number with a fraction",
        ),
        (
            "items[0].price",
            "must have at most 2 decimal places",
            "Invalid field items[0].price: must have at most 2 decimal places",
        ),
    ] {
        assert_eq!(
            rewrite_serde_message(path, serde_message).message,
            ours,
            "{serde_message}"
        );
    }
}

#[test]
fn shapes_report_in_field_order_with_our_words() {
    const ITEM: Shape = Shape::Object(&[("n", Shape::Integer { min: 1, max: 10 })]);
    const DOC: Shape = Shape::Object(&[
        ("name", Shape::Text),
        (
            "list",
            Shape::Array {
                item: &ITEM,
                min: 1,
                max: 3,
            },
        ),
        ("kind", Shape::OneOf(&["A", "B"])),
        ("any", Shape::Any),
    ]);
    let check = |s: &str| {
        let v: Value = serde_json::from_str(s).unwrap();
        check_shape(&v, &DOC, "").err().map(|p| p.message)
    };
    assert_eq!(
        check(r#"{"name":"x","list":[{"n":1}],"kind":"A","any":[]}"#),
        None
    );
    assert_eq!(check(r#"{}"#), None);
    assert_eq!(
        check(r#"{"name":5}"#).unwrap(),
        "Invalid field name: must be a string, got a number"
    );
    assert_eq!(
        check(r#"{"list":{}}"#).unwrap(),
        "Invalid field list: must be an array, got an object"
    );
    assert_eq!(
        check(r#"{"list":[]}"#).unwrap(),
        "Invalid field list: must have between 1 and 3 entries"
    );
    // The length is told before the entries are looked at.
    assert_eq!(
        check(r#"{"list":[{"n":0},{"n":0},{"n":0},{"n":0}]}"#).unwrap(),
        "Invalid field list: must have between 1 and 3 entries"
    );
    assert_eq!(
        check(r#"{"list":[{"n":1},[]]}"#).unwrap(),
        "Invalid field list[1]: must be an object, got an array"
    );
    assert_eq!(
        check(r#"{"list":[{"n":0}]}"#).unwrap(),
        "Invalid field list[0].n: must be between 1 and 10"
    );
    assert_eq!(
        check(r#"{"list":[{"n":11}]}"#).unwrap(),
        "Invalid field list[0].n: must be between 1 and 10"
    );
    assert_eq!(
        check(r#"{"list":[{"n":-1}]}"#).unwrap(),
        "Invalid field list[0].n: must be between 1 and 10"
    );
    assert_eq!(
        check(r#"{"list":[{"n":1.0}]}"#).unwrap(),
        "Invalid field list[0].n: must be a whole number between 1 and 10"
    );
    assert_eq!(
        check(r#"{"list":[{"n":"5"}]}"#).unwrap(),
        "Invalid field list[0].n: must be a whole number between 1 and 10, got a string"
    );
    assert_eq!(
        check(r#"{"kind":"C"}"#).unwrap(),
        "Invalid field kind: must be one of A, B"
    );
    assert_eq!(
        check(r#"{"kind":{"A":null}}"#).unwrap(),
        "Invalid field kind: must be one of A, B"
    );
    assert_eq!(
        check(r#"{"kind":"a"}"#).unwrap(),
        "Invalid field kind: must be one of A, B"
    );
    assert_eq!(
        check(r#"{"name":5,"kind":"C"}"#).unwrap(),
        "Invalid field name: must be a string, got a number"
    );
}
