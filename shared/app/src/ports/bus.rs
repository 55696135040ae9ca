//! The event bus: what happened, for other systems to subscribe to.

use async_trait::async_trait;

use super::BusError;
/// Domain events are the domain's (`osa_domain::events`); the bus publishes them.
pub use osa_domain::events::DomainEvent;

/// Publishes domain events after the state they describe is durable. Delivery is
/// best effort: a failure is logged and never undoes or fails the request.
#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, events: &[DomainEvent]) -> Result<(), BusError>;
}
