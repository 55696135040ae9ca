//! Outbound deliveries, their dead-letter queue and failure counters.

use async_trait::async_trait;

use super::{LastRun, StoreError, Updated};
use osa_domain::delivery::Delivery;

/// Outbound deliveries (`domain::delivery`) and their dead-letter queue.
#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Saves a new delivery. Returns false, saving nothing, if its id exists.
    async fn create_delivery(&self, delivery: &Delivery) -> Result<bool, StoreError>;

    async fn get_delivery(&self, id: uuid::Uuid) -> Result<Option<Delivery>, StoreError>;

    /// Read-modify-write of one delivery on an optimistic version, like
    /// `WorkflowStore::update_workflow`: `change` may run more than once and returns
    /// false to leave the delivery as is. Returns the delivery as stored afterwards,
    /// or `None` if it does not exist.
    async fn update_delivery(
        &self,
        id: uuid::Uuid,
        change: &(dyn for<'d> Fn(&'d mut Delivery) -> bool + Send + Sync),
    ) -> Result<Option<Delivery>, StoreError>;

    /// Dead-lettered deliveries, the most recently dead-lettered first, from an
    /// index (never a scan). A redriven delivery leaves the list.
    async fn dead_lettered(&self, limit: usize) -> Result<Vec<Delivery>, StoreError>;

    /// Deliveries dead-lettered from `since` to `until` (both included),
    /// the earliest first, at most `limit`, from the same index.
    async fn dead_lettered_between(
        &self,
        since: time::OffsetDateTime,
        until: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Pending deliveries whose next attempt was due before `due_before`, the
    /// longest overdue first, from an index (never a scan).
    async fn overdue(
        &self,
        due_before: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Removes a delivery, its history and its dead letter (erasure). Returns
    /// whether it existed; a queued attempt for it finds nothing and is dropped.
    async fn erase_delivery(&self, id: uuid::Uuid) -> Result<bool, StoreError>;
}

impl dyn DeliveryStore {
    /// `update_delivery` for a change that says what it did, like
    /// `WorkflowStore::update`.
    pub async fn update<T: Send>(
        &self,
        id: uuid::Uuid,
        change: impl Fn(&mut Delivery) -> Option<T> + Send + Sync,
    ) -> Result<Option<Updated<Delivery, T>>, StoreError> {
        let last = LastRun::new();
        let stored = self.update_delivery(id, &|d| last.keep(change(d))).await?;
        Ok(stored.map(|stored| Updated {
            stored,
            change: last.into_answer(),
        }))
    }
}
