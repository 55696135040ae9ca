//! Outbound deliveries (issue 4): saving and queueing one, the worker step that
//! sends one attempt, and the dead-letter operations (list, show, redrive).
//!
//! The policy (what counts as delivered, the backoff, when to give up) is the pure
//! `domain::delivery`; this module does the I/O around it. Every attempt is its
//! own queue message, `Job::Deliver { delivery_id, run, attempt }`, delayed until
//! the attempt is due. The worker sends an attempt only if the stored delivery says
//! it is the one due ([`Delivery::is_due`]), records it with a conditional write,
//! then queues the next attempt, or dead-letters the delivery. So a redelivered or
//! stale message never records an attempt twice.
//!
//! Guarantee: at least once. Receivers de-duplicate on `X-Webhook-ID`.
//!
//! The OPAL trigger is a delivery: accepted, it starts the workflow; dead-lettered,
//! it fails the workflow with the reason (`trigger.last_error`,
//! `trigger.dead_lettered_delivery_id`); redriven and accepted, it puts the
//! workflow back on track (status `running`, the deadline chain restarted).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::delivery::{
    Attempt, AttemptOutcome, AttemptReport, Decision, Delivery, DeliveryAuth, DeliveryError,
    DeliveryKind, DeliveryStatus, OPAL_API_KEY, random_jitter,
};
use crate::domain::secret::Secret;
use crate::domain::workflow::{Workflow, WorkflowStatus};
use crate::ports::{DomainEvent, Job, OutboundRequest, QueueError, StoreError};

use super::Services;
use super::lifecycle::{delay_until, schedule_check};
use super::worker::JobError;

