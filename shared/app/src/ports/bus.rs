//! The event bus: what happened, for other systems to subscribe to.

use async_trait::async_trait;

use super::BusError;
/// Domain events are the domain's (`osa_domain::events`); the bus publishes them.
pub use osa_domain::events::DomainEvent;

use super::OutboxItem;

/// Publishes domain events from the outbox, after the state they describe is
/// durable, each with its outbox item's id (receivers de-duplicate on it: the
/// relay publishes at least once). An error leaves the items pending.
#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, items: &[OutboxItem]) -> Result<(), BusError>;
}
