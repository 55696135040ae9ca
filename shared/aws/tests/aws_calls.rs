//! What a webhook and a whole workflow cost on AWS, through the application
//! (not only the store): every DynamoDB, SQS and EventBridge call an intake and
//! eighteen webhooks (each agent starts, then completes) make, counted on the
//! local endpoint and printed per operation. The assertions pin today's counts,
//! so a change that adds a call per webhook fails here by name. An accepted
//! webhook is 2 DynamoDB calls: what it counts goes in its own transaction.
//!
//! Not counted: what the HTTP edge adds per request in front of the handler (the
//! shared rate-limit `UpdateItem` and the API-request metric `UpdateItem`).

use std::collections::BTreeMap;

use osa_app::intake::submit;
use osa_aws::AwsClients;
use osa_domain::AgentId;
use osa_domain::workflow::WorkflowStatus;
use osa_testkit::TestApp;
use osa_testkit::aws::{self, CallCounter, CapacityEstimate, endpoint, sdk_config};

/// A TestApp whose stateful ports are DynamoDB, SQS and EventBridge on the
/// local endpoint, every call counted per service.
async fn app_on_aws(endpoint: &str) -> (TestApp, [CallCounter; 3], CapacityEstimate) {
    let config = sdk_config(endpoint).await;
    let counters = [
        CallCounter::default(),
        CallCounter::default(),
        CallCounter::default(),
    ];
    let capacity = CapacityEstimate::default();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(counters[0].clone())
            .interceptor(capacity.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&config)
            .interceptor(counters[1].clone())
            .build(),
    );
    let eventbridge = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&config)
            .interceptor(counters[2].clone())
            .build(),
    );
    let clients = AwsClients {
        dynamodb,
        sqs,
        eventbridge,
    };
    let mut app = aws::app_on_aws(&clients, "calls").await;
    // As in Lambda: the table's stream feeds the relay (`outbox-relay`),
    // whose calls are counted on their own below.
    app.services.relay = std::sync::Arc::new(osa_app::outbox::RelayWake::background());
    for counter in &counters {
        counter.reset();
    }
    capacity.reset();
    (app, counters, capacity)
}

fn taken(counters: &[CallCounter; 3]) -> [BTreeMap<String, u64>; 3] {
    let calls = [
        counters[0].snapshot(),
        counters[1].snapshot(),
        counters[2].snapshot(),
    ];
    for counter in counters {
        counter.reset();
    }
    calls
}

fn total(calls: &BTreeMap<String, u64>) -> u64 {
    calls.values().sum()
}

fn print(what: &str, calls: &[BTreeMap<String, u64>; 3]) {
    eprintln!("{what}:");
    for (service, calls) in ["dynamodb", "sqs", "eventbridge"].iter().zip(calls) {
        for (operation, n) in calls {
            eprintln!("  {service:<12} {operation:<20} {n}");
        }
    }
}

