//! Deadlines: agents that do not answer in time are timed out, and so is a
//! workflow that runs past its overall limit (the spec's scenario A).
//!
//! Checks ride on delayed queue messages, one chain per workflow: each check
//! times out what is due and schedules the next at the earliest remaining
//! deadline. No table is ever scanned for running workflows.

use std::time::Duration;

use time::OffsetDateTime;

use crate::domain::AgentId;
use crate::domain::audit::Attempt;
use crate::domain::event::AgentEvent;
use crate::domain::workflow::{Workflow, WorkflowStatus};
use crate::ports::{DomainEvent, EventOutcome, Job, QueueError};

use super::Services;
use super::worker::JobError;

/// The longest delay SQS allows on a message; longer waits are chained.
pub const MAX_QUEUE_DELAY: Duration = Duration::from_secs(900);

/// The queue delay that makes a message visible at `at`: whole seconds, rounded
/// up so a check never comes early, at most [`MAX_QUEUE_DELAY`].
pub fn delay_until(now: OffsetDateTime, at: OffsetDateTime) -> Duration {
    let ms = u64::try_from((at - now).whole_milliseconds().max(0)).unwrap_or(u64::MAX);
    let secs = ms.div_ceil(1000);
    Duration::from_secs(secs).min(MAX_QUEUE_DELAY)
}

/// Schedules the deadline check of `workflow` at `at`.
pub async fn schedule_check(
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
    if workflow.status.is_terminal() {
        return Ok(()); // the usual case: finished before its first deadline
    }
    let agents = services.store.get_agents(workflow_id).await?;
    let now = services.clock.now();
    let scale = services.config.deadline_scale;
    let check = workflow.check_deadlines(&agents, now, scale);

    if check.workflow_expired {
        let limit = workflow.timeout_at(scale) - workflow.created_at;
        let expire = |w: &mut Workflow| {
            if w.status.is_terminal() {
                return false;
            }
            w.status = WorkflowStatus::TimedOut;
            w.finished_at = Some(now);
            w.progress_percent = 100;
            w.updated_at = now;
            true
        };
        let stored = services.store.update_workflow(workflow_id, &expire).await?;
        if stored
            .is_some_and(|w| w.status == WorkflowStatus::TimedOut && w.finished_at == Some(now))
        {
            // The alert evaluator reads this signal (workflow longer than 30 minutes).
            tracing::warn!(
                workflow_id,
                alert_signal = "workflow_timeout",
                limit_secs = limit.whole_seconds(),
                "workflow ran out of time"
            );
            services
                .publish(&[DomainEvent::WorkflowFinished {
                    workflow_id: workflow_id.to_owned(),
                    status: WorkflowStatus::TimedOut,
                    at: now,
                }])
                .await;
        }
    }

    for agent in &check.expired {
        time_out_agent(services, &workflow, &agents, *agent, now).await?;
    }

    if let Some(at) = check.next_check_at {
        schedule_check(services, workflow_id, at)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
    }
    Ok(())
}

async fn time_out_agent(
    services: &Services,
    workflow: &Workflow,
    agents: &[crate::domain::workflow::AgentState],
    agent: AgentId,
    now: OffsetDateTime,
) -> Result<(), JobError> {
    let allowed_ms = agents
        .iter()
        .find(|a| a.agent == agent)
        .map_or(0, |a| a.allowed_ms);
    let event = AgentEvent::deadline_expired(&workflow.id, agent, allowed_ms);
    // Recorded like any event, so de-duplication, the agent's state machine and
    // the workflow's aggregate status all apply; the audit trail shows it as
    // `deadline_expired`.
    let attempt = Attempt::internal(now, Some(&workflow.correlation_id));
    let outcome = services.store.record_event(&event, &attempt).await?;
    let EventOutcome::Accepted {
        event_id,
        agent_status,
        state_changed: true,
        workflow_status,
    } = outcome
    else {
        return Ok(()); // already timed out by an earlier check, or finished meanwhile
    };
    tracing::warn!(
        workflow_id = %workflow.id,
        agent = %agent,
        allowed_ms,
        "agent timed out"
    );
    let mut events = vec![DomainEvent::AgentResultAccepted {
        workflow_id: workflow.id.clone(),
        agent,
        event_id,
        agent_status,
        at: now,
    }];
    if workflow_status.is_terminal() && workflow_status != WorkflowStatus::TimedOut {
        events.push(DomainEvent::WorkflowFinished {
            workflow_id: workflow.id.clone(),
            status: workflow_status,
            at: now,
        });
    }
    services.publish(&events).await;

    if services.config.retrigger_timed_out_agents && !workflow.status.is_terminal() {
        services
            .queue
            .enqueue(
                &Job::RetriggerAgent {
                    workflow_id: workflow.id.clone(),
                    agent,
                },
                Duration::ZERO,
            )
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_and_stop_at_the_queue_limit() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(
            delay_until(t0, t0 - time::Duration::seconds(5)),
            Duration::ZERO
        );
        assert_eq!(
            delay_until(t0, t0 + time::Duration::milliseconds(1500)),
            Duration::from_secs(2)
        );
        assert_eq!(
            delay_until(t0, t0 + time::Duration::hours(2)),
            MAX_QUEUE_DELAY
        );
    }
}
