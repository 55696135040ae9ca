//! The samples tests share, read from `events/samples/` so that the tests and the
//! Lambda event files speak of the same intake.

use serde_json::Value;

/// `events/samples/intake.json`, as text.
pub const INTAKE_JSON: &str = include_str!("../../../events/samples/intake.json");

/// The sample intake (no `workflow_id`): valid, with every optional field a
/// marketing team usually fills in.
pub fn intake() -> Value {
    serde_json::from_str(INTAKE_JSON).unwrap_or_else(|e| panic!("events/samples/intake.json: {e}"))
}

/// The sample intake with `workflow_id` set.
pub fn intake_with_id(workflow_id: &str) -> Value {
    let mut body = intake();
    body["workflow_id"] = Value::from(workflow_id);
    body
}

/// `events/samples/agent-output.json`, as text: a completed agent's `agent_data`.
pub const AGENT_OUTPUT_JSON: &str = include_str!("../../../events/samples/agent-output.json");

/// A valid `agent_data` for a completed agent (the content review's).
pub fn agent_output() -> Value {
    serde_json::from_str(AGENT_OUTPUT_JSON)
        .unwrap_or_else(|e| panic!("events/samples/agent-output.json: {e}"))
}

/// One agent's webhook body, as OPAL sends it: its status, and for a completed
/// agent the sample `agent_data`.
pub fn agent_event(workflow_id: &str, agent: osa_domain::AgentId, status: &str) -> Value {
    let mut event = serde_json::json!({
        "workflow_id": workflow_id,
        "agent_id": agent.as_str(),
        "execution_id": format!("exec-{agent}"),
        "execution_status": status,
    });
    if status == "completed" {
        event["agent_data"] = agent_output();
    }
    event
}
