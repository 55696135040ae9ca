//! Optimizely credentials.
//!
//! Intake verifies the keys it is given, all four services at once, before the
//! OPAL trigger goes out ([`verify`]). A service that answers 401 or 403 pauses
//! the new workflow as `credentials_invalid`: no trigger, no deadlines. Any other
//! failure (5xx, timeout, open circuit, rate limit) says nothing about the keys,
//! so it is logged and the workflow starts as usual.
//!
//! `POST /api/strategy/workflows/{id}/credentials` ([`resume`]) verifies refreshed
//! keys and, when every service accepts them, resumes the workflow from where it
//! stopped: the OPAL trigger is queued (if OPAL never accepted one), agent results
//! already in are kept, and the deadlines start again from now
//! (`trigger.restarted_at`).
//!
//! Keys are never stored, logged or echoed: they live for the request only.

use crate::ports::{QueueError, StoreError};
use osa_domain::AgentId;
use osa_domain::credentials::{CheckOutcome, Verification, names};
use osa_domain::delivery::DeliveryError;
use osa_domain::intake::{Credentials, parse_credentials_update};
use osa_domain::run::NewRun;
use osa_domain::validation::InvalidBody;
use osa_domain::workflow::{RefusedService, Workflow, WorkflowStatus};

use super::delivery::opal::{claim_trigger_id, opal_trigger, resume_trigger};
use super::delivery::{DeliveryOpError, enqueue_delivery};
use super::{Services, deadlines};

