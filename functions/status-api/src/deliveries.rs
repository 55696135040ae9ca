//! Dead-letter operations over outbound deliveries (admin only): list the
//! dead-letter queue, show one delivery with its full history, redrive one or all.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use osa_app::Services;
use osa_app::delivery::dead_letter::{self, DeadLetterQuery};
use osa_http::access::Verified;
use osa_http::api::{DeadLetters, DeliveryFound, Redriven, RedrivenAll};
use osa_http::extract::{DeliveryId, ValidQuery};
use osa_http::{ApiError, Success, routes, success};

pub fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route(routes::DEAD_LETTERS.path, get(list))
        .route(routes::REDRIVE_ALL.path, post(redrive_all))
        .route(routes::DELIVERY.path, get(show))
        .route(routes::REDRIVE.path, post(redrive))
}

/// The dead-letter queue, most recently dead-lettered first.
async fn list(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<DeadLetterQuery>,
) -> Result<Success<DeadLetters>, ApiError> {
    let dead = dead_letter::dead_letters(&services, query.limit.get()).await?;
    Ok(success(DeadLetters::from(dead)))
}

/// One delivery: payload, status, every attempt (`history`, earlier runs first).
async fn show(
    State(services): State<Arc<Services>>,
    DeliveryId(id): DeliveryId,
) -> Result<Success<DeliveryFound>, ApiError> {
    dead_letter::show(&services, id)
        .await?
        .map(|delivery| success(DeliveryFound { delivery }))
        .ok_or_else(|| ApiError::not_found("no such delivery"))
}

/// A fresh run of attempts for one dead letter, starting now; recorded in the
/// admin audit trail whatever came of it.
async fn redrive(
    State(services): State<Arc<Services>>,
    DeliveryId(id): DeliveryId,
    Verified(caller): Verified,
) -> Result<(StatusCode, Success<Redriven>), ApiError> {
    let redriven = dead_letter::redrive_audited(&services, &caller, id).await?;
    Ok((StatusCode::ACCEPTED, success(Redriven::from(redriven))))
}

/// Every dead letter redriven; recorded in the admin audit trail.
async fn redrive_all(
    State(services): State<Arc<Services>>,
    Verified(caller): Verified,
) -> Result<(StatusCode, Success<RedrivenAll>), ApiError> {
    let done = dead_letter::redrive_all_audited(&services, &caller).await?;
    Ok((StatusCode::ACCEPTED, success(RedrivenAll::from(done))))
}
