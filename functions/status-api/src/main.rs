//! Lambda entry point: wires the runtime to the router in lib.rs.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osa_aws::xray::init_subscriber();
    let services = osa_aws::bootstrap::from_env(osa_aws::bootstrap::Tokens::Verified).await?;
    lambda_http::run(status_api::app(services)).await
}
