//! The inventory API with real API Gateway events against the emulator.

#![allow(clippy::unwrap_used)]

use infra_model::system::resources::INVENTORY;
use inventory_api::InventoryApi;
use order_aws::AppConfig;
use order_aws::aws_sdk_dynamodb;
use order_aws::http::CorsPolicy;
use order_aws::inventory::InventoryStore;
use serde_json::json;
use test_support::{api_event, api_request, create_tables, response_json, sdk, with_query};

async fn api() -> InventoryApi {
    let sdk = sdk().await;
    let tables = create_tables(&sdk).await;
    InventoryApi {
        config: AppConfig {
            environment: "test".into(),
            cors: CorsPolicy::AnyOrigin,
        },
        inventory: InventoryStore::new(aws_sdk_dynamodb::Client::new(&sdk), &tables[INVENTORY.spec.id]),
        token_key: b"k".to_vec(),
    }
}

#[tokio::test]
async fn products_are_stored_read_back_and_listed_in_pages() {
    let api = api().await;
    for (i, sku) in ["laptop", "mouse", "keyboard", "monitor", "dock"]
        .iter()
        .enumerate()
    {
        let body = json!({"stock": 10 + i, "price": 19.99, "name": format!("The {sku}"), "description": "Line one\nline two"});
        let e = api_event(
            "PUT",
            "/inventory/{sku}",
            &format!("/inventory/{sku}"),
            Some(&body.to_string()),
        );
        let (status, item) = response_json(api.handle(&api_request(&e), "2026-11-23T04:00:00.000Z").await);
        assert_eq!(status, 200, "{item}");
        assert_eq!(item["price"], json!(19.99));
    }
    let e = api_event("GET", "/inventory/{sku}", "/inventory/mouse", None);
    let (status, item) = response_json(api.handle(&api_request(&e), "t").await);
    assert_eq!(status, 200);
    assert_eq!(item["stock"], json!(11), "stock is a number");
    assert_eq!(item["description"], "Line one\nline two");

    let mut skus = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut q = vec![("limit", "2")];
        if let Some(t) = &token {
            q.push(("nextToken", t));
        }
        let e = with_query(api_event("GET", "/inventory", "/inventory", None), &q);
        let (status, page) = response_json(api.handle(&api_request(&e), "t").await);
        assert_eq!(status, 200, "{page}");
        skus.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["sku"].as_str().unwrap().to_owned()),
        );
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    skus.sort();
    assert_eq!(skus, ["dock", "keyboard", "laptop", "monitor", "mouse"]);
}

#[tokio::test]
async fn bad_input_unknown_products_and_wrong_methods() {
    let api = api().await;
    let e = api_event(
        "PUT",
        "/inventory/{sku}",
        "/inventory/laptop",
        Some(r#"{"stock": -1, "price": 10, "name": "x"}"#),
    );
    let (status, err) = response_json(api.handle(&api_request(&e), "t").await);
    assert_eq!(status, 400);
    assert!(err["message"].as_str().unwrap().contains("stock"), "{err}");
    let e = api_event(
        "PUT",
        "/inventory/{sku}",
        "/inventory/bad%20sku!",
        Some(r#"{"stock": 1, "price": 10, "name": "x"}"#),
    );
    assert_eq!(response_json(api.handle(&api_request(&e), "t").await).0, 400);
    let e = api_event("GET", "/inventory/{sku}", "/inventory/ghost", None);
    let (status, err) = response_json(api.handle(&api_request(&e), "t").await);
    assert_eq!((status, err["code"].as_str()), (404, Some("NOT_FOUND")));
    let e = api_event("DELETE", "/inventory/{sku}", "/inventory/laptop", None);
    assert_eq!(response_json(api.handle(&api_request(&e), "t").await).0, 405);
}
