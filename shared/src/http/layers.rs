//! Layers every router gets: correlation ids, request tracing, security headers,
//! an optional CORS allow-list, per-client rate limits, JSON fallbacks, and a
//! panic guard that answers a JSON 500 instead of dropping the connection.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::Instrument;

use super::ApiError;
use super::rate_limit::{Edge, RateLimitConfig, RateLimiter, identify_and_limit};
use crate::app::Services;
use crate::config::var;

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

/// Edge settings that differ per environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeConfig {
    /// Origins a browser may call from; empty means no CORS headers at all.
    pub cors_allowed_origins: Vec<HeaderValue>,
    /// `None` turns rate limiting off.
    pub rate_limit: Option<RateLimitConfig>,
}

impl EdgeConfig {
    /// `OSA_CORS_ALLOWED_ORIGINS` (comma-separated origins such as
    /// `https://app.example.com`; unset means none), `OSA_RATE_LIMIT_PER_MINUTE`
    /// and `OSA_RATE_LIMIT_BURST`. A bad value is logged and fails safe: an
    /// unusable origin is left out, a bad rate limit falls back to the default.
    pub fn from_env() -> EdgeConfig {
        let rate_limit = RateLimitConfig::from_env().unwrap_or_else(|e| {
            tracing::error!(error = %e, "bad rate-limit setting; using the default limit");
            Some(RateLimitConfig::default())
        });
        EdgeConfig {
            cors_allowed_origins: allowed_origins(
                &var("OSA_CORS_ALLOWED_ORIGINS").unwrap_or_default(),
            ),
            rate_limit,
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
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let usable = rest.is_some_and(|host| {
                !host.is_empty()
                    && !host.contains(['/', '*', '?', '#', '@'])
                    && host.bytes().all(|b| b.is_ascii_graphic())
            });
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
const SECURITY_HEADERS: [(HeaderName, &str); 6] = [
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
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
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
/// configured from the environment ([`EdgeConfig::from_env`]).
pub fn with_common_layers(router: Router, services: &Services) -> Router {
    with_edge_layers(router, services, EdgeConfig::from_env())
}

/// [`with_common_layers`] with explicit edge settings. Outermost first: the
/// correlation id, security headers, CORS, the client's identity and rate limit,
/// the panic guard, then the routes.
pub fn with_edge_layers(router: Router, services: &Services, edge: EdgeConfig) -> Router {
    let limiter = edge
        .rate_limit
        .map(|config| RateLimiter::new(config, services.clock.clone()));
    let shared_per_minute = edge.rate_limit.map(|c| c.per_minute);
    let webhook_limiter = edge
        .rate_limit
        .map(|config| RateLimiter::new(config.for_webhooks(), services.clock.clone()));
    let state = Arc::new(Edge {
        auth: services.auth.clone(),
        limiter,
        store: services.store.clone(),
        clock: services.clock.clone(),
        shared_per_minute,
        webhook_limiter,
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
            services.clone(),
            super::api_metrics::record,
        ))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(correlate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tests::{JwksFile, jwk, jwks, mint_kid, other_keys};
    use crate::auth::{JwtVerifier, scopes};
    use crate::http::authorize;
    use crate::testkit::{AUDIENCE, ISSUER, TestApp, dev_keys};
    use axum::Json;
    use axum::body::Body;
    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    /// An open route, a route that sets its own caching, and one that needs `osa:read`.
    fn routes(services: &Services) -> Router {
        async fn secure(
            State(services): State<Services>,
            headers: HeaderMap,
        ) -> Result<Json<Value>, ApiError> {
            let caller = authorize(&services, &headers, scopes::READ)?;
            Ok(Json(json!({ "subject": caller.subject })))
        }
        Router::new()
            .route("/api/ping", get(|| async { Json(json!({ "ok": true })) }))
            .route(
                "/api/cached",
                get(|| async { ([(header::CACHE_CONTROL, "max-age=60")], "cached") }),
            )
            .route("/api/secure", get(secure))
            .route(
                super::super::rate_limit::WEBHOOK_PATH,
                axum::routing::post(|| async { Json(json!({ "ok": true })) }),
            )
            .with_state(services.clone())
    }

    fn app(services: &Services, edge: EdgeConfig) -> Router {
        with_edge_layers(routes(services), services, edge)
    }

    fn limited(per_minute: u32, burst: u32) -> EdgeConfig {
        EdgeConfig {
            rate_limit: Some(RateLimitConfig {
                per_minute,
                burst,
                ..RateLimitConfig::default()
            }),
            ..EdgeConfig::default()
        }
    }

    fn token_for(subject: &str) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        dev_keys()
            .mint(ISSUER, AUDIENCE, subject, &[scopes::READ], now, 3600)
            .unwrap()
    }

    fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    async fn send(app: &Router, request: Request) -> (StatusCode, HeaderMap, Value) {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn assert_secure(headers: &HeaderMap) {
        for (name, value) in SECURITY_HEADERS {
            if name != header::CACHE_CONTROL {
                assert_eq!(headers.get(&name).unwrap(), value, "{name}");
            }
        }
        assert!(headers.contains_key(CORRELATION_HEADER));
    }

    #[tokio::test]
    async fn every_response_carries_the_security_headers() {
        let t = TestApp::new();
        let app = app(&t.services, EdgeConfig::default());
        for (method, path, status) in [
            (Method::GET, "/api/ping", StatusCode::OK),
            (Method::GET, "/api/nowhere", StatusCode::NOT_FOUND),
            (Method::DELETE, "/api/ping", StatusCode::METHOD_NOT_ALLOWED),
            (Method::GET, "/api/secure", StatusCode::UNAUTHORIZED),
        ] {
            let (got, headers, _) = send(&app, request(method, path, &[])).await;
            assert_eq!(got, status, "{path}");
            assert_secure(&headers);
            assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
        }
        // A handler's own Cache-Control stands.
        let (_, headers, _) = send(&app, request(Method::GET, "/api/cached", &[])).await;
        assert_secure(&headers);
        assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "max-age=60");
    }

    #[test]
    fn only_plain_origins_make_the_allow_list() {
        let list = allowed_origins(
            " https://app.example.com, http://localhost:5173/ ,*, ftp://files.example.com, \
             https://evil.example.com/path, https://*.example.com, ,https://",
        );
        assert_eq!(list, ["https://app.example.com", "http://localhost:5173"]);
        assert!(allowed_origins("").is_empty());
    }

    #[tokio::test]
    async fn cors_answers_only_the_listed_origins() {
        let t = TestApp::new();
        let edge = EdgeConfig {
            cors_allowed_origins: allowed_origins("https://app.example.com"),
            ..EdgeConfig::default()
        };
        let app = app(&t.services, edge);
        let allow = header::ACCESS_CONTROL_ALLOW_ORIGIN;

        let (status, headers, _) = send(
            &app,
            request(
                Method::GET,
                "/api/ping",
                &[("origin", "https://app.example.com")],
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers.get(&allow).unwrap(), "https://app.example.com");
        assert!(
            headers
                .get_all(header::VARY)
                .iter()
                .any(|v| v.to_str().unwrap_or("").contains("origin"))
        );
        assert_secure(&headers);

        let (_, headers, _) = send(
            &app,
            request(
                Method::GET,
                "/api/ping",
                &[("origin", "https://evil.example.com")],
            ),
        )
        .await;
        assert!(headers.get(&allow).is_none());

        // A preflight from the listed origin.
        let (status, headers, _) = send(
            &app,
            request(
                Method::OPTIONS,
                "/api/secure",
                &[
                    ("origin", "https://app.example.com"),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "authorization,content-type",
                    ),
                ],
            ),
        )
        .await;
        assert!(status.is_success(), "{status}");
        assert_eq!(headers.get(&allow).unwrap(), "https://app.example.com");
        let methods = headers
            .get(header::ACCESS_CONTROL_ALLOW_METHODS)
            .unwrap()
            .to_str()
            .unwrap();
        // Every method a route answers: PUT for the maintenance switch.
        for method in ["GET", "POST", "PUT", "DELETE"] {
            assert!(methods.contains(method), "{method} not in {methods}");
        }
        let allowed_headers = headers
            .get(header::ACCESS_CONTROL_ALLOW_HEADERS)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            allowed_headers.contains("authorization"),
            "{allowed_headers}"
        );
        assert!(
            headers
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none()
        );

        // No list, no CORS headers, whatever the origin.
        let closed = super::tests::app(&t.services, EdgeConfig::default());
        let (_, headers, _) = send(
            &closed,
            request(
                Method::GET,
                "/api/ping",
                &[("origin", "https://app.example.com")],
            ),
        )
        .await;
        assert!(headers.get(&allow).is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_over_its_limit_gets_429_while_another_is_served() {
        let t = TestApp::new();
        // One a second sustained, three at once; the test clock stands still.
        let app = app(&t.services, limited(60, 3));
        let (a, b) = (token_for("client-a"), token_for("client-b"));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, token) in [(&a, 5), (&b, 3)]
            .into_iter()
            .flat_map(|(token, n)| std::iter::repeat_n(token.clone(), n))
            .enumerate()
        {
            let app = app.clone();
            let auth = format!("Bearer {token}");
            tasks.spawn(async move {
                let r = request(Method::GET, "/api/secure", &[("authorization", &auth)]);
                (i < 5, send(&app, r).await)
            });
        }
        let (mut a_ok, mut a_limited, mut b_ok) = (0, 0, 0);
        while let Some(joined) = tasks.join_next().await {
            let (is_a, (status, headers, body)) = joined.unwrap();
            match (is_a, status) {
                (true, StatusCode::OK) => a_ok += 1,
                (false, StatusCode::OK) => b_ok += 1,
                (true, StatusCode::TOO_MANY_REQUESTS) => {
                    a_limited += 1;
                    assert_eq!(headers.get(header::RETRY_AFTER).unwrap(), "1");
                    assert_eq!(body["success"], false);
                    assert_eq!(body["error"]["code"], "rate_limited");
                    assert_secure(&headers);
                }
                other => panic!("unexpected {other:?}: {body}"),
            }
        }
        assert_eq!((a_ok, a_limited, b_ok), (3, 2, 3));

        // A second later, client A may make one more request.
        t.clock.advance(std::time::Duration::from_secs(1));
        let auth_a = format!("Bearer {a}");
        let get_a = || request(Method::GET, "/api/secure", &[("authorization", &auth_a)]);
        assert_eq!(send(&app, get_a()).await.0, StatusCode::OK);
        assert_eq!(send(&app, get_a()).await.0, StatusCode::TOO_MANY_REQUESTS);
    }

    #[tokio::test]
    async fn the_webhook_sender_gets_a_larger_allowance_of_its_own() {
        let t = TestApp::new();
        let app = app(&t.services, limited(60, 2));
        let from = |method: Method, path: &'static str| {
            request(method, path, &[("x-forwarded-for", "198.51.100.9")])
        };
        let webhook = super::super::rate_limit::WEBHOOK_PATH;
        // Two ordinary requests, then the address is limited there...
        assert_eq!(
            send(&app, from(Method::GET, "/api/ping")).await.0,
            StatusCode::OK
        );
        assert_eq!(
            send(&app, from(Method::GET, "/api/ping")).await.0,
            StatusCode::OK
        );
        assert_eq!(
            send(&app, from(Method::GET, "/api/ping")).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        // ...while as a webhook sender it has ten times the burst, counted apart.
        for i in 0..20 {
            assert_eq!(
                send(&app, from(Method::POST, webhook)).await.0,
                StatusCode::OK,
                "webhook {i}"
            );
        }
        assert_eq!(
            send(&app, from(Method::POST, webhook)).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[tokio::test]
    async fn a_token_that_does_not_verify_counts_against_its_address() {
        let t = TestApp::new();
        let app = app(&t.services, limited(60, 2));
        // Signed by a stranger's key, claiming client-a's subject.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let forged = other_keys()
            .mint(ISSUER, AUDIENCE, "client-a", &[scopes::ADMIN], now, 3600)
            .unwrap();
        let forged = format!("Bearer {forged}");
        let from = |ip: &'static str, auth: &str| {
            request(
                Method::GET,
                "/api/ping",
                &[("x-forwarded-for", ip), ("authorization", auth)],
            )
        };
        for _ in 0..2 {
            assert_eq!(
                send(&app, from("203.0.113.9", &forged)).await.0,
                StatusCode::OK
            );
        }
        assert_eq!(
            send(&app, from("203.0.113.9", &forged)).await.0,
            StatusCode::TOO_MANY_REQUESTS
        );
        // The real client-a, from the same address, still has its allowance.
        let real = format!("Bearer {}", token_for("client-a"));
        for _ in 0..2 {
            assert_eq!(
                send(&app, from("203.0.113.9", &real)).await.0,
                StatusCode::OK
            );
        }
        // And so does another address without a token.
        let anonymous = request(
            Method::GET,
            "/api/ping",
            &[("x-forwarded-for", "198.51.100.1")],
        );
        assert_eq!(send(&app, anonymous).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn rate_limiting_can_be_turned_off() {
        let t = TestApp::new();
        let app = app(&t.services, EdgeConfig::default());
        for _ in 0..200 {
            assert_eq!(
                send(&app, request(Method::GET, "/api/ping", &[])).await.0,
                StatusCode::OK
            );
        }
    }

    #[tokio::test]
    async fn a_key_rotated_into_the_jwks_file_reaches_the_handlers_without_a_restart() {
        let t = TestApp::new();
        let file = JwksFile::new(&jwks(&[jwk(dev_keys(), "k1")]));
        let mut services = t.services.clone();
        services.auth = Arc::new(
            JwtVerifier::from_jwks_file(&file.0, "osa-local", "osa-api")
                .unwrap()
                .with_clock(t.clock.clone()),
        );
        let app = app(&services, EdgeConfig::default());
        let get = |token: &str| {
            let auth = format!("Bearer {token}");
            request(Method::GET, "/api/secure", &[("authorization", &auth)])
        };
        let old = mint_kid(dev_keys(), "k1", &[scopes::READ]);
        let new = mint_kid(other_keys(), "k2", &[scopes::READ]);
        assert_eq!(send(&app, get(&old)).await.0, StatusCode::OK);
        assert_eq!(send(&app, get(&new)).await.0, StatusCode::UNAUTHORIZED);
        file.write(&jwks(&[jwk(dev_keys(), "k1"), jwk(other_keys(), "k2")]));
        t.clock.advance(std::time::Duration::from_secs(61));
        let (status, _, body) = send(&app, get(&new)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["subject"], "dev");
        assert_eq!(send(&app, get(&old)).await.0, StatusCode::OK);
    }
}
