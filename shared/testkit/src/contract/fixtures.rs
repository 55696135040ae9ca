//! Fixtures the cases share: workflows, events, audit entries.

use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Queue, Store};
use crate::clock::ManualClock;
use osa_app::ports::{Attempt, Clock, CreateOutcome, EventOutcome, Job, ReceivedJob};
use osa_domain::AgentId;
use osa_domain::event::{AgentEvent, parse_agent_event};
use osa_domain::intake::parse_intake;
use osa_domain::run::AgentRun;
use osa_domain::workflow::{AgentState, AgentStatus, Workflow, WorkflowStatus};

// ---- fixtures --------------------------------------------------------------------

pub const SECOND: Duration = Duration::from_secs(1);

/// A valid `agent_data` for a completed agent.
pub fn sample_agent_data() -> Value {
    crate::samples::agent_output()
}

pub fn unique_id() -> String {
    format!("ct-{}", uuid::Uuid::new_v4())
}

/// A new workflow with a unique id, created at `at`, and its nine pending agents.
pub fn new_workflow(id: &str, at: OffsetDateTime) -> (Workflow, Vec<AgentState>) {
    let body = crate::samples::INTAKE_JSON;
    let intake = parse_intake(body.as_bytes()).expect("the contract's intake is valid");
    Workflow::create(&intake, id.to_owned(), format!("corr-{id}"), at, 1.0)
}

pub async fn created(store: &Store, clock: &ManualClock) -> Workflow {
    let (workflow, agents) = new_workflow(&unique_id(), clock.now());
    let outcome = store
        .create_workflow(&workflow, &agents)
        .await
        .expect("create");
    assert_eq!(outcome, CreateOutcome::Created);
    workflow
}

pub fn event(body: Value) -> AgentEvent {
    parse_agent_event(body.to_string().as_bytes()).expect("the contract's events are valid")
}

pub fn started(workflow_id: &str, agent: AgentId) -> AgentEvent {
    event(json!({
        "workflow_id": workflow_id, "agent_id": agent.as_str(),
        "execution_id": format!("exec-{agent}"), "execution_status": "started"
    }))
}

pub fn progress(workflow_id: &str, agent: AgentId, offset: u64) -> AgentEvent {
    event(json!({
        "workflow_id": workflow_id, "agent_id": agent.as_str(),
        "execution_id": format!("exec-{agent}"), "execution_status": "running", "offset": offset
    }))
}

pub fn completed_by(workflow_id: &str, agent: AgentId, execution: &str) -> AgentEvent {
    event(json!({
        "workflow_id": workflow_id, "agent_id": agent.as_str(),
        "execution_id": execution, "execution_status": "completed",
        "agent_data": sample_agent_data(),
        "metadata": {"execution_duration_ms": 4200, "confidence_score": 0.87}
    }))
}

pub fn completed(workflow_id: &str, agent: AgentId) -> AgentEvent {
    completed_by(workflow_id, agent, &format!("exec-{agent}"))
}

pub fn failed(workflow_id: &str, agent: AgentId) -> AgentEvent {
    event(json!({
        "workflow_id": workflow_id, "agent_id": agent.as_str(),
        "execution_id": format!("exec-{agent}"), "execution_status": "failed",
        "metadata": {"error": "boom"}
    }))
}

pub fn timed_out(workflow_id: &str, agent: AgentId) -> AgentEvent {
    event(json!({
        "workflow_id": workflow_id, "agent_id": agent.as_str(), "execution_status": "timeout"
    }))
}

/// A webhook attempt as a caller passes it: 321 bytes, correlation `corr-contract`.
pub fn attempt(clock: &ManualClock) -> Attempt {
    Attempt {
        received_at: clock.now(),
        correlation_id: Some("corr-contract".into()),
        body_sha256: "0".repeat(64),
        body_bytes: 321,
    }
}

pub async fn record(store: &Store, clock: &ManualClock, ev: &AgentEvent) -> EventOutcome {
    store
        .record_event(ev, &attempt(clock))
        .await
        .expect("record_event")
}

pub fn accepted(
    ev: &AgentEvent,
    agent: AgentStatus,
    changed: bool,
    wf: WorkflowStatus,
) -> EventOutcome {
    EventOutcome::Accepted {
        event_id: ev.event_id.clone(),
        agent_status: agent,
        state_changed: changed,
        workflow_status: wf,
        // No case that uses this expects the event to end the workflow.
        workflow_finished: false,
        run: None,
    }
}

/// [`accepted`] for an event that ended its agent after `ran_ms` of its
/// `allowed_ms`.
pub fn ended(
    ev: &AgentEvent,
    agent: AgentStatus,
    wf: WorkflowStatus,
    ran_ms: u64,
    allowed_ms: u64,
) -> EventOutcome {
    let mut outcome = accepted(ev, agent, true, wf);
    if let EventOutcome::Accepted { run, .. } = &mut outcome {
        *run = Some(AgentRun {
            ran_ms,
            allowed_ms,
            over_allowance: ran_ms > allowed_ms || agent == AgentStatus::TimedOut,
        });
    }
    outcome
}

pub async fn workflow_of(store: &Store, id: &str) -> Workflow {
    store
        .get_workflow(id)
        .await
        .expect("get_workflow")
        .expect("the workflow exists")
}

pub async fn agent_of(store: &Store, id: &str, agent: AgentId) -> AgentState {
    store
        .get_agents(id)
        .await
        .expect("get_agents")
        .into_iter()
        .find(|a| a.agent == agent)
        .expect("the agent exists")
}

/// Whole milliseconds, the precision markers keep.
pub fn whole_ms(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(t)
}

/// Receives up to `max`, keeping only `mine`; anything else received is acked.
pub(super) async fn receive_mine(
    queue: &Queue,
    mine: &[Job],
    max: usize,
    visibility: Duration,
) -> Vec<ReceivedJob> {
    let mut kept = Vec::new();
    for r in queue.receive(max, visibility).await.unwrap() {
        if mine.contains(&r.job) {
            kept.push(r);
        } else {
            queue.ack(&r.receipt).await.unwrap();
        }
    }
    kept
}
