//! Admin actions. Every one is recorded in the admin audit trail (who, what,
//! when, outcome), whatever its outcome.

use crate::ports::{AdminAuditEntry, StoreError};
use osa_domain::access::Caller;

use super::Services;

/// Records an admin action. Never fails the action it describes silently: a
/// trail that cannot be written is an error the caller sees.
pub async fn record(
    services: &Services,
    caller: &Caller,
    action: &str,
    target: &str,
    outcome: &str,
    correlation_id: Option<&str>,
) -> Result<(), StoreError> {
    services
        .store
        .append_admin_audit(&AdminAuditEntry {
            at: services.clock.now(),
            actor: caller.subject.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            outcome: outcome.to_owned(),
            correlation_id: correlation_id.map(str::to_owned),
        })
        .await
}

/// GDPR-style erasure of one workflow: every item goes; the trail records that
/// it did, not what it erased. `Ok(None)`: no such workflow.
pub async fn erase_workflow(
    services: &Services,
    caller: &Caller,
    id: &str,
    correlation_id: Option<&str>,
) -> Result<Option<u64>, StoreError> {
    let erased = erase_everything(services, id).await;
    let outcome = match &erased {
        Ok(Some(_)) => "succeeded",
        Ok(None) => "not_found",
        Err(_) => "failed",
    };
    record(
        services,
        caller,
        "workflow_erased",
        id,
        outcome,
        correlation_id,
    )
    .await?;
    if let Ok(Some(items)) = &erased {
        tracing::info!(workflow_id = id, items, actor = %caller.subject, "workflow erased");
    }
    erased
}

/// The workflow's deliveries first (the OPAL trigger's payload carries the
/// intake; the notification names the workflow), then the workflow: a failure half-way leaves the workflow, so a
/// retried erasure finds it and finishes.
async fn erase_everything(services: &Services, id: &str) -> Result<Option<u64>, StoreError> {
    let Some(workflow) = services.store.get_workflow(id).await? else {
        return Ok(None);
    };
    let mut deliveries = workflow.delivery_ids();
    if workflow.notify_url().is_some() {
        deliveries.push(osa_domain::notification::delivery_id(workflow.id()));
    }
    let mut erased = 0;
    for delivery in deliveries {
        if services.deliveries.erase_delivery(delivery).await? {
            erased += 1;
        }
    }
    Ok(services
        .store
        .erase_workflow(id)
        .await?
        .map(|items| items + erased))
}
