//! The outbox: what a workflow write raises is written with it, listed as
//! pending until relayed, and the once-keys make the relay's counts and
//! activity happen once however often it runs.

use std::sync::Arc;

use super::fixtures::*;
use crate::clock::ManualClock;
use osa_app::ports::{
    ActivityFeed, Clock, DomainEvent, MetricsStore, Outbox, OutboxItem, WorkflowStore,
};
use osa_domain::AgentId;
use osa_domain::activity::Activity;
use osa_domain::metrics::{Family, Observation};
use osa_domain::workflow::WorkflowStatus;

/// What the outbox contract holds an adapter to: the workflow store writes
/// the items, the outbox lists and marks them.
pub trait OutboxUnderTest: WorkflowStore + Outbox {}

impl<T: WorkflowStore + Outbox + ?Sized> OutboxUnderTest for T {}

pub type OutboxStore = Arc<dyn OutboxUnderTest>;

/// Every outbox case, one after another. `metrics` and `activity` are over
/// the same storage as `store`.
pub async fn outbox_suite(
    store: OutboxStore,
    metrics: Arc<dyn MetricsStore>,
    activity: Arc<dyn ActivityFeed>,
    clock: Arc<ManualClock>,
) {
    eprintln!("outbox contract: a_finish_is_written_with_its_write_and_relayed_once");
    a_finish_is_written_with_its_write_and_relayed_once(&store, &clock).await;
    eprintln!("outbox contract: a_transition_writes_its_events_with_the_workflow");
    a_transition_writes_its_events_with_the_workflow(&store, &clock).await;
    eprintln!("outbox contract: items_are_found_by_when_their_events_happened");
    items_are_found_by_when_their_events_happened(&store, &clock).await;
    eprintln!("outbox contract: once_keys_count_and_append_once");
    once_keys_count_and_append_once(&metrics, &activity).await;
    eprintln!("outbox contract: erasure_takes_the_workflows_items");
    erasure_takes_the_workflows_items(&store, &clock).await;
}

async fn pending_ids(store: &OutboxStore) -> Vec<String> {
    store
        .pending_outbox(10_000)
        .await
        .expect("pending_outbox")
        .into_iter()
        .map(|i| i.id)
        .collect()
}

async fn create(store: &OutboxStore, clock: &ManualClock) -> String {
    let (workflow, agents) = new_workflow(&unique_id(), clock.now());
    store
        .create_workflow(&workflow, &agents)
        .await
        .expect("create_workflow");
    workflow.id().to_owned()
}

pub async fn a_finish_is_written_with_its_write_and_relayed_once(
    store: &OutboxStore,
    clock: &ManualClock,
) {
    let id = create(store, clock).await;
    for agent in AgentId::ALL {
        clock.advance(SECOND);
        store
            .record_event(&completed(&id, agent), &attempt(clock))
            .await
            .expect("record_event");
    }
    // A duplicate raises nothing.
    store
        .record_event(&completed(&id, AgentId::ALL[0]), &attempt(clock))
        .await
        .expect("record_event");
    let items = store.workflow_outbox(&id).await.expect("workflow_outbox");
    let kinds: Vec<&str> = items.iter().map(|i| i.event.detail_type()).collect();
    let mut want = vec!["WorkflowCreated"];
    want.extend(["AgentResultAccepted"; 9]);
    want.push("WorkflowFinished");
    assert_eq!(kinds, want, "{items:?}");
    let mut ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), items.len(), "every item has an id of its own");
    let finished = items.last().expect("the finish");
    assert!(matches!(
        finished.event,
        DomainEvent::WorkflowFinished {
            status: WorkflowStatus::Completed,
            ..
        }
    ));
    // The finish and the ninth agent's result are one write: one version.
    let version = |item: &OutboxItem| item.id.rsplit(':').nth(1).map(str::to_owned);
    assert_eq!(version(finished), version(&items[items.len() - 2]));

    let pending = pending_ids(store).await;
    for item in &items {
        assert!(pending.contains(&item.id), "{} is pending", item.id);
    }
    for item in &items {
        store.outbox_done(item).await.expect("outbox_done");
    }
    // Marked twice: harmless.
    store
        .outbox_done(finished)
        .await
        .expect("outbox_done again");
    let pending = pending_ids(store).await;
    for item in &items {
        assert!(!pending.contains(&item.id), "{} was relayed", item.id);
    }
    // Relayed items are kept (in their workflow's list), unchanged.
    assert_eq!(store.workflow_outbox(&id).await.expect("listed"), items);
}

