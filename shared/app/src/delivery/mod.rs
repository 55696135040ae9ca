//! Outbound deliveries: saving and queueing one, and the worker step that sends
//! one attempt. The dead-letter operations are in [`dead_letter`], the OPAL
//! trigger (a delivery that starts a workflow) in [`opal`].
//!
//! The policy (what counts as delivered, the backoff, when to give up) is the pure
//! `domain::delivery`; this module does the I/O around it. Every attempt is its
//! own queue message, `Job::Deliver { delivery_id, run, attempt }`, delayed until
//! the attempt is due. The worker sends an attempt only if the stored delivery says
//! it is the one due ([`Delivery::is_due`]), records it with a conditional write,
//! then queues the next attempt, or dead-letters the delivery. So a redelivered or
//! stale message never records an attempt twice.
//!
//! Guarantee: at least once. Receivers de-duplicate on `X-Webhook-ID`. A message
//! lost between saving a delivery and queueing its attempt (a crash on creation,
//! after an attempt, or on a redrive) is found by [`repair_stalled`], run on the
//! schedule: the delivery is pending with its next attempt long overdue.
//!
//! The OPAL trigger is a delivery: accepted, it starts the workflow; dead-lettered,
//! it fails the workflow with the reason (`trigger.last_error`,
//! `trigger.dead_lettered_delivery_id`); redriven and accepted, it puts the
//! workflow back on track (status `running`, the deadline chain restarted).

pub mod dead_letter;
pub mod opal;

use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ports::{
    Job, OutboundError, OutboundRequest, QueueError, SecretUnavailable, StoreError, Updated,
    delay_until,
};
use osa_domain::Secret;
use osa_domain::activity::Activity;
use osa_domain::delivery::{
    Attempt, AttemptOutcome, AttemptReport, Decision, Delivery, DeliveryKind, OPAL_API_KEY,
    STALL_GRACE, jitter,
};
use osa_domain::notification::NOTIFY_SIGNING_SECRET;

use super::{JobError, Services};

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

// ---- the repair sweep -----------------------------------------------------------

/// Deliveries repaired in one sweep at most.
const REPAIR_BATCH: usize = 100;

/// Re-queues the next attempt of each pending delivery overdue by more than
/// [`STALL_GRACE`]. A message that was only late, not lost, is then harmless:
/// the worker sends an attempt only while it is the one due. Returns how many
/// were re-queued.
pub async fn repair_stalled(services: &Services) -> Result<usize, DeliveryOpError> {
    let now = services.clock.now();
    let grace = time::Duration::try_from(STALL_GRACE).unwrap_or(time::Duration::MINUTE);
    let overdue = services
        .deliveries
        .overdue(now - grace, REPAIR_BATCH)
        .await?;
    let mut requeued = 0;
    for delivery in overdue {
        // Claimed first, so a sweep every minute queues it once per grace
        // period, not once a minute while a worker is down.
        let claimed = services
            .deliveries
            .update(delivery.id, |d| {
                d.claim_repair(now, STALL_GRACE).then_some(())
            })
            .await?;
        let Some(Updated {
            stored: delivery,
            change: Some(()),
        }) = claimed
        else {
            continue;
        };
        let Some((run, attempt)) = delivery.next_attempt() else {
            continue;
        };
        queue_attempt(services, delivery.id, run, attempt, Duration::ZERO).await?;
        requeued += 1;
        tracing::warn!(
            delivery_id = %delivery.id,
            kind = delivery.kind.as_str(),
            run,
            attempt,
            due_at = ?delivery.next_attempt_due_at(),
            "a stalled delivery's attempt was queued again"
        );
    }
    Ok(requeued)
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
            Some(decision) => follow_up(services, &delivery, &decision, FollowUp::Again).await,
            None => Ok(()),
        };
    }
    let now = services.clock.now();
    if let Some(due) = due_at(&delivery)
        && due > now
    {
        // Early: a delay longer than the queue allows is chained.
        queue_attempt(services, id, run, attempt, delay_until(now, due)).await?;
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
    let jitter = jitter(rand::random());
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
        queue_attempt(services, id, *run, *attempt, delay).await?;
    }
    let record = |d: &mut Delivery| {
        let before = d.attempts.len();
        let recorded = d.record(report.clone(), jitter).is_ok() && d.attempts.len() > before;
        if recorded && d.url != url {
            // Where this attempt went (an OPAL trigger follows the configuration).
            d.url.clone_from(&url);
        }
        recorded.then_some(())
    };
    let Some(updated) = services.deliveries.update(id, record).await? else {
        return Ok(());
    };
    if updated.change.is_none() {
        return Ok(()); // another copy of this message recorded it first
    }
    match decision_of(&updated.stored, run, attempt) {
        Some(decision) => follow_up(services, &updated.stored, &decision, FollowUp::First).await,
        None => Ok(()),
    }
}

