//! The background worker: runs queued jobs. Today that is the OPAL trigger.

use bytes::Bytes;
use serde_json::json;

use crate::domain::workflow::{Workflow, WorkflowStatus};
use crate::ports::{Job, OutboundError, OutboundRequest, StoreError};

use super::Services;

/// Give up on a trigger after this many receives of its job.
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
        Job::TriggerOpal { workflow_id } => {
            trigger_opal(services, workflow_id, receive_count).await
        }
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

async fn trigger_opal(
    services: &Services,
    workflow_id: &str,
    receive_count: u32,
) -> Result<(), JobError> {
    let Some(workflow) = services.store.get_workflow(workflow_id).await? else {
        tracing::warn!(workflow_id, "trigger for an unknown workflow dropped");
        return Ok(());
    };
    if workflow.trigger.accepted_at.is_some() || workflow.status != WorkflowStatus::Pending {
        return Ok(()); // already triggered: a redelivered or repeated job
    }
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
    let body = serde_json::to_vec(&trigger_payload(services, &workflow))
        .map_err(|e| JobError::Retry(e.to_string()))?;
    let result = services
        .http
        .post(OutboundRequest {
            url: opal.trigger_url.clone(),
            headers,
            body: Bytes::from(body),
            timeout: opal.timeout,
        })
        .await;
    let now = services.clock.now();
    let error = match result {
        Ok(r) if (200..=202).contains(&r.status) => None,
        Ok(r) => Some(format!("OPAL answered HTTP {}", r.status)),
        Err(e @ (OutboundError::Timeout | OutboundError::Connect(_) | OutboundError::Other(_))) => {
            Some(e.to_string())
        }
    };
    let give_up = error.is_some() && receive_count >= MAX_TRIGGER_ATTEMPTS;
    let change = |w: &mut Workflow| {
        w.trigger.attempts = w.trigger.attempts.saturating_add(1);
        w.trigger.last_error.clone_from(&error);
        w.updated_at = now;
        match &error {
            None => {
                w.trigger.accepted_at = Some(now);
                if w.status == WorkflowStatus::Pending {
                    w.status = WorkflowStatus::Running;
                }
            }
            Some(_) if give_up => {
                w.status = WorkflowStatus::Failed;
                w.finished_at = Some(now);
            }
            Some(_) => {}
        }
        true
    };
    services.store.update_workflow(workflow_id, &change).await?;
    match error {
        None => {
            tracing::info!(workflow_id, "OPAL trigger accepted");
            Ok(())
        }
        Some(e) if give_up => {
            tracing::error!(workflow_id, error = %e, attempts = receive_count, "OPAL trigger failed; giving up");
            Ok(())
        }
        Some(e) => {
            tracing::warn!(workflow_id, error = %e, attempt = receive_count, "OPAL trigger failed; will retry");
            Err(JobError::Retry(e))
        }
    }
}
