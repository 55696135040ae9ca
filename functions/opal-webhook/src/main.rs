//! Lambda entry point: wires the runtime to the router in lib.rs.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osa_aws::xray::init_subscriber();
    // In the init phase, not in the first invocation's budget.
    osa_domain::pii::prepare();
    let services = osa_aws::bootstrap::from_env(osa_aws::bootstrap::Tokens::NotUsed).await?;
    lambda_http::run(opal_webhook::app(services)).await
}
