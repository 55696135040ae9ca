//! The workflow store: workflows, their agents and results, de-duplication,
//! the webhook audit trail and the status markers.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{LastRun, StoreError, Updated};
use osa_domain::audit::{AdminAuditEntry, Attempt, AuditEntry, Page, PagePosition};
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

    /// Appends an audit entry for an attempt that never reached `record_event`.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// A page of a workflow's audit entries, oldest first, after `after`.
    async fn audit_page(
        &self,
        workflow_id: &str,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError>;

    /// A page of the audit entries that name no workflow (refused before the
    /// body was read, or unreadable), received on `day` (UTC), oldest first.
    async fn unattributed_audit_page(
        &self,
        day: time::Date,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError>;

    /// The first `limit` audit entries of a workflow, oldest first.
    async fn audit_for_workflow(
        &self,
        workflow_id: &str,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self.audit_page(workflow_id, None, limit).await?.items)
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

    /// Appends to the admin audit trail (append-only).
    async fn append_admin_audit(&self, entry: &AdminAuditEntry) -> Result<(), StoreError>;

    /// A page of the admin audit trail, newest first, before `before`.
    async fn admin_audit_page(
        &self,
        before: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AdminAuditEntry>, StoreError>;

    /// The newest `limit` entries of the admin audit trail, newest first.
    async fn admin_audit(&self, limit: usize) -> Result<Vec<AdminAuditEntry>, StoreError> {
        Ok(self.admin_audit_page(None, limit).await?.items)
    }

    /// Takes up to `wanted` requests of `client`'s allowance in the minute
    /// starting at `window_start` (unix seconds), `limit` in all, across every
    /// instance that shares this store, and answers how many it got: `wanted`,
    /// fewer near the limit (at least one while any is left), 0 when the client
    /// used its `limit`. An instance takes several at once (a lease) and spends
    /// them without asking again. A store that only one process uses (the
    /// embedded one) needs no shared count: the in-process limiter is exact
    /// there, so by default everything is granted.
    async fn take_shared_rate_tokens(
        &self,
        _client: &str,
        _window_start: i64,
        _limit: u32,
        wanted: u32,
    ) -> Result<u32, StoreError> {
        Ok(wanted)
    }
}

/// A write the live streams care about, told once it committed.
#[derive(Debug, Clone)]
pub enum StoreChange {
    /// The workflow as stored. Two writers may tell in either order; the
    /// higher `version` is the newer.
    Written(std::sync::Arc<Workflow>),
    Erased(std::sync::Arc<str>),
    /// The activity numbered so was appended (`OpsStore::append_activity`).
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
