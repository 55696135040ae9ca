//! Ports: what the application needs from the outside world, as traits. Adapters
//! implement them over SQLite (embedded) or AWS; the testkit swaps in fakes and a
//! manual clock. Everything is re-exported here, so callers name `ports::X`.

mod bus;
pub mod clock;
mod deliveries;
mod http;
mod operations;
mod queue;
mod workflows;

// The records the ports carry are domain types; callers may name them here.
pub use crate::domain::audit::{AdminAuditEntry, Attempt, AuditEntry, AuditOutcome};
pub use crate::domain::record::{AgentResult, EventOutcome, Marker};
pub use bus::*;
pub use clock::{Clock, SystemClock};
pub use deliveries::*;
pub use http::*;
pub use operations::*;
pub use queue::*;
pub use workflows::*;

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
