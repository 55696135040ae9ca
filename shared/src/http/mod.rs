//! The HTTP edge shared by every function: JSON errors, body limits, bearer auth,
//! correlation ids, security headers, CORS, rate limits, and the layers every
//! router gets.

mod api_metrics;
pub mod dashboard;
mod error;
mod layers;
pub mod rate_limit;

pub use error::ApiError;
pub use layers::{
    CORRELATION_HEADER, CorrelationId, EdgeConfig, SECURITY_HEADERS, allowed_origins,
    with_common_layers, with_edge_layers,
};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};

use crate::app::Services;
use crate::auth::{AuthError, Caller};

/// Reads the whole body, refusing more than `limit` bytes with a 413.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // An over-limit body surfaces as a LengthLimitError somewhere in the chain.
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if err.is::<http_body_util::LengthLimitError>() {
                return ApiError::too_large(limit);
            }
            source = err.source();
        }
        ApiError::bad_request("body_unreadable", "the request body could not be read")
    })
}

/// A declared `Content-Length` over `limit`, so the body need not be read at all.
pub fn declared_too_large(headers: &HeaderMap, limit: usize) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|len| *len > limit as u64)
}

/// Requests with a body must say it is JSON.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json",
        ))
    }
}

/// Verifies the bearer token and the scope a route needs: 401 without a valid
/// token, a JSON 403 naming the scope when it is missing (`osa:admin` satisfies
/// every scope). Checks against the keys in hand: the edge layer
/// ([`with_common_layers`]) has already re-read a rotated JWKS for this token.
pub fn authorize(
    services: &Services,
    headers: &HeaderMap,
    scope: &'static str,
) -> Result<Caller, ApiError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = services
        .auth
        .verify_header(header)
        .map_err(ApiError::from)?;
    caller.require(scope).map_err(ApiError::from)?;
    Ok(caller)
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        use axum::http::StatusCode;
        match e {
            AuthError::Missing => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a bearer token is required",
            ),
            AuthError::Invalid(_) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the bearer token is not valid",
            ),
            AuthError::InsufficientScope(scope) => ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("the token lacks the {scope} scope"),
            ),
            AuthError::Config(_) => ApiError::internal(),
        }
    }
}
