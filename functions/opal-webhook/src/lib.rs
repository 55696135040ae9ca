//! `opal-webhook`: `POST /api/webhooks/opal-workflow` receives signed agent events.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use osa_shared::app::Services;
use osa_shared::app::webhook::{Ingested, WebhookError, WebhookRequest, ingest, reject_oversized};
use osa_shared::domain::signature::SIGNATURE_HEADER;
use osa_shared::http::{
    ApiError, CorrelationId, declared_too_large, read_body, with_common_layers,
};
use serde_json::json;

pub const PATH: &str = "/api/webhooks/opal-workflow";

pub fn routes(services: Services) -> Router {
    Router::new().route(PATH, post(handle)).with_state(services)
}

pub fn app(services: Services) -> Router {
    with_common_layers(routes(services.clone()), &services)
}

async fn handle(
    State(services): State<Services>,
    correlation: CorrelationId,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = services.config.max_body_bytes;
    let body = match declared_too_large(&headers, limit) {
        Some(len) => Err((ApiError::too_large(limit), len)),
        None => read_body(body, limit)
            .await
            .map_err(|e| (e, limit as u64 + 1)),
    };
    let body = match body {
        Ok(body) => body,
        Err((e, len)) => {
            if e.status == StatusCode::PAYLOAD_TOO_LARGE {
                reject_oversized(&services, Some(&correlation.0), len).await?;
            }
            return Err(e);
        }
    };
    let request = WebhookRequest {
        signature: headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()),
        correlation_id: Some(&correlation.0),
        body: &body,
    };
    match ingest(&services, request).await {
        Ok(Ingested::Accepted {
            event_id,
            agent_status,
            state_changed,
            workflow_status,
        }) => Ok((
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
            .into_response()),
        Ok(Ingested::Duplicate { event_id }) => Ok((
            StatusCode::OK,
            Json(json!({
                "success": true,
                "message": "duplicate event ignored",
                "event_id": event_id,
                "duplicate": true,
            })),
        )
            .into_response()),
        Err(e) => Err(match e {
            WebhookError::Signature(s) => {
                ApiError::new(StatusCode::UNAUTHORIZED, s.code(), s.to_string())
            }
            WebhookError::Invalid(e) => ApiError::from(e),
            WebhookError::UnknownWorkflow => {
                ApiError::not_found("no workflow with that workflow_id")
            }
            WebhookError::Store(e) => ApiError::from(e),
        }),
    }
}
