//! The OPAL `strategy_workflow` trigger: the delivery that starts a workflow,
//! the mirror of its progress in the workflow (accepted: running; dead-lettered:
//! failed, with the reason; redriven and accepted: back on track), and the direct
//! POSTs that re-trigger a timed-out agent or a whole workflow (Force Sync).

use bytes::Bytes;
use serde_json::json;
use uuid::Uuid;

use crate::domain::AgentId;
use crate::domain::delivery::{Decision, Delivery, DeliveryAuth, DeliveryError, OPAL_API_KEY};
use crate::domain::workflow::{Workflow, WorkflowStatus};
use crate::ports::{DomainEvent, OutboundError, OutboundRequest, StoreError, Updated};

use super::super::deadlines;
use super::super::{JobError, Services};
use super::last_outcome;

/// Give up on a re-trigger or a Force Sync after this many receives of its job.
pub const MAX_TRIGGER_ATTEMPTS: u32 = 5;

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
        trigger_payload(services, workflow),
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
    let Some((workflow, id)) = claim_trigger_id(services, &workflow).await? else {
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
        Some((run, 1)) => super::deliver(services, id, run, 1).await,
        _ => Ok(()), // under way: its own queued attempts carry it
    }
}

/// The id of the workflow's trigger delivery, claiming a fresh one if it has
/// none yet: once claimed, every later attempt to start it names the same
/// delivery, so OPAL gets it once. `None` when the workflow is gone.
pub async fn claim_trigger_id(
    services: &Services,
    workflow: &Workflow,
) -> Result<Option<(Workflow, Uuid)>, StoreError> {
    let parse = |w: &Workflow| {
        w.trigger
            .delivery_id
            .as_deref()
            .and_then(|id| Uuid::parse_str(id).ok())
    };
    if let Some(id) = parse(workflow) {
        return Ok(Some((workflow.clone(), id)));
    }
    let fresh = Uuid::new_v4();
    let claim = |w: &mut Workflow| {
        if w.trigger.delivery_id.is_some() {
            return None;
        }
        w.trigger.delivery_id = Some(fresh.to_string());
        Some(())
    };
    let Some(updated) = services.store.update(&workflow.id, claim).await? else {
        return Ok(None);
    };
    match parse(&updated.stored) {
        Some(id) => Ok(Some((updated.stored, id))),
        None => Err(StoreError::Corrupt(format!(
            "workflow {}: its trigger delivery id is not a UUID",
            workflow.id
        ))),
    }
}

