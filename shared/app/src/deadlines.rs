//! Deadlines: agents that do not answer in time are timed out, and so is a
//! workflow that runs past its overall limit. A timed-out agent may be
//! triggered once more with a reduced scope (`delivery::opal::retrigger_agent`).
//!
//! Checks ride on delayed queue messages, one chain per workflow: each check
//! times out what is due and schedules the next at the earliest remaining
//! deadline. No table is ever scanned for running workflows. The chain starts
//! when a workflow starts ([`start_chain`]) and again whenever it starts over
//! (resumed after a credentials pause, back on track after a redrive).

use std::time::Duration;

use time::OffsetDateTime;

use crate::ports::{Job, QueueError, delay_until};
use osa_domain::AgentId;
use osa_domain::audit::Attempt;
use osa_domain::event::AgentEvent;
use osa_domain::metrics::EventMetrics;
use osa_domain::workflow::{AgentState, Workflow};

use super::{JobError, Services, alerts};

/// Starts (or starts again) the workflow's chain of checks at its earliest
/// pending deadline, counted from now. Nothing to do when none is pending.
pub async fn start_chain(
    services: &Services,
    workflow: &Workflow,
    agents: &[AgentState],
) -> Result<(), QueueError> {
    let now = services.clock.now();
    let check = workflow.check_deadlines(agents, now, services.config.deadline_scale);
    match check.next_check_at {
        Some(at) => schedule_check(services, workflow.id(), at).await,
        None => Ok(()),
    }
}

/// Schedules the deadline check of `workflow` at `at`.
async fn schedule_check(
    services: &Services,
    workflow_id: &str,
    at: OffsetDateTime,
) -> Result<(), QueueError> {
    let delay = delay_until(services.clock.now(), at);
    services
        .queue
        .enqueue(
            &Job::CheckDeadlines {
                workflow_id: workflow_id.to_owned(),
            },
            delay,
        )
        .await
}

/// Runs one deadline check.
pub async fn check_deadlines(services: &Services, workflow_id: &str) -> Result<(), JobError> {
    let Some(workflow) = services.store.get_workflow(workflow_id).await? else {
        return Ok(()); // erased meanwhile
    };
    if workflow.status().is_terminal() {
        return Ok(()); // the usual case: finished before its first deadline
    }
    let agents = services.store.get_agents(workflow_id).await?;
    let now = services.clock.now();
    let scale = services.config.deadline_scale;
    let check = workflow.check_deadlines(&agents, now, scale);

    if check.workflow_expired {
        let limit = workflow.timeout_at(scale) - workflow.created_at();
        let expired = services
            .store
            .update(workflow_id, |w| w.expire(now, scale))
            .await?;
        if let Some(expired) = expired.and_then(|u| u.change) {
            // The alert evaluator reads this signal (workflow longer than 30 minutes).
            tracing::warn!(
                workflow_id,
                alert_signal = "workflow_timeout",
                limit_secs = limit.whole_seconds(),
                "workflow ran out of time"
            );
            services.publish(&expired.events).await;
        }
    }

    let mut timed_out = false;
    for agent in &check.expired {
        timed_out |= time_out_agent(services, &workflow, &agents, *agent, now).await?;
    }
    if timed_out {
        // The spec's agent-timeout alert is immediate: the rules are evaluated
        // now, not at the next schedule. Best effort: the schedule still runs.
        if let Err(e) = alerts::evaluate(services).await {
            tracing::warn!(workflow_id, error = %e, "alerts not evaluated after a timeout");
        }
    }

    if let Some(at) = check.next_check_at {
        schedule_check(services, workflow_id, at).await?;
    }
    Ok(())
}

async fn time_out_agent(
    services: &Services,
    workflow: &Workflow,
    agents: &[AgentState],
    agent: AgentId,
    now: OffsetDateTime,
) -> Result<bool, JobError> {
    let allowed_ms = agents
        .iter()
        .find(|a| a.agent == agent)
        .map_or(0, |a| a.allowed_ms);
    let event = AgentEvent::deadline_expired(workflow.id(), agent, allowed_ms, workflow.run());
    // Recorded like any event, so de-duplication, the agent's state machine and
    // the workflow's aggregate status all apply; the audit trail shows it as
    // `deadline_expired`.
    let attempt = Attempt::internal(now, Some(workflow.correlation_id()));
    // Its agent's end is counted in the same write.
    let outcome = services
        .store
        .record_event_with(&event, &attempt, Some(&EventMetrics::internal()))
        .await?;
    let events = outcome.domain_events(&event, now);
    if events.is_empty() {
        return Ok(false); // already timed out by an earlier check, or finished meanwhile
    }
    tracing::warn!(
        workflow_id = %workflow.id(),
        agent = %agent,
        allowed_ms,
        "agent timed out"
    );
    services.publish(&events).await;

    if services.config.retrigger_timed_out_agents && !workflow.status().is_terminal() {
        services
            .queue
            .enqueue(
                &Job::RetriggerAgent {
                    workflow_id: workflow.id().to_owned(),
                    agent,
                },
                Duration::ZERO,
            )
            .await?;
    }
    Ok(true)
}
