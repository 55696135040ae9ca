//! The event bus over EventBridge `PutEvents`: source `osa`, detail type
//! `DomainEvent::detail_type`, detail the event's JSON with its outbox item's
//! id (`outbox_id`), ten entries per call.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::describe;
use osa_app::ports::{BusError, EventBus, OutboxItem};

/// The `source` of every event OSA publishes.
pub const SOURCE: &str = "osa";
/// Entries per `PutEvents`, the service's limit.
const BATCH: usize = 10;
/// Calls for entries the service reported as failed (throttled, internal errors).
const ATTEMPTS: usize = 3;

/// `EventBus` over one EventBridge bus. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventBridgeBus {
    client: Client,
    bus: Arc<str>,
}

impl EventBridgeBus {
    /// Publishes on `bus` (a name or ARN; `default` is the account's default bus).
    pub fn new(client: Client, bus: impl Into<Arc<str>>) -> Self {
        EventBridgeBus {
            client,
            bus: bus.into(),
        }
    }

    /// The entry of `item`: its event's JSON with the item's id as `outbox_id`
    /// (receivers de-duplicate on it).
    fn entry(&self, item: &OutboxItem) -> Result<PutEventsRequestEntry, BusError> {
        let event = &item.event;
        let mut detail = serde_json::to_value(event)
            .map_err(|e| BusError::Unavailable(format!("encoding an event: {e}")))?;
        if let Some(fields) = detail.as_object_mut() {
            fields.insert(
                "outbox_id".into(),
                serde_json::Value::String(item.id.clone()),
            );
        }
        let detail = detail.to_string();
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(self.bus.as_ref())
            .source(SOURCE)
            .detail_type(event.detail_type())
            .detail(detail)
            .build())
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: &[OutboxItem]) -> Result<(), BusError> {
        for chunk in events.chunks(BATCH) {
            let mut entries = chunk
                .iter()
                .map(|e| self.entry(e))
                .collect::<Result<Vec<_>, _>>()?;
            for attempt in 1..=ATTEMPTS {
                let out = self
                    .client
                    .put_events()
                    .set_entries(Some(entries.clone()))
                    .send()
                    .await
                    .map_err(|e| {
                        BusError::Unavailable(format!("eventbridge {}", describe("PutEvents", &e)))
                    })?;
                if out.failed_entry_count() == 0 {
                    break;
                }
                // Results are in entry order; an entry with an error code failed.
                let failed: Vec<(PutEventsRequestEntry, String)> = entries
                    .into_iter()
                    .zip(out.entries())
                    .filter_map(|(entry, result)| {
                        result.error_code().map(|code| {
                            let reason =
                                format!("{code}: {}", result.error_message().unwrap_or(""));
                            (entry, reason)
                        })
                    })
                    .collect();
                if failed.is_empty() {
                    // A failure count without a failed entry: nothing to resend.
                    break;
                }
                if attempt == ATTEMPTS {
                    return Err(BusError::Unavailable(format!(
                        "eventbridge PutEvents: {} of {} entries failed ({})",
                        failed.len(),
                        chunk.len(),
                        failed[0].1
                    )));
                }
                entries = failed.into_iter().map(|(entry, _)| entry).collect();
            }
        }
        Ok(())
    }
}
