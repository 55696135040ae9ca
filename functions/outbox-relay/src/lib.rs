//! `outbox-relay`: fed by the workflow table's DynamoDB Stream, filtered (in
//! the template) to the `INSERT`s of outbox items. Relays each item at least
//! once (`app::outbox::relay_items`: the event published with its id, and
//! what it causes, each idempotent by that id) and reports partial batch
//! failures: a shard's records are in order, so the first record that fails
//! is reported and Lambda retries the batch from it. Bisected on error; once
//! its retries are spent, the batch is described on the on-failure SQS queue
//! (alarmed), and the items stay pending for the scheduled sweep.

use osa_app::ports::OutboxItem;
use osa_app::{Services, outbox};
use serde::{Deserialize, Serialize};

/// A batch of stream records, as Lambda hands it over. Only what the relay
/// reads is modelled; an item's document is its `doc` string attribute.
#[derive(Debug, Default, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    #[serde(default)]
    pub dynamodb: Change,
}

#[derive(Debug, Default, Deserialize)]
pub struct Change {
    #[serde(rename = "SequenceNumber", default)]
    pub sequence_number: Option<String>,
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<serde_json::Value>,
}

/// `ReportBatchItemFailures`: the records to retry from.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// The outbox item a record carries: `None` for any other record (another
/// item's write, a `MODIFY` such as marking an item relayed).
pub fn outbox_item(record: &StreamRecord) -> Result<Option<OutboxItem>, String> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let Some(image) = &record.dynamodb.new_image else {
        return Ok(None);
    };
    let is_outbox = image["sk"]["S"]
        .as_str()
        .is_some_and(|sk| sk.starts_with(osa_aws::dynamo::outbox::OUTBOX_SK_PREFIX));
    if !is_outbox {
        return Ok(None);
    }
    let doc = image["doc"]["S"]
        .as_str()
        .ok_or("an outbox item without its document")?;
    serde_json::from_str(doc)
        .map(Some)
        .map_err(|e| format!("an unreadable outbox item: {e}"))
}

/// Relays the batch in order, stopping at the first record that fails.
pub async fn handle(services: &Services, event: StreamEvent) -> BatchResponse {
    for record in &event.records {
        let relayed = match outbox_item(record) {
            Ok(None) => Ok(()),
            Ok(Some(item)) => {
                match outbox::relay_items(services, std::slice::from_ref(&item)).await {
                    Ok(done) if done.failed == 0 => Ok(()),
                    Ok(_) => Err(format!("outbox item {} not relayed", item.id)),
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(e) => Err(e),
        };
        if let Err(e) = relayed {
            let sequence = record.dynamodb.sequence_number.clone().unwrap_or_default();
            tracing::warn!(error = %e, sequence, "stream record not relayed; retried from here");
            return BatchResponse {
                batch_item_failures: vec![ItemFailure {
                    item_identifier: sequence,
                }],
            };
        }
    }
    BatchResponse::default()
}
