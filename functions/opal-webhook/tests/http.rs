//! The webhook function driven through its router.

use axum::http::StatusCode;
use osa_app::ports::AuditOutcome;
use osa_testkit::{TestApp, call, request};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::time::Duration;

fn agent_data() -> Value {
    json!({
        "hero": {"title": "Audience map", "promise": "Three segments worth a test this quarter",
                 "metrics": [{"label": "Segments", "value": "3"}, {"label": "Reach", "value": "41%"}, {"label": "Overlap", "value": "12%"}],
                 "confidence": 74},
        "overview": {"summary": "Loyal buyers respond to early access; reach them at 415-555-0172.", "keyPoints": ["Loyalty", "Early access"]},
        "insights": [{"title": "Loyal buyers", "description": "Repeat buyers open launch mails", "bullets": ["2x opens"]}],
        "opportunities": [{"label": "Early-access segment", "impactLevel": "High", "effortLevel": "Low", "confidence": 70}],
        "nextSteps": [{"label": "Build segment"}, {"label": "Launch test"}],
        "meta": {"tier": "strategy", "agents": ["audience_suggester"], "maturity": "walk", "lastUpdated": "2026-11-25T09:00:00Z"}
    })
}

async fn workflow(app: &TestApp) -> String {
    app.start_workflow().await
}

async fn send(app: &TestApp, signature: Option<String>, bytes: Vec<u8>) -> (StatusCode, Value) {
    let mut req =
        request("POST", osa_http::routes::WEBHOOK.path).header("content-type", "application/json");
    if let Some(sig) = &signature {
        req = req.header("x-osa-signature", sig);
    }
    let reply = call(opal_webhook::app(app.services.clone()), req.body(bytes)).await;
    (reply.status, reply.json())
}

async fn signed(app: &TestApp, value: &Value) -> (StatusCode, Value) {
    let bytes = serde_json::to_vec(value).unwrap();
    send(app, Some(app.sign(&bytes)), bytes).await
}

#[tokio::test]
async fn an_event_is_accepted_once_and_its_pii_redacted() {
    let app = TestApp::new();
    let id = workflow(&app).await;
    let event = json!({"workflow_id": id, "agent_id": "audience_suggester", "execution_status": "success",
                       "agent_data": agent_data(), "offset": 0});
    let (status, reply) = signed(&app, &event).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(reply["duplicate"], false);
    assert_eq!(reply["agent_status"], "completed");
    let (status, dup) = signed(&app, &event).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dup["duplicate"], true);
    assert_eq!(dup["event_id"], reply["event_id"]);

    let results = app.services.store.get_results(&id).await.unwrap();
    assert_eq!(results.len(), 1);
    let summary = results[0].agent_data["overview"]["summary"]
        .as_str()
        .unwrap();
    assert!(!summary.contains("415-555-0172"), "{summary}");
    let audit = app
        .services
        .audit
        .audit_for_workflow(&id, 10)
        .await
        .unwrap();
    let outcomes: Vec<AuditOutcome> = audit.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        vec![AuditOutcome::Accepted, AuditOutcome::Duplicate]
    );
}

#[tokio::test]
async fn signatures_are_checked_before_anything_else() {
    let app = TestApp::new();
    let id = workflow(&app).await;
    let bytes = serde_json::to_vec(
        &json!({"workflow_id": id, "agent_id": "geo_audit", "execution_status": "started"}),
    )
    .unwrap();
    let (status, err) = send(&app, None, bytes.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(err["error"]["code"], "signature_missing");
    let mut tampered = bytes.clone();
    tampered[2] ^= 1;
    assert_eq!(
        send(&app, Some(app.sign(&bytes)), tampered).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A signature from six minutes ago is refused; from four minutes ago it is fine.
    let old = app.sign(&bytes);
    app.clock.advance(Duration::from_secs(360));
    let (status, err) = send(&app, Some(old), bytes.clone()).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("signature_expired"))
    );
    let recent = app.sign(&bytes);
    app.clock.advance(Duration::from_secs(240));
    assert_eq!(
        send(&app, Some(recent), bytes).await.0,
        StatusCode::ACCEPTED
    );
    let reasons: Vec<String> = app
        .services
        .audit
        .audit_for_workflow(&id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.reason)
        .collect();
    assert_eq!(
        reasons,
        vec![
            "signature_missing",
            "signature_mismatch",
            "signature_expired",
            "accepted"
        ]
    );
}

