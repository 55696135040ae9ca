//! Domain events: what happened, for other systems to subscribe to. The
//! transitions of a workflow (`workflow::Transition`) and recording an agent's
//! event (`DomainEvent::of_recorded`) say which they cause; the application
//! publishes them once the change is stored (its `EventBus` port).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::AgentId;
use super::event::AgentEvent;
use super::record::EventOutcome;
use super::run::AgentRun;
use super::status::{AgentStatus, WorkflowStatus};

/// What happened, for other systems to subscribe to (EventBridge on AWS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DomainEvent {
    WorkflowCreated {
        workflow_id: String,
        correlation_id: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    AgentResultAccepted {
        workflow_id: String,
        agent: AgentId,
        event_id: String,
        agent_status: AgentStatus,
        /// Set when this result ended the agent: how long it ran by OSA's clock.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run: Option<AgentRun>,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    WorkflowFinished {
        workflow_id: String,
        status: WorkflowStatus,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

impl DomainEvent {
    /// What recording `event` tells other systems: its agent's change, if it
    /// changed, and the workflow's end, if it ended it.
    pub fn of_recorded(
        event: &AgentEvent,
        outcome: &EventOutcome,
        at: OffsetDateTime,
    ) -> Vec<DomainEvent> {
        let EventOutcome::Accepted {
            event_id,
            agent_status,
            state_changed: true,
            workflow_status,
            workflow_finished,
            run,
        } = outcome
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

    /// EventBridge `DetailType`.
    pub const fn detail_type(&self) -> &'static str {
        match self {
            DomainEvent::WorkflowCreated { .. } => "WorkflowCreated",
            DomainEvent::AgentResultAccepted { .. } => "AgentResultAccepted",
            DomainEvent::WorkflowFinished { .. } => "WorkflowFinished",
        }
    }
}
