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
use axum::routing::{get, post};
use osa_app::alerts::{AlertActed, MaintenanceState, Overview, SilenceRequest};
use osa_app::health::{HealthProbe, ProbeStatus, ReportQuery, ReportView};
use osa_app::monitoring::WindowQuery;
use osa_app::{Services, alerts, health, metrics, monitoring};
use osa_domain::alerts::{AlertAction, Maintenance};
use osa_domain::monitoring::{ConfidenceMetrics, FallbackStats};
use osa_http::access::Verified;
use osa_http::extract::{HealthCheckPath, JsonBody, ValidQuery};
use osa_http::{ApiError, CorrelationId, Success, routes, success};

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
        .route(routes::ACK_ALERT.path, post(ack_alert))
        .route(routes::SILENCE_ALERT.path, post(silence_alert))
        .route(routes::CONFIDENCE_METRICS.path, get(confidence_metrics))
        .route(routes::FALLBACK_STATS.path, get(fallback_stats))
}

/// The `osal_*` metrics in the Prometheus text format, totals across every
/// instance (aggregated in the store).
async fn prometheus(State(services): State<Arc<Services>>) -> Result<Response, ApiError> {
    let text = metrics::exposition(&services).await?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

/// `/api/health/intake|opal|database`: the check's probe, judged against its
/// criteria: 200 when it passes, 503 when not.
async fn health_probe(
    State(services): State<Arc<Services>>,
    HealthCheckPath(route): HealthCheckPath,
) -> (StatusCode, Json<HealthProbe>) {
    let probe = health::check_now(&services, route).await;
    let status = match probe.status {
        ProbeStatus::Ok => StatusCode::OK,
        ProbeStatus::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(probe))
}

/// The latest stored system report (the scheduled check's); with
/// `?detailed=true`, also per-service state and the recent reports.
async fn guardrails_health(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<ReportQuery>,
) -> Result<Success<ReportView>, ApiError> {
    Ok(success(health::report_view(&services, &query).await?))
}

async fn alert_list(State(services): State<Arc<Services>>) -> Result<Success<Overview>, ApiError> {
    Ok(success(alerts::overview(&services).await?))
}

async fn get_maintenance(
    State(services): State<Arc<Services>>,
) -> Result<Success<MaintenanceState>, ApiError> {
    Ok(success(alerts::maintenance_state(&services).await?))
}

/// The maintenance switch: `{"scheduled": bool, "manual_until": rfc3339|null}`.
async fn put_maintenance(
    State(services): State<Arc<Services>>,
    correlation: CorrelationId,
    Verified(caller): Verified,
    JsonBody(settings): JsonBody<Maintenance>,
) -> Result<Success<MaintenanceState>, ApiError> {
    let state =
        alerts::switch_maintenance(&services, &caller, settings, Some(&correlation.0)).await?;
    Ok(success(state))
}

/// Acknowledges a firing alert: no more re-notifications; PagerDuty
/// acknowledges its incident. Again: `changed: false`.
async fn ack_alert(
    State(services): State<Arc<Services>>,
    Path(alert_id): Path<String>,
    correlation: CorrelationId,
    Verified(caller): Verified,
) -> Result<Success<AlertActed>, ApiError> {
    let acted = alerts::act_on(
        &services,
        &caller,
        &alert_id,
        AlertAction::Acknowledge,
        Some(&correlation.0),
    )
    .await?;
    Ok(success(acted))
}

/// Silences a firing alert's re-notifications until `until` (at most 24 h).
async fn silence_alert(
    State(services): State<Arc<Services>>,
    Path(alert_id): Path<String>,
    correlation: CorrelationId,
    Verified(caller): Verified,
    JsonBody(request): JsonBody<SilenceRequest>,
) -> Result<Success<AlertActed>, ApiError> {
    let action = AlertAction::Silence {
        until: request.until,
    };
    let acted = alerts::act_on(&services, &caller, &alert_id, action, Some(&correlation.0)).await?;
    Ok(success(acted))
}

/// Confidence of the agents' results over the recent workflows: per agent and
/// overall, mean/min/max and the low/medium/high distribution.
async fn confidence_metrics(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<WindowQuery>,
) -> Result<Success<ConfidenceMetrics>, ApiError> {
    Ok(success(
        monitoring::confidence(&services, query.limit.get()).await?,
    ))
}

/// How often OSA fell back over the recent workflows: agents timed out or
/// failed, late results kept, re-triggered agents, workflows that did not
/// complete, OPAL triggers retried or dead-lettered.
async fn fallback_stats(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<WindowQuery>,
) -> Result<Success<FallbackStats>, ApiError> {
    Ok(success(
        monitoring::fallbacks(&services, query.limit.get()).await?,
    ))
}
