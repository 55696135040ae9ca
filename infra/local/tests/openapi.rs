//! `docs/openapi.json` is the document the code builds (`osa openapi` writes it),
//! and `GET /api/openapi.json` serves that same document to anyone.

use axum::http::StatusCode;
use osa_http::openapi::document;
use osa_testkit::TestApp;

const COMMITTED: &str = include_str!("../../../docs/openapi.json");

#[test]
fn the_committed_document_is_the_one_the_code_builds() {
    let built = serde_json::to_string_pretty(&document()).expect("serialisable") + "\n";
    assert!(
        COMMITTED == built,
        "docs/openapi.json is stale: run `cargo run -q --bin osa -- openapi > docs/openapi.json`"
    );
}

#[tokio::test]
async fn the_document_is_served_without_a_token() {
    let app = TestApp::new();
    let request = osa_testkit::request("GET", "/api/openapi.json").empty();
    let reply = osa_testkit::call(status_api::app(app.services.clone()), request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "application/json");
    assert_eq!(reply.json(), document());
    assert_eq!(reply.json()["openapi"], "3.1.0");
}

const DASHBOARD_JS: &str = include_str!("../../../shared/http/src/dashboard/app.js");

/// The API paths the dashboard calls, with each interpolated segment as `*`.
fn dashboard_paths() -> Vec<String> {
    const WORKFLOW_PATH: &str = "${workflowPath(";
    let mut paths = Vec::new();
    let mut rest = DASHBOARD_JS;
    while let Some(at) = [rest.find("/api/"), rest.find(WORKFLOW_PATH)]
        .into_iter()
        .flatten()
        .min()
    {
        let (prefix, tail) = if rest[at..].starts_with(WORKFLOW_PATH) {
            let after = &rest[at..];
            let close = after.find(")}").map(|i| i + 2).unwrap_or(after.len());
            ("/api/strategy/workflows/*".to_owned(), &after[close..])
        } else {
            (String::new(), &rest[at..])
        };
        let end = tail.find(['\'', '`', '"', '?']).unwrap_or(tail.len());
        let path = prefix + &tail[..end];
        let path: Vec<&str> = path
            .split('/')
            .map(|s| if s.contains("${") { "*" } else { s })
            .collect();
        paths.push(path.join("/"));
        rest = &tail[end..];
    }
    paths
}

/// The dashboard calls only operations the document describes (its own
/// `workflowPath` helper included), so the document is the dashboard's API too.
#[test]
fn every_path_the_dashboard_calls_is_documented() {
    let doc = document();
    let documented: Vec<&String> = doc["paths"].as_object().expect("paths").keys().collect();
    let matches = |called: &str, template: &str| {
        let (a, b): (Vec<&str>, Vec<&str>) =
            (called.split('/').collect(), template.split('/').collect());
        a.len() == b.len()
            && a.iter()
                .zip(&b)
                .all(|(x, y)| x == y || *x == "*" || y.starts_with('{'))
    };
    let called = dashboard_paths();
    for path in [
        "/api/strategy/intake",
        "/api/strategy/workflows/*/stream",
        "/api/strategy/workflows/*/report",
        "/api/admin/deliveries/*/redrive",
    ] {
        assert!(
            called.iter().any(|c| c == path),
            "the scan finds {path}: {called:?}"
        );
    }
    for path in &called {
        assert!(
            documented.iter().any(|t| matches(path, t)),
            "the dashboard calls {path}, which docs/openapi.json does not describe"
        );
    }
}
