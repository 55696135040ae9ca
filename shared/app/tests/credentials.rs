//! Scenario C through the application services: Optimizely refuses the intake's
//! credentials, the workflow pauses (no trigger, no deadlines), refreshed ones
//! resume it from its checkpoint. Time moves only when a test moves it.

use std::time::Duration;

use osa_app::credentials::{CredentialsError, resume};
use osa_app::intake::submit;
use osa_app::ports::{Job, OutboundError};
use osa_app::status::workflow;
use osa_domain::AgentId;
use osa_domain::workflow::{AgentStatus, RefusedService, WorkflowStatus};
use osa_net::http::optimizely::OptimizelyService;
use osa_testkit::TestApp;
use osa_testkit::contract::sample_agent_data;
use serde_json::{Value, json};

const ODP_KEY: &str = "odp-key-that-expired-4711";
const CMP_KEY: &str = "cmp-key-still-fine-0815";
const MINUTE: Duration = Duration::from_secs(60);

/// The sample intake with an ODP and a CMP key.
fn intake() -> Value {
    let mut body = osa_testkit::samples::intake();
    body["optimizely_config"]["api_credentials"] = json!({"odp_key": ODP_KEY, "cmp_key": CMP_KEY});
    body
}

async fn submit_intake(app: &TestApp) -> osa_domain::workflow::Workflow {
    submit(&app.services, intake().to_string().as_bytes(), "corr-cred")
        .await
        .expect("intake accepted")
        .workflow
}

fn refreshed() -> Vec<u8> {
    json!({"api_credentials": {"odp_key": "odp-key-refreshed-2025"}})
        .to_string()
        .into_bytes()
}

async fn view(app: &TestApp, id: &str) -> osa_app::status::WorkflowView {
    workflow(&app.services, id)
        .await
        .expect("store")
        .expect("workflow")
}

async fn complete(app: &TestApp, id: &str, agent: AgentId) {
    let body = json!({"execution_status": "completed",
                      "execution_id": format!("exec-{}", agent.as_str()), "agent_data": sample_agent_data(),
                      "metadata": {"confidence_score": 0.8}});
    report_event(app, id, agent, body).await;
}

/// Requests to the OPAL trigger (the recording client sees nothing else here).
fn opal_triggers(app: &TestApp) -> usize {
    app.http
        .sent()
        .iter()
        .filter(|r| r.url == "http://opal.test/trigger")
        .count()
}

#[tokio::test]
async fn a_refused_key_pauses_the_workflow_without_trigger_or_deadlines() {
    let app = TestApp::new();
    app.optimizely.answer(OptimizelyService::Odp, Ok(401));
    let w = submit_intake(&app).await;
    assert_eq!(w.status(), WorkflowStatus::CredentialsInvalid);
    let pause = w.credentials_pause().expect("pause recorded");
    assert_eq!(
        pause.refused,
        vec![RefusedService {
            service: "odp".into(),
            status: 401
        }]
    );
    // Both given keys were checked once each: a 401 is never retried.
    let calls = app.optimizely.requests();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls.iter().any(|u| u.contains("/odp/")));
    assert!(calls.iter().any(|u| u.contains("/cmp/")));

    app.run_due_jobs().await;
    assert_eq!(opal_triggers(&app), 0, "no OPAL trigger while paused");

    // Even a deadline check that does run (say, a stale queue message) finds
    // nothing due. Far past every deadline and the 30-minute limit: nothing
    // times out.
    app.services
        .queue
        .enqueue(
            &Job::CheckDeadlines {
                workflow_id: w.id().to_owned(),
            },
            Duration::ZERO,
        )
        .await
        .expect("enqueue");
    app.advance_running_jobs(Duration::from_secs(2 * 3600), MINUTE)
        .await;
    let v = view(&app, w.id()).await;
    assert_eq!(v.status, WorkflowStatus::CredentialsInvalid);
    assert!(v.agents.iter().all(|a| a.status == AgentStatus::Pending));
    assert_eq!(opal_triggers(&app), 0);

    // No key anywhere in what is stored or shown.
    let shown = serde_json::to_string(&v).expect("json");
    assert!(!shown.contains(ODP_KEY) && !shown.contains(CMP_KEY));

    // Force Sync would run OPAL with the refused keys: refused until they are fresh.
    let sync = serde_json::json!({"client_context": {"workflow_id": w.id()}}).to_string();
    assert!(matches!(
        osa_app::sync::force_sync(&app.services, sync.as_bytes()).await,
        Err(osa_app::sync::SyncError::CredentialsInvalid(_))
    ));
    app.run_due_jobs().await;
    assert_eq!(opal_triggers(&app), 0);
}

