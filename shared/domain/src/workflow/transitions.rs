//! The workflow's transitions outside recording an agent's event
//! (`record::apply`) and starting a new run (`Workflow::start_run`): the OPAL
//! trigger's fate, the overall deadline, the credentials pause and its resume,
//! and the bookkeeping the application asks for (claims, Force Syncs). Each
//! answers what it did; `None` or `false` when it does not apply, changing
//! nothing. The application stores the workflow and publishes the events.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{AgentState, ForceSync, Progress, RefusedService, SyncState, Workflow, WorkflowStatus};
use crate::AgentId;
use crate::events::DomainEvent;

/// What a transition of the workflow did.
#[must_use]
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transition {
    /// What other systems are told, once the change is stored.
    pub events: Vec<DomainEvent>,
    /// The workflow started over (a redriven trigger, a resume): its deadlines
    /// count from now, so its deadline checks start again.
    pub restarted: bool,
}

impl Transition {
    /// The status the workflow finished with, when this transition ended it.
    pub fn finished(&self) -> Option<WorkflowStatus> {
        self.events.iter().find_map(|e| match e {
            DomainEvent::WorkflowFinished { status, .. } => Some(*status),
            _ => None,
        })
    }
}

/// What a Force Sync request asks for (`POST /api/opal/sync`).
#[derive(Clone, Debug, PartialEq)]
pub struct ForceSyncRequest {
    pub sync_id: String,
    pub sync_scope: Option<String>,
    pub include_rag_update: bool,
    pub triggered_by: Option<String>,
}

impl Workflow {
    /// The event that tells other systems the workflow was created.
    pub fn created(&self) -> DomainEvent {
        DomainEvent::WorkflowCreated {
            workflow_id: self.id.clone(),
            correlation_id: self.correlation_id.clone(),
            at: self.created_at,
        }
    }

    /// Names the delivery that carries the OPAL trigger; false when it has one.
    /// Once named, every later attempt to start the workflow sends that one.
    pub fn claim_trigger_delivery(&mut self, id: Uuid) -> bool {
        if self.trigger.delivery_id.is_some() {
            return false;
        }
        self.trigger.delivery_id = Some(id.to_string());
        true
    }

    /// Notes a failed attempt to deliver the trigger (the `attempts`-th), until
    /// OPAL accepts it. An older attempt's note, arriving late, changes nothing.
    pub fn note_trigger_retry(&mut self, attempts: u32, error: &str, now: OffsetDateTime) -> bool {
        if self.trigger.accepted_at.is_some() || self.trigger.attempts >= attempts {
            return false;
        }
        self.trigger.attempts = attempts;
        self.trigger.last_error = Some(error.to_owned());
        self.updated_at = now;
        true
    }

    /// OPAL accepted the trigger carried by delivery `delivery_id` after
    /// `attempts` attempts: a pending workflow runs. Accepted after its dead
    /// letter (a redrive), a workflow that failed to start is revived: running
    /// again, as its `agents` say, its deadlines counting from now.
    pub fn accept_trigger(
        &mut self,
        delivery_id: &str,
        attempts: u32,
        agents: &[AgentState],
        now: OffsetDateTime,
    ) -> Option<Transition> {
        let revive = self.trigger.dead_lettered_delivery_id.as_deref() == Some(delivery_id);
        if self.trigger.accepted_at.is_some() && !revive {
            return None;
        }
        self.trigger.attempts = attempts;
        self.trigger.last_error = None;
        self.trigger.accepted_at = Some(now);
        self.updated_at = now;
        let before = self.status;
        if !revive {
            if self.status == WorkflowStatus::Pending {
                self.status = WorkflowStatus::Running;
            }
            return Some(self.settle(before, now));
        }
        self.trigger.dead_lettered_delivery_id = None;
        self.trigger.restarted_at = Some(now);
        if self.status == WorkflowStatus::Failed {
            self.status = WorkflowStatus::Running;
            self.finished_at = None;
            self.note_status(before, now);
            // Agents that reported while it had failed count now.
            self.refresh(agents, now);
            self.note_status(WorkflowStatus::Running, now);
        }
        Some(Transition {
            events: self.ended(before, now),
            restarted: true,
        })
    }

