//! The adapter contract: one suite every `WorkflowStore` and `JobQueue` adapter must
//! pass, so the embedded and the AWS adapters cannot drift apart.
//!
//! Each suite takes one adapter instance and the `ManualClock` it was built with. Every
//! case uses fresh unique ids, so one instance serves all cases, and a store that
//! already holds data (say, a long-lived local endpoint) does not upset them. The
//! queue cases drain whatever is visible first and ack what they receive.
//!
//! A queue on real time (SQS) cannot have its clock moved: `queue_suite_in` takes a
//! [`TimeTravel`] instead, which for the `ManualClock` moves it exactly as the cases
//! say and for real time runs the same cases on a shortened time line, polling
//! within deadlines.
//!
//! Precision the contract relies on: instants round-trip exactly inside documents;
//! markers keep milliseconds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::domain::AgentId;
use crate::domain::event::{AgentEvent, parse_agent_event};
use crate::domain::intake::parse_intake;
use crate::domain::workflow::{AgentState, AgentStatus, Workflow, WorkflowStatus};
use crate::ports::{
    AdminAuditEntry, AuditEntry, AuditOutcome, Clock, CreateOutcome, EventOutcome, Job, JobQueue,
    ManualClock, Marker, ReceivedJob, WorkflowStore,
};

type Store = Arc<dyn WorkflowStore>;
type Queue = Arc<dyn JobQueue>;

// ---- suites ----------------------------------------------------------------------

/// Every `WorkflowStore` case, one after another.
pub async fn store_suite(store: Arc<dyn WorkflowStore>, clock: Arc<ManualClock>) {
    macro_rules! case {
        ($name:ident) => {
            eprintln!("store contract: {}", stringify!($name));
            $name(&store, &clock).await;
        };
    }
    case!(create_once_then_existing);
    case!(unknown_ids_find_nothing);
    case!(agents_come_in_catalogue_order);
    case!(accepted_events_move_agent_and_workflow);
    case!(a_duplicate_changes_nothing_and_is_audited);
    case!(an_unknown_workflow_is_audited);
    case!(terminal_agents_stay_terminal);
    case!(all_completed_completes_the_workflow);
    case!(some_completed_is_partial);
    case!(none_completed_is_failed);
    case!(audit_keeps_every_attempt_in_order);
    case!(recent_workflows_are_newest_first);
    case!(markers_only_move_forward);
    case!(concurrent_writers_record_each_event_once);
    case!(update_workflow_reads_modifies_writes);
    case!(erasure_leaves_nothing_behind);
    case!(the_admin_audit_trail_keeps_every_action);
}

/// Every `JobQueue` case, one after another, for an adapter that reads `clock`.
pub async fn queue_suite(queue: Arc<dyn JobQueue>, clock: Arc<ManualClock>) {
    queue_suite_in(queue, TimeTravel::Manual(clock)).await;
}

/// Every `JobQueue` case, one after another, with time passing as `time` says.
pub async fn queue_suite_in(queue: Arc<dyn JobQueue>, time: TimeTravel) {
    macro_rules! case {
        ($name:ident) => {
            eprintln!("queue contract: {}", stringify!($name));
            $name(&queue, &time).await;
        };
    }
    case!(a_delay_is_honoured);
    case!(received_jobs_hide_for_the_visibility_timeout);
    case!(ack_deletes);
    case!(a_stale_receipt_deletes_nothing);
    case!(receive_respects_max_and_visibility_order);
}

// ---- time, for the queue cases -----------------------------------------------------

/// How time passes in the queue cases. The cases speak of one time line (delays of
/// 10 to 30 s, visibility timeouts of 30 to 60 s); this maps it onto the adapter's.
#[derive(Clone)]
pub enum TimeTravel {
    /// The adapter reads this clock: a case moves it to exactly the instant it names
    /// and looks once.
    Manual(Arc<ManualClock>),
    /// The adapter runs on real time (SQS). Durations handed to it are the case's
    /// divided by `scale` and rounded up to whole seconds (SQS's unit). "Not yet
    /// visible" is checked by receiving again and again until shortly before the
    /// instant; "gone for good" until shortly after the instant at which it would
    /// have come back; "visible by then" by receiving until it shows up, within a
    /// deadline. No fixed sleeps: a slow machine makes the cases slower, not flaky.
    Real { scale: u32 },
}

/// An instant on a case's time line.
#[derive(Clone, Copy, Debug)]
pub enum Mark {
    Manual(OffsetDateTime),
    Real(std::time::Instant),
}

/// Pause between two receives while polling in real time.
const POLL: Duration = Duration::from_millis(100);
/// How long past its instant a job may take to show up in real time.
const SHOW_UP_SLACK: Duration = Duration::from_secs(5);

impl TimeTravel {
    /// What the adapter is handed for the case's `d`.
    pub fn span(&self, d: Duration) -> Duration {
        match self {
            TimeTravel::Manual(_) => d,
            TimeTravel::Real { .. } if d.is_zero() => d,
            TimeTravel::Real { .. } => {
                Duration::from_secs(self.real(d).as_secs_f64().ceil() as u64)
            }
        }
    }

    /// The real length of the case's `d` (unrounded).
    fn real(&self, d: Duration) -> Duration {
        match self {
            TimeTravel::Manual(_) => d,
            TimeTravel::Real { scale } => d / (*scale).max(1),
        }
    }

    pub fn mark(&self) -> Mark {
        match self {
            TimeTravel::Manual(clock) => Mark::Manual(clock.now()),
            TimeTravel::Real { .. } => Mark::Real(std::time::Instant::now()),
        }
    }

    /// Manual time: moves the clock to `from + at` (never backwards).
    fn manual_move(clock: &ManualClock, from: OffsetDateTime, at: Duration) {
        let to = from + at;
        if to > clock.now() {
            clock.set(to);
        }
    }

    /// Asserts that none of `mine` can be received from now until `at` after
    /// `from`: a delay or a visibility timeout not yet over. Real time stops
    /// watching a little before `at`, so a slow endpoint cannot fail it.
    async fn hidden_until(
        &self,
        queue: &Queue,
        mine: &[Job],
        visibility: Duration,
        from: Mark,
        at: Duration,
        why: &str,
    ) {
        let real = self.real(at);
        let watch = real - (real / 4).min(Duration::from_millis(500));
        self.none_received(queue, mine, visibility, from, at, watch, why)
            .await;
    }

    /// Asserts that none of `mine` can be received once `at` after `from` has
    /// passed: what was acked stays gone (real time watches a second longer).
    async fn gone_after(
        &self,
        queue: &Queue,
        mine: &[Job],
        visibility: Duration,
        from: Mark,
        at: Duration,
        why: &str,
    ) {
        let watch = self.real(at) + Duration::from_secs(1);
        self.none_received(queue, mine, visibility, from, at, watch, why)
            .await;
    }

