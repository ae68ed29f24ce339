use business_api::BusinessApi;
use infra_model::system::functions::BusinessApiBindings;
use order_aws::businesses::BusinessStore;
use order_aws::http::ApiRequest;
use order_aws::lambda::now;
use order_aws::lambda_http::{self, Request, service_fn};
use order_aws::{AppConfig, aws_config, aws_sdk_dynamodb, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_logging();
    let b = infra_model::bindings!(BusinessApiBindings)?;
    let api = BusinessApi {
        config: AppConfig::from_env(),
        businesses: BusinessStore::new(
            aws_sdk_dynamodb::Client::new(&aws_config().await),
            b.businesses.as_str(),
        ),
    };
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, lambda_http::Error>(api.handle(&ApiRequest::from_lambda(&req), &now()).await)
    }))
    .await
}