    /// The trigger carried by delivery `delivery_id` was dead-lettered for
    /// `reason` after `attempts` attempts: a workflow still waiting for it
    /// failed to start. A later dead letter of the same delivery (after a
    /// redrive) notes its reason.
    pub fn dead_letter_trigger(
        &mut self,
        delivery_id: &str,
        attempts: u32,
        reason: &str,
        now: OffsetDateTime,
    ) -> Option<Transition> {
        let message = format!("failed to start: the OPAL trigger was dead-lettered ({reason})");
        let ours = self.trigger.dead_lettered_delivery_id.as_deref() == Some(delivery_id);
        let starting = self.trigger.accepted_at.is_none() && self.status == WorkflowStatus::Pending;
        if !(ours || starting) || self.trigger.last_error.as_deref() == Some(message.as_str()) {
            return None;
        }
        self.trigger.attempts = attempts;
        self.trigger.last_error = Some(message);
        self.trigger.dead_lettered_delivery_id = Some(delivery_id.to_owned());
        self.updated_at = now;
        let before = self.status;
        if starting {
            self.finish(WorkflowStatus::Failed, now);
        }
        Some(self.settle(before, now))
    }

    /// The workflow ran past its overall limit at `now`: it times out. Not a
    /// finished workflow, nor a paused one (no deadline runs while paused).
    pub fn expire(&mut self, now: OffsetDateTime, deadline_scale: f64) -> Option<Transition> {
        if self.status.is_terminal()
            || self.status == WorkflowStatus::CredentialsInvalid
            || now < self.timeout_at(deadline_scale)
        {
            return None;
        }
        let before = self.status;
        self.finish(WorkflowStatus::TimedOut, now);
        Some(self.settle(before, now))
    }

    /// An Optimizely service refused the workflow's keys (at intake, before
    /// the trigger): it pauses as `credentials_invalid` until refreshed keys
    /// resume it. Not a finished workflow, nor one paused already.
    pub fn pause_for_credentials(
        &mut self,
        refused: Vec<RefusedService>,
        agents: &[AgentState],
        now: OffsetDateTime,
    ) -> Option<Transition> {
        if self.status.is_terminal() || self.status == WorkflowStatus::CredentialsInvalid {
            return None;
        }
        let before = self.status;
        self.pause(refused, agents, now);
        Some(self.settle(before, now))
    }

    /// The pause itself, noted in the history by the caller (`record::apply`
    /// notes the agent's change first).
    pub(crate) fn pause(
        &mut self,
        refused: Vec<RefusedService>,
        agents: &[AgentState],
        now: OffsetDateTime,
    ) {
        self.status = WorkflowStatus::CredentialsInvalid;
        self.finished_at = None;
        self.progress_percent = Progress::of(agents).percent();
        self.updated_at = now;
        self.credentials_pause = Some(crate::credentials::pause(refused, now));
    }

    /// Refreshed keys were refused again: the workflow stays paused, noting
    /// which services refused them and when.
    pub fn note_refused_again(&mut self, refused: &[RefusedService], now: OffsetDateTime) -> bool {
        if self.status != WorkflowStatus::CredentialsInvalid {
            return false;
        }
        let pause = self
            .credentials_pause
            .get_or_insert_with(|| crate::credentials::pause(Vec::new(), now));
        pause.refused = refused.to_vec();
        pause.last_checked_at = Some(now);
        self.updated_at = now;
        true
    }

    /// Refreshed keys were accepted: a paused workflow whose trigger OPAL has
    /// not accepted carries on from where it stopped (pending its trigger, or
    /// as its `agents` say), its deadlines counting from now. One paused
    /// mid-run starts a new run instead (`Workflow::start_run`, `NewRun::Resume`).
    pub fn resume(&mut self, agents: &[AgentState], now: OffsetDateTime) -> Option<Transition> {
        if self.status != WorkflowStatus::CredentialsInvalid {
            return None;
        }
        let before = self.status;
        self.status = if self.trigger.accepted_at.is_some() {
            WorkflowStatus::Running
        } else {
            WorkflowStatus::Pending
        };
        // Results that came in meanwhile count; they are never dropped.
        self.refresh(agents, now);
        self.trigger.restarted_at = Some(now);
        let pause = self
            .credentials_pause
            .get_or_insert_with(|| crate::credentials::pause(Vec::new(), now));
        pause.refused.clear();
        pause.last_checked_at = Some(now);
        pause.resumed_at = Some(now);
        Some(Transition {
            restarted: true,
            ..self.settle(before, now)
        })
    }

