//! The workflow lifecycle driven through the application services with a manual
//! clock: deadlines, partial results, late results, the 30-minute limit,
//! re-triggers and Force Sync. Time only moves when a test moves it.

use std::sync::Arc;
use std::time::Duration;

use osa_app::Services;
use osa_app::config::Config;
use osa_app::ports::{Clock, DomainEvent};
use osa_app::status::{recent, report, workflow};
use osa_app::sync::force_sync;
use osa_app::webhook::Ingested;
use osa_domain::AgentId;
use osa_domain::report::to_markdown;
use osa_domain::workflow::{AgentStatus, SyncState, WorkflowStatus};
use osa_testkit::TestApp;
use osa_testkit::contract::sample_agent_data;
use serde_json::{Value, json};

const SECOND: Duration = Duration::from_secs(1);

fn with_config(app: &mut TestApp, change: impl FnOnce(&mut Config)) {
    let mut config = (*app.services.config).clone();
    change(&mut config);
    app.services = Services {
        config: Arc::new(config),
        ..app.services.clone()
    };
}

async fn new_workflow(app: &TestApp) -> String {
    let id = app.start_workflow().await;
    // The trigger goes out (the recording client answers 202).
    app.run_due_jobs().await;
    id
}

/// Agent output whose one opportunity is named after the agent.
fn agent_data(agent: AgentId) -> Value {
    let mut data = sample_agent_data();
    data["opportunities"] = json!([{
        "label": format!("Opportunity from {}", agent.as_str()),
        "impactLevel": "High", "effortLevel": "Low", "confidence": 70
    }]);
    data
}

async fn send(app: &TestApp, body: Value) -> Ingested {
    app.send_webhook(&body).await
}

async fn complete(app: &TestApp, id: &str, agent: AgentId) -> Ingested {
    send(
        app,
        json!({"workflow_id": id, "agent_id": agent.as_str(), "execution_status": "completed",
               "execution_id": format!("exec-{}", agent.as_str()), "agent_data": agent_data(agent),
               "metadata": {"confidence_score": 0.8}}),
    )
    .await
}

async fn start(app: &TestApp, id: &str, agent: AgentId) {
    send(
        app,
        json!({"workflow_id": id, "agent_id": agent.as_str(), "execution_status": "started",
               "execution_id": format!("exec-{}", agent.as_str())}),
    )
    .await;
}

fn agent_status(view: &osa_app::status::WorkflowView, agent: AgentId) -> AgentStatus {
    view.agents
        .iter()
        .find(|a| a.agent == agent)
        .map(|a| a.status)
        .expect("agent present")
}

#[tokio::test]
async fn a_silent_agent_times_out_and_the_workflow_ends_partial_with_a_report() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    let silent = AgentId::GeoAudit; // 150 s
    for agent in AgentId::ALL.into_iter().filter(|a| *a != silent) {
        complete(&app, &id, agent).await;
    }
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(view.status, WorkflowStatus::Running);

    // Just before its deadline nothing happens; just after, it times out.
    app.advance_running_jobs(Duration::from_secs(149), SECOND)
        .await;
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(
        agent_status(&view, silent),
        AgentStatus::Pending,
        "it never started"
    );
    app.advance_running_jobs(Duration::from_secs(2), SECOND)
        .await;
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(agent_status(&view, silent), AgentStatus::TimedOut);
    assert_eq!(view.status, WorkflowStatus::Partial);
    assert!(
        app.bus.recent().iter().any(|e| matches!(
            e,
            DomainEvent::WorkflowFinished {
                status: WorkflowStatus::Partial,
                ..
            }
        )),
        "a WorkflowFinished event went out"
    );

    let report = report(&app.services, &id).await.unwrap().unwrap();
    assert!(report.is_final);
    assert_eq!(report.strategy.recommendations.len(), 8);
    assert!(
        report
            .strategy
            .recommendations
            .iter()
            .all(|r| !r.label.contains(silent.as_str()))
    );
    let warning = &report.strategy.warnings[0];
    assert_eq!(warning.code, "partial_results");
    assert_eq!(warning.agents, vec![silent]);
    assert!(report.strategy.roadmap[0].recommendations.len() <= 6);
    let markdown = to_markdown(&report);
    assert!(markdown.contains("**partial_results**"), "{markdown}");
    assert!(markdown.contains("geo_audit"), "{markdown}");
    assert!(markdown.contains("## Roadmap"), "{markdown}");

    // The audit trail says who timed the agent out.
    let audit = app
        .services
        .audit
        .audit_for_workflow(&id, 100)
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.reason == "deadline_expired"
                && e.agent_id.as_deref() == Some(silent.as_str()))
    );
}