/// Most deliveries one "redrive all" moves back into the queue.
pub const MAX_REDRIVE_ALL: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryOpError {
    #[error("no such delivery")]
    NotFound,
    #[error("delivery {0} is not dead-lettered")]
    NotDeadLettered(Uuid),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

// ---- creating --------------------------------------------------------------------

/// Saves a new delivery and queues its first attempt. If one with its id is
/// already stored (a retried request), that one is returned, and queued again
/// only if it has not been attempted yet.
pub async fn enqueue_delivery(
    services: &Services,
    delivery: Delivery,
) -> Result<Delivery, DeliveryOpError> {
    let stored = if services.deliveries.create_delivery(&delivery).await? {
        delivery
    } else {
        let Some(existing) = services.deliveries.get_delivery(delivery.id).await? else {
            return Err(DeliveryOpError::NotFound);
        };
        if !existing.attempts.is_empty() {
            return Ok(existing);
        }
        existing
    };
    if let Some((run, attempt)) = stored.next_attempt() {
        queue_attempt(services, stored.id, run, attempt, Duration::ZERO).await?;
    }
    Ok(stored)
}

/// The OPAL `strategy_workflow` trigger for a workflow, as a delivery: bearer auth
/// with the OPAL key (looked up when sent), the configured timeout (45 s by
/// default), the workflow's correlation id.
pub fn opal_trigger(
    services: &Services,
    workflow: &Workflow,
    id: Option<Uuid>,
) -> Result<Delivery, DeliveryError> {
    let delivery = Delivery::opal_trigger(
        services.config.opal.trigger_url.clone(),
        workflow.id.clone(),
        super::worker::trigger_payload(services, workflow),
        Some(DeliveryAuth::Bearer {
            secret: OPAL_API_KEY.to_owned(),
        }),
        services.clock.now(),
    )?
    .with_timeout(services.config.opal.timeout);
    // A correlation id that is no valid header value is simply not sent.
    let delivery = delivery
        .clone()
        .with_header("X-Correlation-ID", workflow.correlation_id.clone())
        .unwrap_or(delivery);
    Ok(match id {
        Some(id) => delivery.with_id(id),
        None => delivery,
    })
}

/// `Job::TriggerOpal`, queued by builds before deliveries: the workflow's trigger
/// becomes a delivery (created if the workflow has none yet), and its first
/// attempt is sent now if it is still due.
pub async fn trigger_opal_job(services: &Services, workflow_id: &str) -> Result<(), JobError> {
    let Some(workflow) = services.store.get_workflow(workflow_id).await? else {
        tracing::warn!(workflow_id, "trigger for an unknown workflow dropped");
        return Ok(());
    };
    if workflow.trigger.accepted_at.is_some() || workflow.status != WorkflowStatus::Pending {
        return Ok(()); // already triggered: a redelivered or repeated job
    }
    let fresh = Uuid::new_v4().to_string();
    let claim = |w: &mut Workflow| {
        if w.trigger.delivery_id.is_some() {
            return false;
        }
        w.trigger.delivery_id = Some(fresh.clone());
        true
    };
    let Some(workflow) = services.store.update_workflow(workflow_id, &claim).await? else {
        return Ok(());
    };
    let Some(id) = workflow
        .trigger
        .delivery_id
        .as_deref()
        .and_then(|id| Uuid::parse_str(id).ok())
    else {
        tracing::error!(
            workflow_id,
            "the workflow's trigger delivery id is not a UUID"
        );
        return Ok(());
    };
    let delivery = match services.deliveries.get_delivery(id).await? {
        Some(d) => d,
        None => {
            let d = opal_trigger(services, &workflow, Some(id)).map_err(|e| {
                tracing::error!(workflow_id, error = %e, "cannot build the OPAL trigger");
                JobError::Retry(e.to_string())
            })?;
            services.deliveries.create_delivery(&d).await?;
            match services.deliveries.get_delivery(id).await? {
                Some(d) => d,
                None => return Err(JobError::Retry(format!("delivery {id} vanished"))),
            }
        }
    };
    match delivery.next_attempt() {
        Some((run, 1)) => deliver(services, id, run, 1).await,
        _ => Ok(()), // under way: its own queued attempts carry it
    }
}

// ---- the worker step ----------------------------------------------------------

/// Runs `Job::Deliver`: sends the attempt if it is the one due, records it, and
/// queues what follows. `Ok` means the message can be acked.
pub async fn deliver(
    services: &Services,
    id: Uuid,
    run: u32,
    attempt: u32,
) -> Result<(), JobError> {
    let Some(delivery) = services.deliveries.get_delivery(id).await? else {
        tracing::warn!(delivery_id = %id, "job for an unknown delivery dropped");
        return Ok(());
    };
    if !delivery.is_due(run, attempt) {
        // Redelivered, or from a run a redrive replaced, or the delivery is done.
        // If this attempt was recorded but what follows it may not have happened
        // (the process stopped in between), finish that; never send it again.
        return match decision_of(&delivery, run, attempt) {
            Some(decision) => follow_up(services, &delivery, &decision, false).await,
            None => Ok(()),
        };
    }
    let now = services.clock.now();
    if let Some(due) = due_at(&delivery)
        && due > now
    {
        // Early: a delay longer than the queue allows is chained.
        queue_attempt(services, id, run, attempt, delay_until(now, due))
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        return Ok(());
    }

    let url = target_url(services, &delivery);
    let started = services.clock.now();
    let outcome = send(services, &delivery, &url, attempt).await;
    let ended = services.clock.now();
    let response_ms = u64::try_from((ended - started).whole_milliseconds().max(0)).unwrap_or(0);
    let report = AttemptReport {
        run,
        number: attempt,
        at: started,
        response_ms,
        outcome,
    };
    let jitter = random_jitter();
    // Decide first, and queue the next attempt before the record is saved: a
    // saved attempt then always has its follow-up queued, so a redelivered
    // message never needs to queue it again (which could send it twice).
    let decision = match delivery.clone().record(report.clone(), jitter) {
        Ok(decision) => decision,
        Err(e) => {
            tracing::warn!(delivery_id = %id, error = %e, "attempt not recorded");
            return Ok(());
        }
    };
    if let Decision::Retry { run, attempt, at } = &decision {
        let delay = delay_until(services.clock.now(), *at);
        queue_attempt(services, id, *run, *attempt, delay)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
    }
    let recorded_here = AtomicBool::new(false);
    let record = |d: &mut Delivery| {
        let before = d.attempts.len();
        let recorded = d.record(report.clone(), jitter).is_ok() && d.attempts.len() > before;
        if recorded && d.url != url {
            // Where this attempt went (an OPAL trigger follows the configuration).
            d.url.clone_from(&url);
        }
        recorded_here.store(recorded, Ordering::SeqCst);
        recorded
    };
    let Some(stored) = services.deliveries.update_delivery(id, &record).await? else {
        return Ok(());
    };
    if !recorded_here.load(Ordering::SeqCst) {
        return Ok(()); // another copy of this message recorded it first
    }
    match decision_of(&stored, run, attempt) {
        Some(decision) => follow_up(services, &stored, &decision, true).await,
        None => Ok(()),
    }
}

/// Where an attempt goes: an OPAL trigger goes to the OPAL URL configured now (a
/// redrive after fixing the configuration reaches the fixed URL), anything else
/// to its own URL.
fn target_url(services: &Services, delivery: &Delivery) -> String {
    match delivery.kind {
        DeliveryKind::OpalTrigger => services.config.opal.trigger_url.clone(),
        DeliveryKind::AlertNotification => delivery.url.clone(),
    }
}

/// The secret a delivery names, from the configuration.
fn lookup_secret(services: &Services, name: &str) -> Option<Secret> {
    match name {
        OPAL_API_KEY => services.config.opal.api_key.clone(),
        _ => None,
    }
}

/// One POST. Never fails: whatever happens is the attempt's outcome.
async fn send(services: &Services, delivery: &Delivery, url: &str, number: u32) -> AttemptOutcome {
    let headers = match delivery.outbound_headers(number, |name| lookup_secret(services, name)) {
        Ok(headers) => headers,
        Err(e) => {
            return AttemptOutcome::Failed {
                error: e.to_string(),
            };
        }
    };
    let request = OutboundRequest {
        url: url.to_owned(),
        headers,
        body: Bytes::from(delivery.body()),
        timeout: delivery.timeout,
    };
    match services.http.post(request).await {
        Ok(response) => AttemptOutcome::Response {
            status: response.status,
            retry_after: response.retry_after,
        },
        Err(e) => AttemptOutcome::Failed {
            error: e.to_string(),
        },
    }
}

/// When the attempt now due may be sent: the previous attempt's `next_attempt_at`.
fn due_at(delivery: &Delivery) -> Option<OffsetDateTime> {
    delivery.attempts.last().and_then(|a| a.next_attempt_at)
}

/// The decision recorded attempt `number` of run `run` led to; `None` if it is
/// not recorded in the current run.
fn decision_of(delivery: &Delivery, run: u32, number: u32) -> Option<Decision> {
    if delivery.redrives != run || !delivery.attempts.iter().any(|a| a.number == number) {
        return None;
    }
    // Recording an attempt that is already there changes nothing and answers the
    // decision made when it was recorded.
    let probe = AttemptReport {
        run,
        number,
        at: delivery.created_at,
        response_ms: 0,
        outcome: AttemptOutcome::Failed {
            error: String::new(),
        },
    };
    delivery.clone().record(probe, Duration::ZERO).ok()
}

/// What follows a recorded attempt. `fresh` is false when finishing the work of
/// an earlier receipt of the message, whose counter change may have happened
/// (it is then skipped: the counter may miss one, never count one twice).
async fn follow_up(
    services: &Services,
    delivery: &Delivery,
    decision: &Decision,
    fresh: bool,
) -> Result<(), JobError> {
    let id = delivery.id;
    let kind = delivery.kind.as_str();
    match decision {
        // Its next attempt was queued before the attempt was saved.
        Decision::Retry { attempt, at, .. } => {
            if fresh {
                tracing::warn!(
                    delivery_id = %id,
                    kind,
                    attempt = attempt - 1,
                    outcome = %last_outcome(delivery),
                    next_attempt_at = %at,
                    "delivery attempt failed; will retry"
                );
            }
        }
        Decision::Delivered => {
            if fresh {
                tracing::info!(delivery_id = %id, kind, attempts = delivery.attempts.len(), "delivered");
            }
            services.deliveries.reset_failures(delivery.kind).await?;
        }
        Decision::DeadLetter { reason } => {
            if fresh {
                let consecutive = services.deliveries.raise_failures(delivery.kind).await?;
                // The alert evaluator reads this signal and the counter.
                tracing::error!(
                    delivery_id = %id,
                    kind,
                    reason = %reason,
                    consecutive_failures = consecutive,
                    alert_signal = "delivery_dead_lettered",
                    "delivery dead-lettered"
                );
            }
        }
    }
    if delivery.kind == DeliveryKind::OpalTrigger {
        sync_workflow(services, delivery, decision).await?;
    }
    Ok(())
}

fn last_outcome(delivery: &Delivery) -> String {
    delivery
        .attempts
        .last()
        .map(attempt_outcome)
        .unwrap_or_default()
}

fn attempt_outcome(a: &Attempt) -> String {
    match (&a.status_code, &a.error) {
        (Some(status), _) => format!("HTTP {status}"),
        (None, Some(error)) => error.clone(),
        (None, None) => "no answer".to_owned(),
    }
}

async fn queue_attempt(
    services: &Services,
    id: Uuid,
    run: u32,
    attempt: u32,
    delay: Duration,
) -> Result<(), QueueError> {
    services
        .queue
        .enqueue(
            &Job::Deliver {
                delivery_id: id,
                run,
                attempt,
            },
            delay,
        )
        .await
}

// ---- the OPAL trigger and its workflow -------------------------------------------

/// Mirrors an OPAL trigger's progress into its workflow. Idempotent.
async fn sync_workflow(
    services: &Services,
    delivery: &Delivery,
    decision: &Decision,
) -> Result<(), JobError> {
    let Some(workflow_id) = delivery.workflow_id.as_deref() else {
        return Ok(());
    };
    let now = services.clock.now();
    let id = delivery.id.to_string();
    let attempts = u32::try_from(delivery.history().count()).unwrap_or(u32::MAX);
    let changed_here = AtomicBool::new(false);
    match decision {
        Decision::Retry { .. } => {
            let error = last_outcome(delivery);
            let note = |w: &mut Workflow| {
                if w.trigger.accepted_at.is_some() || w.trigger.attempts >= attempts {
                    return false;
                }
                w.trigger.attempts = attempts;
                w.trigger.last_error = Some(error.clone());
                w.updated_at = now;
                true
            };
            services.store.update_workflow(workflow_id, &note).await?;
        }
        Decision::Delivered => {
            let accept = |w: &mut Workflow| {
                let revive = w.trigger.dead_lettered_delivery_id.as_deref() == Some(id.as_str());
                if w.trigger.accepted_at.is_some() && !revive {
                    changed_here.store(false, Ordering::SeqCst);
                    return false;
                }
                w.trigger.attempts = attempts;
                w.trigger.last_error = None;
                w.trigger.accepted_at = Some(now);
                w.updated_at = now;
                if revive {
                    w.trigger.dead_lettered_delivery_id = None;
                    w.trigger.restarted_at = Some(now);
                    if w.status == WorkflowStatus::Failed {
                        w.status = WorkflowStatus::Running;
                        w.finished_at = None;
                    }
                } else if w.status == WorkflowStatus::Pending {
                    w.status = WorkflowStatus::Running;
                }
                changed_here.store(revive, Ordering::SeqCst);
                true
            };
            let stored = services.store.update_workflow(workflow_id, &accept).await?;
            tracing::info!(workflow_id, "OPAL trigger accepted");
            if let Some(w) = stored
                && changed_here.load(Ordering::SeqCst)
            {
                // Back on track after a redrive: the deadline chain stopped when
                // the workflow failed, so start it again.
                let agents = services.store.get_agents(workflow_id).await?;
                let check = w.check_deadlines(&agents, now, services.config.deadline_scale);
                if let Some(at) = check.next_check_at {
                    schedule_check(services, workflow_id, at)
                        .await
                        .map_err(|e| JobError::Retry(e.to_string()))?;
                }
                tracing::info!(workflow_id, delivery_id = %id, "workflow back on track after a redrive");
            }
        }
        Decision::DeadLetter { reason } => {
            let message = format!("failed to start: the OPAL trigger was dead-lettered ({reason})");
            let fail = |w: &mut Workflow| {
                let ours = w.trigger.dead_lettered_delivery_id.as_deref() == Some(id.as_str());
                let starting =
                    w.trigger.accepted_at.is_none() && w.status == WorkflowStatus::Pending;
                if !(ours || starting) || w.trigger.last_error.as_deref() == Some(message.as_str())
                {
                    changed_here.store(false, Ordering::SeqCst);
                    return false;
                }
                w.trigger.attempts = attempts;
                w.trigger.last_error = Some(message.clone());
                w.trigger.dead_lettered_delivery_id = Some(id.clone());
                w.updated_at = now;
                if starting {
                    w.status = WorkflowStatus::Failed;
                    w.finished_at = Some(now);
                }
                changed_here.store(starting, Ordering::SeqCst);
                true
            };
            services.store.update_workflow(workflow_id, &fail).await?;
            if changed_here.load(Ordering::SeqCst) {
                tracing::error!(workflow_id, delivery_id = %id, reason = %reason, "workflow failed to start: its OPAL trigger was dead-lettered");
                services
                    .publish(&[DomainEvent::WorkflowFinished {
                        workflow_id: workflow_id.to_owned(),
                        status: WorkflowStatus::Failed,
                        at: now,
                    }])
                    .await;
            }
        }
    }
    Ok(())
}

// ---- dead-letter operations -----------------------------------------------------

/// One line of the dead-letter listing.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub id: Uuid,
    pub kind: DeliveryKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    pub url: String,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub dead_lettered_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Every attempt ever made, earlier runs included.
    pub attempts: usize,
    pub redrives: u32,
}

