//! Lambda entry point: wires the runtime to the stream handler in lib.rs.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use outbox_relay::{BatchResponse, StreamEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    osa_aws::xray::init_subscriber();
    let services = osa_aws::bootstrap::from_env(osa_aws::bootstrap::Tokens::NotUsed).await?;
    let services = &services;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<StreamEvent>| async move {
            Ok::<BatchResponse, Error>(outbox_relay::handle(services, event.payload).await)
        },
    ))
    .await
}
