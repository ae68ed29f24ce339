//! The functions' AWS side: the stores over DynamoDB, the queue, the workflow and the secret,
//! the API's HTTP glue, and logs and metrics. Table and queue names come only from the
//! bindings in `infra_model::system::functions`.

pub mod api;
pub mod businesses;
pub mod error;
pub mod http;
pub mod idempotency;
pub mod inventory;
pub mod item;
pub mod lambda;
pub mod messaging;
pub mod orders;
pub mod telemetry;

pub use error::StoreError;
// The clients the functions build, so that a function crate depends on this crate only.
pub use aws_config as aws_config_type;
pub use {
    aws_lambda_events, aws_sdk_dynamodb, aws_sdk_secretsmanager, aws_sdk_sfn, aws_sdk_sqs, lambda_http,
    lambda_runtime,
};

use infra_model::system::functions::config;

/// The AWS configuration from the environment: credentials, region, and `AWS_ENDPOINT_URL`
/// (which `cargo xtask dev` points at the local emulator).
pub async fn aws_config() -> aws_config::SdkConfig {
    sdk_loader().load().await
}

/// The SDK's configuration loader with the functions' HTTPS client. Every SDK configuration
/// must come from here: the SDK crates are built without a default client (see the workspace
/// `Cargo.toml`), so a configuration without one fails its first request.
pub fn sdk_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeouts())
}

/// How long one AWS call may take: an attempt 3 s, the call with its retries 7 s. The SDK sets
/// no limit of its own beyond connecting (3.1 s), so a stalled endpoint would hold a handler
/// until Lambda kills it at its timeout (10 s for the API's functions), and API Gateway would
/// answer 502. Within these limits the SDK retries a stalled attempt, then the handler answers
/// a retryable 503 with `Retry-After` (README, "Guarantees"). DynamoDB and SQS answer in
/// milliseconds, so 3 s is a stall, not a slow answer.
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(std::time::Duration::from_secs(3))
        .operation_timeout(std::time::Duration::from_secs(7))
        .build()
}

/// HTTPS over rustls with the `ring` provider and the system's root certificates (Lambda's
/// al2023 image has them). `ring` instead of the SDK's default aws-lc-rs: 0.2-0.3 MB less per
/// zip and no C library build (README, "Building").
fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The settings a function reads besides its bindings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppConfig {
    pub environment: String,
    pub cors: http::CorsPolicy,
}

impl AppConfig {
    pub fn from_env() -> AppConfig {
        AppConfig {
            environment: config::ENVIRONMENT.read().unwrap_or_else(|| "local".into()),
            cors: http::CorsPolicy::parse(&config::CORS_ALLOWED_ORIGINS.read().unwrap_or_else(|| "*".into())),
        }
    }
}

/// The version of the functions (the workspace version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
