//! The status function serves the operator dashboard: the page and its assets
//! without a token, the API behind it still with one.

use axum::http::{StatusCode, header};
use osa_http::dashboard::page_csp;
use osa_testkit::{TestApp, call, request};

async fn get(app: &TestApp, path: &str) -> osa_testkit::Reply {
    call(
        status_api::app(app.services.clone()),
        request("GET", path).empty(),
    )
    .await
}

#[tokio::test]
async fn the_dashboard_is_served_without_a_token_and_the_api_still_needs_one() {
    let app = TestApp::new();
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.content_type(), "text/html; charset=utf-8");
    // The edge layers keep the page's own policy and caching, and add the rest.
    assert_eq!(
        page.headers.get(header::CONTENT_SECURITY_POLICY).unwrap(),
        page_csp(None).as_str()
    );
    assert_eq!(page.headers.get(header::CACHE_CONTROL).unwrap(), "no-cache");
    assert_eq!(page.headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
    assert!(page.headers.contains_key("x-correlation-id"));
    let html = page.text();
    let script = html
        .split('"')
        .find(|part| part.starts_with("/dashboard/app.js?v="))
        .expect("the page loads its script");
    let script = get(&app, script).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.text().contains("/api/strategy/intake"));

    let api = get(&app, "/api/admin/osa/recent-status").await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
}
