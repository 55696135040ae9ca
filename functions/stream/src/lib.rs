//! `stream`: a workflow's live progress, and the operators' feed of the whole
//! system's activity, as server-sent events. On AWS it is its
//! own function behind a Function URL with response streaming (API Gateway's
//! HTTP API buffers whole answers); `osa serve` serves it with the rest.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use osa_app::stream::StreamQuery;
use osa_app::{Services, stream};
use osa_http::access::guarded;
use osa_http::extract::{LastEventId, ValidQuery, WorkflowPath};
use osa_http::{ApiError, routes, sse, with_common_layers};

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
    WorkflowPath(id): WorkflowPath,
    LastEventId(resume_after): LastEventId,
) -> Result<Response, ApiError> {
    let follow = stream::open(&services, id.as_str(), resume_after).await?;
    Ok(sse::respond(|events| follow.run(events)))
}

/// The original system's path: the workflow in the query.
async fn stream_by_query(
    State(services): State<Arc<Services>>,
    ValidQuery(query): ValidQuery<StreamQuery>,
    LastEventId(resume_after): LastEventId,
) -> Result<Response, ApiError> {
    let follow = stream::open(&services, query.workflow_id.as_str(), resume_after).await?;
    Ok(sse::respond(|events| follow.run(events)))
}

/// The whole system's activity, for operators.
async fn admin_stream(
    State(services): State<Arc<Services>>,
    LastEventId(resume_after): LastEventId,
) -> Result<Response, ApiError> {
    let follow = stream::open_activity(&services, resume_after).await?;
    Ok(sse::respond(|events| follow.run(events)))
}