#[tokio::test]
async fn refreshed_keys_resume_from_the_checkpoint_and_keep_results() {
    let app = TestApp::new();
    app.optimizely.answer(OptimizelyService::Odp, Ok(403));
    let w = submit_intake(&app).await;
    assert_eq!(w.status(), WorkflowStatus::CredentialsInvalid);

    // A stray result while paused is kept, and does not unpause the workflow.
    complete(&app, w.id(), AgentId::ContentReview).await;
    assert_eq!(
        view(&app, w.id()).await.status,
        WorkflowStatus::CredentialsInvalid
    );
    app.advance_running_jobs(Duration::from_secs(3600), MINUTE)
        .await;

    app.optimizely.answer(OptimizelyService::Odp, Ok(200));
    let resumed = resume(&app.services, w.id(), &refreshed())
        .await
        .expect("resumed");
    assert!(resumed.triggered);
    assert_eq!(resumed.workflow.status(), WorkflowStatus::Running);
    let pause = resumed.workflow.credentials_pause().expect("pause");
    assert!(pause.resumed_at.is_some() && pause.refused.is_empty());

    app.run_due_jobs().await;
    assert_eq!(opal_triggers(&app), 1, "the trigger went out once");

    // Deadlines count from the resume, not from the creation an hour ago.
    app.advance_running_jobs(Duration::from_secs(50), Duration::from_secs(10))
        .await;
    let v = view(&app, w.id()).await;
    assert!(
        v.agents.iter().all(|a| a.status != AgentStatus::TimedOut),
        "nothing timed out right after the resume"
    );
    assert_eq!(v.results.len(), 1, "the result from before is kept");

    for agent in AgentId::ALL
        .into_iter()
        .filter(|a| *a != AgentId::ContentReview)
    {
        complete(&app, w.id(), agent).await;
    }
    let v = view(&app, w.id()).await;
    assert_eq!(v.status, WorkflowStatus::Completed);
    assert_eq!(v.results.len(), AgentId::ALL.len());

    // And once resumed, it is no longer paused.
    assert!(matches!(
        resume(&app.services, w.id(), &refreshed()).await,
        Err(CredentialsError::NotPaused(WorkflowStatus::Completed))
    ));
}