    /// Manual time: moves to `from + at` and receives nothing. Real time: keeps
    /// receiving nothing until `watch` after `from`.
    #[allow(clippy::too_many_arguments)]
    async fn none_received(
        &self,
        queue: &Queue,
        mine: &[Job],
        visibility: Duration,
        from: Mark,
        at: Duration,
        watch: Duration,
        why: &str,
    ) {
        match (self, from) {
            (TimeTravel::Manual(clock), Mark::Manual(t)) => {
                Self::manual_move(clock, t, at);
                let got = receive_mine(queue, mine, 10, visibility).await;
                assert!(got.is_empty(), "{why}: {got:?}");
            }
            (TimeTravel::Real { .. }, Mark::Real(t)) => {
                let until = t + watch;
                loop {
                    let got = receive_mine(queue, mine, 10, visibility).await;
                    assert!(got.is_empty(), "{why} ({:?} in): {got:?}", t.elapsed());
                    if std::time::Instant::now() >= until {
                        return;
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
            _ => panic!("a mark from another time line"),
        }
    }

    /// Receives up to `max` of `mine` once `at` after `from` has passed (real time:
    /// as soon as any shows up, giving up a little after `at`).
    async fn received_by(
        &self,
        queue: &Queue,
        mine: &[Job],
        max: usize,
        visibility: Duration,
        from: Mark,
        at: Duration,
    ) -> Vec<ReceivedJob> {
        match (self, from) {
            (TimeTravel::Manual(clock), Mark::Manual(t)) => {
                Self::manual_move(clock, t, at);
                receive_mine(queue, mine, max, visibility).await
            }
            (TimeTravel::Real { .. }, Mark::Real(t)) => {
                let deadline = t + self.real(at) + SHOW_UP_SLACK;
                loop {
                    let got = receive_mine(queue, mine, max, visibility).await;
                    if !got.is_empty() || std::time::Instant::now() >= deadline {
                        return got;
                    }
                    tokio::time::sleep(POLL).await;
                }
            }
            _ => panic!("a mark from another time line"),
        }
    }
}

// ---- fixtures --------------------------------------------------------------------

const SECOND: Duration = Duration::from_secs(1);

/// A valid intake body (no `workflow_id`; ids come from the cases).
fn intake_body() -> Value {
    json!({
        "business_context": {
            "company_name": "Acme Outdoor",
            "industry": "retail",
            "goals": ["Grow repeat purchases"],
            "target_audience": "Outdoor enthusiasts aged 25-45 in North America"
        },
        "optimizely_config": {
            "project_id": "123456789",
            "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"
        },
        "analysis_preferences": {
            "analysis_depth": "standard",
            "focus_areas": ["content", "experimentation"],
            "timeline": "90d"
        }
    })
}

/// A valid `agent_data` for a completed agent.
pub fn sample_agent_data() -> Value {
    json!({
        "hero": {
            "title": "Content health",
            "promise": "Fix the ten pages that lose most visitors",
            "metrics": [
                {"label": "Pages audited", "value": "412"},
                {"label": "Thin pages", "value": "37", "hint": "under 300 words"},
                {"label": "Avg. score", "value": "71/100"}
            ],
            "confidence": 82
        },
        "overview": {"summary": "Most traffic lands on a few pages.", "keyPoints": ["a", "b"]},
        "insights": [{"title": "Thin content", "description": "d", "bullets": ["x"]}],
        "opportunities": [
            {"label": "Rewrite top landing pages", "impactLevel": "High", "effortLevel": "Low",
             "confidence": 80}
        ],
        "nextSteps": [{"label": "Audit"}, {"label": "Rewrite", "ownerHint": "content team"}],
        "meta": {"tier": "insights", "agents": ["content_review"], "maturity": "walk",
                 "lastUpdated": "2026-11-25T10:00:00Z"}
    })
}

fn unique_id() -> String {
    format!("ct-{}", uuid::Uuid::new_v4())
}

/// A new workflow with a unique id, created at `at`, and its nine pending agents.
pub fn new_workflow(id: &str, at: OffsetDateTime) -> (Workflow, Vec<AgentState>) {
    let body = intake_body().to_string();
    let intake = parse_intake(body.as_bytes()).expect("the contract's intake is valid");
    Workflow::create(&intake, id.to_owned(), format!("corr-{id}"), at, 1.0)
}

async fn created(store: &Store, clock: &ManualClock) -> Workflow {
    let (workflow, agents) = new_workflow(&unique_id(), clock.now());
    let outcome = store
        .create_workflow(&workflow, &agents)
        .await
        .expect("create");
    assert_eq!(outcome, CreateOutcome::Created);
    workflow
}

fn event(body: Value) -> AgentEvent {
    parse_agent_event(body.to_string().as_bytes()).expect("the contract's events are valid")
}

fn started(workflow_id: &str, agent: AgentId) -> AgentEvent {
    event(json!({
        "workflow_id": workflow_id, "agent_id": agent.as_str(),
        "execution_id": format!("exec-{agent}"), "execution_status": "started"
    }))
}

fn progress(workflow_id: &str, agent: AgentId, offset: u64) -> AgentEvent {
    event(json!({
        "workflow_id": workflow_id, "agent_id": agent.as_str(),
        "execution_id": format!("exec-{agent}"), "execution_status": "running", "offset": offset
    }))
}

fn completed_by(workflow_id: &str, agent: AgentId, execution: &str) -> AgentEvent {
    event(json!({
        "workflow_id": workflow_id, "agent_id": agent.as_str(),
        "execution_id": execution, "execution_status": "completed",
        "agent_data": sample_agent_data(),
        "metadata": {"execution_duration_ms": 4200, "confidence_score": 0.87}
    }))
}

fn completed(workflow_id: &str, agent: AgentId) -> AgentEvent {
    completed_by(workflow_id, agent, &format!("exec-{agent}"))
}

fn failed(workflow_id: &str, agent: AgentId) -> AgentEvent {
    event(json!({
        "workflow_id": workflow_id, "agent_id": agent.as_str(),
        "execution_id": format!("exec-{agent}"), "execution_status": "failed",
        "metadata": {"error": "boom"}
    }))
}

fn timed_out(workflow_id: &str, agent: AgentId) -> AgentEvent {
    event(json!({
        "workflow_id": workflow_id, "agent_id": agent.as_str(), "execution_status": "timeout"
    }))
}

/// An audit entry as a caller passes it: outcome, reason and status are placeholders.
fn attempt(clock: &ManualClock) -> AuditEntry {
    AuditEntry {
        received_at: clock.now(),
        workflow_id: None,
        agent_id: None,
        event_id: None,
        outcome: AuditOutcome::Rejected,
        reason: "placeholder".into(),
        http_status: 0,
        correlation_id: Some("corr-contract".into()),
        body_sha256: "0".repeat(64),
        body_bytes: 321,
    }
}

async fn record(store: &Store, clock: &ManualClock, ev: &AgentEvent) -> EventOutcome {
    store
        .record_event(ev, attempt(clock))
        .await
        .expect("record_event")
}

fn accepted(
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
    }
}

async fn workflow_of(store: &Store, id: &str) -> Workflow {
    store
        .get_workflow(id)
        .await
        .expect("get_workflow")
        .expect("the workflow exists")
}

async fn agent_of(store: &Store, id: &str, agent: AgentId) -> AgentState {
    store
        .get_agents(id)
        .await
        .expect("get_agents")
        .into_iter()
        .find(|a| a.agent == agent)
        .expect("the agent exists")
}

/// Whole milliseconds, the precision markers keep.
fn whole_ms(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(t)
}

// ---- store cases -----------------------------------------------------------------

pub async fn create_once_then_existing(store: &Store, clock: &ManualClock) {
    let (workflow, agents) = new_workflow(&unique_id(), clock.now());
    let outcome = store.create_workflow(&workflow, &agents).await.unwrap();
    assert_eq!(outcome, CreateOutcome::Created);
    assert_eq!(workflow_of(store, &workflow.id).await, workflow);
    assert_eq!(store.get_agents(&workflow.id).await.unwrap(), agents);

    // A second create under the same id returns what is stored and changes nothing.
    let mut other = workflow.clone();
    other.correlation_id = "someone-else".into();
    other.status = WorkflowStatus::Running;
    let mut other_agents = agents.clone();
    other_agents[0].status = AgentStatus::Completed;
    let outcome = store.create_workflow(&other, &other_agents).await.unwrap();
    assert_eq!(outcome, CreateOutcome::Existing(Box::new(workflow.clone())));
    assert_eq!(workflow_of(store, &workflow.id).await, workflow);
    assert_eq!(store.get_agents(&workflow.id).await.unwrap(), agents);
}

pub async fn unknown_ids_find_nothing(store: &Store, _clock: &ManualClock) {
    let id = unique_id();
    assert_eq!(store.get_workflow(&id).await.unwrap(), None);
    assert!(store.get_agents(&id).await.unwrap().is_empty());
    assert!(store.get_results(&id).await.unwrap().is_empty());
    assert!(store.audit_for_workflow(&id, 10).await.unwrap().is_empty());
}

pub async fn agents_come_in_catalogue_order(store: &Store, clock: &ManualClock) {
    let (workflow, mut agents) = new_workflow(&unique_id(), clock.now());
    agents.reverse();
    store.create_workflow(&workflow, &agents).await.unwrap();
    let order: Vec<AgentId> = store
        .get_agents(&workflow.id)
        .await
        .unwrap()
        .iter()
        .map(|a| a.agent)
        .collect();
    assert_eq!(order, AgentId::ALL.to_vec());
}

pub async fn accepted_events_move_agent_and_workflow(store: &Store, clock: &ManualClock) {
    use AgentStatus::*;
    let wf = created(store, clock).await;
    let agent = AgentId::ContentReview;

    clock.advance(SECOND);
    let t1 = clock.now();
    let ev = started(&wf.id, agent);
    assert_eq!(
        record(store, clock, &ev).await,
        accepted(&ev, Running, true, WorkflowStatus::Running)
    );
    let stored = workflow_of(store, &wf.id).await;
    assert_eq!(stored.status, WorkflowStatus::Running);
    assert_eq!(
        stored.progress_percent, 5,
        "one of nine running counts half"
    );
    assert_eq!(stored.version, wf.version + 1);
    assert_eq!(stored.finished_at, None);
    let a = agent_of(store, &wf.id, agent).await;
    assert_eq!(a.status, Running);
    assert_eq!(a.events, 1);
    assert_eq!(a.started_at, Some(t1));
    assert_eq!(a.last_event_at, Some(t1));
    assert_eq!(a.execution_id.as_deref(), Some("exec-content_review"));
    for other in store.get_agents(&wf.id).await.unwrap() {
        if other.agent != agent {
            assert_eq!(other.status, Pending, "{}", other.agent);
        }
    }
    assert!(store.get_results(&wf.id).await.unwrap().is_empty());
    assert!(store.marker(Marker::LastWebhook).await.unwrap() >= Some(whole_ms(t1)));

    // A progress event is accepted and counted but changes no state.
    clock.advance(SECOND);
    let ev2 = progress(&wf.id, agent, 1);
    assert_eq!(
        record(store, clock, &ev2).await,
        accepted(&ev2, Running, false, WorkflowStatus::Running)
    );
    assert_eq!(agent_of(store, &wf.id, agent).await.events, 2);
    assert_eq!(workflow_of(store, &wf.id).await.version, wf.version + 2);

    // Completion stores the result as its own item.
    clock.advance(SECOND);
    let t3 = clock.now();
    let ev3 = completed(&wf.id, agent);
    assert_eq!(
        record(store, clock, &ev3).await,
        accepted(&ev3, Completed, true, WorkflowStatus::Running)
    );
    let stored = workflow_of(store, &wf.id).await;
    assert_eq!(stored.progress_percent, 11, "one of nine done");
    assert_eq!(stored.status, WorkflowStatus::Running);
    let a = agent_of(store, &wf.id, agent).await;
    assert_eq!(a.status, Completed);
    assert_eq!(a.finished_at, Some(t3));
    assert_eq!(a.duration_ms, Some(4200));
    assert_eq!(a.confidence, Some(0.87));
    let results = store.get_results(&wf.id).await.unwrap();
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r.workflow_id, wf.id);
    assert_eq!(r.agent, agent);
    assert_eq!(r.event_id, ev3.event_id);
    assert_eq!(r.received_at, t3);
    assert_eq!(r.confidence, Some(0.87));
    assert_eq!(r.agent_data, sample_agent_data());
    assert!(store.marker(Marker::LastWebhook).await.unwrap() >= Some(whole_ms(t3)));
    assert!(store.marker(Marker::LastAgentData).await.unwrap() >= Some(whole_ms(t3)));

    // Each attempt is audited with its outcome and identity filled in.
    let audit = store.audit_for_workflow(&wf.id, 100).await.unwrap();
    let ids: Vec<Option<&str>> = audit.iter().map(|e| e.event_id.as_deref()).collect();
    assert_eq!(
        ids,
        vec![
            Some(ev.event_id.as_str()),
            Some(ev2.event_id.as_str()),
            Some(ev3.event_id.as_str())
        ]
    );
    for e in &audit {
        assert_eq!(e.outcome, AuditOutcome::Accepted);
        assert_eq!(e.reason, "accepted");
        assert_eq!(e.http_status, 202);
        assert_eq!(e.workflow_id.as_deref(), Some(wf.id.as_str()));
        assert_eq!(e.agent_id.as_deref(), Some("content_review"));
        assert_eq!(e.correlation_id.as_deref(), Some("corr-contract"));
        assert_eq!(e.body_bytes, 321);
    }
    assert_eq!(audit[2].received_at, t3);
}

pub async fn a_duplicate_changes_nothing_and_is_audited(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let ev = completed(&wf.id, AgentId::GeoAudit);
    assert!(matches!(
        record(store, clock, &ev).await,
        EventOutcome::Accepted { .. }
    ));
    let before = (
        workflow_of(store, &wf.id).await,
        store.get_agents(&wf.id).await.unwrap(),
        store.get_results(&wf.id).await.unwrap(),
    );
    let marker_before = store.marker(Marker::LastAgentData).await.unwrap();

    clock.advance(SECOND);
    let again = completed(&wf.id, AgentId::GeoAudit);
    assert_eq!(again.event_id, ev.event_id);
    assert_eq!(
        record(store, clock, &again).await,
        EventOutcome::Duplicate {
            event_id: ev.event_id.clone()
        }
    );
    let after = (
        workflow_of(store, &wf.id).await,
        store.get_agents(&wf.id).await.unwrap(),
        store.get_results(&wf.id).await.unwrap(),
    );
    assert_eq!(before, after, "a duplicate leaves every item as it was");
    assert_eq!(
        store.marker(Marker::LastAgentData).await.unwrap(),
        marker_before
    );

    let audit = store.audit_for_workflow(&wf.id, 100).await.unwrap();
    assert_eq!(audit.len(), 2);
    let dup = &audit[1];
    assert_eq!(dup.outcome, AuditOutcome::Duplicate);
    assert_eq!(dup.reason, "duplicate");
    assert_eq!(dup.http_status, 200);
    assert_eq!(dup.event_id.as_deref(), Some(ev.event_id.as_str()));
    assert_eq!(dup.agent_id.as_deref(), Some("geo_audit"));
    assert_eq!(dup.received_at, clock.now());
}

pub async fn an_unknown_workflow_is_audited(store: &Store, clock: &ManualClock) {
    let id = unique_id();
    let ev = started(&id, AgentId::CmpOrganizer);
    for _ in 0..2 {
        assert_eq!(
            record(store, clock, &ev).await,
            EventOutcome::UnknownWorkflow
        );
    }
    assert_eq!(store.get_workflow(&id).await.unwrap(), None);
    assert!(store.get_agents(&id).await.unwrap().is_empty());
    let audit = store.audit_for_workflow(&id, 100).await.unwrap();
    assert_eq!(audit.len(), 2, "an unknown workflow is never de-duplicated");
    for e in audit {
        assert_eq!(e.outcome, AuditOutcome::Rejected);
        assert_eq!(e.reason, "unknown_workflow");
        assert_eq!(e.http_status, 404);
        assert_eq!(e.workflow_id.as_deref(), Some(id.as_str()));
        assert_eq!(e.agent_id.as_deref(), Some("cmp_organizer"));
        assert_eq!(e.event_id.as_deref(), Some(ev.event_id.as_str()));
    }
}

pub async fn terminal_agents_stay_terminal(store: &Store, clock: &ManualClock) {
    use AgentStatus::*;
    let wf = created(store, clock).await;
    let geo = AgentId::GeoAudit;
    let ev = failed(&wf.id, geo);
    assert_eq!(
        record(store, clock, &ev).await,
        accepted(&ev, Failed, true, WorkflowStatus::Running)
    );
    clock.advance(SECOND);
    for late in [completed(&wf.id, geo), started(&wf.id, geo)] {
        assert_eq!(
            record(store, clock, &late).await,
            accepted(&late, Failed, false, WorkflowStatus::Running)
        );
    }
    let a = agent_of(store, &wf.id, geo).await;
    assert_eq!(a.status, Failed);
    assert_eq!(a.events, 3);
    assert_eq!(a.error.as_deref(), Some("boom"));

    let health = AgentId::IntegrationHealth;
    let ev = timed_out(&wf.id, health);
    assert_eq!(
        record(store, clock, &ev).await,
        accepted(&ev, TimedOut, true, WorkflowStatus::Running)
    );
    assert!(
        store.get_results(&wf.id).await.unwrap().is_empty(),
        "a failed or timed-out agent has no result"
    );

    // Scenario A: a result after the timeout is kept, marked late; the agent
    // stays timed out. A second late result is counted, not stored.
    clock.advance(SECOND);
    let late = completed(&wf.id, health);
    assert_eq!(
        record(store, clock, &late).await,
        accepted(&late, TimedOut, false, WorkflowStatus::Running)
    );
    let a = agent_of(store, &wf.id, health).await;
    assert_eq!(a.status, TimedOut);
    assert_eq!(a.late_result_at, Some(clock.now()));
    let results = store.get_results(&wf.id).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].agent, health);
    assert_eq!(results[0].event_id, late.event_id);
    let again = completed_by(&wf.id, health, "exec-second-late");
    record(store, clock, &again).await;
    let results = store.get_results(&wf.id).await.unwrap();
    assert_eq!(results.len(), 1, "only the first late result is kept");
    assert_eq!(results[0].event_id, late.event_id);
    assert_eq!(agent_of(store, &wf.id, health).await.events, 3);
}

