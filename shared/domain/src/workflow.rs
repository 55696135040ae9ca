//! Workflows and their nine agents: the state machine and the aggregate status.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::agents::AgentId;
use super::event::{AgentEvent, EventKind};
use super::events::DomainEvent;
use super::history::{AgentChange, Change, StreamEvent, stream_event};
use super::intake::{AnalysisPreferences, BusinessContext, Intake, OptimizelyProject};
pub use super::status::{AgentStatus, WorkflowStatus};
pub use transitions::{ForceSyncRequest, Transition};

#[cfg(test)]
mod proptests;
mod read;
mod transitions;

/// The workflow item. Agent states and results are separate items. Only the
/// domain writes its fields (its transitions); others read them (`read`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    pub(crate) id: String,
    pub(crate) correlation_id: String,
    pub(crate) status: WorkflowStatus,
    pub(crate) progress_percent: u8,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) updated_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub(crate) finished_at: Option<OffsetDateTime>,
    pub(crate) business_context: BusinessContext,
    pub(crate) optimizely: OptimizelyProject,
    pub(crate) analysis_preferences: AnalysisPreferences,
    /// Where the signed result-ready notification goes (`domain::notification`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) notify_url: Option<String>,
    /// Hash of the intake that created it, for idempotent resubmission.
    pub(crate) fingerprint: String,
    pub(crate) estimated_completion_minutes: u32,
    pub(crate) trigger: TriggerState,
    /// Agents triggered again, once each, after they timed out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) retriggered_agents: Vec<AgentId>,
    /// The latest Force Sync of this workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) force_sync: Option<ForceSync>,
    /// The current run: 0 for the first; each Force Sync OPAL accepts starts
    /// the next (`Workflow::start_run`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) run: u32,
    /// The Force Sync that started the current run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) run_sync_id: Option<String>,
    /// The ids of the Force Syncs before the current one (their deliveries).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) past_sync_ids: Vec<String>,
    /// The latest credentials pause: which services refused the
    /// keys, when, and when refreshed keys resumed it. Never holds a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) credentials_pause: Option<CredentialsPause>,
    /// Every change so far, oldest first: what the live stream replays.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) history: Vec<Change>,
    /// Bumped on every write; adapters use it for optimistic concurrency.
    #[serde(default)]
    pub(crate) version: u64,
    /// The domain events its transitions raised since it was read, which the
    /// store writes to the outbox with it (`take_raised`). Never stored here.
    #[serde(skip)]
    pub(crate) raised: Raised,
}

/// Events raised and not yet handed to the store: not part of the workflow's
/// value, so two workflows equal in every stored field are equal.
#[derive(Clone, Debug, Default)]
pub(crate) struct Raised(pub(crate) Vec<DomainEvent>);

impl PartialEq for Raised {
    fn eq(&self, _: &Raised) -> bool {
        true
    }
}

/// An on-demand re-trigger of the OPAL workflow (`POST /api/opal/sync`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ForceSync {
    pub sync_id: String,
    pub state: SyncState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_scope: Option<String>,
    #[serde(default)]
    pub include_rag_update: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub requested_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub finished_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    InFlight,
    Completed,
    Failed,
}

impl ForceSync {
    /// How long a sync counts as in flight at most: a worker that died mid-way
    /// must not block the next one forever.
    pub const IN_FLIGHT_LIMIT: time::Duration = time::Duration::minutes(10);

    pub fn in_flight(&self, now: OffsetDateTime) -> bool {
        self.state == SyncState::InFlight && now - self.requested_at < Self::IN_FLIGHT_LIMIT
    }
}

/// Why and since when a workflow is (or was) paused as `credentials_invalid`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CredentialsPause {
    /// The services that refused their key on the latest check.
    pub refused: Vec<RefusedService>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub paused_at: OffsetDateTime,
    /// The latest verification of posted credentials that still failed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub last_checked_at: Option<OffsetDateTime>,
    /// Set when refreshed credentials were accepted and the workflow resumed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub resumed_at: Option<OffsetDateTime>,
}

pub use super::event::RefusedService;

