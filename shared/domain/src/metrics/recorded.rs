//! The observations recording an event causes. Decided here, from the event,
//! the outcome `domain::record` decided and what the application knew before
//! the write, so that a store writes them in the same atomic step as the event:
//! a business count that a lost race, a retried transaction or a duplicate can
//! neither lose nor count twice.

use super::{Family, MetricsError, Observation, confidence_level, processing_time_range};
use crate::event::AgentEvent;
use crate::pii::{Findings, RedactionMode};
use crate::record::EventOutcome;

/// Every workflow OSA runs is a strategy workflow.
pub const WORKFLOW_TYPE: &str = "strategy";

/// What the application knows of an event's metrics before it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMetrics {
    /// The event came as a webhook, processed in this range of time
    /// ([`processing_time_range`]) before its write; `None` for an event OSA
    /// raised itself (an agent's deadline), which no webhook count includes.
    pub processing_range: Option<&'static str>,
    /// The PII redacted from the event's output, counted when it is accepted.
    pub pii: Findings,
    pub redaction: RedactionMode,
}

impl EventMetrics {
    /// A webhook, `elapsed_ms` after it came, with what its redaction found.
    pub fn webhook(elapsed_ms: u128, pii: Findings, redaction: RedactionMode) -> EventMetrics {
        EventMetrics {
            processing_range: Some(processing_time_range(elapsed_ms)),
            pii,
            redaction,
        }
    }

    /// An event OSA raised itself: only its agent's end counts.
    pub fn internal() -> EventMetrics {
        EventMetrics {
            processing_range: None,
            pii: Findings::default(),
            redaction: RedactionMode::None,
        }
    }
}

/// What recording `event` with `outcome` counts: the webhook (accepted or a
/// duplicate), the PII redacted from an accepted one, and the end of an agent
/// it ended (its execution, how long it ran by OSA's clock, whether past its
/// allowance). Nothing for an unknown workflow: that is a rejection, counted
/// with the others before any write.
pub fn of_recorded(
    event: &AgentEvent,
    outcome: &EventOutcome,
    metrics: &EventMetrics,
) -> Vec<Observation> {
    let agent = event.agent.as_str();
    let webhook = |status: &str| {
        metrics.processing_range.map(|range| {
            Observation::inc(
                Family::WebhookProcessingTotal,
                &[agent, status, "opal", range],
            )
        })
    };
    let mut built = Vec::new();
    match outcome {
        EventOutcome::UnknownWorkflow => {}
        EventOutcome::Duplicate { .. } => built.extend(webhook("duplicate")),
        EventOutcome::Accepted {
            agent_status,
            state_changed,
            run,
            ..
        } => {
            built.extend(webhook("accepted"));
            let level = confidence_level(event.confidence);
            built.extend(pii_observations(&metrics.pii, metrics.redaction, level));
            if *state_changed && agent_status.is_terminal() {
                built.push(Observation::inc(
                    Family::AgentExecutionTotal,
                    &[agent, agent_status.as_str(), WORKFLOW_TYPE],
                ));
                if let Some(run) = run {
                    built.push(Observation::observe(
                        Family::AgentExecutionDurationSeconds,
                        &[agent, WORKFLOW_TYPE],
                        run.ran_ms as f64 / 1000.0,
                    ));
                    if run.over_allowance {
                        built.push(Observation::inc(Family::AgentOverAllowanceTotal, &[agent]));
                    }
                }
            }
        }
    }
    // Every label here is bounded (the catalogue, status enums, PII types,
    // fixed codes): none is refused (see the tests).
    built.into_iter().filter_map(Result::ok).collect()
}

