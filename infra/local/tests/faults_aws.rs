//! Faults on the AWS backend (issue 14, item 3), through the functions' own
//! routers (`intake::app`, `opal_webhook::app`, `status_api::app`) over
//! DynamoDB, SQS and EventBridge at the local endpoint (moto, started by
//! `source infra/moto.sh`), reached through a fault-injecting proxy
//! (`osa_testkit::fault_proxy`) that can take the endpoint down, stall it, or
//! throttle DynamoDB, and give it back, while moto keeps its state.
//!
//! The SDK clients are built by the production `adapters::aws::load_config`, so
//! its retry and timeout settings are the ones under test. What every fault must
//! give: a `503` with `Retry-After` and the JSON error, within the time budget
//! of an HTTP function (its Lambda timeout is 15 s; API Gateway's is 30 s);
//! nothing acknowledged that was not stored; and service back by itself, with
//! no restart, when the fault ends.

use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use osa_app::ports::AuditOutcome;
use osa_aws::{AwsClients, load_config};
use osa_domain::AgentId;
use osa_domain::access::scopes;
use osa_domain::workflow::WorkflowStatus;
use osa_testkit::aws::{app_on_aws, endpoint};
use osa_testkit::fault_proxy::{FaultProxy, Throttle};
use osa_testkit::samples::agent_event;
use osa_testkit::{Reply, TestApp, call, request};
use serde_json::{Value, json};

/// How long any request may take to answer while the endpoint is faulty: well
/// inside the HTTP functions' 15 s Lambda timeout.
const BUDGET: Duration = Duration::from_secs(10);

/// The application on AWS through the proxy, and its three HTTP functions.
struct OnAws {
    app: TestApp,
    proxy: FaultProxy,
    intake: Router,
    webhook: Router,
    status: Router,
    token: String,
}

impl OnAws {
    async fn start(endpoint: &str) -> OnAws {
        let proxy = FaultProxy::start(endpoint).await.expect("the fault proxy");
        // The production SDK configuration (retries, timeouts), at the proxy.
        let clients = AwsClients::new(&load_config(Some(proxy.url())).await);
        let app = app_on_aws(&clients, "faults").await;
        let token = app.token(&scopes::ALL);
        OnAws {
            intake: intake::app(app.services.clone()),
            webhook: opal_webhook::app(app.services.clone()),
            status: status_api::app(app.services.clone()),
            app,
            proxy,
            token,
        }
    }

    async fn submit(&self, body: &Value) -> Reply {
        let req = request("POST", "/api/strategy/intake")
            .bearer(self.token.as_str())
            .json(body);
        call(self.intake.clone(), req).await
    }

    async fn get(&self, path: &str) -> Reply {
        let req = request("GET", path).bearer(self.token.as_str()).empty();
        call(self.status.clone(), req).await
    }

    async fn send(&self, event: &Value) -> Reply {
        let body = event.to_string();
        let req = request("POST", "/api/webhooks/opal-workflow")
            .header("content-type", "application/json")
            .header("x-osa-signature", &self.app.sign(body.as_bytes()))
            .body(body);
        call(self.webhook.clone(), req).await
    }

    /// Starts the sample intake under `id`; answers 202.
    async fn start_workflow(&self, id: &str) {
        let reply = self.submit(&osa_testkit::samples::intake_with_id(id)).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    }

    async fn accepted_webhooks(&self, id: &str, agent: AgentId) -> usize {
        let audit = self
            .app
            .services
            .audit
            .audit_for_workflow(id, 500)
            .await
            .expect("audit");
        audit
            .iter()
            .filter(|e| e.agent_id.as_deref() == Some(agent.as_str()))
            .filter(|e| e.outcome == AuditOutcome::Accepted)
            .count()
    }
}

/// A `503` with `Retry-After: 1` and exactly the JSON error.
fn assert_unavailable(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        reply.text()
    );
    assert_eq!(
        reply
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1"),
        "{what}: Retry-After"
    );
    assert!(
        reply.content_type().starts_with("application/json"),
        "{what}"
    );
    assert_eq!(
        reply.json(),
        json!({"success": false, "error": {
            "code": "service_unavailable",
            "message": "storage is temporarily unavailable; retry later",
            "details": [],
        }}),
        "{what}"
    );
}

/// Runs `request`, asserts it answered within [`BUDGET`], and says how long it took.
async fn timed<F: std::future::Future<Output = Reply>>(
    what: &str,
    request: F,
) -> (Reply, Duration) {
    let started = Instant::now();
    let Ok(reply) = tokio::time::timeout(3 * BUDGET, request).await else {
        panic!("{what} did not answer within {:?}", 3 * BUDGET);
    };
    let took = started.elapsed();
    eprintln!("{what}: {} in {took:?}", reply.status);
    assert!(took < BUDGET, "{what} took {took:?}, over {BUDGET:?}");
    (reply, took)
}

