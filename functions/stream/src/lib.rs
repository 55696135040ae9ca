//! `stream`: a workflow's live progress, and the operators' feed of the whole
//! system's activity, as server-sent events. On AWS it is its
//! own function behind a Function URL with response streaming (API Gateway's
//! HTTP API buffers whole answers); `osa serve` serves it with the rest.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use osa_app::{Services, stream};
use osa_http::access::guarded;
use osa_http::extract::{ValidQuery, WorkflowId};
use osa_http::{ApiError, routes, sse, with_common_layers};
use serde::Deserialize;

pub fn routes(services: Services) -> Router {
    let router = Router::new()
        .route(routes::STREAM.path, get(workflow_stream))
        .route(routes::STREAM_BY_QUERY.path, get(stream_by_query))
        .route(routes::ADMIN_STREAM.path, get(admin_stream))
        .with_state(Arc::new(services.clone()));
    guarded(router, &services)
}

pub fn app(services: Services) -> Router {
    with_common_layers(routes(services.clone()), &services)
}

async fn workflow_stream(
    State(services): State<Arc<Services>>,
    WorkflowId(id): WorkflowId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    follow(&services, &id, &headers).await
}

#[derive(Deserialize)]
struct StreamQuery {
    workflow_id: Option<String>,
}

/// The original system's path: the workflow in the query.
async fn stream_by_query(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = query
        .workflow_id
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .ok_or_else(|| ApiError::bad_request("invalid_query", "workflow_id is required"))?;
    follow(&services, &id, &headers).await
}

async fn follow(services: &Services, id: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let resume_after = last_event_id(headers)?;
    let follow = stream::open(services, id, resume_after).await?;
    Ok(sse::respond(|events| follow.run(events)))
}

/// The whole system's activity, for operators.
async fn admin_stream(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let resume_after = last_event_id(&headers)?;
    let follow = stream::open_activity(&services, resume_after).await?;
    Ok(sse::respond(|events| follow.run(events)))
}

/// `Last-Event-ID`: the id of the last event the client saw, a whole number.
fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(str::trim)
        .and_then(|v| v.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_last_event_id",
                "Last-Event-ID must be the id of an event this stream sent",
            )
        })
}
