//! The EventBridge bus on the local endpoint (see `osa_testkit::aws::endpoint`): events
//! published reach an SQS target through a rule matching source `osa`.

use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::Target;
use osa_app::ports::{DomainEvent, EventBus, OutboxItem};
use osa_aws::AwsClients;
use osa_aws::eventbridge::{EventBridgeBus, SOURCE};
use osa_aws::provision::ensure_queues;
use osa_domain::AgentId;
use osa_domain::run::AgentRun;
use osa_domain::workflow::{AgentStatus, WorkflowStatus};
use osa_testkit::aws::{CallCounter, endpoint, sdk_config, unique_name};
use serde_json::Value;
use time::macros::datetime;

/// A bus of its own with a rule sending every `osa` event to a queue of its own.
async fn bus_with_target(endpoint: &str) -> (AwsClients, String, String) {
    let clients = AwsClients::new(&sdk_config(endpoint).await);
    let bus = unique_name("bus");
    clients
        .eventbridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("create bus");
    let queues = ensure_queues(&clients.sqs, &unique_name("events"))
        .await
        .expect("queue");
    let rule = unique_name("rule");
    clients
        .eventbridge
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(serde_json::json!({"source": [SOURCE]}).to_string())
        .send()
        .await
        .expect("rule");
    clients
        .eventbridge
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(
            Target::builder()
                .id("queue")
                .arn(&queues.arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("target");
    (clients, bus, queues.url)
}

/// Receives from the target queue until `n` messages came or the deadline passed.
async fn delivered(sqs: &aws_sdk_sqs::Client, url: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut bodies = Vec::new();
    while bodies.len() < n && Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        for m in out.messages.unwrap_or_default() {
            bodies.push(serde_json::from_str(m.body().unwrap_or_default()).expect("json"));
        }
    }
    bodies
}

/// `n` outbox items, one event each.
fn events(n: usize) -> Vec<OutboxItem> {
    let at = datetime!(2026-11-25 10:00 UTC);
    (0..n)
        .flat_map(|i| {
            let workflow_id = format!("wf-{i}");
            let event = match i % 3 {
                0 => DomainEvent::WorkflowCreated {
                    workflow_id,
                    correlation_id: format!("corr-{i}"),
                    at,
                },
                1 => DomainEvent::AgentResultAccepted {
                    workflow_id,
                    agent: AgentId::GeoAudit,
                    event_id: format!("ev-{i}"),
                    agent_status: AgentStatus::Completed,
                    run: Some(AgentRun {
                        ran_ms: 61_000,
                        allowed_ms: 300_000,
                        over_allowance: false,
                    }),
                    at,
                },
                _ => DomainEvent::WorkflowFinished {
                    workflow_id,
                    status: WorkflowStatus::Partial,
                    at,
                },
            };
            OutboxItem::of_write(i as u64, vec![event])
        })
        .collect()
}

/// Each item arrived as its event's JSON with the item's id (`outbox_id`).
fn check(sent: &[OutboxItem], mut received: Vec<Value>) {
    assert_eq!(received.len(), sent.len(), "{received:#?}");
    received.sort_by_key(|b| b["detail"]["outbox_id"].as_str().map(str::to_owned));
    let mut sent: Vec<&OutboxItem> = sent.iter().collect();
    sent.sort_by_key(|i| i.id.clone());
    for (item, body) in sent.into_iter().zip(received) {
        assert_eq!(body["source"], SOURCE);
        assert_eq!(body["detail-type"], item.event.detail_type());
        let mut detail = serde_json::to_value(&item.event).expect("json");
        detail["outbox_id"] = Value::String(item.id.clone());
        assert_eq!(body["detail"], detail);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_events_reach_a_rule_target() {
    let Some(endpoint) = endpoint("published_events_reach_a_rule_target") else {
        return;
    };
    let (clients, bus, url) = bus_with_target(&endpoint).await;
    let publisher = EventBridgeBus::new(clients.eventbridge.clone(), bus);
    let sent = events(3);
    publisher.publish(&sent).await.expect("publish");
    check(&sent, delivered(&clients.sqs, &url, 3).await);
}

/// Twenty-three events: three `PutEvents` calls of at most ten entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_go_out_in_batches_of_ten() {
    let Some(endpoint) = endpoint("events_go_out_in_batches_of_ten") else {
        return;
    };
    let (clients, bus, url) = bus_with_target(&endpoint).await;
    let counter = CallCounter::default();
    let config = sdk_config(&endpoint).await;
    let client = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::config::Builder::from(&config)
            .interceptor(counter.clone())
            .build(),
    );
    let publisher = EventBridgeBus::new(client, bus);
    let sent = events(23);
    publisher.publish(&sent).await.expect("publish");
    assert_eq!(counter.snapshot().get("PutEvents"), Some(&3));
    publisher.publish(&[]).await.expect("nothing to publish");
    assert_eq!(counter.total(), 3);
    check(&sent, delivered(&clients.sqs, &url, 23).await);
}
