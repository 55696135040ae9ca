//! The deliveries to OPAL: the `strategy_workflow` trigger that starts a
//! workflow, and the mirror of its progress in the workflow (accepted: running;
//! dead-lettered: failed, with the reason; redriven and accepted: back on
//! track); a timed-out agent's re-trigger (scenario A); a Force Sync's trigger,
//! mirrored in the workflow's `force_sync`. Each is a delivery: backoff,
//! history, dead letter, redrive.

use serde_json::json;
use uuid::Uuid;

use crate::ports::{Marker, StoreError, Updated};
use osa_domain::AgentId;
use osa_domain::delivery::{
    Decision, Delivery, DeliveryAuth, DeliveryError, DeliveryKind, OPAL_API_KEY, force_sync_id,
    resume_id, retrigger_id,
};
use osa_domain::run::NewRun;
use osa_domain::workflow::{ForceSync, SyncState, Workflow, WorkflowStatus};

use super::super::deadlines;
use super::super::{JobError, Services};
use super::{enqueue_delivery, last_outcome};

/// The OPAL `strategy_workflow` trigger for a workflow, as a delivery: bearer auth
/// with the OPAL key (looked up when sent), the configured timeout (45 s by
/// default), the workflow's correlation id.
pub fn opal_trigger(
    services: &Services,
    workflow: &Workflow,
    id: Option<Uuid>,
) -> Result<Delivery, DeliveryError> {
    let payload = trigger_payload(services, workflow);
    opal_delivery(services, workflow, DeliveryKind::OpalTrigger, payload, id)
}

