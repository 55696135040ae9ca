//! What happened to a workflow, in the order it was stored: the record its live
//! stream replays from a cursor. Each change is appended in the same write as the
//! state it describes, so whoever reads a workflow reads its history up to there,
//! on every store, and a client that reconnects with the last id it saw gets
//! exactly the changes after it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::status::{AgentStatus, WorkflowStatus};
use super::{AgentId, rfc3339};

/// One change of a workflow or one of its agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// An accepted agent event moved its agent, or brought a late result.
    Agent {
        agent: AgentId,
        status: AgentStatus,
        event_id: String,
        /// OSA's own event (a deadline), not a webhook.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        internal: bool,
        /// A result after the agent had timed out.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        late: bool,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    Workflow {
        status: WorkflowStatus,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// The workflow finished: its report is final.
    ReportReady {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

/// A server-sent event: `id`, `event` and a JSON `data` line.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEvent {
    /// The position in the workflow's history (1-based); a client resumes after it.
    pub id: u64,
    pub name: &'static str,
    pub data: Value,
}

/// An agent's change, as [`Workflow::note_agent`] records it.
#[derive(Clone, Copy, Debug)]
pub struct AgentChange<'a> {
    pub agent: AgentId,
    pub status: AgentStatus,
    pub event_id: &'a str,
    pub internal: bool,
    pub late: bool,
    pub at: OffsetDateTime,
}

/// `change` of workflow `workflow_id` as the stream's event number `id`.
pub fn stream_event(workflow_id: &str, id: u64, change: &Change) -> StreamEvent {
    let (name, data) = match change {
        // A webhook that moved its agent is the stream's `webhook_event`;
        // OSA's own deadlines and late results are agent status changes.
        Change::Agent {
            agent,
            status,
            event_id,
            internal: false,
            late: false,
            at,
        } => (
            "webhook_event",
            json!({
                "workflow_id": workflow_id,
                "agent": agent,
                "agent_status": status,
                "event_id": event_id,
                "at": rfc3339(*at),
            }),
        ),
        Change::Agent {
            agent,
            status,
            event_id,
            late,
            at,
            ..
        } => (
            "agent_status",
            json!({
                "workflow_id": workflow_id,
                "agent": agent,
                "status": status,
                "late": late,
                "event_id": event_id,
                "at": rfc3339(*at),
            }),
        ),
        Change::Workflow { status, at } => (
            "workflow_status",
            json!({ "workflow_id": workflow_id, "status": status, "at": rfc3339(*at) }),
        ),
        Change::ReportReady { at } => (
            "report_ready",
            json!({ "workflow_id": workflow_id, "at": rfc3339(*at) }),
        ),
    };
    StreamEvent { id, name, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::Workflow;
    use time::macros::datetime;

    const T: OffsetDateTime = datetime!(2026-11-30 10:00 UTC);

    fn workflow() -> Workflow {
        let body = crate::intake::tests::valid().to_string();
        let intake = crate::intake::parse_intake(body.as_bytes()).expect("valid intake");
        Workflow::create(&intake, "wf-1".into(), "corr".into(), T, 1.0).0
    }

    fn agent(status: AgentStatus, internal: bool, late: bool) -> AgentChange<'static> {
        AgentChange {
            agent: AgentId::GeoAudit,
            status,
            event_id: "e-1",
            internal,
            late,
            at: T,
        }
    }

    #[test]
    fn ids_are_positions_and_a_cursor_resumes_after_them() {
        let mut wf = workflow();
        wf.note_agent(agent(AgentStatus::Running, false, false));
        wf.note_agent(agent(AgentStatus::Completed, false, false));
        wf.note_agent(agent(AgentStatus::TimedOut, true, false));
        let ids: Vec<u64> = wf.events_after(0).map(|e| e.id).collect();
        assert_eq!(ids, [1, 2, 3]);
        let resumed: Vec<u64> = wf.events_after(2).map(|e| e.id).collect();
        assert_eq!(resumed, [3]);
        assert_eq!(wf.events_after(3).count(), 0);
        assert_eq!(wf.events_after(u64::MAX).count(), 0);
    }

    #[test]
    fn webhooks_deadlines_and_late_results_are_told_apart() {
        let mut wf = workflow();
        wf.note_agent(agent(AgentStatus::Running, false, false));
        wf.note_agent(agent(AgentStatus::TimedOut, true, false));
        wf.note_agent(agent(AgentStatus::TimedOut, false, true));
        let events: Vec<StreamEvent> = wf.events_after(0).collect();
        assert_eq!(events[0].name, "webhook_event");
        assert_eq!(events[0].data["agent"], "geo_audit");
        assert_eq!(events[0].data["agent_status"], "running");
        assert_eq!(events[0].data["event_id"], "e-1");
        assert_eq!(events[0].data["at"], "2026-11-30T10:00:00Z");
        assert_eq!(events[1].name, "agent_status");
        assert_eq!(events[1].data["status"], "timed_out");
        assert_eq!(events[1].data["late"], false);
        assert_eq!(events[2].name, "agent_status");
        assert_eq!(events[2].data["late"], true);
    }

    #[test]
    fn a_finish_is_a_status_then_the_report_and_ends_the_stream() {
        let mut wf = workflow();
        let before = wf.status;
        wf.note_status(before, T);
        assert!(wf.history.is_empty(), "no move, nothing noted");
        wf.status = WorkflowStatus::Completed;
        wf.note_status(before, T);
        let names: Vec<&str> = wf.events_after(0).map(|e| e.name).collect();
        assert_eq!(names, ["workflow_status", "report_ready"]);
        assert!(!wf.stream_done(1));
        assert!(wf.stream_done(2));
    }

    #[test]
    fn a_pause_is_a_status_without_a_report() {
        let mut wf = workflow();
        let before = wf.status;
        wf.status = WorkflowStatus::CredentialsInvalid;
        wf.note_status(before, T);
        let events: Vec<StreamEvent> = wf.events_after(0).collect();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data["status"], "credentials_invalid");
        assert!(!wf.stream_done(1));
    }

    #[test]
    fn the_history_survives_a_round_trip_and_old_documents_have_none() {
        let mut wf = workflow();
        wf.note_agent(agent(AgentStatus::Completed, false, true));
        let doc = serde_json::to_value(&wf).expect("encodes");
        let back: Workflow = serde_json::from_value(doc.clone()).expect("decodes");
        assert_eq!(back.history, wf.history);
        let mut old = doc;
        old.as_object_mut().expect("object").remove("history");
        let old: Workflow = serde_json::from_value(old).expect("decodes");
        assert!(old.history.is_empty());
    }
}
