//! The workflow store over DynamoDB: one table, keys `pk`/`sk`, two keys-only
//! indexes. `docs/dynamodb-table-design.md` is the design; in short:
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | workflow | `WF#<id>` | `META` |
//! | agent | `WF#<id>` | `AGENT#<agent>` |
//! | result (one or more parts) | `WF#<id>` | `RESULT#<agent>#<part>` |
//! | seen event (de-duplication) | `WF#<id>` | `EVENT#<event id>` |
//! | audit entry | `AUDIT#<workflow id>` | `<received ns>#<uuid>` |
//! | audit entry naming no workflow | `AUDIT-ANON#<day>#<shard>` | `<received ns>#<uuid>` |
//! | marker shard | `MARKER#<name>#<shard>` | `MARKER` |
//!
//! Every item is a JSON `doc` (exactly what the embedded store keeps) beside its key
//! attributes; agent results are deflated and split into parts so that no agent
//! output the webhook accepts overflows DynamoDB's 400 KB item limit. Every read is a
//! key lookup or a query, strongly consistent on the table; no Scan anywhere.
//!
//! Writes that must happen once are conditional and every multi-item change is one
//! `TransactWriteItems`: `record_event` reads the workflow, its nine agents, the
//! event's de-duplication item and its marker shards in one `BatchGetItem`, applies
//! the domain rules, and commits everything in one transaction conditioned on what it
//! read. A lost race (another event of the same workflow committed first) re-reads
//! and retries with jittered backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, KeysAndAttributes, Put, TransactWriteItem, Update,
    WriteRequest,
};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::attr::{
    CONDITION_FAILED, Item, backoff, build_error, cancellation_codes, condition_held, key, number,
    query_limit, read_number, read_string, retry_or_fail, string, unavailable,
};
use super::schema::*;
use osa_app::codec::{catalogue_position, decode, encode, from_ms, marker_name, to_ms};
use osa_app::ports::{
    AdminAuditEntry, AgentResult, Attempt, AuditEntry, Clock, CreateOutcome, EventOutcome, Marker,
    StoreError, WorkflowStore,
};
use osa_domain::AgentId;
use osa_domain::event::AgentEvent;
use osa_domain::record;
use osa_domain::workflow::{AgentState, Workflow};

/// Bytes of deflated result per item: under the 400 KB item limit with room for the
/// keys and the other attributes.
const RESULT_PART_BYTES: usize = 350_000;
/// At most this many parts (2.8 MB deflated), so one event's transaction stays well
/// under the 4 MB transaction limit.
const MAX_RESULT_PARTS: usize = 8;
/// Inflating a result stops here: a stored result never gets near it.
const MAX_RESULT_INFLATED: usize = 64 * 1024 * 1024;
/// Keys per `BatchGetItem`, the service's limit.
const BATCH_GET_KEYS: usize = 100;
/// Rounds of `UnprocessedKeys` before giving up.
const BATCH_GET_ROUNDS: u32 = 8;
/// Anonymous audit entries spread over this many partitions per day.
const ANON_AUDIT_SHARDS: u32 = 16;

/// `WorkflowStore` over one DynamoDB table. Cheap to clone (the SDK client is a
/// handle on shared state).
#[derive(Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: Arc<str>,
    clock: Arc<dyn Clock>,
    pub(crate) settings: DynamoSettings,
    stripes: Arc<[tokio::sync::Mutex<()>]>,
    /// Also print what `record_event` counts as EMF lines (in Lambda).
    emf: bool,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .field("settings", &self.settings)
            .field("emf", &self.emf)
            .finish_non_exhaustive()
    }
}