#[tokio::test]
async fn a_started_event_moves_the_deadline() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    let agent = AgentId::IntegrationHealth; // 60 s
    app.advance_running_jobs(Duration::from_secs(50), SECOND)
        .await;
    start(&app, &id, agent).await;
    app.advance_running_jobs(Duration::from_secs(50), SECOND)
        .await;
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(
        agent_status(&view, agent),
        AgentStatus::Running,
        "60 s from its start"
    );
    app.advance_running_jobs(Duration::from_secs(11), SECOND)
        .await;
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(agent_status(&view, agent), AgentStatus::TimedOut);
}

#[tokio::test]
async fn a_late_result_is_kept_marked_late_and_synthesised() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    let late = AgentId::IntegrationHealth; // 60 s
    app.advance_running_jobs(Duration::from_secs(61), SECOND)
        .await;
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(agent_status(&view, late), AgentStatus::TimedOut);

    let reply = complete(&app, &id, late).await;
    assert!(
        matches!(
            reply,
            Ingested::Accepted {
                state_changed: false,
                agent_status: AgentStatus::TimedOut,
                ..
            }
        ),
        "{reply:?}"
    );
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    let state = view.agents.iter().find(|a| a.agent == late).unwrap();
    assert_eq!(
        state.status,
        AgentStatus::TimedOut,
        "terminal states are final"
    );
    assert!(state.late_result_at.is_some());
    assert_eq!(view.results.len(), 1);

    let report = report(&app.services, &id).await.unwrap().unwrap();
    let coverage = report
        .strategy
        .coverage
        .iter()
        .find(|c| c.agent == late)
        .unwrap();
    assert!(coverage.late);
    assert_eq!(coverage.recommendations, 1);
    assert!(
        report
            .strategy
            .warnings
            .iter()
            .any(|w| w.code == "late_results" && w.agents == vec![late])
    );
    assert!(
        report
            .strategy
            .recommendations
            .iter()
            .any(|r| r.label.contains(late.as_str()))
    );
}

/// Agent deadlines normally end a workflow long before its 30 minutes; the
/// limit is the backstop when checks could not run (a worker outage, say).
#[tokio::test]
async fn a_workflow_past_thirty_minutes_times_out() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    let slow = AgentId::RoadmapGenerator;
    for agent in AgentId::ALL.into_iter().filter(|a| *a != slow) {
        complete(&app, &id, agent).await;
    }
    // The worker is down for 31 minutes, then catches up.
    app.clock.advance(Duration::from_secs(31 * 60));
    app.run_due_jobs().await;

    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(view.status, WorkflowStatus::TimedOut);
    assert_eq!(agent_status(&view, slow), AgentStatus::TimedOut);
    assert!(app.bus.recent().iter().any(|e| matches!(
        e,
        DomainEvent::WorkflowFinished {
            status: WorkflowStatus::TimedOut,
            ..
        }
    )));
    let report = report(&app.services, &id).await.unwrap().unwrap();
    assert!(report.is_final);
    assert_eq!(report.strategy.warnings[0].agents, vec![slow]);
    // Nothing is left to check: the chain of checks has ended.
    app.clock.advance(Duration::from_secs(3600));
    assert_eq!(app.run_due_jobs().await, 0);
}

#[tokio::test]
async fn the_deadline_scale_shortens_every_deadline() {
    let mut app = TestApp::new();
    // 60 s x 0.01 = 0.6 s for integration_health.
    with_config(&mut app, |c| c.deadline_scale = 0.01);
    let id = new_workflow(&app).await;
    let agent = AgentId::IntegrationHealth;
    app.advance_running_jobs(Duration::from_millis(500), Duration::from_millis(100))
        .await;
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(agent_status(&view, agent), AgentStatus::Pending);
    app.advance_running_jobs(Duration::from_millis(1_600), Duration::from_millis(100))
        .await;
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(agent_status(&view, agent), AgentStatus::TimedOut);
    // All nine are out after 3.6 s, the slowest: the workflow failed (none completed).
    app.advance_running_jobs(Duration::from_millis(2_000), Duration::from_millis(100))
        .await;
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(view.status, WorkflowStatus::Failed);
}

