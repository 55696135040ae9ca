//! The status API driven through its router.

use axum::http::StatusCode;
use osa_app::webhook::{WebhookRequest, ingest};
use osa_domain::access::scopes;
use osa_testkit::{TestApp, call, request};
use serde_json::{Value, json};
use std::time::Duration;

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let req = request("GET", path).bearer(token).empty();
    let reply = call(status_api::app(app.services.clone()), req).await;
    (reply.status, reply.json())
}

async fn new_workflow(app: &TestApp) -> String {
    app.start_workflow_with(|intake| {
        intake["business_context"]["industry"] = "media".into();
        intake["analysis_preferences"]["analysis_depth"] = "comprehensive".into();
        intake["analysis_preferences"]["focus_areas"] = serde_json::json!(["content", "audiences"]);
        intake["analysis_preferences"]["timeline"] = "60d".into();
    })
    .await
    .id()
    .to_owned()
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
            signatures: osa_domain::webhook_signature::Signatures::osa(Some(&sig)),
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
    assert_eq!(view["correlation_id"], "corr-test");
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
            signatures: osa_domain::webhook_signature::Signatures::osa(Some("t=1,v1=ab")),
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
    assert_eq!(audit["next"], Value::Null, "one page holds it all");

    // A page at a time: the cursor is the `next` of the page before.
    let admin = app.admin_token();
    let path = format!("/api/admin/webhook-events?workflow_id={id}&limit=1");
    let (_, first) = get(&app, &path, Some(&admin)).await;
    assert_eq!(first["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(first["events"][0]["outcome"], "accepted");
    let cursor = first["next"].as_str().expect("a next page");
    let (_, second) = get(&app, &format!("{path}&cursor={cursor}"), Some(&admin)).await;
    assert_eq!(second["events"][0]["outcome"], "rejected");
    assert_eq!(second["next"], Value::Null);
    for bad in ["nope!", "MQ", "%27%20OR%201%3D1"] {
        let (status, body) = get(&app, &format!("{path}&cursor={bad}"), Some(&admin)).await;
        if bad == "MQ" {
            // "1": a well-formed position, past the first entry.
            assert_eq!(status, StatusCode::OK, "{body}");
            continue;
        }
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_cursor", "{body}");
    }

    // Attempts that named no workflow are listed by day.
    let day = osa_app::ports::Clock::now(app.clock.as_ref())
        .date()
        .to_string();
    let (status, unattributed) = get(
        &app,
        &format!("/api/admin/webhook-events?unattributed_on={day}"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{unattributed}");
    assert_eq!(unattributed["events"], json!([]));
    for query in [
        "unattributed_on=yesterday",
        "workflow_id=x&unattributed_on=2026-11-30",
    ] {
        let (status, body) = get(
            &app,
            &format!("/api/admin/webhook-events?{query}"),
            Some(&admin),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
    }
}

async fn get_text(app: &TestApp, path: &str) -> (StatusCode, String, String) {
    let req = request("GET", path)
        .bearer(app.token(&[scopes::READ]).as_str())
        .empty();
    let reply = call(status_api::app(app.services.clone()), req).await;
    (reply.status, reply.content_type(), reply.text())
}

#[tokio::test]
async fn the_report_comes_as_json_and_markdown() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    let body = serde_json::to_vec(&json!({
        "workflow_id": id, "agent_id": "content_review", "execution_status": "completed",
        "execution_id": "exec-cr", "agent_data": osa_testkit::contract::sample_agent_data()
    }))
    .unwrap();
    let sig = app.sign(&body);
    ingest(
        &app.services,
        WebhookRequest {
            signatures: osa_domain::webhook_signature::Signatures::osa(Some(&sig)),
            correlation_id: None,
            body: &body,
        },
    )
    .await
    .unwrap();

    let path = format!("/api/strategy/workflows/{id}/report");
    let (status, report) = get(&app, &path, Some(&app.token(&[scopes::READ]))).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["final"], false, "the workflow is still running");
    assert_eq!(report["company_name"], "Acme Outdoor");
    assert_eq!(
        report["recommendations"][0]["label"],
        "Rewrite top landing pages"
    );
    assert_eq!(report["recommendations"][0]["rank"], 1);
    assert_eq!(
        report["roadmap"][0]["end_day"], 20,
        "a 60-day timeline in thirds"
    );
    assert_eq!(report["coverage"].as_array().unwrap().len(), 9);
    assert_eq!(report["warnings"][0]["code"], "partial_results");

    let (status, content_type, markdown) = get_text(&app, &format!("{path}?format=markdown")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/markdown"), "{content_type}");
    assert!(
        markdown.starts_with("# Strategy report: Acme"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| 1 | Rewrite top landing pages |"),
        "{markdown}"
    );
    assert!(markdown.contains("(provisional)"));

    let (status, err) = get(
        &app,
        &format!("{path}?format=pdf"),
        Some(&app.token(&[scopes::READ])),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["code"], "invalid_query");
    let (status, _) = get(
        &app,
        "/api/strategy/workflows/nope/report",
        Some(&app.token(&[scopes::READ])),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(get(&app, &path, None).await.0, StatusCode::UNAUTHORIZED);
}

/// Every route and the scope it needs: a token holding any other scope but
/// `osa:admin` gets a JSON 403 naming the missing scope.
#[tokio::test]
async fn every_route_refuses_a_token_without_its_scope() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    let routes = [
        (format!("/api/strategy/workflows/{id}"), scopes::READ),
        (format!("/api/strategy/workflows/{id}/report"), scopes::READ),
        ("/api/admin/osa/recent-status".to_owned(), scopes::ADMIN),
        (
            format!("/api/admin/webhook-events?workflow_id={id}"),
            scopes::ADMIN,
        ),
    ];
    for (path, needed) in &routes {
        let others: Vec<&str> = [scopes::INTAKE, scopes::READ]
            .into_iter()
            .filter(|s| s != needed)
            .collect();
        for token in [app.token(&[]), app.token(&others)] {
            let (status, err) = get(&app, path, Some(&token)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path} with {others:?}");
            assert_eq!(err["success"], false, "{path}");
            assert_eq!(err["error"]["code"], "insufficient_scope", "{path}");
            assert!(
                err["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(needed)),
                "{path}: {err}"
            );
        }
        let (status, err) = get(&app, path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(err["error"]["code"], "unauthorized", "{path}");
        // The scope itself, and admin (which implies every scope), get past the check.
        for granted in [&[*needed][..], &[scopes::ADMIN][..]] {
            let (status, err) = get(&app, path, Some(&app.token(granted))).await;
            assert!(
                status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                "{path} with {granted:?}: {status} {err}"
            );
        }
    }
}

async fn delete(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    let req = request("DELETE", path).bearer(token).empty();
    let reply = call(status_api::app(app.services.clone()), req).await;
    (reply.status, reply.json())
}

#[tokio::test]
async fn erasure_removes_the_workflow_and_is_audited() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    started(&app, &id, "geo_audit").await;
    let admin = app.admin_token();
    let reader = app.token(&[scopes::READ]);
    let path = format!("/api/admin/workflows/{id}");

    assert_eq!(delete(&app, &path, &reader).await.0, StatusCode::FORBIDDEN);
    // The OPAL trigger's delivery carries the intake's business context.
    let trigger = app
        .services
        .store
        .get_workflow(&id)
        .await
        .unwrap()
        .and_then(|w| w.trigger().delivery_id.clone())
        .expect("the trigger was a delivery");
    let trigger = uuid::Uuid::parse_str(&trigger).expect("a delivery id");
    let payload = app.services.deliveries.get_delivery(trigger).await.unwrap();
    assert!(
        payload.is_some_and(|d| d.payload.to_string().contains("business_context")),
        "the delivery holds the intake"
    );
    let (status, body) = delete(&app, &path, &admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["erased_items"].as_u64().unwrap() >= 11);
    assert_eq!(
        app.services.deliveries.get_delivery(trigger).await.unwrap(),
        None,
        "erasure takes the workflow's deliveries too"
    );
    let (status, _) = get(&app, &format!("/api/strategy/workflows/{id}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = delete(&app, &path, &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, trail) = get(&app, "/api/admin/audit", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    let entries = trail["entries"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        2,
        "a refused request is not an action: {trail}"
    );
    assert_eq!(entries[0]["outcome"], "not_found");
    assert_eq!(entries[1]["outcome"], "succeeded");
    assert_eq!(entries[1]["action"], "workflow_erased");
    assert_eq!(entries[1]["target"], id.as_str());
    assert_eq!(entries[1]["actor"], "tester");
    assert_eq!(
        get(&app, "/api/admin/audit", Some(&reader)).await.0,
        StatusCode::FORBIDDEN
    );
}

/// The workflows listing, as a read-only user pages through it: newest first,
/// filtered by status and creation time, bad queries refused with a reason.
#[tokio::test]
async fn a_reader_lists_workflows_newest_first_by_status_and_page() {
    let app = TestApp::new();
    let reader = app.token(&[scopes::READ]);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(new_workflow(&app).await);
        app.clock.advance(Duration::from_secs(1));
    }
    // The first one's trigger is accepted: it runs; the others stay pending.
    app.run_due_jobs().await;
    let (status, all) = get(&app, "/api/strategy/workflows", Some(&reader)).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let listed: Vec<&str> = all["workflows"]
        .as_array()
        .expect("workflows")
        .iter()
        .filter_map(|w| w["workflow_id"].as_str())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str(), ids[0].as_str()]);
    assert_eq!(all["next"], Value::Null);
    let first = &all["workflows"][0];
    assert_eq!(first["industry"], "media");
    assert!(first["company_name"].is_string() && first["progress_percent"].is_u64());

    // Paged by two: the cursor leads to the rest.
    let (_, page) = get(&app, "/api/strategy/workflows?limit=2", Some(&reader)).await;
    assert_eq!(page["workflows"].as_array().map(Vec::len), Some(2));
    let cursor = page["next"].as_str().expect("a next page");
    let (status, rest) = get(
        &app,
        &format!("/api/strategy/workflows?limit=2&cursor={cursor}"),
        Some(&reader),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rest}");
    assert_eq!(rest["workflows"][0]["workflow_id"], ids[0].as_str());
    assert_eq!(rest["next"], Value::Null);

    // Filters.
    let running = app
        .services
        .store
        .get_workflow(&ids[0])
        .await
        .unwrap()
        .expect("stored")
        .status();
    let (_, only) = get(
        &app,
        &format!("/api/strategy/workflows?status={}", running.as_str()),
        Some(&reader),
    )
    .await;
    assert!(
        only["workflows"]
            .as_array()
            .expect("workflows")
            .iter()
            .all(|w| w["status"] == running.as_str()),
        "{only}"
    );
    let since = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
    let since = since
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (_, none) = get(
        &app,
        &format!("/api/strategy/workflows?since={since}"),
        Some(&reader),
    )
    .await;
    assert_eq!(none["workflows"], json!([]), "{none}");

    // Refused, with a reason: a bad status, limit, time or cursor; no token.
    for bad in [
        "?status=sleeping",
        "?limit=0",
        "?limit=201",
        "?since=yesterday",
        "?cursor=not-a-cursor",
        "?cursor=MTIzNDU",
    ] {
        let (status, body) = get(
            &app,
            &format!("/api/strategy/workflows{bad}"),
            Some(&reader),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _) = get(&app, "/api/strategy/workflows", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// A scraper's token holds `osa:metrics` only: the exposition, and nothing else.
#[tokio::test]
async fn a_metrics_token_scrapes_and_reads_nothing_else() {
    let app = TestApp::new();
    let scraper = app.token(&[scopes::METRICS]);
    let req = request("GET", "/api/admin/prometheus")
        .bearer(scraper.as_str())
        .empty();
    let reply = call(status_api::app(app.services.clone()), req).await;
    assert_eq!(reply.status, StatusCode::OK);
    for path in [
        "/api/admin/alerts",
        "/api/strategy/workflows",
        "/api/admin/osa/recent-status",
    ] {
        let (status, body) = get(&app, path, Some(&scraper)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
}