/// Where the OPAL trigger stands.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TriggerState {
    pub attempts: u32,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub accepted_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The outbound delivery that carries the trigger (`/api/admin/deliveries/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    /// Set while the trigger's delivery is dead-lettered: the workflow failed to
    /// start (status `failed`, the reason in `last_error`). Cleared when a redrive
    /// gets the trigger accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_lettered_delivery_id: Option<String>,
    /// When a redriven trigger was accepted after its dead letter, or when a
    /// workflow paused as `credentials_invalid` resumed; the workflow's overall
    /// time limit, and the deadlines of agents that have not started, count from
    /// here instead of from its creation.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub restarted_at: Option<OffsetDateTime>,
}

/// One agent within one workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentState {
    pub agent: AgentId,
    pub status: AgentStatus,
    /// The spec's maximum for this agent, in seconds.
    pub max_duration_secs: u64,
    /// The time this agent is allowed: its maximum times the deadline scale.
    #[serde(default)]
    pub allowed_ms: u64,
    /// When the agent times out without a result: counted from the workflow's
    /// creation, moved to its `started` event (see [`AgentState::deadline`]).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::schema::Timestamp")]
    pub deadline_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub finished_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// 0..=1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub events: u32,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub last_event_at: Option<OffsetDateTime>,
    /// A result arrived after the agent had timed out; it is kept, marked late.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::schema::Timestamp>")]
    pub late_result_at: Option<OffsetDateTime>,
    /// The workflow run this state belongs to.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub run: u32,
    /// It completed in an earlier run: its result stands until this run's
    /// replaces it, so it counts as completed even if this run fails.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub completed_before: bool,
    /// The execution ids of this agent in earlier runs: their late events
    /// change nothing now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub past_execution_ids: Vec<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What applying one event did to an agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The agent's status moved.
    pub state_changed: bool,
    /// The event's `agent_data` is to be stored as the agent's result.
    pub keep_result: bool,
    /// That result came after the agent had timed out.
    pub late: bool,
}

impl AgentState {
    pub fn new(agent: AgentId, created_at: OffsetDateTime, deadline_scale: f64) -> Self {
        let max = agent.max_duration();
        let allowed = max.mul_f64(deadline_scale.max(0.0));
        AgentState {
            agent,
            status: AgentStatus::Pending,
            max_duration_secs: max.as_secs(),
            allowed_ms: allowed.as_millis().min(u128::from(u64::MAX)) as u64,
            deadline_at: created_at + allowed,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            confidence: None,
            execution_id: None,
            error: None,
            events: 0,
            last_event_at: None,
            late_result_at: None,
            run: 0,
            completed_before: false,
            past_execution_ids: Vec::new(),
        }
    }

    fn allowed(&self) -> time::Duration {
        time::Duration::milliseconds(i64::try_from(self.allowed_ms).unwrap_or(i64::MAX))
    }

    /// When this agent times out: its allowed time from its `started` event, or
    /// from the moment OPAL accepted the trigger, whichever is known and later.
    pub fn deadline(&self, trigger_accepted_at: Option<OffsetDateTime>) -> OffsetDateTime {
        match (self.started_at, trigger_accepted_at) {
            (Some(_), _) | (None, None) => self.deadline_at,
            (None, Some(accepted)) => self.deadline_at.max(accepted + self.allowed()),
        }
    }

    /// Applies an accepted (non-duplicate) event at `now`. Every event is
    /// counted, even one that changes nothing. Terminal states are final, but a
    /// first result after a timeout is still kept, marked late.
    pub(crate) fn apply(&mut self, event: &AgentEvent, now: OffsetDateTime) -> Applied {
        self.events = self.events.saturating_add(1);
        self.last_event_at = Some(now);
        if event
            .execution_id
            .as_ref()
            .is_some_and(|x| self.past_execution_ids.contains(x))
        {
            return Applied::default(); // an earlier run's, arriving late
        }
        let has_data = event.agent_data.is_some();
        let Some(next) = self.status.after(event.kind) else {
            let late = self.status == AgentStatus::TimedOut
                && event.kind == EventKind::Completed
                && has_data
                && self.late_result_at.is_none();
            if late {
                self.late_result_at = Some(now);
                self.confidence = event.confidence;
            }
            return Applied {
                state_changed: false,
                keep_result: late,
                late,
            };
        };
        if self.started_at.is_none() {
            self.started_at = Some(now);
            if self.allowed_ms > 0 {
                self.deadline_at = now + self.allowed();
            }
        }
        if self.execution_id.is_none() {
            self.execution_id.clone_from(&event.execution_id);
        }
        if next.is_terminal() {
            self.finished_at = Some(now);
            self.duration_ms = event.duration_ms.or_else(|| {
                self.started_at.map(|s| {
                    (now - s)
                        .whole_milliseconds()
                        .clamp(0, i128::from(u32::MAX)) as u64
                })
            });
            self.confidence = event.confidence;
            self.error.clone_from(&event.error);
        }
        self.status = next;
        Applied {
            state_changed: true,
            keep_result: next == AgentStatus::Completed && has_data,
            late: false,
        }
    }
}

/// The history: what the live stream replays.
impl Workflow {
    /// Notes an agent's change. Call before saving the workflow.
    pub(crate) fn note_agent(&mut self, change: AgentChange<'_>) {
        self.history.push(Change::Agent {
            agent: change.agent,
            status: change.status,
            event_id: change.event_id.to_owned(),
            internal: change.internal,
            late: change.late,
            at: change.at,
        });
    }

    /// Notes the workflow's move from `before` to its current status, if it
    /// moved, and that its report is final when the move ended it.
    pub(crate) fn note_status(&mut self, before: WorkflowStatus, at: OffsetDateTime) {
        if self.status == before {
            return;
        }
        self.history.push(Change::Workflow {
            status: self.status,
            at,
        });
        if self.status.is_terminal() && !before.is_terminal() {
            self.history.push(Change::ReportReady { at });
        }
    }

    /// How far the history goes: the id of its last change, 0 when it has none.
    pub fn history_cursor(&self) -> u64 {
        self.history.len() as u64
    }

    /// The stream events after `cursor`, oldest first.
    pub fn events_after(&self, cursor: u64) -> impl Iterator<Item = StreamEvent> + '_ {
        let skip = usize::try_from(cursor).unwrap_or(usize::MAX);
        self.history
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(i, change)| stream_event(&self.id, i as u64 + 1, change))
    }

    /// Nothing more will come: the workflow finished and `cursor` has seen all of it.
    pub fn stream_done(&self, cursor: u64) -> bool {
        self.status.is_terminal() && cursor >= self.history_cursor()
    }
}

/// Counts over the nine agents, and what they make of the workflow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Progress {
    pub pending: u8,
    pub running: u8,
    pub completed: u8,
    pub failed: u8,
    pub timed_out: u8,
}

impl Progress {
    pub fn of<'a>(agents: impl IntoIterator<Item = &'a AgentState>) -> Self {
        let mut p = Progress::default();
        for a in agents {
            let slot = match a.status {
                AgentStatus::Pending => &mut p.pending,
                AgentStatus::Running => &mut p.running,
                AgentStatus::Completed => &mut p.completed,
                // An earlier run's result stands for this run's failure.
                AgentStatus::Failed | AgentStatus::TimedOut if a.completed_before => {
                    &mut p.completed
                }
                AgentStatus::Failed => &mut p.failed,
                AgentStatus::TimedOut => &mut p.timed_out,
            };
            *slot = slot.saturating_add(1);
        }
        p
    }

    pub fn total(self) -> u8 {
        self.pending + self.running + self.completed + self.failed + self.timed_out
    }

    pub fn terminal(self) -> u8 {
        self.completed + self.failed + self.timed_out
    }

    /// Terminal agents count fully, running ones half.
    pub fn percent(self) -> u8 {
        let total = u32::from(self.total().max(1));
        let done = u32::from(self.terminal()) * 2 + u32::from(self.running);
        (done * 100 / (total * 2)).min(100) as u8
    }

    /// The workflow status these agents imply, given where it stands now.
    pub fn workflow_status(self, current: WorkflowStatus) -> WorkflowStatus {
        if current.is_terminal() {
            return current;
        }
        let all_done = self.total() > 0 && self.terminal() == self.total();
        if current == WorkflowStatus::CredentialsInvalid && !all_done {
            // Paused: only refreshed credentials resume it; stray events do not.
            return current;
        }
        if all_done {
            return if self.completed == self.total() {
                WorkflowStatus::Completed
            } else if self.completed == 0 {
                WorkflowStatus::Failed
            } else {
                WorkflowStatus::Partial
            };
        }
        if self.running + self.terminal() > 0 {
            WorkflowStatus::Running
        } else {
            current
        }
    }
}

/// The spec's limit on a whole workflow, before the deadline scale.
pub const WORKFLOW_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// What a deadline check found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeadlineCheck {
    /// Unfinished agents whose time is up.
    pub expired: Vec<AgentId>,
    /// The workflow as a whole ran out of time.
    pub workflow_expired: bool,
    /// When to look again; `None` when nothing will be left to time out.
    pub next_check_at: Option<OffsetDateTime>,
}

impl Workflow {
    /// The deliveries to OPAL that carry this workflow's intake: its trigger,
    /// its agents' re-triggers, its Force Syncs' triggers (its result-ready
    /// notification's id is derived too: `notification::delivery_id`).
    pub fn delivery_ids(&self) -> Vec<uuid::Uuid> {
        let mut ids: Vec<uuid::Uuid> = [
            &self.trigger.delivery_id,
            &self.trigger.dead_lettered_delivery_id,
        ]
        .into_iter()
        .flatten()
        .filter_map(|id| uuid::Uuid::parse_str(id).ok())
        .collect();
        ids.extend(
            self.retriggered_agents
                .iter()
                .map(|agent| super::delivery::retrigger_id(&self.id, agent.as_str())),
        );
        ids.extend(
            self.force_sync
                .iter()
                .map(|s| s.sync_id.as_str())
                .chain(self.past_sync_ids.iter().map(String::as_str))
                .map(super::delivery::force_sync_id),
        );
        ids.extend(
            self.credentials_pause
                .iter()
                .filter(|p| p.resumed_at.is_some())
                .map(|p| super::delivery::resume_id(&self.id, p.paused_at)),
        );
        ids.sort();
        ids.dedup();
        ids
    }

    /// When the current run began: the creation, or the latest restart (a
    /// redriven trigger, a resume after paused credentials).
    pub fn run_started_at(&self) -> OffsetDateTime {
        self.trigger
            .restarted_at
            .map_or(self.created_at, |at| at.max(self.created_at))
    }

    /// When agents that have not started could: the trigger's acceptance or a
    /// restart, whichever is later.
    pub fn agents_could_start_at(&self) -> Option<OffsetDateTime> {
        self.trigger.accepted_at.max(self.trigger.restarted_at)
    }

    /// When the workflow as a whole times out.
    pub fn timeout_at(&self, deadline_scale: f64) -> OffsetDateTime {
        self.run_started_at() + WORKFLOW_TIMEOUT.mul_f64(deadline_scale.max(0.0))
    }

    /// Which agents (and whether the workflow itself) are past their deadlines at
    /// `now`, and when the next deadline falls.
    pub fn check_deadlines(
        &self,
        agents: &[AgentState],
        now: OffsetDateTime,
        deadline_scale: f64,
    ) -> DeadlineCheck {
        if self.status.is_terminal() || self.status == WorkflowStatus::CredentialsInvalid {
            // A paused workflow has no deadlines; resuming restarts them.
            return DeadlineCheck::default();
        }
        let timeout_at = self.timeout_at(deadline_scale);
        let workflow_expired = now >= timeout_at;
        // Unstarted agents get their time from the trigger's acceptance, or from
        // a restart (redrive, resume), whichever is later.
        let accepted = self.agents_could_start_at();
        let open = agents.iter().filter(|a| !a.status.is_terminal());
        let (expired, waiting): (Vec<&AgentState>, Vec<&AgentState>) =
            open.partition(|a| workflow_expired || now >= a.deadline(accepted));
        let next_check_at = if workflow_expired {
            None
        } else {
            waiting
                .iter()
                .map(|a| a.deadline(accepted).min(timeout_at))
                .min()
                // A pending workflow may still be waiting for its trigger.
                .or((self.status == WorkflowStatus::Pending).then_some(timeout_at))
        };
        DeadlineCheck {
            expired: expired.iter().map(|a| a.agent).collect(),
            workflow_expired,
            next_check_at,
        }
    }

    /// A new workflow and its nine pending agents.
    pub fn create(
        intake: &Intake,
        id: String,
        correlation_id: String,
        now: OffsetDateTime,
        deadline_scale: f64,
    ) -> (Workflow, Vec<AgentState>) {
        let mut workflow = Workflow {
            id,
            correlation_id,
            status: WorkflowStatus::Pending,
            progress_percent: 0,
            created_at: now,
            updated_at: now,
            finished_at: None,
            business_context: intake.business_context.clone(),
            optimizely: intake.optimizely.clone(),
            analysis_preferences: intake.analysis_preferences.clone(),
            notify_url: intake.notify_url.clone(),
            fingerprint: intake.fingerprint.clone(),
            estimated_completion_minutes: intake.estimated_completion_minutes(),
            trigger: TriggerState::default(),
            retriggered_agents: Vec::new(),
            force_sync: None,
            past_sync_ids: Vec::new(),
            run: 0,
            run_sync_id: None,
            credentials_pause: None,
            history: Vec::new(),
            version: 0,
            raised: Raised::default(),
        };
        workflow.raised.0.push(workflow.created());
        let agents = AgentId::ALL
            .into_iter()
            .map(|a| AgentState::new(a, now, deadline_scale))
            .collect();
        (workflow, agents)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{parse_agent_event, tests::completed};
    use proptest::prelude::*;
    use serde_json::json;

    fn event(kind: &str) -> AgentEvent {
        let body = if kind == "completed" {
            completed("w", "geo_audit")
        } else {
            json!({"workflow_id": "w", "agent_id": "geo_audit", "execution_status": kind})
        };
        parse_agent_event(body.to_string().as_bytes()).unwrap()
    }

    fn agents_with(statuses: &[AgentStatus]) -> Vec<AgentState> {
        let now = OffsetDateTime::UNIX_EPOCH;
        AgentId::ALL
            .iter()
            .zip(statuses)
            .map(|(a, s)| AgentState {
                status: *s,
                ..AgentState::new(*a, now, 1.0)
            })
            .collect()
    }

    #[test]
    fn agents_move_forward_and_stop_at_terminal_states() {
        use AgentStatus::*;
        assert_eq!(Pending.after(EventKind::Started), Some(Running));
        assert_eq!(Running.after(EventKind::Progress), None);
        assert_eq!(Pending.after(EventKind::Completed), Some(Completed));
        assert_eq!(Running.after(EventKind::TimedOut), Some(TimedOut));
        for terminal in [Completed, Failed, TimedOut] {
            for kind in [
                EventKind::Started,
                EventKind::Progress,
                EventKind::Completed,
                EventKind::Failed,
                EventKind::TimedOut,
            ] {
                assert_eq!(terminal.after(kind), None, "{terminal:?} + {kind:?}");
            }
        }
    }

    #[test]
    fn applying_records_timings_and_confidence() {
        let t0 = OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1);
        let mut a = AgentState::new(AgentId::GeoAudit, t0, 1.0);
        assert_eq!(a.deadline_at, t0 + time::Duration::seconds(150));
        assert!(a.apply(&event("started"), t0).state_changed);
        assert_eq!(
            a.deadline_at,
            t0 + time::Duration::seconds(150),
            "counted from the start"
        );
        assert!(
            !a.apply(&event("running"), t0 + time::Duration::seconds(1))
                .state_changed
        );
        let done = a.apply(&event("completed"), t0 + time::Duration::seconds(5));
        assert_eq!(
            done,
            Applied {
                state_changed: true,
                keep_result: true,
                late: false
            }
        );
        assert_eq!(a.status, AgentStatus::Completed);
        assert_eq!(a.duration_ms, Some(4200), "the sender's duration wins");
        assert_eq!(a.confidence, Some(0.87));
        assert_eq!(
            a.apply(&event("failed"), t0 + time::Duration::seconds(6)),
            Applied::default()
        );
        assert_eq!(a.status, AgentStatus::Completed);
        assert_eq!(a.events, 4);
    }

    #[test]
    fn a_first_result_after_a_timeout_is_kept_as_late() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let mut a = AgentState::new(AgentId::GeoAudit, t0, 1.0);
        a.apply(&event("timeout"), t0 + time::Duration::seconds(151));
        assert_eq!(a.status, AgentStatus::TimedOut);
        let late = a.apply(&event("completed"), t0 + time::Duration::seconds(160));
        assert_eq!(
            late,
            Applied {
                state_changed: false,
                keep_result: true,
                late: true
            }
        );
        assert_eq!(a.status, AgentStatus::TimedOut);
        assert_eq!(a.late_result_at, Some(t0 + time::Duration::seconds(160)));
        assert_eq!(
            a.apply(&event("completed"), t0 + time::Duration::seconds(170)),
            Applied::default(),
            "only the first late result is kept"
        );
    }

    #[test]
    fn deadlines_come_from_the_start_or_the_trigger_and_the_workflow_limit() {
        let t0 = OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1);
        let s = |n| time::Duration::seconds(n);
        let mut agents = agents_with(&[AgentStatus::Pending; 9]);
        for a in &mut agents {
            *a = AgentState::new(a.agent, t0, 1.0);
        }
        let (mut w, _) = super::proptests::new_workflow(t0);
        w.status = WorkflowStatus::Running;
        // Nothing due before the first deadline (integration_health, 60 s).
        let check = w.check_deadlines(&agents, t0 + s(59), 1.0);
        assert!(check.expired.is_empty());
        assert_eq!(check.next_check_at, Some(t0 + s(60)));
        // A trigger accepted 10 s late moves the unstarted deadlines with it.
        w.trigger.accepted_at = Some(t0 + s(10));
        let check = w.check_deadlines(&agents, t0 + s(65), 1.0);
        assert!(check.expired.is_empty());
        assert_eq!(check.next_check_at, Some(t0 + s(70)));
        let check = w.check_deadlines(&agents, t0 + s(70), 1.0);
        assert_eq!(check.expired, vec![AgentId::IntegrationHealth]);
        // At 30 minutes everything left expires with the workflow, and nothing
        // remains to check.
        let check = w.check_deadlines(&agents, t0 + s(1800), 1.0);
        assert!(check.workflow_expired);
        assert_eq!(check.expired.len(), 9);
        assert_eq!(check.next_check_at, None);
        // A finished workflow has no deadlines.
        w.status = WorkflowStatus::Partial;
        assert_eq!(
            w.check_deadlines(&agents, t0 + s(1800), 1.0),
            DeadlineCheck::default()
        );
    }

    #[test]
    fn aggregate_status_follows_the_agents() {
        use AgentStatus::*;
        let all = |s| agents_with(&[s; 9]);
        assert_eq!(
            Progress::of(&all(Pending)).workflow_status(WorkflowStatus::Pending),
            WorkflowStatus::Pending
        );
        assert_eq!(
            Progress::of(&all(Completed)).workflow_status(WorkflowStatus::Running),
            WorkflowStatus::Completed
        );
        assert_eq!(
            Progress::of(&all(Failed)).workflow_status(WorkflowStatus::Running),
            WorkflowStatus::Failed
        );
        let mixed = agents_with(&[
            Completed, Completed, TimedOut, Completed, Completed, Completed, Completed, Completed,
            Completed,
        ]);
        assert_eq!(
            Progress::of(&mixed).workflow_status(WorkflowStatus::Running),
            WorkflowStatus::Partial
        );
        let some = agents_with(&[
            Completed, Running, Pending, Pending, Pending, Pending, Pending, Pending, Pending,
        ]);
        let p = Progress::of(&some);
        assert_eq!(
            p.workflow_status(WorkflowStatus::Pending),
            WorkflowStatus::Running
        );
        assert_eq!(p.percent(), 16);
        // A finished workflow stays finished.
        assert_eq!(
            Progress::of(&all(Pending)).workflow_status(WorkflowStatus::Completed),
            WorkflowStatus::Completed
        );
    }

    proptest! {
        #[test]
        fn progress_never_goes_backwards(kinds in proptest::collection::vec(0usize..5, 0..40)) {
            let all = [EventKind::Started, EventKind::Progress, EventKind::Completed, EventKind::Failed, EventKind::TimedOut];
            let mut status = AgentStatus::Pending;
            let rank = |s: AgentStatus| if s == AgentStatus::Pending { 0 } else if s == AgentStatus::Running { 1 } else { 2 };
            for k in kinds {
                if let Some(next) = status.after(all[k]) {
                    prop_assert!(rank(next) > rank(status), "{:?} -> {:?}", status, next);
                    status = next;
                }
            }
        }
    }
}
