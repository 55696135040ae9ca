//! Submitting a strategy intake: validate, create the workflow once, queue the trigger.

use std::time::Duration;

use crate::domain::intake::{Intake, parse_intake};
use crate::domain::pii::{PiiPolicy, redact_text};
use crate::domain::validation::InvalidBody;
use crate::domain::workflow::{AgentState, Workflow, WorkflowStatus};
use crate::ports::{CreateOutcome, DomainEvent, Job, QueueError, StoreError};

use super::Services;

#[derive(Debug)]
pub struct Submitted {
    pub workflow: Workflow,
    /// False when an identical earlier submission already created it.
    pub created: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Invalid(#[from] InvalidBody),
    #[error("workflow {0} already exists with a different intake")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

pub async fn submit(
    services: &Services,
    body: &[u8],
    correlation_id: &str,
) -> Result<Submitted, IntakeError> {
    let mut intake = parse_intake(body)?;
    redact_intake(&mut intake, &services.config.pii);
    let id = intake
        .workflow_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let (workflow, agents) = Workflow::create(
        &intake,
        id,
        correlation_id.to_owned(),
        services.clock.now(),
        services.config.deadline_scale,
    );
    let trigger = Job::TriggerOpal {
        workflow_id: workflow.id.clone(),
    };
    match services.store.create_workflow(&workflow, &agents).await? {
        CreateOutcome::Created => {
            services.queue.enqueue(&trigger, Duration::ZERO).await?;
            schedule_deadlines(services, &workflow, &agents).await?;
            tracing::info!(workflow_id = %workflow.id, "workflow created");
            services
                .publish(&[DomainEvent::WorkflowCreated {
                    workflow_id: workflow.id.clone(),
                    correlation_id: workflow.correlation_id.clone(),
                    at: workflow.created_at,
                }])
                .await;
            Ok(Submitted {
                workflow,
                created: true,
            })
        }
        CreateOutcome::Existing(existing) if existing.fingerprint == workflow.fingerprint => {
            // A retry of the same submission. If the trigger never went out (say the
            // queue was down the first time), queue it again; the worker sends it once.
            if existing.status == WorkflowStatus::Pending && existing.trigger.accepted_at.is_none()
            {
                services.queue.enqueue(&trigger, Duration::ZERO).await?;
                let agents = services.store.get_agents(&existing.id).await?;
                schedule_deadlines(services, &existing, &agents).await?;
            }
            Ok(Submitted {
                workflow: *existing,
                created: false,
            })
        }
        CreateOutcome::Existing(existing) => Err(IntakeError::Conflict(existing.id)),
    }
}

/// Free-text fields may carry personal data; it is redacted before storage.
/// The fingerprint was taken first, so a retried submission still matches.
fn redact_intake(intake: &mut Intake, policy: &PiiPolicy) {
    let bc = &mut intake.business_context;
    let fields = bc
        .goals
        .iter_mut()
        .chain(std::iter::once(&mut bc.target_audience))
        .chain(bc.current_challenges.iter_mut().flatten());
    let mut total = 0;
    for field in fields {
        let (redacted, found) = redact_text(field, policy);
        if found.total() > 0 {
            total += found.total();
            *field = redacted;
        }
    }
    if total > 0 {
        tracing::info!(
            findings = total,
            mode = policy.mode.as_str(),
            "PII redacted from intake"
        );
    }
}

/// Starts the workflow's chain of deadline checks.
async fn schedule_deadlines(
    services: &Services,
    workflow: &Workflow,
    agents: &[AgentState],
) -> Result<(), QueueError> {
    let check =
        workflow.check_deadlines(agents, services.clock.now(), services.config.deadline_scale);
    match check.next_check_at {
        Some(at) => super::lifecycle::schedule_check(services, &workflow.id, at).await,
        None => Ok(()),
    }
}
