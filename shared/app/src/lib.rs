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
pub mod secrets;
pub mod status;
pub mod stream;
pub mod sync;
pub mod webhook;

use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::Config;
use crate::ports::{
    ActivityFeed, AuditLog, Clock, CredentialChecker, DeliveryStore, DomainEvent, EventBus,
    HttpClient, JobQueue, MetricsStore, OpsStore, QueueError, RateLimitLeases, StoreChanges,
    StoreError, TokenVerifier, WorkflowStore,
};
use osa_domain::activity::Activity;
use osa_domain::workflow::WorkflowStatus;

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

    /// Best effort: the state is already durable, so a bus failure is only logged.
    pub async fn publish(&self, events: &[DomainEvent]) {
        if events.is_empty() {
            return;
        }
        if let Err(e) = self.events.publish(events).await {
            tracing::warn!(error = %e, count = events.len(), "domain events not published");
        }
        for event in events {
            let activity = match event {
                DomainEvent::WorkflowCreated {
                    workflow_id, at, ..
                } => Activity::WorkflowCreated {
                    workflow_id: workflow_id.clone(),
                    at: *at,
                },
                DomainEvent::WorkflowFinished {
                    workflow_id,
                    status,
                    at,
                } => {
                    self.workflow_finished(workflow_id, *status, *at).await;
                    Activity::WorkflowFinished {
                        workflow_id: workflow_id.clone(),
                        status: *status,
                        at: *at,
                    }
                }
                DomainEvent::AgentResultAccepted { .. } => continue,
            };
            self.note(&activity).await;
        }
    }

    /// A finished workflow's metrics and notification, from one read of it
    /// and its report. An agent's end, this one's included, was counted when
    /// its event was recorded (`WorkflowStore::record_event_with`).
    async fn workflow_finished(
        &self,
        workflow_id: &str,
        status: WorkflowStatus,
        at: OffsetDateTime,
    ) {
        match status::workflow_and_report(self, workflow_id).await {
            Ok(found) => {
                metrics::workflow_finished(self, found.as_ref(), status, at).await;
                if let Some((workflow, _)) = &found {
                    notify::finished(self, workflow).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, workflow_id, "workflow duration and strategy unknown");
                metrics::workflow_finished(self, None, status, at).await;
                // The notification needs only the workflow: try that alone.
                notify::workflow_finished(self, workflow_id).await;
            }
        }
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