/// What a conditional put requires of the item it replaces.
enum Condition {
    Always,
    /// There is none: a write that must happen once.
    New,
    /// Its `version` is still the one read.
    Version(i64),
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<Arc<str>>, clock: Arc<dyn Clock>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            clock,
            settings: DynamoSettings::default(),
            stripes: stripes(DynamoSettings::default().local_lock_stripes),
            emf: false,
        }
    }

    /// Also print what `record_event` counts as CloudWatch Embedded Metric
    /// Format lines, as the metrics store does in Lambda.
    pub fn with_emf(mut self, emf: bool) -> Self {
        self.emf = emf;
        self
    }

    pub fn with_settings(mut self, settings: DynamoSettings) -> Self {
        self.stripes = stripes(settings.local_lock_stripes);
        self.settings = DynamoSettings {
            marker_shards: settings.marker_shards.max(1),
            max_attempts: settings.max_attempts.max(1),
            metric_shards: settings.metric_shards.max(1),
            ..settings
        };
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    // ---- items -------------------------------------------------------------------

    fn expiry(&self, from: OffsetDateTime, retention: Duration) -> AttributeValue {
        expiry_secs(from.unix_timestamp(), retention)
    }

    fn workflow_item(&self, wf: &Workflow) -> Result<Item, StoreError> {
        let order = string(format!("{:015}#{}", to_ms(wf.created_at()).max(0), wf.id()));
        let mut item = key(wf_pk(wf.id()), META.into());
        item.insert(DOC.into(), string(encode(wf)?));
        item.insert(VERSION.into(), number(wf.version()));
        item.insert("status".into(), string(wf.status().as_str()));
        item.insert(
            RECENT_PK.into(),
            string(format!("RECENT#{}", day(wf.created_at()))),
        );
        item.insert(RECENT_SK.into(), order.clone());
        if !wf.status().is_terminal() {
            item.insert(RUNNING_PK.into(), string(RUNNING));
            item.insert(RUNNING_SK.into(), order);
        }
        item.insert(
            EXPIRES_AT.into(),
            self.expiry(wf.created_at(), self.settings.workflow_retention),
        );
        Ok(item)
    }

    fn agent_item(&self, wf: &Workflow, agent: &AgentState) -> Result<Item, StoreError> {
        let mut item = key(wf_pk(wf.id()), agent_sk(agent.agent));
        item.insert(DOC.into(), string(encode(agent)?));
        // Every applied event counts: the count is the agent's version.
        item.insert(VERSION.into(), number(agent.events));
        item.insert(
            EXPIRES_AT.into(),
            self.expiry(wf.created_at(), self.settings.workflow_retention),
        );
        Ok(item)
    }

    fn audit_item(&self, entry: &AuditEntry) -> Result<Item, StoreError> {
        let pk = match &entry.workflow_id {
            Some(id) => format!("AUDIT#{id}"),
            None => unattributed_audit_partitions(entry.received_at.date())
                .nth(rand::random_range(0..ANON_AUDIT_SHARDS) as usize)
                .unwrap_or_default(),
        };
        let received_ns = entry.received_at.unix_timestamp_nanos().max(0);
        let sk = format!("{received_ns:020}#{}", uuid::Uuid::new_v4().simple());
        let mut item = key(pk, sk);
        item.insert(DOC.into(), string(encode(entry)?));
        item.insert(
            EXPIRES_AT.into(),
            self.expiry(entry.received_at, self.settings.audit_retention),
        );
        Ok(item)
    }

    /// The parts of a result item, deflated.
    fn result_items(&self, wf: &Workflow, result: &AgentResult) -> Result<Vec<Item>, StoreError> {
        let json = encode(result)?;
        let deflated = miniz_oxide::deflate::compress_to_vec_zlib(json.as_bytes(), 6);
        let parts: Vec<&[u8]> = deflated.chunks(RESULT_PART_BYTES).collect();
        if parts.len() > MAX_RESULT_PARTS {
            return Err(StoreError::Unavailable(format!(
                "the {} result of workflow {} is {} bytes deflated; the store keeps at most {}",
                result.agent,
                wf.id(),
                deflated.len(),
                RESULT_PART_BYTES * MAX_RESULT_PARTS
            )));
        }
        let count = parts.len();
        parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                let mut item = key(wf_pk(wf.id()), result_sk(result.agent, i));
                item.insert("data".into(), AttributeValue::B(Blob::new(part)));
                item.insert("part".into(), number(i));
                item.insert("parts".into(), number(count));
                item.insert(
                    EXPIRES_AT.into(),
                    self.expiry(wf.created_at(), self.settings.workflow_retention),
                );
                Ok(item)
            })
            .collect()
    }

    fn marker_key(&self, marker: Marker, shard: u16) -> Item {
        key(
            format!("MARKER#{}#{shard:02}", marker_name(marker)),
            "MARKER".into(),
        )
    }

    fn marker_shard(&self, event_id: &str) -> u16 {
        // Stable, so a retried event lands on the same shard.
        (fnv1a(event_id) % u64::from(self.settings.marker_shards)) as u16
    }

    /// This process's lock for writes to `workflow_id`, if locks are on.
    async fn local_lock(&self, workflow_id: &str) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        let count = u64::try_from(self.stripes.len()).ok().filter(|n| *n > 0)?;
        let index = usize::try_from(fnv1a(workflow_id) % count).ok()?;
        Some(self.stripes.get(index)?.lock().await)
    }

    /// Raises one marker shard to `at_ms` unless it is already there or beyond.
    fn raise_marker(&self, marker: Marker, shard: u16, at_ms: i64) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(self.table.as_ref())
            .set_key(Some(self.marker_key(marker, shard)))
            .update_expression("SET #at = :t, #exp = :e")
            .condition_expression("attribute_not_exists(#at) OR #at < :t")
            .expression_attribute_names("#at", "at")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":t", number(at_ms))
            .expression_attribute_values(
                ":e",
                expiry_secs(at_ms.div_euclid(1000), self.settings.audit_retention),
            )
            .build()
            .map_err(build_error)
    }

    fn put(&self, item: Item, condition: Condition) -> Result<Put, StoreError> {
        let put = Put::builder()
            .table_name(self.table.as_ref())
            .set_item(Some(item));
        let put = match condition {
            Condition::Always => put,
            Condition::New => put.condition_expression("attribute_not_exists(pk)"),
            Condition::Version(v) => put
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_values(":v", number(v)),
        };
        put.build().map_err(build_error)
    }

    /// A workflow's item (on `condition`) and its agents' items, for one
    /// transaction.
    fn workflow_with_agents(
        &self,
        workflow: &Workflow,
        agents: &[AgentState],
        condition: Condition,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = vec![
            TransactWriteItem::builder()
                .put(self.put(self.workflow_item(workflow)?, condition)?)
                .build(),
        ];
        for agent in agents {
            items.push(
                TransactWriteItem::builder()
                    .put(self.put(self.agent_item(workflow, agent)?, Condition::Always)?)
                    .build(),
            );
        }
        Ok(items)
    }

    /// Sends one transaction: `Ok(None)` when it committed, `Ok(Some(codes))`
    /// when it was cancelled (each item's reason, in order), an error for any
    /// other failure. A fresh client token makes the SDK's own retry of this
    /// very request (say, after a timeout that hid a commit) idempotent: it
    /// succeeds instead of failing on its own conditions.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(None),
            Err(e) => cancellation_codes(&e)
                .map(Some)
                .ok_or_else(|| unavailable("TransactWriteItems", &e)),
        }
    }

    /// A transaction's delete of the item at `key` (there or not).
    fn delete(&self, key: Item) -> Result<Delete, StoreError> {
        Delete::builder()
            .table_name(self.table.as_ref())
            .set_key(Some(key))
            .build()
            .map_err(build_error)
    }

    // ---- reads -------------------------------------------------------------------

    async fn get_item(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", &e))?;
        Ok(out.item)
    }

    /// Strongly consistent `BatchGetItem` of any number of keys; the items found, in
    /// no particular order.
    pub(crate) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_KEYS) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(build_error)?,
            );
            let mut round = 0;
            while let Some(request) = pending.take() {
                if round > 0 {
                    backoff(round).await;
                }
                if round >= BATCH_GET_ROUNDS {
                    return Err(StoreError::Unavailable(format!(
                        "BatchGetItem: keys still unprocessed after {BATCH_GET_ROUNDS} rounds"
                    )));
                }
                round += 1;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(self.table.as_ref(), request)
                    .send()
                    .await
                    .map_err(|e| unavailable("BatchGetItem", &e))?;
                let mut out_responses = out.responses.unwrap_or_default();
                if let Some(items) = out_responses.remove(self.table.as_ref()) {
                    found.extend(items);
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(self.table.as_ref()))
                    .filter(|k| !k.keys().is_empty());
            }
        }
        Ok(found)
    }

    /// Every item of a partition whose sort key starts with `prefix`, in key order
    /// (`forward`) or reversed, at most `limit`.
    async fn query(
        &self,
        pk: &str,
        prefix: &str,
        forward: bool,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_from(pk, prefix, forward, None, limit).await
    }

    /// [`Self::query`] resuming after the sort key `after` (in the query's direction).
    async fn query_from(
        &self,
        pk: &str,
        prefix: &str,
        forward: bool,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = after.map(|sk| key(pk.to_owned(), sk.to_owned()));
        loop {
            let remaining = limit.saturating_sub(items.len());
            if remaining == 0 {
                break;
            }
            let mut request = self
                .client
                .query()
                .table_name(self.table.as_ref())
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", string(pk));
            // DynamoDB refuses an empty string even in `begins_with`.
            request = if prefix.is_empty() {
                request.key_condition_expression("#pk = :pk")
            } else {
                request
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":prefix", string(prefix))
            };
            let out = request
                .scan_index_forward(forward)
                .consistent_read(true)
                .limit(query_limit(remaining))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("Query", &e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        items.truncate(limit);
        Ok(items)
    }

    /// The table keys (`pk`, `sk`) of up to `limit` entries of one index partition.
    pub(crate) async fn query_index(
        &self,
        index: &str,
        index_pk: &str,
        value: &str,
        forward: bool,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_index_range(index, index_pk, value, None, forward, limit)
            .await
    }

    /// [`Self::query_index`] within a range of the index's sort key
    /// (`(attribute, from, to)`, both included) when one is given.
    pub(crate) async fn query_index_range(
        &self,
        index: &str,
        index_pk: &str,
        value: &str,
        sk_between: Option<(&str, String, String)>,
        forward: bool,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut keys = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let remaining = limit.saturating_sub(keys.len());
            if remaining == 0 {
                break;
            }
            let mut query = self
                .client
                .query()
                .table_name(self.table.as_ref())
                .index_name(index)
                .expression_attribute_names("#ipk", index_pk)
                .expression_attribute_values(":v", string(value))
                .scan_index_forward(forward)
                .limit(query_limit(remaining))
                .set_exclusive_start_key(start.take());
            query = match &sk_between {
                None => query.key_condition_expression("#ipk = :v"),
                Some((sk, from, to)) => query
                    .key_condition_expression("#ipk = :v AND #isk BETWEEN :from AND :to")
                    .expression_attribute_names("#isk", *sk)
                    .expression_attribute_values(":from", string(from.clone()))
                    .expression_attribute_values(":to", string(to.clone())),
            };
            let out = query.send().await.map_err(|e| unavailable("Query", &e))?;
            for item in out.items.unwrap_or_default() {
                keys.push(key(
                    read_string(&item, PK)?.to_owned(),
                    read_string(&item, SK)?.to_owned(),
                ));
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        keys.truncate(limit);
        Ok(keys)
    }

    /// The workflows under `keys`, in the order of `keys`; missing ones are skipped
    /// (an index can lag the table, and TTL may have removed an item).
    async fn workflows_by_key(&self, keys: Vec<Item>) -> Result<Vec<Workflow>, StoreError> {
        let order: Vec<String> = keys
            .iter()
            .map(|k| read_string(k, PK).map(str::to_owned))
            .collect::<Result<_, _>>()?;
        let mut by_pk: HashMap<String, Workflow> = HashMap::new();
        for item in self.batch_get(keys).await? {
            by_pk.insert(read_string(&item, PK)?.to_owned(), doc(&item, "workflow")?);
        }
        Ok(order.iter().filter_map(|pk| by_pk.remove(pk)).collect())
    }

    /// Puts `item` if the stored item's `version` is still `version`: `false`,
    /// saving nothing, when someone else saved first.
    async fn put_if_version(&self, item: Item, version: i64) -> Result<bool, StoreError> {
        let sent = self
            .client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(item))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":v", number(version))
            .send()
            .await;
        condition_held("PutItem", sent)
    }

    async fn put_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(self.audit_item(entry)?))
            .send()
            .await
            .map_err(|e| unavailable("PutItem", &e))?;
        Ok(())
    }
}

