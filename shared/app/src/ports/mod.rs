//! Ports: what the application needs from the outside world, as traits. Adapters
//! implement them over SQLite (embedded) or AWS; the testkit swaps in fakes and a
//! manual clock. Everything is re-exported here, so callers name `ports::X`.

mod audit;
mod bus;
pub mod clock;
mod credentials;
mod deliveries;
mod deploy;
mod http;
mod leases;
mod operations;
mod outbox;
mod queue;
mod secrets;
mod tokens;
mod workflows;

// The records the ports carry are domain types; callers may name them here.
pub use audit::*;
pub use bus::*;
pub use clock::{Clock, SystemClock};
pub use credentials::*;
pub use deliveries::*;
pub use deploy::*;
pub use http::*;
pub use leases::*;
pub use operations::*;
pub use osa_domain::audit::{
    AdminAuditEntry, Attempt, AuditEntry, AuditOutcome, Page, PagePosition,
};
pub use osa_domain::record::{AgentResult, EventOutcome, Marker};
pub use outbox::*;
pub use queue::*;
pub use secrets::*;
pub use tokens::*;
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

/// What an optimistic read-modify-write did: the item as stored afterwards, and
/// what the change said when it was kept (`None`: it left the item as it was).
#[derive(Debug, Clone, PartialEq)]
pub struct Updated<W, T> {
    pub stored: W,
    pub change: Option<T>,
}

/// Carries a change's answer out of a closure an optimistic store may run more
/// than once: each run overwrites it, so the run the store kept has the last word.
struct LastRun<T>(std::sync::Mutex<Option<T>>);

impl<T> LastRun<T> {
    fn new() -> Self {
        LastRun(std::sync::Mutex::new(None))
    }

    /// Keeps `answer`; true when it asks for the item to be saved.
    fn keep(&self, answer: Option<T>) -> bool {
        let save = answer.is_some();
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = answer;
        save
    }

    fn into_answer(self) -> Option<T> {
        self.0.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}