pub async fn all_completed_completes_the_workflow(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let mut last = None;
    for agent in AgentId::ALL {
        clock.advance(SECOND);
        last = Some(record(store, clock, &completed(&wf.id, agent)).await);
    }
    assert!(matches!(
        last,
        Some(EventOutcome::Accepted {
            workflow_status: WorkflowStatus::Completed,
            ..
        })
    ));
    let stored = workflow_of(store, &wf.id).await;
    assert_eq!(stored.status, WorkflowStatus::Completed);
    assert_eq!(stored.progress_percent, 100);
    assert!(stored.finished_at.is_some());
    assert_eq!(stored.version, wf.version + 9);

    let results = store.get_results(&wf.id).await.unwrap();
    let agents: Vec<AgentId> = results.iter().map(|r| r.agent).collect();
    assert_eq!(
        agents,
        AgentId::ALL.to_vec(),
        "one result per agent, in catalogue order"
    );

    // A second completion from another execution is accepted but stores nothing new.
    let second = completed_by(&wf.id, AgentId::RoadmapGenerator, "exec-second");
    assert_eq!(
        record(store, clock, &second).await,
        accepted(
            &second,
            AgentStatus::Completed,
            false,
            WorkflowStatus::Completed
        )
    );
    assert_eq!(store.get_results(&wf.id).await.unwrap(), results);
}

