//! Recovery after an outage, as webhook platforms offer it: redrive every
//! dead letter of a time window (`POST /api/admin/deliveries/recover`), and
//! relay a workflow's or a window's outbox items again
//! (`POST /api/admin/events/replay`) with their ids unchanged, so a receiver
//! that has an event already recognises the repeat. Both are audited.

use osa_domain::WorkflowId;
use osa_domain::delivery::DeliveryKind;
use osa_domain::schema::Timestamp;
use osa_domain::validation::{FieldError, InvalidBody};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::delivery::DeliveryOpError;
use super::delivery::dead_letter;
use super::{Services, admin, outbox};
use crate::ports::{OutboxItem, QueueError, StoreError};
use osa_domain::access::Caller;

/// Most dead letters one recovery redrives; the rest wait for the next call
/// (the redriven ones have left the window's list by then).
pub const MAX_RECOVER: usize = dead_letter::MAX_REDRIVE_ALL;
/// Most outbox items one replay relays.
pub const MAX_REPLAY: usize = 1000;
/// The longest window a replay reads.
pub const MAX_REPLAY_WINDOW: time::Duration = time::Duration::days(31);

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    Invalid(#[from] InvalidBody),
    #[error("no such workflow")]
    UnknownWorkflow,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl From<DeliveryOpError> for RecoveryError {
    fn from(e: DeliveryOpError) -> Self {
        match e {
            DeliveryOpError::Store(e) => RecoveryError::Store(e),
            DeliveryOpError::Queue(e) => RecoveryError::Queue(e),
            // Gone or redriven meanwhile: the callers skip these first.
            other => RecoveryError::Store(StoreError::Unavailable(other.to_string())),
        }
    }
}

/// The body of a recovery: the dead letters dead-lettered from `since` to
/// `until` (both included), of one kind when `kind` is given.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverRequest {
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "Timestamp")]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "Timestamp")]
    pub until: OffsetDateTime,
    #[serde(default)]
    pub kind: Option<DeliveryKind>,
}

/// What a recovery redrove.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Recovered {
    pub recovered: usize,
    pub delivery_ids: Vec<Uuid>,
    /// In the window but no longer dead-lettered when redriven (someone else
    /// was first).
    pub skipped: Vec<Uuid>,
    /// The window holds more than one call redrives: call again.
    pub more: bool,
}

/// The body of a replay: one workflow's outbox items, or those whose events
/// happened from `since` to `until` (both included).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    #[serde(default)]
    pub workflow_id: Option<WorkflowId>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<Timestamp>")]
    pub since: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<Timestamp>")]
    pub until: Option<OffsetDateTime>,
}

/// What a replay relayed again.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct Replayed {
    pub replayed: usize,
    /// The outbox items' ids, which the events carry again.
    pub item_ids: Vec<String>,
    /// Not relayed this time (they stay as they were; see the log).
    pub failed: Vec<String>,
    /// The window holds more than one call replays: narrow it.
    pub more: bool,
}

/// What a replay reads.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayTarget {
    Workflow(WorkflowId),
    Window(OffsetDateTime, OffsetDateTime),
}

fn invalid(path: &str, message: &str) -> InvalidBody {
    InvalidBody::Schema(vec![FieldError::new(path, message)])
}

fn window(since: OffsetDateTime, until: OffsetDateTime) -> Result<(), InvalidBody> {
    if since > until {
        return Err(invalid("until", "must not be before since"));
    }
    Ok(())
}

