//! The application: the ports (`ports`, what it needs from the world, as
//! traits), the settings a process runs with (`config`), how both stores write
//! things down (`codec`), and one module per use case, each orchestrating the
//! domain and the ports. HTTP handlers and queue consumers call these and only
//! translate in and out. `bootstrap` joins a backend's adapters into [`Services`].

pub mod bootstrap;
pub mod codec;
pub mod config;
pub mod ports;

pub mod admin;
pub mod alerts;
pub mod credentials;
pub mod deadlines;
pub mod delivery;
pub mod deploy;
pub mod health;
pub mod intake;
pub mod jobs;
pub mod listing;
pub mod metrics;
pub mod monitoring;
pub mod notify;
pub mod outbox;
pub mod recovery;
pub mod secrets;
pub mod status;
pub mod stream;
pub mod sync;
pub mod webhook;

use std::sync::Arc;

use crate::config::Config;
use crate::ports::{
    ActivityFeed, AuditLog, Clock, CredentialChecker, DeliveryStore, DomainEvent, EventBus,
    HttpClient, JobQueue, MetricsStore, OpsStore, Outbox, QueueError, RateLimitLeases,
    StoreChanges, StoreError, TokenVerifier, WorkflowStore,
};
use osa_domain::activity::Activity;

/// Why a queued job did not finish. Every variant means the same to the queue:
/// leave the message, so it comes back after its visibility timeout.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("retryable: {0}")]
    Retry(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Everything a use case may touch. Cheap to clone; built once per process
/// (per Lambda instance), never per request, by `bootstrap` alone. Routers hold
/// it in an `Arc`, so a request takes one reference, not one per port (each a
/// counter both cores would contend for).
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn WorkflowStore>,
    /// The webhook and admin audit trails.
    pub audit: Arc<dyn AuditLog>,
    /// The operators' activity feed.
    pub activity: Arc<dyn ActivityFeed>,
    /// The HTTP rate limit's count across instances; `None` where one process
    /// serves everything (the in-process limiter is exact).
    pub leases: Option<Arc<dyn RateLimitLeases>>,
    pub queue: Arc<dyn JobQueue>,
    pub events: Arc<dyn EventBus>,
    pub clock: Arc<dyn Clock>,
    pub http: Arc<dyn HttpClient>,
    /// Verifies bearer tokens (the HTTP edge uses it; nothing else does).
    pub tokens: Arc<dyn TokenVerifier>,
    pub config: Arc<Config>,
    /// Metrics aggregated in the store, right across every instance.
    pub metrics: Arc<dyn MetricsStore>,
    /// Operational state: health reports, alert state, the maintenance switch.
    pub ops: Arc<dyn OpsStore>,
    /// Outbound deliveries and their dead-letter queue.
    pub deliveries: Arc<dyn DeliveryStore>,
    /// What committed changes must cause, until the relay has done it.
    pub outbox: Arc<dyn Outbox>,
    /// How commits reach the relay (`outbox::RelayWake`).
    pub relay: Arc<outbox::RelayWake>,
    /// Which workflows changed, when the store can tell (the live streams
    /// wait on it); `None`: they re-read on a timer.
    pub changes: Option<Arc<dyn StoreChanges>>,
    /// Checks the Optimizely keys an intake gives. `None`: keys are not
    /// checked (a runtime without one configured).
    pub optimizely: Option<Arc<dyn CredentialChecker>>,
    /// Credentials held by reference, read when first needed.
    pub secrets: Arc<secrets::HeldSecrets>,
}

impl Services {
    pub fn webhook_url(&self) -> String {
        format!("{}/api/webhooks/opal-workflow", self.config.public_base_url)
    }

    /// A change that raised `events` committed: its store wrote them to the
    /// outbox in the same write, and the relay (`outbox`) publishes them and
    /// does what they cause, at least once. This only wakes it (or, where
    /// no relay runs on its own, relays now); it never fails the request.
    pub async fn publish(&self, events: &[DomainEvent]) {
        outbox::committed(self, events).await;
    }

    /// Adds to the operators' activity feed. Best effort, like `publish`: what
    /// it tells of is already durable.
    pub async fn note(&self, activity: &Activity) {
        if let Err(e) = self.activity.append_activity(activity).await {
            tracing::warn!(error = %e, kind = activity.name(), "activity not recorded");
        }
    }

    /// Where refreshed Optimizely credentials for a paused workflow go.
    pub fn credentials_url(&self, workflow_id: &str) -> String {
        format!("{}/credentials", self.status_url(workflow_id))
    }

    pub fn status_url(&self, workflow_id: &str) -> String {
        format!(
            "{}/api/strategy/workflows/{workflow_id}",
            self.config.public_base_url
        )
    }
}