/// Checks every key given, all services at once, within one overall budget
/// (`Config::credentials_budget`): a service that has not answered by then is
/// inconclusive, so a slow Optimizely never holds up an intake. Without a
/// checker (not configured) nothing is checked.
pub async fn verify(services: &Services, credentials: &Credentials) -> Verification {
    if credentials.provided() == Default::default() {
        return Verification::default();
    }
    let Some(checker) = services.optimizely.as_ref() else {
        tracing::info!("Optimizely credentials not verified: no checker configured");
        return Verification::default();
    };
    let budget = services.config.credentials_budget;
    let checks = match tokio::time::timeout(budget, checker.check(credentials)).await {
        Ok(checks) => checks,
        Err(_) => {
            tracing::warn!(
                budget_ms = budget.as_millis() as u64,
                "Optimizely did not answer within the budget; carrying on unverified"
            );
            return Verification::default();
        }
    };
    for (service, outcome) in &checks {
        if let CheckOutcome::Inconclusive(reason) = outcome {
            // The reason names a status or a transport failure, never a key.
            tracing::warn!(%service, reason, "Optimizely credentials could not be verified; carrying on");
        }
    }
    Verification::of(checks)
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(transparent)]
    Invalid(#[from] InvalidBody),
    #[error("no such workflow")]
    NotFound,
    #[error("the workflow is {}, not paused for credentials", .0.as_str())]
    NotPaused(WorkflowStatus),
    #[error("the credentials are still refused")]
    StillInvalid(Vec<RefusedService>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("the OPAL trigger cannot be built: {0}")]
    Trigger(#[from] DeliveryError),
}

impl From<DeliveryOpError> for CredentialsError {
    fn from(e: DeliveryOpError) -> Self {
        match e {
            DeliveryOpError::Store(e) => CredentialsError::Store(e),
            DeliveryOpError::Queue(e) => CredentialsError::Queue(e),
            other => CredentialsError::Store(StoreError::Unavailable(other.to_string())),
        }
    }
}

#[derive(Debug)]
pub struct Resumed {
    pub workflow: Workflow,
    /// The OPAL trigger was queued (it had never been accepted).
    pub triggered: bool,
}

/// Verifies refreshed credentials for a paused workflow and resumes it.
pub async fn resume(
    services: &Services,
    workflow_id: &str,
    body: &[u8],
) -> Result<Resumed, CredentialsError> {
    let credentials = parse_credentials_update(body)?;
    let workflow = services
        .store
        .get_workflow(workflow_id)
        .await?
        .ok_or(CredentialsError::NotFound)?;
    if workflow.status() != WorkflowStatus::CredentialsInvalid {
        return Err(CredentialsError::NotPaused(workflow.status()));
    }
    let verification = verify(services, &credentials).await;
    drop(credentials);
    let now = services.clock.now();

    if verification.is_refused() {
        let refused = &verification.refused;
        let note = |w: &mut Workflow| w.note_refused_again(refused, now).then_some(());
        services.store.update(workflow_id, note).await?;
        tracing::warn!(
            workflow_id,
            refused = %names(&verification.refused),
            "refreshed Optimizely credentials refused; the workflow stays paused"
        );
        return Err(CredentialsError::StillInvalid(verification.refused));
    }

    if workflow.trigger().accepted_at.is_some() {
        return resume_mid_run(services, &workflow, now).await;
    }

    // The trigger first, then the status: if we stop in between, a retried
    // request finds the workflow still paused and queues the same delivery again
    // (its id is stable, so OPAL gets it once).
    let mut triggered = false;
    if workflow.trigger().accepted_at.is_none() {
        let (workflow, id) = claim_trigger_id(services, &workflow)
            .await?
            .ok_or(CredentialsError::NotFound)?;
        enqueue_delivery(services, opal_trigger(services, &workflow, Some(id))?).await?;
        triggered = true;
    }

    let agents = services.store.get_agents(workflow_id).await?;
    let updated = services
        .store
        .update(workflow_id, |w| w.resume(&agents, now))
        .await?
        .ok_or(CredentialsError::NotFound)?;
    let stored = updated.stored;
    let Some(resumed) = updated.change else {
        // A concurrent request resumed it first.
        return Ok(Resumed {
            workflow: stored,
            triggered: false,
        });
    };
    deadlines::start_chain(services, &stored, &agents).await?;
    services.publish(&resumed.events).await;
    tracing::info!(
        workflow_id,
        status = stored.status().as_str(),
        triggered,
        "workflow resumed with refreshed Optimizely credentials"
    );
    Ok(Resumed {
        workflow: stored,
        triggered,
    })
}

/// A workflow paused mid-run (an agent reported Optimizely refusing its key)
/// resumes from its checkpoint: the agents without a result run again, in a
/// new run, asked of OPAL by a re-trigger delivery; results already in stay.
/// The delivery first, then the run: a retried request finds the workflow
/// still paused and queues the same delivery (its id is the pause's).
async fn resume_mid_run(
    services: &Services,
    workflow: &Workflow,
    now: time::OffsetDateTime,
) -> Result<Resumed, CredentialsError> {
    let agents = services.store.get_agents(workflow.id()).await?;
    let rerun: Vec<AgentId> = agents
        .iter()
        .filter(|a| NewRun::Resume.reruns(a))
        .map(|a| a.agent)
        .collect();
    let paused_at = workflow
        .credentials_pause()
        .as_ref()
        .map_or(workflow.updated_at(), |p| p.paused_at);
    let delivery = resume_trigger(services, workflow, &rerun, paused_at)?;
    enqueue_delivery(services, delivery).await?;
    let scale = services.config.deadline_scale;
    let Some((stored, agents)) = services
        .store
        .start_run(workflow.id(), NewRun::Resume, now, scale)
        .await?
    else {
        // A concurrent request resumed it first.
        let current = services
            .store
            .get_workflow(workflow.id())
            .await?
            .ok_or(CredentialsError::NotFound)?;
        return Ok(Resumed {
            workflow: current,
            triggered: false,
        });
    };
    deadlines::start_chain(services, &stored, &agents).await?;
    tracing::info!(
        workflow_id = %stored.id(),
        run = stored.run(),
        agents = rerun.len(),
        "workflow resumed mid-run with refreshed Optimizely credentials"
    );
    Ok(Resumed {
        workflow: stored,
        triggered: true,
    })
}
