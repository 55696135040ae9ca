//! The outbox's relay: does, at least once, what a committed change must
//! cause. The `WorkflowStore` writes each `OutboxItem` in the same atomic write
//! as the change that raised its event; the relay publishes the event (with
//! the item's id) and does what it leads to: a finished workflow's duration
//! and strategy metrics (once per item id), its result-ready notification (a
//! delivery whose id is derived from the item's) and the activity entry (once
//! per item id). Only then is the item marked relayed, so a crash anywhere in
//! between relays it again, and a repeat changes nothing downstream.
//!
//! Who relays: `osa serve`'s relay loop ([`run_loop`]: what a crash left
//! pending at start-up, then whenever a commit wakes it), the `outbox-relay`
//! function on AWS (the table's stream, [`relay_items`]), and the scheduled
//! sweep ([`relay_pending`]); where none runs (tests), the request that
//! committed relays before it answers ([`RelayWake::inline`]).

use std::sync::Arc;
use std::time::Duration;

use osa_domain::activity::Activity;
use osa_domain::workflow::WorkflowStatus;
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::{Services, metrics, notify, status};
use crate::ports::{BusError, DomainEvent, OutboxItem, StoreError};

/// Items relayed in one pass at most.
pub const BATCH: usize = 64;

/// Why an item was not relayed (it stays pending, and is tried again).
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("result notification not created: {0}")]
    Notification(String),
}

/// How a process's commits reach the relay.
#[derive(Debug)]
pub struct RelayWake {
    inline: bool,
    notify: Notify,
}

impl Default for RelayWake {
    fn default() -> Self {
        RelayWake::inline()
    }
}

impl RelayWake {
    /// No relay runs beside the requests: the request that committed relays
    /// what is pending before it answers (tests; a process without a loop).
    pub fn inline() -> Self {
        RelayWake {
            inline: true,
            notify: Notify::new(),
        }
    }

    /// A relay runs on its own ([`run_loop`], or the stream function): a
    /// commit only wakes it, and answers at once.
    pub fn background() -> Self {
        RelayWake {
            inline: false,
            notify: Notify::new(),
        }
    }
}

/// Tells the relay a change that raised `events` committed: wakes the loop,
/// or relays at once where no loop runs. Never fails the request: the items
/// are durable, and whatever is not relayed now is relayed later.
pub async fn committed(services: &Services, events: &[DomainEvent]) {
    if events.is_empty() {
        return;
    }
    if services.relay.inline {
        if let Err(e) = relay_pending(services).await {
            tracing::warn!(error = %e, "outbox not relayed yet");
        }
    } else {
        services.relay.notify.notify_one();
    }
}

/// What one pass relayed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Relayed {
    pub relayed: usize,
    /// Left pending for the next pass.
    pub failed: usize,
    /// The pass read a whole batch: more may be pending.
    pub full: bool,
}

/// Relays one batch of pending items, oldest first. An item that fails stays
/// pending; the others go on.
pub async fn relay_pending(services: &Services) -> Result<Relayed, StoreError> {
    let items = services.outbox.pending_outbox(BATCH).await?;
    let mut done = relay_items(services, &items).await?;
    done.full = items.len() == BATCH;
    Ok(done)
}

/// How long an item may wait for the stream relay before the scheduled
/// sweep relays it ([`relay_stalled`]).
pub const STALL_GRACE: time::Duration = time::Duration::minutes(5);

/// The scheduled sweep where a stream relays (AWS): relays the pending items
/// older than [`STALL_GRACE`], whose stream record was lost to a failed
/// batch (its retries spent, on the on-failure queue) or never relayed.
pub async fn relay_stalled(services: &Services) -> Result<Relayed, StoreError> {
    let now = services.clock.now();
    let stalled: Vec<OutboxItem> = services
        .outbox
        .pending_outbox(BATCH)
        .await?
        .into_iter()
        .filter(|i| now - i.at() > STALL_GRACE)
        .collect();
    relay_items(services, &stalled).await
}

/// Relays `items` (a pass's, or a stream batch's) and marks each relayed.
/// `Err` only when marking fails; the ids of items that failed are logged.
pub async fn relay_items(services: &Services, items: &[OutboxItem]) -> Result<Relayed, StoreError> {
    let mut done = Relayed::default();
    for item in items {
        match relay(services, item).await {
            Ok(()) => {
                services.outbox.outbox_done(item).await?;
                done.relayed += 1;
            }
            Err(e) => {
                tracing::warn!(error = %e, outbox_id = %item.id, workflow_id = %item.workflow_id(), "outbox item not relayed; it stays pending");
                done.failed += 1;
            }
        }
    }
    Ok(done)
}

/// Relays one item: publishes its event, then does what the event leads to.
/// Every step is idempotent by the item's id, so running it again (after a
/// crash, on a redelivered stream record) changes nothing downstream.
pub async fn relay(services: &Services, item: &OutboxItem) -> Result<(), RelayError> {
    services.events.publish(std::slice::from_ref(item)).await?;
    match &item.event {
        DomainEvent::WorkflowCreated {
            workflow_id, at, ..
        } => {
            let activity = Activity::WorkflowCreated {
                workflow_id: workflow_id.clone(),
                at: *at,
            };
            services
                .activity
                .append_activity_once(&item.id, &activity)
                .await?;
        }
        DomainEvent::WorkflowFinished {
            workflow_id,
            status,
            at,
        } => finished(services, item, workflow_id, *status, *at).await?,
        DomainEvent::AgentResultAccepted { .. } => {}
    }
    Ok(())
}

/// A finished workflow's metrics, notification and activity, from one read of
/// it and its report (the synthesis runs here, off the request path).
async fn finished(
    services: &Services,
    item: &OutboxItem,
    workflow_id: &str,
    status: WorkflowStatus,
    at: OffsetDateTime,
) -> Result<(), RelayError> {
    let found = status::workflow_and_report(services, workflow_id).await?;
    metrics::workflow_finished(services, &item.id, found.as_ref(), status, at).await?;
    if let Some((workflow, _)) = &found {
        notify::finished(services, &item.id, workflow)
            .await
            .map_err(RelayError::Notification)?;
    }
    let activity = Activity::WorkflowFinished {
        workflow_id: workflow_id.to_owned(),
        status,
        at,
    };
    services
        .activity
        .append_activity_once(&item.id, &activity)
        .await?;
    Ok(())
}

/// The relay loop of a process that runs one (`osa serve`): relays what a
/// crash left pending as it starts, then again whenever a commit wakes it,
/// and every `every` in any case (an item that failed). Stops when `stop`
/// says so.
pub async fn run_loop(
    services: Arc<Services>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let again = match relay_pending(&services).await {
            Ok(done) => {
                if done.relayed > 0 {
                    tracing::debug!(
                        relayed = done.relayed,
                        failed = done.failed,
                        "outbox relayed"
                    );
                }
                done.full && done.relayed > 0
            }
            Err(e) => {
                tracing::error!(error = %e, "outbox not read");
                false
            }
        };
        if again {
            continue;
        }
        tokio::select! {
            _ = services.relay.notify.notified() => {}
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}
