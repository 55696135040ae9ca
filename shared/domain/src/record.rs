//! Recording an agent event: the rules both stores carry out. A store loads what
//! the rules need (the workflow, whether the event was seen, the agents), asks
//! here what to do, and writes what it is told in one atomic step. So the two
//! stores cannot disagree about an outcome, an audit reason or a status code.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::AgentId;
use super::audit::{Attempt, AuditEntry, AuditOutcome};
use super::event::{AgentEvent, EventKind};
use super::events::DomainEvent;
use super::history::AgentChange;
use super::status::AgentRun;
use super::workflow::{AgentState, AgentStatus, Workflow, WorkflowStatus};

/// One agent's accepted result: its own item, so nine agents never contend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentResult {
    pub workflow_id: String,
    pub agent: AgentId,
    pub event_id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub received_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// Shared with the event that carried it.
    #[schemars(with = "crate::schema::AnyObject")]
    pub agent_data: Arc<serde_json::Value>,
    /// The workflow run that produced it (0: the first).
    #[serde(default)]
    pub run: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventOutcome {
    Accepted {
        event_id: String,
        agent_status: AgentStatus,
        state_changed: bool,
        workflow_status: WorkflowStatus,
        /// This event ended the workflow: it was running and is now terminal.
        workflow_finished: bool,
        /// This event ended its agent: how long the agent ran, by OSA's clock.
        run: Option<AgentRun>,
    },
    Duplicate {
        event_id: String,
    },
    UnknownWorkflow,
}

impl EventOutcome {
    /// What recording `event` tells other systems: its agent's change, if it
    /// changed, and the workflow's end, if it ended it.
    pub fn domain_events(&self, event: &AgentEvent, at: OffsetDateTime) -> Vec<DomainEvent> {
        let EventOutcome::Accepted {
            event_id,
            agent_status,
            state_changed: true,
            workflow_status,
            workflow_finished,
            run,
        } = self
        else {
            return Vec::new();
        };
        let mut events = vec![DomainEvent::AgentResultAccepted {
            workflow_id: event.workflow_id.clone(),
            agent: event.agent,
            event_id: event_id.clone(),
            agent_status: *agent_status,
            run: *run,
            at,
        }];
        if *workflow_finished {
            events.push(DomainEvent::WorkflowFinished {
                workflow_id: event.workflow_id.clone(),
                status: *workflow_status,
                at,
            });
        }
        events
    }
}

/// Named instants the status views read (last webhook, last agent data, last sync).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Marker {
    LastWebhook,
    LastAgentData,
    LastForceSync,
}

impl AgentResult {
    /// The result an event carries: a completed agent's output, or nothing.
    pub fn of(event: &AgentEvent, received_at: OffsetDateTime, run: u32) -> Option<AgentResult> {
        match (&event.kind, &event.agent_data) {
            (EventKind::Completed, Some(data)) => Some(AgentResult {
                workflow_id: event.workflow_id.clone(),
                agent: event.agent,
                event_id: event.event_id.clone(),
                received_at,
                confidence: event.confidence,
                agent_data: Arc::clone(data),
                run,
            }),
            _ => None,
        }
    }
}

/// The event names a workflow the store does not hold.
pub fn unknown_workflow(event: &AgentEvent, attempt: &Attempt) -> (EventOutcome, AuditEntry) {
    let audit = attempt.of_event(event, AuditOutcome::Rejected, "unknown_workflow", 404);
    (EventOutcome::UnknownWorkflow, audit)
}

/// The event was recorded before: nothing changes but the audit trail.
pub fn duplicate(event: &AgentEvent, attempt: &Attempt) -> (EventOutcome, AuditEntry) {
    let audit = attempt.of_event(event, AuditOutcome::Duplicate, "duplicate", 200);
    let outcome = EventOutcome::Duplicate {
        event_id: event.event_id.clone(),
    };
    (outcome, audit)
}

/// What recording a new event changes; the workflow and the agent were changed in place.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// The position in `agents` of the agent that changed.
    pub agent: usize,
    /// Store the event's result (`AgentResult::of`): it completed its agent.
    pub keep_result: bool,
    /// The markers to raise to the attempt's instant.
    pub markers: Vec<Marker>,
    pub audit: AuditEntry,
    pub outcome: EventOutcome,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("workflow {workflow_id} has no {agent} agent")]
pub struct MissingAgent {
    pub workflow_id: String,
    pub agent: AgentId,
}

/// Applies a new (not yet seen) event to its agent and the workflow's status.
pub fn apply(
    event: &AgentEvent,
    attempt: &Attempt,
    workflow: &mut Workflow,
    agents: &mut [AgentState],
) -> Result<Recording, MissingAgent> {
    let now = attempt.received_at;
    let Some(index) = agents.iter().position(|a| a.agent == event.agent) else {
        return Err(MissingAgent {
            workflow_id: event.workflow_id.clone(),
            agent: event.agent,
        });
    };
    let applied = agents[index].apply(event, now);
    let agent_status = agents[index].status;
    let before = workflow.status;
    workflow.refresh(agents, now);
    // Scenario C mid-run: Optimizely refused the key an agent used. The
    // workflow stops as at intake: paused until refreshed keys resume it, which
    // runs the agents without a result again. Not when this event was the last
    // agent's: with every agent done the workflow is finished, paused or not.
    if let Some(refused) = &event.optimizely_refused
        && applied.state_changed
        && !before.is_terminal()
        && before != WorkflowStatus::CredentialsInvalid
        && !workflow.status.is_terminal()
    {
        workflow.pause(vec![refused.clone()], agents, now);
    }
    if applied.state_changed || applied.late {
        workflow.note_agent(AgentChange {
            agent: event.agent,
            status: agent_status,
            event_id: &event.event_id,
            internal: event.is_internal(),
            late: applied.late,
            at: now,
        });
    }
    workflow.note_status(before, now);
    let was_terminal = before.is_terminal();
    let keep_result = applied.keep_result && AgentResult::of(event, now, 0).is_some();
    let mut markers = vec![Marker::LastWebhook];
    if keep_result {
        markers.push(Marker::LastAgentData);
    }
    let outcome = EventOutcome::Accepted {
        event_id: event.event_id.clone(),
        agent_status,
        state_changed: applied.state_changed,
        workflow_status: workflow.status,
        workflow_finished: !was_terminal && workflow.status.is_terminal(),
        run: if applied.state_changed {
            agents[index].run(workflow.agents_could_start_at())
        } else {
            None
        },
    };
    // What it tells other systems goes to the outbox with the write.
    workflow.raised.0.extend(outcome.domain_events(event, now));
    Ok(Recording {
        agent: index,
        keep_result,
        markers,
        audit: attempt.of_event(event, AuditOutcome::Accepted, event.accepted_reason(), 202),
        outcome,
    })
}
