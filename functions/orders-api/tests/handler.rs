//! The orders API handler, called with real API Gateway proxy events, against the local AWS
//! emulator with the system's real table layouts.

#![allow(clippy::unwrap_used)]

use infra_model::system::functions::ORDERS_API;
use infra_model::system::resources::{IDEMPOTENCY, INVENTORY, ORDERS};
use order_aws::AppConfig;
use order_aws::aws_sdk_dynamodb;
use order_aws::http::CorsPolicy;
use order_aws::idempotency::IdempotencyStore;
use order_aws::inventory::{InventoryStore, ProductRecord};
use order_aws::orders::OrderStore;
use orders_api::OrdersApi;
use serde_json::{Value, json};
use test_support::{api_event, api_request, create_tables, response_json, sdk, with_header, with_query};

const NOW: i64 = 1_795_408_200_000; // 2026-11-18T...

async fn api() -> OrdersApi {
    let sdk = sdk().await;
    let tables = create_tables(&sdk).await;
    let db = aws_sdk_dynamodb::Client::new(&sdk);
    let inventory = InventoryStore::new(db.clone(), &tables[INVENTORY.spec.id]);
    for (sku, stock, cents, name) in [("laptop", 5, 99_999, "Laptop"), ("mouse", 50, 2_999, "Mouse")] {
        inventory
            .put(&ProductRecord {
                sku: sku.into(),
                stock,
                price_cents: cents,
                name: name.into(),
                description: String::new(),
                updated_at: "2026-11-01T00:00:00.000Z".into(),
            })
            .await
            .unwrap();
    }
    OrdersApi {
        config: AppConfig {
            environment: "test".into(),
            cors: CorsPolicy::parse("https://shop.example"),
        },
        orders: OrderStore::new(db.clone(), &tables[ORDERS.spec.id]),
        inventory,
        idempotency: IdempotencyStore::new(db, &tables[IDEMPOTENCY.spec.id], &ORDERS_API),
        token_key: b"test-pagination-key".to_vec(),
    }
}

fn order_body(email: &str, laptop_qty: u32) -> String {
    json!({
        "customerName": "Ann Example",
        "customerEmail": email,
        "items": [
            {"sku": "laptop", "productName": "Laptop", "quantity": laptop_qty, "price": 999.99},
            {"sku": "mouse", "productName": "Mouse", "quantity": 2, "price": 1.00}
        ],
        "shippingAddress": {"street": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "USA"},
        "paymentMethod": "CARD"
    })
    .to_string()
}

async fn post(api: &OrdersApi, body: &str, key: Option<&str>) -> (u16, Value) {
    let mut e = api_event("POST", "/orders", "/orders", Some(body));
    if let Some(k) = key {
        e = with_header(e, "Idempotency-Key", k);
    }
    e = with_header(e, "Origin", "https://shop.example");
    response_json(api.handle(&api_request(&e), NOW).await)
}

#[tokio::test]
async fn an_order_is_stored_pending_and_priced_from_the_inventory() {
    let api = api().await;
    let (status, body) = post(&api, &order_body("ann@example.com", 1), None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "PENDING");
    assert_eq!(body["message"], "Order accepted for processing");
    let id = body["orderId"].as_str().unwrap();

    let (status, order) = response_json(
        api.handle(
            &api_request(&api_event(
                "GET",
                "/orders/{orderId}",
                &format!("/orders/{id}"),
                None,
            )),
            NOW,
        )
        .await,
    );
    assert_eq!(status, 200);
    // The mouse's client price (1.00) is ignored: the stored price (29.99) is charged.
    assert_eq!(order["total"], json!(1059.97));
    assert_eq!(order["items"][1]["unitPrice"], json!(29.99));
    assert_eq!(order["status"], "PENDING");
    assert_eq!(order["statusHistory"][0]["status"], "PENDING");
    assert_eq!(order["customerEmail"], "ann@example.com");
}

