//! The intake function driven through its router, as Lambda or `osa` would.

use axum::http::StatusCode;
use osa_app::jobs;
use osa_app::ports::{Job, OutboundError};
use osa_domain::access::scopes;
use osa_testkit::{TestApp, call, request};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::time::Duration;

fn body(id: &str) -> Value {
    json!({
        "workflow_id": id,
        "business_context": {
            "company_name": "Acme Outdoor", "industry": "retail",
            "goals": ["Grow repeat purchases"],
            "target_audience": "Outdoor enthusiasts; contact jane.doe@example.com for the brief"
        },
        "optimizely_config": {
            "project_id": "123456", "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "api_credentials": {"experimentation_key": "exp-secret-key-123"}
        },
        "analysis_preferences": {"analysis_depth": "basic", "focus_areas": ["content"], "timeline": "30d"}
    })
}

async fn send(
    app: &TestApp,
    token: Option<&str>,
    content_type: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let req = request("POST", osa_http::routes::INTAKE.path)
        .header("content-type", content_type)
        .bearer(token)
        .body(bytes);
    let reply = call(intake::app(app.services.clone()), req).await;
    (reply.status, reply.json())
}

async fn post(app: &TestApp, value: &Value) -> (StatusCode, Value) {
    send(
        app,
        Some(&app.admin_token()),
        "application/json",
        serde_json::to_vec(value).expect("json"),
    )
    .await
}

