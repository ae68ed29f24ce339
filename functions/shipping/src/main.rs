use infra_model::system::functions::ShippingBindings;
use order_aws::lambda::{TaskInput, now, now_ms};
use order_aws::lambda_runtime::{self, LambdaEvent, service_fn};
use order_aws::orders::OrderStore;
use order_aws::{AppConfig, aws_config, aws_sdk_dynamodb, telemetry};
use shipping::Shipping;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_logging();
    let b = infra_model::bindings!(ShippingBindings)?;
    let shipping = Shipping {
        orders: OrderStore::new(
            aws_sdk_dynamodb::Client::new(&aws_config().await),
            b.orders.as_str(),
        ),
        environment: AppConfig::from_env().environment,
    };
    let shipping = &shipping;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<TaskInput>| async move {
        shipping.handle(event.payload, &now(), now_ms()).await
    }))
    .await
}
