//! `intake`: `POST /api/strategy/intake` submits a strategy intake and starts a
//! workflow; `POST /api/opal/sync` (Force Sync) re-triggers one on demand;
//! `POST /api/strategy/workflows/{id}/credentials` resumes a workflow paused
//! because Optimizely refused its credentials (scenario C).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use osa_shared::app::Services;
use osa_shared::app::credentials::{CredentialsError, resume};
use osa_shared::app::intake::{IntakeError, submit};
use osa_shared::app::sync::{SyncError, force_sync};
use osa_shared::auth::scopes;
use osa_shared::domain::validation::FieldError;
use osa_shared::domain::workflow::{RefusedService, WorkflowStatus};
use osa_shared::http::{
    ApiError, CorrelationId, authorize, declared_too_large, read_body, require_json,
    with_common_layers,
};
use serde_json::json;

pub const PATH: &str = "/api/strategy/intake";
pub const SYNC_PATH: &str = "/api/opal/sync";
pub const CREDENTIALS_PATH: &str = "/api/strategy/workflows/{id}/credentials";

/// The routes alone, for merging into the local runtime's single router.
pub fn routes(services: Services) -> Router {
    Router::new()
        .route(PATH, post(handle))
        .route(SYNC_PATH, post(sync))
        .route(CREDENTIALS_PATH, post(credentials))
        .with_state(services)
}

/// The routes with the shared layers: what the Lambda serves.
pub fn app(services: Services) -> Router {
    with_common_layers(routes(services.clone()), &services)
}

async fn handle(
    State(services): State<Services>,
    correlation: CorrelationId,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::INTAKE)?;
    let limit = services.config.max_body_bytes;
    if declared_too_large(&headers, limit).is_some() {
        return Err(ApiError::too_large(limit));
    }
    require_json(&headers)?;
    let body = read_body(body, limit).await?;
    let submitted = submit(&services, &body, &correlation.0)
        .await
        .map_err(|e| match e {
            IntakeError::Invalid(e) => ApiError::from(e),
            IntakeError::Conflict(id) => ApiError::new(
                StatusCode::CONFLICT,
                "workflow_conflict",
                format!("workflow {id} already exists with a different intake"),
            ),
            IntakeError::Store(e) => ApiError::from(e),
            IntakeError::Queue(e) => ApiError::from(e),
            IntakeError::Trigger(e) => {
                tracing::error!(error = %e, "the OPAL trigger cannot be built");
                ApiError::internal()
            }
        })?;
    let w = &submitted.workflow;
    let status = if submitted.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let mut body = json!({
        "success": true,
        "workflow_id": w.id,
        "correlation_id": w.correlation_id,
        "estimated_completion_minutes": w.estimated_completion_minutes,
        "webhook_url": services.webhook_url(),
        "status_check_url": services.status_url(&w.id),
        "status": w.status,
        "created": submitted.created,
    });
    if w.status == WorkflowStatus::CredentialsInvalid
        && let Some(map) = body.as_object_mut()
    {
        let refused = w
            .credentials_pause
            .as_ref()
            .map(|p| p.refused.clone())
            .unwrap_or_default();
        map.insert(
            "credentials".into(),
            json!({
                "valid": false,
                "refused": refused,
                "message": "Optimizely refused these credentials; the workflow is paused until refreshed ones are posted to resume_url",
                "resume_url": services.credentials_url(&w.id),
            }),
        );
    }
    Ok((status, Json(body)).into_response())
}

/// Refreshed Optimizely credentials for a paused workflow: `200` resumed, `404`
/// unknown, `409` not paused, `422` invalid body or keys still refused.
async fn credentials(
    State(services): State<Services>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::INTAKE)?;
    let limit = services.config.max_body_bytes;
    if declared_too_large(&headers, limit).is_some() {
        return Err(ApiError::too_large(limit));
    }
    require_json(&headers)?;
    let body = read_body(body, limit).await?;
    let resumed = resume(&services, &id, &body).await.map_err(|e| match e {
        CredentialsError::Invalid(e) => ApiError::from(e),
        CredentialsError::NotFound => ApiError::not_found(format!("no workflow {id}")),
        CredentialsError::NotPaused(status) => ApiError::new(
            StatusCode::CONFLICT,
            "workflow_not_paused",
            format!(
                "workflow {id} is {}, not paused for credentials",
                status.as_str()
            ),
        ),
        CredentialsError::StillInvalid(refused) => still_refused(&refused),
        CredentialsError::Store(e) => ApiError::from(e),
        CredentialsError::Queue(e) => ApiError::from(e),
        CredentialsError::Trigger(e) => {
            tracing::error!(error = %e, "the OPAL trigger cannot be built");
            ApiError::internal()
        }
    })?;
    let w = &resumed.workflow;
    let body = json!({
        "success": true,
        "workflow_id": w.id,
        "status": w.status,
        "resumed": true,
        "triggered": resumed.triggered,
        "status_check_url": services.status_url(&w.id),
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}

/// `422 credentials_invalid`, one detail per refusing service (never a key).
fn still_refused(refused: &[RefusedService]) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "credentials_invalid",
        "Optimizely still refuses these credentials; the workflow stays paused",
    );
    error.details = refused
        .iter()
        .map(|r| {
            FieldError::new(
                format!("api_credentials.{}_key", r.service),
                format!("refused by {} (HTTP {})", r.service, r.status),
            )
        })
        .collect();
    error
}

/// Force Sync. Starting OPAL work takes the same scope as an intake.
async fn sync(
    State(services): State<Services>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::INTAKE)?;
    let limit = services.config.max_body_bytes;
    if declared_too_large(&headers, limit).is_some() {
        return Err(ApiError::too_large(limit));
    }
    require_json(&headers)?;
    let body = read_body(body, limit).await?;
    let accepted = force_sync(&services, &body).await.map_err(|e| match e {
        SyncError::Invalid(e) => ApiError::from(e),
        SyncError::NoWorkflow => ApiError::not_found("no workflow to sync"),
        e @ SyncError::CredentialsInvalid(_) => {
            ApiError::new(StatusCode::CONFLICT, "credentials_invalid", e.to_string())
        }
        SyncError::Store(e) => ApiError::from(e),
        SyncError::Queue(e) => ApiError::from(e),
    })?;
    let status = if accepted.already_in_flight {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let mut body = serde_json::to_value(&accepted).map_err(|_| ApiError::internal())?;
    if let Some(map) = body.as_object_mut() {
        map.insert("success".into(), json!(true));
    }
    Ok((status, Json(body)).into_response())
}
