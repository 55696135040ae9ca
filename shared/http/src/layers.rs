//! Layers every router gets: correlation ids, request tracing, security headers,
//! an optional CORS allow-list, per-client rate limits, JSON fallbacks, and a
//! panic guard that answers a JSON 500 instead of dropping the connection.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

use super::ApiError;
use super::rate_limit::{Limits, RateLimiter, for_webhooks, identify_and_limit};
use osa_app::Services;
use osa_app::config::{EdgeSettings, RateLimitConfig, usable_origin};

pub const CORRELATION_HEADER: &str = "x-correlation-id";

/// The request's correlation id: the caller's `X-Correlation-ID` when it is sane,
/// otherwise a fresh one. Echoed on the response and carried by every log line.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for CorrelationId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        // Set by the `correlate` layer; generated here only if a router skipped it.
        Ok(parts
            .extensions
            .get::<CorrelationId>()
            .cloned()
            .unwrap_or_else(|| CorrelationId(uuid::Uuid::new_v4().to_string())))
    }
}

fn sane(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

async fn correlate(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    request.extensions_mut().insert(CorrelationId(id.clone()));
    let span = tracing::info_span!(
        "request",
        correlation_id = %id,
        method = %request.method(),
        route = request.uri().path(),
    );
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request finished"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    response
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::internal().into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}

/// Edge settings that differ per environment, as the edge uses them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeConfig {
    /// Origins a browser may call from; empty means no CORS headers at all.
    pub cors_allowed_origins: Vec<HeaderValue>,
    /// `None` turns rate limiting off.
    pub rate_limit: Option<RateLimitConfig>,
}

impl EdgeConfig {
    /// The configured settings (`Config::edge`, checked when it was read).
    pub fn of(settings: &EdgeSettings) -> EdgeConfig {
        EdgeConfig {
            cors_allowed_origins: allowed_origins(&settings.cors_allowed_origins.join(",")),
            rate_limit: settings.rate_limit,
        }
    }
}

/// The usable origins of a comma-separated list: `scheme://host[:port]`, no
/// path, no wildcard.
pub fn allowed_origins(list: &str) -> Vec<HeaderValue> {
    list.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .filter_map(|origin| {
            let origin = origin.trim_end_matches('/');
            let usable = usable_origin(origin);
            match HeaderValue::from_str(origin) {
                Ok(value) if usable => Some(value),
                _ => {
                    tracing::warn!(
                        origin,
                        "OSA_CORS_ALLOWED_ORIGINS entry ignored: not an origin"
                    );
                    None
                }
            }
        })
        .collect()
}

/// Sent on every response unless the handler set its own. The API serves JSON
/// only, so nothing may frame it, sniff it, cache it or load anything from it.
pub const SECURITY_HEADERS: [(HeaderName, &str); 6] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=63072000; includeSubDomains",
    ),
    (header::CACHE_CONTROL, "no-store"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'",
    ),
];

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    }
    response
}

fn cors(origins: Vec<HeaderValue>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods(super::routes::methods())
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static(CORRELATION_HEADER),
        ])
        .expose_headers([
            HeaderName::from_static(CORRELATION_HEADER),
            header::RETRY_AFTER,
        ])
        .max_age(Duration::from_secs(600))
}

/// Wraps a function's router with the layers every OSA endpoint shares,
/// configured as the services' `Config::edge` says.
pub fn with_common_layers(router: Router, services: &Services) -> Router {
    with_edge_layers(router, services, EdgeConfig::of(&services.config.edge))
}

/// [`with_common_layers`] with explicit edge settings. Outermost first: the
/// correlation id, security headers, CORS, the client's identity and rate limit,
/// the panic guard, then the routes (each function's router carries its own
/// access check, [`super::access::guarded`]).
pub fn with_edge_layers(router: Router, services: &Services, edge: EdgeConfig) -> Router {
    let limiter = edge
        .rate_limit
        .map(|config| RateLimiter::new(config, services.clock.clone()));
    let shared_per_minute = edge.rate_limit.map(|c| c.per_minute);
    let webhook_limiter = edge
        .rate_limit
        .map(|config| RateLimiter::new(for_webhooks(config), services.clock.clone()));
    let state = Arc::new(Limits {
        services: services.clone(),
        limiter,
        shared: services.leases.clone(),
        clock: services.clock.clone(),
        shared_per_minute,
        webhook_limiter,
        leases: std::sync::Mutex::new(std::collections::HashMap::new()),
        max_clients: edge
            .rate_limit
            .map_or(1, |config| config.max_clients.max(1)),
    });
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Extractors that buffer a body (JSON bodies of admin routes) stop at the
        // same limit as the streamed intake and webhook bodies.
        .layer(axum::extract::DefaultBodyLimit::max(
            services.config.max_body_bytes,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(state, identify_and_limit));
    let router = if edge.cors_allowed_origins.is_empty() {
        router
    } else {
        router.layer(cors(edge.cors_allowed_origins))
    };
    router
        .layer(middleware::from_fn_with_state(
            super::api_metrics::ApiMetrics::new(services.clone()),
            super::api_metrics::record,
        ))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(correlate))
}
