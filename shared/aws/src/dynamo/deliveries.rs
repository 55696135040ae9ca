//! `DeliveryStore` over the single DynamoDB table (see
//! `docs/dynamodb-table-design.md`, "Deliveries").
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | delivery | `DELIVERY#<id>` | `META` |
//! | consecutive-failure counter | `DELIVERY-FAILURES#<kind>` | `COUNTER` |
//!
//! A delivery item holds the delivery as JSON (`doc`) and an optimistic `version`.
//! While it is dead-lettered it also carries the `recent` index keys
//! `recent_pk = DEAD-LETTER`, `recent_sk = <dead-lettered at, Unix ms, 15 digits>#<id>`
//! (the index is overloaded: workflows use `RECENT#<day>` partitions), so the
//! dead-letter listing is one backward `Query` plus one `BatchGetItem`, never a
//! scan; the put that redrives it drops them (a sparse index entry).

use std::collections::HashMap;

use time::OffsetDateTime;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::DynamoStore;
use crate::attr::{Item, backoff, condition_held, number, read_number, string, unavailable};
use crate::schema::{
    DEAD_LETTER_PK, DELIVERY_DUE_PK, EXPIRES_AT, RECENT_INDEX, RECENT_PK, RECENT_SK,
};
use osa_app::ports::{DeliveryStore, StoreError};
use osa_domain::delivery::{Delivery, DeliveryStatus};

fn delivery_key(id: uuid::Uuid) -> Item {
    HashMap::from([
        ("pk".to_owned(), string(format!("DELIVERY#{id}"))),
        ("sk".to_owned(), string("META")),
    ])
}

fn decode(item: &Item) -> Result<Delivery, StoreError> {
    match item.get("doc") {
        Some(AttributeValue::S(doc)) => {
            serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("delivery: {e}")))
        }
        _ => Err(StoreError::Corrupt("delivery item without doc".into())),
    }
}

impl DynamoStore {
    fn delivery_item(&self, d: &Delivery, version: i64) -> Result<Item, StoreError> {
        let mut item = delivery_key(d.id);
        let doc =
            serde_json::to_string(d).map_err(|e| StoreError::Corrupt(format!("encoding: {e}")))?;
        item.insert("doc".into(), string(doc));
        item.insert("version".into(), number(version));
        item.insert("kind".into(), string(d.kind.as_str()));
        let state = match &d.status {
            DeliveryStatus::Pending => {
                if let Some(due) = d.next_attempt_due_at() {
                    let ms = (due.unix_timestamp_nanos() / 1_000_000).max(0);
                    item.insert(RECENT_PK.into(), string(DELIVERY_DUE_PK));
                    item.insert(RECENT_SK.into(), string(format!("{ms:015}#{}", d.id)));
                }
                "pending"
            }
            DeliveryStatus::Delivered { .. } => "delivered",
            DeliveryStatus::DeadLettered { at, .. } => {
                item.insert(RECENT_PK.into(), string(DEAD_LETTER_PK));
                item.insert(
                    RECENT_SK.into(),
                    string(format!("{:015}#{}", ms(*at), d.id)),
                );
                "dead_lettered"
            }
        };
        item.insert("status".into(), string(state));
        let keep = i64::try_from(self.settings.workflow_retention.as_secs()).unwrap_or(i64::MAX);
        item.insert(
            EXPIRES_AT.into(),
            number(d.created_at.unix_timestamp().saturating_add(keep)),
        );
        Ok(item)
    }

