//! Operations routes: Prometheus metrics, health probes, the stored health
//! report, alerts and the maintenance switch, confidence and fallback figures.
//!
//! `/api/health/*` need no token, as load balancers and uptime checkers call them;
//! they reveal only up/down, a response time and a version.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use osa_app::{Services, alerts, health, monitoring};
use osa_domain::alerts::Maintenance;
use osa_domain::metrics::CONTENT_TYPE;
use osa_http::access::Verified;
use osa_http::extract::{JsonBody, ValidQuery, page_limit};
use osa_http::{ApiError, CorrelationId, routes, success};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<Arc<Services>> {
    Router::new()
        .route(routes::PROMETHEUS.path, get(prometheus))
        .route(routes::HEALTH.path, get(health_probe))
        .route(routes::GUARDRAILS_HEALTH.path, get(guardrails_health))
        .route(routes::ALERTS.path, get(alert_list))
        .route(
            routes::MAINTENANCE.path,
            get(get_maintenance).put(put_maintenance),
        )
        .route(routes::CONFIDENCE_METRICS.path, get(confidence_metrics))
        .route(routes::FALLBACK_STATS.path, get(fallback_stats))
}

/// The `osal_*` metrics in the Prometheus text format, totals across every
/// instance (aggregated in the store).
async fn prometheus(State(services): State<Arc<Services>>) -> Result<Response, ApiError> {
    let snapshot = services.metrics.snapshot().await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], snapshot.render()).into_response())
}

/// `/api/health/intake|opal|database`: the check's probe, judged against its
/// criteria: 200 when it passes, 503 when not.
async fn health_probe(
    State(services): State<Arc<Services>>,
    Path(service): Path<String>,
) -> Result<Response, ApiError> {
    let (status, body) = health::check_route(&services, &service)
        .await
        .ok_or_else(|| ApiError::not_found("no such health check"))?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    Ok((status, Json(body)).into_response())
}

#[derive(Deserialize)]
struct DetailQuery {
    detailed: Option<bool>,
}

/// The latest stored system report (the scheduled check's); with
/// `?detailed=true`, also per-service state and the recent reports.
async fn guardrails_health(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<DetailQuery>,
) -> Result<Response, ApiError> {
    let view = health::report_view(&services, query.detailed.unwrap_or(false)).await?;
    success(view)
}

async fn alert_list(State(services): State<Arc<Services>>) -> Result<Response, ApiError> {
    Ok(Json(alerts::overview(&services).await?).into_response())
}

async fn get_maintenance(State(services): State<Arc<Services>>) -> Result<Response, ApiError> {
    let settings = alerts::maintenance(&services).await?;
    let active = settings.active(services.clock.now());
    success(json!({"active": active, "settings": settings}))
}

/// The maintenance switch: `{"scheduled": bool, "manual_until": rfc3339|null}`.
async fn put_maintenance(
    State(services): State<Arc<Services>>,
    correlation: CorrelationId,
    Verified(caller): Verified,
    JsonBody(settings): JsonBody<Maintenance>,
) -> Result<Response, ApiError> {
    let active =
        alerts::switch_maintenance(&services, &caller, &settings, Some(&correlation.0)).await?;
    success(json!({"active": active, "settings": settings}))
}

#[derive(Deserialize)]
struct WindowQuery {
    limit: Option<usize>,
}

/// The window of recent workflows: `?limit=` 1..=200, 50 by default.
fn window(query: &WindowQuery) -> Result<usize, ApiError> {
    page_limit(
        query.limit,
        monitoring::DEFAULT_WINDOW,
        monitoring::MAX_WINDOW,
    )
}

/// Confidence of the agents' results over the recent workflows: per agent and
/// overall, mean/min/max and the low/medium/high distribution.
async fn confidence_metrics(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<WindowQuery>,
) -> Result<Response, ApiError> {
    success(monitoring::confidence(&services, window(&query)?).await?)
}

/// How often OSA fell back over the recent workflows: agents timed out or
/// failed, late results kept, re-triggered agents, workflows that did not
/// complete, OPAL triggers retried or dead-lettered.
async fn fallback_stats(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<WindowQuery>,
) -> Result<Response, ApiError> {
    success(monitoring::fallbacks(&services, window(&query)?).await?)
}
