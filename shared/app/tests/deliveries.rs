//! Outbound deliveries end to end through the application services, with a manual
//! clock and a scripted outbound client: retries on the backoff schedule, the
//! dead-letter queue, redrive, and the OPAL trigger's effect on its workflow.
//! Time only moves when a test moves it.

use std::time::Duration;

use osa_app::delivery::dead_letter::{dead_letters, redrive, redrive_all, show};
use osa_app::jobs;
use osa_app::ports::delay_until;
use osa_app::ports::{Clock, OutboundError};
use osa_app::status::workflow;
use osa_domain::AgentId;
use osa_domain::delivery::{Delivery, DeliveryStatus, MAX_ATTEMPTS};
use osa_domain::metrics::Family;
use osa_domain::workflow::{AgentStatus, Workflow, WorkflowStatus};
use osa_testkit::TestApp;
use osa_testkit::contract::sample_agent_data;
use serde_json::json;
use uuid::Uuid;

const STEP: Duration = Duration::from_millis(100);

async fn new_workflow(app: &TestApp) -> String {
    app.start_workflow().await
}

async fn trigger_of(app: &TestApp, workflow_id: &str) -> Delivery {
    let wf = app
        .services
        .store
        .get_workflow(workflow_id)
        .await
        .expect("store")
        .expect("workflow");
    let id = wf
        .trigger()
        .delivery_id
        .clone()
        .expect("the workflow names its trigger");
    app.services
        .deliveries
        .get_delivery(Uuid::parse_str(&id).expect("a uuid"))
        .await
        .expect("store")
        .expect("the delivery exists")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Every attempt after the first was sent exactly when it came due (the queue
/// delay rounds up to whole seconds), after `min(2^(n-1) s + jitter, 300 s)`.
fn assert_backoff_schedule(d: &Delivery) {
    for pair in d.attempts.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let due = before
            .next_attempt_at
            .expect("a failed attempt schedules the next");
        let delay = due - before.at;
        let base = 1i64 << (before.number - 1);
        assert!(
            delay >= time::Duration::seconds(base) && delay <= time::Duration::seconds(base + 1),
            "attempt {}: delay {delay} not within {base}..={} s",
            before.number,
            base + 1
        );
        assert_eq!(
            after.at,
            before.at + delay_until(before.at, due),
            "attempt {} sent when due, not earlier or later",
            after.number
        );
    }
}

#[tokio::test]
async fn a_target_failing_three_times_is_delivered_on_the_fourth_attempt_on_schedule() {
    let app = TestApp::new();
    app.http.respond_in_order([
        Err(OutboundError::Connect("refused".into())),
        Ok(500),
        Ok(503),
    ]);
    let id = new_workflow(&app).await;
    let created = app.clock.now();
    app.run_due_jobs().await;
    assert_eq!(
        app.http.sent().len(),
        1,
        "the first attempt goes out at once"
    );
    app.advance_running_jobs(Duration::from_secs(30), STEP)
        .await;

    let d = trigger_of(&app, &id).await;
    assert!(
        matches!(d.status, DeliveryStatus::Delivered { .. }),
        "{:?}",
        d.status
    );
    assert_eq!(d.attempts.len(), 4, "delivered on attempt N+1");
    assert_eq!(d.attempts[0].at, created);
    assert_eq!(
        d.attempts[0].error.as_deref(),
        Some("could not connect: refused")
    );
    assert_eq!(d.attempts[1].status_code, Some(500));
    assert_eq!(d.attempts[2].status_code, Some(503));
    assert_eq!(d.attempts[3].status_code, Some(202));
    assert_eq!(d.attempts[3].next_attempt_at, None);
    assert_backoff_schedule(&d);

    // One POST per attempt, all with the same X-Webhook-ID.
    let sent = app.http.sent();
    assert_eq!(sent.len(), 4);
    for (n, request) in sent.iter().enumerate() {
        let h = &request.headers;
        let webhook_id = d.id.to_string();
        assert_eq!(header(h, "X-Webhook-ID"), Some(webhook_id.as_str()));
        let attempt = (n + 1).to_string();
        assert_eq!(header(h, "X-Delivery-Attempt"), Some(attempt.as_str()));
        assert_eq!(header(h, "Authorization"), Some("Bearer opal-test-key"));
        assert_eq!(header(h, "Content-Type"), Some("application/json"));
        assert!(header(h, "User-Agent").is_some_and(|ua| ua.starts_with("osa/")));
        assert_eq!(request.timeout, Duration::from_secs(45));
        assert_eq!(request.url, "http://opal.test/trigger");
        let body: serde_json::Value = serde_json::from_slice(&request.body).expect("json");
        assert_eq!(body["workflow_name"], "strategy_workflow");
        assert_eq!(body["input_data"]["workflow_id"], id.as_str());
        assert_eq!(body["metadata"]["correlation_id"], "corr-test");
        assert!(body["metadata"]["span_id"].is_string());
    }

    let wf = app.services.store.get_workflow(&id).await.unwrap().unwrap();
    assert_eq!(wf.status(), WorkflowStatus::Running);
    assert_eq!(wf.trigger().accepted_at, Some(d.attempts[3].at));
    assert_eq!(wf.trigger().attempts, 4);
    assert_eq!(wf.trigger().last_error, None);
    // Stored and listed forms never hold the key.
    let stored = serde_json::to_string(&d).unwrap();
    assert!(!stored.contains("opal-test-key"));
}

/// Submits a workflow whose trigger never gets through, and runs the clock until
/// the trigger is dead-lettered. Returns the workflow id and the delivery.
async fn dead_lettered_trigger(app: &TestApp) -> (String, Delivery) {
    app.http
        .respond_with(Err(OutboundError::Connect("connection refused".into())));
    let id = new_workflow(app).await;
    app.run_due_jobs().await;
    app.advance_running_jobs(Duration::from_secs(40), STEP)
        .await;
    let d = trigger_of(app, &id).await;
    (id, d)
}

#[tokio::test]
async fn an_always_failing_target_is_dead_lettered_after_exactly_five_attempts() {
    let app = TestApp::new();
    let (id, d) = dead_lettered_trigger(&app).await;
    let reason = "5 attempts failed; last: could not connect: connection refused";
    match &d.status {
        DeliveryStatus::DeadLettered { reason: r, .. } => assert_eq!(r, reason),
        other => panic!("expected dead-lettered, got {other:?}"),
    }
    assert_eq!(d.attempts.len() as u32, MAX_ATTEMPTS);
    assert_eq!(app.http.sent().len(), 5, "exactly five POSTs");
    assert!(d.attempts.iter().all(|a| a.error.is_some()));
    assert_eq!(d.attempts[4].next_attempt_at, None);
    assert_backoff_schedule(&d);

    // Nothing more is sent, however long we wait.
    app.advance_running_jobs(Duration::from_secs(600), Duration::from_secs(10))
        .await;
    assert_eq!(app.http.sent().len(), 5);

    // Listed, shown with its history, counted for alerting.
    let listed = dead_letters(&app.services, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, d.id);
    assert_eq!(listed[0].reason, reason);
    assert_eq!(listed[0].attempts, 5);
    assert_eq!(listed[0].workflow_id.as_deref(), Some(id.as_str()));
    let shown = show(&app.services, d.id).await.unwrap().expect("shown");
    let shown = serde_json::to_value(shown).expect("serialisable");
    assert_eq!(shown["history"].as_array().map(Vec::len), Some(5));
    assert_eq!(shown["status"]["state"], "dead_lettered");
    assert!(!shown.to_string().contains("opal-test-key"));
    assert_eq!(dead_letters_counted(&app).await, 1.0);

    // The workflow says why it did not start.
    let view = workflow(&app.services, &id).await.unwrap().expect("view");
    assert_eq!(view.status, WorkflowStatus::Failed);
    assert!(view.finished_at.is_some());
    assert_eq!(
        view.trigger.dead_lettered_delivery_id.as_deref(),
        Some(d.id.to_string().as_str())
    );
    let error = view.trigger.last_error.clone().expect("a reason");
    assert!(error.starts_with("failed to start"), "{error}");
    assert!(error.contains(reason), "{error}");
    assert_eq!(view.trigger.attempts, 5);
    assert!(view.agents.iter().all(|a| a.status == AgentStatus::Pending));
}

#[tokio::test]
async fn a_redrive_delivers_and_the_workflow_gets_back_on_track() {
    let app = TestApp::new();
    let (id, d) = dead_lettered_trigger(&app).await;
    // The operator comes back 40 minutes later, after the target is up again:
    // past the 30-minute limit counted from creation.
    app.clock.advance(Duration::from_secs(40 * 60));
    app.http.respond_with(Ok(202));
    let redriven = redrive(&app.services, d.id).await.expect("redriven");
    assert_eq!(redriven.status, DeliveryStatus::Pending);
    assert!(
        redrive(&app.services, d.id).await.is_err(),
        "only a dead letter can be redriven"
    );
    app.run_due_jobs().await;

    let d = trigger_of(&app, &id).await;
    assert!(matches!(d.status, DeliveryStatus::Delivered { .. }));
    assert_eq!(d.redrives, 1);
    assert_eq!(d.attempts.len(), 1, "a fresh attempt count");
    assert_eq!(d.previous_attempts.len(), 5, "the old history kept");
    let sent = app.http.sent();
    assert_eq!(sent.len(), 6);
    let last = &sent[5].headers;
    assert_eq!(header(last, "X-Delivery-Attempt"), Some("1"));
    let webhook_id = d.id.to_string();
    assert_eq!(header(last, "X-Webhook-ID"), Some(webhook_id.as_str()));
    assert!(dead_letters(&app.services, 10).await.unwrap().is_empty());
    assert_eq!(
        dead_letters_counted(&app).await,
        1.0,
        "a redrive that succeeds leaves the count of dead letters as it was"
    );

    let wf = app.services.store.get_workflow(&id).await.unwrap().unwrap();
    assert_eq!(wf.status(), WorkflowStatus::Running);
    assert_eq!(wf.finished_at(), None);
    assert_eq!(wf.trigger().dead_lettered_delivery_id, None);
    assert_eq!(wf.trigger().last_error, None);
    assert_eq!(wf.trigger().restarted_at, Some(app.clock.now()));
    assert_eq!(wf.trigger().attempts, 6);

    // Eight agents report; one stays silent. The deadline chain runs again: the
    // silent agent times out and the workflow ends partial instead of hanging.
    for agent in AgentId::ALL.iter().skip(1) {
        let body = json!({"workflow_id": id, "agent_id": agent.as_str(),
                          "execution_status": "completed", "execution_id": format!("x-{agent}"),
                          "agent_data": sample_agent_data()});
        app.send_webhook(&body).await;
    }
    let wf = app.services.store.get_workflow(&id).await.unwrap().unwrap();
    assert_eq!(
        wf.status(),
        WorkflowStatus::Running,
        "not timed out on arrival"
    );
    app.advance_running_jobs(Duration::from_secs(400), Duration::from_secs(5))
        .await;
    let view = workflow(&app.services, &id).await.unwrap().expect("view");
    assert_eq!(view.status, WorkflowStatus::Partial);
    let silent = view
        .agents
        .iter()
        .find(|a| a.agent == AgentId::ALL[0])
        .expect("agent");
    assert_eq!(silent.status, AgentStatus::TimedOut);
}

#[tokio::test]
async fn a_redelivered_queue_message_records_nothing_twice() {
    let app = TestApp::new();
    app.http.respond_with(Ok(500));
    let id = new_workflow(&app).await;
    let jobs = app
        .services
        .queue
        .receive(10, Duration::from_secs(30))
        .await
        .unwrap();
    let deliver: Vec<_> = jobs
        .iter()
        .filter(|j| matches!(j.job, osa_app::ports::Job::Deliver { .. }))
        .collect();
    assert_eq!(deliver.len(), 1, "{jobs:?}");
    let job = &deliver[0].job;
    jobs::run(&app.services, job).await.expect("ran");
    // The same message again (its ack was lost, say), now and later.
    jobs::run(&app.services, job).await.expect("acked");
    app.clock.advance(Duration::from_millis(500));
    jobs::run(&app.services, job).await.expect("acked");
    assert_eq!(app.http.sent().len(), 1, "sent once");
    let d = trigger_of(&app, &id).await;
    assert_eq!(d.attempts.len(), 1, "recorded once");
    let wf = app.services.store.get_workflow(&id).await.unwrap().unwrap();
    assert_eq!(wf.trigger().attempts, 1);

    // Exactly one next attempt was queued: the rest of the run sends one POST per
    // attempt, no more.
    for j in &jobs {
        app.services.queue.ack(&j.receipt).await.unwrap();
    }
    app.advance_running_jobs(Duration::from_secs(40), STEP)
        .await;
    let d = trigger_of(&app, &id).await;
    assert_eq!(d.attempts.len(), 5);
    assert_eq!(app.http.sent().len(), 5);
    // A message of the finished run changes nothing either.
    jobs::run(&app.services, job).await.expect("acked");
    assert_eq!(app.http.sent().len(), 5);
    assert_eq!(trigger_of(&app, &id).await, d);
    assert_eq!(dead_letters_counted(&app).await, 1.0, "counted once");
}

#[tokio::test]
async fn redrive_all_moves_every_dead_letter_back() {
    let app = TestApp::new();
    let (first, _) = dead_lettered_trigger(&app).await;
    let (second, _) = dead_lettered_trigger(&app).await;
    assert_eq!(dead_letters(&app.services, 10).await.unwrap().len(), 2);
    app.http.respond_with(Ok(201));
    let done = redrive_all(&app.services).await.expect("redriven");
    assert_eq!(done.redriven.len(), 2);
    assert!(done.skipped.is_empty());
    app.run_due_jobs().await;
    for id in [first, second] {
        let wf = app.services.store.get_workflow(&id).await.unwrap().unwrap();
        assert_eq!(wf.status(), WorkflowStatus::Running, "{id}");
    }
    assert!(dead_letters(&app.services, 10).await.unwrap().is_empty());
}

/// A `trigger_opal` message queued by an older build becomes a delivery.
#[tokio::test]
async fn a_legacy_trigger_job_becomes_a_delivery() {
    let app = TestApp::new();
    let id = new_workflow(&app).await;
    // Forget the delivery the intake made: store the workflow as an older build
    // wrote it.
    let stored = app.services.store.get_workflow(&id).await.unwrap().unwrap();
    let mut doc = serde_json::to_value(&stored).unwrap();
    doc["trigger"]["delivery_id"].take();
    let older: Workflow = serde_json::from_value(doc).unwrap();
    assert_eq!(older.trigger().delivery_id, None);
    app.services
        .store
        .update_workflow(&id, &|w| {
            *w = older.clone();
            true
        })
        .await
        .unwrap();
    let legacy = osa_app::ports::Job::TriggerOpal {
        workflow_id: id.clone(),
    };
    jobs::run(&app.services, &legacy).await.expect("ran");
    assert_eq!(app.http.sent().len(), 1);
    let d = trigger_of(&app, &id).await;
    assert!(matches!(d.status, DeliveryStatus::Delivered { .. }));
    let wf = app.services.store.get_workflow(&id).await.unwrap().unwrap();
    assert_eq!(wf.status(), WorkflowStatus::Running);
    // Again: nothing more.
    jobs::run(&app.services, &legacy).await.expect("ran");
    assert_eq!(app.http.sent().len(), 1);
}

#[tokio::test]
async fn a_redrive_whose_queueing_crashed_is_repaired_by_the_sweep() {
    use osa_app::delivery::repair_stalled;
    use osa_domain::delivery::STALL_GRACE;
    let app = TestApp::new();
    let (id, d) = dead_lettered_trigger(&app).await;
    app.http.respond_with(Ok(202));
    // The redrive is saved, then the queue fails: the process "crashes" there.
    let mut crashing = app.services.clone();
    crashing.queue = std::sync::Arc::new(osa_testkit::DownQueue);
    assert!(redrive(&crashing, d.id).await.is_err());
    let saved = trigger_of(&app, &id).await;
    assert_eq!(
        saved.status,
        DeliveryStatus::Pending,
        "the redrive was saved"
    );
    // Nothing was queued: nothing is sent, however long we wait.
    app.advance_running_jobs(Duration::from_secs(120), STEP)
        .await;
    assert_eq!(app.http.sent().len(), 5);
    // Not overdue yet: the sweep leaves it.
    assert_eq!(repair_stalled(&app.services).await.unwrap(), 0);
    // Past the grace, the sweep queues the redrive's first attempt again...
    app.clock.advance(STALL_GRACE);
    assert_eq!(repair_stalled(&app.services).await.unwrap(), 1);
    // A minute later, its message not yet worked (the worker is down): the
    // sweep does not queue it a second time within the grace period.
    app.clock.advance(Duration::from_secs(60));
    assert_eq!(repair_stalled(&app.services).await.unwrap(), 0);
    app.run_due_jobs().await;
    assert_eq!(app.http.sent().len(), 6, "the redriven attempt went out");
    let delivered = trigger_of(&app, &id).await;
    assert!(
        matches!(delivered.status, DeliveryStatus::Delivered { .. }),
        "{:?}",
        delivered.status
    );
    // ...once: a delivered delivery is never overdue.
    app.clock.advance(STALL_GRACE * 2);
    assert_eq!(repair_stalled(&app.services).await.unwrap(), 0);
    let view = workflow(&app.services, &id).await.unwrap().expect("view");
    assert_eq!(view.status, WorkflowStatus::Running, "back on track");
}

/// `osal_deliveries_dead_lettered_total`, which the delivery alert watches.
async fn dead_letters_counted(app: &TestApp) -> f64 {
    app.services
        .metrics
        .snapshot()
        .await
        .expect("snapshot")
        .total(Family::DeliveriesDeadLetteredTotal, &[])
}
