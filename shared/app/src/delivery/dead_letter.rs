//! The dead-letter queue of outbound deliveries: list it, show one delivery with
//! its full history, redrive one or all (a fresh run of attempts, the old
//! history kept).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::listing::Limit;
use crate::ports::StoreError;
use osa_domain::delivery::{Attempt, Delivery, DeliveryKind, DeliveryStatus};
use osa_domain::schema::AnyObject;

use super::super::{Services, admin};
use super::{DeliveryOpError, queue_attempt};
use osa_domain::access::Caller;

/// Most deliveries one "redrive all" moves back into the queue.
pub const MAX_REDRIVE_ALL: usize = 1000;

/// One line of the dead-letter listing.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DeadLetter {
    pub id: Uuid,
    pub kind: DeliveryKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    pub url: String,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "osa_domain::schema::Timestamp")]
    pub dead_lettered_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "osa_domain::schema::Timestamp")]
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

/// `?limit=`: how many dead letters to list.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DeadLetterQuery {
    #[serde(default)]
    pub limit: Limit<100, 1000>,
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
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeliveryView {
    #[serde(flatten)]
    #[schemars(with = "AnyObject")]
    pub delivery: Delivery,
    #[schemars(with = "Vec<AnyObject>")]
    pub history: Vec<Attempt>,
}

pub async fn show(services: &Services, id: Uuid) -> Result<Option<DeliveryView>, StoreError> {
    let Some(delivery) = services.deliveries.get_delivery(id).await? else {
        return Ok(None);
    };
    let history = delivery.history().cloned().collect();
    Ok(Some(DeliveryView { delivery, history }))
}

/// Starts a fresh run of attempts for a dead-lettered delivery (the old history is
/// kept) and queues its first attempt now.
pub async fn redrive(services: &Services, id: Uuid) -> Result<Delivery, DeliveryOpError> {
    let now = services.clock.now();
    let updated = services
        .deliveries
        .update(id, |d| d.redrive(now).ok())
        .await?
        .ok_or(DeliveryOpError::NotFound)?;
    if updated.change.is_none() {
        return Err(DeliveryOpError::NotDeadLettered(id));
    }
    let stored = updated.stored;
    if let Some((run, attempt)) = stored.next_attempt() {
        queue_attempt(services, id, run, attempt, Duration::ZERO).await?;
    }
    tracing::info!(delivery_id = %id, kind = stored.kind.as_str(), run = stored.redrives, "delivery redriven");
    Ok(stored)
}

/// What "redrive all" did.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
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

/// [`redrive`] on an admin's request, recorded in the admin audit trail
/// whatever came of it.
pub async fn redrive_audited(
    services: &Services,
    caller: &Caller,
    id: Uuid,
) -> Result<Delivery, DeliveryOpError> {
    let result = redrive(services, id).await;
    let outcome = if result.is_ok() {
        "succeeded"
    } else {
        "refused"
    };
    admin::record(
        services,
        caller,
        "delivery_redriven",
        &id.to_string(),
        outcome,
        None,
    )
    .await?;
    result
}

/// [`redrive_all`] on an admin's request, recorded in the admin audit trail.
pub async fn redrive_all_audited(
    services: &Services,
    caller: &Caller,
) -> Result<RedriveAll, DeliveryOpError> {
    let result = redrive_all(services).await;
    let outcome = match &result {
        Ok(done) => format!("succeeded: {} redriven", done.redriven.len()),
        Err(_) => "failed".to_owned(),
    };
    admin::record(
        services,
        caller,
        "dead_letters_redriven",
        "all",
        &outcome,
        None,
    )
    .await?;
    result
}
