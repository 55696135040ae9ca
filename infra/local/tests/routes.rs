//! The route table against the routers the functions serve: every route in the
//! table is served by its function (no 404 or 405 from routing), and a route
//! behind a scope refuses a request without a token with 401 before its
//! handler runs.

use axum::http::StatusCode;
use osa_http::routes::{Access, Function, ROUTES};
use osa_testkit::{TestApp, call, request};

fn router_of(app: &TestApp, function: Function) -> axum::Router {
    let services = app.services.clone();
    match function {
        Function::Intake => intake::app(services),
        Function::OpalWebhook => opal_webhook::app(services),
        Function::StatusApi => status_api::app(services),
        Function::Stream => stream::app(services),
    }
}

/// A concrete path for a route template.
fn concrete(template: &str) -> String {
    template
        .replace("{id}", "00000000-0000-4000-8000-000000000000")
        .replace("{service}", "database")
        .replace("{file}", "style.css")
}

#[tokio::test]
async fn every_route_in_the_table_is_served_by_its_function_behind_its_access() {
    let app = TestApp::new();
    for route in ROUTES {
        let request = request(route.method.clone(), &concrete(route.path))
            .header("content-type", "application/json")
            .body("{}");
        let reply = call(router_of(&app, route.function), request).await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {}",
            route.method,
            route.path
        );
        assert!(
            !(reply.status == StatusCode::NOT_FOUND
                && reply.json()["error"]["message"] == "no such route"),
            "{} {} is not routed by {:?}",
            route.method,
            route.path,
            route.function
        );
        assert_ne!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{} {}: {}",
            route.method,
            route.path,
            reply.text()
        );
        if let Access::Scope(_) = route.access {
            assert_eq!(
                reply.status,
                StatusCode::UNAUTHORIZED,
                "{} {} without a token",
                route.method,
                route.path
            );
        }
    }
}