#[tokio::test]
async fn bad_requests_get_a_400_naming_the_field_and_nothing_is_stored() {
    let api = api().await;
    let mut body: Value = serde_json::from_str(&order_body("ann@example.com", 1)).unwrap();
    body.as_object_mut().unwrap().remove("customerEmail");
    let (status, err) = post(&api, &body.to_string(), None).await;
    assert_eq!(status, 400);
    assert_eq!(err["code"], "VALIDATION_FAILED");
    assert_eq!(err["message"], "Missing required field: customerEmail");
    assert_eq!(err["requestId"], "c6af9ac6-7b61-11e6-9a41-93e8deadbeef");

    let (status, err) = post(&api, "{\"customerName\": ", None).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("MALFORMED_JSON")));

    let body = order_body("ann@example.com", 1).replace("\"CARD\"", "\"CASH\"");
    let (status, err) = post(&api, &body, None).await;
    assert_eq!(status, 400);
    assert!(
        err["message"].as_str().unwrap().contains("paymentMethod"),
        "{err}"
    );

    // A well-formed SKU the inventory does not have: a business refusal, not a bad request.
    let body = order_body("ann@example.com", 1).replace("\"laptop\"", "\"no-such-sku\"");
    let (status, err) = post(&api, &body, None).await;
    assert_eq!((status, err["code"].as_str()), (422, Some("BUSINESS_RULE")));
    assert!(err["message"].as_str().unwrap().contains("items[0].sku"), "{err}");

    let e = with_header(
        api_event("POST", "/orders", "/orders", Some(&order_body("a@b.co", 1))),
        "Content-Type",
        "text/plain",
    );
    let (status, err) = response_json(api.handle(&api_request(&e), NOW).await);
    assert_eq!(
        (status, err["code"].as_str()),
        (415, Some("UNSUPPORTED_MEDIA_TYPE"))
    );

    let (status, listed) = response_json(
        api.handle(
            &api_request(&with_query(
                api_event("GET", "/orders", "/orders", None),
                &[("customerEmail", "ann@example.com")],
            )),
            NOW,
        )
        .await,
    );
    assert_eq!(status, 200);
    assert_eq!(listed["orders"], json!([]), "a refused order stores nothing");
}

#[tokio::test]
async fn a_retried_request_with_the_same_idempotency_key_creates_nothing_new() {
    let api = api().await;
    let body = order_body("bob@example.com", 1);
    let (s1, first) = post(&api, &body, Some("retry-me-1")).await;
    let (s2, second) = post(&api, &body, Some("retry-me-1")).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(first, second, "the retry gets the first answer");
    let (status, err) = post(&api, &order_body("bob@example.com", 2), Some("retry-me-1")).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    let (_, listed) = response_json(
        api.handle(
            &api_request(&with_query(
                api_event("GET", "/orders", "/orders", None),
                &[("customerEmail", "bob@example.com")],
            )),
            NOW,
        )
        .await,
    );
    assert_eq!(listed["orders"].as_array().unwrap().len(), 1);
    // Both filters: the customer's orders in that status.
    let (status, pending) = list(
        &api,
        &[("customerEmail", "bob@example.com"), ("status", "PENDING")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(pending["orders"].as_array().unwrap().len(), 1);
    let (status, shipped) = list(
        &api,
        &[("customerEmail", "bob@example.com"), ("status", "SHIPPED")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(shipped["orders"], json!([]));
}

/// An attempt that died holding its claim blocks its key for as long as orders-api can run
/// (its longest timeout in the model, and the margin), and no longer.
#[tokio::test]
async fn a_claim_left_by_a_dead_attempt_blocks_its_key_until_the_function_could_not_be_running() {
    let api = api().await;
    let body = order_body("dora@example.com", 1);
    let claim = api.idempotency.claim_seconds();
    assert_eq!(claim, ORDERS_API.longest_timeout().as_secs() + 5);
    assert_eq!(claim, 15, "orders-api runs for 10 s at most");
    // The dead attempt claimed the key at NOW and stored nothing.
    let now_s = u64::try_from(NOW / 1000).unwrap();
    let key = order_core::idempotency::record_key("POST /orders", "dead-attempt-1");
    let hash = order_core::idempotency::request_hash("POST", "/orders", body.as_bytes());
    assert!(matches!(
        api.idempotency.claim(&key, &hash, now_s).await,
        Ok(order_aws::idempotency::Claim::Claimed)
    ));
    let post_at = |seconds_later: u64| {
        let e = with_header(
            api_event("POST", "/orders", "/orders", Some(&body)),
            "Idempotency-Key",
            "dead-attempt-1",
        );
        let at = NOW + i64::try_from(seconds_later * 1000).unwrap();
        let api = &api;
        async move { response_json(api.handle(&api_request(&e), at).await) }
    };
    let (status, err) = post_at(claim).await;
    assert_eq!((status, err["code"].as_str()), (409, Some("CONFLICT")), "{err}");
    let (status, order) = post_at(claim + 1).await;
    assert_eq!(
        status, 202,
        "the claim has expired: the retry takes the key over: {order}"
    );
    assert_eq!(order["status"], "PENDING");
}

#[tokio::test]
async fn unknown_and_malformed_order_ids() {
    let api = api().await;
    let get = |path: String| api_request(&api_event("GET", "/orders/{orderId}", &path, None));
    let (status, err) = response_json(
        api.handle(&get("/orders/6f1c1a5e-1d2b-4c3d-8e4f-5a6b7c8d9e0f".into()), NOW)
            .await,
    );
    assert_eq!((status, err["code"].as_str()), (404, Some("NOT_FOUND")));
    let (status, _) = response_json(api.handle(&get("/orders/not-an-id".into()), NOW).await);
    assert_eq!(status, 400);
}

async fn list(api: &OrdersApi, query: &[(&str, &str)]) -> (u16, Value) {
    response_json(
        api.handle(
            &api_request(&with_query(api_event("GET", "/orders", "/orders", None), query)),
            NOW,
        )
        .await,
    )
}

#[tokio::test]
async fn listing_pages_through_a_customers_orders_newest_first_with_signed_tokens() {
    let api = api().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (_, b) = response_json(
            api.handle(
                &api_request(&api_event(
                    "POST",
                    "/orders",
                    "/orders",
                    Some(&order_body("cat@example.com", 1)),
                )),
                NOW + i * 1000,
            )
            .await,
        );
        ids.push(b["orderId"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = vec![("customerEmail", "cat@example.com"), ("limit", "2")];
        if let Some(t) = &token {
            q.push(("nextToken", t.as_str()));
        }
        let (status, page) = list(&api, &q).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["orderId"].as_str().unwrap().to_owned()),
        );
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "every order once, newest first");

    // A token is bound to its query and signed.
    let (_, page) = list(&api, &[("customerEmail", "cat@example.com"), ("limit", "2")]).await;
    let t = page["nextToken"].as_str().unwrap();
    let (status, err) = list(
        &api,
        &[
            ("customerEmail", "dan@example.com"),
            ("limit", "2"),
            ("nextToken", t),
        ],
    )
    .await;
    // Of the right form, but not issued for this query: refused by what the API knows (422).
    assert_eq!((status, err["code"].as_str()), (422, Some("INVALID_TOKEN")));
    let mut tampered = t.to_owned();
    tampered.replace_range(5..6, if &t[5..6] == "A" { "B" } else { "A" });
    let (status, err) = list(
        &api,
        &[
            ("customerEmail", "cat@example.com"),
            ("limit", "2"),
            ("nextToken", &tampered),
        ],
    )
    .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("INVALID_TOKEN")),
        "{err}"
    );
    assert!(err["message"].as_str().unwrap().contains("nextToken"));
    // Not of a token's form at all: the schema refuses it (400).
    let (status, err) = list(
        &api,
        &[("customerEmail", "cat@example.com"), ("nextToken", "not a token")],
    )
    .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("INVALID_QUERY")),
        "{err}"
    );
}

