//! Lambda entry point: wires the runtime to the hook in lib.rs.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use pre_traffic::LifecycleEvent;

#[tokio::main]
async fn main() -> Result<(), Error> {
    osa_aws::xray::init_subscriber();
    let config = osa_aws::load_config(None).await;
    let deployments = osa_aws::deploy::AwsDeployments::new(&config)?;
    let versions = pre_traffic::versions_from_env();
    let (deployments, versions) = (&deployments, &versions);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<LifecycleEvent>| async move {
            let verdict = pre_traffic::handle(deployments, versions, event.payload).await?;
            Ok::<_, Error>(serde_json::json!({
                "status": verdict.status.as_str(),
                "failures": verdict.failures,
            }))
        },
    ))
    .await
}
