//! The background worker: runs queued jobs: outbound deliveries (the OPAL
//! trigger among them, see `app::delivery`), deadline checks, re-triggers of
//! timed-out agents and Force Sync runs.

use bytes::Bytes;
use serde_json::json;

use crate::domain::AgentId;
use crate::domain::workflow::{SyncState, Workflow};
use crate::ports::{Job, Marker, OutboundError, OutboundRequest, StoreError};

use super::Services;

/// Give up on a re-trigger or a Force Sync after this many receives of its job.
pub const MAX_TRIGGER_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another try later (the queue redelivers after its visibility timeout).
    #[error("retryable: {0}")]
    Retry(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs one job. `Ok` means it is finished with (done, or given up on) and can be acked.
pub async fn run(services: &Services, job: &Job, receive_count: u32) -> Result<(), JobError> {
    match job {
        // Queued by builds before deliveries: becomes the workflow's trigger delivery.
        Job::TriggerOpal { workflow_id } => {
            super::delivery::trigger_opal_job(services, workflow_id).await
        }
        Job::Deliver {
            delivery_id,
            run,
            attempt,
        } => super::delivery::deliver(services, *delivery_id, *run, *attempt).await,
        Job::CheckDeadlines { workflow_id } => {
            super::lifecycle::check_deadlines(services, workflow_id).await
        }
        Job::RetriggerAgent { workflow_id, agent } => {
            retrigger_agent(services, workflow_id, *agent, receive_count).await
        }
        Job::ForceSync {
            workflow_id,
            sync_id,
        } => force_sync(services, workflow_id, sync_id, receive_count).await,
    }
}

/// POSTs a payload to OPAL's trigger URL. `None` when OPAL accepted it (200,
/// 201, 202), else what went wrong.
async fn post_to_opal(
    services: &Services,
    workflow: &Workflow,
    payload: &serde_json::Value,
) -> Result<Option<String>, JobError> {
    let opal = &services.config.opal;
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(key) = &opal.api_key {
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
async fn retrigger_agent(
    services: &Services,
    workflow_id: &str,
    agent: AgentId,
    receive_count: u32,
) -> Result<(), JobError> {
    let claim = |w: &mut Workflow| {
        if w.retriggered_agents.contains(&agent) {
            return false;
        }
        w.retriggered_agents.push(agent);
        true
    };
    let Some(before) = services.store.get_workflow(workflow_id).await? else {
        return Ok(());
    };
    if before.retriggered_agents.contains(&agent) && receive_count == 1 {
        return Ok(()); // someone already did it
    }
    let Some(workflow) = services.store.update_workflow(workflow_id, &claim).await? else {
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

/// Runs a Force Sync: re-sends the OPAL trigger for the workflow, once.
async fn force_sync(
    services: &Services,
    workflow_id: &str,
    sync_id: &str,
    receive_count: u32,
) -> Result<(), JobError> {
    let Some(workflow) = services.store.get_workflow(workflow_id).await? else {
        return Ok(());
    };
    let Some(sync) = workflow
        .force_sync
        .as_ref()
        .filter(|s| s.sync_id == sync_id && s.state == SyncState::InFlight)
    else {
        return Ok(()); // finished already, or superseded
    };
    let mut payload = trigger_payload(services, &workflow);
    payload["metadata"]["force_sync"] = json!({
        "sync_id": sync.sync_id,
        "sync_scope": sync.sync_scope,
        "include_rag_update": sync.include_rag_update,
        "triggered_by": sync.triggered_by,
    });
    let error = post_to_opal(services, &workflow, &payload).await?;
    let give_up = error.is_some() && receive_count >= MAX_TRIGGER_ATTEMPTS;
    if error.is_some() && !give_up {
        return Err(JobError::Retry(error.unwrap_or_default()));
    }
    let now = services.clock.now();
    let finish = |w: &mut Workflow| match w.force_sync.as_mut() {
        Some(s) if s.sync_id == sync_id && s.state == SyncState::InFlight => {
            s.state = if error.is_none() {
                SyncState::Completed
            } else {
                SyncState::Failed
            };
            s.finished_at = Some(now);
            s.error.clone_from(&error);
            true
        }
        _ => false,
    };
    services.store.update_workflow(workflow_id, &finish).await?;
    if error.is_none() {
        services
            .store
            .set_marker(Marker::LastForceSync, now)
            .await?;
    }
    tracing::info!(
        workflow_id,
        sync_id,
        ok = error.is_none(),
        "force sync finished"
    );
    Ok(())
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