pub async fn some_completed_is_partial(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let (failing, rest) = AgentId::ALL.split_at(1);
    record(store, clock, &failed(&wf.id, failing[0])).await;
    for agent in rest {
        record(store, clock, &completed(&wf.id, *agent)).await;
    }
    let stored = workflow_of(store, &wf.id).await;
    assert_eq!(stored.status, WorkflowStatus::Partial);
    assert_eq!(stored.progress_percent, 100);
    assert!(stored.finished_at.is_some());
    let results: Vec<AgentId> = store
        .get_results(&wf.id)
        .await
        .unwrap()
        .iter()
        .map(|r| r.agent)
        .collect();
    assert_eq!(results, rest.to_vec(), "results only for completed agents");
}

pub async fn none_completed_is_failed(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let mut last = None;
    for (i, agent) in AgentId::ALL.into_iter().enumerate() {
        let ev = if i % 2 == 0 {
            failed(&wf.id, agent)
        } else {
            timed_out(&wf.id, agent)
        };
        last = Some(record(store, clock, &ev).await);
    }
    assert!(matches!(
        last,
        Some(EventOutcome::Accepted {
            workflow_status: WorkflowStatus::Failed,
            ..
        })
    ));
    let stored = workflow_of(store, &wf.id).await;
    assert_eq!(stored.status, WorkflowStatus::Failed);
    assert_eq!(stored.progress_percent, 100);
    assert!(store.get_results(&wf.id).await.unwrap().is_empty());
}