#[tokio::test]
async fn listing_by_status_reads_every_shard_and_merges_by_time() {
    let api = api().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let (_, b) = response_json(
            api.handle(
                &api_request(&api_event(
                    "POST",
                    "/orders",
                    "/orders",
                    Some(&order_body(&format!("s{i}@example.com"), 1)),
                )),
                NOW + i * 1000,
            )
            .await,
        );
        ids.push(b["orderId"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..20 {
        let mut q = vec![("status", "PENDING"), ("limit", "5"), ("sortOrder", "asc")];
        if let Some(t) = &token {
            q.push(("nextToken", t.as_str()));
        }
        let (status, page) = list(&api, &q).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["orderId"].as_str().unwrap().to_owned()),
        );
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    // Other tests of this binary use other tables, so these are exactly this test's orders.
    assert_eq!(seen, ids, "every pending order once, oldest first");
    let (status, _) = list(&api, &[("status", "SHIPPING")]).await;
    assert_eq!(status, 400);
    let (status, err) = list(&api, &[]).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (422, Some("BUSINESS_RULE")),
        "a filter is required"
    );
}

#[tokio::test]
async fn responses_carry_cors_headers_for_allowed_origins_only() {
    let api = api().await;
    let e = with_header(
        api_event("GET", "/orders", "/orders", None),
        "Origin",
        "https://shop.example",
    );
    let r = api
        .handle(
            &api_request(&with_query(e, &[("customerEmail", "x@example.com")])),
            NOW,
        )
        .await;
    assert_eq!(r.headers()["access-control-allow-origin"], "https://shop.example");
    let e = with_header(
        api_event("GET", "/orders", "/orders", None),
        "Origin",
        "https://evil.example",
    );
    let r = api
        .handle(
            &api_request(&with_query(e, &[("customerEmail", "x@example.com")])),
            NOW,
        )
        .await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
