//! Domain events: what happened, for other systems to subscribe to. The
//! transitions of a workflow (`workflow::Transition`) and recording an agent's
//! event (`EventOutcome::domain_events`) say which they cause; the application
//! publishes them once the change is stored (its `EventBus` port).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::AgentId;
use super::status::{AgentRun, AgentStatus, WorkflowStatus};

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
    /// The workflow it is about.
    pub fn workflow_id(&self) -> &str {
        match self {
            DomainEvent::WorkflowCreated { workflow_id, .. }
            | DomainEvent::AgentResultAccepted { workflow_id, .. }
            | DomainEvent::WorkflowFinished { workflow_id, .. } => workflow_id,
        }
    }

    /// When it happened.
    pub fn at(&self) -> OffsetDateTime {
        match self {
            DomainEvent::WorkflowCreated { at, .. }
            | DomainEvent::AgentResultAccepted { at, .. }
            | DomainEvent::WorkflowFinished { at, .. } => *at,
        }
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

/// A domain event as the outbox keeps it: written in the same atomic write as
/// the change that caused it, then relayed (published, and what it causes
/// done) at least once. Its `id` is stable, so every repeat is recognisable:
/// the published event carries it, a notification's delivery id and the
/// metrics' and activity's once-keys are derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub id: String,
    pub event: DomainEvent,
}

impl OutboxItem {
    /// The items of one write of a workflow: `version` is the workflow's
    /// version that write stored (unique per write), so the ids
    /// `<workflow id>:<version>:<n>` never repeat for another write.
    pub fn of_write(version: u64, events: Vec<DomainEvent>) -> Vec<OutboxItem> {
        events
            .into_iter()
            .enumerate()
            .map(|(n, event)| OutboxItem {
                id: format!("{}:{version}:{n}", event.workflow_id()),
                event,
            })
            .collect()
    }

    /// The workflow it is about.
    pub fn workflow_id(&self) -> &str {
        self.event.workflow_id()
    }

    /// When its event happened (the order the relay keeps).
    pub fn at(&self) -> OffsetDateTime {
        self.event.at()
    }
}

#[cfg(test)]
mod outbox_tests {
    use super::*;

    #[test]
    fn ids_differ_per_write_and_per_event() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let finished = |id: &str| DomainEvent::WorkflowFinished {
            workflow_id: id.into(),
            status: WorkflowStatus::Completed,
            at,
        };
        let one = OutboxItem::of_write(3, vec![finished("w"), finished("w")]);
        let other = OutboxItem::of_write(4, vec![finished("w")]);
        assert_eq!(one[0].id, "w:3:0");
        assert_eq!(one[1].id, "w:3:1");
        assert_eq!(other[0].id, "w:4:0");
        assert_eq!(one[0].workflow_id(), "w");
    }
}
