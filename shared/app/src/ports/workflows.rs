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
use osa_domain::workflow::{AgentState, Workflow, WorkflowStatus};

#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    Created,
    /// A workflow with that id already exists; here it is.
    Existing(Box<Workflow>),
}

/// Which workflows a listing holds (`GET /api/strategy/workflows`): newest
/// first, optionally of one status and created at or after `since`, after the
/// position `after` (the last one of the page before).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowQuery {
    pub status: Option<WorkflowStatus>,
    pub since: Option<OffsetDateTime>,
    pub after: Option<WorkflowPosition>,
    pub limit: usize,
}

impl WorkflowQuery {
    /// The newest `limit`, with no filter.
    pub fn newest(limit: usize) -> WorkflowQuery {
        WorkflowQuery {
            status: None,
            since: None,
            after: None,
            limit,
        }
    }
}

/// A workflow's place in the newest-first order: its creation time (ms) and
/// id, the order both stores keep an index in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowPosition {
    pub created_at_ms: i64,
    pub id: String,
}

impl WorkflowPosition {
    pub fn of(workflow: &Workflow) -> WorkflowPosition {
        WorkflowPosition {
            // As both stores index it (`codec::to_ms`).
            created_at_ms: i64::try_from(workflow.created_at().unix_timestamp_nanos() / 1_000_000)
                .unwrap_or(i64::MAX),
            id: workflow.id().to_owned(),
        }
    }

    /// Whether `workflow` comes after this position in the newest-first order.
    pub fn is_followed_by(&self, workflow: &Workflow) -> bool {
        let other = WorkflowPosition::of(workflow);
        (other.created_at_ms, other.id.as_str()) < (self.created_at_ms, self.id.as_str())
    }
}

/// One page of a workflow listing. `next` is set when the listing stopped
/// before its end: a full page, or (with a status filter) the most index
/// entries one page reads; a page may then hold fewer than asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkflowPage {
    pub workflows: Vec<Workflow>,
    pub next: Option<WorkflowPosition>,
}

/// The most index entries one listing page reads when a status filter skips
/// some, so a rare status cannot make one request read the whole index.
pub const LISTING_READ_BUDGET: usize = 1000;

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

    /// A page of workflows, newest first, from an index (never a scan).
    async fn list_workflows(&self, query: &WorkflowQuery) -> Result<WorkflowPage, StoreError>;

    /// The newest `limit` workflows.
    async fn recent_workflows(&self, limit: usize) -> Result<Vec<Workflow>, StoreError> {
        Ok(self
            .list_workflows(&WorkflowQuery::newest(limit))
            .await?
            .workflows)
    }

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
