//! The layers every router gets, driven through a router: security headers,
//! CORS, rate limits, and keys rotated into a JWKS file.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::http::{Method, StatusCode, header};
use axum::routing::get;
use osa_app::Services;
use osa_domain::access::scopes;
use osa_http::access::Verified;
use osa_http::access::guarded;
use osa_http::rate_limit::RateLimitConfig;
use osa_http::routes;
use osa_http::{
    CORRELATION_HEADER, EdgeConfig, SECURITY_HEADERS, allowed_origins, with_edge_layers,
};
use osa_net::jwt::JwtVerifier;
use osa_testkit::keys::{JwksFile, jwk, jwks, mint_kid, other_keys};
use osa_testkit::{AUDIENCE, ISSUER, TestApp, dev_keys};
use serde_json::{Value, json};

/// Stand-ins on routes of the route table (whose access the layers enforce): an
/// open route, an open one that sets its own caching, one that needs
/// `osa:read`, and the webhook.
fn routes(services: &Services) -> Router {
    async fn secure(Verified(caller): Verified) -> Json<Value> {
        Json(json!({ "subject": caller.subject }))
    }
    let router = Router::new()
        .route(
            routes::HEALTH.path,
            get(|| async { Json(json!({ "ok": true })) }),
        )
        .route(
            routes::DASHBOARD_FILE.path,
            get(|| async { ([(header::CACHE_CONTROL, "max-age=60")], "cached") }),
        )
        .route(routes::WORKFLOW.path, get(secure))
        .route(
            routes::WEBHOOK.path,
            axum::routing::post(|| async { Json(json!({ "ok": true })) }),
        )
        .with_state(services.clone());
    guarded(router, services)
}

const PING: &str = "/api/health/ping";
const CACHED: &str = "/dashboard/app.css";
const SECURE: &str = "/api/strategy/workflows/w1";

fn edge_app(services: &Services, edge: EdgeConfig) -> Router {
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
    headers
        .iter()
        .fold(osa_testkit::request(method, path), |r, (name, value)| {
            r.header(name, value)
        })
        .empty()
}

async fn send(app: &Router, request: Request) -> (StatusCode, HeaderMap, Value) {
    let reply = osa_testkit::call(app.clone(), request).await;
    let json = reply.json();
    (reply.status, reply.headers, json)
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
    let app = edge_app(&t.services, EdgeConfig::default());
    for (method, path, status) in [
        (Method::GET, PING, StatusCode::OK),
        (Method::GET, "/api/nowhere", StatusCode::NOT_FOUND),
        (Method::DELETE, PING, StatusCode::METHOD_NOT_ALLOWED),
        (Method::GET, SECURE, StatusCode::UNAUTHORIZED),
    ] {
        let (got, headers, _) = send(&app, request(method, path, &[])).await;
        assert_eq!(got, status, "{path}");
        assert_secure(&headers);
        assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    }
    // A handler's own Cache-Control stands.
    let (_, headers, _) = send(&app, request(Method::GET, CACHED, &[])).await;
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
    let app = edge_app(&t.services, edge);
    let allow = header::ACCESS_CONTROL_ALLOW_ORIGIN;

    let (status, headers, _) = send(
        &app,
        request(Method::GET, PING, &[("origin", "https://app.example.com")]),
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
        request(Method::GET, PING, &[("origin", "https://evil.example.com")]),
    )
    .await;
    assert!(headers.get(&allow).is_none());

    // A preflight from the listed origin.
    let (status, headers, _) = send(
        &app,
        request(
            Method::OPTIONS,
            SECURE,
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
    let closed = edge_app(&t.services, EdgeConfig::default());
    let (_, headers, _) = send(
        &closed,
        request(Method::GET, PING, &[("origin", "https://app.example.com")]),
    )
    .await;
    assert!(headers.get(&allow).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_limit_gets_429_while_another_is_served() {
    let t = TestApp::new();
    // One a second sustained, three at once; the test clock stands still.
    let app = edge_app(&t.services, limited(60, 3));
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
            let r = request(Method::GET, SECURE, &[("authorization", &auth)]);
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
    let get_a = || request(Method::GET, SECURE, &[("authorization", &auth_a)]);
    assert_eq!(send(&app, get_a()).await.0, StatusCode::OK);
    assert_eq!(send(&app, get_a()).await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_webhook_sender_gets_a_larger_allowance_of_its_own() {
    let t = TestApp::new();
    let app = edge_app(&t.services, limited(60, 2));
    let from = |method: Method, path: &'static str| {
        request(method, path, &[("x-forwarded-for", "198.51.100.9")])
    };
    let webhook = osa_http::rate_limit::WEBHOOK_PATH;
    // Two ordinary requests, then the address is limited there...
    assert_eq!(send(&app, from(Method::GET, PING)).await.0, StatusCode::OK);
    assert_eq!(send(&app, from(Method::GET, PING)).await.0, StatusCode::OK);
    assert_eq!(
        send(&app, from(Method::GET, PING)).await.0,
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
    let refused = request(
        Method::POST,
        webhook,
        &[
            ("x-forwarded-for", "198.51.100.9"),
            ("x-correlation-id", "refused-hook-1"),
            ("content-length", "0"),
        ],
    );
    assert_eq!(send(&app, refused).await.0, StatusCode::TOO_MANY_REQUESTS);
    // The refused webhook is in the audit trail like any other attempt.
    let today = osa_app::ports::Clock::now(t.clock.as_ref()).date();
    let audit = t
        .services
        .audit
        .unattributed_audit_page(today, None, 100)
        .await
        .unwrap();
    let refused: Vec<_> = audit
        .items
        .iter()
        .filter(|e| e.correlation_id.as_deref() == Some("refused-hook-1"))
        .collect();
    assert_eq!(refused.len(), 1, "{:?}", audit.items);
    assert_eq!(refused[0].reason, "rate_limited");
    assert_eq!(refused[0].http_status, 429);
}

#[tokio::test]
async fn a_token_that_does_not_verify_counts_against_its_address() {
    let t = TestApp::new();
    let app = edge_app(&t.services, limited(60, 2));
    // Signed by a stranger's key, claiming client-a's subject.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let forged = other_keys()
        .mint(ISSUER, AUDIENCE, "client-a", &[scopes::ADMIN], now, 3600)
        .unwrap();
    let forged = format!("Bearer {forged}");
    let from = |ip: &'static str, auth: &str| {
        request(
            Method::GET,
            PING,
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
    let anonymous = request(Method::GET, PING, &[("x-forwarded-for", "198.51.100.1")]);
    assert_eq!(send(&app, anonymous).await.0, StatusCode::OK);
}

#[tokio::test]
async fn rate_limiting_can_be_turned_off() {
    let t = TestApp::new();
    let app = edge_app(&t.services, EdgeConfig::default());
    for _ in 0..200 {
        assert_eq!(
            send(&app, request(Method::GET, PING, &[])).await.0,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn a_key_rotated_into_the_jwks_file_reaches_the_handlers_without_a_restart() {
    let t = TestApp::new();
    let file = JwksFile::new(&jwks(&[jwk(dev_keys(), "k1")]));
    let mut services = t.services.clone();
    services.tokens = Arc::new(
        JwtVerifier::from_jwks_file(&file.0, ISSUER, AUDIENCE)
            .unwrap()
            .with_clock(t.clock.clone()),
    );
    let app = edge_app(&services, EdgeConfig::default());
    let get = |token: &str| {
        let auth = format!("Bearer {token}");
        request(Method::GET, SECURE, &[("authorization", &auth)])
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
