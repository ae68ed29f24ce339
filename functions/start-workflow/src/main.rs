use infra_model::system::functions::StartWorkflowBindings;
use order_aws::lambda_runtime::{self, LambdaEvent, service_fn};
use order_aws::messaging::OrderWorkflow;
use order_aws::{aws_config, aws_sdk_sfn, telemetry};
use start_workflow::{SqsEvent, handle};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init_logging();
    let bindings = infra_model::bindings!(StartWorkflowBindings)?;
    let workflow = OrderWorkflow::new(
        aws_sdk_sfn::Client::new(&aws_config().await),
        bindings.workflow.as_str(),
    );
    let workflow = &workflow;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(handle(workflow, event.payload).await)
    }))
    .await
}