impl DeadLetter {
    fn of(d: &Delivery) -> Option<DeadLetter> {
        let DeliveryStatus::DeadLettered { reason, at } = &d.status else {
            return None;
        };
        Some(DeadLetter {
            id: d.id,
            kind: d.kind,
            workflow_id: d.workflow_id.clone(),
            url: d.url.clone(),
            reason: reason.clone(),
            dead_lettered_at: *at,
            created_at: d.created_at,
            attempts: d.history().count(),
            redrives: d.redrives,
        })
    }
}

/// The dead-letter queue, most recent first.
pub async fn dead_letters(
    services: &Services,
    limit: usize,
) -> Result<Vec<DeadLetter>, StoreError> {
    let found = services.deliveries.dead_lettered(limit).await?;
    Ok(found.iter().filter_map(DeadLetter::of).collect())
}

/// One delivery in full: payload, status, and `history`, every attempt ever made
/// (earlier runs first). Never holds a credential: a delivery only names its secret.
pub async fn show(services: &Services, id: Uuid) -> Result<Option<serde_json::Value>, StoreError> {
    let Some(delivery) = services.deliveries.get_delivery(id).await? else {
        return Ok(None);
    };
    let mut view = serde_json::to_value(&delivery)
        .map_err(|e| StoreError::Corrupt(format!("delivery {id}: {e}")))?;
    let history: Vec<&Attempt> = delivery.history().collect();
    if let Some(map) = view.as_object_mut() {
        map.insert(
            "history".into(),
            serde_json::to_value(history)
                .map_err(|e| StoreError::Corrupt(format!("delivery {id}: {e}")))?,
        );
    }
    Ok(Some(view))
}

