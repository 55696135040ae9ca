//! The outbox: what a committed change must cause (events to publish, and the
//! notifications, activity and metrics they lead to), written by the
//! `WorkflowStore` in the same atomic write as the change, and read back by
//! the relay (`app::outbox`) until each item is relayed.

use async_trait::async_trait;

use super::StoreError;
pub use osa_domain::events::OutboxItem;

#[async_trait]
pub trait Outbox: Send + Sync {
    /// Items not relayed yet, oldest first, at most `limit`, from an index of
    /// exactly those (never a scan).
    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxItem>, StoreError>;

    /// Every item a workflow's writes raised, relayed or not, in the order
    /// written (its erasure finds the notifications they caused).
    async fn workflow_outbox(&self, workflow_id: &str) -> Result<Vec<OutboxItem>, StoreError>;

    /// Every item whose event happened from `since` to `until` (both
    /// included), relayed or not, the earliest first, at most `limit`, from
    /// an index (never a scan).
    async fn outbox_between(
        &self,
        since: time::OffsetDateTime,
        until: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// Marks `item` relayed: it is not pending any more. Harmless when it
    /// already was (a relay that ran twice), or when it is unknown.
    async fn outbox_done(&self, item: &OutboxItem) -> Result<(), StoreError>;
}
