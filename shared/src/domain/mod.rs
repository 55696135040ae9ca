//! The domain: pure rules, no I/O, no async.

pub mod access;
pub mod agent_output;
pub mod agents;
pub mod alerts;
pub mod audit;
pub mod canonical;
pub mod credentials;
pub mod delivery;
pub mod event;
pub mod health;
pub mod intake;
pub mod metrics;
pub mod monitoring;
pub mod pii;
pub mod record;
pub mod report;
pub mod resilience;
pub mod secret;
pub mod signature;
pub mod synthesis;
pub mod validation;
pub mod workflow;

pub use agents::AgentId;
pub use secret::Secret;

/// What OSA calls itself on every outbound request: `osa/<version>`.
pub const USER_AGENT: &str = concat!("osa/", env!("CARGO_PKG_VERSION"));
