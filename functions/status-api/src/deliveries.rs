//! Dead-letter operations over outbound deliveries (admin only): list the
//! dead-letter queue, show one delivery with its full history, redrive one or all.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use osa_app::Services;
use osa_app::delivery::dead_letter;
use osa_http::access::Verified;
use osa_http::extract::{DeliveryId, ValidQuery, page_limit};
use osa_http::{ApiError, routes, success};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route(routes::DEAD_LETTERS.path, get(list))
        .route(routes::REDRIVE_ALL.path, post(redrive_all))
        .route(routes::DELIVERY.path, get(show))
        .route(routes::REDRIVE.path, post(redrive))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

/// The dead-letter queue, most recently dead-lettered first.
async fn list(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(query.limit, 100, 1000)?;
    let dead = dead_letter::dead_letters(&services, limit).await?;
    success(json!({ "count": dead.len(), "deliveries": dead }))
}

/// One delivery: payload, status, every attempt (`history`, earlier runs first).
async fn show(
    State(services): State<Arc<Services>>,
    DeliveryId(id): DeliveryId,
) -> Result<Response, ApiError> {
    let view = dead_letter::show(&services, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such delivery"))?;
    success(json!({ "delivery": view }))
}

/// A fresh run of attempts for one dead letter, starting now; recorded in the
/// admin audit trail whatever came of it.
async fn redrive(
    State(services): State<Arc<Services>>,
    DeliveryId(id): DeliveryId,
    Verified(caller): Verified,
) -> Result<Response, ApiError> {
    let redriven = dead_letter::redrive_audited(&services, &caller, id).await?;
    let body = json!({
        "delivery_id": redriven.id,
        "run": redriven.redrives,
        "status": redriven.status,
    });
    Ok((StatusCode::ACCEPTED, success(body)?).into_response())
}

/// Every dead letter redriven; recorded in the admin audit trail.
async fn redrive_all(
    State(services): State<Arc<Services>>,
    Verified(caller): Verified,
) -> Result<Response, ApiError> {
    let done = dead_letter::redrive_all_audited(&services, &caller).await?;
    let body = json!({
        "redriven": done.redriven.len(),
        "delivery_ids": done.redriven,
        "skipped": done.skipped,
    });
    Ok((StatusCode::ACCEPTED, success(body)?).into_response())
}
