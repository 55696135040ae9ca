//! Dead-letter operations over outbound deliveries (admin only): list the
//! dead-letter queue, show one delivery with its full history, redrive one or all.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use osa_shared::app::Services;
use osa_shared::app::admin;
use osa_shared::app::delivery::DeliveryOpError;
use osa_shared::app::delivery::dead_letter;
use osa_shared::auth::scopes;
use osa_shared::http::{ApiError, authorize};
use serde_json::json;
use uuid::Uuid;

pub const DEAD_LETTER_PATH: &str = "/api/admin/deliveries/dead-letter";
pub const REDRIVE_ALL_PATH: &str = "/api/admin/deliveries/dead-letter/redrive";
pub const DELIVERY_PATH: &str = "/api/admin/deliveries/{id}";
pub const REDRIVE_PATH: &str = "/api/admin/deliveries/{id}/redrive";

pub fn routes() -> Router<Services> {
    Router::new()
        .route(DEAD_LETTER_PATH, get(list))
        .route(REDRIVE_ALL_PATH, post(redrive_all))
        .route(DELIVERY_PATH, get(show))
        .route(REDRIVE_PATH, post(redrive))
}

#[derive(serde::Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

fn delivery_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found("no such delivery"))
}

fn op_error(e: DeliveryOpError) -> ApiError {
    match e {
        DeliveryOpError::NotFound => ApiError::not_found("no such delivery"),
        DeliveryOpError::NotDeadLettered(id) => ApiError::new(
            StatusCode::CONFLICT,
            "not_dead_lettered",
            format!("delivery {id} is not dead-lettered; only a dead letter can be redriven"),
        ),
        DeliveryOpError::Store(e) => ApiError::from(e),
        DeliveryOpError::Queue(e) => ApiError::from(e),
    }
}

/// The dead-letter queue, most recently dead-lettered first.
async fn list(
    State(services): State<Services>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::ADMIN)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let dead = dead_letter::dead_letters(&services, limit).await?;
    Ok(Json(json!({ "success": true, "count": dead.len(), "deliveries": dead })).into_response())
}

/// One delivery: payload, status, every attempt (`history`, earlier runs first).
async fn show(
    State(services): State<Services>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::ADMIN)?;
    let id = delivery_id(&id)?;
    let view = dead_letter::show(&services, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such delivery"))?;
    Ok(Json(json!({ "success": true, "delivery": view })).into_response())
}

/// A fresh run of attempts for one dead letter, starting now.
async fn redrive(
    State(services): State<Services>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = authorize(&services, &headers, scopes::ADMIN)?;
    let id = delivery_id(&id)?;
    let result = dead_letter::redrive(&services, id).await;
    let outcome = if result.is_ok() {
        "succeeded"
    } else {
        "refused"
    };
    admin::record(
        &services,
        &caller,
        "delivery_redriven",
        &id.to_string(),
        outcome,
        None,
    )
    .await?;
    let redriven = result.map_err(op_error)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "success": true,
            "delivery_id": redriven.id,
            "run": redriven.redrives,
            "status": redriven.status,
        })),
    )
        .into_response())
}

/// Every dead letter redriven.
async fn redrive_all(
    State(services): State<Services>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = authorize(&services, &headers, scopes::ADMIN)?;
    let result = dead_letter::redrive_all(&services).await;
    let outcome = match &result {
        Ok(done) => format!("succeeded: {} redriven", done.redriven.len()),
        Err(_) => "failed".to_owned(),
    };
    admin::record(
        &services,
        &caller,
        "dead_letters_redriven",
        "all",
        &outcome,
        None,
    )
    .await?;
    let done = result.map_err(op_error)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "success": true,
            "redriven": done.redriven.len(),
            "delivery_ids": done.redriven,
            "skipped": done.skipped,
        })),
    )
        .into_response())
}
