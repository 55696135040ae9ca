//! Lambda entry point: wires the runtime to the SQS handler in lib.rs.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    osa_aws::xray::init_subscriber();
    let services = osa_aws::bootstrap::from_env(osa_aws::bootstrap::Tokens::NotUsed).await?;
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, Error>(worker::handle(services, event.payload).await)
    }))
    .await
}