#[tokio::test]
async fn force_sync_twice_in_a_row_gives_one_run() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    let sent_before = app.http.sent().len();
    let body = json!({"sync_scope": "all_agents", "include_rag_update": true,
                      "triggered_by": "dashboard", "client_context": {"workflow_id": id}})
    .to_string();
    let first = force_sync(&app.services, body.as_bytes()).await.unwrap();
    let second = force_sync(&app.services, body.as_bytes()).await.unwrap();
    assert!(!first.already_in_flight);
    assert!(second.already_in_flight);
    assert_eq!(first.sync_id, second.sync_id);

    assert_eq!(
        app.run_due_jobs().await,
        2,
        "one sync job, then its delivery's first attempt"
    );
    let sent = app.http.sent();
    assert_eq!(sent.len(), sent_before + 1, "one OPAL call");
    let payload: Value = serde_json::from_slice(&sent.last().unwrap().body).unwrap();
    assert_eq!(
        payload["metadata"]["force_sync"]["sync_id"],
        first.sync_id.as_str()
    );
    assert_eq!(
        payload["metadata"]["force_sync"]["include_rag_update"],
        true
    );

    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(
        view.force_sync.as_ref().unwrap().state,
        SyncState::Completed
    );
    let status = recent(&app.services).await.unwrap();
    assert_eq!(status.last_force_sync_at, Some(app.clock.now()));

    // Finished, so the next request starts a new run; no workflow id means the latest.
    let third = force_sync(&app.services, b"{}").await.unwrap();
    assert!(!third.already_in_flight);
    assert_ne!(third.sync_id, first.sync_id);
    assert_eq!(third.workflow_id, id);
}

#[tokio::test]
async fn a_force_sync_is_a_delivery_retried_dead_lettered_and_redriven() {
    use osa_app::delivery::dead_letter::redrive;
    use osa_domain::delivery::force_sync_id as force_sync_delivery_id;
    use osa_domain::delivery::{DeliveryKind, DeliveryStatus};
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    let opal_calls = |app: &TestApp| {
        app.http
            .sent()
            .iter()
            .filter(|r| r.url == "http://opal.test/trigger")
            .count()
    };
    let before = opal_calls(&app);
    app.http.respond_with(Ok(503));
    let body = json!({"client_context": {"workflow_id": id}}).to_string();
    let sync = force_sync(&app.services, body.as_bytes()).await.unwrap();
    app.run_due_jobs().await;
    // Backoff between attempts, not queue redeliveries minutes apart.
    app.advance_running_jobs(Duration::from_secs(30), Duration::from_secs(1))
        .await;
    assert_eq!(opal_calls(&app) - before, 5, "five attempts");
    let delivery_id = force_sync_delivery_id(&sync.sync_id);
    let delivery = app
        .services
        .deliveries
        .get_delivery(delivery_id)
        .await
        .unwrap()
        .expect("the sync is a delivery");
    assert_eq!(delivery.kind, DeliveryKind::OpalForceSync);
    assert!(matches!(
        delivery.status,
        DeliveryStatus::DeadLettered { .. }
    ));
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    let state = view.force_sync.expect("recorded");
    assert_eq!(state.state, SyncState::Failed);
    assert!(
        state.error.as_deref().is_some_and(|e| e.contains("503")),
        "{state:?}"
    );
    // OPAL is back: a redrive completes the sync.
    app.http.respond_with(Ok(202));
    redrive(&app.services, delivery_id).await.unwrap();
    app.run_due_jobs().await;
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(view.force_sync.unwrap().state, SyncState::Completed);
    assert_eq!(opal_calls(&app) - before, 6);
    // A second sync; erasure then takes both syncs' deliveries (they carry the intake).
    let second = force_sync(&app.services, body.as_bytes()).await.unwrap();
    app.run_due_jobs().await;
    let admin = osa_domain::access::Caller {
        subject: "admin".into(),
        scopes: ["osa:admin".to_owned()].into_iter().collect(),
    };
    osa_app::admin::erase_workflow(&app.services, &admin, &id, None)
        .await
        .unwrap()
        .expect("erased");
    for sync_id in [&sync.sync_id, &second.sync_id] {
        let gone = app
            .services
            .deliveries
            .get_delivery(force_sync_delivery_id(sync_id))
            .await
            .unwrap();
        assert_eq!(gone, None, "sync {sync_id}");
    }
}

/// One agent's terminal event of run `run` (its own execution id).
async fn finish_in_run(app: &TestApp, id: &str, agent: AgentId, run: u32, ok: bool) -> Ingested {
    let mut body = json!({"workflow_id": id, "agent_id": agent.as_str(),
                          "execution_id": format!("exec-{}-run{run}", agent.as_str()),
                          "execution_status": if ok { "completed" } else { "failed" },
                          "metadata": {"confidence_score": 0.8}});
    if ok {
        // Each run's data is fresher: its own timestamp.
        let mut data = agent_data(agent);
        data["meta"]["lastUpdated"] = json!(format!("2026-11-2{}T10:00:00Z", 6 + run));
        body["agent_data"] = data;
    } else {
        body["metadata"]["error"] = json!("upstream timeout");
    }
    send(app, body).await
}