pub async fn audit_keeps_every_attempt_in_order(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let mut rejected = attempt(clock);
    rejected.workflow_id = Some(wf.id.clone());
    rejected.reason = "signature_mismatch".into();
    rejected.http_status = 401;
    rejected.correlation_id = None;
    store.append_audit(&rejected).await.unwrap();

    clock.advance(SECOND);
    let ev = started(&wf.id, AgentId::AudienceSuggester);
    record(store, clock, &ev).await;
    clock.advance(SECOND);
    record(store, clock, &ev).await;

    clock.advance(SECOND);
    let mut invalid = attempt(clock);
    invalid.workflow_id = Some(wf.id.clone());
    invalid.agent_id = Some("audience_suggester".into());
    invalid.reason = "validation_failed".into();
    invalid.http_status = 400;
    store.append_audit(&invalid).await.unwrap();
    // An attempt that names no workflow is kept, but under no workflow.
    let mut anonymous = attempt(clock);
    anonymous.reason = "syntax".into();
    store.append_audit(&anonymous).await.unwrap();

    let audit = store.audit_for_workflow(&wf.id, 100).await.unwrap();
    let outcomes: Vec<(AuditOutcome, &str, u16)> = audit
        .iter()
        .map(|e| (e.outcome, e.reason.as_str(), e.http_status))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (AuditOutcome::Rejected, "signature_mismatch", 401),
            (AuditOutcome::Accepted, "accepted", 202),
            (AuditOutcome::Duplicate, "duplicate", 200),
            (AuditOutcome::Rejected, "validation_failed", 400),
        ]
    );
    assert_eq!(audit[0], rejected, "append_audit stores the entry as is");
    assert_eq!(audit[3], invalid);
    assert_eq!(
        store.audit_for_workflow(&wf.id, 2).await.unwrap(),
        audit[..2].to_vec(),
        "the limit keeps the oldest"
    );
}

pub async fn update_workflow_reads_modifies_writes(store: &Store, clock: &ManualClock) {
    let wf = created(store, clock).await;
    let updated = store
        .update_workflow(&wf.id, &|w: &mut Workflow| {
            w.trigger.attempts += 1;
            w.trigger.last_error = Some("503".into());
            w.status = WorkflowStatus::Running;
            true
        })
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(updated.version, wf.version + 1);
    assert_eq!(updated.trigger.attempts, 1);
    assert_eq!(updated.status, WorkflowStatus::Running);
    assert_eq!(workflow_of(store, &wf.id).await, updated);

    let unchanged = store
        .update_workflow(&wf.id, &|w: &mut Workflow| {
            w.trigger.attempts += 100;
            false
        })
        .await
        .unwrap();
    assert_eq!(unchanged.as_ref(), Some(&updated), "false leaves it as is");
    assert_eq!(workflow_of(store, &wf.id).await, updated);

    // Concurrent read-modify-writes never lose an update.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(store);
            let id = wf.id.clone();
            tokio::spawn(async move {
                store
                    .update_workflow(&id, &|w: &mut Workflow| {
                        w.trigger.attempts += 1;
                        true
                    })
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.expect("task").expect("update").is_some());
    }
    let stored = workflow_of(store, &wf.id).await;
    assert_eq!(stored.trigger.attempts, 17);
    assert_eq!(stored.version, wf.version + 17);

    // An unknown id is reported, never created.
    let id = unique_id();
    let updated = store
        .update_workflow(&id, &|w: &mut Workflow| {
            w.trigger.attempts += 1;
            true
        })
        .await
        .unwrap();
    assert_eq!(updated, None);
    assert_eq!(store.get_workflow(&id).await.unwrap(), None);
}

pub async fn recent_workflows_are_newest_first(store: &Store, clock: &ManualClock) {
    // Newer than anything already stored, so the case holds on a used store too.
    let newest = store
        .recent_workflows(1)
        .await
        .unwrap()
        .first()
        .map_or(clock.now(), |w| w.created_at.max(clock.now()));
    let base = whole_ms(newest) + Duration::from_secs(3600);
    let prefix = unique_id();
    let make = |suffix: &str, at: OffsetDateTime| new_workflow(&format!("{prefix}-{suffix}"), at);
    let older = make("a", base + SECOND);
    let tie_low = make("b", base + 2 * SECOND);
    let tie_high = make("c", base + 2 * SECOND);
    for (w, agents) in [&tie_low, &older, &tie_high] {
        store.create_workflow(w, agents).await.unwrap();
    }
    let ids = |ws: Vec<Workflow>| ws.into_iter().map(|w| w.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.recent_workflows(2).await.unwrap()),
        vec![tie_high.0.id.clone(), tie_low.0.id.clone()],
        "newest first, ties by id descending"
    );
    let three = store.recent_workflows(3).await.unwrap();
    assert_eq!(three[2], older.0);
    assert!(store.recent_workflows(0).await.unwrap().is_empty());
}

pub async fn markers_only_move_forward(store: &Store, clock: &ManualClock) {
    let marker = Marker::LastForceSync;
    let current = store.marker(marker).await.unwrap();
    let base =
        whole_ms(current.unwrap_or(clock.now()).max(clock.now())) + Duration::from_secs(3600);
    store.set_marker(marker, base).await.unwrap();
    assert_eq!(store.marker(marker).await.unwrap(), Some(base));
    store
        .set_marker(marker, base - Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        store.marker(marker).await.unwrap(),
        Some(base),
        "never backwards"
    );
    store.set_marker(marker, base + SECOND).await.unwrap();
    assert_eq!(store.marker(marker).await.unwrap(), Some(base + SECOND));
}