/// Polls the status until it answers 200 (the endpoint is back), within `within`.
async fn until_served(aws: &OnAws, id: &str, within: Duration) -> (usize, Duration) {
    let started = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let reply = aws.get(&format!("/api/strategy/workflows/{id}")).await;
        if reply.status == StatusCode::OK {
            return (tries, started.elapsed());
        }
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            reply.text()
        );
        assert!(
            started.elapsed() < within,
            "service did not come back within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The endpoint stops in the middle of a run and comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_down_mid_run_answers_503_acknowledges_nothing_and_recovers() {
    let Some(endpoint) = endpoint("an_endpoint_down_mid_run") else {
        return;
    };
    let aws = OnAws::start(&endpoint).await;
    let id = uuid::Uuid::new_v4().to_string();
    aws.start_workflow(&id).await;
    let mut acknowledged = 0;
    for agent in AgentId::ALL {
        let reply = aws.send(&agent_event(&id, agent, "started")).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
        acknowledged += 1;
    }
    for agent in &AgentId::ALL[..4] {
        let reply = aws.send(&agent_event(&id, *agent, "completed")).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
        acknowledged += 1;
    }

    aws.proxy.down();
    let late = AgentId::ALL[4];
    let other = uuid::Uuid::new_v4().to_string();
    let other_intake = osa_testkit::samples::intake_with_id(&other);
    let (intake, intake_took) = timed("intake (down)", aws.submit(&other_intake)).await;
    assert_unavailable(&intake, "intake");
    let (hook, hook_took) = timed(
        "webhook (down)",
        aws.send(&agent_event(&id, late, "completed")),
    )
    .await;
    assert_unavailable(&hook, "webhook");
    let status_path = format!("/api/strategy/workflows/{id}");
    let (status, status_took) = timed("status (down)", aws.get(&status_path)).await;
    assert_unavailable(&status, "status");
    let report_path = format!("/api/strategy/workflows/{id}/report");
    let (report, report_took) = timed("report (down)", aws.get(&report_path)).await;
    assert_unavailable(&report, "report");
    let refused = aws.proxy.refused();
    assert!(refused > 0, "the requests met the stopped endpoint");

    aws.proxy.pass();
    let (tries, back_after) = until_served(&aws, &id, Duration::from_secs(10)).await;
    // The webhook answered 503 was not stored: now it is new (202), then a duplicate.
    let again = aws.send(&agent_event(&id, late, "completed")).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.text());
    assert_eq!(again.json()["duplicate"], false);
    let twice = aws.send(&agent_event(&id, late, "completed")).await;
    assert_eq!(twice.status, StatusCode::OK, "{}", twice.text());
    assert_eq!(twice.json()["duplicate"], true);
    assert_eq!(
        aws.accepted_webhooks(&id, late).await,
        2,
        "started + completed, once each"
    );
    // The intake answered 503 created nothing: now it creates its workflow.
    let created = aws.submit(&other_intake).await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text());
    assert_eq!(created.json()["created"], true);

    // The run goes on to the end, its data intact.
    for agent in &AgentId::ALL[5..] {
        let reply = aws.send(&agent_event(&id, *agent, "completed")).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    }
    let stored = aws
        .app
        .services
        .store
        .get_workflow(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status(), WorkflowStatus::Completed);
    let results = aws.app.services.store.get_results(&id).await.unwrap();
    assert_eq!(results.len(), AgentId::ALL.len());
    let mut lost = 0;
    for agent in &AgentId::ALL[..4] {
        if !results.iter().any(|r| r.agent == *agent) {
            lost += 1;
        }
    }
    assert_eq!(lost, 0, "an acknowledged webhook was lost");
    let report = aws.get(&report_path).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text());
    eprintln!(
        "endpoint down: 4 requests answered 503 (intake {intake_took:?}, webhook \
         {hook_took:?}, status {status_took:?}, report {report_took:?}); {refused} \
         connections refused; before the fault {acknowledged} webhooks acknowledged, \
         {lost} lost; served again after {tries} tries, {back_after:?}"
    );
}

