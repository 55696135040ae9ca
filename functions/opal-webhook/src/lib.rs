//! `opal-webhook`: receives the agents' signed events.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use osa_app::Services;
use osa_app::webhook::{Ingested, receive};
use osa_domain::signature::SIGNATURE_HEADER;
use osa_http::access::guarded;
use osa_http::extract::RawWebhook;
use osa_http::{ApiError, CorrelationId, routes, with_common_layers};
use serde_json::json;

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
    headers: HeaderMap,
    RawWebhook(body): RawWebhook,
) -> Result<Response, ApiError> {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let ingested = receive(&services, signature, Some(&correlation.0), body).await?;
    Ok(match ingested {
        Ingested::Accepted {
            event_id,
            agent_status,
            state_changed,
            workflow_status,
        } => (
            StatusCode::ACCEPTED,
            Json(json!({
                "success": true,
                "message": "event accepted",
                "event_id": event_id,
                "duplicate": false,
                "state_changed": state_changed,
                "agent_status": agent_status,
                "workflow_status": workflow_status,
            })),
        )
            .into_response(),
        Ingested::Duplicate { event_id } => Json(json!({
            "success": true,
            "message": "duplicate event ignored",
            "event_id": event_id,
            "duplicate": true,
        }))
        .into_response(),
    })
}
