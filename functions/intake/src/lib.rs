//! `intake`: submits a strategy intake and starts a workflow; Force Sync
//! re-triggers one on demand; refreshed Optimizely credentials resume a
//! workflow paused because Optimizely refused its keys.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use osa_app::{Services, credentials, intake, sync};
use osa_http::access::guarded;
use osa_http::api::{CredentialsResumed, IntakeAccepted};
use osa_http::extract::{JsonBytes, WorkflowPath};
use osa_http::{ApiError, CorrelationId, Success, routes, success, with_common_layers};

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
) -> Result<(StatusCode, Success<IntakeAccepted>), ApiError> {
    let submitted = intake::submit(&services, &body, &correlation.0).await?;
    let status = if submitted.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, success(IntakeAccepted::new(&services, submitted))))
}

/// Refreshed Optimizely credentials for a paused workflow: `200` resumed, `404`
/// unknown, `409` not paused, `422` invalid body or keys still refused.
async fn resume(
    State(services): State<Arc<Services>>,
    WorkflowPath(id): WorkflowPath,
    JsonBytes(body): JsonBytes,
) -> Result<Success<CredentialsResumed>, ApiError> {
    let resumed = credentials::resume(&services, id.as_str(), &body).await?;
    Ok(success(CredentialsResumed::new(&services, resumed)))
}

/// Force Sync: `202` started, `200` one was already in flight.
async fn force_sync(
    State(services): State<Arc<Services>>,
    JsonBytes(body): JsonBytes,
) -> Result<(StatusCode, Success<sync::SyncAccepted>), ApiError> {
    let accepted = sync::force_sync(&services, &body).await?;
    let status = if accepted.already_in_flight {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, success(accepted)))
}
