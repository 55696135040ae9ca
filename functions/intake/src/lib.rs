//! `intake`: submits a strategy intake and starts a workflow; Force Sync
//! re-triggers one on demand; refreshed Optimizely credentials resume a
//! workflow paused because Optimizely refused its keys.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use osa_app::intake::Submitted;
use osa_app::{Services, credentials, intake, sync};
use osa_domain::workflow::WorkflowStatus;
use osa_http::access::guarded;
use osa_http::extract::{JsonBytes, WorkflowId};
use osa_http::{ApiError, CorrelationId, routes, success, with_common_layers};
use serde_json::json;

/// The routes alone, for merging into the local runtime's single router.
pub fn routes(services: Services) -> Router {
    let router = Router::new()
        .route(routes::INTAKE.path, post(submit))
        .route(routes::FORCE_SYNC.path, post(force_sync))
        .route(routes::CREDENTIALS.path, post(resume))
        .with_state(Arc::new(services.clone()));
    guarded(router, &services)
}

/// The routes with the shared layers: what the Lambda serves.
pub fn app(services: Services) -> Router {
    with_common_layers(routes(services.clone()), &services)
}

/// `202` a new workflow, `200` the same intake again.
async fn submit(
    State(services): State<Arc<Services>>,
    correlation: CorrelationId,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let submitted = intake::submit(&services, &body, &correlation.0).await?;
    Ok(submitted_reply(&services, &submitted))
}

fn submitted_reply(services: &Services, submitted: &Submitted) -> Response {
    let w = &submitted.workflow;
    let status = if submitted.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let mut body = json!({
        "success": true,
        "workflow_id": w.id(),
        "correlation_id": w.correlation_id(),
        "estimated_completion_minutes": w.estimated_completion_minutes(),
        "webhook_url": services.webhook_url(),
        "status_check_url": services.status_url(w.id()),
        "status": w.status(),
        "created": submitted.created,
    });
    if w.status() == WorkflowStatus::CredentialsInvalid {
        let refused = w
            .credentials_pause()
            .as_ref()
            .map(|p| p.refused.clone())
            .unwrap_or_default();
        body["credentials"] = json!({
            "valid": false,
            "refused": refused,
            "message": "Optimizely refused these credentials; the workflow is paused until refreshed ones are posted to resume_url",
            "resume_url": services.credentials_url(w.id()),
        });
    }
    (status, Json(body)).into_response()
}

/// Refreshed Optimizely credentials for a paused workflow: `200` resumed, `404`
/// unknown, `409` not paused, `422` invalid body or keys still refused.
async fn resume(
    State(services): State<Arc<Services>>,
    WorkflowId(id): WorkflowId,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let resumed = credentials::resume(&services, &id, &body).await?;
    let w = &resumed.workflow;
    success(json!({
        "workflow_id": w.id(),
        "status": w.status(),
        "resumed": true,
        "triggered": resumed.triggered,
        "status_check_url": services.status_url(w.id()),
    }))
}

/// Force Sync: `202` started, `200` one was already in flight.
async fn force_sync(
    State(services): State<Arc<Services>>,
    JsonBytes(body): JsonBytes,
) -> Result<Response, ApiError> {
    let accepted = sync::force_sync(&services, &body).await?;
    let status = if accepted.already_in_flight {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, success(accepted)?).into_response())
}