/// The PII found, by type; with redaction off (mode `none`) what was found is
/// stored as sent, and each is also a compliance violation.
pub fn pii_observations(
    findings: &Findings,
    mode: RedactionMode,
    level: &str,
) -> Vec<Result<Observation, MetricsError>> {
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

#[cfg(test)]
mod tests {
    use super::super::Snapshot;
    use super::*;
    use crate::AgentId;
    use crate::pii::{PiiPolicy, redact_text};
    use crate::run::AgentRun;
    use crate::workflow::{AgentStatus, WorkflowStatus};

    fn event(agent: AgentId) -> AgentEvent {
        AgentEvent::deadline_expired("wf-1", agent, 1000, 0)
    }

    fn accepted(agent_status: AgentStatus, state_changed: bool) -> EventOutcome {
        EventOutcome::Accepted {
            event_id: "e".into(),
            agent_status,
            state_changed,
            workflow_status: WorkflowStatus::Running,
            workflow_finished: false,
            run: Some(AgentRun {
                ran_ms: 1500,
                allowed_ms: 1000,
                over_allowance: true,
            }),
        }
    }

    fn found() -> Findings {
        redact_text(
            "mail jane@example.com or joe@example.org",
            &PiiPolicy::default(),
        )
        .1
    }

    #[test]
    fn an_agents_end_counts_its_execution_duration_and_allowance_for_every_agent() {
        for agent in AgentId::ALL {
            for status in AgentStatus::ALL {
                let counted = of_recorded(
                    &event(agent),
                    &accepted(status, true),
                    &EventMetrics::webhook(42, Findings::default(), RedactionMode::Mask),
                );
                let want = if status.is_terminal() { 4 } else { 1 };
                assert_eq!(counted.len(), want, "{agent} {status:?}: {counted:?}");
            }
        }
    }

    #[test]
    fn a_webhook_counts_once_with_its_range_and_pii_only_when_accepted() {
        let metrics = EventMetrics::webhook(250, found(), RedactionMode::None);
        let running = of_recorded(
            &event(AgentId::ALL[0]),
            &accepted(AgentStatus::Running, true),
            &metrics,
        );
        let snapshot = Snapshot::of_observations(&running);
        assert_eq!(
            snapshot.total(
                Family::WebhookProcessingTotal,
                &[
                    ("status", "accepted"),
                    ("processing_time_range", "100ms_500ms")
                ]
            ),
            1.0
        );
        assert_eq!(
            snapshot.total(Family::PiiProtectionOperationsTotal, &[]),
            2.0
        );
        assert_eq!(snapshot.total(Family::ComplianceViolationsTotal, &[]), 2.0);
        assert_eq!(snapshot.total(Family::AgentExecutionTotal, &[]), 0.0);

        let duplicate = EventOutcome::Duplicate {
            event_id: "e".into(),
        };
        let counted = of_recorded(&event(AgentId::ALL[0]), &duplicate, &metrics);
        let snapshot = Snapshot::of_observations(&counted);
        assert_eq!(counted.len(), 1, "{counted:?}");
        assert_eq!(
            snapshot.total(Family::WebhookProcessingTotal, &[("status", "duplicate")]),
            1.0
        );
        let unknown = of_recorded(
            &event(AgentId::ALL[0]),
            &EventOutcome::UnknownWorkflow,
            &metrics,
        );
        assert!(unknown.is_empty(), "a rejection, counted by the app");
    }

    #[test]
    fn an_internal_event_counts_only_its_agents_end() {
        let counted = of_recorded(
            &event(AgentId::ALL[1]),
            &accepted(AgentStatus::TimedOut, true),
            &EventMetrics::internal(),
        );
        let families: Vec<_> = counted.iter().map(|o| o.series().family()).collect();
        assert_eq!(
            families,
            [
                Family::AgentExecutionTotal,
                Family::AgentExecutionDurationSeconds,
                Family::AgentOverAllowanceTotal
            ]
        );
        let unchanged = of_recorded(
            &event(AgentId::ALL[1]),
            &accepted(AgentStatus::TimedOut, false),
            &EventMetrics::internal(),
        );
        assert!(
            unchanged.is_empty(),
            "an event that changed nothing ends nothing"
        );
    }
}
