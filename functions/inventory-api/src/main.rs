use infra_model::system::functions::InventoryApiBindings;
use inventory_api::InventoryApi;
use order_aws::http::ApiRequest;
use order_aws::inventory::InventoryStore;
use order_aws::lambda::now;
use order_aws::lambda_http::{self, Request, service_fn};
use order_aws::messaging::read_secret;
use order_aws::{AppConfig, aws_config, aws_sdk_dynamodb, aws_sdk_secretsmanager, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_logging();
    let b = infra_model::bindings!(InventoryApiBindings)?;
    let sdk = aws_config().await;
    let token_key = read_secret(
        &aws_sdk_secretsmanager::Client::new(&sdk),
        b.pagination_key.as_str(),
    )
    .await?;
    let api = InventoryApi {
        config: AppConfig::from_env(),
        inventory: InventoryStore::new(aws_sdk_dynamodb::Client::new(&sdk), b.inventory.as_str()),
        token_key: token_key.into_bytes(),
    };
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, lambda_http::Error>(api.handle(&ApiRequest::from_lambda(&req), &now()).await)
    }))
    .await
}