#[tokio::test]
async fn after_a_resume_the_deadlines_run_again() {
    let app = TestApp::new();
    app.optimizely.answer(OptimizelyService::Cmp, Ok(401));
    let w = submit_intake(&app).await;
    app.advance_running_jobs(Duration::from_secs(3600), MINUTE)
        .await;
    app.optimizely.answer(OptimizelyService::Cmp, Ok(200));
    resume(&app.services, w.id(), &refreshed())
        .await
        .expect("resumed");
    app.run_due_jobs().await;
    // Every agent's maximum is at most 360 s: silent agents time out.
    app.advance_running_jobs(Duration::from_secs(400), Duration::from_secs(10))
        .await;
    let v = view(&app, w.id()).await;
    assert!(
        v.agents.iter().all(|a| a.status == AgentStatus::TimedOut),
        "{:?}",
        v.agents.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert_eq!(v.status, WorkflowStatus::Failed);
}

#[tokio::test]
async fn keys_still_refused_leave_it_paused() {
    let app = TestApp::new();
    app.optimizely.answer(OptimizelyService::Odp, Ok(401));
    let w = submit_intake(&app).await;
    let before = app.optimizely.requests().len();
    match resume(&app.services, w.id(), &refreshed()).await {
        Err(CredentialsError::StillInvalid(refused)) => assert_eq!(
            refused,
            vec![RefusedService {
                service: "odp".into(),
                status: 401
            }]
        ),
        other => panic!("expected StillInvalid, got {other:?}"),
    }
    assert_eq!(app.optimizely.requests().len(), before + 1);
    app.run_due_jobs().await;
    let v = view(&app, w.id()).await;
    assert_eq!(v.status, WorkflowStatus::CredentialsInvalid);
    assert!(
        v.credentials_pause
            .as_ref()
            .is_some_and(|p| p.last_checked_at.is_some())
    );
    assert_eq!(opal_triggers(&app), 0);
}

#[tokio::test]
async fn transient_failures_do_not_pause() {
    for outcome in [Ok(503), Err(OutboundError::Timeout)] {
        let app = TestApp::new();
        app.optimizely.answer(OptimizelyService::Odp, outcome);
        let w = submit_intake(&app).await;
        assert_eq!(w.status(), WorkflowStatus::Pending);
        assert!(w.credentials_pause().is_none());
        // Retried (3 attempts for odp), then carried on.
        let odp = app
            .optimizely
            .requests()
            .iter()
            .filter(|u| u.contains("/odp/"))
            .count();
        assert_eq!(odp, 3);
        app.run_due_jobs().await;
        assert_eq!(opal_triggers(&app), 1);
        assert_eq!(view(&app, w.id()).await.status, WorkflowStatus::Running);
    }
}

#[tokio::test]
async fn resume_refuses_bad_input_unknown_and_unpaused_workflows() {
    let app = TestApp::new();
    let w = submit_intake(&app).await; // keys accepted: not paused
    assert_eq!(w.status(), WorkflowStatus::Pending);
    assert!(matches!(
        resume(&app.services, w.id(), &refreshed()).await,
        Err(CredentialsError::NotPaused(WorkflowStatus::Pending))
    ));
    assert!(matches!(
        resume(&app.services, "no-such-workflow", &refreshed()).await,
        Err(CredentialsError::NotFound)
    ));
    for bad in [
        r#"{"api_credentials": {}}"#,
        r#"{"api_credentials": {"odp_key": " "}}"#,
        r#"{"api_credentials": {"ftp_key": "x"}}"#,
        r#"{"keys": {}}"#,
        "[]",
        "not json",
    ] {
        assert!(
            matches!(
                resume(&app.services, w.id(), bad.as_bytes()).await,
                Err(CredentialsError::Invalid(_))
            ),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_hanging_optimizely_costs_an_intake_its_budget_and_no_more() {
    let mut app = TestApp::new();
    app.optimizely.hang(OptimizelyService::Odp);
    let budget = Duration::from_millis(50);
    let mut config = (*app.services.config).clone();
    config.credentials_budget = budget;
    app.services.config = std::sync::Arc::new(config);

    let started = std::time::Instant::now();
    let submitted = tokio::time::timeout(
        Duration::from_secs(10),
        submit(&app.services, intake().to_string().as_bytes(), "corr-hang"),
    )
    .await
    .expect("the intake answers while Optimizely hangs")
    .expect("accepted");
    assert!(started.elapsed() >= budget, "it waited for the budget");
    // Unverified is not refused: the workflow starts and OPAL is triggered.
    assert_eq!(submitted.workflow.status(), WorkflowStatus::Pending);
    assert!(submitted.workflow.credentials_pause().is_none());
    assert!(
        app.optimizely
            .requests()
            .iter()
            .any(|url| url.contains("/odp")),
        "the hanging service was asked"
    );
    app.run_due_jobs().await;
    let view = workflow(&app.services, submitted.workflow.id())
        .await
        .expect("read")
        .expect("exists");
    assert!(view.trigger.accepted_at.is_some(), "OPAL was triggered");
}

#[tokio::test]
async fn a_paused_workflow_pages_no_one_and_a_resumed_one_counts_from_its_resume() {
    use osa_app::alerts::evaluate;
    let app = TestApp::new();
    app.optimizely.answer(OptimizelyService::Odp, Ok(401));
    let w = submit_intake(&app).await;
    assert_eq!(w.status(), WorkflowStatus::CredentialsInvalid);
    let timeouts = |notices: Vec<osa_domain::alerts::Notice>| {
        notices
            .into_iter()
            .filter(|n| n.rule_id == "strategy_workflow_timeout")
            .count()
    };
    assert_eq!(
        timeouts(evaluate(&app.services).await.expect("evaluate")),
        0
    );
    // Paused for 40 minutes: no deadline runs, so nothing is overdue.
    app.clock.advance(40 * MINUTE);
    assert_eq!(
        timeouts(evaluate(&app.services).await.expect("evaluate")),
        0,
        "a paused workflow is not a timed-out one"
    );
    // Resumed: its run counts from now, not from its creation 40 minutes ago.
    app.optimizely.answer(OptimizelyService::Odp, Ok(200));
    resume(&app.services, w.id(), &refreshed())
        .await
        .expect("resumed");
    app.run_due_jobs().await;
    app.clock.advance(10 * MINUTE);
    assert_eq!(
        timeouts(evaluate(&app.services).await.expect("evaluate")),
        0
    );
    // 31 minutes into its new run it is overdue.
    app.clock.advance(21 * MINUTE);
    assert_eq!(
        timeouts(evaluate(&app.services).await.expect("evaluate")),
        1
    );
}

/// Sends `body` (an event without its workflow and agent), signed, as OPAL would.
async fn report_event(app: &TestApp, id: &str, agent: AgentId, body: Value) {
    let mut event = body;
    event["workflow_id"] = json!(id);
    event["agent_id"] = json!(agent.as_str());
    app.send_webhook(&event).await;
}

#[tokio::test]
async fn a_key_refused_mid_run_pauses_and_a_resume_reruns_what_is_missing() {
    let app = TestApp::new();
    let w = submit_intake(&app).await;
    app.run_due_jobs().await;
    let running = view(&app, w.id()).await;
    assert_eq!(running.status, WorkflowStatus::Running);
    for agent in [AgentId::ContentReview, AgentId::GeoAudit] {
        complete(&app, w.id(), agent).await;
    }
    // The blueprinter's call to Optimizely Experimentation was refused.
    let blueprinter = AgentId::ExperimentBlueprinter;
    report_event(
        &app,
        w.id(),
        blueprinter,
        json!({"execution_status": "failed", "execution_id": "exec-bp-0",
               "metadata": {"error": "Experimentation API answered 401",
                            "optimizely_refused": {"service": "experimentation", "status": 401}}}),
    )
    .await;
    let paused = view(&app, w.id()).await;
    assert_eq!(paused.status, WorkflowStatus::CredentialsInvalid);
    let pause = paused.credentials_pause.clone().expect("the pause");
    assert_eq!(
        pause.refused,
        vec![RefusedService {
            service: "experimentation".into(),
            status: 401
        }]
    );
    // No deadline runs while paused.
    app.advance_running_jobs(20 * MINUTE, MINUTE).await;
    let still = view(&app, w.id()).await;
    assert_eq!(still.status, WorkflowStatus::CredentialsInvalid);
    assert!(
        still
            .agents
            .iter()
            .all(|a| a.status != AgentStatus::TimedOut),
        "{:?}",
        still.agents
    );

    // Refreshed keys: OPAL is asked to run again exactly the agents without a result.
    let before = opal_triggers(&app);
    let resumed = resume(&app.services, w.id(), &refreshed())
        .await
        .expect("resumed");
    assert!(resumed.triggered);
    assert_eq!(resumed.workflow.status(), WorkflowStatus::Running);
    assert_eq!(resumed.workflow.run(), 1);
    app.run_due_jobs().await;
    let sent = app.http.sent();
    let rerun = sent
        .iter()
        .filter(|r| r.url == "http://opal.test/trigger")
        .nth(before)
        .expect("a re-trigger");
    let body: Value = serde_json::from_slice(&rerun.body).expect("json");
    let agents: Vec<&str> = body["input_data"]["agents"]
        .as_array()
        .expect("agents")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(agents.len(), 7, "{agents:?}");
    assert!(agents.contains(&blueprinter.as_str()));
    assert!(!agents.contains(&AgentId::ContentReview.as_str()));
    let state = view(&app, w.id()).await;
    let agent = |id: AgentId| {
        state
            .agents
            .iter()
            .find(|a| a.agent == id)
            .cloned()
            .expect("agent")
    };
    assert_eq!(
        agent(AgentId::ContentReview).status,
        AgentStatus::Completed,
        "kept"
    );
    assert_eq!(
        agent(blueprinter).status,
        AgentStatus::Pending,
        "runs again"
    );
    assert_eq!(state.results.len(), 2, "results already in stay");

    // The rerun agents report: the workflow completes.
    for agent in AgentId::ALL {
        if [AgentId::ContentReview, AgentId::GeoAudit].contains(&agent) {
            continue;
        }
        report_event(
            &app,
            w.id(),
            agent,
            json!({"execution_status": "completed", "execution_id": format!("exec-{}-1", agent.as_str()),
                   "agent_data": sample_agent_data()}),
        )
        .await;
    }
    assert_eq!(view(&app, w.id()).await.status, WorkflowStatus::Completed);
}

#[test]
fn a_refusal_is_told_only_with_a_failure_and_a_known_service() {
    use osa_domain::event::parse_agent_event;
    let event = |status: &str, refused: Value| {
        json!({"workflow_id": "wf", "agent_id": "geo_audit", "execution_status": status,
               "metadata": {"optimizely_refused": refused}})
        .to_string()
    };
    assert!(
        parse_agent_event(event("failed", json!({"service": "odp", "status": 403})).as_bytes())
            .is_ok()
    );
    for bad in [
        event("started", json!({"service": "odp", "status": 401})),
        event("failed", json!({"service": "crm", "status": 401})),
        event("failed", json!({"service": "odp", "status": 500})),
    ] {
        assert!(parse_agent_event(bad.as_bytes()).is_err(), "{bad}");
    }
}