mod activity;
mod deliveries;
mod metric_items;
mod metrics;
mod once;
pub mod outbox;
mod record_event;
mod settings;
mod workflows;

pub use metric_items::DEFAULT_SHARDS;
pub use metrics::DynamoMetrics;
pub use settings::DynamoSettings;

// ---- helpers -----------------------------------------------------------------------

/// `expires_at` for an item dated `from_secs` kept for `retention`.
fn expiry_secs(from_secs: i64, retention: Duration) -> AttributeValue {
    let keep = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    number(from_secs.saturating_add(keep))
}

fn stripes(count: u16) -> Arc<[tokio::sync::Mutex<()>]> {
    (0..count).map(|_| tokio::sync::Mutex::new(())).collect()
}

/// FNV-1a, 64 bits: a stable hash for spreading keys.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The item's `doc`, decoded.
fn doc<T: DeserializeOwned>(item: &Item, what: &str) -> Result<T, StoreError> {
    decode(what, read_string(item, DOC)?)
}

/// `YYYY-MM-DD`, UTC.
/// The partitions that hold a day's audit entries naming no workflow.
fn unattributed_audit_partitions(day: time::Date) -> impl Iterator<Item = String> {
    let day = self::day(day.midnight().assume_utc());
    (0..ANON_AUDIT_SHARDS).map(move |shard| format!("AUDIT-ANON#{day}#{shard:02}"))
}

fn day(t: OffsetDateTime) -> String {
    format_date(t.to_offset(time::UtcOffset::UTC).date())
}

fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}