/// 64 tasks at once, over four workflows; every distinct event is sent three times,
/// each copy from a different task.
pub async fn concurrent_writers_record_each_event_once(store: &Store, clock: &ManualClock) {
    const TASKS: usize = 64;
    const COPIES: usize = 3;
    let mut workflows = Vec::new();
    for _ in 0..4 {
        workflows.push(created(store, clock).await);
    }
    let distinct: Vec<AgentEvent> = workflows
        .iter()
        .flat_map(|wf| {
            AgentId::ALL
                .into_iter()
                .flat_map(|a| [started(&wf.id, a), completed(&wf.id, a)])
        })
        .collect();
    let attempts: Vec<AgentEvent> = (0..COPIES).flat_map(|_| distinct.clone()).collect();
    let attempts = Arc::new(attempts);
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let template = attempt(clock);

    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = Arc::clone(store);
            let attempts = Arc::clone(&attempts);
            let barrier = Arc::clone(&barrier);
            let template = template.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let mut outcomes = Vec::new();
                for ev in attempts.iter().skip(task).step_by(TASKS) {
                    let outcome = store
                        .record_event(ev, template.clone())
                        .await
                        .expect("record_event");
                    outcomes.push((ev.event_id.clone(), outcome));
                }
                outcomes
            })
        })
        .collect();

    let mut tally: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for t in tasks {
        for (event_id, outcome) in t.await.expect("task") {
            let slot = tally.entry(event_id.clone()).or_default();
            match outcome {
                EventOutcome::Accepted { event_id: e, .. } => {
                    assert_eq!(e, event_id);
                    slot.0 += 1;
                }
                EventOutcome::Duplicate { event_id: e } => {
                    assert_eq!(e, event_id);
                    slot.1 += 1;
                }
                EventOutcome::UnknownWorkflow => panic!("the workflow exists"),
            }
        }
    }
    assert_eq!(tally.len(), distinct.len());
    for (event_id, counts) in &tally {
        assert_eq!(
            *counts,
            (1, COPIES - 1),
            "{event_id}: (accepted, duplicates)"
        );
    }

    for wf in &workflows {
        let stored = workflow_of(store, &wf.id).await;
        assert_eq!(stored.status, WorkflowStatus::Completed);
        assert_eq!(stored.progress_percent, 100);
        assert_eq!(
            stored.version,
            wf.version + 18,
            "one bump per accepted event"
        );
        for a in store.get_agents(&wf.id).await.unwrap() {
            assert_eq!(a.status, AgentStatus::Completed, "{}", a.agent);
            assert_eq!(a.events, 2, "{}", a.agent);
        }
        let results = store.get_results(&wf.id).await.unwrap();
        assert_eq!(results.len(), 9);
        let audit = store.audit_for_workflow(&wf.id, 10_000).await.unwrap();
        assert_eq!(audit.len(), 18 * COPIES, "every attempt is audited");
        let count = |o| audit.iter().filter(|e| e.outcome == o).count();
        assert_eq!(count(AuditOutcome::Accepted), 18);
        assert_eq!(count(AuditOutcome::Duplicate), 18 * (COPIES - 1));
    }
}

// ---- queue cases -----------------------------------------------------------------

fn unique_job() -> Job {
    Job::TriggerOpal {
        workflow_id: unique_id(),
    }
}

/// Receives and acks everything visible now, so a case starts from a quiet queue.
async fn drain(queue: &Queue) {
    loop {
        let got = queue.receive(100, Duration::from_secs(3600)).await.unwrap();
        if got.is_empty() {
            return;
        }
        for r in got {
            queue.ack(&r.receipt).await.unwrap();
        }
    }
}

/// Receives up to `max`, keeping only `mine`; anything else received is acked.
async fn receive_mine(
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

pub async fn a_delay_is_honoured(queue: &Queue, time: &TimeTravel) {
    drain(queue).await;
    let job = unique_job();
    let mine = [job.clone()];
    let vis = time.span(Duration::from_secs(60));
    let t0 = time.mark();
    queue
        .enqueue(&job, time.span(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(receive_mine(queue, &mine, 10, vis).await.is_empty());
    time.hidden_until(
        queue,
        &mine,
        vis,
        t0,
        Duration::from_secs(29),
        "not before the delay",
    )
    .await;
    let got = time
        .received_by(queue, &mine, 10, vis, t0, Duration::from_secs(31))
        .await;
    assert_eq!(got.len(), 1, "visible once the delay has passed");
    assert_eq!(got[0].job, job);
    assert_eq!(got[0].receive_count, 1);
    queue.ack(&got[0].receipt).await.unwrap();

    // No delay: visible at once.
    let now_job = unique_job();
    queue.enqueue(&now_job, Duration::ZERO).await.unwrap();
    let got = receive_mine(queue, &[now_job], 10, vis).await;
    assert_eq!(got.len(), 1);
    queue.ack(&got[0].receipt).await.unwrap();
}

pub async fn received_jobs_hide_for_the_visibility_timeout(queue: &Queue, time: &TimeTravel) {
    drain(queue).await;
    let job = unique_job();
    let mine = [job.clone()];
    let vis = time.span(Duration::from_secs(30));
    queue.enqueue(&job, Duration::ZERO).await.unwrap();
    let t1 = time.mark();
    let first = receive_mine(queue, &mine, 10, vis).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    assert!(
        receive_mine(queue, &mine, 10, vis).await.is_empty(),
        "hidden while in flight"
    );
    time.hidden_until(
        queue,
        &mine,
        vis,
        t1,
        Duration::from_secs(29),
        "hidden for the timeout",
    )
    .await;
    let second = time
        .received_by(queue, &mine, 10, vis, t1, Duration::from_secs(31))
        .await;
    assert_eq!(second.len(), 1, "back after the timeout");
    assert_eq!(second[0].job, job);
    assert_eq!(second[0].receive_count, 2);
    assert_ne!(second[0].receipt, first[0].receipt);
    queue.ack(&second[0].receipt).await.unwrap();
}

pub async fn ack_deletes(queue: &Queue, time: &TimeTravel) {
    drain(queue).await;
    let job = unique_job();
    let mine = [job.clone()];
    let case_vis = Duration::from_secs(30);
    let vis = time.span(case_vis);
    queue.enqueue(&job, Duration::ZERO).await.unwrap();
    let t1 = time.mark();
    let got = receive_mine(queue, &mine, 10, vis).await;
    assert_eq!(got.len(), 1);
    queue.ack(&got[0].receipt).await.unwrap();
    queue.ack(&got[0].receipt).await.unwrap();
    time.gone_after(queue, &mine, vis, t1, case_vis + SECOND, "acked means gone")
        .await;
}

pub async fn a_stale_receipt_deletes_nothing(queue: &Queue, time: &TimeTravel) {
    drain(queue).await;
    let job = unique_job();
    let mine = [job.clone()];
    let case_vis = Duration::from_secs(30);
    let vis = time.span(case_vis);
    queue.enqueue(&job, Duration::ZERO).await.unwrap();
    let t1 = time.mark();
    let first = receive_mine(queue, &mine, 10, vis).await;
    assert_eq!(first.len(), 1);
    let second = time
        .received_by(queue, &mine, 10, vis, t1, case_vis + SECOND)
        .await;
    assert_eq!(second.len(), 1);
    let t2 = time.mark();
    // The first receiver finishes late: its receipt no longer counts.
    queue.ack(&first[0].receipt).await.unwrap();
    queue.ack("not-a-receipt").await.unwrap();
    let third = time
        .received_by(queue, &mine, 10, vis, t2, case_vis + SECOND)
        .await;
    assert_eq!(third.len(), 1, "a stale ack must not delete the job");
    assert_eq!(third[0].receive_count, 3);
    let t3 = time.mark();
    queue.ack(&third[0].receipt).await.unwrap();
    time.gone_after(queue, &mine, vis, t3, case_vis + SECOND, "acked means gone")
        .await;
}

pub async fn receive_respects_max_and_visibility_order(queue: &Queue, time: &TimeTravel) {
    drain(queue).await;
    let vis = time.span(Duration::from_secs(60));
    let jobs: Vec<Job> = (0..5).map(|_| unique_job()).collect();
    for job in &jobs {
        queue.enqueue(job, Duration::ZERO).await.unwrap();
    }
    assert!(queue.receive(0, vis).await.unwrap().is_empty());
    let first = receive_mine(queue, &jobs, 2, vis).await;
    assert_eq!(first.len(), 2, "at most max");
    let rest = receive_mine(queue, &jobs, 10, vis).await;
    assert_eq!(rest.len(), 3);
    let seen: BTreeSet<String> = first
        .iter()
        .chain(&rest)
        .map(|r| format!("{:?}", r.job))
        .collect();
    assert_eq!(seen.len(), 5, "each job received once");
    for r in first.iter().chain(&rest) {
        queue.ack(&r.receipt).await.unwrap();
    }

    // The job that became visible first is received first.
    let later = unique_job();
    let sooner = unique_job();
    let both = [later.clone(), sooner.clone()];
    let t0 = time.mark();
    queue
        .enqueue(&later, time.span(Duration::from_secs(20)))
        .await
        .unwrap();
    queue
        .enqueue(&sooner, time.span(Duration::from_secs(10)))
        .await
        .unwrap();
    let all_due = Duration::from_secs(30);
    let one = time.received_by(queue, &both, 1, vis, t0, all_due).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].job, sooner);
    let other = time.received_by(queue, &both, 1, vis, t0, all_due).await;
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].job, later);
    for r in one.iter().chain(&other) {
        queue.ack(&r.receipt).await.unwrap();
    }
}