#[tokio::test]
async fn unknown_workflows_invalid_events_and_huge_bodies_are_refused() {
    let app = TestApp::new();
    let id = workflow(&app).await;
    let unknown = json!({"workflow_id": "no-such-workflow", "agent_id": "geo_audit", "execution_status": "started"});
    assert_eq!(signed(&app, &unknown).await.0, StatusCode::NOT_FOUND);
    let (status, err) = signed(
        &app,
        &json!({"workflow_id": id, "agent_id": "geo_audit", "execution_status": "completed"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["details"][0]["path"], "agent_data");
    let mut data = agent_data();
    data["hero"]["metrics"] = json!([]);
    let (status, err) = signed(&app, &json!({"workflow_id": id, "agent_id": "geo_audit", "execution_status": "completed", "agent_data": data})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        err["error"]["details"][0]["path"],
        "agent_data.hero.metrics"
    );
    let huge = vec![b' '; osa_app::config::MAX_BODY_BYTES + 1];
    let (status, err) = send(&app, Some(app.sign(&huge)), huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(err["error"]["code"], "body_too_large");
    // Nothing moved.
    let agents = app.services.store.get_agents(&id).await.unwrap();
    assert!(agents.iter().all(|a| a.status.as_str() == "pending"));
}

#[tokio::test]
async fn nine_results_complete_the_workflow() {
    let app = TestApp::new();
    let id = workflow(&app).await;
    for (i, agent) in osa_domain::AgentId::ALL.iter().enumerate() {
        let status = if i == 8 { "failed" } else { "completed" };
        let mut event = json!({"workflow_id": id, "agent_id": agent.as_str(), "execution_status": status,
                               "execution_id": format!("x-{i}")});
        if status == "completed" {
            event["agent_data"] = agent_data();
        }
        assert_eq!(signed(&app, &event).await.0, StatusCode::ACCEPTED);
    }
    let w = app.services.store.get_workflow(&id).await.unwrap().unwrap();
    assert_eq!(w.status().as_str(), "partial");
    // Subscribers heard about the creation, nine agents and the finish, once each.
    let kinds: Vec<&str> = app.bus.recent().iter().map(|e| e.detail_type()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "WorkflowCreated").count(), 1);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "AgentResultAccepted")
            .count(),
        9
    );
    assert_eq!(kinds.last(), Some(&"WorkflowFinished"));
    assert_eq!(w.progress_percent(), 100);
    assert_eq!(app.services.store.get_results(&id).await.unwrap().len(), 8);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Correctly signed garbage reaches the parser and is still only ever a 4xx.
    #[test]
    fn signed_arbitrary_bytes_always_get_a_4xx(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let app = TestApp::new();
        let (status, reply) = rt.block_on(send(&app, Some(app.sign(&bytes)), bytes.clone()));
        prop_assert!(status.is_client_error(), "{status} {reply}");
        let (status, _) = rt.block_on(send(&app, None, bytes));
        prop_assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn signed_near_miss_events_always_get_a_4xx(
        workflow_id in prop_oneof![Just(json!("wf")), Just(json!(null)), Just(json!(7)), ".{0,5}".prop_map(Value::from)],
        agent_id in prop_oneof![Just(json!("geo_audit")), Just(json!("GEO_AUDIT")), Just(json!([])), ".{0,5}".prop_map(Value::from)],
        status in prop_oneof![Just(json!("completed")), Just(json!("success")), Just(json!("nope")), Just(json!(1))],
        offset in prop_oneof![Just(json!(-1)), Just(json!(0)), Just(json!("1")), Just(json!(1.5))],
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let app = TestApp::new();
        let body = serde_json::to_vec(&json!({"workflow_id": workflow_id, "agent_id": agent_id,
                                             "execution_status": status, "offset": offset})).unwrap();
        let (code, reply) = rt.block_on(send(&app, Some(app.sign(&body)), body));
        prop_assert!(code.is_client_error(), "{code} {reply}");
    }
}

/// The webhook takes no bearer token: even an admin token without a signature
/// is refused with the JSON 401 of a missing signature.
#[tokio::test]
async fn a_bearer_token_is_no_substitute_for_the_signature() {
    let app = TestApp::new();
    let id = workflow(&app).await;
    let bytes = serde_json::to_vec(
        &json!({"workflow_id": id, "agent_id": "geo_audit", "execution_status": "started"}),
    )
    .unwrap();
    let req = request("POST", osa_http::routes::WEBHOOK.path)
        .header("content-type", "application/json")
        .bearer(app.admin_token().as_str())
        .body(bytes);
    let reply = call(opal_webhook::app(app.services.clone()), req).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.headers["x-content-type-options"], "nosniff");
    let err: Value = serde_json::from_slice(&reply.body).expect("a JSON error");
    assert_eq!(err["success"], false);
    assert_eq!(err["error"]["code"], "signature_missing");
}
