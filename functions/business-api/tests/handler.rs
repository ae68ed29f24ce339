//! Business registration with real API Gateway events against the emulator.

#![allow(clippy::unwrap_used)]

use business_api::BusinessApi;
use infra_model::system::resources::BUSINESSES;
use order_aws::AppConfig;
use order_aws::aws_sdk_dynamodb;
use order_aws::businesses::BusinessStore;
use order_aws::http::CorsPolicy;
use serde_json::json;
use test_support::{api_event, api_request, create_tables, response_json, sdk};

fn body(email: &str) -> String {
    json!({
        "business_name": "  Test   Business ",
        "email": email,
        "phone": "+1234567890",
        "address": "123 Test St",
        "cognito_user_id": "test-user-123"
    })
    .to_string()
}

#[tokio::test]
async fn a_business_registers_once_per_email() {
    let sdk = sdk().await;
    let tables = create_tables(&sdk).await;
    let api = BusinessApi {
        config: AppConfig {
            environment: "test".into(),
            cors: CorsPolicy::AnyOrigin,
        },
        businesses: BusinessStore::new(aws_sdk_dynamodb::Client::new(&sdk), &tables[BUSINESSES.spec.id]),
    };
    let post = |b: String| {
        api_request(&api_event(
            "POST",
            "/auth/register-business",
            "/auth/register-business",
            Some(&b),
        ))
    };
    let (status, created) = response_json(
        api.handle(&post(body("test@example.com")), "2026-11-23T04:00:00.000Z")
            .await,
    );
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["business_name"], "Test Business", "text is sanitized");
    assert_eq!(created["business_id"].as_str().unwrap().len(), 36);

    let (status, err) = response_json(api.handle(&post(body("TEST@Example.com")), "t").await);
    assert_eq!(status, 409);
    assert_eq!(err["code"], "CONFLICT");
    assert!(err["message"].as_str().unwrap().contains("email"));

    let (status, err) = response_json(api.handle(&post(body("not-an-email")), "t").await);
    assert_eq!(status, 400);
    assert!(err["message"].as_str().unwrap().contains("email"), "{err}");
}
