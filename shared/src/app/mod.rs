//! Application services: each use case orchestrates the domain and the ports.
//! HTTP handlers and queue consumers call these and only translate in and out.

pub mod intake;
pub mod lifecycle;
pub mod status;
pub mod sync;
pub mod webhook;
pub mod worker;

use std::sync::Arc;

use crate::auth::JwtVerifier;
use crate::config::Config;
use crate::ports::{Clock, DomainEvent, EventBus, HttpClient, JobQueue, WorkflowStore};

/// Everything a use case may touch. Cheap to clone; built once per process
/// (per Lambda instance), never per request.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn WorkflowStore>,
    pub queue: Arc<dyn JobQueue>,
    pub events: Arc<dyn EventBus>,
    pub clock: Arc<dyn Clock>,
    pub http: Arc<dyn HttpClient>,
    pub auth: Arc<JwtVerifier>,
    pub config: Arc<Config>,
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
    }

    pub fn status_url(&self, workflow_id: &str) -> String {
        format!(
            "{}/api/strategy/workflows/{workflow_id}",
            self.config.public_base_url
        )
    }
}