/// A replay's read: relayed or not, across days, the earliest first.
pub async fn items_are_found_by_when_their_events_happened(
    store: &OutboxStore,
    clock: &ManualClock,
) {
    let day = std::time::Duration::from_secs(86_400);
    // Later than anything earlier cases wrote.
    clock.advance(day * 10);
    let t_a = clock.now();
    let a = create(store, clock).await;
    // Relayed: out of the pending list, still found by time.
    for item in store.workflow_outbox(&a).await.expect("listed") {
        store.outbox_done(&item).await.expect("outbox_done");
    }
    clock.advance(day * 2);
    let t_b = clock.now();
    let b = create(store, clock).await;
    clock.advance(SECOND);
    let t_b_event = clock.now();
    store
        .record_event(&completed(&b, AgentId::ALL[0]), &attempt(clock))
        .await
        .expect("record_event");

    let found = |since, until, limit| async move {
        store
            .outbox_between(since, until, limit)
            .await
            .expect("outbox_between")
            .into_iter()
            .map(|i| (i.workflow_id().to_owned(), i.event.detail_type()))
            .collect::<Vec<_>>()
    };
    let ours = |list: Vec<(String, &'static str)>| {
        list.into_iter()
            .filter(|(w, _)| *w == a || *w == b)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ours(found(t_a, t_b_event, 100).await),
        vec![
            (a.clone(), "WorkflowCreated"),
            (b.clone(), "WorkflowCreated"),
            (b.clone(), "AgentResultAccepted"),
        ],
        "relayed or not, over three days, the earliest first, both ends included"
    );
    assert_eq!(
        ours(found(t_a, t_a, 100).await),
        vec![(a.clone(), "WorkflowCreated")]
    );
    assert_eq!(
        ours(found(t_b, t_b_event, 1).await),
        vec![(b.clone(), "WorkflowCreated")],
        "at most the limit, the earliest"
    );
    assert!(
        found(t_b_event, t_a, 100).await.is_empty(),
        "a window backwards is empty"
    );
}

pub async fn a_transition_writes_its_events_with_the_workflow(
    store: &OutboxStore,
    clock: &ManualClock,
) {
    let id = create(store, clock).await;
    store
        .record_event(&started(&id, AgentId::ALL[0]), &attempt(clock))
        .await
        .expect("record_event");
    clock.advance(std::time::Duration::from_secs(31 * 60));
    let now = clock.now();
    let updated = store
        .update_workflow(&id, &|w| w.expire(now, 1.0).is_some())
        .await
        .expect("update_workflow")
        .expect("the workflow");
    assert_eq!(updated.status(), WorkflowStatus::TimedOut);
    let items = store.workflow_outbox(&id).await.expect("workflow_outbox");
    let finished: Vec<&OutboxItem> = items
        .iter()
        .filter(|i| matches!(i.event, DomainEvent::WorkflowFinished { .. }))
        .collect();
    assert_eq!(finished.len(), 1, "{items:?}");
    assert_eq!(
        finished[0].id,
        format!("{id}:{}:0", updated.version()),
        "named by the write that raised it"
    );
    // A change that raises nothing writes nothing to the outbox.
    store
        .update_workflow(&id, &|w| w.expire(now, 1.0).is_some())
        .await
        .expect("update_workflow");
    assert_eq!(store.workflow_outbox(&id).await.expect("listed"), items);
}

pub async fn once_keys_count_and_append_once(
    metrics: &Arc<dyn MetricsStore>,
    activity: &Arc<dyn ActivityFeed>,
) {
    let key = unique_id();
    let observation = Observation::observe(
        Family::WorkflowProcessingDurationSeconds,
        &["workflow", "completed"],
        12.0,
    )
    .expect("an observation");
    let count = |snapshot: osa_domain::metrics::Snapshot| {
        snapshot
            .render()
            .lines()
            .filter(|l| {
                l.starts_with("osal_workflow_processing_duration_seconds_count{")
                    && l.contains("status=\"completed\"")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let before = count(metrics.snapshot().await.expect("snapshot"));
    let obs = std::slice::from_ref(&observation);
    assert!(metrics.record_once(&key, obs).await.expect("record_once"));
    assert!(!metrics.record_once(&key, obs).await.expect("record_once"));
    let after = count(metrics.snapshot().await.expect("snapshot"));
    assert_eq!(after - before, 1.0, "counted once");

    let entry = Activity::WorkflowFinished {
        workflow_id: unique_id(),
        status: WorkflowStatus::Completed,
        at: time::OffsetDateTime::UNIX_EPOCH,
    };
    let first = activity
        .append_activity_once(&key, &entry)
        .await
        .expect("append_activity_once");
    assert!(first.is_some());
    assert_eq!(
        activity
            .append_activity_once(&key, &entry)
            .await
            .expect("append_activity_once"),
        None
    );
    let seq = first.unwrap_or_default();
    let appended = activity
        .activity_after(seq - 1, 10)
        .await
        .expect("activity_after");
    assert_eq!(appended.first(), Some(&(seq, entry)));
}

pub async fn erasure_takes_the_workflows_items(store: &OutboxStore, clock: &ManualClock) {
    let id = create(store, clock).await;
    assert_eq!(store.workflow_outbox(&id).await.expect("listed").len(), 1);
    store.erase_workflow(&id).await.expect("erase_workflow");
    assert!(store.workflow_outbox(&id).await.expect("listed").is_empty());
    let created = OutboxItem::of_write(
        0,
        vec![DomainEvent::WorkflowCreated {
            workflow_id: id.clone(),
            correlation_id: "c".into(),
            at: clock.now(),
        }],
    );
    assert!(!pending_ids(store).await.contains(&created[0].id));
    // Marking an erased item relayed does not bring it back.
    store.outbox_done(&created[0]).await.expect("outbox_done");
    assert!(store.workflow_outbox(&id).await.expect("listed").is_empty());
}
