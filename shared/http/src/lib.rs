//! The HTTP edge shared by every function: the route table, access checks,
//! extractors, JSON errors, correlation ids, security headers, CORS, rate
//! limits, and the layers every router gets. A handler is extractors, one app
//! call, and a `From<AppError> for ApiError`.

pub mod access;
mod api_metrics;
pub mod dashboard;
mod error;
pub mod extract;
mod layers;
pub mod openapi;
pub mod rate_limit;
pub mod routes;
pub mod sse;

pub use error::ApiError;
pub use layers::{
    CORRELATION_HEADER, CorrelationId, EdgeConfig, SECURITY_HEADERS, allowed_origins,
    with_common_layers, with_edge_layers,
};

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `value` as a JSON object with `"success": true` added, the shape every
/// successful JSON answer has.
pub fn success(value: impl Serialize) -> Result<Response, ApiError> {
    let mut body = serde_json::to_value(value).map_err(|e| {
        tracing::error!(error = %e, "response not serialisable");
        ApiError::internal()
    })?;
    if let Some(map) = body.as_object_mut() {
        map.insert("success".into(), serde_json::Value::Bool(true));
    }
    Ok(Json(body).into_response())
}
