//! Ports: what the application needs from the outside world. Adapters implement
//! them over SQLite (embedded) or AWS; tests swap in a manual clock.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::event::AgentEvent;
use crate::domain::workflow::{AgentState, AgentStatus, Workflow, WorkflowStatus};

// ---- errors ------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("event bus unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    #[error("queued message could not be read: {0}")]
    Corrupt(String),
}

// ---- store -------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    Created,
    /// A workflow with that id already exists; here it is.
    Existing(Box<Workflow>),
}

/// One agent's accepted result: its own item, so nine agents never contend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentResult {
    pub workflow_id: String,
    pub agent: crate::domain::AgentId,
    pub event_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    pub agent_data: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Accepted,
    Duplicate,
    Rejected,
}

/// One webhook attempt, whatever became of it. Holds a hash of the body, not the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// From the verified event; for a rejected body, whatever id it claimed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub outcome: AuditOutcome,
    /// A stable code: `accepted`, `duplicate`, `signature_mismatch`, `validation_failed`...
    pub reason: String,
    pub http_status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    pub body_sha256: String,
    pub body_bytes: u64,
}

/// One admin action: who did what to which target, when, and how it ended.
/// Records that something was done, never the data it touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminAuditEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The token subject.
    pub actor: String,
    /// A stable code: `workflow_erased`, `delivery_redriven`...
    pub action: String,
    pub target: String,
    /// `succeeded`, `not_found`, `failed`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventOutcome {
    Accepted {
        event_id: String,
        agent_status: AgentStatus,
        state_changed: bool,
        workflow_status: WorkflowStatus,
    },
    Duplicate {
        event_id: String,
    },
    UnknownWorkflow,
}

/// Named instants the status views read (last webhook, last agent data, last sync).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Marker {
    LastWebhook,
    LastAgentData,
    LastForceSync,
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

    /// Records a verified event exactly once, atomically: de-duplicates it, applies it
    /// to its agent, stores a completed agent's result, refreshes the workflow's status
    /// and appends `audit` (with the outcome filled in). Durable when it returns.
    async fn record_event(
        &self,
        event: &AgentEvent,
        audit: AuditEntry,
    ) -> Result<EventOutcome, StoreError>;

    /// Appends an audit entry for an attempt that never reached `record_event`.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// Audit entries for a workflow, oldest first.
    async fn audit_for_workflow(
        &self,
        workflow_id: &str,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// Read-modify-write of one workflow. `change` returns false to leave it as is.
    /// Returns the workflow as stored afterwards, or `None` if it does not exist.
    async fn update_workflow(
        &self,
        id: &str,
        // Spelled higher-ranked: async_trait would otherwise name the elided lifetime.
        change: &(dyn for<'w> Fn(&'w mut Workflow) -> bool + Send + Sync),
    ) -> Result<Option<Workflow>, StoreError>;

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

    /// The admin audit trail, newest first.
    async fn admin_audit(&self, limit: usize) -> Result<Vec<AdminAuditEntry>, StoreError>;

    /// Counts one request of `client` in the minute starting at `window_start`
    /// (unix seconds) against `limit`, across every instance that shares this
    /// store: `false` when the client already used its `limit`. A store that only
    /// one process uses (the embedded one) needs no shared count: the in-process
    /// limiter is exact there, so by default everything is allowed.
    async fn take_shared_rate_token(
        &self,
        _client: &str,
        _window_start: i64,
        _limit: u32,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }
}

// ---- job queue ---------------------------------------------------------------

/// Work for the background worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// Send the OPAL trigger for a workflow.
    TriggerOpal { workflow_id: String },
    /// Time out the agents (and the workflow) whose deadlines have passed, then
    /// schedule the next check. Delayed messages, so no scan is ever needed.
    CheckDeadlines { workflow_id: String },
    /// Trigger one timed-out agent again, with a reduced scope (scenario A).
    RetriggerAgent {
        workflow_id: String,
        agent: crate::domain::AgentId,
    },
    /// Re-trigger the OPAL workflow on demand (Force Sync).
    ForceSync {
        workflow_id: String,
        sync_id: String,
    },
    /// Send attempt `attempt` of run `run` of an outbound delivery
    /// (`app::delivery`); stale or repeated messages are acked without sending.
    Deliver {
        delivery_id: uuid::Uuid,
        run: u32,
        attempt: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedJob {
    /// Identifies this receipt; pass it to `ack`.
    pub receipt: String,
    pub job: Job,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
}

#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, job: &Job, delay: Duration) -> Result<(), QueueError>;
    /// Up to `max` visible jobs, hidden from other receivers for `visibility`.
    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedJob>, QueueError>;
    async fn ack(&self, receipt: &str) -> Result<(), QueueError>;
}

// ---- event bus ---------------------------------------------------------------

