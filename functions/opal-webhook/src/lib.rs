//! `opal-webhook`: receives the agents' signed events.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use osa_app::Services;
use osa_app::webhook::receive;
use osa_http::access::guarded;
use osa_http::api::EventAccepted;
use osa_http::extract::{RawWebhook, Signature};
use osa_http::{ApiError, CorrelationId, Success, routes, success, with_common_layers};

pub fn routes(services: Services) -> Router {
    let router = Router::new()
        .route(routes::WEBHOOK.path, post(handle))
        .with_state(Arc::new(services.clone()));
    guarded(router, &services)
}

pub fn app(services: Services) -> Router {
    with_common_layers(routes(services.clone()), &services)
}

/// `202` a new event, `200` a duplicate; every refusal is audited by the app.
async fn handle(
    State(services): State<Arc<Services>>,
    correlation: CorrelationId,
    signature: Signature,
    RawWebhook(body): RawWebhook,
) -> Result<(StatusCode, Success<EventAccepted>), ApiError> {
    let ingested = receive(
        &services,
        signature.signatures(),
        Some(&correlation.0),
        body,
    )
    .await?;
    let (status, accepted) = EventAccepted::of(ingested);
    Ok((status, success(accepted)))
}
