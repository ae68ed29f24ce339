use infra_model::decl::FunctionBindings as _;
use infra_model::system::functions::NotifyCustomerBindings;
use notify_customer::{Notifications, Notifier, StreamEvent};
use order_aws::idempotency::IdempotencyStore;
use order_aws::lambda::now_ms;
use order_aws::lambda_runtime::{self, LambdaEvent, service_fn};
use order_aws::{aws_config, aws_sdk_dynamodb, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_logging();
    let b = infra_model::bindings!(NotifyCustomerBindings)?;
    let sdk = aws_config().await;
    let notifier = Notifier {
        notifications: Notifications::new(aws_sdk_sns::Client::new(&sdk), b.notifications),
        idempotency: IdempotencyStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            b.idempotency.as_str(),
            NotifyCustomerBindings::FUNCTION,
        ),
    };
    let notifier = &notifier;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| async move {
        let now_s = u64::try_from(now_ms() / 1000).unwrap_or(0);
        Ok::<_, lambda_runtime::Error>(notifier.handle(event.payload, now_s).await)
    }))
    .await
}