/// Starts a fresh run of attempts for a dead-lettered delivery (the old history is
/// kept) and queues its first attempt now.
pub async fn redrive(services: &Services, id: Uuid) -> Result<Delivery, DeliveryOpError> {
    let now = services.clock.now();
    let redriven_here = AtomicBool::new(false);
    let change = |d: &mut Delivery| {
        let ok = d.redrive(now).is_ok();
        redriven_here.store(ok, Ordering::SeqCst);
        ok
    };
    let stored = services
        .deliveries
        .update_delivery(id, &change)
        .await?
        .ok_or(DeliveryOpError::NotFound)?;
    if !redriven_here.load(Ordering::SeqCst) {
        return Err(DeliveryOpError::NotDeadLettered(id));
    }
    if let Some((run, attempt)) = stored.next_attempt() {
        queue_attempt(services, id, run, attempt, Duration::ZERO).await?;
    }
    tracing::info!(delivery_id = %id, kind = stored.kind.as_str(), run = stored.redrives, "delivery redriven");
    Ok(stored)
}

/// What "redrive all" did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedriveAll {
    pub redriven: Vec<Uuid>,
    /// Listed but no longer dead-lettered when redriven (someone else was first).
    pub skipped: Vec<Uuid>,
}

/// Redrives every dead-lettered delivery (at most [`MAX_REDRIVE_ALL`]).
pub async fn redrive_all(services: &Services) -> Result<RedriveAll, DeliveryOpError> {
    let listed = services.deliveries.dead_lettered(MAX_REDRIVE_ALL).await?;
    let mut out = RedriveAll::default();
    for delivery in listed {
        match redrive(services, delivery.id).await {
            Ok(_) => out.redriven.push(delivery.id),
            Err(DeliveryOpError::NotDeadLettered(_) | DeliveryOpError::NotFound) => {
                out.skipped.push(delivery.id);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
