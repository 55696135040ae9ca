//! Ingesting an agent webhook: verify the raw bytes, parse, record once, audit always.

use bytes::Bytes;

use crate::ports::{EventOutcome, SecretUnavailable, StoreError};
use osa_domain::activity::Activity;
use osa_domain::audit::Attempt;
use osa_domain::event::{parse_agent_event, sniff_workflow_id};
use osa_domain::metrics::EventMetrics;
use osa_domain::pii::{Findings, redact_json, redact_text};
use osa_domain::signature::SignatureError;
use osa_domain::validation::InvalidBody;
use osa_domain::webhook_signature::{Signatures, verify_any};
use osa_domain::workflow::{AgentStatus, WorkflowStatus};

use super::{Services, metrics, secrets};

pub struct WebhookRequest<'a> {
    pub signatures: Signatures<'a>,
    pub correlation_id: Option<&'a str>,
    pub body: &'a [u8],
}

/// A webhook body as it came: read whole, or refused unread for its declared
/// size (over `Config::max_body_bytes`).
pub enum WebhookBody {
    Read(Bytes),
    TooLarge { declared_bytes: u64 },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    Accepted {
        event_id: String,
        agent_status: AgentStatus,
        state_changed: bool,
        workflow_status: WorkflowStatus,
    },
    Duplicate {
        event_id: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Invalid(#[from] InvalidBody),
    #[error("unknown workflow")]
    UnknownWorkflow,
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The webhook secrets are held by reference and the store did not answer.
    #[error(transparent)]
    SecretsUnavailable(#[from] SecretUnavailable),
}

impl WebhookError {
    /// The reason recorded in the audit trail, and the HTTP status the edge sends.
    pub fn reason_and_status(&self) -> (&'static str, u16) {
        match self {
            WebhookError::Signature(e) => (e.code(), 401),
            WebhookError::Invalid(InvalidBody::Syntax(_)) => ("invalid_json", 400),
            WebhookError::Invalid(InvalidBody::Schema(_)) => ("validation_failed", 422),
            WebhookError::UnknownWorkflow => ("unknown_workflow", 404),
            WebhookError::TooLarge { .. } => ("body_too_large", 413),
            WebhookError::Store(_) => ("store_unavailable", 503),
            WebhookError::SecretsUnavailable(_) => ("secrets_unavailable", 503),
        }
    }
}

/// Receives one webhook request: a body over the limit is audited unread and
/// refused; any other is ingested.
pub async fn receive(
    services: &Services,
    signatures: Signatures<'_>,
    correlation_id: Option<&str>,
    body: WebhookBody,
) -> Result<Ingested, WebhookError> {
    match body {
        WebhookBody::Read(bytes) => {
            let request = WebhookRequest {
                signatures,
                correlation_id,
                body: &bytes,
            };
            ingest(services, request).await
        }
        WebhookBody::TooLarge { declared_bytes } => {
            reject_oversized(services, correlation_id, declared_bytes).await?;
            Err(WebhookError::TooLarge {
                limit: services.config.max_body_bytes,
            })
        }
    }
}

/// Verifies, parses, redacts and records one webhook body.
pub async fn ingest(
    services: &Services,
    request: WebhookRequest<'_>,
) -> Result<Ingested, WebhookError> {
    let started = std::time::Instant::now();
    let attempt = Attempt::of_body(services.clock.now(), request.correlation_id, request.body);
    let verified = match secrets::signature_config(services).await {
        Ok(signature) => verify_any(
            &request.signatures,
            request.body,
            services.clock.now_ms(),
            signature,
        )
        .map_err(WebhookError::from),
        Err(e) => {
            tracing::error!(error = %e, "webhook secrets unavailable: the webhook cannot be verified");
            Err(WebhookError::from(e))
        }
    };
    let parsed = verified.and_then(|message_id| {
        let event = parse_agent_event(request.body).map_err(WebhookError::from)?;
        Ok(match message_id {
            Some(id) => event.keyed_by_message(id),
            None => event,
        })
    });
    let mut event = match parsed {
        Ok(event) => event,
        Err(err) => {
            reject(services, &attempt, request.body, &err).await?;
            let reason = err.reason_and_status().0;
            metrics::webhook_rejected(services, None, reason, started.elapsed()).await;
            return Err(err);
        }
    };
    // Stored output is redacted; identity (event id) was fixed on the bytes as sent.
    let policy = &services.config.pii;
    let mut findings = Findings::default();
    if let Some(data) = event.agent_data.as_mut() {
        // The event's only reference yet: redacted in place, not copied.
        findings.merge(redact_json(std::sync::Arc::make_mut(data), policy));
    }
    if let Some(error) = event.error.take() {
        let (redacted, found) = redact_text(&error, policy);
        findings.merge(found);
        event.error = Some(redacted);
    }
    if findings.total() > 0 {
        tracing::info!(
            findings = findings.total(),
            mode = policy.mode.as_str(),
            "PII redacted from agent output"
        );
    }
    // Counted in the event's own write (`domain::metrics::of_recorded`): exactly
    // once whatever races or retries it takes.
    let counts = EventMetrics::webhook(started.elapsed().as_millis(), findings, policy.mode);
    let outcome = services
        .store
        .record_event_with(&event, &attempt, Some(&counts))
        .await?;
    let result = match &outcome {
        EventOutcome::Accepted {
            event_id,
            agent_status,
            state_changed,
            workflow_status,
            ..
        } => {
            tracing::info!(
                workflow_id = %event.workflow_id, agent = %event.agent, kind = event.kind.as_str(),
                %event_id, state_changed, workflow_status = workflow_status.as_str(), "agent event accepted"
            );
            let accepted = Ingested::Accepted {
                event_id: event_id.clone(),
                agent_status: *agent_status,
                state_changed: *state_changed,
                workflow_status: *workflow_status,
            };
            Ok(accepted)
        }
        EventOutcome::Duplicate { event_id } => {
            tracing::info!(workflow_id = %event.workflow_id, agent = %event.agent, %event_id, "duplicate agent event");
            let duplicate = Ingested::Duplicate {
                event_id: event_id.clone(),
            };
            Ok(duplicate)
        }
        EventOutcome::UnknownWorkflow => {
            let reason = "unknown_workflow";
            metrics::webhook_rejected(services, Some(&event), reason, started.elapsed()).await;
            Err(WebhookError::UnknownWorkflow)
        }
    };
    services
        .publish(&outcome.domain_events(&event, services.clock.now()))
        .await;
    result
}

/// Records a rejected attempt under the workflow its body claims, if any.
async fn reject(
    services: &Services,
    attempt: &Attempt,
    body: &[u8],
    err: &WebhookError,
) -> Result<(), StoreError> {
    let (reason, status) = err.reason_and_status();
    let entry = attempt.rejected(sniff_workflow_id(body), reason, status);
    tracing::warn!(
        reason,
        status,
        workflow_id = entry.workflow_id.as_deref(),
        "webhook rejected"
    );
    services.audit.append_audit(&entry).await?;
    services
        .note(&Activity::WebhookRejected {
            workflow_id: entry.workflow_id,
            reason: reason.to_owned(),
            status,
            at: attempt.received_at,
        })
        .await;
    Ok(())
}

/// Audits a body refused before it was read (over the size limit).
async fn reject_oversized(
    services: &Services,
    correlation_id: Option<&str>,
    declared_bytes: u64,
) -> Result<(), StoreError> {
    audit_unread(
        services,
        correlation_id,
        declared_bytes,
        "body_too_large",
        413,
    )
    .await
}

/// Audits a webhook the edge refused before its body was read (a `429` from the
/// rate limit): every attempt is in the audit trail, whatever answered it.
pub async fn audit_rate_limited(
    services: &Services,
    correlation_id: Option<&str>,
    declared_bytes: u64,
) -> Result<(), StoreError> {
    audit_unread(
        services,
        correlation_id,
        declared_bytes,
        "rate_limited",
        429,
    )
    .await
}

async fn audit_unread(
    services: &Services,
    correlation_id: Option<&str>,
    declared_bytes: u64,
    reason: &str,
    status: u16,
) -> Result<(), StoreError> {
    let attempt = Attempt::unread(services.clock.now(), correlation_id, declared_bytes);
    tracing::warn!(declared_bytes, reason, status, "webhook rejected unread");
    services
        .audit
        .append_audit(&attempt.rejected(None, reason, status))
        .await?;
    services
        .note(&Activity::WebhookRejected {
            workflow_id: None,
            reason: reason.into(),
            status,
            at: attempt.received_at,
        })
        .await;
    Ok(())
}
