//! Admin actions. Every one is recorded in the admin audit trail (who, what,
//! when, outcome), whatever its outcome.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::listing::{Limit, ListError, position};
use crate::ports::{AdminAuditEntry, AuditEntry, DomainEvent, StoreError};
use osa_domain::WorkflowId;
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
        .audit
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

/// `?limit=` and `?cursor=` of the admin audit trail.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct AuditQuery {
    #[serde(default)]
    pub limit: Limit<100, 1000>,
    /// The `next` of the page before.
    pub cursor: Option<String>,
}

/// A page of the admin audit trail.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditPage {
    pub entries: Vec<AdminAuditEntry>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next: Option<String>,
}

/// The admin audit trail, newest first, a page at a time.
pub async fn audit_page(services: &Services, query: &AuditQuery) -> Result<AuditPage, ListError> {
    let before = position(query.cursor.as_deref())?;
    let page = services
        .audit
        .admin_audit_page(before.as_ref(), query.limit.get())
        .await?;
    Ok(AuditPage {
        entries: page.items,
        next: page.next.map(|p| p.token()),
    })
}

/// Which webhook attempts: one workflow's, or a day's that named none.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct WebhookEventsQuery {
    /// One workflow's attempts.
    pub workflow_id: Option<WorkflowId>,
    /// Or a UTC day's attempts that named no workflow (`YYYY-MM-DD`).
    #[schemars(extend("format" = "date"))]
    pub unattributed_on: Option<String>,
    #[serde(default)]
    pub limit: Limit<500, 1000>,
    /// The `next` of the page before.
    pub cursor: Option<String>,
}

/// A page of webhook attempts, and whose they are.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WebhookEventsPage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<WorkflowId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date"))]
    pub unattributed_on: Option<String>,
    pub events: Vec<AuditEntry>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next: Option<String>,
}

/// The audit trail of webhook attempts, oldest first, a page at a time: one
/// workflow's, or a day's that named no workflow (refused unread, unreadable).
pub async fn webhook_events(
    services: &Services,
    query: WebhookEventsQuery,
) -> Result<WebhookEventsPage, ListError> {
    let after = position(query.cursor.as_deref())?;
    let limit = query.limit.get();
    match (query.workflow_id, query.unattributed_on) {
        (Some(id), None) => {
            let page = services
                .audit
                .audit_page(id.as_str(), after.as_ref(), limit)
                .await?;
            Ok(WebhookEventsPage {
                workflow_id: Some(id),
                unattributed_on: None,
                events: page.items,
                next: page.next.map(|p| p.token()),
            })
        }
        (None, Some(day)) => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let date = time::Date::parse(&day, format).map_err(|_| {
                ListError::InvalidQuery("unattributed_on is a day: YYYY-MM-DD".into())
            })?;
            let page = services
                .audit
                .unattributed_audit_page(date, after.as_ref(), limit)
                .await?;
            Ok(WebhookEventsPage {
                workflow_id: None,
                unattributed_on: Some(day),
                events: page.items,
                next: page.next.map(|p| p.token()),
            })
        }
        _ => Err(ListError::InvalidQuery(
            "give workflow_id or unattributed_on (YYYY-MM-DD)".into(),
        )),
    }
}

/// What an erasure took away.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Erased {
    pub workflow_id: String,
    /// How many stored items went, its deliveries included.
    pub erased_items: u64,
}

/// GDPR-style erasure of one workflow: every item goes; the trail records that
/// it did, not what it erased. `Ok(None)`: no such workflow.
pub async fn erase_workflow(
    services: &Services,
    caller: &Caller,
    id: &str,
    correlation_id: Option<&str>,
) -> Result<Option<Erased>, StoreError> {
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
    Ok(erased?.map(|erased_items| Erased {
        workflow_id: id.to_owned(),
        erased_items,
    }))
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
        // One notification per finish, named by the finish's outbox item.
        for item in services.outbox.workflow_outbox(id).await? {
            if matches!(item.event, DomainEvent::WorkflowFinished { .. }) {
                deliveries.push(osa_domain::notification::delivery_id(&item.id));
            }
        }
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
