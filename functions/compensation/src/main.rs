use compensation::Compensation;
use infra_model::contract::messages::CompensationInput;
use infra_model::system::functions::CompensationBindings;
use order_aws::lambda::now;
use order_aws::lambda_runtime::{self, LambdaEvent, service_fn};
use order_aws::orders::OrderStore;
use order_aws::{AppConfig, aws_config, aws_sdk_dynamodb, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_logging();
    let b = infra_model::bindings!(CompensationBindings)?;
    let compensation = Compensation {
        orders: OrderStore::new(
            aws_sdk_dynamodb::Client::new(&aws_config().await),
            b.orders.as_str(),
        )
        .with_inventory(b.inventory.as_str()),
        environment: AppConfig::from_env().environment,
    };
    let compensation = &compensation;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<CompensationInput>| async move {
            compensation.handle(event.payload, &now()).await
        },
    ))
    .await
}