/// A delivery of `kind` to OPAL's trigger URL for `workflow`.
fn opal_delivery(
    services: &Services,
    workflow: &Workflow,
    kind: DeliveryKind,
    payload: serde_json::Value,
    id: Option<Uuid>,
) -> Result<Delivery, DeliveryError> {
    let mut delivery = Delivery::opal_trigger(
        services.config.opal.trigger_url.clone(),
        workflow.id().to_owned(),
        payload,
        Some(DeliveryAuth::Bearer {
            secret: OPAL_API_KEY.to_owned(),
        }),
        services.clock.now(),
    )?
    .with_timeout(services.config.opal.timeout);
    delivery.kind = kind;
    // A correlation id that is no valid header value is simply not sent.
    let delivery = delivery
        .clone()
        .with_header("X-Correlation-ID", workflow.correlation_id().to_owned())
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
    if workflow.trigger().accepted_at.is_some() || workflow.status() != WorkflowStatus::Pending {
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
        w.trigger()
            .delivery_id
            .as_deref()
            .and_then(|id| Uuid::parse_str(id).ok())
    };
    if let Some(id) = parse(workflow) {
        return Ok(Some((workflow.clone(), id)));
    }
    let fresh = Uuid::new_v4();
    let claim = |w: &mut Workflow| w.claim_trigger_delivery(fresh).then_some(());
    let Some(updated) = services.store.update(workflow.id(), claim).await? else {
        return Ok(None);
    };
    match parse(&updated.stored) {
        Some(id) => Ok(Some((updated.stored, id))),
        None => Err(StoreError::Corrupt(format!(
            "workflow {}: its trigger delivery id is not a UUID",
            workflow.id()
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
            let note = |w: &mut Workflow| w.note_trigger_retry(attempts, &error, now).then_some(());
            services.store.update(workflow_id, note).await?;
        }
        Decision::Delivered => {
            // A workflow revived by a redrive counts the agents that reported meanwhile.
            let agents = services.store.get_agents(workflow_id).await?;
            let accept = |w: &mut Workflow| w.accept_trigger(&id, attempts, &agents, now);
            let updated = services.store.update(workflow_id, accept).await?;
            tracing::info!(workflow_id, "OPAL trigger accepted");
            if let Some(Updated {
                stored,
                change: Some(accepted),
            }) = updated
            {
                if accepted.restarted {
                    // Back on track after a redrive: the deadline chain stopped when
                    // the workflow failed, so start it again.
                    let agents = services.store.get_agents(workflow_id).await?;
                    deadlines::start_chain(services, &stored, &agents).await?;
                    tracing::info!(workflow_id, delivery_id = %id, "workflow back on track after a redrive");
                }
                services.publish(&accepted.events).await;
            }
        }
        Decision::DeadLetter { reason } => {
            let fail = |w: &mut Workflow| w.dead_letter_trigger(&id, attempts, reason, now);
            let updated = services.store.update(workflow_id, fail).await?;
            if let Some(failed) = updated.and_then(|u| u.change) {
                if failed.finished().is_some() {
                    tracing::error!(workflow_id, delivery_id = %id, reason = %reason, "workflow failed to start: its OPAL trigger was dead-lettered");
                }
                services.publish(&failed.events).await;
            }
        }
    }
    Ok(())
}

/// Scenario A: asks OPAL to run one timed-out agent again, once, with a reduced
/// scope, as a delivery. Its result, if it comes, is kept and marked late.
pub async fn retrigger_agent(
    services: &Services,
    workflow_id: &str,
    agent: AgentId,
) -> Result<(), JobError> {
    let claim = |w: &mut Workflow| w.claim_retrigger(agent).then_some(());
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
    // One per agent and workflow: a repeated job finds the first.
    let id = retrigger_id(workflow_id, agent.as_str());
    let delivery = opal_delivery(
        services,
        &workflow,
        DeliveryKind::OpalRetrigger,
        payload,
        Some(id),
    )
    .map_err(|e| JobError::Retry(e.to_string()))?;
    enqueue_delivery(services, delivery)
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
    tracing::info!(workflow_id, agent = %agent, delivery_id = %id, "timed-out agent to be triggered again");
    Ok(())
}

/// The re-trigger that resumes a workflow paused mid-run: OPAL runs `agents`
/// again. One per pause (its id is derived from when the pause began).
pub fn resume_trigger(
    services: &Services,
    workflow: &Workflow,
    agents: &[AgentId],
    paused_at: time::OffsetDateTime,
) -> Result<Delivery, DeliveryError> {
    let mut payload = trigger_payload(services, workflow);
    payload["input_data"]["agents"] = json!(agents.iter().map(|a| a.as_str()).collect::<Vec<_>>());
    payload["metadata"]["resume"] = json!(true);
    let id = resume_id(workflow.id(), paused_at);
    opal_delivery(
        services,
        workflow,
        DeliveryKind::OpalRetrigger,
        payload,
        Some(id),
    )
}

/// The delivery of a Force Sync's trigger (one per sync).
pub fn force_sync_delivery(
    services: &Services,
    workflow: &Workflow,
    sync: &ForceSync,
) -> Result<Delivery, DeliveryError> {
    let mut payload = trigger_payload(services, workflow);
    payload["metadata"]["force_sync"] = json!({
        "sync_id": sync.sync_id,
        "sync_scope": sync.sync_scope,
        "include_rag_update": sync.include_rag_update,
        "triggered_by": sync.triggered_by,
    });
    let id = force_sync_id(&sync.sync_id);
    opal_delivery(
        services,
        workflow,
        DeliveryKind::OpalForceSync,
        payload,
        Some(id),
    )
}

/// The Force Sync a delivery carries.
fn sync_of(delivery: &Delivery) -> Option<String> {
    delivery.payload["metadata"]["force_sync"]["sync_id"]
        .as_str()
        .map(str::to_owned)
}

/// Mirrors a Force Sync's delivery into the workflow's `force_sync`: accepted,
/// the workflow's next run starts and the sync is completed (also after a
/// redrive); dead-lettered, failed with the reason; a failed attempt is noted.
/// Idempotent.
pub(super) async fn sync_force_sync(
    services: &Services,
    delivery: &Delivery,
    decision: &Decision,
) -> Result<(), JobError> {
    let Some(workflow_id) = delivery.workflow_id.as_deref() else {
        return Ok(());
    };
    let now = services.clock.now();
    if matches!(decision, Decision::Delivered)
        && let Some(sync_id) = sync_of(delivery)
    {
        // OPAL took it: the workflow's next run starts now (once per sync).
        let scale = services.config.deadline_scale;
        if let Some((workflow, agents)) = services
            .store
            .start_run(
                workflow_id,
                NewRun::ForceSync { sync_id: &sync_id },
                now,
                scale,
            )
            .await?
        {
            deadlines::start_chain(services, &workflow, &agents).await?;
            tracing::info!(
                workflow_id,
                sync_id,
                run = workflow.run(),
                "a new run started"
            );
        }
    }
    let (state, error) = match decision {
        Decision::Delivered => (SyncState::Completed, None),
        Decision::DeadLetter { reason } => (SyncState::Failed, Some(reason.to_string())),
        Decision::Retry { .. } => (SyncState::InFlight, Some(last_outcome(delivery))),
    };
    let mirror = |w: &mut Workflow| {
        w.note_force_sync(delivery.id, state, error.as_deref(), now)
            .then_some(())
    };
    let updated = services.store.update(workflow_id, mirror).await?;
    if updated.is_some_and(|u| u.change.is_some()) && state != SyncState::InFlight {
        if state == SyncState::Completed {
            services
                .store
                .set_marker(Marker::LastForceSync, now)
                .await?;
        }
        tracing::info!(workflow_id, delivery_id = %delivery.id, state = ?state, "force sync finished");
    }
    Ok(())
}

/// The body OPAL's `strategy_workflow` webhook takes.
pub fn trigger_payload(services: &Services, w: &Workflow) -> serde_json::Value {
    json!({
        "workflow_name": "strategy_workflow",
        "input_data": {
            "workflow_id": w.id(),
            "business_context": w.business_context(),
            "optimizely": {
                "project_id": w.optimizely().project_id,
                "workspace_id": w.optimizely().workspace_id,
            },
            "analysis_preferences": w.analysis_preferences(),
            "callback_url": services.webhook_url(),
        },
        "metadata": {
            "correlation_id": w.correlation_id(),
            "span_id": format!("{:016x}", rand::random::<u64>()),
        }
    })
}
