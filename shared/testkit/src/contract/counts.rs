//! What recorded events count, written by the store with the events
//! (`WorkflowStore::record_event_with`): exact under racing writers, whose lost
//! transactions are tried again and must count nothing the first time.

use std::sync::Arc;

use super::Store;
use super::fixtures::*;
use crate::clock::ManualClock;
use crate::counts::moved;
use osa_app::ports::{EventOutcome, MetricsStore};
use osa_domain::AgentId;
use osa_domain::event::AgentEvent;
use osa_domain::metrics::{EventMetrics, Family};
use osa_domain::pii::{Findings, RedactionMode};

/// Racing writers record two workflows' events, each sent three times (the
/// metrics store reads the counts the workflow store wrote): every accepted
/// event and every duplicate is counted once, and every agent's end once.
pub async fn racing_writers_count_each_event_once(
    store: &Store,
    metrics: &Arc<dyn MetricsStore>,
    clock: &ManualClock,
) {
    const TASKS: usize = 32;
    const COPIES: usize = 3;
    let mut distinct: Vec<AgentEvent> = Vec::new();
    for _ in 0..2 {
        let wf = created(store, clock).await;
        for agent in AgentId::ALL {
            distinct.push(started(wf.id(), agent));
            distinct.push(completed(wf.id(), agent));
        }
    }
    let attempts: Arc<Vec<AgentEvent>> =
        Arc::new((0..COPIES).flat_map(|_| distinct.clone()).collect());
    let before = metrics.snapshot().await.expect("snapshot");
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let template = attempt(clock);
    let counts = EventMetrics::webhook(0, Findings::default(), RedactionMode::Partial);
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (store, attempts, barrier) = (store.clone(), attempts.clone(), barrier.clone());
            let (template, counts) = (template.clone(), counts.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let mut outcomes = Vec::new();
                for ev in attempts.iter().skip(task).step_by(TASKS) {
                    let outcome = store
                        .record_event_with(ev, &template, Some(&counts))
                        .await
                        .expect("record_event_with");
                    outcomes.push(outcome);
                }
                outcomes
            })
        })
        .collect();
    let (mut accepted, mut duplicates, mut ends, mut timed) = (0.0, 0.0, 0.0, 0.0);
    for task in tasks {
        for outcome in task.await.expect("task") {
            match outcome {
                EventOutcome::Accepted {
                    agent_status,
                    state_changed,
                    run,
                    ..
                } => {
                    accepted += 1.0;
                    if state_changed && agent_status.is_terminal() {
                        ends += 1.0;
                        timed += f64::from(u8::from(run.is_some()));
                    }
                }
                EventOutcome::Duplicate { .. } => duplicates += 1.0,
                EventOutcome::UnknownWorkflow => panic!("the workflows exist"),
            }
        }
    }
    assert_eq!(accepted, 36.0);
    assert_eq!(duplicates, 72.0);
    assert_eq!(ends, 18.0, "every agent ends once");

    let after = metrics.snapshot().await.expect("snapshot");
    let moved = |family, filter: &[(&str, &str)]| moved(&before, &after, family, filter);
    let webhooks = Family::WebhookProcessingTotal;
    assert_eq!(moved(webhooks, &[("status", "accepted")]), accepted);
    assert_eq!(moved(webhooks, &[("status", "duplicate")]), duplicates);
    assert_eq!(moved(Family::AgentExecutionTotal, &[]), ends);
    assert_eq!(moved(Family::AgentExecutionDurationSeconds, &[]), timed);

    // Counting nothing counts nothing.
    let wf = created(store, clock).await;
    let before = metrics.snapshot().await.expect("snapshot");
    record(store, clock, &completed(wf.id(), AgentId::ALL[0])).await;
    let after = metrics.snapshot().await.expect("snapshot");
    assert_eq!(before, after);
}