impl ReplayRequest {
    /// Either a workflow or a whole window, never both, and a window of at
    /// most [`MAX_REPLAY_WINDOW`].
    pub fn target(&self) -> Result<ReplayTarget, InvalidBody> {
        match (&self.workflow_id, self.since, self.until) {
            (Some(id), None, None) => Ok(ReplayTarget::Workflow(id.clone())),
            (None, Some(since), Some(until)) => {
                window(since, until)?;
                if until - since > MAX_REPLAY_WINDOW {
                    return Err(invalid("until", "the window may span at most 31 days"));
                }
                Ok(ReplayTarget::Window(since, until))
            }
            (Some(_), _, _) => Err(invalid(
                "workflow_id",
                "give either workflow_id or since and until, not both",
            )),
            (None, None, _) => Err(invalid("since", "required without workflow_id")),
            (None, Some(_), None) => Err(invalid("until", "required with since")),
        }
    }
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// Redrives every dead letter of the window (at most [`MAX_RECOVER`]), and
/// records it in the admin audit trail whatever came of it.
pub async fn recover(
    services: &Services,
    caller: &Caller,
    request: &RecoverRequest,
    correlation_id: Option<&str>,
) -> Result<Recovered, RecoveryError> {
    window(request.since, request.until)?;
    let result = recover_window(services, request).await;
    let outcome = match &result {
        Ok(done) => format!("succeeded: {} recovered", done.recovered),
        Err(_) => "failed".to_owned(),
    };
    let mut target = format!("{}..{}", rfc3339(request.since), rfc3339(request.until));
    if let Some(kind) = request.kind {
        target = format!("{target} {}", kind.as_str());
    }
    admin::record(
        services,
        caller,
        "deliveries_recovered",
        &target,
        &outcome,
        correlation_id,
    )
    .await?;
    result
}

async fn recover_window(
    services: &Services,
    request: &RecoverRequest,
) -> Result<Recovered, RecoveryError> {
    let mut listed = services
        .deliveries
        .dead_lettered_between(request.since, request.until, MAX_RECOVER + 1)
        .await?;
    let mut done = Recovered {
        more: listed.len() > MAX_RECOVER,
        ..Recovered::default()
    };
    listed.truncate(MAX_RECOVER);
    for delivery in listed
        .iter()
        .filter(|d| request.kind.is_none_or(|k| d.kind == k))
    {
        match dead_letter::redrive(services, delivery.id).await {
            Ok(_) => done.delivery_ids.push(delivery.id),
            Err(DeliveryOpError::NotFound | DeliveryOpError::NotDeadLettered(_)) => {
                done.skipped.push(delivery.id);
            }
            Err(e) => return Err(e.into()),
        }
    }
    done.recovered = done.delivery_ids.len();
    tracing::info!(
        recovered = done.recovered,
        skipped = done.skipped.len(),
        more = done.more,
        "dead letters recovered"
    );
    Ok(done)
}

/// Relays the target's outbox items again (at most [`MAX_REPLAY`]), the
/// earliest first, each with its id unchanged, and records it in the admin
/// audit trail whatever came of it.
pub async fn replay(
    services: &Services,
    caller: &Caller,
    request: &ReplayRequest,
    correlation_id: Option<&str>,
) -> Result<Replayed, RecoveryError> {
    let target = request.target()?;
    let result = replay_target(services, &target).await;
    let outcome = match &result {
        Ok(done) => format!("succeeded: {} replayed", done.replayed),
        Err(_) => "failed".to_owned(),
    };
    let named = match &target {
        ReplayTarget::Workflow(id) => id.to_string(),
        ReplayTarget::Window(since, until) => format!("{}..{}", rfc3339(*since), rfc3339(*until)),
    };
    admin::record(
        services,
        caller,
        "events_replayed",
        &named,
        &outcome,
        correlation_id,
    )
    .await?;
    result
}

async fn replay_target(
    services: &Services,
    target: &ReplayTarget,
) -> Result<Replayed, RecoveryError> {
    let mut items: Vec<OutboxItem> = match target {
        ReplayTarget::Workflow(id) => {
            if services.store.get_workflow(id.as_str()).await?.is_none() {
                return Err(RecoveryError::UnknownWorkflow);
            }
            services.outbox.workflow_outbox(id.as_str()).await?
        }
        ReplayTarget::Window(since, until) => {
            services
                .outbox
                .outbox_between(*since, *until, MAX_REPLAY + 1)
                .await?
        }
    };
    let mut done = Replayed {
        more: items.len() > MAX_REPLAY,
        ..Replayed::default()
    };
    items.truncate(MAX_REPLAY);
    for item in &items {
        match outbox::relay(services, item).await {
            Ok(()) => {
                // A pending one is relayed now: it is done.
                services.outbox.outbox_done(item).await?;
                done.item_ids.push(item.id.clone());
            }
            Err(e) => {
                tracing::warn!(error = %e, outbox_id = %item.id, "outbox item not replayed");
                done.failed.push(item.id.clone());
            }
        }
    }
    done.replayed = done.item_ids.len();
    tracing::info!(
        replayed = done.replayed,
        failed = done.failed.len(),
        more = done.more,
        "outbox replayed"
    );
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn replay(body: serde_json::Value) -> Result<ReplayTarget, InvalidBody> {
        let request: ReplayRequest = serde_json::from_value(body).map_err(|e| {
            InvalidBody::Syntax(e.to_string()) // a shape error, for the tests below
        })?;
        request.target()
    }

    fn path_of(e: InvalidBody) -> String {
        match e {
            InvalidBody::Schema(errors) => errors[0].path.clone(),
            InvalidBody::Syntax(s) => format!("syntax: {s}"),
        }
    }

    #[test]
    fn a_replay_names_a_workflow_or_a_window_never_both() {
        assert_eq!(
            replay(serde_json::json!({"workflow_id": "w-1"})).unwrap(),
            ReplayTarget::Workflow(WorkflowId::parse("w-1").unwrap())
        );
        assert_eq!(
            replay(serde_json::json!({
                "since": "2026-12-01T00:00:00Z", "until": "2026-12-02T00:00:00Z"
            }))
            .unwrap(),
            ReplayTarget::Window(
                datetime!(2026-12-01 00:00 UTC),
                datetime!(2026-12-02 00:00 UTC)
            )
        );
        let both = serde_json::json!({
            "workflow_id": "w-1", "since": "2026-12-01T00:00:00Z", "until": "2026-12-02T00:00:00Z"
        });
        assert_eq!(path_of(replay(both).unwrap_err()), "workflow_id");
        assert_eq!(path_of(replay(serde_json::json!({})).unwrap_err()), "since");
        let half = serde_json::json!({"since": "2026-12-01T00:00:00Z"});
        assert_eq!(path_of(replay(half).unwrap_err()), "until");
    }

    #[test]
    fn a_window_runs_forwards_and_a_replay_window_is_bounded() {
        let backwards = serde_json::json!({
            "since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"
        });
        assert_eq!(path_of(replay(backwards).unwrap_err()), "until");
        let long = serde_json::json!({
            "since": "2026-10-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"
        });
        assert_eq!(path_of(replay(long).unwrap_err()), "until");
        let instant = serde_json::json!({
            "since": "2026-12-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"
        });
        assert!(replay(instant).is_ok());
    }
}
