//! The HTTP edge shared by every function: the route table, access checks,
//! extractors, JSON errors, correlation ids, security headers, CORS, rate
//! limits, and the layers every router gets. A handler is extractors, one app
//! call, and a `From<AppError> for ApiError`.

pub mod access;
pub mod api;
mod api_metrics;
pub mod dashboard;
mod error;
pub mod extract;
mod layers;
pub mod openapi;
pub mod rate_limit;
pub mod routes;
pub mod runbooks;
pub mod sse;

pub use api::{Success, success};
pub use error::ApiError;
pub use layers::{
    CORRELATION_HEADER, CorrelationId, EdgeConfig, SECURITY_HEADERS, allowed_origins,
    with_common_layers, with_edge_layers,
};