    async fn load_delivery(&self, id: uuid::Uuid) -> Result<Option<(Delivery, i64)>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .set_key(Some(delivery_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", &e))?;
        out.item
            .map(|item| Ok((decode(&item)?, read_number(&item, "version")?)))
            .transpose()
    }
}

#[async_trait]
impl DeliveryStore for DynamoStore {
    async fn create_delivery(&self, delivery: &Delivery) -> Result<bool, StoreError> {
        let sent = self
            .client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(self.delivery_item(delivery, 1)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        condition_held("PutItem", sent)
    }

    async fn get_delivery(&self, id: uuid::Uuid) -> Result<Option<Delivery>, StoreError> {
        Ok(self.load_delivery(id).await?.map(|(d, _)| d))
    }

    async fn overdue(
        &self,
        due_before: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // The longest overdue first; the index may lag the table, so what is
        // read is checked again.
        let keys = self
            .query_index(RECENT_INDEX, RECENT_PK, DELIVERY_DUE_PK, true, limit)
            .await?;
        let mut out = Vec::new();
        for item in self.batch_get(keys).await? {
            let delivery = decode(&item)?;
            if delivery
                .next_attempt_due_at()
                .is_some_and(|due| due < due_before)
            {
                out.push(delivery);
            }
        }
        out.sort_by_key(|d| d.next_attempt_due_at());
        Ok(out)
    }

    async fn erase_delivery(&self, id: uuid::Uuid) -> Result<bool, StoreError> {
        // The dead-letter index holds keys of this item only: it goes with it.
        let out = self
            .client
            .delete_item()
            .table_name(self.table.as_ref())
            .set_key(Some(delivery_key(id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem", &e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn update_delivery(
        &self,
        id: uuid::Uuid,
        change: &(dyn for<'d> Fn(&'d mut Delivery) -> bool + Send + Sync),
    ) -> Result<Option<Delivery>, StoreError> {
        for attempt in 0..self.settings.max_attempts {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let Some((current, version)) = self.load_delivery(id).await? else {
                return Ok(None);
            };
            let mut next = current.clone();
            if !change(&mut next) {
                return Ok(Some(current));
            }
            let item = self.delivery_item(&next, version.saturating_add(1))?;
            if self.put_if_version(item, version).await? {
                return Ok(Some(next));
            }
        }
        Err(StoreError::Unavailable(format!(
            "delivery {id} kept changing; gave up updating it after {} attempts",
            self.settings.max_attempts
        )))
    }

    async fn dead_lettered(&self, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let keys = self
            .query_index(RECENT_INDEX, RECENT_PK, DEAD_LETTER_PK, false, limit)
            .await?;
        self.dead_letters_at(keys, limit).await
    }

    async fn dead_lettered_between(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        if limit == 0 || since > until {
            return Ok(Vec::new());
        }
        // Sort keys are `<ms, 15 digits>#<id>`: from the first of `since`'s
        // millisecond to past every id of `until`'s.
        let range = (
            RECENT_SK,
            format!("{:015}#", ms(since)),
            format!("{:015}#~", ms(until)),
        );
        let keys = self
            .query_index_range(
                RECENT_INDEX,
                RECENT_PK,
                DEAD_LETTER_PK,
                Some(range),
                true,
                limit,
            )
            .await?;
        self.dead_letters_at(keys, limit).await
    }
}

impl DynamoStore {
    /// The deliveries under the index entries `keys`, in their order, that
    /// are still dead-lettered (the index may lag the table).
    async fn dead_letters_at(
        &self,
        keys: Vec<Item>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let order: Vec<String> = keys
            .iter()
            .filter_map(|k| match k.get("pk") {
                Some(AttributeValue::S(pk)) => Some(pk.clone()),
                _ => None,
            })
            .collect();
        let mut by_pk: HashMap<String, Delivery> = HashMap::new();
        for item in self.batch_get(keys).await? {
            if let Some(AttributeValue::S(pk)) = item.get("pk") {
                by_pk.insert(pk.clone(), decode(&item)?);
            }
        }
        let mut out: Vec<Delivery> = order
            .iter()
            .filter_map(|pk| by_pk.remove(pk))
            .filter(|d| matches!(d.status, DeliveryStatus::DeadLettered { .. }))
            .collect();
        out.truncate(limit);
        Ok(out)
    }
}

/// Milliseconds since the epoch, as the index's sort keys write them.
fn ms(at: OffsetDateTime) -> i128 {
    (at.unix_timestamp_nanos() / 1_000_000).max(0)
}
