//! Lambda entry point: the router in lib.rs, its answers streamed as they are
//! written (the function's URL has `InvokeMode: RESPONSE_STREAM`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osa_aws::xray::init_subscriber();
    let services = osa_aws::bootstrap::from_env(osa_aws::bootstrap::Tokens::Verified).await?;
    lambda_http::run_with_streaming_response(stream::app(services)).await
}
