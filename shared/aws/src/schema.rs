//! The table's layout, for the adapters and for `provision`, which creates it
//! (`docs/dynamodb-table-design.md` explains it; `template.yaml` declares it).

use osa_domain::AgentId;

/// The index of all workflows by creation day, newest first.
pub const RECENT_INDEX: &str = "recent";
pub const RECENT_PK: &str = "recent_pk";
pub const RECENT_SK: &str = "recent_sk";
/// The sparse index of workflows not yet finished (the attributes exist only while
/// the workflow is pending or running).
pub const RUNNING_INDEX: &str = "running";
pub const RUNNING_PK: &str = "running_pk";
pub const RUNNING_SK: &str = "running_sk";
/// The TTL attribute, in epoch seconds, on every item.
pub const EXPIRES_AT: &str = "expires_at";

/// The table keys and the attributes every item has.
pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const DOC: &str = "doc";
pub const VERSION: &str = "version";

/// Sort keys and index partitions.
pub const META: &str = "META";
pub const RUNNING: &str = "RUNNING";
/// The partition of the admin audit trail (admin actions are rare: one
/// partition is plenty).
pub const ADMIN_AUDIT: &str = "ADMIN_AUDIT";
/// The `recent` index partition of dead-lettered deliveries.
pub const DEAD_LETTER_PK: &str = "DEAD-LETTER";
/// The recent index's partition of pending deliveries, by when their next
/// attempt is due (the repair sweep reads it).
pub const DELIVERY_DUE_PK: &str = "DELIVERY-DUE";

/// The partition of a workflow and everything it owns.
pub fn wf_pk(id: &str) -> String {
    format!("WF#{id}")
}

pub fn agent_sk(agent: AgentId) -> String {
    format!("AGENT#{}", agent.as_str())
}

pub fn result_sk(agent: AgentId, part: usize) -> String {
    format!("RESULT#{}#{part:02}", agent.as_str())
}

pub fn event_sk(event_id: &str) -> String {
    format!("EVENT#{event_id}")
}