/// Mirrors an OPAL trigger's progress into its workflow. Idempotent.
pub(super) async fn sync_workflow(
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
    match decision {
        Decision::Retry { .. } => {
            let error = last_outcome(delivery);
            let note = |w: &mut Workflow| {
                if w.trigger.accepted_at.is_some() || w.trigger.attempts >= attempts {
                    return None;
                }
                w.trigger.attempts = attempts;
                w.trigger.last_error = Some(error.clone());
                w.updated_at = now;
                Some(())
            };
            services.store.update(workflow_id, note).await?;
        }
        Decision::Delivered => {
            // Answers whether this acceptance revived a workflow its dead letter had failed.
            let accept = |w: &mut Workflow| {
                let revive = w.trigger.dead_lettered_delivery_id.as_deref() == Some(id.as_str());
                if w.trigger.accepted_at.is_some() && !revive {
                    return None;
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
                Some(revive)
            };
            let updated = services.store.update(workflow_id, accept).await?;
            tracing::info!(workflow_id, "OPAL trigger accepted");
            if let Some(Updated {
                stored,
                change: Some(true),
            }) = updated
            {
                // Back on track after a redrive: the deadline chain stopped when
                // the workflow failed, so start it again.
                let agents = services.store.get_agents(workflow_id).await?;
                deadlines::start_chain(services, &stored, &agents).await?;
                tracing::info!(workflow_id, delivery_id = %id, "workflow back on track after a redrive");
            }
        }
        Decision::DeadLetter { reason } => {
            let message = format!("failed to start: the OPAL trigger was dead-lettered ({reason})");
            // Answers whether this dead letter failed a workflow that was starting.
            let fail = |w: &mut Workflow| {
                let ours = w.trigger.dead_lettered_delivery_id.as_deref() == Some(id.as_str());
                let starting =
                    w.trigger.accepted_at.is_none() && w.status == WorkflowStatus::Pending;
                if !(ours || starting) || w.trigger.last_error.as_deref() == Some(message.as_str())
                {
                    return None;
                }
                w.trigger.attempts = attempts;
                w.trigger.last_error = Some(message.clone());
                w.trigger.dead_lettered_delivery_id = Some(id.clone());
                w.updated_at = now;
                if starting {
                    w.status = WorkflowStatus::Failed;
                    w.finished_at = Some(now);
                }
                Some(starting)
            };
            let updated = services.store.update(workflow_id, fail).await?;
            if updated.is_some_and(|u| u.change == Some(true)) {
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

/// POSTs a payload to OPAL's trigger URL. `None` when OPAL accepted it (200,
/// 201, 202), else what went wrong.
pub(crate) async fn post_to_opal(
    services: &Services,
    workflow: &Workflow,
    payload: &serde_json::Value,
) -> Result<Option<String>, JobError> {
    let opal = &services.config.opal;
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    let api_key = super::super::secrets::opal_api_key(services)
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
    if let Some(key) = &api_key {
        headers.push((
            "authorization".to_owned(),
            format!("Bearer {}", key.expose()),
        ));
    }
    headers.push((
        "x-correlation-id".to_owned(),
        workflow.correlation_id.clone(),
    ));
    let body = serde_json::to_vec(payload).map_err(|e| JobError::Retry(e.to_string()))?;
    let result = services
        .http
        .post(OutboundRequest {
            url: opal.trigger_url.clone(),
            headers,
            body: Bytes::from(body),
            timeout: opal.timeout,
        })
        .await;
    Ok(match result {
        Ok(r) if (200..=202).contains(&r.status) => None,
        Ok(r) => Some(format!("OPAL answered HTTP {}", r.status)),
        Err(e @ (OutboundError::Timeout | OutboundError::Connect(_) | OutboundError::Other(_))) => {
            Some(e.to_string())
        }
    })
}

/// Scenario A: asks OPAL to run one timed-out agent again, once, with a reduced
/// scope. Its result, if it comes, is kept and marked late.
pub async fn retrigger_agent(
    services: &Services,
    workflow_id: &str,
    agent: AgentId,
    receive_count: u32,
) -> Result<(), JobError> {
    let claim = |w: &mut Workflow| {
        if w.retriggered_agents.contains(&agent) {
            return None;
        }
        w.retriggered_agents.push(agent);
        Some(())
    };
    let Some(before) = services.store.get_workflow(workflow_id).await? else {
        return Ok(());
    };
    if before.retriggered_agents.contains(&agent) && receive_count == 1 {
        return Ok(()); // someone already did it
    }
    let Some(Updated {
        stored: workflow, ..
    }) = services.store.update(workflow_id, claim).await?
    else {
        return Ok(());
    };
    let mut payload = trigger_payload(services, &workflow);
    payload["input_data"]["agents"] = json!([agent.as_str()]);
    payload["input_data"]["scope"] = json!("reduced");
    payload["metadata"]["retrigger"] = json!(true);
    match post_to_opal(services, &workflow, &payload).await? {
        None => {
            tracing::info!(workflow_id, agent = %agent, "timed-out agent triggered again");
            Ok(())
        }
        Some(e) if receive_count >= MAX_TRIGGER_ATTEMPTS => {
            tracing::error!(workflow_id, agent = %agent, error = %e, "re-trigger failed; giving up");
            Ok(())
        }
        Some(e) => Err(JobError::Retry(e)),
    }
}

/// The body OPAL's `strategy_workflow` webhook takes.
pub fn trigger_payload(services: &Services, w: &Workflow) -> serde_json::Value {
    json!({
        "workflow_name": "strategy_workflow",
        "input_data": {
            "workflow_id": w.id,
            "business_context": w.business_context,
            "optimizely": {
                "project_id": w.optimizely.project_id,
                "workspace_id": w.optimizely.workspace_id,
            },
            "analysis_preferences": w.analysis_preferences,
            "callback_url": services.webhook_url(),
        },
        "metadata": {
            "correlation_id": w.correlation_id,
            "span_id": format!("{:016x}", rand::random::<u64>()),
        }
    })
}