#[tokio::test]
async fn a_force_sync_runs_the_workflow_again_and_repairs_a_partial_one() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    let flaky = [AgentId::GeoAudit, AgentId::CmpOrganizer];
    for agent in AgentId::ALL {
        finish_in_run(&app, &id, agent, 0, !flaky.contains(&agent)).await;
    }
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(view.status, WorkflowStatus::Partial);

    // The sync: OPAL takes it, and the next run starts from now.
    app.clock.advance(Duration::from_secs(60));
    let body = json!({"client_context": {"workflow_id": id}}).to_string();
    force_sync(&app.services, body.as_bytes()).await.unwrap();
    app.run_due_jobs().await;
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(view.status, WorkflowStatus::Running, "running again");
    assert_eq!(view.finished_at, None);
    let agents = app.services.store.get_agents(&id).await.unwrap();
    assert!(
        agents
            .iter()
            .all(|a| a.run == 1 && a.status == AgentStatus::Pending)
    );
    assert_eq!(
        agents[0].deadline_at,
        app.clock.now() + time::Duration::seconds(agents[0].max_duration_secs as i64),
        "deadlines count from the sync"
    );
    // A straggler of the first run changes nothing now.
    let late = finish_in_run(&app, &id, flaky[0], 0, false).await;
    assert!(matches!(
        late,
        Ingested::Duplicate { .. } | Ingested::Accepted { .. }
    ));
    let geo = app.services.store.get_agents(&id).await.unwrap();
    assert_eq!(geo[2].agent, flaky[0]);
    assert_eq!(
        geo[2].status,
        AgentStatus::Pending,
        "an earlier run's event"
    );

    // Run 1: the flaky ones complete; content review fails this time, but its
    // earlier result stands.
    for agent in AgentId::ALL {
        finish_in_run(&app, &id, agent, 1, agent != AgentId::ContentReview).await;
    }
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(view.status, WorkflowStatus::Completed, "repaired");
    let report = report(&app.services, &id).await.unwrap().unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["run"], 1);
    let run_of = |agent: AgentId| {
        json["results_from"]
            .as_array()
            .and_then(|all| all.iter().find(|r| r["agent"] == agent.as_str()))
            .map(|r| r["run"].clone())
    };
    assert_eq!(run_of(flaky[0]), Some(json!(1)), "fresher data");
    assert_eq!(run_of(flaky[1]), Some(json!(1)));
    assert_eq!(
        run_of(AgentId::ContentReview),
        Some(json!(0)),
        "newest complete"
    );
    assert_eq!(
        run_of(AgentId::RoadmapGenerator),
        Some(json!(1)),
        "replaced"
    );
    let results = app.services.store.get_results(&id).await.unwrap();
    assert_eq!(results.len(), 9, "one per agent, the newest");
    let geo = results.iter().find(|r| r.agent == flaky[0]).unwrap();
    assert_eq!(
        geo.agent_data["meta"]["lastUpdated"],
        "2026-11-27T10:00:00Z"
    );
}

#[tokio::test]
async fn force_sync_rejects_bad_input() {
    let app = TestApp::new();
    assert!(
        force_sync(&app.services, b"{}").await.is_err(),
        "no workflow yet"
    );
    new_workflow(&app).await;
    for bad in [
        &b"{not json"[..],
        br#"{"sync_scope": ""}"#,
        br#"{"include_rag_update": "yes"}"#,
        br#"{"unknown": 1}"#,
        br#"{"client_context": {"workflow_id": 7}}"#,
    ] {
        assert!(
            matches!(
                force_sync(&app.services, bad).await,
                Err(osa_app::sync::SyncError::Invalid(_))
            ),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[tokio::test]
async fn a_timed_out_agent_is_triggered_again_once_when_configured() {
    let mut app = TestApp::new();
    with_config(&mut app, |c| c.retrigger_timed_out_agents = true);
    let id = new_workflow(&app).await;
    let agent = AgentId::IntegrationHealth;
    let before = app.http.sent().len();
    app.advance_running_jobs(Duration::from_secs(61), SECOND)
        .await;
    let retriggers: Vec<Value> = app.http.sent()[before..]
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(retriggers.len(), 1, "{retriggers:?}");
    assert_eq!(
        retriggers[0]["input_data"]["agents"],
        json!([agent.as_str()])
    );
    assert_eq!(retriggers[0]["input_data"]["scope"], "reduced");
    let view = workflow(&app.services, &id).await.unwrap().unwrap();
    assert_eq!(view.retriggered_agents, vec![agent]);
    // It went as a delivery: its attempt is recorded like any other.
    let sent = &app.http.sent()[before];
    let delivery_id = sent
        .headers
        .iter()
        .find(|(n, _)| n == "X-Webhook-ID")
        .and_then(|(_, v)| uuid::Uuid::parse_str(v).ok())
        .expect("a delivery's id");
    let delivery = app
        .services
        .deliveries
        .get_delivery(delivery_id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(
        delivery.kind,
        osa_domain::delivery::DeliveryKind::OpalRetrigger
    );
    assert_eq!(delivery.attempts.len(), 1);
    assert_eq!(delivery.workflow_id.as_deref(), Some(id.as_str()));
}
