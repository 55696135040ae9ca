//! The audit trails: every webhook attempt, whatever answered it, and every
//! admin action. An entry records that something happened, never the data.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::event::AgentEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Accepted,
    Duplicate,
    Rejected,
}

/// One webhook attempt, whatever became of it. Holds a hash of the body, not the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// From the verified event; for a rejected body, whatever id it claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub outcome: AuditOutcome,
    /// A stable code: `accepted`, `duplicate`, `signature_mismatch`, `validation_failed`...
    pub reason: String,
    pub http_status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub body_sha256: String,
    pub body_bytes: u64,
}

/// One admin action: who did what to which target, when, and how it ended.
/// Records that something was done, never the data it touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminAuditEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The token subject.
    pub actor: String,
    /// A stable code: `workflow_erased`, `delivery_redriven`...
    pub action: String,
    pub target: String,
    /// `succeeded`, `not_found`, `failed`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

/// What the audit trail keeps of a request before anything is decided about
/// it: when it came, its correlation id, and the size and hash of its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub received_at: OffsetDateTime,
    pub correlation_id: Option<String>,
    pub body_sha256: String,
    pub body_bytes: u64,
}

impl Attempt {
    /// A request whose body was read.
    pub fn of_body(received_at: OffsetDateTime, correlation_id: Option<&str>, body: &[u8]) -> Self {
        Attempt {
            received_at,
            correlation_id: correlation_id.map(str::to_owned),
            body_sha256: hex::encode(Sha256::digest(body)),
            body_bytes: body.len() as u64,
        }
    }

    /// A request refused before its body was read: only its declared size is known.
    pub fn unread(
        received_at: OffsetDateTime,
        correlation_id: Option<&str>,
        declared_bytes: u64,
    ) -> Self {
        Attempt {
            received_at,
            correlation_id: correlation_id.map(str::to_owned),
            body_sha256: String::new(),
            body_bytes: declared_bytes,
        }
    }

    /// An event OSA records itself (a deadline that passed): no request at all.
    pub fn internal(received_at: OffsetDateTime, correlation_id: Option<&str>) -> Self {
        Self::unread(received_at, correlation_id, 0)
    }

    /// The entry for an attempt refused before it became an event: `workflow_id`
    /// is whatever the body claimed, if anything.
    pub fn rejected(
        &self,
        workflow_id: Option<String>,
        reason: &str,
        http_status: u16,
    ) -> AuditEntry {
        AuditEntry {
            received_at: self.received_at,
            workflow_id,
            agent_id: None,
            event_id: None,
            outcome: AuditOutcome::Rejected,
            reason: reason.to_owned(),
            http_status,
            correlation_id: self.correlation_id.clone(),
            body_sha256: self.body_sha256.clone(),
            body_bytes: self.body_bytes,
        }
    }

    /// The entry for a verified event, with what became of it.
    pub fn of_event(
        &self,
        event: &AgentEvent,
        outcome: AuditOutcome,
        reason: &str,
        http_status: u16,
    ) -> AuditEntry {
        AuditEntry {
            received_at: self.received_at,
            workflow_id: Some(event.workflow_id.clone()),
            agent_id: Some(event.agent.as_str().to_owned()),
            event_id: Some(event.event_id.clone()),
            outcome,
            reason: reason.to_owned(),
            http_status,
            correlation_id: self
                .correlation_id
                .clone()
                .or_else(|| event.correlation_id.clone()),
            body_sha256: self.body_sha256.clone(),
            body_bytes: self.body_bytes,
        }
    }
}
