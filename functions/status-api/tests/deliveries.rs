//! The dead-letter routes: list, show, redrive one, redrive all; admin only.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use osa_app::ports::OutboundError;
use osa_domain::access::scopes;
use osa_testkit::TestApp;
use serde_json::Value;

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let req = osa_testkit::request(method, path).bearer(token).empty();
    let reply = osa_testkit::call(status_api::app(app.services.clone()), req).await;
    (reply.status, reply.json())
}

/// A workflow whose OPAL trigger was dead-lettered; its workflow id.
async fn dead_lettered(app: &TestApp) -> String {
    app.http
        .respond_with(Err(OutboundError::Connect("connection refused".into())));
    let id = app.start_workflow().await;
    app.advance_running_jobs(Duration::from_secs(40), Duration::from_millis(500))
        .await;
    id
}

#[tokio::test]
async fn an_operator_lists_shows_and_redrives_dead_letters() {
    let app = TestApp::new();
    let workflow_id = dead_lettered(&app).await;
    let admin = app.token(&[scopes::ADMIN]);

    let (status, list) = call(
        &app,
        Method::GET,
        "/api/admin/deliveries/dead-letter",
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["success"], true);
    assert_eq!(list["count"], 1);
    let entry = &list["deliveries"][0];
    assert_eq!(entry["kind"], "opal_trigger");
    assert_eq!(entry["workflow_id"], workflow_id.as_str());
    assert_eq!(entry["attempts"], 5);
    assert_eq!(
        entry["reason"],
        "5 attempts failed; last: could not connect: connection refused"
    );
    let id = entry["id"].as_str().expect("an id").to_owned();

    let (status, shown) = call(
        &app,
        Method::GET,
        &format!("/api/admin/deliveries/{id}"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    let history = shown["delivery"]["history"].as_array().expect("history");
    assert_eq!(history.len(), 5);
    assert_eq!(history[0]["number"], 1);
    assert_eq!(history[0]["error"], "could not connect: connection refused");
    assert!(history[0]["next_attempt_at"].is_string());
    assert_eq!(
        shown["delivery"]["payload"]["workflow_name"],
        "strategy_workflow"
    );
    assert_eq!(shown["delivery"]["auth"]["secret"], "opal_api_key");
    assert!(
        !shown.to_string().contains("opal-test-key"),
        "never the key"
    );

    // The workflow's status says why it did not start.
    let (_, view) = call(
        &app,
        Method::GET,
        &format!("/api/strategy/workflows/{workflow_id}"),
        Some(&admin),
    )
    .await;
    assert_eq!(view["status"], "failed");
    assert_eq!(view["trigger"]["dead_lettered_delivery_id"], id.as_str());
    assert!(
        view["trigger"]["last_error"]
            .as_str()
            .is_some_and(|e| e.starts_with("failed to start")),
        "{view}"
    );

    app.http.respond_with(Ok(202));
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/api/admin/deliveries/{id}/redrive"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["run"], 1);
    let (status, again) = call(
        &app,
        Method::POST,
        &format!("/api/admin/deliveries/{id}/redrive"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["code"], "not_dead_lettered");
    app.run_due_jobs().await;

    let (_, list) = call(
        &app,
        Method::GET,
        "/api/admin/deliveries/dead-letter",
        Some(&admin),
    )
    .await;
    assert_eq!(list["count"], 0);
    let (_, view) = call(
        &app,
        Method::GET,
        &format!("/api/strategy/workflows/{workflow_id}"),
        Some(&admin),
    )
    .await;
    assert_eq!(view["status"], "running");
    let (_, shown) = call(
        &app,
        Method::GET,
        &format!("/api/admin/deliveries/{id}"),
        Some(&admin),
    )
    .await;
    assert_eq!(shown["delivery"]["status"]["state"], "delivered");
    assert_eq!(
        shown["delivery"]["history"].as_array().map(Vec::len),
        Some(6)
    );
}

#[tokio::test]
async fn redrive_all_redrives_every_dead_letter() {
    let app = TestApp::new();
    dead_lettered(&app).await;
    dead_lettered(&app).await;
    let admin = app.token(&[scopes::ADMIN]);
    app.http.respond_with(Ok(200));
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/admin/deliveries/dead-letter/redrive",
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["redriven"], 2);
    app.run_due_jobs().await;
    let (_, list) = call(
        &app,
        Method::GET,
        "/api/admin/deliveries/dead-letter",
        Some(&admin),
    )
    .await;
    assert_eq!(list["count"], 0);
}

#[tokio::test]
async fn unknown_deliveries_are_404_and_non_admins_are_refused() {
    let app = TestApp::new();
    let admin = app.token(&[scopes::ADMIN]);
    let unknown = uuid::Uuid::new_v4();
    for (method, path) in [
        (Method::GET, format!("/api/admin/deliveries/{unknown}")),
        (
            Method::POST,
            format!("/api/admin/deliveries/{unknown}/redrive"),
        ),
        (Method::GET, "/api/admin/deliveries/not-a-uuid".to_owned()),
        (
            Method::POST,
            "/api/admin/deliveries/not-a-uuid/redrive".to_owned(),
        ),
    ] {
        let (status, err) = call(&app, method.clone(), &path, Some(&admin)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {err}");
        assert_eq!(err["success"], false);
        assert_eq!(err["error"]["code"], "not_found");
    }
    let routes = [
        (Method::GET, "/api/admin/deliveries/dead-letter".to_owned()),
        (
            Method::POST,
            "/api/admin/deliveries/dead-letter/redrive".to_owned(),
        ),
        (Method::GET, format!("/api/admin/deliveries/{unknown}")),
        (
            Method::POST,
            format!("/api/admin/deliveries/{unknown}/redrive"),
        ),
    ];
    let not_admin = app.token(&[scopes::INTAKE, scopes::READ]);
    for (method, path) in &routes {
        let (status, err) = call(&app, method.clone(), path, Some(&not_admin)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(err["error"]["code"], "insufficient_scope");
        let (status, _) = call(&app, method.clone(), path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let (status, _) = call(
        &app,
        Method::GET,
        "/api/admin/deliveries/dead-letter?limit=abc",
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
