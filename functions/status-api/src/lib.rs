//! `status-api`: one workflow's status, the dashboard's recent-status summary,
//! and the operator dashboard itself (its page and assets).

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use osa_shared::app::{Services, status};
use osa_shared::auth::scopes;
use osa_shared::domain::report::to_markdown;
use osa_shared::http::{ApiError, authorize, with_common_layers};
use serde_json::json;

pub mod deliveries;
pub mod ops;

pub const WORKFLOW_PATH: &str = "/api/strategy/workflows/{id}";
pub const REPORT_PATH: &str = "/api/strategy/workflows/{id}/report";
pub const ERASE_PATH: &str = "/api/admin/workflows/{id}";
pub const ADMIN_AUDIT_PATH: &str = "/api/admin/audit";
pub const RECENT_STATUS_PATH: &str = "/api/admin/osa/recent-status";
pub const WEBHOOK_EVENTS_PATH: &str = "/api/admin/webhook-events";

pub fn routes(services: Services) -> Router {
    Router::new()
        .route(WORKFLOW_PATH, get(workflow))
        .route(REPORT_PATH, get(report))
        .route(ERASE_PATH, axum::routing::delete(erase_workflow))
        .route(ADMIN_AUDIT_PATH, get(admin_audit))
        .route(RECENT_STATUS_PATH, get(recent_status))
        .route(WEBHOOK_EVENTS_PATH, get(webhook_events))
        .merge(ops::routes())
        .merge(deliveries::routes())
        .merge(osa_shared::http::dashboard::routes())
        .with_state(services)
}

pub fn app(services: Services) -> Router {
    with_common_layers(routes(services.clone()), &services)
}

async fn workflow(
    State(services): State<Services>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::READ)?;
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::not_found("no such workflow"));
    }
    let view = status::workflow(&services, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such workflow"))?;
    let mut body = serde_json::to_value(view).map_err(|_| ApiError::internal())?;
    if let Some(map) = body.as_object_mut() {
        map.insert("success".into(), json!(true));
    }
    Ok(Json(body).into_response())
}

#[derive(serde::Deserialize)]
struct ReportQuery {
    format: Option<String>,
}

/// The ranked strategy and roadmap: JSON, or Markdown with `?format=markdown`.
async fn report(
    State(services): State<Services>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::READ)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let markdown = match query.format.as_deref() {
        None | Some("json") => false,
        Some("markdown" | "md") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("format must be json or markdown, not {other:?}"),
            ));
        }
    };
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::not_found("no such workflow"));
    }
    let report = status::report(&services, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such workflow"))?;
    if markdown {
        return Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                "text/markdown; charset=utf-8",
            )],
            to_markdown(&report),
        )
            .into_response());
    }
    let mut body = serde_json::to_value(report).map_err(|_| ApiError::internal())?;
    if let Some(map) = body.as_object_mut() {
        map.insert("success".into(), json!(true));
    }
    Ok(Json(body).into_response())
}

/// Erases every item of a workflow; the admin audit trail records it.
async fn erase_workflow(
    State(services): State<Services>,
    Path(id): Path<String>,
    correlation: osa_shared::http::CorrelationId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = authorize(&services, &headers, scopes::ADMIN)?;
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::not_found("no such workflow"));
    }
    let items =
        osa_shared::app::admin::erase_workflow(&services, &caller, &id, Some(&correlation.0))
            .await?
            .ok_or_else(|| ApiError::not_found("no such workflow"))?;
    Ok(Json(json!({"success": true, "workflow_id": id, "erased_items": items})).into_response())
}

#[derive(serde::Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

/// The admin audit trail, newest first.
async fn admin_audit(
    State(services): State<Services>,
    headers: HeaderMap,
    query: Result<Query<LimitQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::ADMIN)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let entries = services.store.admin_audit(limit).await?;
    Ok(Json(json!({"success": true, "entries": entries})).into_response())
}

async fn recent_status(
    State(services): State<Services>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::ADMIN)?;
    Ok(Json(status::recent(&services).await?).into_response())
}

#[derive(serde::Deserialize)]
struct AuditQuery {
    workflow_id: Option<String>,
    limit: Option<usize>,
}

/// The audit trail of webhook attempts for one workflow, oldest first.
async fn webhook_events(
    State(services): State<Services>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&services, &headers, scopes::ADMIN)?;
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let workflow_id = query
        .workflow_id
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .ok_or_else(|| ApiError::bad_request("invalid_query", "workflow_id is required"))?;
    let limit = query.limit.unwrap_or(500).clamp(1, 1000);
    let events = services
        .store
        .audit_for_workflow(&workflow_id, limit)
        .await?;
    Ok(
        Json(json!({ "success": true, "workflow_id": workflow_id, "events": events }))
            .into_response(),
    )
}
