//! Assembling `Services` from the ports, the one way every process does it:
//! a backend's crate opens its [`Adapters`] (`osa_sqlite::adapters`,
//! `osa_aws::bootstrap`), the process adds its [`Runtime`], and [`assemble`]
//! joins them. Built once per process (per Lambda instance), never per request.

use std::sync::Arc;

use osa_domain::access::AccessError;

use crate::Services;
use crate::config::{Config, ConfigError};
use crate::ports::{
    ActivityFeed, AuditLog, Clock, CredentialChecker, DeliveryStore, EventBus, HttpClient,
    JobQueue, MetricsStore, OpsStore, OutboundError, Outbox, RateLimitLeases, SecretStore,
    StoreChanges, StoreError, TokenVerifier, WorkflowStore,
};
use crate::secrets::HeldSecrets;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Http(#[from] OutboundError),
    #[error("token verification: {0}")]
    Tokens(#[from] AccessError),
    #[error("could not create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
}

/// The stateful ports, over one backend.
#[derive(Clone)]
pub struct Adapters {
    pub store: Arc<dyn WorkflowStore>,
    pub audit: Arc<dyn AuditLog>,
    pub activity: Arc<dyn ActivityFeed>,
    /// The rate limit's count across instances (`None`: one process, no sharing).
    pub leases: Option<Arc<dyn RateLimitLeases>>,
    pub queue: Arc<dyn JobQueue>,
    pub events: Arc<dyn EventBus>,
    pub metrics: Arc<dyn MetricsStore>,
    pub ops: Arc<dyn OpsStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    /// What committed changes must cause, until the relay has done it.
    pub outbox: Arc<dyn Outbox>,
    pub changes: Option<Arc<dyn StoreChanges>>,
    /// Where credentials named by reference are read (`None`: none can be).
    pub secrets: Option<Arc<dyn SecretStore>>,
}

/// Everything else a process runs with: its configuration, clock, outbound HTTP,
/// token verifier and credential checker.
pub struct Runtime {
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub http: Arc<dyn HttpClient>,
    pub tokens: Arc<dyn TokenVerifier>,
    pub optimizely: Option<Arc<dyn CredentialChecker>>,
}

/// The application over `adapters`, run as `runtime` says.
pub fn assemble(adapters: Adapters, runtime: Runtime) -> Services {
    Services {
        store: adapters.store,
        audit: adapters.audit,
        activity: adapters.activity,
        leases: adapters.leases,
        queue: adapters.queue,
        events: adapters.events,
        metrics: adapters.metrics,
        ops: adapters.ops,
        deliveries: adapters.deliveries,
        outbox: adapters.outbox,
        relay: Arc::new(crate::outbox::RelayWake::default()),
        changes: adapters.changes,
        secrets: Arc::new(HeldSecrets::new(adapters.secrets)),
        clock: runtime.clock,
        http: runtime.http,
        tokens: runtime.tokens,
        config: Arc::new(runtime.config),
        optimizely: runtime.optimizely,
    }
}
