//! The event bus: what happened, for other systems to subscribe to.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::BusError;
use crate::domain::workflow::{AgentStatus, WorkflowStatus};

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
        agent: crate::domain::AgentId,
        event_id: String,
        agent_status: AgentStatus,
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
    /// EventBridge `DetailType`.
    pub const fn detail_type(&self) -> &'static str {
        match self {
            DomainEvent::WorkflowCreated { .. } => "WorkflowCreated",
            DomainEvent::AgentResultAccepted { .. } => "AgentResultAccepted",
            DomainEvent::WorkflowFinished { .. } => "WorkflowFinished",
        }
    }
}

/// Publishes domain events after the state they describe is durable. Delivery is
/// best effort: a failure is logged and never undoes or fails the request.
#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError>;
}
