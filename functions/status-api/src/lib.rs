//! `status-api`: a workflow's status and report, the admin views (audit trails,
//! recent status, erasure), operations (`ops`), dead letters (`deliveries`),
//! and the operator dashboard's static files.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use osa_shared::app::{Services, admin, status};
use osa_shared::domain::access::Caller;
use osa_shared::domain::report::to_markdown;
use osa_shared::http::access::guarded;
use osa_shared::http::extract::{ValidQuery, WorkflowId};
use osa_shared::http::{ApiError, CorrelationId, dashboard, routes, success, with_common_layers};
use serde::Deserialize;
use serde_json::json;

pub mod deliveries;
pub mod ops;

pub fn routes(services: Services) -> Router {
    let router = Router::new()
        .route(routes::WORKFLOW.path, get(workflow))
        .route(routes::REPORT.path, get(report))
        .route(routes::ERASE.path, delete(erase_workflow))
        .route(routes::ADMIN_AUDIT.path, get(admin_audit))
        .route(routes::RECENT_STATUS.path, get(recent_status))
        .route(routes::WEBHOOK_EVENTS.path, get(webhook_events))
        .merge(ops::routes())
        .merge(deliveries::routes())
        .merge(dashboard::routes(services.config.stream_url.as_deref()))
        .with_state(services.clone());
    guarded(router, &services)
}

pub fn app(services: Services) -> Router {
    with_common_layers(routes(services.clone()), &services)
}

async fn workflow(
    State(services): State<Services>,
    WorkflowId(id): WorkflowId,
) -> Result<Response, ApiError> {
    let view = status::workflow(&services, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such workflow"))?;
    success(view)
}

/// `?format=json` (the default) or `markdown`.
#[derive(Deserialize)]
struct ReportQuery {
    #[serde(default)]
    format: ReportFormat,
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum ReportFormat {
    #[default]
    Json,
    #[serde(alias = "md")]
    Markdown,
}

/// The ranked strategy and roadmap: JSON, or Markdown.
async fn report(
    State(services): State<Services>,
    WorkflowId(id): WorkflowId,
    ValidQuery(query): ValidQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let report = status::report(&services, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such workflow"))?;
    if query.format == ReportFormat::Markdown {
        let markdown = [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")];
        return Ok((markdown, to_markdown(&report)).into_response());
    }
    success(report)
}

/// Erases every item of a workflow; the admin audit trail records it.
async fn erase_workflow(
    State(services): State<Services>,
    WorkflowId(id): WorkflowId,
    correlation: CorrelationId,
    caller: Caller,
) -> Result<Response, ApiError> {
    let items = admin::erase_workflow(&services, &caller, &id, Some(&correlation.0))
        .await?
        .ok_or_else(|| ApiError::not_found("no such workflow"))?;
    success(json!({"workflow_id": id, "erased_items": items}))
}

/// `?limit=` 1–1000.
#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

/// The admin audit trail, newest first.
async fn admin_audit(
    State(services): State<Services>,
    ValidQuery(query): ValidQuery<LimitQuery>,
) -> Result<Response, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let entries = services.store.admin_audit(limit).await?;
    success(json!({"entries": entries}))
}

async fn recent_status(State(services): State<Services>) -> Result<Response, ApiError> {
    Ok(axum::Json(status::recent(&services).await?).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    workflow_id: Option<String>,
    limit: Option<usize>,
}

/// The audit trail of webhook attempts for one workflow, oldest first.
async fn webhook_events(
    State(services): State<Services>,
    ValidQuery(query): ValidQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let workflow_id = query
        .workflow_id
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .ok_or_else(|| ApiError::bad_request("invalid_query", "workflow_id is required"))?;
    let limit = query.limit.unwrap_or(500).clamp(1, 1000);
    let events = services
        .store
        .audit_for_workflow(&workflow_id, limit)
        .await?;
    success(json!({ "workflow_id": workflow_id, "events": events }))
}