    /// Claims the one re-trigger a timed-out agent gets; false when claimed.
    pub fn claim_retrigger(&mut self, agent: AgentId) -> bool {
        if self.retriggered_agents.contains(&agent) {
            return false;
        }
        self.retriggered_agents.push(agent);
        true
    }

    /// Starts a Force Sync, in flight from `now`; false (keeping the one
    /// there) while another is in flight, or while the workflow is paused.
    pub fn request_force_sync(&mut self, request: &ForceSyncRequest, now: OffsetDateTime) -> bool {
        if self.status == WorkflowStatus::CredentialsInvalid
            || self.force_sync.as_ref().is_some_and(|s| s.in_flight(now))
        {
            return false;
        }
        if let Some(past) = self.force_sync.take() {
            self.past_sync_ids.push(past.sync_id);
        }
        self.force_sync = Some(ForceSync {
            sync_id: request.sync_id.clone(),
            state: SyncState::InFlight,
            sync_scope: request.sync_scope.clone(),
            include_rag_update: request.include_rag_update,
            triggered_by: request.triggered_by.clone(),
            requested_at: now,
            finished_at: None,
            error: None,
        });
        self.updated_at = now;
        true
    }

    /// Mirrors the delivery `delivery_id` of the latest Force Sync: where it
    /// stands and why. False when it is not that sync's, or says nothing new.
    pub fn note_force_sync(
        &mut self,
        delivery_id: Uuid,
        state: SyncState,
        error: Option<&str>,
        now: OffsetDateTime,
    ) -> bool {
        let Some(sync) = self
            .force_sync
            .as_mut()
            .filter(|s| crate::delivery::force_sync_id(&s.sync_id) == delivery_id)
        else {
            return false;
        };
        if sync.state == state && sync.error.as_deref() == error {
            return false;
        }
        sync.state = state;
        sync.error = error.map(str::to_owned);
        sync.finished_at = (state != SyncState::InFlight).then_some(now);
        self.updated_at = now;
        true
    }

    /// Recomputes status and progress from the agents (the aggregate rule,
    /// `Progress::workflow_status`). Returns whether status changed.
    pub(crate) fn refresh(&mut self, agents: &[AgentState], now: OffsetDateTime) -> bool {
        let progress = Progress::of(agents);
        let next = progress.workflow_status(self.status);
        self.progress_percent = if next.is_terminal() {
            100
        } else {
            progress.percent()
        };
        self.updated_at = now;
        if next == self.status {
            return false;
        }
        if next.is_terminal() {
            self.finished_at = Some(now);
        }
        self.status = next;
        true
    }

    /// For the stores' optimistic concurrency: every write of a workflow
    /// bumps its version, and a write is conditioned on the version it read.
    pub fn bump_version(&mut self) {
        self.version = self.version.saturating_add(1);
    }

    /// The events its transitions raised since it was read or last taken,
    /// for the store to write to the outbox in the same write as the
    /// workflow (`WorkflowStore`); empties the list.
    pub fn take_raised(&mut self) -> Vec<DomainEvent> {
        std::mem::take(&mut self.raised.0)
    }

    /// [`Self::take_raised`] without taking them (a workflow written once,
    /// as created).
    pub fn raised(&self) -> &[DomainEvent] {
        &self.raised.0
    }

    /// Ends the workflow as `status` at `now`.
    fn finish(&mut self, status: WorkflowStatus, now: OffsetDateTime) {
        self.status = status;
        self.finished_at = Some(now);
        self.progress_percent = 100;
        self.updated_at = now;
    }

    /// Notes the move from `before` in the history and says what it tells
    /// other systems: the workflow's end, if it ended it.
    fn settle(&mut self, before: WorkflowStatus, now: OffsetDateTime) -> Transition {
        self.note_status(before, now);
        Transition {
            events: self.ended(before, now),
            restarted: false,
        }
    }

    /// The workflow's end, when it ended since it was `before`; raised too,
    /// for the outbox.
    fn ended(&mut self, before: WorkflowStatus, now: OffsetDateTime) -> Vec<DomainEvent> {
        if !self.status.is_terminal() || self.status == before {
            return Vec::new();
        }
        let finished = DomainEvent::WorkflowFinished {
            workflow_id: self.id.clone(),
            status: self.status,
            at: now,
        };
        self.raised.0.push(finished.clone());
        vec![finished]
    }
}
