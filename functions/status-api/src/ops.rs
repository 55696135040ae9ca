//! Operations routes (issue 6): Prometheus metrics, health probes, the stored
//! health report, alerts and the maintenance switch.
//!
//! `/api/health/*` need no token, as load balancers and uptime checkers call them;
//! they reveal only up/down, a response time and a version.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use osa_shared::app::{Services, admin, alerts, health, monitoring};
use osa_shared::auth::scopes;
use osa_shared::domain::alerts::Maintenance;
use osa_shared::domain::metrics::CONTENT_TYPE;
use osa_shared::http::{ApiError, CorrelationId, authorize};
use serde_json::json;

pub const PROMETHEUS_PATH: &str = "/api/admin/prometheus";
pub const HEALTH_PATH: &str = "/api/health/{service}";
pub const GUARDRAILS_HEALTH_PATH: &str = "/api/admin/guardrails-health";
pub const ALERTS_PATH: &str = "/api/admin/alerts";
pub const MAINTENANCE_PATH: &str = "/api/admin/alerts/maintenance";
pub const CONFIDENCE_METRICS_PATH: &str = "/api/admin/monitoring/confidence-metrics";
pub const FALLBACK_STATS_PATH: &str = "/api/admin/monitoring/fallback-stats";

pub fn routes() -> Router<Services> {
    Router::new()
        .route(PROMETHEUS_PATH, get(prometheus))
        .route(HEALTH_PATH, get(health_probe))
        .route(GUARDRAILS_HEALTH_PATH, get(guardrails_health))
        .route(ALERTS_PATH, get(alert_list))
        .route(MAINTENANCE_PATH, get(get_maintenance).put(put_maintenance))
        .route(CONFIDENCE_METRICS_PATH, get(confidence_metrics))
        .route(FALLBACK_STATS_PATH, get(fallback_stats))
}

/// The `osal_*` metrics in the Prometheus text format, totals across every
/// instance (aggregated in the store).
async fn prometheus(
    State(services): State<Services>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::ADMIN)?;
    let snapshot = services.metrics.snapshot().await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], snapshot.render()).into_response())
}

/// `/api/health/intake|opal|database`: the check's probe, judged against its
/// criteria: 200 when it passes, 503 when not.
async fn health_probe(
    State(services): State<Services>,
    Path(service): Path<String>,
) -> Result<Response, ApiError> {
    let name = match service.as_str() {
        "intake" => osa_shared::domain::health::INTAKE,
        "opal" => osa_shared::domain::health::OPAL,
        "database" => osa_shared::domain::health::DATABASE,
        _ => return Err(ApiError::not_found("no such health check")),
    };
    let (status, body) = health::check_now(&services, name)
        .await
        .ok_or_else(|| ApiError::not_found("no such health check"))?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    Ok((status, Json(body)).into_response())
}

#[derive(serde::Deserialize)]
struct DetailQuery {
    detailed: Option<bool>,
}

/// The latest stored system report (the scheduled check's); with
/// `?detailed=true`, also per-service state and the recent reports.
async fn guardrails_health(
    State(services): State<Services>,
    headers: HeaderMap,
    query: Result<Query<DetailQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::ADMIN)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let state = health::load(&services).await?.unwrap_or_default();
    let mut body = json!({
        "success": true,
        "report": state.latest,
    });
    if state.latest.is_none() {
        body["message"] = json!("no health check has run yet");
    }
    if query.detailed.unwrap_or(false) {
        body["services"] = json!(state.services);
        let mut history = state.history;
        history.reverse();
        body["history"] = json!(history);
    }
    Ok(Json(body).into_response())
}

async fn alert_list(
    State(services): State<Services>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::ADMIN)?;
    Ok(Json(alerts::overview(&services).await?).into_response())
}

async fn get_maintenance(
    State(services): State<Services>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::ADMIN)?;
    let settings = alerts::maintenance(&services).await?;
    let active = settings.active(services.clock.now());
    Ok(Json(json!({"success": true, "active": active, "settings": settings})).into_response())
}

/// The maintenance switch: `{"scheduled": bool, "manual_until": rfc3339|null}`.
/// Recorded in the admin audit trail (target: whether maintenance is now on).
async fn put_maintenance(
    State(services): State<Services>,
    correlation: CorrelationId,
    headers: HeaderMap,
    body: Result<Json<Maintenance>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let caller = authorize(&services, &headers, scopes::ADMIN)?;
    let Json(settings) = body.map_err(|e| match e.status() {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::too_large(services.config.max_body_bytes)
        }
        axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            e.body_text(),
        ),
        _ => ApiError::bad_request("invalid_body", e.body_text()),
    })?;
    let saved = alerts::set_maintenance(&services, &settings).await;
    let active = settings.active(services.clock.now());
    let outcome = if saved.is_ok() { "succeeded" } else { "failed" };
    admin::record(
        &services,
        &caller,
        "maintenance_switched",
        if active { "on" } else { "off" },
        outcome,
        Some(&correlation.0),
    )
    .await?;
    saved?;
    Ok(Json(json!({"success": true, "active": active, "settings": settings})).into_response())
}

#[derive(serde::Deserialize)]
struct WindowQuery {
    limit: Option<usize>,
}

/// The window of recent workflows: `?limit=` 1..=200, 50 by default.
fn window(
    query: Result<Query<WindowQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<usize, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = query.limit.unwrap_or(monitoring::DEFAULT_WINDOW);
    if !(1..=monitoring::MAX_WINDOW).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be 1 to {}", monitoring::MAX_WINDOW),
        ));
    }
    Ok(limit)
}

fn with_success(value: impl serde::Serialize) -> Result<Response, ApiError> {
    let mut body = serde_json::to_value(value).map_err(|_| ApiError::internal())?;
    if let Some(map) = body.as_object_mut() {
        map.insert("success".into(), json!(true));
    }
    Ok(Json(body).into_response())
}

/// Confidence of the agents' results over the recent workflows: per agent and
/// overall, mean/min/max and the low/medium/high distribution.
async fn confidence_metrics(
    State(services): State<Services>,
    headers: HeaderMap,
    query: Result<Query<WindowQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::ADMIN)?;
    let limit = window(query)?;
    with_success(monitoring::confidence(&services, limit).await?)
}

/// How often OSA fell back over the recent workflows: agents timed out or
/// failed, late results kept, re-triggered agents, workflows that did not
/// complete, OPAL triggers retried or dead-lettered.
async fn fallback_stats(
    State(services): State<Services>,
    headers: HeaderMap,
    query: Result<Query<WindowQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::ADMIN)?;
    let limit = window(query)?;
    with_success(monitoring::fallbacks(&services, limit).await?)
}
