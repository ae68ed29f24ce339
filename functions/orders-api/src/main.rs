use infra_model::decl::FunctionBindings as _;
use infra_model::system::functions::OrdersApiBindings;
use order_aws::http::ApiRequest;
use order_aws::idempotency::IdempotencyStore;
use order_aws::inventory::InventoryStore;
use order_aws::lambda::now_ms;
use order_aws::lambda_http::{self, Request, service_fn};
use order_aws::messaging::read_secret;
use order_aws::orders::OrderStore;
use order_aws::{AppConfig, aws_config, aws_sdk_dynamodb, aws_sdk_secretsmanager, telemetry};
use orders_api::OrdersApi;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_logging();
    let b = infra_model::bindings!(OrdersApiBindings)?;
    let sdk = aws_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let token_key = read_secret(
        &aws_sdk_secretsmanager::Client::new(&sdk),
        b.pagination_key.as_str(),
    )
    .await?;
    let api = OrdersApi {
        config: AppConfig::from_env(),
        orders: OrderStore::new(dynamodb.clone(), b.orders.as_str()),
        inventory: InventoryStore::new(dynamodb.clone(), b.inventory.as_str()),
        idempotency: IdempotencyStore::new(dynamodb, b.idempotency.as_str(), OrdersApiBindings::FUNCTION),
        token_key: token_key.into_bytes(),
    };
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, lambda_http::Error>(api.handle(&ApiRequest::from_lambda(&req), now_ms()).await)
    }))
    .await
}
