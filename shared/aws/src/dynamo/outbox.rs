//! The outbox in the workflow table, and the once-keys of the relay's counts
//! and activity.
//!
//! | item | `pk` | `sk` | while pending |
//! |---|---|---|---|
//! | outbox item | `WF#<id>` | `OUTBOX#<version, 20 digits>#<n, 4 digits>` | `recent_pk` `OUTBOX-PENDING` (relayed: `OUTBOX#<day of at>`), `recent_sk` `<at ms, 15 digits>#<item id>` |
//! | once-key | `ONCE#<key>` | `ONCE` | |
//!
//! An item is put in the same `TransactWriteItems` as the workflow write that
//! raised its event (`record_event`, `update_workflow`, `create_workflow`,
//! `start_run`), in the workflow's partition, so an erasure takes it with the
//! workflow. The table's stream carries its `INSERT` to the `outbox-relay`
//! function; the sparse `recent` index's `OUTBOX-PENDING` partition lists
//! what is not relayed yet (the scheduled sweep); relaying moves the item to
//! its day's partition, where a replay by time (`outbox_between`) finds it.
//! One index partition for every pending item: fine at the write rates this
//! system sees (each item leaves it within seconds).

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::*;
use osa_app::ports::{Outbox, OutboxItem};

/// The `recent` index's partition of pending outbox items.
pub const OUTBOX_PENDING_PK: &str = "OUTBOX-PENDING";
/// Sort keys of outbox items begin so.
pub const OUTBOX_SK_PREFIX: &str = "OUTBOX#";

/// The `recent` index's partition of the items relayed whose events
/// happened on `at`'s day (UTC).
fn relayed_pk(at: OffsetDateTime) -> String {
    format!("OUTBOX#{}", day(at))
}

fn outbox_sk(version: u64, n: usize) -> String {
    format!("{OUTBOX_SK_PREFIX}{version:020}#{n:04}")
}

/// The item an outbox item is stored as; `created_at` dates its expiry with
/// its workflow's.
fn outbox_item(
    store: &DynamoStore,
    item: &OutboxItem,
    version: u64,
    n: usize,
    created_at: OffsetDateTime,
) -> Result<Item, StoreError> {
    let mut stored = key(wf_pk(item.workflow_id()), outbox_sk(version, n));
    stored.insert(DOC.into(), string(encode(item)?));
    stored.insert("outbox_id".into(), string(item.id.clone()));
    stored.insert(RECENT_PK.into(), string(OUTBOX_PENDING_PK));
    stored.insert(
        RECENT_SK.into(),
        string(format!("{:015}#{}", to_ms(item.at()).max(0), item.id)),
    );
    stored.insert(
        EXPIRES_AT.into(),
        store.expiry(created_at, store.settings.workflow_retention),
    );
    Ok(stored)
}

/// Decodes an outbox item from its stored form (a query's, or a stream
/// record's new image).
pub fn decode_item(stored: &Item) -> Result<OutboxItem, StoreError> {
    decode("outbox item", read_string(stored, DOC)?)
}

impl DynamoStore {
    /// The puts of what `workflow`'s write raised (taken from it), for the
    /// same transaction as the write; `workflow` has its new version.
    pub(super) fn outbox_puts(
        &self,
        workflow: &mut Workflow,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let raised = workflow.take_raised();
        self.outbox_puts_of(workflow, raised)
    }

    pub(super) fn outbox_puts_of(
        &self,
        workflow: &Workflow,
        raised: Vec<osa_domain::events::DomainEvent>,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let version = workflow.version();
        OutboxItem::of_write(version, raised)
            .iter()
            .enumerate()
            .map(|(n, item)| {
                let stored = outbox_item(self, item, version, n, workflow.created_at())?;
                let put: Put = self.put(stored, Condition::Always)?;
                Ok(TransactWriteItem::builder().put(put).build())
            })
            .collect()
    }
}

#[async_trait]
impl Outbox for DynamoStore {
    async fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let keys = self
            .query_index(RECENT_INDEX, RECENT_PK, OUTBOX_PENDING_PK, true, limit)
            .await?;
        let order: Vec<(String, String)> = keys
            .iter()
            .map(|k| {
                Ok((
                    read_string(k, PK)?.to_owned(),
                    read_string(k, SK)?.to_owned(),
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        let mut found: HashMap<(String, String), Item> = HashMap::new();
        for item in self.batch_get(keys).await? {
            let k = (
                read_string(&item, PK)?.to_owned(),
                read_string(&item, SK)?.to_owned(),
            );
            found.insert(k, item);
        }
        order
            .iter()
            .filter_map(|k| found.remove(k))
            // The index may lag the table: one relayed meanwhile is not pending.
            .filter(|item| read_string(item, RECENT_PK).is_ok_and(|p| p == OUTBOX_PENDING_PK))
            .map(|item| decode_item(&item))
            .collect()
    }

    async fn workflow_outbox(&self, workflow_id: &str) -> Result<Vec<OutboxItem>, StoreError> {
        self.query(&wf_pk(workflow_id), OUTBOX_SK_PREFIX, true, usize::MAX)
            .await?
            .iter()
            .map(decode_item)
            .collect()
    }

    async fn outbox_between(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        if limit == 0 || since > until {
            return Ok(Vec::new());
        }
        // Index sort keys are `<at ms, 15 digits>#<item id>`.
        let range = || {
            (
                RECENT_SK,
                format!("{:015}#", to_ms(since).max(0)),
                format!("{:015}#~", to_ms(until).max(0)),
            )
        };
        let mut partitions = vec![OUTBOX_PENDING_PK.to_owned()];
        let mut date = since.to_offset(time::UtcOffset::UTC).date();
        let last = until.to_offset(time::UtcOffset::UTC).date();
        while date <= last {
            partitions.push(format!("OUTBOX#{}", format_date(date)));
            match date.next_day() {
                Some(next) => date = next,
                None => break,
            }
        }
        let mut keys = Vec::new();
        for partition in &partitions {
            keys.extend(
                self.query_index_range(
                    RECENT_INDEX,
                    RECENT_PK,
                    partition,
                    Some(range()),
                    true,
                    limit,
                )
                .await?,
            );
        }
        let mut items = Vec::new();
        for item in self.batch_get(keys).await? {
            items.push(decode_item(&item)?);
        }
        // Relayed while read: in both partitions' answers, once here.
        items.sort_by(|a, b| (a.at(), &a.id).cmp(&(b.at(), &b.id)));
        items.dedup_by(|a, b| a.id == b.id);
        items.truncate(limit);
        Ok(items)
    }

    async fn outbox_done(&self, item: &OutboxItem) -> Result<(), StoreError> {
        // The stored key is found from the id: `<workflow>:<version>:<n>`.
        let mut parts = item.id.rsplitn(3, ':');
        let (Some(n), Some(version)) = (
            parts.next().and_then(|n| n.parse::<usize>().ok()),
            parts.next().and_then(|v| v.parse::<u64>().ok()),
        ) else {
            return Err(StoreError::Corrupt(format!("outbox item id {}", item.id)));
        };
        let sent = self
            .client
            .update_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key(wf_pk(item.workflow_id()), outbox_sk(version, n))))
            // Out of the pending partition, into its day's (replays read it).
            .update_expression("SET #rpk = :day, relayed_at_ms = :now")
            // Never re-create an item an erasure took.
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#rpk", RECENT_PK)
            .expression_attribute_values(":day", string(relayed_pk(item.at())))
            .expression_attribute_values(":now", number(self.clock.now_ms()))
            .send()
            .await;
        condition_held("UpdateItem", sent).map(|_| ())
    }
}
