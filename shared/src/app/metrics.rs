//! Recording metrics from the use cases. Best effort: the state they describe is
//! already durable, so a metrics failure is logged and never fails a request.
//! Every label value here is bounded (the agent catalogue, status enums, PII
//! types, fixed reason codes).

use crate::domain::AgentId;
use crate::domain::event::AgentEvent;
use crate::domain::metrics::{
    Family, Observation, confidence_level, processing_time_range, strategy_recommendations,
};
use crate::domain::pii::{Findings, RedactionMode};
use crate::ports::DomainEvent;

use super::Services;

/// Every workflow OSA runs is a strategy workflow.
pub const WORKFLOW_TYPE: &str = "strategy";

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
    built: impl IntoIterator<Item = Result<Observation, crate::domain::metrics::MetricsError>>,
) -> Vec<Observation> {
    built
        .into_iter()
        .filter_map(|o| {
            o.map_err(|e| tracing::error!(error = %e, "metric observation refused"))
                .ok()
        })
        .collect()
}

/// One webhook processed: its outcome and the PII the redaction found. `status`
/// is the audit reason (`accepted`, `duplicate`, `signature_mismatch`...): a
/// fixed code. The agent's duration is OSA's own measurement, recorded when the
/// agent's end is published ([`on_published`]).
pub async fn webhook_processed(
    services: &Services,
    event: Option<&AgentEvent>,
    status: &str,
    elapsed: std::time::Duration,
    findings: Option<(&Findings, RedactionMode)>,
) {
    let agent = event.map_or("unknown", |e| e.agent.as_str());
    let mut built = vec![Observation::inc(
        Family::WebhookProcessingTotal,
        &[
            agent,
            status,
            "opal",
            processing_time_range(elapsed.as_millis()),
        ],
    )];
    if let Some((findings, mode)) = findings {
        let level = confidence_level(event.and_then(|e| e.confidence));
        built.extend(pii_observations(findings, mode, level));
    }
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

/// The PII found, by type; with redaction off (mode `none`) what was found is
/// stored as sent, and each is also a compliance violation.
fn pii_observations(
    findings: &Findings,
    mode: RedactionMode,
    level: &str,
) -> Vec<Result<Observation, crate::domain::metrics::MetricsError>> {
    let by = |o: Observation, n: u32| match o {
        Observation::Inc { series, .. } => Observation::Inc {
            series,
            by: u64::from(n),
        },
        other => other,
    };
    let mut built = Vec::new();
    for (kind, n) in findings.iter() {
        built.push(
            Observation::inc(
                Family::PiiProtectionOperationsTotal,
                &[kind.as_str(), mode.as_str(), level],
            )
            .map(|o| by(o, n)),
        );
        if mode == RedactionMode::None {
            let (severity, framework) = kind.compliance();
            let violation = format!("unredacted_{}", kind.as_str());
            built.push(
                Observation::inc(
                    Family::ComplianceViolationsTotal,
                    &[&violation, severity, framework],
                )
                .map(|o| by(o, n)),
            );
        }
    }
    built
}

/// Agent executions and finished workflows (their duration, and the strategy
/// recommendations they produced), from the domain events published once their
/// state is durable (webhooks and deadline checks alike).
pub async fn on_published(services: &Services, events: &[DomainEvent]) {
    let mut built = Vec::new();
    for event in events {
        match event {
            DomainEvent::AgentResultAccepted {
                agent,
                agent_status,
                run,
                ..
            } if agent_status.is_terminal() => {
                built.push(agent_execution(*agent, agent_status.as_str()));
                if let Some(run) = run {
                    built.push(Observation::observe(
                        Family::AgentExecutionDurationSeconds,
                        &[agent.as_str(), WORKFLOW_TYPE],
                        run.ran_ms as f64 / 1000.0,
                    ));
                    if run.over_allowance {
                        built.push(Observation::inc(
                            Family::AgentOverAllowanceTotal,
                            &[agent.as_str()],
                        ));
                    }
                }
            }
            DomainEvent::WorkflowFinished {
                workflow_id,
                status,
                at,
            } => {
                // The finished workflow's strategy, synthesised once here.
                let started = match super::status::workflow_and_report(services, workflow_id).await
                {
                    Ok(Some((w, report))) => {
                        match strategy_recommendations(
                            &report.strategy.all_recommendations(),
                            w.business_context.industry.as_str(),
                        ) {
                            Ok(observations) => built.extend(observations.into_iter().map(Ok)),
                            Err(e) => built.push(Err(e)),
                        }
                        w.created_at
                    }
                    Ok(None) => *at,
                    Err(e) => {
                        tracing::warn!(error = %e, workflow_id, "workflow duration and strategy unknown");
                        *at
                    }
                };
                let seconds = (*at - started).as_seconds_f64().max(0.0);
                built.push(Observation::observe(
                    Family::WorkflowProcessingDurationSeconds,
                    &["workflow", status.as_str()],
                    seconds,
                ));
            }
            _ => {}
        }
    }
    record(services, collect(built)).await;
}

fn agent_execution(
    agent: AgentId,
    status: &str,
) -> Result<Observation, crate::domain::metrics::MetricsError> {
    Observation::inc(
        Family::AgentExecutionTotal,
        &[agent.as_str(), status, WORKFLOW_TYPE],
    )
}