/// The endpoint hangs (accepts, never answers): the SDK's timeouts end every
/// request inside the budget, and service comes back when it answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_endpoint_is_answered_503_within_the_budget() {
    let Some(endpoint) = endpoint("a_stalled_endpoint") else {
        return;
    };
    let aws = OnAws::start(&endpoint).await;
    let id = uuid::Uuid::new_v4().to_string();
    aws.start_workflow(&id).await;
    let agent = AgentId::ALL[0];

    aws.proxy.stall();
    let (hook, hook_took) = timed(
        "webhook (stalled)",
        aws.send(&agent_event(&id, agent, "started")),
    )
    .await;
    assert_unavailable(&hook, "webhook");
    let status_path = format!("/api/strategy/workflows/{id}");
    let (status, status_took) = timed("status (stalled)", aws.get(&status_path)).await;
    assert_unavailable(&status, "status");
    let other = osa_testkit::samples::intake_with_id(&uuid::Uuid::new_v4().to_string());
    let (intake, intake_took) = timed("intake (stalled)", aws.submit(&other)).await;
    assert_unavailable(&intake, "intake");

    aws.proxy.pass();
    let (tries, back_after) = until_served(&aws, &id, Duration::from_secs(10)).await;
    let again = aws.send(&agent_event(&id, agent, "started")).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.text());
    assert_eq!(aws.accepted_webhooks(&id, agent).await, 1);
    eprintln!(
        "endpoint stalled: webhook 503 in {hook_took:?}, status 503 in {status_took:?}, \
         intake 503 in {intake_took:?}; served again after {tries} tries, {back_after:?}"
    );
}

/// A few throttled DynamoDB answers, fewer than the SDK's attempts: the SDK
/// retries them and the request succeeds; the proxy saw every retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_throttling_below_the_attempt_budget_is_retried() {
    let Some(endpoint) = endpoint("dynamodb_throttling_below_the_attempt_budget") else {
        return;
    };
    let aws = OnAws::start(&endpoint).await;
    let id = uuid::Uuid::new_v4().to_string();
    aws.start_workflow(&id).await;
    let cases = [
        (
            AgentId::ALL[0],
            Throttle::ProvisionedThroughputExceeded,
            "TransactWriteItems",
        ),
        (AgentId::ALL[1], Throttle::Throttling, "BatchGetItem"),
    ];
    for (agent, kind, operation) in cases {
        let before = aws.proxy.requests_of(operation);
        let throttled = aws.proxy.throttled();
        aws.proxy.throttle_dynamodb(2, kind, Some(operation));
        let (reply, took) = timed(
            &format!("webhook ({operation} throttled twice)"),
            aws.send(&agent_event(&id, agent, "started")),
        )
        .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
        assert_eq!(aws.proxy.throttled() - throttled, 2, "{kind:?}");
        // At least: the outbox relay, woken by the commit, reads the table
        // too and may add its own requests of the same kind to the count.
        let sent = aws.proxy.requests_of(operation) - before;
        assert!(
            sent >= 3,
            "two throttled {operation}s and the one that went through, got {sent}"
        );
        assert_eq!(aws.accepted_webhooks(&id, agent).await, 1);
        eprintln!(
            "{} x{operation} throttled twice: {sent} sent, 202 in {took:?}",
            kind.code()
        );
    }
}

/// DynamoDB throttles every request: 503 with `Retry-After` inside the budget,
/// never 500; nothing is stored; service resumes when the throttling stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_dynamodb_throttling_is_answered_503_within_the_budget() {
    let Some(endpoint) = endpoint("persistent_dynamodb_throttling") else {
        return;
    };
    let aws = OnAws::start(&endpoint).await;
    let id = uuid::Uuid::new_v4().to_string();
    aws.start_workflow(&id).await;
    let agent = AgentId::ALL[0];
    let status_path = format!("/api/strategy/workflows/{id}");
    for kind in [
        Throttle::ProvisionedThroughputExceeded,
        Throttle::Throttling,
    ] {
        aws.proxy.throttle_dynamodb(u64::MAX, kind, None);
        let before = aws.proxy.throttled();
        let (hook, hook_took) = timed(
            &format!("webhook ({} always)", kind.code()),
            aws.send(&agent_event(&id, agent, "started")),
        )
        .await;
        assert_unavailable(&hook, "webhook");
        let hook_throttled = aws.proxy.throttled() - before;
        let before = aws.proxy.throttled();
        let (status, status_took) = timed(
            &format!("status ({} always)", kind.code()),
            aws.get(&status_path),
        )
        .await;
        assert_unavailable(&status, "status");
        let status_throttled = aws.proxy.throttled() - before;
        eprintln!(
            "{}: webhook 503 in {hook_took:?} after {hook_throttled} throttled requests; \
             status 503 in {status_took:?} after {status_throttled}",
            kind.code()
        );
        aws.proxy.stop_throttling();
    }
    // Nothing was stored; now the webhook is new, and is stored once.
    assert_eq!(aws.accepted_webhooks(&id, agent).await, 0);
    let reply = aws.send(&agent_event(&id, agent, "started")).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    assert_eq!(aws.accepted_webhooks(&id, agent).await, 1);
}
