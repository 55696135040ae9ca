//! The status API driven through its router.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use osa_shared::app::intake::submit;
use osa_shared::app::webhook::{WebhookRequest, ingest};
use osa_shared::auth::scopes;
use osa_shared::testkit::TestApp;
use serde_json::{Value, json};
use std::time::Duration;
use tower::ServiceExt;

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let response = status_api::app(app.services.clone())
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn new_workflow(app: &TestApp) -> String {
    let intake = json!({
        "business_context": {"company_name": "Acme", "industry": "media", "goals": ["Grow"],
                             "target_audience": "Readers of long-form journalism"},
        "optimizely_config": {"project_id": "42", "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
        "analysis_preferences": {"analysis_depth": "comprehensive", "focus_areas": ["content", "audiences"], "timeline": "60d"}
    });
    submit(&app.services, intake.to_string().as_bytes(), "corr-status")
        .await
        .unwrap()
        .workflow
        .id
}

async fn started(app: &TestApp, id: &str, agent: &str) {
    let body = serde_json::to_vec(
        &json!({"workflow_id": id, "agent_id": agent, "execution_status": "started"}),
    )
    .unwrap();
    let sig = app.sign(&body);
    ingest(
        &app.services,
        WebhookRequest {
            signature: Some(&sig),
            correlation_id: None,
            body: &body,
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_workflow_shows_its_agents_progress_and_deadlines() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    started(&app, &id, "geo_audit").await;
    let (status, view) = get(
        &app,
        &format!("/api/strategy/workflows/{id}"),
        Some(&app.token(&[scopes::READ])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["success"], true);
    assert_eq!(view["workflow_id"], id.as_str());
    assert_eq!(view["correlation_id"], "corr-status");
    assert_eq!(view["status"], "running");
    assert_eq!(view["progress"]["running"], 1);
    assert_eq!(view["progress"]["pending"], 8);
    assert_eq!(view["progress_percent"], 5);
    let agents = view["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 9);
    assert_eq!(agents[0]["agent"], "integration_health");
    assert_eq!(agents[0]["max_duration_secs"], 60);
    assert!(agents[0]["deadline_at"].is_string());
    assert_eq!(view["results"], json!([]));
    assert!(
        view.get("fingerprint").is_none(),
        "internal fields stay internal"
    );
}

#[tokio::test]
async fn unknown_workflows_and_missing_tokens_are_refused() {
    let app = TestApp::new();
    let token = app.admin_token();
    let (status, err) = get(&app, "/api/strategy/workflows/nope", Some(&token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"]["code"], "not_found");
    let long = "x".repeat(200);
    assert_eq!(
        get(
            &app,
            &format!("/api/strategy/workflows/{long}"),
            Some(&token)
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/api/strategy/workflows/nope", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let reader = app.token(&[scopes::READ]);
    assert_eq!(
        get(&app, "/api/admin/osa/recent-status", Some(&reader))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(
            &app,
            "/api/admin/webhook-events?workflow_id=x",
            Some(&reader)
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, "/api/admin/webhook-events", Some(&token)).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(
            &app,
            "/api/admin/webhook-events?workflow_id=x&limit=-3",
            Some(&token)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn recent_status_tracks_the_latest_workflow_and_goes_stale() {
    let app = TestApp::new();
    let token = app.admin_token();
    let (status, idle) = get(&app, "/api/admin/osa/recent-status", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        idle,
        json!({"lastWebhookAt": null, "lastAgentDataAt": null, "lastForceSyncAt": null,
                            "lastWorkflowStatus": "idle", "lastWorkflowId": null})
    );
    let id = new_workflow(&app).await;
    started(&app, &id, "content_review").await;
    let (_, running) = get(&app, "/api/admin/osa/recent-status", Some(&token)).await;
    assert_eq!(running["lastWorkflowStatus"], "running");
    assert_eq!(running["lastWorkflowId"], id.as_str());
    assert!(running["lastWebhookAt"].is_string());
    assert_eq!(running["lastAgentDataAt"], Value::Null);
    app.clock.advance(Duration::from_secs(31 * 60));
    let (_, stale) = get(&app, "/api/admin/osa/recent-status", Some(&token)).await;
    assert_eq!(
        stale["lastWorkflowStatus"], "failed",
        "a run older than 30 minutes counts as failed"
    );
}

#[tokio::test]
async fn the_audit_trail_lists_every_attempt() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    started(&app, &id, "geo_audit").await;
    let body = serde_json::to_vec(
        &json!({"workflow_id": id, "agent_id": "geo_audit", "execution_status": "started"}),
    )
    .unwrap();
    let _ = ingest(
        &app.services,
        WebhookRequest {
            signature: Some("t=1,v1=ab"),
            correlation_id: Some("c-9"),
            body: &body,
        },
    )
    .await;
    let (status, audit) = get(
        &app,
        &format!("/api/admin/webhook-events?workflow_id={id}"),
        Some(&app.admin_token()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["outcome"], "accepted");
    assert_eq!(events[1]["outcome"], "rejected");
    assert_eq!(events[1]["reason"], "signature_malformed");
    assert_eq!(events[1]["http_status"], 401);
    assert_eq!(events[1]["correlation_id"], "c-9");
    assert_eq!(events[1]["body_bytes"], body.len());
}