/// What happened, for other systems to subscribe to (EventBridge on AWS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DomainEvent {
    WorkflowCreated {
        workflow_id: String,
        correlation_id: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    AgentResultAccepted {
        workflow_id: String,
        agent: crate::domain::AgentId,
        event_id: String,
        agent_status: AgentStatus,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    WorkflowFinished {
        workflow_id: String,
        status: WorkflowStatus,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

impl DomainEvent {
    /// EventBridge `DetailType`.
    pub const fn detail_type(&self) -> &'static str {
        match self {
            DomainEvent::WorkflowCreated { .. } => "WorkflowCreated",
            DomainEvent::AgentResultAccepted { .. } => "AgentResultAccepted",
            DomainEvent::WorkflowFinished { .. } => "WorkflowFinished",
        }
    }
}

/// Publishes domain events after the state they describe is durable. Delivery is
/// best effort: a failure is logged and never undoes or fails the request.
#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError>;
}

// ---- clock -------------------------------------------------------------------

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;

    fn now_ms(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    pub fn set(&self, to: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

// ---- outbound HTTP -----------------------------------------------------------

#[derive(Clone)]
pub struct OutboundRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub timeout: Duration,
}

impl std::fmt::Debug for OutboundRequest {
    // Header values may carry credentials: show names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundRequest")
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    pub status: u16,
    /// Parsed from `Retry-After` (seconds form) when present.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("request timed out")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Other(String),
}

#[async_trait]
pub trait HttpClient: Send + Sync {
    async fn post(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError>;

    /// A plain GET, for health probes. Clients that cannot GET say so.
    async fn get(&self, url: &str, timeout: Duration) -> Result<OutboundResponse, OutboundError> {
        let _ = (url, timeout);
        Err(OutboundError::Other("this client cannot GET".into()))
    }
}

// ---- metrics and operations state (issue 6) ----------------------------------

/// Metrics that are right across every instance: each observation becomes
/// additive cell updates (`domain::metrics`) applied atomically in the store, so
/// any number of Lambda instances can count at once without losing an increment.
/// Adapters may spread one series over several shards (hot partitions); a read
/// sums them.
#[async_trait]
pub trait MetricsStore: Send + Sync {
    /// Applies every observation. Durable when it returns.
    async fn record(
        &self,
        observations: &[crate::domain::metrics::Observation],
    ) -> Result<(), StoreError>;

    /// Every series, shards summed.
    async fn snapshot(&self) -> Result<crate::domain::metrics::Snapshot, StoreError>;
}

/// A named JSON document of operational state (health report, alert state, the
/// maintenance switch) with a version for compare-and-set.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDoc {
    pub version: i64,
    pub doc: serde_json::Value,
}

#[async_trait]
pub trait OpsStore: Send + Sync {
    async fn load_state(&self, name: &str) -> Result<Option<StateDoc>, StoreError>;

    /// Saves `doc` as version `expected + 1` (1 when `expected` is `None`, which
    /// requires that none exists). Returns false, saving nothing, when the stored
    /// version is not `expected`: someone else saved first.
    async fn save_state(
        &self,
        name: &str,
        doc: &serde_json::Value,
        expected: Option<i64>,
    ) -> Result<bool, StoreError>;
}

// ---- deliveries (issue 4) ------------------------------------------------------

/// Outbound deliveries (`domain::delivery`), their dead-letter queue and the
/// per-kind consecutive-failure counter that alerting reads.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Saves a new delivery. Returns false, saving nothing, if its id exists.
    async fn create_delivery(
        &self,
        delivery: &crate::domain::delivery::Delivery,
    ) -> Result<bool, StoreError>;

    async fn get_delivery(
        &self,
        id: uuid::Uuid,
    ) -> Result<Option<crate::domain::delivery::Delivery>, StoreError>;

    /// Read-modify-write of one delivery on an optimistic version, like
    /// `WorkflowStore::update_workflow`: `change` may run more than once and returns
    /// false to leave the delivery as is. Returns the delivery as stored afterwards,
    /// or `None` if it does not exist.
    async fn update_delivery(
        &self,
        id: uuid::Uuid,
        change: &(dyn for<'d> Fn(&'d mut crate::domain::delivery::Delivery) -> bool + Send + Sync),
    ) -> Result<Option<crate::domain::delivery::Delivery>, StoreError>;

    /// Dead-lettered deliveries, the most recently dead-lettered first, from an
    /// index (never a scan). A redriven delivery leaves the list.
    async fn dead_lettered(
        &self,
        limit: usize,
    ) -> Result<Vec<crate::domain::delivery::Delivery>, StoreError>;

    /// Deliveries of `kind` dead-lettered since the last one of that kind was delivered.
    async fn consecutive_failures(
        &self,
        kind: crate::domain::delivery::DeliveryKind,
    ) -> Result<u32, StoreError>;

    /// Adds one (a delivery of `kind` was dead-lettered); returns the new count.
    async fn raise_failures(
        &self,
        kind: crate::domain::delivery::DeliveryKind,
    ) -> Result<u32, StoreError>;

    /// Back to zero (a delivery of `kind` was delivered).
    async fn reset_failures(
        &self,
        kind: crate::domain::delivery::DeliveryKind,
    ) -> Result<(), StoreError>;
}
