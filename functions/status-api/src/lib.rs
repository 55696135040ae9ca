//! `status-api`: a workflow's status and report, the admin views (audit trails,
//! recent status, erasure), operations (`ops`), dead letters (`deliveries`),
//! and the operator dashboard's static files.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use osa_app::ports::PagePosition;
use osa_app::{Services, admin, status};
use osa_domain::report::to_markdown;
use osa_http::access::Verified;
use osa_http::access::guarded;
use osa_http::extract::{ValidQuery, WorkflowId, page_limit};
use osa_http::{ApiError, CorrelationId, dashboard, routes, success, with_common_layers};
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
        .route(routes::OPENAPI.path, get(openapi))
        .merge(ops::routes())
        .merge(deliveries::routes())
        .merge(dashboard::routes(services.config.stream_url.as_deref()))
        .with_state(Arc::new(services.clone()));
    guarded(router, &services)
}

pub fn app(services: Services) -> Router {
    with_common_layers(routes(services.clone()), &services)
}

async fn workflow(
    State(services): State<Arc<Services>>,
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
    State(services): State<Arc<Services>>,
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
    State(services): State<Arc<Services>>,
    WorkflowId(id): WorkflowId,
    correlation: CorrelationId,
    Verified(caller): Verified,
) -> Result<Response, ApiError> {
    let items = admin::erase_workflow(&services, &caller, &id, Some(&correlation.0))
        .await?
        .ok_or_else(|| ApiError::not_found("no such workflow"))?;
    success(json!({"workflow_id": id, "erased_items": items}))
}

/// `?limit=` 1–1000 and `?cursor=`, the `next` of the page before.
#[derive(Deserialize)]
struct PageQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

/// The position a `cursor` stands for, if one was given.
fn position(cursor: Option<&str>) -> Result<Option<PagePosition>, ApiError> {
    cursor
        .map(PagePosition::from_token)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_cursor", e.to_string()))
}

/// The admin audit trail, newest first, a page at a time.
async fn admin_audit(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<PageQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(query.limit, 100, 1000)?;
    let before = position(query.cursor.as_deref())?;
    let page = services
        .audit
        .admin_audit_page(before.as_ref(), limit)
        .await?;
    success(json!({"entries": page.items, "next": page.next.map(|p| p.token())}))
}

/// The API's OpenAPI 3.1 document; built once per process.
async fn openapi() -> Response {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    axum::Json(DOCUMENT.get_or_init(osa_http::openapi::document)).into_response()
}

async fn recent_status(State(services): State<Arc<Services>>) -> Result<Response, ApiError> {
    Ok(axum::Json(status::recent(&services).await?).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    workflow_id: Option<String>,
    /// A UTC day (`YYYY-MM-DD`): the attempts that named no workflow then.
    unattributed_on: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// The audit trail of webhook attempts, oldest first, a page at a time: one
/// workflow's, or a day's that named no workflow (refused unread, unreadable).
async fn webhook_events(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(query.limit, 500, 1000)?;
    let after = position(query.cursor.as_deref())?;
    let (scope, page) = match (query.workflow_id, query.unattributed_on) {
        (Some(id), None) if !id.is_empty() && id.len() <= 128 => {
            let page = services
                .audit
                .audit_page(&id, after.as_ref(), limit)
                .await?;
            (json!({"workflow_id": id}), page)
        }
        (None, Some(day)) => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let date = time::Date::parse(&day, format).map_err(|_| {
                ApiError::bad_request("invalid_query", "unattributed_on is a day: YYYY-MM-DD")
            })?;
            let page = services
                .audit
                .unattributed_audit_page(date, after.as_ref(), limit)
                .await?;
            (json!({"unattributed_on": day}), page)
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "give workflow_id (1-128 characters) or unattributed_on (YYYY-MM-DD)",
            ));
        }
    };
    let mut body = scope;
    body["events"] = json!(page.items);
    body["next"] = json!(page.next.map(|p| p.token()));
    success(body)
}
