use infra_model::system::functions::PaymentBindings;
use order_aws::lambda::{TaskInput, now, random_unit};
use order_aws::lambda_runtime::{self, LambdaEvent, service_fn};
use order_aws::orders::OrderStore;
use order_aws::{AppConfig, aws_config, aws_sdk_dynamodb, telemetry};
use payment::{Payments, rates_from_env};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_logging();
    let b = infra_model::bindings!(PaymentBindings)?;
    let payments = Payments {
        orders: OrderStore::new(
            aws_sdk_dynamodb::Client::new(&aws_config().await),
            b.orders.as_str(),
        ),
        rates: rates_from_env(),
        environment: AppConfig::from_env().environment,
    };
    let payments = &payments;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<TaskInput>| async move {
        let salt = event.context.request_id.clone();
        payments.handle(event.payload, &now(), random_unit(&salt)).await
    }))
    .await
}
