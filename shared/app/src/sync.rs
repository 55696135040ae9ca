//! Force Sync: re-triggers a workflow's OPAL run on demand, at most one in
//! flight per workflow. The request ([`force_sync`]) records the sync on the
//! workflow and queues the job ([`run_job`]) that sends the trigger as a
//! delivery (backoff, history, dead letter, redrive).

use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::ports::{Job, QueueError, StoreError};
use osa_domain::WorkflowId;
use osa_domain::schema::NOT_BLANK;
use osa_domain::validation::{InvalidBody, Violations, parse_json};
use osa_domain::workflow::{ForceSyncRequest, SyncState, Workflow, WorkflowStatus};

use super::delivery::{enqueue_delivery, opal};
use super::{JobError, Services};

/// `POST /api/opal/sync`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ForceSyncRequest")]
pub struct SyncRequest {
    #[serde(default)]
    #[schemars(length(min = 1, max = 64), pattern(NOT_BLANK))]
    pub sync_scope: Option<String>,
    #[serde(default)]
    pub include_rag_update: bool,
    #[serde(default)]
    #[schemars(length(min = 1, max = 128), pattern(NOT_BLANK))]
    pub triggered_by: Option<String>,
    /// Free-form; `workflow_id` in it picks the workflow (default: the latest).
    #[serde(default)]
    #[schemars(schema_with = "client_context")]
    pub client_context: Option<serde_json::Map<String, serde_json::Value>>,
}

fn client_context(generator: &mut SchemaGenerator) -> Schema {
    let id = generator.subschema_for::<Option<WorkflowId>>();
    json_schema!({"type": ["object", "null"], "properties": {"workflow_id": id}})
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "ForceSyncAccepted")]
pub struct SyncAccepted {
    pub workflow_id: String,
    pub sync_id: String,
    /// True when a sync of this workflow was already in flight: that one is
    /// returned and no second run starts.
    pub already_in_flight: bool,
    pub state: SyncState,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Invalid(#[from] InvalidBody),
    #[error("no workflow to sync")]
    NoWorkflow,
    /// Paused for refused Optimizely credentials: a sync would run OPAL with
    /// them; post refreshed credentials first.
    #[error("workflow {0} is paused until its credentials are refreshed")]
    CredentialsInvalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

fn validate(body: &[u8]) -> Result<(SyncRequest, Option<String>), InvalidBody> {
    let request: SyncRequest = parse_json(body)?;
    let mut v = Violations::at("");
    if let Some(scope) = &request.sync_scope {
        v.text("sync_scope", scope, 1, 64);
    }
    if let Some(by) = &request.triggered_by {
        v.text("triggered_by", by, 1, 128);
    }
    let workflow_id = match request
        .client_context
        .as_ref()
        .and_then(|c| c.get("workflow_id"))
    {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(id)) => {
            if let Err(e) = WorkflowId::parse(id.as_str()) {
                v.push("client_context.workflow_id", e.to_string());
            }
            Some(id.clone())
        }
        Some(_) => {
            v.push("client_context.workflow_id", "must be a string");
            None
        }
    };
    v.into_result((request, workflow_id))
        .map_err(InvalidBody::Schema)
}

pub async fn force_sync(services: &Services, body: &[u8]) -> Result<SyncAccepted, SyncError> {
    let (request, workflow_id) = validate(body)?;
    let workflow_id = match workflow_id {
        Some(id) => id,
        None => services
            .store
            .recent_workflows(1)
            .await?
            .into_iter()
            .next()
            .map(|w| w.id().to_owned())
            .ok_or(SyncError::NoWorkflow)?,
    };
    let now = services.clock.now();
    let sync_id = uuid::Uuid::new_v4().to_string();
    let asked = ForceSyncRequest {
        sync_id: sync_id.clone(),
        sync_scope: request.sync_scope.clone(),
        include_rag_update: request.include_rag_update,
        triggered_by: request.triggered_by.clone(),
    };
    // Refused while paused (answered below, from the stored status); one in
    // flight per workflow is kept.
    let start = |w: &mut Workflow| w.request_force_sync(&asked, now).then_some(());
    let stored = services
        .store
        .update(&workflow_id, start)
        .await?
        .ok_or(SyncError::NoWorkflow)?
        .stored;
    if stored.status() == WorkflowStatus::CredentialsInvalid {
        return Err(SyncError::CredentialsInvalid(workflow_id));
    }
    let sync = stored.force_sync().cloned().ok_or(SyncError::NoWorkflow)?;
    let already_in_flight = sync.sync_id != sync_id;
    if !already_in_flight {
        services
            .queue
            .enqueue(
                &Job::ForceSync {
                    workflow_id: workflow_id.clone(),
                    sync_id: sync.sync_id.clone(),
                },
                Duration::ZERO,
            )
            .await?;
        tracing::info!(workflow_id, sync_id = %sync.sync_id, "force sync requested");
    }
    Ok(SyncAccepted {
        workflow_id,
        sync_id: sync.sync_id,
        already_in_flight,
        state: sync.state,
    })
}

/// The job a Force Sync queues: its trigger becomes a delivery to OPAL (one per
/// sync), whose outcome the workflow's `force_sync` mirrors
/// (`delivery::opal::sync_force_sync`).
pub async fn run_job(
    services: &Services,
    workflow_id: &str,
    sync_id: &str,
) -> Result<(), JobError> {
    let Some(workflow) = services.store.get_workflow(workflow_id).await? else {
        return Ok(());
    };
    let Some(sync) = workflow
        .force_sync()
        .filter(|s| s.sync_id == sync_id && s.state == SyncState::InFlight)
    else {
        return Ok(()); // finished already, or superseded
    };
    let delivery = opal::force_sync_delivery(services, &workflow, sync)
        .map_err(|e| JobError::Retry(e.to_string()))?;
    let id = delivery.id;
    enqueue_delivery(services, delivery)
        .await
        .map_err(|e| JobError::Retry(e.to_string()))?;
    tracing::info!(workflow_id, sync_id, delivery_id = %id, "force sync trigger queued");
    Ok(())
}
