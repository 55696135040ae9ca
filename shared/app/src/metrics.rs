//! Recording metrics from the use cases. Best effort: the state they describe is
//! already durable, so a metrics failure is logged and never fails a request.
//! Every label value here is bounded (the agent catalogue, status enums, PII
//! types, fixed reason codes).

use time::OffsetDateTime;

use osa_domain::event::AgentEvent;
use osa_domain::metrics::{
    Family, Observation, confidence_level, pii_observations, processing_time_range,
    strategy_recommendations,
};
use osa_domain::pii::{Findings, RedactionMode};
use osa_domain::report::Report;
use osa_domain::workflow::{Workflow, WorkflowStatus};

use super::Services;
use crate::ports::StoreError;

pub use osa_domain::metrics::CONTENT_TYPE;

/// The `osal_*` metrics in the Prometheus text format ([`CONTENT_TYPE`]): totals
/// across every instance, as the store aggregates them.
pub async fn exposition(services: &Services) -> Result<String, StoreError> {
    Ok(services.metrics.snapshot().await?.render())
}

/// Records observations; failures are logged.
pub async fn record(services: &Services, observations: Vec<Observation>) {
    if observations.is_empty() {
        return;
    }
    if let Err(e) = services.metrics.record(&observations).await {
        tracing::warn!(error = %e, count = observations.len(), "metrics not recorded");
    }
}

/// Builds observations, dropping (and logging) any that break the label rules:
/// a bug, never worth failing a request for.
fn collect(
    built: impl IntoIterator<Item = Result<Observation, osa_domain::metrics::MetricsError>>,
) -> Vec<Observation> {
    built
        .into_iter()
        .filter_map(|o| {
            o.map_err(|e| tracing::error!(error = %e, "metric observation refused"))
                .ok()
        })
        .collect()
}

/// One webhook refused before its event could be recorded (a bad signature,
/// an invalid body, an unknown workflow): `reason` is the audit reason, a fixed
/// code. A webhook whose event was recorded (accepted or a duplicate) was
/// counted by the store in the same write (`domain::metrics::of_recorded`).
pub async fn webhook_rejected(
    services: &Services,
    event: Option<&AgentEvent>,
    reason: &str,
    elapsed: std::time::Duration,
) {
    let agent = event.map_or("unknown", |e| e.agent.as_str());
    let built = vec![Observation::inc(
        Family::WebhookProcessingTotal,
        &[
            agent,
            reason,
            "opal",
            processing_time_range(elapsed.as_millis()),
        ],
    )];
    record(services, collect(built)).await;
}

/// PII redacted from an intake's free text (no agent confidence applies).
pub async fn intake_pii_redacted(services: &Services, findings: &Findings, mode: RedactionMode) {
    let built = pii_observations(findings, mode, confidence_level(None));
    record(services, collect(built)).await;
}

/// One outbound delivery dead-lettered (in Lambda also an EMF metric, which the
/// template's dead-letter alarm watches).
pub async fn delivery_dead_lettered(services: &Services) {
    let built = vec![Observation::inc(Family::DeliveriesDeadLetteredTotal, &[])];
    record(services, collect(built)).await;
}

/// A finished workflow's duration and the strategy recommendations it
/// produced, from the workflow and report the relay read once for this and
/// its notification (`None`: not found; the duration then counts from `at`,
/// the strategy not at all). Counted once per `key` (the outbox item's id),
/// however often the relay runs. An agent's end was counted when its event
/// was recorded, in the same write (`domain::metrics::of_recorded`).
pub async fn workflow_finished(
    services: &Services,
    key: &str,
    finished: Option<&(Workflow, Report)>,
    status: WorkflowStatus,
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    let mut built = Vec::new();
    let started = match finished {
        Some((w, report)) => {
            match strategy_recommendations(
                &report.strategy.all_recommendations(),
                w.business_context().industry.as_str(),
            ) {
                Ok(observations) => built.extend(observations.into_iter().map(Ok)),
                Err(e) => built.push(Err(e)),
            }
            w.created_at()
        }
        None => at,
    };
    let seconds = (at - started).as_seconds_f64().max(0.0);
    built.push(Observation::observe(
        Family::WorkflowProcessingDurationSeconds,
        &["workflow", status.as_str()],
        seconds,
    ));
    services.metrics.record_once(key, &collect(built)).await?;
    Ok(())
}
