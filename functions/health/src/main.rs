use health::Health;
use infra_model::system::functions::HealthBindings;
use order_aws::lambda_http::{self, Request, service_fn};
use order_aws::{AppConfig, aws_config, http::ApiRequest, telemetry};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    telemetry::init_logging();
    let bindings = infra_model::bindings!(HealthBindings)?;
    let health = Health::new(AppConfig::from_env(), &aws_config().await, bindings);
    let health = &health;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, lambda_http::Error>(health.handle(&ApiRequest::from_lambda(&req)).await)
    }))
    .await
}
