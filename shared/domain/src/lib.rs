//! OSA's domain: pure rules, no I/O, no async, no clock reads. Its crate
//! depends on no I/O crate (no tokio, axum, hyper, AWS SDK or SQLite).

pub mod access;
pub mod activity;
pub mod agent_output;
pub mod agents;
pub mod alerts;
pub mod audit;
pub mod canonical;
pub mod credentials;
pub mod delivery;
pub mod event;
pub mod events;
pub mod health;
pub mod history;
pub mod ids;
pub mod intake;
pub mod metrics;
pub mod monitoring;
pub mod notification;
pub mod pii;
pub mod record;
pub mod report;
pub mod resilience;
pub mod run;
pub mod schema;
pub mod secret;
pub mod signature;
pub mod standard_webhooks;
pub mod status;
pub mod synthesis;
pub mod validation;
pub mod webhook_signature;
pub mod workflow;

pub use agents::AgentId;
pub use ids::WorkflowId;
pub use secret::Secret;

/// A time as RFC 3339 text, the way every OSA answer writes times.
pub fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What OSA calls itself on every outbound request: `osa/<version>`.
pub const USER_AGENT: &str = concat!("osa/", env!("CARGO_PKG_VERSION"));