// ---- deliveries ------------------------------------------------------------------

/// Every `DeliveryStore` case, one after another.
pub async fn delivery_suite(store: Arc<dyn crate::ports::DeliveryStore>, clock: Arc<ManualClock>) {
    macro_rules! case {
        ($name:ident) => {
            eprintln!("delivery contract: {}", stringify!($name));
            $name(&store, &clock).await;
        };
    }
    case!(a_delivery_is_created_once_and_read_back_exactly);
    case!(an_unknown_delivery_finds_nothing);
    case!(update_delivery_reads_modifies_writes);
    case!(concurrent_delivery_updates_lose_nothing);
    case!(dead_letters_are_listed_newest_first_until_redriven);
    case!(failure_counters_count_per_kind_and_reset);
}

type Deliveries = Arc<dyn crate::ports::DeliveryStore>;

fn new_delivery(at: OffsetDateTime) -> crate::domain::delivery::Delivery {
    use crate::domain::delivery::{Delivery, DeliveryAuth};
    Delivery::opal_trigger(
        "https://opal.test/trigger",
        unique_id(),
        json!({"workflow_name": "strategy_workflow", "n": 0}),
        Some(DeliveryAuth::Bearer {
            secret: "opal_api_key".into(),
        }),
        at,
    )
    .expect("a valid delivery")
    .with_header("X-Correlation-ID", "corr-1")
    .expect("an allowed header")
}

/// Records `n` failed attempts (the fifth dead-letters it), a second apart from `at`.
fn fail_attempts(d: &mut crate::domain::delivery::Delivery, n: u32, at: OffsetDateTime) {
    use crate::domain::delivery::{AttemptOutcome, AttemptReport};
    for i in 0..n {
        let (run, number) = d.next_attempt().expect("an attempt is due");
        d.record(
            AttemptReport {
                run,
                number,
                at: at + Duration::from_secs(u64::from(i) * 20),
                response_ms: 12,
                outcome: AttemptOutcome::Response {
                    status: 503,
                    retry_after: None,
                },
            },
            Duration::from_millis(250),
        )
        .expect("recorded");
    }
}

pub async fn a_delivery_is_created_once_and_read_back_exactly(
    store: &Deliveries,
    clock: &ManualClock,
) {
    let mut d = new_delivery(clock.now());
    fail_attempts(&mut d, 2, clock.now());
    assert!(store.create_delivery(&d).await.unwrap(), "created");
    let mut other = d.clone();
    other.payload = json!({"other": true});
    assert!(
        !store.create_delivery(&other).await.unwrap(),
        "an existing id is left as is"
    );
    assert_eq!(store.get_delivery(d.id).await.unwrap(), Some(d));
}

pub async fn an_unknown_delivery_finds_nothing(store: &Deliveries, _clock: &ManualClock) {
    let id = uuid::Uuid::new_v4();
    assert_eq!(store.get_delivery(id).await.unwrap(), None);
    let touched = store.update_delivery(id, &|_| true).await.unwrap();
    assert_eq!(touched, None);
}

pub async fn update_delivery_reads_modifies_writes(store: &Deliveries, clock: &ManualClock) {
    let d = new_delivery(clock.now());
    store.create_delivery(&d).await.unwrap();
    let now = clock.now();
    let saved = store
        .update_delivery(d.id, &|x| {
            fail_attempts(x, 1, now);
            true
        })
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(saved.attempts.len(), 1);
    assert_eq!(store.get_delivery(d.id).await.unwrap(), Some(saved.clone()));
    // `false` leaves it as is and answers the stored delivery.
    let unchanged = store
        .update_delivery(d.id, &|x| {
            x.payload = json!("not saved");
            false
        })
        .await
        .unwrap();
    assert_eq!(unchanged, Some(saved.clone()));
    assert_eq!(store.get_delivery(d.id).await.unwrap(), Some(saved));
}

