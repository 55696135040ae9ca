//! Submitting a strategy intake: validate, create the workflow once, queue the trigger.

use crate::ports::{CreateOutcome, QueueError, StoreError};
use osa_domain::credentials::names;
use osa_domain::delivery::DeliveryError;
use osa_domain::intake::{Intake, parse_intake};
use osa_domain::notification;
use osa_domain::pii::{Findings, PiiPolicy, redact_text};
use osa_domain::validation::{FieldError, InvalidBody};
use osa_domain::workflow::{Workflow, WorkflowStatus};

use super::delivery::opal::opal_trigger;
use super::delivery::{DeliveryOpError, enqueue_delivery};
use super::{Services, deadlines};

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
    /// The OPAL trigger cannot be built (say, the configured URL is not http(s)).
    #[error("the OPAL trigger cannot be built: {0}")]
    Trigger(#[from] DeliveryError),
}

impl From<DeliveryOpError> for IntakeError {
    fn from(e: DeliveryOpError) -> Self {
        match e {
            DeliveryOpError::Store(e) => IntakeError::Store(e),
            DeliveryOpError::Queue(e) => IntakeError::Queue(e),
            other => IntakeError::Store(StoreError::Unavailable(other.to_string())),
        }
    }
}

pub async fn submit(
    services: &Services,
    body: &[u8],
    correlation_id: &str,
) -> Result<Submitted, IntakeError> {
    let mut intake = parse_intake(body)?;
    if let Some(url) = &intake.notify_url
        && let Err(why) = notification::check_url(url, services.config.notify.targets)
    {
        return Err(IntakeError::Invalid(InvalidBody::Schema(vec![
            FieldError::new("notify_url", why),
        ])));
    }
    let findings = redact_intake(&mut intake, &services.config.pii);
    if findings.total() > 0 {
        super::metrics::intake_pii_redacted(services, &findings, services.config.pii.mode).await;
    }
    let id = intake
        .workflow_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // Scenario C: keys a service refuses (401/403) pause the workflow before
    // OPAL is triggered. Verified before anything is stored; never kept.
    let verification = super::credentials::verify(services, &intake.credentials).await;
    let (mut workflow, agents) = Workflow::create(
        &intake,
        id,
        correlation_id.to_owned(),
        services.clock.now(),
        services.config.deadline_scale,
    );
    // The OPAL trigger is an outbound delivery (retried with backoff, then
    // dead-lettered); the workflow names it.
    let trigger = opal_trigger(services, &workflow, None)?;
    workflow.claim_trigger_delivery(trigger.id);
    let mut events = vec![workflow.created()];
    let paused = verification.is_refused();
    if paused {
        let at = workflow.created_at();
        let pause = workflow.pause_for_credentials(verification.refused.clone(), &agents, at);
        events.extend(pause.into_iter().flat_map(|t| t.events));
    }
    match services.store.create_workflow(&workflow, &agents).await? {
        CreateOutcome::Created => {
            if paused {
                // No trigger and no deadlines until refreshed keys resume it.
                tracing::warn!(
                    workflow_id = %workflow.id(),
                    refused = %names(&verification.refused),
                    "workflow paused: Optimizely refused the credentials"
                );
            } else {
                enqueue_delivery(services, trigger).await?;
                deadlines::start_chain(services, &workflow, &agents).await?;
            }
            tracing::info!(workflow_id = %workflow.id(), status = workflow.status().as_str(), "workflow created");
            services.publish(&events).await;
            Ok(Submitted {
                workflow,
                created: true,
            })
        }
        CreateOutcome::Existing(existing) if existing.fingerprint() == workflow.fingerprint() => {
            // A retry of the same submission. If the trigger never went out (say the
            // queue was down the first time), queue it again; the worker sends it once.
            if existing.status() == WorkflowStatus::Pending
                && existing.trigger().accepted_at.is_none()
            {
                let id = existing
                    .trigger()
                    .delivery_id
                    .as_deref()
                    .and_then(|id| uuid::Uuid::parse_str(id).ok());
                match id {
                    Some(id) => {
                        enqueue_delivery(services, opal_trigger(services, &existing, Some(id))?)
                            .await?;
                    }
                    // Created by a build before deliveries: its worker converts it.
                    None => {
                        services
                            .queue
                            .enqueue(
                                &crate::ports::Job::TriggerOpal {
                                    workflow_id: existing.id().to_owned(),
                                },
                                std::time::Duration::ZERO,
                            )
                            .await?;
                    }
                }
                let agents = services.store.get_agents(existing.id()).await?;
                deadlines::start_chain(services, &existing, &agents).await?;
            }
            Ok(Submitted {
                workflow: *existing,
                created: false,
            })
        }
        CreateOutcome::Existing(existing) => Err(IntakeError::Conflict(existing.id().to_owned())),
    }
}

/// Free-text fields may carry personal data; it is redacted before storage.
/// The fingerprint was taken first, so a retried submission still matches.
fn redact_intake(intake: &mut Intake, policy: &PiiPolicy) -> Findings {
    let bc = &mut intake.business_context;
    let fields = bc
        .goals
        .iter_mut()
        .chain(std::iter::once(&mut bc.target_audience))
        .chain(bc.current_challenges.iter_mut().flatten());
    let mut findings = Findings::default();
    for field in fields {
        let (redacted, found) = redact_text(field, policy);
        if found.total() > 0 {
            findings.merge(found);
            *field = redacted;
        }
    }
    if findings.total() > 0 {
        tracing::info!(
            findings = findings.total(),
            mode = policy.mode.as_str(),
            "PII redacted from intake"
        );
    }
    findings
}
