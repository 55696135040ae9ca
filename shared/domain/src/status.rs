//! The statuses of a workflow and of its agents, how an event moves an agent,
//! and how long an agent that ended ran.

use serde::{Deserialize, Serialize};

use super::event::EventKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    /// Created; the OPAL trigger has not been accepted yet.
    Pending,
    /// OPAL accepted the trigger; agents are reporting.
    Running,
    /// Every agent completed.
    Completed,
    /// Every agent is terminal and at least one, but not all, completed.
    Partial,
    /// Every agent is terminal and none completed.
    Failed,
    /// Still unfinished when the workflow's overall limit (30 minutes) ran out;
    /// the agents without a result are timed out.
    TimedOut,
    /// Paused: an Optimizely service refused the credentials
    /// the intake gave (401/403). Not terminal: OPAL is not triggered and no
    /// deadline runs until refreshed credentials are posted to
    /// `/api/strategy/workflows/{id}/credentials`, which resumes it.
    CredentialsInvalid,
}

impl WorkflowStatus {
    pub const ALL: [WorkflowStatus; 7] = [
        WorkflowStatus::Pending,
        WorkflowStatus::Running,
        WorkflowStatus::Completed,
        WorkflowStatus::Partial,
        WorkflowStatus::Failed,
        WorkflowStatus::TimedOut,
        WorkflowStatus::CredentialsInvalid,
    ];

    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            WorkflowStatus::Completed
                | WorkflowStatus::Partial
                | WorkflowStatus::Failed
                | WorkflowStatus::TimedOut
        )
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Pending => "pending",
            WorkflowStatus::Running => "running",
            WorkflowStatus::Completed => "completed",
            WorkflowStatus::Partial => "partial",
            WorkflowStatus::Failed => "failed",
            WorkflowStatus::TimedOut => "timed_out",
            WorkflowStatus::CredentialsInvalid => "credentials_invalid",
        }
    }
}

crate::schema_from_list!(WorkflowStatus, "WorkflowStatus");

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Pending,
    Running,
    Completed,
    Failed,
    TimedOut,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 5] = [
        AgentStatus::Pending,
        AgentStatus::Running,
        AgentStatus::Completed,
        AgentStatus::Failed,
        AgentStatus::TimedOut,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Pending => "pending",
            AgentStatus::Running => "running",
            AgentStatus::Completed => "completed",
            AgentStatus::Failed => "failed",
            AgentStatus::TimedOut => "timed_out",
        }
    }

    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            AgentStatus::Completed | AgentStatus::Failed | AgentStatus::TimedOut
        )
    }

    /// The state an event moves an agent to, or `None` when it changes nothing.
    /// Terminal states are final: late or out-of-order events never leave them.
    pub fn after(self, kind: EventKind) -> Option<AgentStatus> {
        if self.is_terminal() {
            return None;
        }
        let next = match kind {
            EventKind::Started | EventKind::Progress => AgentStatus::Running,
            EventKind::Completed => AgentStatus::Completed,
            EventKind::Failed => AgentStatus::Failed,
            EventKind::TimedOut => AgentStatus::TimedOut,
        };
        (next != self).then_some(next)
    }
}

crate::schema_from_list!(AgentStatus, "AgentStatus");

/// How long an agent ran by OSA's own clock, against the time it was allowed.
/// Senders need not report a duration, so alerts and metrics use this.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRun {
    pub ran_ms: u64,
    pub allowed_ms: u64,
    /// It ran past its own allowance, or was timed out for it.
    pub over_allowance: bool,
}
