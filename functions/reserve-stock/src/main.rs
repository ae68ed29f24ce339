use infra_model::system::functions::ReserveStockBindings;
use order_aws::lambda_runtime::{self, LambdaEvent, service_fn};
use order_aws::messaging::OrderEvents;
use order_aws::orders::OrderStore;
use order_aws::{AppConfig, aws_config, aws_sdk_dynamodb, aws_sdk_sqs, telemetry};
use reserve_stock::{Reserver, StreamEvent, now};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_logging();
    let b = infra_model::bindings!(ReserveStockBindings)?;
    let sdk = aws_config().await;
    let reserver = Reserver {
        orders: OrderStore::new(aws_sdk_dynamodb::Client::new(&sdk), b.orders.as_str())
            .with_inventory(b.inventory.as_str()),
        events: OrderEvents::new(aws_sdk_sqs::Client::new(&sdk), b.order_events.as_str()),
        environment: AppConfig::from_env().environment,
    };
    let reserver = &reserver;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| async move {
        Ok::<_, lambda_runtime::Error>(reserver.handle(event.payload, &now).await)
    }))
    .await
}
