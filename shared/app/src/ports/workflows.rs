//! The workflow store: workflows, their agents and results, de-duplication
//! and the status markers. The audit trails (`AuditLog`), the shared rate
//! limit (`RateLimitLeases`) and the activity feed (`ActivityFeed`) are
//! capabilities of their own, which one adapter may implement beside this.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{LastRun, StoreError, Updated};
use osa_domain::audit::Attempt;
use osa_domain::event::AgentEvent;
use osa_domain::metrics::EventMetrics;
use osa_domain::record::{AgentResult, EventOutcome, Marker};
use osa_domain::run::NewRun;
use osa_domain::workflow::{AgentState, Workflow};

#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    Created,
    /// A workflow with that id already exists; here it is.
    Existing(Box<Workflow>),
}

#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Creates the workflow and its agents once; an existing id is returned instead.
    async fn create_workflow(
        &self,
        workflow: &Workflow,
        agents: &[AgentState],
    ) -> Result<CreateOutcome, StoreError>;

    async fn get_workflow(&self, id: &str) -> Result<Option<Workflow>, StoreError>;

    /// The agents of a workflow in catalogue order.
    async fn get_agents(&self, workflow_id: &str) -> Result<Vec<AgentState>, StoreError>;

    async fn get_results(&self, workflow_id: &str) -> Result<Vec<AgentResult>, StoreError>;

    /// Records a verified event exactly once, atomically, as `domain::record`
    /// decides: de-duplicates it, applies it to its agent, stores a completed
    /// agent's result, refreshes the workflow's status, raises the markers and
    /// appends the attempt's audit entry. With `metrics`, the same write adds
    /// what `domain::metrics::of_recorded` says the outcome counts, so a count
    /// is kept exactly when the event's outcome is. Durable when it returns.
    async fn record_event_with(
        &self,
        event: &AgentEvent,
        attempt: &Attempt,
        metrics: Option<&EventMetrics>,
    ) -> Result<EventOutcome, StoreError>;

    /// [`Self::record_event_with`], counting nothing.
    async fn record_event(
        &self,
        event: &AgentEvent,
        attempt: &Attempt,
    ) -> Result<EventOutcome, StoreError> {
        self.record_event_with(event, attempt, None).await
    }

    /// Read-modify-write of one workflow. `change` returns false to leave it as is.
    /// Returns the workflow as stored afterwards, or `None` if it does not exist.
    async fn update_workflow(
        &self,
        id: &str,
        // Spelled higher-ranked: async_trait would otherwise name the elided lifetime.
        change: &(dyn for<'w> Fn(&'w mut Workflow) -> bool + Send + Sync),
    ) -> Result<Option<Workflow>, StoreError>;

    /// Starts the workflow's next run (`Workflow::start_run`): the workflow
    /// and its agents in one write. The workflow and agents as stored when a
    /// run started; `None` when none did (no such workflow, or no run to start).
    async fn start_run(
        &self,
        workflow_id: &str,
        why: NewRun<'_>,
        now: OffsetDateTime,
        deadline_scale: f64,
    ) -> Result<Option<(Workflow, Vec<AgentState>)>, StoreError>;

    /// Workflows not finished yet (pending, running or paused), oldest first,
    /// from an index of exactly those (never a scan).
    async fn running_workflows(&self, limit: usize) -> Result<Vec<Workflow>, StoreError>;

    /// Newest first, from an index (never a scan).
    async fn recent_workflows(&self, limit: usize) -> Result<Vec<Workflow>, StoreError>;

    async fn marker(&self, marker: Marker) -> Result<Option<OffsetDateTime>, StoreError>;

    async fn set_marker(&self, marker: Marker, at: OffsetDateTime) -> Result<(), StoreError>;

    /// Deletes every item of a workflow: the workflow, its agents, their results
    /// and its de-duplication records. The webhook audit trail stays (it holds
    /// outcomes and body hashes, no content). Returns how many items went, or
    /// `None` when there was no such workflow.
    async fn erase_workflow(&self, id: &str) -> Result<Option<u64>, StoreError>;
}

/// A write the live streams care about, told once it committed.
#[derive(Debug, Clone)]
pub enum StoreChange {
    /// The workflow as stored. Two writers may tell in either order; the
    /// higher `version` is the newer.
    Written(std::sync::Arc<Workflow>),
    Erased(std::sync::Arc<str>),
    /// The activity numbered so was appended (`ActivityFeed::append_activity`).
    Activity(u64),
}

/// Writes, told as they commit. The embedded store, which one process owns,
/// can tell; a store that many processes share (DynamoDB) cannot, and its
/// readers re-read on a timer instead.
pub trait StoreChanges: Send + Sync {
    /// The writes from now on. A receiver that falls behind is told so
    /// (`Lagged`) and re-reads.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<StoreChange>;
}

impl dyn WorkflowStore {
    /// `update_workflow` for a change that says what it did: `Some(answer)` to
    /// save the workflow, `None` to leave it. The change is a transition of the
    /// domain's, which notes itself in the workflow's history. It may run more than once
    /// (optimistic concurrency); the answer returned is the one of the run kept.
    pub async fn update<T: Send>(
        &self,
        id: &str,
        change: impl Fn(&mut Workflow) -> Option<T> + Send + Sync,
    ) -> Result<Option<Updated<Workflow, T>>, StoreError> {
        let last = LastRun::new();
        let stored = self.update_workflow(id, &|w| last.keep(change(w))).await?;
        Ok(stored.map(|stored| Updated {
            stored,
            change: last.into_answer(),
        }))
    }
}
