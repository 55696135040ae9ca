//! Recovery after an outage (admin only): redrive a time window's dead
//! letters, and relay a workflow's or a window's outbox items again with
//! their ids unchanged (`app::recovery`). Both are audited.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use osa_app::Services;
use osa_app::recovery::{self, RecoverRequest, Recovered, ReplayRequest, Replayed};
use osa_http::access::Verified;
use osa_http::extract::JsonBody;
use osa_http::{ApiError, CorrelationId, Success, routes, success};

pub fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route(routes::RECOVER_DELIVERIES.path, post(recover))
        .route(routes::REPLAY_EVENTS.path, post(replay))
}

/// `{since, until, kind?}`: every dead letter of the window redriven.
async fn recover(
    State(services): State<Arc<Services>>,
    correlation: CorrelationId,
    Verified(caller): Verified,
    JsonBody(request): JsonBody<RecoverRequest>,
) -> Result<(StatusCode, Success<Recovered>), ApiError> {
    let done = recovery::recover(&services, &caller, &request, Some(&correlation.0)).await?;
    Ok((StatusCode::ACCEPTED, success(done)))
}

/// `{workflow_id}` or `{since, until}`: the outbox items relayed again.
async fn replay(
    State(services): State<Arc<Services>>,
    correlation: CorrelationId,
    Verified(caller): Verified,
    JsonBody(request): JsonBody<ReplayRequest>,
) -> Result<Success<Replayed>, ApiError> {
    let done = recovery::replay(&services, &caller, &request, Some(&correlation.0)).await?;
    Ok(success(done))
}