/// Where an attempt goes: an OPAL trigger goes to the OPAL URL configured now (a
/// redrive after fixing the configuration reaches the fixed URL), anything else
/// to its own URL.
fn target_url(services: &Services, delivery: &Delivery) -> String {
    if delivery.kind.to_opal() {
        services.config.opal.trigger_url.clone()
    } else {
        delivery.url.clone()
    }
}

/// One POST. Never fails: whatever happens is the attempt's outcome. The
/// secrets a delivery names (its URL, a body field, its bearer token) are looked
/// up now and live only in the request.
async fn send(services: &Services, delivery: &Delivery, url: &str, number: u32) -> AttemptOutcome {
    // A key held by reference is read (once per process) first.
    let held = match delivery.kind {
        kind if kind.to_opal() => super::secrets::opal_api_key(services)
            .await
            .map(|key| key.map(|k| vec![(OPAL_API_KEY.to_owned(), k)])),
        DeliveryKind::ResultNotification => super::secrets::notify_signing_secret(services)
            .await
            .map(|key| key.map(|k| vec![(NOTIFY_SIGNING_SECRET.to_owned(), k)])),
        DeliveryKind::AlertNotification => alert_targets(services, delivery).await.map(Some),
        _ => Ok(None),
    };
    let held = match held {
        Ok(held) => held.unwrap_or_default(),
        Err(e) => {
            return AttemptOutcome::Failed {
                error: e.to_string(),
            };
        }
    };
    let secret = |name: &str| {
        held.iter()
            .find(|(held, _)| held == name)
            .map(|(_, secret)| secret.clone())
            .or_else(|| services.config.secret(name))
    };
    let sent_at_ms =
        i64::try_from(services.clock.now().unix_timestamp_nanos() / 1_000_000).unwrap_or_default();
    let request = delivery.outbound_url(secret).and_then(|resolved| {
        // An OPAL trigger goes where the configuration says now.
        let url = if delivery.secret_url().is_some() {
            resolved
        } else {
            url.to_owned()
        };
        let body = delivery.outbound_body(secret)?;
        Ok(OutboundRequest {
            url,
            headers: delivery.outbound_headers(number, sent_at_ms, &body, secret)?,
            body: Bytes::from(body),
            timeout: delivery.timeout,
            caller_target: delivery.kind == DeliveryKind::ResultNotification,
        })
    });
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            return AttemptOutcome::Failed {
                error: e.to_string(),
            };
        }
    };
    match services.http.post(request).await {
        Ok(response) => AttemptOutcome::Response {
            status: response.status,
            retry_after: response.retry_after,
        },
        Err(OutboundError::Refused(reason)) => AttemptOutcome::Refused { reason },
        Err(e) => AttemptOutcome::Failed {
            error: e.to_string(),
        },
    }
}

/// The channel credentials an alert notification names (its URL, its
/// PagerDuty routing key, its signing secret), from this process's own
/// configuration.
async fn alert_targets(
    services: &Services,
    delivery: &Delivery,
) -> Result<Vec<(String, Secret)>, SecretUnavailable> {
    let names = delivery
        .secret_url()
        .into_iter()
        .chain(delivery.body_secrets.iter().map(|b| b.secret.as_str()))
        .chain(delivery.auth.as_ref().map(|a| a.secret_name()));
    let mut held = Vec::new();
    for name in names {
        if let Some(secret) = super::secrets::alert_target(services, name).await? {
            held.push((name.to_owned(), secret));
        }
    }
    Ok(held)
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

/// Who runs the follow-up of a recorded attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FollowUp {
    /// The receipt that recorded the attempt.
    First,
    /// A later receipt of the same message, finishing what the first may not
    /// have: its counter change is skipped (the counter may miss one, never count
    /// one twice) and so are its log lines.
    Again,
}

/// What follows a recorded attempt.
async fn follow_up(
    services: &Services,
    delivery: &Delivery,
    decision: &Decision,
    by: FollowUp,
) -> Result<(), JobError> {
    let fresh = by == FollowUp::First;
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
        }
        Decision::DeadLetter { reason } => {
            if fresh {
                super::metrics::delivery_dead_lettered(services).await;
                services
                    .note(&Activity::DeliveryDeadLettered {
                        delivery_id: id.to_string(),
                        delivery_kind: kind.to_owned(),
                        workflow_id: delivery.workflow_id.clone(),
                        reason: reason.to_string(),
                        at: services.clock.now(),
                    })
                    .await;
                // The alert evaluator watches the counter; this line is the signal.
                tracing::error!(
                    delivery_id = %id,
                    kind,
                    reason = %reason,
                    alert_signal = "delivery_dead_lettered",
                    "delivery dead-lettered"
                );
            }
        }
    }
    match delivery.kind {
        DeliveryKind::OpalTrigger => opal::sync_workflow(services, delivery, decision).await?,
        DeliveryKind::OpalForceSync => opal::sync_force_sync(services, delivery, decision).await?,
        _ => {}
    }
    Ok(())
}

pub(super) fn last_outcome(delivery: &Delivery) -> String {
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

pub(super) async fn queue_attempt(
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