#[tokio::test]
async fn a_new_intake_creates_a_workflow_and_queues_the_trigger() {
    let app = TestApp::new();
    let id = uuid::Uuid::new_v4().to_string();
    let (status, reply) = post(&app, &body(&id)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(reply["workflow_id"], id.as_str());
    assert_eq!(
        reply["webhook_url"],
        "http://osa.test/api/webhooks/opal-workflow"
    );
    assert_eq!(
        reply["status_check_url"],
        format!("http://osa.test/api/strategy/workflows/{id}")
    );
    assert!(!reply.to_string().contains("exp-secret-key"));

    // Stored: nine pending agents with their deadlines; the e-mail was redacted.
    let stored = app.services.store.get_workflow(&id).await.unwrap().unwrap();
    assert!(
        !stored
            .business_context()
            .target_audience
            .contains("jane.doe")
    );
    assert!(
        stored
            .business_context()
            .target_audience
            .contains("[REDACTED:EMAIL]")
    );
    assert!(stored.optimizely().credentials_provided.experimentation);
    let agents = app.services.store.get_agents(&id).await.unwrap();
    assert_eq!(agents.len(), 9);
    assert_eq!(
        (agents[0].deadline_at - stored.created_at()).whole_seconds(),
        60
    );

    // The worker sends the trigger OPAL expects.
    let jobs = app
        .services
        .queue
        .receive(10, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    // The trigger is an outbound delivery the workflow names.
    let delivery_id = stored
        .trigger()
        .delivery_id
        .clone()
        .expect("a trigger delivery");
    assert_eq!(
        jobs[0].job,
        Job::Deliver {
            delivery_id: uuid::Uuid::parse_str(&delivery_id).unwrap(),
            run: 0,
            attempt: 1,
        }
    );
    jobs::run(&app.services, &jobs[0].job).await.unwrap();
    let sent = app.http.sent();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .headers
            .iter()
            .any(|(k, v)| k == "Authorization" && v == "Bearer opal-test-key")
    );
    assert!(
        sent[0]
            .headers
            .iter()
            .any(|(k, v)| k == "X-Webhook-ID" && *v == delivery_id)
    );
    let trigger: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(trigger["workflow_name"], "strategy_workflow");
    assert_eq!(trigger["input_data"]["workflow_id"], id.as_str());
    assert_eq!(
        trigger["metadata"]["correlation_id"],
        stored.correlation_id()
    );
    assert!(!String::from_utf8_lossy(&sent[0].body).contains("exp-secret-key"));
    let running = app.services.store.get_workflow(&id).await.unwrap().unwrap();
    assert_eq!(running.status().as_str(), "running");
    assert!(running.trigger().accepted_at.is_some());
    // Running the same job again sends nothing more.
    jobs::run(&app.services, &jobs[0].job).await.unwrap();
    assert_eq!(app.http.sent().len(), 1);
}

#[tokio::test]
async fn a_failing_trigger_is_retried_then_dead_lettered() {
    let app = TestApp::new();
    app.http
        .respond_with(Err(OutboundError::Connect("refused".into())));
    let id = uuid::Uuid::new_v4().to_string();
    assert_eq!(post(&app, &body(&id)).await.0, StatusCode::ACCEPTED);
    // Five attempts on the backoff schedule (1, 2, 4, 8 s plus jitter), then the
    // dead-letter queue; the workflow fails to start and says why.
    app.advance_running_jobs(Duration::from_secs(40), Duration::from_millis(250))
        .await;
    assert_eq!(app.http.sent().len(), 5);
    let failed = app.services.store.get_workflow(&id).await.unwrap().unwrap();
    assert_eq!(failed.status().as_str(), "failed");
    assert_eq!(failed.trigger().attempts, 5);
    assert!(
        failed
            .trigger()
            .last_error
            .as_deref()
            .unwrap()
            .contains("refused")
    );
    assert_eq!(
        failed.trigger().dead_lettered_delivery_id,
        failed.trigger().delivery_id
    );
}

#[tokio::test]
async fn resubmission_is_idempotent_and_a_different_body_conflicts() {
    let app = TestApp::new();
    let id = uuid::Uuid::new_v4().to_string();
    assert_eq!(post(&app, &body(&id)).await.0, StatusCode::ACCEPTED);
    let (status, again) = post(&app, &body(&id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["created"], false);
    let mut other = body(&id);
    other["analysis_preferences"]["timeline"] = json!("60d");
    let (status, conflict) = post(&app, &other).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(conflict["error"]["code"], "workflow_conflict");
}

#[tokio::test]
async fn auth_and_scopes_are_enforced() {
    let app = TestApp::new();
    let bytes = serde_json::to_vec(&body(&uuid::Uuid::new_v4().to_string())).unwrap();
    let (status, err) = send(&app, None, "application/json", bytes.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(err["error"]["code"], "unauthorized");
    let (status, _) = send(&app, Some("not-a-token"), "application/json", bytes.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let read_only = app.token(&[scopes::READ]);
    let (status, err) = send(&app, Some(&read_only), "application/json", bytes.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(err["error"]["code"], "insufficient_scope");
    let intake_only = app.token(&[scopes::INTAKE]);
    assert_eq!(
        send(&app, Some(&intake_only), "application/json", bytes)
            .await
            .0,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn malformed_bodies_get_precise_errors() {
    let app = TestApp::new();
    let token = app.admin_token();
    assert_eq!(
        send(&app, Some(&token), "application/json", b"{".to_vec())
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&app, Some(&token), "text/plain", b"{}".to_vec())
            .await
            .0,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let mut bad = body(&uuid::Uuid::new_v4().to_string());
    bad["business_context"]["company_name"] = json!("");
    bad["optimizely_config"]["project_id"] = json!("abc");
    let (status, err) = post(&app, &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let paths: Vec<&str> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        vec![
            "business_context.company_name",
            "optimizely_config.project_id"
        ]
    );
    let huge = vec![b'x'; osa_app::config::MAX_BODY_BYTES + 1];
    assert_eq!(
        send(&app, Some(&token), "application/json", huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::hash_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_and_json_always_get_a_4xx(bytes in prop::collection::vec(any::<u8>(), 0..512), value in arbitrary_json()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let app = TestApp::new();
        let token = app.admin_token();
        for payload in [bytes, serde_json::to_vec(&value).unwrap()] {
            let (status, reply) = rt.block_on(send(&app, Some(&token), "application/json", payload));
            prop_assert!(status.is_client_error(), "{status} {reply}");
            prop_assert_eq!(&reply["success"], &json!(false));
        }
    }
}

async fn sync(app: &TestApp, token: &str, body: &str) -> (StatusCode, Value) {
    let req = request("POST", osa_http::routes::FORCE_SYNC.path)
        .header("content-type", "application/json")
        .bearer(token)
        .body(body.to_owned());
    let reply = call(intake::app(app.services.clone()), req).await;
    (reply.status, reply.json())
}

#[tokio::test]
async fn force_sync_runs_once_at_a_time_and_refuses_bad_input() {
    let app = TestApp::new();
    let token = app.token(&[scopes::INTAKE]);
    let (status, err) = sync(&app, &token, "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no workflow yet: {err}");

    let id = "0b8f8b1e-8c1e-4a53-9d6e-0a0c39f7d001";
    assert_eq!(post(&app, &body(id)).await.0, StatusCode::ACCEPTED);
    let request = json!({"sync_scope": "all_agents", "include_rag_update": false,
                         "triggered_by": "ops", "client_context": {"workflow_id": id}})
    .to_string();
    let (status, first) = sync(&app, &token, &request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["workflow_id"], id);
    assert_eq!(first["state"], "in_flight");
    let (status, second) = sync(&app, &token, &request).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["already_in_flight"], true);
    assert_eq!(second["sync_id"], first["sync_id"]);

    let (status, err) = sync(&app, &token, r#"{"sync_scope": 5}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(sync(&app, &token, "{oops").await.0, StatusCode::BAD_REQUEST);
    let reader = app.token(&[scopes::READ]);
    assert_eq!(sync(&app, &reader, &request).await.0, StatusCode::FORBIDDEN);
}

/// Both intake routes need `osa:intake`: read-only and scope-less tokens get a
/// JSON 403 naming it, before the body is even read.
#[tokio::test]
async fn every_route_refuses_a_token_without_its_scope() {
    let app = TestApp::new();
    for path in [
        osa_http::routes::INTAKE.path,
        osa_http::routes::FORCE_SYNC.path,
    ] {
        for granted in [&[][..], &[scopes::READ][..]] {
            let req = request("POST", path)
                .header("content-type", "application/json")
                .bearer(app.token(granted).as_str())
                .body("{}");
            let reply = call(intake::app(app.services.clone()), req).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
            let err: Value = serde_json::from_slice(&reply.body).expect("a JSON error");
            assert_eq!(err["success"], false);
            assert_eq!(err["error"]["code"], "insufficient_scope", "{path}");
            assert!(
                err["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(scopes::INTAKE)),
                "{err}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Force Sync reads untrusted bytes too: whatever they are, a JSON 4xx.
    #[test]
    fn force_sync_answers_arbitrary_input_with_a_4xx(bytes in prop::collection::vec(any::<u8>(), 0..512), value in arbitrary_json()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let app = TestApp::new();
        let token = app.token(&[scopes::INTAKE]);
        for payload in [String::from_utf8_lossy(&bytes).into_owned(), value.to_string()] {
            let (status, reply) = rt.block_on(sync(&app, &token, &payload));
            prop_assert!(status.is_client_error(), "{status} {reply}");
            prop_assert_eq!(&reply["success"], &json!(false));
        }
    }
}

async fn post_credentials(
    app: &TestApp,
    token: Option<&str>,
    id: &str,
    bytes: &str,
) -> (StatusCode, Value) {
    let req = request("POST", &format!("/api/strategy/workflows/{id}/credentials"))
        .header("content-type", "application/json")
        .bearer(token)
        .body(bytes.to_owned());
    let reply = call(intake::app(app.services.clone()), req).await;
    (reply.status, reply.json())
}

#[tokio::test]
async fn refused_credentials_pause_and_posting_new_ones_resumes() {
    use osa_net::http::optimizely::OptimizelyService;
    let app = TestApp::new();
    app.optimizely
        .answer(OptimizelyService::Experimentation, Ok(401));
    let id = uuid::Uuid::new_v4().to_string();
    let (status, reply) = post(&app, &body(&id)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    assert_eq!(reply["status"], "credentials_invalid");
    assert_eq!(reply["credentials"]["valid"], false);
    assert_eq!(
        reply["credentials"]["refused"],
        json!([{"service": "experimentation", "status": 401}])
    );
    assert_eq!(
        reply["credentials"]["resume_url"],
        format!("http://osa.test/api/strategy/workflows/{id}/credentials")
    );
    assert!(!reply.to_string().contains("exp-secret-key-123"));

    let intake_only = app.token(&[scopes::INTAKE]);
    let read_only = app.token(&[scopes::READ]);
    let fresh = r#"{"api_credentials": {"experimentation_key": "exp-refreshed-key"}}"#;

    let (status, _) = post_credentials(&app, None, &id, fresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, reply) = post_credentials(&app, Some(&read_only), &id, fresh).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{reply}");
    let unknown = uuid::Uuid::new_v4().to_string();
    let (status, reply) = post_credentials(&app, Some(&intake_only), &unknown, fresh).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{reply}");
    let (status, reply) =
        post_credentials(&app, Some(&intake_only), &id, r#"{"api_credentials": {}}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert_eq!(reply["error"]["details"][0]["path"], "api_credentials");
    let (status, _) = post_credentials(&app, Some(&intake_only), &id, "{").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Still refused: 422 naming the service, never the key.
    let (status, reply) = post_credentials(&app, Some(&intake_only), &id, fresh).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    assert_eq!(reply["error"]["code"], "credentials_invalid");
    assert_eq!(
        reply["error"]["details"][0]["path"],
        "api_credentials.experimentation_key"
    );
    assert!(!reply.to_string().contains("exp-refreshed-key"));

    app.optimizely
        .answer(OptimizelyService::Experimentation, Ok(200));
    let (status, reply) = post_credentials(&app, Some(&intake_only), &id, fresh).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["status"], "pending");
    assert_eq!(reply["triggered"], true);
    let (status, reply) = post_credentials(&app, Some(&intake_only), &id, fresh).await;
    assert_eq!(status, StatusCode::CONFLICT, "{reply}");
    assert_eq!(reply["error"]["code"], "workflow_not_paused");
}
