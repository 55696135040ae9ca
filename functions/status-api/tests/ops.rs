//! Operations, as a new user would try them: the metrics endpoint shows
//! the counts that happened; with OPAL down the health report turns degraded
//! within two schedule periods; with failing agents and a dead notification
//! target the failure-rate alert fires once, and its notifications are retried
//! and dead-lettered like any delivery.

use std::time::Duration;

use axum::http::StatusCode;
use osa_app::alerts::evaluate;
use osa_app::config::{AlertChannels, SecretSource};
use osa_app::health::run_checks;
use osa_app::intake::submit;
use osa_app::ports::{Clock, OutboundError};
use osa_app::webhook::{WebhookRequest, ingest};
use osa_domain::AgentId;
use osa_domain::Secret;
use osa_domain::access::scopes;
use osa_domain::alerts::NoticeKind;
use osa_domain::delivery::DeliveryKind;
use osa_domain::health::OverallStatus;
use osa_domain::metrics::Family;
use osa_testkit::TestApp;
use serde_json::{Value, json};
use std::sync::Arc;

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, String, String) {
    call_with(app, method, path, token, None).await
}

async fn call_with(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    json_body: Option<&Value>,
) -> (StatusCode, String, String) {
    let req = osa_testkit::request(method, path).bearer(token);
    let req = match json_body {
        Some(v) => req.json(v),
        None => req.empty(),
    };
    let reply = osa_testkit::call(status_api::app(app.services.clone()), req).await;
    (reply.status, reply.content_type(), reply.text())
}

/// A test app whose alerts page PagerDuty at `http://hooks.test/pagerduty`.
fn paging_app() -> TestApp {
    let mut app = TestApp::new();
    let mut config = (*app.services.config).clone();
    config.alert_channels = AlertChannels {
        pagerduty_routing_key: Some(SecretSource::Value(Secret::new("rk-test-secret"))),
        pagerduty_url: Some("http://hooks.test/pagerduty".into()),
        ..AlertChannels::default()
    };
    app.services.config = Arc::new(config);
    app
}