/// What relaying a finish costs in DynamoDB calls: the workflow, its agents
/// and results read once (GetItem, 2 Query), the counts (the once-key's
/// GetItem, a transaction), the activity (the once-key's GetItem, the
/// counter's UpdateItem, a transaction), marking it relayed (UpdateItem).
const RELAYED_FINISH_CALLS: u64 = 9;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_webhook_and_a_workflow_cost_on_aws() {
    let Some(endpoint) = endpoint("what_a_webhook_and_a_workflow_cost_on_aws") else {
        return;
    };
    let (app, counters, capacity) = app_on_aws(&endpoint).await;
    let intake = osa_testkit::samples::intake();
    let id = submit(&app.services, intake.to_string().as_bytes(), "corr-calls")
        .await
        .expect("intake")
        .workflow
        .id()
        .to_owned();
    let intake_calls = taken(&counters);
    print("intake", &intake_calls);

    let mut per_webhook = Vec::new();
    let mut units = Vec::new();
    let mut workflow = [BTreeMap::new(), BTreeMap::new(), BTreeMap::new()];
    capacity.reset();
    for status in ["started", "completed"] {
        for agent in AgentId::ALL {
            app.send_agent_event(&id, agent, status).await;
            units.push(capacity.units());
            capacity.reset();
            let calls = taken(&counters);
            per_webhook.push(calls.iter().map(total).collect::<Vec<_>>());
            for (sum, calls) in workflow.iter_mut().zip(calls) {
                for (operation, n) in calls {
                    *sum.entry(operation).or_insert(0) += n;
                }
            }
        }
    }
    print("18 webhooks (each agent starts, then completes)", &workflow);
    let stored = app.services.store.get_workflow(&id).await.unwrap().unwrap();
    assert_eq!(stored.status(), WorkflowStatus::Completed);

    // Per accepted webhook: the store's read and its transaction, which also
    // counts the webhook (and an agent's end: its execution, duration and any
    // overrun), so nothing is counted after the write.
    let dynamodb: Vec<u64> = per_webhook.iter().map(|calls| calls[0]).collect();
    eprintln!("DynamoDB calls per accepted webhook: {dynamodb:?}");
    // What docs/performance.md's cost per million webhooks starts from.
    eprintln!("DynamoDB (write, read) units per accepted webhook, estimated: {units:?}");
    assert!(
        units
            .iter()
            .all(|(writes, reads)| *writes > 0 && *reads > 0),
        "every webhook reads and writes: {units:?}"
    );
    assert_eq!(workflow[0].get("BatchGetItem"), Some(&18), "one read each");
    assert_eq!(
        workflow[0].get("TransactWriteItems"),
        Some(&18),
        "one transaction each"
    );
    let (starts, ends) = dynamodb.split_at(9);
    assert!(
        starts.iter().all(|n| *n == 2),
        "read, transaction (with the webhook count): {dynamodb:?}"
    );
    assert!(
        ends.iter().all(|n| *n == 2),
        "read, transaction (with the webhook and the agent's end counted, and \
         the outbox items of what it raised; the last one's finish too): {dynamodb:?}"
    );
    // Publishing and what a finish causes are the relay's: never a webhook's.
    assert_eq!(total(&workflow[2]), 0, "{workflow:?}");
    assert_eq!(total(&workflow[1]), 0, "no queue call on a webhook");

    // The relay (`outbox-relay`, fed by the stream): each item published
    // once with its id and marked relayed; the finish also reads the workflow
    // and its report once, counts its duration and recommendations once (a
    // once-key's read and one transaction) and notes the activity once.
    // This workflow's items (the table may hold other runs' pending ones).
    let ours = app
        .services
        .outbox
        .workflow_outbox(&id)
        .await
        .expect("its outbox");
    taken(&counters);
    let mut relay_calls = Vec::new();
    for item in &ours {
        let done = osa_app::outbox::relay_items(&app.services, std::slice::from_ref(item))
            .await
            .expect("relayed");
        assert_eq!(done.relayed, 1);
        let calls = taken(&counters);
        relay_calls.push((item.event.detail_type(), calls));
    }
    for (kind, calls) in &relay_calls {
        print(&format!("relay of {kind}"), calls);
    }
    let kinds: Vec<&str> = relay_calls.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds.len(),
        20,
        "created, 18 agent changes, finished: {kinds:?}"
    );
    for (kind, calls) in &relay_calls {
        assert_eq!(calls[2].get("PutEvents"), Some(&1), "{kind}: {calls:?}");
        match *kind {
            "AgentResultAccepted" => assert_eq!(
                calls[0].get("UpdateItem"),
                Some(&1),
                "marked relayed, nothing else: {calls:?}"
            ),
            "WorkflowFinished" => assert_eq!(total(&calls[0]), RELAYED_FINISH_CALLS, "{calls:?}"),
            _ => {}
        }
    }
    // The workflow and its agents, and its outbox item, in one transaction;
    // the trigger delivery's put. Its activity and event are the relay's.
    assert_eq!(total(&intake_calls[0]), 2, "{intake_calls:?}");
    assert_eq!(
        intake_calls[1].get("SendMessage"),
        Some(&2),
        "trigger attempt and deadline check"
    );
}

/// The same webhooks on DynamoDB: each counted once, the recorded ones in the
/// event's own transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflows_webhooks_are_counted_exactly_on_aws() {
    let Some(endpoint) = endpoint("a_workflows_webhooks_are_counted_exactly_on_aws") else {
        return;
    };
    let (app, _, _) = app_on_aws(&endpoint).await;
    osa_testkit::counts::a_workflow_counts_exactly(&app).await;
}

/// The edge's shared rate limit on AWS: a busy client takes its tokens in
/// leases (1, 2, 4... up to a tenth of its minute), so 200 requests cost 9
/// store writes, not 200, and the limit still holds across the minute.
#[tokio::test]
async fn a_busy_client_pays_the_shared_rate_limit_in_leases() {
    use axum::http::StatusCode;
    use osa_http::rate_limit::RateLimitConfig;
    use osa_http::{EdgeConfig, with_edge_layers};
    use tower::ServiceExt;

    let Some(endpoint) = endpoint("a_busy_client_pays_the_shared_rate_limit_in_leases") else {
        return;
    };
    let (app, counters, _) = app_on_aws(&endpoint).await;
    let router = axum::Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
    let edge = EdgeConfig {
        cors_allowed_origins: Vec::new(),
        rate_limit: Some(RateLimitConfig {
            per_minute: 600,
            burst: 600,
            max_clients: 100,
        }),
    };
    let router = with_edge_layers(router, &app.services, edge);
    let mut served = 0;
    for _ in 0..200 {
        let request = osa_testkit::request("GET", "/ping")
            .header("x-forwarded-for", "203.0.113.7")
            .empty();
        let reply = router.clone().oneshot(request).await.expect("infallible");
        if reply.status() == StatusCode::OK {
            served += 1;
        }
    }
    assert_eq!(served, 200);
    let writes = counters[0]
        .snapshot()
        .get("UpdateItem (rate limit)")
        .copied();
    eprintln!("shared rate-limit writes for 200 requests: {writes:?}");
    // 1 + 2 + 4 + 8 + 16 + 32 + 60 + 60 + 60 = 243 tokens for 200 requests.
    assert_eq!(writes, Some(9));
}
