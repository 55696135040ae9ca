//! Runs: how long an agent ran by OSA's own clock, and a workflow's next run
//! (a Force Sync that OPAL accepted, or a resume after refused keys mid-run).

use time::OffsetDateTime;

use super::history::AgentChange;
pub use super::status::AgentRun;
use super::workflow::{AgentState, AgentStatus, Workflow, WorkflowStatus};

/// Why a workflow starts a new run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewRun<'a> {
    /// OPAL accepted this Force Sync: every agent runs again.
    ForceSync { sync_id: &'a str },
    /// Refreshed credentials resume a workflow paused mid-run: the agents
    /// without a result run again; the others keep theirs.
    Resume,
}

impl NewRun<'_> {
    /// Whether `agent` runs again in this run.
    pub fn reruns(self, agent: &AgentState) -> bool {
        match self {
            NewRun::ForceSync { .. } => true,
            NewRun::Resume => {
                agent.status != AgentStatus::Completed && agent.late_result_at.is_none()
            }
        }
    }
}

impl AgentState {
    /// Once the agent is terminal: how long it ran, from its `started` event or,
    /// when its first word was its end, from when it could start (`could_start`:
    /// the trigger's acceptance or the workflow's restart).
    pub fn run(&self, could_start: Option<OffsetDateTime>) -> Option<AgentRun> {
        if !self.status.is_terminal() {
            return None;
        }
        let finished = self.finished_at?;
        let started = match self.started_at {
            Some(started) if started < finished => started,
            _ => could_start
                .filter(|at| *at <= finished)
                .or(self.started_at)?,
        };
        let ran_ms = (finished - started)
            .whole_milliseconds()
            .clamp(0, i128::from(u64::MAX)) as u64;
        let allowed_ms = if self.allowed_ms > 0 {
            self.allowed_ms
        } else {
            self.max_duration_secs.saturating_mul(1000)
        };
        Some(AgentRun {
            ran_ms,
            allowed_ms,
            over_allowance: ran_ms > allowed_ms || self.status == AgentStatus::TimedOut,
        })
    }
}

impl Workflow {
    /// Starts the next run: every agent of it starts over (pending, its
    /// deadline from now), the workflow is running again and its overall limit
    /// counts from now. Results already stored stay until the new run's
    /// replace them. False, changing nothing, when there is no run to start:
    /// this sync already started one, or a paused workflow for a sync; a
    /// workflow not paused mid-run for a resume.
    pub fn start_run(
        &mut self,
        agents: &mut [AgentState],
        why: NewRun<'_>,
        now: OffsetDateTime,
        deadline_scale: f64,
    ) -> bool {
        let paused = self.status == WorkflowStatus::CredentialsInvalid;
        let starts = match why {
            NewRun::ForceSync { sync_id } => {
                !paused && self.run_sync_id.as_deref() != Some(sync_id)
            }
            NewRun::Resume => paused && self.trigger.accepted_at.is_some(),
        };
        if !starts {
            return false;
        }
        let before = self.status;
        self.run = self.run.saturating_add(1);
        match why {
            NewRun::ForceSync { sync_id } => self.run_sync_id = Some(sync_id.to_owned()),
            NewRun::Resume => {
                if let Some(pause) = self.credentials_pause.as_mut() {
                    pause.refused.clear();
                    pause.last_checked_at = Some(now);
                    pause.resumed_at = Some(now);
                }
            }
        }
        let marker = format!("run-{}", self.run);
        for agent in agents.iter_mut().filter(|a| why.reruns(a)) {
            let mut past = std::mem::take(&mut agent.past_execution_ids);
            past.extend(agent.execution_id.take());
            let completed_before = agent.completed_before
                || agent.status == AgentStatus::Completed
                || agent.late_result_at.is_some();
            *agent = AgentState::new(agent.agent, now, deadline_scale);
            agent.run = self.run;
            agent.completed_before = completed_before;
            agent.past_execution_ids = past;
            self.note_agent(AgentChange {
                agent: agent.agent,
                status: AgentStatus::Pending,
                event_id: &marker,
                internal: true,
                late: false,
                at: now,
            });
        }
        self.trigger.restarted_at = Some(now);
        self.status = WorkflowStatus::Running;
        self.finished_at = None;
        // Agents that keep their result (a resume) count as done.
        self.progress_percent = super::workflow::Progress::of(agents.iter()).percent();
        self.updated_at = now;
        self.note_status(before, now);
        true
    }
}
