//! Lambda entry point: wires the runtime to the scheduled handler in lib.rs.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    osa_aws::xray::init_subscriber();
    let services = osa_aws::bootstrap::from_env(osa_aws::bootstrap::Tokens::NotUsed).await?;
    let services = &services;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
            health_check::handle(services, event.payload)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
