//! Recovery over HTTP: a window's dead letters redriven, a workflow's and a
//! window's outbox items relayed again with their ids; both audited, admin
//! only, and a bad window is a 422.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use osa_app::config::NotifyConfig;
use osa_app::ports::{Clock, OutboundError};
use osa_domain::access::scopes;
use osa_domain::notification::TargetPolicy;
use osa_domain::{AgentId, Secret};
use osa_testkit::TestApp;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

async fn post(app: &TestApp, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    let req = osa_testkit::request(Method::POST, path)
        .bearer(token)
        .json(body);
    let reply = osa_testkit::call(status_api::app(app.services.clone()), req).await;
    (reply.status, reply.json())
}

fn at(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("formats")
}

/// A workflow whose OPAL trigger is dead-lettered now; its workflow id.
async fn dead_lettered(app: &TestApp) -> String {
    app.http
        .respond_with(Err(OutboundError::Connect("connection refused".into())));
    let id = app.start_workflow().await;
    app.advance_running_jobs(Duration::from_secs(40), Duration::from_millis(500))
        .await;
    id
}

async fn dead_letter_count(app: &TestApp) -> usize {
    app.services
        .deliveries
        .dead_lettered(100)
        .await
        .expect("listed")
        .len()
}

async fn audited(app: &TestApp, action: &str) -> Vec<Value> {
    let req = osa_testkit::request(Method::GET, "/api/admin/audit")
        .bearer(app.admin_token().as_str())
        .empty();
    let reply = osa_testkit::call(status_api::app(app.services.clone()), req).await;
    let body = reply.json();
    body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == action)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_window_of_dead_letters_is_recovered_and_nothing_outside_it() {
    let app = TestApp::new();
    let admin = app.token(&[scopes::ADMIN]);
    dead_lettered(&app).await;
    app.clock.advance(Duration::from_secs(3600));
    let since = app.clock.now();
    dead_lettered(&app).await;
    dead_lettered(&app).await;
    let until = app.clock.now();
    assert_eq!(dead_letter_count(&app).await, 3);

    // Another kind in the window: nothing to recover.
    let (status, none) = post(
        &app,
        "/api/admin/deliveries/recover",
        &admin,
        &json!({"since": at(since), "until": at(until), "kind": "result_notification"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{none}");
    assert_eq!(none["recovered"], 0);

    app.http.respond_with(Ok(202));
    let (status, body) = post(
        &app,
        "/api/admin/deliveries/recover",
        &admin,
        &json!({"since": at(since), "until": at(until), "kind": "opal_trigger"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["recovered"], 2, "{body}");
    assert_eq!(body["more"], false);
    assert_eq!(body["delivery_ids"].as_array().map(Vec::len), Some(2));
    app.run_due_jobs().await;
    assert_eq!(
        dead_letter_count(&app).await,
        1,
        "the one dead-lettered before the window stays"
    );

    let entries = audited(&app, "deliveries_recovered").await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(
        entries
            .iter()
            .any(|e| e["outcome"] == "succeeded: 2 recovered"),
        "{entries:?}"
    );
}

const HOOK: &str = "https://hooks.example.com/osa-done";

/// An app whose finished workflows notify (signed with a test secret).
fn notifying_app() -> TestApp {
    let mut app = TestApp::new();
    let mut config = (*app.services.config).clone();
    config.notify = NotifyConfig {
        signing_secret: Some(Secret::new("notify-secret-for-tests")),
        targets: TargetPolicy::Public,
    };
    app.services.config = Arc::new(config);
    app
}

fn notifications(app: &TestApp) -> usize {
    app.http.sent().iter().filter(|r| r.url == HOOK).count()
}

#[tokio::test]
async fn a_workflows_events_are_replayed_with_their_ids() {
    let app = notifying_app();
    let admin = app.token(&[scopes::ADMIN]);
    app.http.respond_with(Ok(202));
    let since = app.clock.now();
    let id = app
        .start_workflow_with(|intake| intake["notify_url"] = Value::from(HOOK))
        .await
        .id()
        .to_owned();
    app.run_due_jobs().await;
    for agent in AgentId::ALL {
        app.clock.advance(Duration::from_millis(10));
        app.send_agent_event(&id, agent, "completed").await;
    }
    let until = app.clock.now();
    let items = app
        .services
        .outbox
        .workflow_outbox(&id)
        .await
        .expect("its outbox");
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
    assert!(ids.len() >= 11, "created, nine agents, finished: {ids:?}");
    app.run_due_jobs().await;
    assert_eq!(notifications(&app), 1, "the finish notified");
    let published_before = app.bus.recent_items().len();

    let (status, body) = post(
        &app,
        "/api/admin/events/replay",
        &admin,
        &json!({"workflow_id": id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["replayed"], ids.len());
    assert_eq!(body["item_ids"], json!(ids));
    let republished: Vec<String> = app.bus.recent_items()[published_before..]
        .iter()
        .map(|i| i.id.clone())
        .collect();
    assert_eq!(republished, ids, "published again, ids unchanged");
    // The result notification's delivery id is derived from the finish's
    // item: the replay creates no second one.
    app.run_due_jobs().await;
    assert_eq!(notifications(&app), 1, "not notified again");

    // By window: the same items.
    let (status, body) = post(
        &app,
        "/api/admin/events/replay",
        &admin,
        &json!({"since": at(since), "until": at(until)}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["item_ids"], json!(ids));
    assert_eq!(audited(&app, "events_replayed").await.len(), 2);
}

#[tokio::test]
async fn bad_requests_are_refused_clearly() {
    let app = TestApp::new();
    let admin = app.token(&[scopes::ADMIN]);
    let now = app.clock.now();
    let earlier = now - time::Duration::hours(1);
    for (path, body, field) in [
        (
            "/api/admin/deliveries/recover",
            json!({"since": at(now), "until": at(earlier)}),
            "until",
        ),
        (
            "/api/admin/events/replay",
            json!({"workflow_id": "w", "since": at(earlier), "until": at(now)}),
            "workflow_id",
        ),
        (
            "/api/admin/events/replay",
            json!({"since": at(now - time::Duration::days(40)), "until": at(now)}),
            "until",
        ),
        ("/api/admin/events/replay", json!({}), "since"),
    ] {
        let (status, reply) = post(&app, path, &admin, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {reply}");
        assert_eq!(reply["error"]["details"][0]["path"], field, "{reply}");
    }
    let (status, reply) = post(
        &app,
        "/api/admin/events/replay",
        &admin,
        &json!({"workflow_id": "no-such-workflow"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{reply}");

    let reader = app.token(&[scopes::READ]);
    let (status, _) = post(
        &app,
        "/api/admin/events/replay",
        &reader,
        &json!({"workflow_id": "w"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
