//! `status-api`: a workflow's status and report, the admin views (audit trails,
//! recent status, erasure), operations (`ops`), dead letters (`deliveries`),
//! and the operator dashboard's static files.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use osa_app::Services;
use osa_app::admin::{self, AuditPage, AuditQuery, Erased, WebhookEventsPage, WebhookEventsQuery};
use osa_app::status::{
    self, FormattedReport, RecentStatus, ReportQuery, WorkflowView, WorkflowsPage, WorkflowsQuery,
};
use osa_http::access::Verified;
use osa_http::access::guarded;
use osa_http::extract::{ValidQuery, WorkflowPath};
use osa_http::{
    ApiError, CorrelationId, Success, dashboard, routes, runbooks, success, with_common_layers,
};

pub mod deliveries;
pub mod ops;
pub mod recovery;

pub fn routes(services: Services) -> Router {
    let router = Router::new()
        .route(routes::WORKFLOWS.path, get(workflows))
        .route(routes::WORKFLOW.path, get(workflow))
        .route(routes::REPORT.path, get(report))
        .route(routes::ERASE.path, delete(erase_workflow))
        .route(routes::ADMIN_AUDIT.path, get(admin_audit))
        .route(routes::RECENT_STATUS.path, get(recent_status))
        .route(routes::WEBHOOK_EVENTS.path, get(webhook_events))
        .route(routes::OPENAPI.path, get(openapi))
        .merge(ops::routes())
        .merge(deliveries::routes())
        .merge(recovery::routes())
        .merge(dashboard::routes(services.config.stream_url.as_deref()))
        .merge(runbooks::routes())
        .with_state(Arc::new(services.clone()));
    guarded(router, &services)
}

pub fn app(services: Services) -> Router {
    with_common_layers(routes(services.clone()), &services)
}

/// Workflows newest first, a page at a time (`?status=`, `?since=`).
async fn workflows(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<WorkflowsQuery>,
) -> Result<Success<WorkflowsPage>, ApiError> {
    Ok(success(status::list(&services, &query).await?))
}

async fn workflow(
    State(services): State<Arc<Services>>,
    WorkflowPath(id): WorkflowPath,
) -> Result<Success<WorkflowView>, ApiError> {
    status::workflow(&services, id.as_str())
        .await?
        .map(success)
        .ok_or_else(|| ApiError::not_found("no such workflow"))
}

/// The ranked strategy and roadmap: JSON, or Markdown (`?format=markdown`).
async fn report(
    State(services): State<Arc<Services>>,
    WorkflowPath(id): WorkflowPath,
    ValidQuery(query): ValidQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let report = status::report_in(&services, id.as_str(), &query)
        .await?
        .ok_or_else(|| ApiError::not_found("no such workflow"))?;
    Ok(match report {
        FormattedReport::Json(report) => success(*report).into_response(),
        FormattedReport::Markdown(text) => {
            let markdown = [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")];
            (markdown, text).into_response()
        }
    })
}

/// Erases every item of a workflow; the admin audit trail records it.
async fn erase_workflow(
    State(services): State<Arc<Services>>,
    WorkflowPath(id): WorkflowPath,
    correlation: CorrelationId,
    Verified(caller): Verified,
) -> Result<Success<Erased>, ApiError> {
    admin::erase_workflow(&services, &caller, id.as_str(), Some(&correlation.0))
        .await?
        .map(success)
        .ok_or_else(|| ApiError::not_found("no such workflow"))
}

/// The admin audit trail, newest first, a page at a time.
async fn admin_audit(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<AuditQuery>,
) -> Result<Success<AuditPage>, ApiError> {
    Ok(success(admin::audit_page(&services, &query).await?))
}

/// The API's OpenAPI 3.1 document; built once per process.
async fn openapi() -> Response {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    axum::Json(DOCUMENT.get_or_init(osa_http::openapi::document)).into_response()
}

async fn recent_status(
    State(services): State<Arc<Services>>,
) -> Result<axum::Json<RecentStatus>, ApiError> {
    Ok(axum::Json(status::recent(&services).await?))
}

/// The audit trail of webhook attempts, oldest first, a page at a time: one
/// workflow's, or a day's that named no workflow (refused unread, unreadable).
async fn webhook_events(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<WebhookEventsQuery>,
) -> Result<Success<WebhookEventsPage>, ApiError> {
    Ok(success(admin::webhook_events(&services, query).await?))
}
