//! Health routes with real API Gateway events against the emulator.

#![allow(clippy::unwrap_used)]

use health::Health;
use infra_model::decl::Target;
use infra_model::system::functions::HealthBindings;
use infra_model::system::resources::INVENTORY;
use order_aws::AppConfig;
use order_aws::http::CorsPolicy;
use test_support::{api_event, api_request, bindings, create_queue, create_tables, response_json, sdk};

async fn health(break_a_table: bool) -> Health {
    let sdk = sdk().await;
    let tables = create_tables(&sdk).await;
    let queue = create_queue(&sdk).await;
    let bindings: HealthBindings = bindings(|target| match target {
        Target::Table(t) if break_a_table && t.id == INVENTORY.spec.id => Some("no-such-table".into()),
        Target::Table(t) => tables.get(t.id).cloned(),
        Target::Queue(_) => Some(queue.clone()),
        _ => None,
    });
    Health::new(
        AppConfig {
            environment: "test".into(),
            cors: CorsPolicy::AnyOrigin,
        },
        &sdk,
        bindings,
    )
}

#[tokio::test]
async fn simple_health_routes_say_who_answers() {
    let h = health(false).await;
    for (path, service) in [("/", "orders"), ("/health", "orders"), ("/auth/health", "auth")] {
        let (status, body) = response_json(h.handle(&api_request(&api_event("GET", path, path, None))).await);
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["service"], service);
        assert_eq!(body["environment"], "test");
        assert_eq!(body["version"], "0.1.0");
    }
}

#[tokio::test]
async fn detailed_health_checks_every_dependency_and_says_503_when_one_fails() {
    let (status, body) = response_json(
        health(false)
            .await
            .handle(&api_request(&api_event(
                "GET",
                "/health/detailed",
                "/health/detailed",
                None,
            )))
            .await,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dependencies"].as_array().unwrap().len(), 5);
    assert!(
        body["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["healthy"] == true)
    );

    let (status, body) = response_json(
        health(true)
            .await
            .handle(&api_request(&api_event(
                "GET",
                "/health/detailed",
                "/health/detailed",
                None,
            )))
            .await,
    );
    assert_eq!(status, 503);
    assert_eq!(body["status"], "degraded");
    let broken: Vec<_> = body["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["healthy"] == false)
        .collect();
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0]["name"], "inventoryTable");
    assert!(broken[0]["error"].is_string());
}