pub async fn concurrent_delivery_updates_lose_nothing(store: &Deliveries, clock: &ManualClock) {
    const WRITERS: u64 = 8;
    let d = new_delivery(clock.now());
    store.create_delivery(&d).await.unwrap();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                store
                    .update_delivery(d.id, &|x| {
                        let n = x.payload["n"].as_u64().unwrap_or(0);
                        x.payload["n"] = json!(n + 1);
                        true
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let stored = store.get_delivery(d.id).await.unwrap().expect("exists");
    assert_eq!(stored.payload["n"], WRITERS, "every increment kept");
}

pub async fn dead_letters_are_listed_newest_first_until_redriven(
    store: &Deliveries,
    clock: &ManualClock,
) {
    use crate::domain::delivery::DeliveryStatus;
    // Later than anything earlier cases dead-lettered.
    clock.advance(Duration::from_secs(3600));
    let pending = new_delivery(clock.now());
    store.create_delivery(&pending).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        clock.advance(Duration::from_secs(60));
        let d = new_delivery(clock.now());
        store.create_delivery(&d).await.unwrap();
        let now = clock.now();
        let saved = store
            .update_delivery(d.id, &|x| {
                fail_attempts(x, 5, now);
                true
            })
            .await
            .unwrap()
            .expect("exists");
        assert!(matches!(saved.status, DeliveryStatus::DeadLettered { .. }));
        ids.push(d.id);
    }
    // One delivered: never listed.
    let delivered = new_delivery(clock.now());
    store.create_delivery(&delivered).await.unwrap();
    store
        .update_delivery(delivered.id, &|x| {
            use crate::domain::delivery::{AttemptOutcome, AttemptReport};
            x.record(
                AttemptReport {
                    run: 0,
                    number: 1,
                    at: x.created_at,
                    response_ms: 3,
                    outcome: AttemptOutcome::Response {
                        status: 202,
                        retry_after: None,
                    },
                },
                Duration::ZERO,
            )
            .is_ok()
        })
        .await
        .unwrap();

    let newest_first: Vec<uuid::Uuid> = ids.iter().rev().copied().collect();
    let listed: Vec<uuid::Uuid> = store
        .dead_lettered(2)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(listed, newest_first[..2], "the two newest, newest first");
    let all = store.dead_lettered(1000).await.unwrap();
    let mine: Vec<uuid::Uuid> = all
        .iter()
        .map(|d| d.id)
        .filter(|id| ids.contains(id))
        .collect();
    assert_eq!(mine, newest_first);
    assert!(
        all.iter()
            .all(|d| d.id != pending.id && d.id != delivered.id),
        "only dead letters are listed"
    );
    let shown = all.iter().find(|d| d.id == ids[0]).expect("listed");
    assert_eq!(shown.attempts.len(), 5, "with every attempt");

    // A redrive takes it off the list; the history stays.
    let now = clock.now();
    let redriven = store
        .update_delivery(ids[2], &|x| x.redrive(now).is_ok())
        .await
        .unwrap()
        .expect("exists");
    assert_eq!(redriven.status, DeliveryStatus::Pending);
    assert_eq!(redriven.previous_attempts.len(), 5);
    let after: Vec<uuid::Uuid> = store
        .dead_lettered(1000)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .filter(|id| ids.contains(id))
        .collect();
    assert_eq!(after, vec![ids[1], ids[0]]);
}

pub async fn failure_counters_count_per_kind_and_reset(store: &Deliveries, _clock: &ManualClock) {
    use crate::domain::delivery::DeliveryKind::{AlertNotification, OpalTrigger};
    store.reset_failures(OpalTrigger).await.unwrap();
    store.reset_failures(AlertNotification).await.unwrap();
    assert_eq!(store.consecutive_failures(OpalTrigger).await.unwrap(), 0);
    assert_eq!(store.raise_failures(OpalTrigger).await.unwrap(), 1);
    assert_eq!(store.raise_failures(OpalTrigger).await.unwrap(), 2);
    assert_eq!(store.consecutive_failures(OpalTrigger).await.unwrap(), 2);
    assert_eq!(
        store.consecutive_failures(AlertNotification).await.unwrap(),
        0,
        "kinds count apart"
    );
    store.reset_failures(OpalTrigger).await.unwrap();
    store.reset_failures(OpalTrigger).await.unwrap();
    assert_eq!(store.consecutive_failures(OpalTrigger).await.unwrap(), 0);
    assert_eq!(store.raise_failures(OpalTrigger).await.unwrap(), 1);
}

pub async fn erasure_leaves_nothing_behind(store: &Store, clock: &ManualClock) {
    let kept = created(store, clock).await;
    let wf = created(store, clock).await;
    for agent in [AgentId::GeoAudit, AgentId::ContentReview] {
        clock.advance(SECOND);
        record(store, clock, &completed(&wf.id, agent)).await;
    }
    record(store, clock, &completed(&kept.id, AgentId::GeoAudit)).await;

    let erased = store.erase_workflow(&wf.id).await.unwrap();
    // The workflow, nine agents, two results and two seen events at least.
    assert!(erased.is_some_and(|n| n >= 14), "{erased:?}");
    assert_eq!(store.get_workflow(&wf.id).await.unwrap(), None);
    assert!(store.get_agents(&wf.id).await.unwrap().is_empty());
    assert!(store.get_results(&wf.id).await.unwrap().is_empty());
    assert_eq!(
        store.erase_workflow(&wf.id).await.unwrap(),
        None,
        "already gone"
    );
    // An event for it now finds no workflow (its de-duplication record went too).
    assert_eq!(
        record(store, clock, &completed(&wf.id, AgentId::GeoAudit)).await,
        EventOutcome::UnknownWorkflow
    );
    // Other workflows are untouched.
    assert!(store.get_workflow(&kept.id).await.unwrap().is_some());
    assert_eq!(store.get_results(&kept.id).await.unwrap().len(), 1);
}

pub async fn the_admin_audit_trail_keeps_every_action(store: &Store, clock: &ManualClock) {
    let marker = unique_id();
    for (i, outcome) in ["succeeded", "not_found"].into_iter().enumerate() {
        clock.advance(SECOND);
        store
            .append_admin_audit(&AdminAuditEntry {
                at: clock.now(),
                actor: "admin-1".into(),
                action: "workflow_erased".into(),
                target: format!("{marker}-{i}"),
                outcome: outcome.into(),
                correlation_id: None,
            })
            .await
            .unwrap();
    }
    let trail = store.admin_audit(1000).await.unwrap();
    let mine: Vec<&AdminAuditEntry> = trail
        .iter()
        .filter(|e| e.target.starts_with(&marker))
        .collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].target, format!("{marker}-1"), "newest first");
    assert_eq!(mine[0].outcome, "not_found");
    assert_eq!(mine[1].actor, "admin-1");
}
