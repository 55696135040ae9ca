//! The embedded event bus: domain events become structured log lines (the
//! local bus's log: `domain event`, with the outbox item's id), and the most
//! recent are kept in memory for tests and local inspection.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use osa_app::ports::{BusError, DomainEvent, EventBus, OutboxItem};

const KEEP: usize = 1024;

#[derive(Default)]
pub struct LogBus {
    recent: Mutex<VecDeque<OutboxItem>>,
}

impl LogBus {
    /// The events published most recently, the oldest first.
    pub fn recent(&self) -> Vec<DomainEvent> {
        self.recent_items().into_iter().map(|i| i.event).collect()
    }

    /// The same, each with the outbox item's id it was published with.
    pub fn recent_items(&self) -> Vec<OutboxItem> {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

#[async_trait]
impl EventBus for LogBus {
    async fn publish(&self, items: &[OutboxItem]) -> Result<(), BusError> {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        for item in items {
            let event = &item.event;
            tracing::info!(
                detail_type = event.detail_type(),
                outbox_id = %item.id,
                workflow_id = %item.workflow_id(),
                event = ?event,
                "domain event"
            );
            if recent.len() == KEEP {
                recent.pop_front();
            }
            recent.push_back(item.clone());
        }
        Ok(())
    }
}