async fn get_json(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let (status, _, body) = call(app, "GET", path, token).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn new_workflow(app: &TestApp) -> String {
    let intake = json!({
        "business_context": {"company_name": "Acme", "industry": "media", "goals": ["Grow"],
                             "target_audience": "Readers of long-form journalism"},
        "optimizely_config": {"project_id": "42", "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
        "analysis_preferences": {"analysis_depth": "standard", "focus_areas": ["content"], "timeline": "30d"}
    });
    let id = submit(&app.services, intake.to_string().as_bytes(), "corr-ops")
        .await
        .expect("intake")
        .workflow
        .id()
        .to_owned();
    app.run_due_jobs().await; // the OPAL trigger
    id
}

async fn send(app: &TestApp, workflow_id: &str, agent: AgentId, status: &str) {
    let mut body = json!({"workflow_id": workflow_id, "agent_id": agent.as_str(),
                          "execution_id": format!("exec-{agent}"), "execution_status": status});
    if status == "failed" {
        body["metadata"] = json!({"execution_duration_ms": 9999,
                                  "error": "upstream said no; contact ops@example.com"});
    }
    let body = serde_json::to_vec(&body).expect("json");
    let signature = app.sign(&body);
    ingest(
        &app.services,
        WebhookRequest {
            signatures: osa_domain::webhook_signature::Signatures::osa(Some(&signature)),
            correlation_id: None,
            body: &body,
        },
    )
    .await
    .expect("accepted");
}

#[tokio::test]
async fn prometheus_shows_what_happened() {
    let app = TestApp::new();
    let (status, _, _) = call(&app, "GET", "/api/admin/prometheus", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let reader = app.token(&[scopes::READ]);
    let (status, _, _) = call(&app, "GET", "/api/admin/prometheus", Some(&reader)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let id = new_workflow(&app).await;
    // The agents fail 2.5 s after OPAL took the trigger, by OSA's clock (what
    // the senders say they took is theirs).
    app.clock.advance(Duration::from_millis(2500));
    for agent in AgentId::ALL {
        send(&app, &id, agent, "failed").await;
    }
    // A repeat: counted as a duplicate webhook, not as another execution.
    send(&app, &id, AgentId::ALL[0], "failed").await;
    let (status, content_type, text) = call(
        &app,
        "GET",
        "/api/admin/prometheus",
        Some(&app.admin_token()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let value = |prefix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert_eq!(value("osal_agent_execution_total{"), 9.0, "{text}");
    assert_eq!(
        value(&format!(
            "osal_agent_execution_total{{agent_id=\"{}\",status=\"failed\"",
            AgentId::ALL[0]
        )),
        1.0
    );
    assert_eq!(value("osal_webhook_processing_total{"), 10.0);
    assert!(text.contains("status=\"duplicate\",webhook_type=\"opal\""));
    assert_eq!(value("osal_agent_execution_duration_seconds_count{"), 9.0);
    assert_eq!(
        value("osal_agent_execution_duration_seconds_sum{"),
        9.0 * 2.5
    );
    assert_eq!(
        value(
            "osal_workflow_processing_duration_seconds_count{operation_type=\"workflow\",status=\"failed\"}"
        ),
        1.0
    );
    assert_eq!(
        value("osal_pii_protection_operations_total{pii_type=\"email\""),
        9.0,
        "one e-mail redacted per failed event (the duplicate's is not counted)"
    );

    // API requests are counted off the request path, by route template.
    let (status, _, _) = call(&app, "GET", "/api/strategy/workflows/not-a-workflow", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let wanted = [
        "osal_api_requests_total{method=\"GET\",endpoint=\"/api/admin/prometheus\",status_code=\"401\",user_agent=\"none\"} 1",
        "osal_api_requests_total{method=\"GET\",endpoint=\"/api/admin/prometheus\",status_code=\"403\",user_agent=\"none\"} 1",
        "osal_api_requests_total{method=\"GET\",endpoint=\"/api/strategy/workflows/{id}\",status_code=\"401\",user_agent=\"none\"} 1",
        // And timed, by route: three requests to the metrics endpoint so far.
        "osal_api_request_duration_seconds_count{method=\"GET\",endpoint=\"/api/admin/prometheus\"} 3",
        "osal_api_request_duration_seconds_bucket{method=\"GET\",endpoint=\"/api/strategy/workflows/{id}\",le=\"+Inf\"} 1",
    ];
    let mut text = String::new();
    for _ in 0..1000 {
        text = app
            .services
            .metrics
            .snapshot()
            .await
            .expect("snapshot")
            .render();
        if wanted.iter().all(|w| text.contains(w)) {
            break;
        }
        tokio::task::yield_now().await;
    }
    for w in wanted {
        assert!(text.contains(w), "{w} in\n{text}");
    }
    assert!(
        !text.contains("not-a-workflow"),
        "raw paths are never labels"
    );
}

/// Without `OPAL_HEALTH_URL` the OPAL probe says what is missing instead of
/// guessing a URL beside the trigger.
#[tokio::test]
async fn the_opal_probe_without_its_url_names_the_setting() {
    let app = TestApp::new();
    app.http.respond_with(Ok(200));
    let mut services = app.services.clone();
    services.config = Arc::new(osa_app::config::Config {
        opal_health_url: None,
        ..(*app.services.config).clone()
    });
    let reply = osa_testkit::call(
        status_api::app(services.clone()),
        osa_testkit::request(axum::http::Method::GET, "/api/health/opal").empty(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    // The admin report (not the public answer) carries the probe's reason.
    let report = run_checks(&services).await.expect("checks");
    let opal = report
        .services
        .iter()
        .find(|s| s.component == "opal")
        .and_then(|s| s.last.clone())
        .expect("the OPAL check ran");
    assert!(!opal.healthy);
    assert!(
        opal.failures.iter().any(|f| f.contains("OPAL_HEALTH_URL")),
        "{:?}",
        opal.failures
    );
    assert!(
        app.http.sent().is_empty(),
        "no request to a guessed URL: {:?}",
        app.http.sent()
    );
}

#[tokio::test]
async fn health_turns_degraded_when_opal_is_down_and_reports_it() {
    let app = TestApp::new();
    app.http.respond_with(Ok(200)); // OPAL's health endpoint is up
    // No run yet.
    let admin = app.admin_token();
    let (status, body) = get_json(&app, "/api/admin/guardrails-health", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["report"], Value::Null);

    // Public probes.
    let (status, body) = get_json(&app, "/api/health/intake", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for field in ["status", "timestamp", "version"] {
        assert!(body.get(field).is_some(), "{field} in {body}");
    }
    assert_eq!(
        get_json(&app, "/api/health/database", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get_json(&app, "/api/health/opal", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get_json(&app, "/api/health/nope", None).await.0,
        StatusCode::NOT_FOUND
    );
    let healthy = run_checks(&app.services).await.expect("checks");
    assert_eq!(healthy.overall_status, OverallStatus::Healthy);
    assert!(
        app.http
            .sent()
            .iter()
            .any(|r| r.url == osa_testkit::app::OPAL_HEALTH_URL),
        "the OPAL probe GETs OPAL_HEALTH_URL"
    );

    // OPAL goes down.
    app.http
        .respond_with(Err(OutboundError::Connect("refused".into())));
    let (status, body) = get_json(&app, "/api/health/opal", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    app.clock.advance(Duration::from_secs(60));
    let first = run_checks(&app.services).await.expect("checks");
    assert_eq!(first.overall_status, OverallStatus::Degraded);
    assert_eq!(first.next_check_in_seconds, 30);
    app.clock.advance(Duration::from_secs(60));
    let second = run_checks(&app.services).await.expect("checks");
    let opal = second
        .services
        .iter()
        .find(|s| s.component == "opal")
        .expect("opal");
    assert_eq!(opal.consecutive_failures, 2);
    assert_eq!(format!("{:?}", opal.status), "Unhealthy");
    assert_eq!(second.critical_issues, 0, "OPAL is not a critical service");

    let (_, latest) = get_json(&app, "/api/admin/guardrails-health", Some(&admin)).await;
    assert_eq!(latest["report"]["overall_status"], "degraded");
    assert!(latest.get("history").is_none());
    let (_, detailed) = get_json(
        &app,
        "/api/admin/guardrails-health?detailed=true",
        Some(&admin),
    )
    .await;
    assert_eq!(detailed["history"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        detailed["history"][0]["overall_status"], "degraded",
        "newest first"
    );
    let (_, _, text) = call(&app, "GET", "/api/admin/prometheus", Some(&admin)).await;
    assert!(
        text.contains("osal_system_health_score{component=\"opal\",environment=\"local\"} 0.3333"),
        "{text}"
    );
}

#[tokio::test]
async fn failing_agents_fire_one_alert_whose_notifications_dead_letter() {
    let mut app = TestApp::new();
    let mut config = (*app.services.config).clone();
    config.alert_channels = AlertChannels {
        slack_url: Some(SecretSource::Value(Secret::new(
            "http://hooks.test/slack-secret-path",
        ))),
        pagerduty_routing_key: Some(SecretSource::Value(Secret::new("rk-test-secret"))),
        pagerduty_url: Some("http://hooks.test/pagerduty".into()),
        ..AlertChannels::default()
    };
    app.services.config = Arc::new(config);
    let id = new_workflow(&app).await;
    let baseline = evaluate(&app.services).await.expect("evaluate");
    assert!(baseline.is_empty());
    // Three minutes, three agents failing in each: three data points of 100 %.
    let mut fired = Vec::new();
    for minute in 0..3 {
        app.clock.advance(Duration::from_secs(60));
        for agent in &AgentId::ALL[minute * 3..minute * 3 + 3] {
            send(&app, &id, *agent, "failed").await;
        }
        fired.extend(evaluate(&app.services).await.expect("evaluate"));
    }
    let failure: Vec<_> = fired
        .iter()
        .filter(|n| n.rule_id == "opal_agent_failure_rate")
        .collect();
    assert_eq!(failure.len(), 1, "fires on the third data point: {fired:?}");
    assert_eq!(failure[0].kind, NoticeKind::Fired);
    assert_eq!(failure[0].current_value, 1.0);
    // Still bad a minute later (no new executions): fires no second time.
    app.clock.advance(Duration::from_secs(60));
    let again = evaluate(&app.services).await.expect("evaluate");
    assert!(
        again.iter().all(|n| n.rule_id != "opal_agent_failure_rate"),
        "{again:?}"
    );

    // The targets are dead: every attempt fails, then the deliveries dead-letter.
    app.http.respond_with(Ok(500));
    app.run_due_jobs().await;
    app.advance_running_jobs(Duration::from_secs(3600), Duration::from_secs(30))
        .await;
    let dead = app
        .services
        .deliveries
        .dead_lettered(20)
        .await
        .expect("dlq");
    let notifications: Vec<_> = dead
        .iter()
        .filter(|d| d.kind == DeliveryKind::AlertNotification)
        .collect();
    assert_eq!(
        notifications.len(),
        2,
        "Slack and PagerDuty (email not configured)"
    );
    // The Slack URL is named, not stored; PagerDuty's public endpoint is stored
    // and its routing key is named.
    let urls: Vec<&str> = notifications.iter().map(|d| d.url.as_str()).collect();
    assert!(urls.contains(&"secret:alert_slack_webhook_url"), "{urls:?}");
    assert!(urls.contains(&"http://hooks.test/pagerduty"));
    for d in &notifications {
        assert_eq!(d.attempts.len(), 5, "retried before dead-lettering");
    }
    let pd = notifications
        .iter()
        .find(|d| d.url.ends_with("pagerduty"))
        .expect("pagerduty");
    assert_eq!(pd.payload["event_action"], "trigger");
    assert!(pd.payload.get("routing_key").is_none(), "{}", pd.payload);
    // They were looked up when sent: the requests carried them.
    let sent = app.http.sent();
    assert!(
        sent.iter()
            .any(|r| r.url == "http://hooks.test/slack-secret-path")
    );
    assert!(sent.iter().any(|r| r.url == "http://hooks.test/pagerduty"
        && String::from_utf8_lossy(&r.body).contains("\"routing_key\":\"rk-test-secret\"")));
    // No stored item, API answer or listing holds either.
    for d in &notifications {
        let stored = serde_json::to_string(d).expect("json");
        let (_, shown) = get_json(
            &app,
            &format!("/api/admin/deliveries/{}", d.id),
            Some(&app.admin_token()),
        )
        .await;
        for text in [stored, shown.to_string()] {
            assert!(
                !text.contains("slack-secret-path") && !text.contains("rk-test-secret"),
                "{text}"
            );
        }
    }
    // Each dead letter is counted (the EMF metric the template's alarm watches).
    let snapshot = app.services.metrics.snapshot().await.expect("snapshot");
    assert!(
        snapshot.total(Family::DeliveriesDeadLetteredTotal, &[]) >= 2.0,
        "{}",
        snapshot.render()
    );
    let (_, listing) = get_json(
        &app,
        "/api/admin/deliveries/dead-letter",
        Some(&app.admin_token()),
    )
    .await;
    let listing = listing.to_string();
    assert!(
        !listing.contains("slack-secret-path") && !listing.contains("rk-test-secret"),
        "{listing}"
    );

    let (status, overview) = get_json(&app, "/api/admin/alerts", Some(&app.admin_token())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(overview["firing"][0]["rule_id"], "opal_agent_failure_rate");
    assert!(overview["firing"][0]["alert"]["alert_id"].is_string());
    assert_eq!(overview["recent"][0]["rule_id"], "opal_agent_failure_rate");
    assert!(
        overview["recent"][0]["runbook_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/runbooks/opal-agent-failure-rate"))
    );
    assert_eq!(overview["rules"].as_array().map(Vec::len), Some(7));

    // A failing channel does not page about itself: the two dead-lettered
    // notifications fire no delivery alert, which would go through the same
    // channels and dead-letter again, in a loop.
    for _ in 0..2 {
        let notices = evaluate(&app.services).await.expect("evaluate");
        assert!(
            notices
                .iter()
                .all(|n| n.rule_id != "webhook_delivery_failures"),
            "{notices:?}"
        );
        app.clock.advance(Duration::from_secs(60));
    }
}

/// The spec's agent-timeout alert is immediate: the deadline job that times
/// the agents out fires it and queues its page, with no scheduled evaluation
/// in between.
#[tokio::test]
async fn the_deadline_job_fires_the_agent_timeout_alert_at_once() {
    let app = paging_app();
    new_workflow(&app).await;
    assert!(evaluate(&app.services).await.expect("baseline").is_empty());
    let firing = |o: &osa_app::alerts::Overview| {
        o.firing
            .iter()
            .filter(|f| f.rule_id == "agent_timeout")
            .count()
    };
    let before = osa_app::alerts::overview(&app.services)
        .await
        .expect("overview");
    assert_eq!(firing(&before), 0);

    // Only queued jobs run from here: the deadline checks and what they queue.
    app.advance_running_jobs(Duration::from_secs(301), Duration::from_secs(1))
        .await;
    let after = osa_app::alerts::overview(&app.services)
        .await
        .expect("overview");
    assert_eq!(firing(&after), 1, "{:?}", after.firing);
    let pages: Vec<String> = app
        .http
        .sent()
        .iter()
        .filter(|r| r.url == "http://hooks.test/pagerduty")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        // Timed-out agents are failed agents too: that rule may page as well.
        .filter(|page| page.contains("\"class\":\"agent_timeout\""))
        .collect();
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert!(
        pages[0].contains("\"event_action\":\"trigger\""),
        "{}",
        pages[0]
    );
}

#[tokio::test]
async fn agents_are_timed_by_osa_against_their_own_allowance() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    assert!(evaluate(&app.services).await.expect("baseline").is_empty());
    let over = |notices: &[osa_domain::alerts::Notice]| {
        notices
            .iter()
            .filter(|n| n.rule_id == "agent_timeout")
            .count()
    };
    // Neither sender reports a duration; OSA's clock is what counts.
    for agent in [AgentId::RoadmapGenerator, AgentId::ExperimentBlueprinter] {
        app.send_agent_event(&id, agent, "started").await;
    }
    app.clock.advance(Duration::from_secs(330));
    app.send_agent_event(&id, AgentId::RoadmapGenerator, "completed")
        .await;
    let notices = evaluate(&app.services).await.expect("evaluate");
    assert_eq!(over(&notices), 0, "330 s is within the roadmap's 360 s");
    app.clock.advance(Duration::from_secs(60));
    app.send_agent_event(&id, AgentId::ExperimentBlueprinter, "completed")
        .await;
    let notices = evaluate(&app.services).await.expect("evaluate");
    assert_eq!(over(&notices), 1, "390 s is past the blueprinter's 300 s");
    let snapshot = app.services.metrics.snapshot().await.expect("snapshot");
    assert_eq!(
        snapshot.sum(Family::AgentExecutionDurationSeconds, &[]),
        330.0 + 390.0,
        "{}",
        snapshot.render()
    );
    assert_eq!(
        snapshot.total(
            Family::AgentOverAllowanceTotal,
            &[("agent_id", "experiment_blueprinter")]
        ),
        1.0
    );
}

#[tokio::test]
async fn the_maintenance_switch_is_audited() {
    let app = TestApp::new();
    let admin = app.admin_token();
    let path = "/api/admin/alerts/maintenance";
    let reader = app.token(&[scopes::READ]);
    let (status, _, _) = call_with(
        &app,
        "PUT",
        path,
        Some(&reader),
        Some(&json!({"scheduled": false})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        app.services
            .audit
            .admin_audit(10)
            .await
            .expect("audit")
            .is_empty(),
        "a refused caller switches nothing"
    );

    // A manual window an hour long: maintenance is on.
    let until = app.clock.now() + time::Duration::hours(1);
    let on = json!({"scheduled": false, "manual_until": until.format(&time::format_description::well_known::Rfc3339).expect("rfc3339")});
    let (status, _, body) = call_with(&app, "PUT", path, Some(&admin), Some(&on)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, got) = get_json(&app, path, Some(&admin)).await;
    assert_eq!(got["active"], true);
    // Switched off again.
    let off = json!({"scheduled": false, "manual_until": null});
    let (status, _, body) = call_with(&app, "PUT", path, Some(&admin), Some(&off)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A body of the wrong shape changes nothing and is not recorded as a
    // switch: 422 with the field's path, like every JSON body.
    let (status, _, body) = call_with(
        &app,
        "PUT",
        path,
        Some(&admin),
        Some(&json!({"scheduled": "yes"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    assert_eq!(body["error"]["details"][0]["path"], "scheduled", "{body}");

    let trail = app.services.audit.admin_audit(10).await.expect("audit");
    let switches: Vec<_> = trail
        .iter()
        .filter(|e| e.action == "maintenance_switched")
        .collect();
    assert_eq!(switches.len(), 2, "{trail:?}");
    // Newest first.
    assert_eq!(switches[0].target, "off");
    assert_eq!(switches[1].target, "on");
    for e in &switches {
        assert_eq!(e.outcome, "succeeded");
        assert!(!e.actor.is_empty());
        assert!(e.correlation_id.is_some());
    }
}

async fn complete(app: &TestApp, workflow_id: &str, agent: AgentId, confidence: f64) {
    let mut data = osa_testkit::contract::sample_agent_data();
    data["opportunities"] = json!([{
        "label": format!("Opportunity from {}", agent.as_str()),
        "impactLevel": "High", "effortLevel": "Low", "confidence": 70
    }]);
    let body = json!({"workflow_id": workflow_id, "agent_id": agent.as_str(),
                      "execution_id": format!("exec-{agent}"), "execution_status": "completed",
                      "agent_data": data, "metadata": {"confidence_score": confidence}});
    let body = serde_json::to_vec(&body).expect("json");
    let signature = app.sign(&body);
    ingest(
        &app.services,
        WebhookRequest {
            signatures: osa_domain::webhook_signature::Signatures::osa(Some(&signature)),
            correlation_id: None,
            body: &body,
        },
    )
    .await
    .expect("accepted");
}

#[tokio::test]
async fn monitoring_shows_confidence_and_fallbacks_of_recent_workflows() {
    let app = TestApp::new();
    let admin = app.admin_token();
    for path in [
        "/api/admin/monitoring/confidence-metrics",
        "/api/admin/monitoring/fallback-stats",
    ] {
        assert_eq!(get_json(&app, path, None).await.0, StatusCode::UNAUTHORIZED);
        let reader = app.token(&[scopes::READ]);
        assert_eq!(
            get_json(&app, path, Some(&reader)).await.0,
            StatusCode::FORBIDDEN
        );
        for bad in ["?limit=0", "?limit=201", "?limit=many"] {
            let (status, body) = get_json(&app, &format!("{path}{bad}"), Some(&admin)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}{bad}: {body}");
        }
        let (status, empty) = get_json(&app, path, Some(&admin)).await;
        assert_eq!(status, StatusCode::OK, "{empty}");
        assert_eq!(empty["success"], true);
        assert_eq!(empty["window"]["workflows"], 0);
        assert_eq!(empty["window"]["limit"], 50);
    }

    let id = new_workflow(&app).await;
    let [a, b, c, d, ..] = AgentId::ALL;
    complete(&app, &id, a, 0.9).await;
    complete(&app, &id, b, 0.6).await;
    complete(&app, &id, c, 0.3).await;
    send(&app, &id, d, "failed").await;

    let (status, m) = get_json(
        &app,
        "/api/admin/monitoring/confidence-metrics?limit=10",
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["window"]["workflows"], 1);
    assert_eq!(m["window"]["limit"], 10);
    assert_eq!(m["overall"]["results"], 3);
    assert_eq!(m["overall"]["mean"], 0.6);
    assert_eq!(m["overall"]["min"], 0.3);
    assert_eq!(m["overall"]["max"], 0.9);
    assert_eq!(
        m["overall"]["levels"],
        json!({"low": 1, "medium": 1, "high": 1, "unknown": 0})
    );
    assert_eq!(m["agents"].as_array().map(Vec::len), Some(9));
    assert_eq!(m["agents"][0]["agent_id"], a.as_str());
    assert_eq!(m["agents"][0]["mean"], 0.9);
    assert_eq!(m["agents"][3]["results"], 0, "a failed agent has no result");

    let recommendations = "osal_strategy_recommendations_total{";
    let (_, _, text) = call(&app, "GET", "/api/admin/prometheus", Some(&admin)).await;
    assert!(
        !text.contains(recommendations),
        "counted only when the workflow finishes"
    );

    // The silent agents run out of time; the workflow ends without completing.
    app.advance_running_jobs(Duration::from_secs(31 * 60), Duration::from_secs(30))
        .await;
    let (status, f) = get_json(&app, "/api/admin/monitoring/fallback-stats", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{f}");
    assert_eq!(f["window"]["workflows"], 1);
    assert_eq!(f["workflows"]["total"], 1);
    assert_eq!(f["workflows"]["partial"], 1, "{f}");
    assert_eq!(f["workflows"]["degraded_rate"], 1.0);
    assert_eq!(f["agents"]["executions"], 9);
    assert_eq!(f["agents"]["failed"], 1);
    assert_eq!(f["agents"]["timed_out"], 5, "{f}");
    assert_eq!(f["agents"]["late_results_kept"], 0);
    assert_eq!(f["by_agent"][3]["failed"], 1);
    assert_eq!(f["by_agent"][0]["fallback_rate"], 0.0);
    assert_eq!(f["opal_triggers"]["dead_lettered"], 0);
    assert_eq!(f["opal_triggers"]["retried"], 0);

    // Its strategy was counted once, when it finished: three low-effort
    // opportunities (quick wins) at 70 % confidence, for a media business.
    let (_, _, text) = call(&app, "GET", "/api/admin/prometheus", Some(&admin)).await;
    let counted: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(recommendations))
        .collect();
    assert_eq!(
        counted,
        [
            "osal_strategy_recommendations_total{recommendation_type=\"quick_wins\",confidence_level=\"medium\",user_segment=\"media\"} 3"
        ],
        "{text}"
    );
}

/// A workflow whose OPAL trigger was dead-lettered never ran its agents: the
/// fallback figures count a failed trigger, not nine agent executions.
#[tokio::test]
async fn a_dead_lettered_trigger_counts_as_a_failed_trigger_not_agent_executions() {
    let app = TestApp::new();
    let admin = app.admin_token();
    app.http
        .respond_with(Err(OutboundError::Connect("connection refused".into())));
    app.start_workflow().await;
    app.advance_running_jobs(Duration::from_secs(40), Duration::from_millis(500))
        .await;
    let (status, f) = get_json(&app, "/api/admin/monitoring/fallback-stats", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{f}");
    assert_eq!(f["workflows"]["failed"], 1, "{f}");
    assert_eq!(f["opal_triggers"]["dead_lettered"], 1, "{f}");
    assert_eq!(f["agents"]["executions"], 0, "{f}");
    assert_eq!(f["agents"]["fallback_rate"], Value::Null, "{f}");
}

/// Intake free text is redacted too, and counted in the same family.
#[tokio::test]
async fn intake_redactions_are_counted() {
    let app = TestApp::new();
    let intake = json!({
        "business_context": {"company_name": "Acme", "industry": "media", "goals": ["Grow"],
                             "target_audience": "Readers; ask kim@example.com or 415-555-0188",
                             "current_challenges": ["Churn reported by jo@example.org"]},
        "optimizely_config": {"project_id": "42", "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
        "analysis_preferences": {"analysis_depth": "basic", "focus_areas": ["content"], "timeline": "30d"}
    });
    submit(&app.services, intake.to_string().as_bytes(), "corr-pii")
        .await
        .expect("intake");
    let (status, _, text) = call(
        &app,
        "GET",
        "/api/admin/prometheus",
        Some(&app.admin_token()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let value = |prefix: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    assert_eq!(
        value("osal_pii_protection_operations_total{pii_type=\"email\""),
        2.0,
        "{text}"
    );
    assert_eq!(
        value("osal_pii_protection_operations_total{pii_type=\"phone\""),
        1.0,
        "{text}"
    );
}

/// The maintenance switch reads a buffered JSON body: the same 1 MiB limit and
/// content-type rule as every other body, each a JSON error.
#[tokio::test]
async fn the_maintenance_body_is_limited_and_must_be_json() {
    let app = TestApp::new();
    let huge = Value::String("x".repeat(1024 * 1024 + 10));
    let (status, _, body) = call_with(
        &app,
        "PUT",
        "/api/admin/alerts/maintenance",
        Some(&app.admin_token()),
        Some(&json!({"scheduled": true, "manual_until": null, "pad": huge})),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let error: Value = serde_json::from_str(&body).expect("JSON error");
    assert_eq!(error["success"], false);

    let req = osa_testkit::request("PUT", "/api/admin/alerts/maintenance")
        .bearer(app.admin_token().as_str())
        .header("content-type", "text/plain")
        .body(r#"{"scheduled": true}"#);
    let reply = osa_testkit::call(status_api::app(app.services.clone()), req).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn pii_kept_unredacted_is_counted_as_a_compliance_violation() {
    use osa_domain::pii::RedactionMode;
    for (mode, violations) in [(RedactionMode::Partial, 0.0), (RedactionMode::None, 9.0)] {
        let mut app = TestApp::new();
        let mut config = (*app.services.config).clone();
        config.pii.mode = mode;
        app.services.config = Arc::new(config);
        let id = new_workflow(&app).await;
        // Each failed event's error names an e-mail address.
        for agent in AgentId::ALL {
            send(&app, &id, agent, "failed").await;
        }
        let snapshot = app.services.metrics.snapshot().await.expect("snapshot");
        assert_eq!(
            snapshot.total(
                Family::ComplianceViolationsTotal,
                &[
                    ("violation_type", "unredacted_email"),
                    ("severity", "medium"),
                    ("framework", "gdpr")
                ]
            ),
            violations,
            "{mode:?}: {}",
            snapshot.render()
        );
    }
}

#[tokio::test]
async fn the_intake_probe_writes_to_the_store_and_reads_the_queue() {
    let mut app = TestApp::new();
    // One OPAL trigger waits in the queue.
    submit(
        &app.services,
        osa_testkit::samples::intake().to_string().as_bytes(),
        "c",
    )
    .await
    .expect("intake");
    let (status, body) = get_json(&app, "/api/health/intake", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["queue_depth"], 1, "{body}");
    assert!(body["checks"]["store_write_ms"].is_u64(), "{body}");
    assert!(body["checks"]["queue_ms"].is_u64(), "{body}");
    let written = app
        .services
        .ops
        .load_state(osa_app::health::INTAKE_PROBE_STATE)
        .await
        .expect("store")
        .expect("the probe wrote");
    assert_eq!(
        written.doc["checked_at"],
        osa_domain::rfc3339(app.clock.now())
    );

    // The queue stops answering: intake could not start a workflow, and says so.
    app.services.queue = Arc::new(osa_testkit::DownQueue);
    let (status, body) = get_json(&app, "/api/health/intake", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unhealthy");
    assert!(
        !body.to_string().contains("internal-queue-name"),
        // (osa_testkit::fakes::DOWN_QUEUE_ERROR names it)
        "the public answer names no internals: {body}"
    );
    let report = run_checks(&app.services).await.expect("checks");
    let intake = report
        .services
        .iter()
        .find(|s| s.service_name == "strategy_intake_service")
        .expect("intake checked");
    assert!(
        intake.last.as_ref().is_some_and(|r| !r.healthy),
        "{intake:?}"
    );
}

/// Found by the API fuzzer: `?limit=0` was clamped in silence to 1 and answered
/// 200, and an unknown field in the maintenance switch was ignored. Both are
/// refused now, as JSON errors.
#[tokio::test]
async fn out_of_range_limits_and_unknown_fields_are_refused() {
    let app = TestApp::new();
    let admin = app.admin_token();
    for path in [
        "/api/admin/audit?limit=0",
        "/api/admin/audit?limit=1001",
        "/api/admin/webhook-events?workflow_id=w&limit=0",
        "/api/admin/deliveries/dead-letter?limit=5000",
        "/api/admin/monitoring/fallback-stats?limit=201",
    ] {
        let (status, body) = get_json(&app, path, Some(&admin)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query", "{path}");
    }
    let (status, body) = get_json(&app, "/api/admin/audit?limit=1000", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let path = "/api/admin/alerts/maintenance";
    let (status, _, body) = call_with(
        &app,
        "PUT",
        path,
        Some(&admin),
        Some(&json!({"scheduled": false, "manual_until": null, "extra": 42})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _, body) = call_with(&app, "PUT", path, Some(&admin), Some(&json!([false]))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Neither changed the switch.
    let (_, state) = get_json(&app, path, Some(&admin)).await;
    assert_eq!(state["settings"]["scheduled"], true, "{state}");
}

/// An operator acknowledges a firing alert (PagerDuty's incident is
/// acknowledged, once), silences it for two hours, and is refused clearly for
/// an unknown alert, a silence too long, and a resolved alert; every request
/// is in the admin audit trail.
#[tokio::test]
async fn an_operator_acknowledges_and_silences_a_firing_alert() {
    let app = paging_app();
    // A dead-lettered OPAL trigger fires webhook_delivery_failures.
    app.http
        .respond_with(Err(OutboundError::Connect("connection refused".into())));
    app.start_workflow().await;
    app.advance_running_jobs(Duration::from_secs(40), Duration::from_millis(500))
        .await;
    app.http.respond_with(Ok(202));
    let fired = evaluate(&app.services).await.expect("evaluate");
    let alert_id = fired
        .iter()
        .find(|n| n.rule_id == "webhook_delivery_failures" && n.kind == NoticeKind::Fired)
        .map(|n| n.alert_id.clone())
        .expect("the dead letter fired an alert");
    app.run_due_jobs().await;
    let pages = |action: &str| {
        app.http
            .sent()
            .iter()
            .filter(|r| r.url == "http://hooks.test/pagerduty")
            .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .filter(|v| v["event_action"] == action && v["dedup_key"] == alert_id.as_str())
            .count()
    };
    assert_eq!(pages("trigger"), 1);

    let admin = app.admin_token();
    let post = |path: String, body: Option<Value>| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let (status, _, text) =
                call_with(app, "POST", &path, Some(&admin), body.as_ref()).await;
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            )
        }
    };
    let ack = format!("/api/admin/alerts/{alert_id}/ack");
    let silence = format!("/api/admin/alerts/{alert_id}/silence");

    let (status, body) = post(
        "/api/admin/alerts/0123456789abcdef0123456789abcdef/ack".into(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let (status, body) = post(ack.clone(), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], true);
    assert_eq!(body["alert"]["acknowledged"]["by"], "tester");
    app.run_due_jobs().await;
    assert_eq!(
        pages("acknowledge"),
        1,
        "PagerDuty acknowledges the incident"
    );
    // Again: nothing changes, nothing more is sent.
    let (status, body) = post(ack.clone(), None).await;
    assert_eq!(
        (status, body["changed"].clone()),
        (StatusCode::OK, json!(false))
    );
    app.run_due_jobs().await;
    assert_eq!(pages("acknowledge"), 1);

    let at = |d: time::Duration| {
        (app.clock.now() + d)
            .format(&time::format_description::well_known::Rfc3339)
            .expect("formats")
    };
    let (status, body) = post(
        silence.clone(),
        Some(json!({"until": at(time::Duration::hours(25))})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"][0]["path"], "until");
    let (status, body) = post(silence.clone(), Some(json!({"until": "soon"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let until = at(time::Duration::hours(2));
    let (status, body) = post(silence.clone(), Some(json!({"until": until}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["alert"]["silenced"]["until"], until.as_str());

    // The dead letter leaves the 15-minute window: the alert resolves, and
    // acting on it now is a conflict.
    app.clock.advance(Duration::from_secs(16 * 60));
    let resolved = evaluate(&app.services).await.expect("evaluate");
    assert!(
        resolved
            .iter()
            .any(|n| n.alert_id == alert_id && n.kind == NoticeKind::Resolved),
        "{resolved:?}"
    );
    let (status, body) = post(ack.clone(), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (_, audit) = get_json(&app, "/api/admin/audit", Some(&admin)).await;
    let actions: Vec<(String, String)> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["target"] == alert_id.as_str())
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let count = |action: &str, outcome: &str| {
        actions
            .iter()
            .filter(|(a, o)| a == action && o == outcome)
            .count()
    };
    assert_eq!(count("alert_acknowledged", "succeeded"), 1, "{actions:?}");
    assert_eq!(count("alert_acknowledged", "unchanged"), 1, "{actions:?}");
    assert_eq!(count("alert_acknowledged", "refused"), 1, "{actions:?}");
    assert_eq!(count("alert_silenced", "succeeded"), 1, "{actions:?}");
}
