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
    AttributeValue, DeleteRequest, KeysAndAttributes, Put, TransactWriteItem, Update, WriteRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::adapters::aws::describe;
use crate::domain::AgentId;
use crate::domain::event::AgentEvent;
use crate::domain::record;
use crate::domain::workflow::{AgentState, Workflow};
use crate::ports::{
    AdminAuditEntry, AgentResult, Attempt, AuditEntry, Clock, CreateOutcome, EventOutcome, Marker,
    StoreError, WorkflowStore,
};

/// The index of all workflows by creation day, newest first.
pub const RECENT_INDEX: &str = "recent";
pub const RECENT_PK: &str = "recent_pk";
pub const RECENT_SK: &str = "recent_sk";
/// The sparse index of workflows not yet finished (the attributes exist only while
/// the workflow is pending or running).
pub const RUNNING_INDEX: &str = "running";
pub const RUNNING_PK: &str = "running_pk";
pub const RUNNING_SK: &str = "running_sk";
/// The TTL attribute, in epoch seconds, on every item.
pub const EXPIRES_AT: &str = "expires_at";

const PK: &str = "pk";
const SK: &str = "sk";
const DOC: &str = "doc";
const VERSION: &str = "version";
const META: &str = "META";
const RUNNING: &str = "RUNNING";

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

/// Tunables, with the defaults the design names.
#[derive(Debug, Clone, Copy)]
pub struct DynamoSettings {
    /// Workflow items (the workflow, agents, results, seen events) expire this long
    /// after the workflow was created.
    pub workflow_retention: Duration,
    /// Audit entries expire this long after they were received.
    pub audit_retention: Duration,
    /// Items each marker is spread over (write sharding); a read takes the maximum.
    pub marker_shards: u16,
    /// Creation days `recent_workflows` walks back at most, starting tomorrow (UTC).
    pub recent_days: u16,
    /// Attempts of one `record_event` or `update_workflow` that keeps losing races.
    pub max_attempts: u32,
    /// Writes to one workflow from this process queue behind one of this many
    /// locks (by workflow id) instead of racing each other through DynamoDB, where
    /// every lost race is a cancelled transaction (billed, and retried). Writers in
    /// other processes still race, and the conditions settle it. Zero: no locks.
    pub local_lock_stripes: u16,
}

impl Default for DynamoSettings {
    fn default() -> Self {
        DynamoSettings {
            workflow_retention: Duration::from_secs(90 * 24 * 3600),
            audit_retention: Duration::from_secs(400 * 24 * 3600),
            marker_shards: 64,
            recent_days: 31,
            max_attempts: 32,
            local_lock_stripes: 64,
        }
    }
}

/// `WorkflowStore` over one DynamoDB table. Cheap to clone (the SDK client is a
/// handle on shared state).
#[derive(Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: Arc<str>,
    clock: Arc<dyn Clock>,
    pub(crate) settings: DynamoSettings,
    stripes: Arc<[tokio::sync::Mutex<()>]>,
}

impl std::fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

type Item = HashMap<String, AttributeValue>;

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
        }
    }

    pub fn with_settings(mut self, settings: DynamoSettings) -> Self {
        self.stripes = stripes(settings.local_lock_stripes);
        self.settings = DynamoSettings {
            marker_shards: settings.marker_shards.max(1),
            max_attempts: settings.max_attempts.max(1),
            ..settings
        };
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Workflows not yet finished, oldest first, from the sparse `running` index.
    pub async fn running_workflows(&self, limit: usize) -> Result<Vec<Workflow>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let keys = self
            .query_index(RUNNING_INDEX, RUNNING_PK, RUNNING, true, limit)
            .await?;
        self.workflows_by_key(keys).await
    }

    // ---- items -------------------------------------------------------------------

    fn expiry(&self, from: OffsetDateTime, retention: Duration) -> AttributeValue {
        expiry_secs(from.unix_timestamp(), retention)
    }

    fn workflow_item(&self, wf: &Workflow) -> Result<Item, StoreError> {
        let order = s(format!("{:015}#{}", to_ms(wf.created_at).max(0), wf.id));
        let mut item = key(wf_pk(&wf.id), META.into());
        item.insert(DOC.into(), s(encode(wf)?));
        item.insert(VERSION.into(), n(wf.version));
        item.insert("status".into(), s(wf.status.as_str()));
        item.insert(
            RECENT_PK.into(),
            s(format!("RECENT#{}", day(wf.created_at))),
        );
        item.insert(RECENT_SK.into(), order.clone());
        if !wf.status.is_terminal() {
            item.insert(RUNNING_PK.into(), s(RUNNING));
            item.insert(RUNNING_SK.into(), order);
        }
        item.insert(
            EXPIRES_AT.into(),
            self.expiry(wf.created_at, self.settings.workflow_retention),
        );
        Ok(item)
    }

    fn agent_item(&self, wf: &Workflow, agent: &AgentState) -> Result<Item, StoreError> {
        let mut item = key(wf_pk(&wf.id), agent_sk(agent.agent));
        item.insert(DOC.into(), s(encode(agent)?));
        // Every applied event counts: the count is the agent's version.
        item.insert(VERSION.into(), n(agent.events));
        item.insert(
            EXPIRES_AT.into(),
            self.expiry(wf.created_at, self.settings.workflow_retention),
        );
        Ok(item)
    }

    fn audit_item(&self, entry: &AuditEntry) -> Result<Item, StoreError> {
        let pk = match &entry.workflow_id {
            Some(id) => format!("AUDIT#{id}"),
            None => format!(
                "AUDIT-ANON#{}#{:02}",
                day(entry.received_at),
                rand::random_range(0..ANON_AUDIT_SHARDS)
            ),
        };
        let received_ns = entry.received_at.unix_timestamp_nanos().max(0);
        let sk = format!("{received_ns:020}#{}", uuid::Uuid::new_v4().simple());
        let mut item = key(pk, sk);
        item.insert(DOC.into(), s(encode(entry)?));
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
                wf.id,
                deflated.len(),
                RESULT_PART_BYTES * MAX_RESULT_PARTS
            )));
        }
        let count = parts.len();
        parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                let mut item = key(wf_pk(&wf.id), result_sk(result.agent, i));
                item.insert("data".into(), AttributeValue::B(Blob::new(part)));
                item.insert("part".into(), n(i));
                item.insert("parts".into(), n(count));
                item.insert(
                    EXPIRES_AT.into(),
                    self.expiry(wf.created_at, self.settings.workflow_retention),
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
            .expression_attribute_values(":t", n(at_ms))
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
                .expression_attribute_values(":v", n(v)),
        };
        put.build().map_err(build_error)
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
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
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
                .expression_attribute_values(":pk", s(pk));
            // DynamoDB refuses an empty string even in `begins_with`.
            request = if prefix.is_empty() {
                request.key_condition_expression("#pk = :pk")
            } else {
                request
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":prefix", s(prefix))
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
        let mut keys = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let remaining = limit.saturating_sub(keys.len());
            if remaining == 0 {
                break;
            }
            let out = self
                .client
                .query()
                .table_name(self.table.as_ref())
                .index_name(index)
                .key_condition_expression("#ipk = :v")
                .expression_attribute_names("#ipk", index_pk)
                .expression_attribute_values(":v", s(value))
                .scan_index_forward(forward)
                .limit(query_limit(remaining))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("Query", &e))?;
            for item in out.items.unwrap_or_default() {
                keys.push(key(
                    attr_s(&item, PK)?.to_owned(),
                    attr_s(&item, SK)?.to_owned(),
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
            .map(|k| attr_s(k, PK).map(str::to_owned))
            .collect::<Result<_, _>>()?;
        let mut by_pk: HashMap<String, Workflow> = HashMap::new();
        for item in self.batch_get(keys).await? {
            by_pk.insert(attr_s(&item, PK)?.to_owned(), doc(&item, "workflow")?);
        }
        Ok(order.iter().filter_map(|pk| by_pk.remove(pk)).collect())
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

    /// One attempt of `record_event`: `None` when it lost a race and must be retried.
    async fn try_record(
        &self,
        event: &AgentEvent,
        attempt: &Attempt,
        shard: u16,
    ) -> Result<Option<EventOutcome>, StoreError> {
        let now = attempt.received_at;
        let now_ms = to_ms(now);
        let pk = wf_pk(&event.workflow_id);
        let event_key = key(pk.clone(), event_sk(&event.event_id));
        let mut keys = vec![
            key(pk.clone(), META.into()),
            event_key.clone(),
            self.marker_key(Marker::LastWebhook, shard),
            self.marker_key(Marker::LastAgentData, shard),
        ];
        keys.extend(AgentId::ALL.iter().map(|a| key(pk.clone(), agent_sk(*a))));
        let mut items: HashMap<(String, String), Item> = HashMap::new();
        for item in self.batch_get(keys).await? {
            let k = (attr_s(&item, PK)?.to_owned(), attr_s(&item, SK)?.to_owned());
            items.insert(k, item);
        }
        let get = |k: &Item| -> Option<&Item> {
            let pk = attr_s(k, PK).ok()?;
            let sk = attr_s(k, SK).ok()?;
            items.get(&(pk.to_owned(), sk.to_owned()))
        };

        let Some(meta) = items.get(&(pk.clone(), META.to_owned())) else {
            let (outcome, audit) = record::unknown_workflow(event, attempt);
            self.put_audit(&audit).await?;
            return Ok(Some(outcome));
        };
        if get(&event_key).is_some() {
            let (outcome, audit) = record::duplicate(event, attempt);
            self.put_audit(&audit).await?;
            return Ok(Some(outcome));
        }

        let mut workflow: Workflow = doc(meta, "workflow")?;
        let workflow_version: i64 = attr_n(meta, VERSION)?;
        let mut agents = Vec::with_capacity(AgentId::ALL.len());
        let mut agent_version = None;
        for agent in AgentId::ALL {
            if let Some(item) = items.get(&(pk.clone(), agent_sk(agent))) {
                if agent == event.agent {
                    agent_version = Some(attr_n::<i64>(item, VERSION)?);
                }
                agents.push(doc::<AgentState>(item, "agent")?);
            }
        }
        let recording = record::apply(event, attempt, &mut workflow, &mut agents)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let agent_version = agent_version.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "agent {} of {} has no version",
                event.agent, event.workflow_id
            ))
        })?;
        let result = if recording.keep_result {
            AgentResult::of(event, now)
        } else {
            None
        };
        workflow.version = workflow.version.saturating_add(1);

        // The de-duplication item comes first: its cancellation reason is index 0.
        let mut seen = event_key;
        seen.insert("agent".into(), s(event.agent.as_str()));
        seen.insert("received_ms".into(), n(now_ms));
        seen.insert(
            EXPIRES_AT.into(),
            self.expiry(workflow.created_at, self.settings.workflow_retention),
        );
        let mut writes = vec![
            self.put(seen, Condition::New)?,
            self.put(
                self.agent_item(&workflow, &agents[recording.agent])?,
                Condition::Version(agent_version),
            )?,
            self.put(
                self.workflow_item(&workflow)?,
                Condition::Version(workflow_version),
            )?,
            self.put(self.audit_item(&recording.audit)?, Condition::Always)?,
        ];
        if let Some(result) = &result {
            for part in self.result_items(&workflow, result)? {
                writes.push(self.put(part, Condition::Always)?);
            }
        }
        let mut transact: Vec<TransactWriteItem> = writes
            .into_iter()
            .map(|p| TransactWriteItem::builder().put(p).build())
            .collect();
        for &marker in &recording.markers {
            let stored = get(&self.marker_key(marker, shard))
                .map(|item| attr_n::<i64>(item, "at"))
                .transpose()?;
            if stored.is_none_or(|at| at < now_ms) {
                let update = self.raise_marker(marker, shard, now_ms)?;
                transact.push(TransactWriteItem::builder().update(update).build());
            }
        }

        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(transact))
            // Makes the SDK's own retry of this very request (say, after a timeout
            // that hid a commit) idempotent: it succeeds instead of failing on its
            // own de-duplication item.
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Some(recording.outcome)),
            Err(e) => match cancellation_codes(&e) {
                Some(codes) if codes.first().map(String::as_str) == Some(CONDITION_FAILED) => {
                    let (outcome, audit) = record::duplicate(event, attempt);
                    self.put_audit(&audit).await?;
                    Ok(Some(outcome))
                }
                // A version or marker condition, or a conflicting transaction.
                Some(codes) => retry_or_fail(&codes).map(|()| None),
                None => Err(unavailable("TransactWriteItems", &e)),
            },
        }
    }
}

// ---- WorkflowStore ---------------------------------------------------------------

#[async_trait]
impl WorkflowStore for DynamoStore {
    async fn create_workflow(
        &self,
        workflow: &Workflow,
        agents: &[AgentState],
    ) -> Result<CreateOutcome, StoreError> {
        let mut transact = vec![
            TransactWriteItem::builder()
                .put(self.put(self.workflow_item(workflow)?, Condition::New)?)
                .build(),
        ];
        for agent in agents {
            transact.push(
                TransactWriteItem::builder()
                    .put(self.put(self.agent_item(workflow, agent)?, Condition::Always)?)
                    .build(),
            );
        }
        for attempt in 0..self.settings.max_attempts {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(transact.clone()))
                .client_request_token(uuid::Uuid::new_v4().to_string())
                .send()
                .await;
            let codes = match sent {
                Ok(_) => return Ok(CreateOutcome::Created),
                Err(e) => {
                    cancellation_codes(&e).ok_or_else(|| unavailable("TransactWriteItems", &e))?
                }
            };
            if codes.first().map(String::as_str) == Some(CONDITION_FAILED) {
                if let Some(existing) = self.get_workflow(&workflow.id).await? {
                    return Ok(CreateOutcome::Existing(Box::new(existing)));
                }
            } else {
                retry_or_fail(&codes)?;
            }
        }
        Err(StoreError::Unavailable(format!(
            "creating workflow {} kept conflicting; gave up after {} attempts",
            workflow.id, self.settings.max_attempts
        )))
    }

    async fn get_workflow(&self, id: &str) -> Result<Option<Workflow>, StoreError> {
        self.get_item(wf_pk(id), META.into())
            .await?
            .map(|item| doc(&item, "workflow"))
            .transpose()
    }

    async fn get_agents(&self, workflow_id: &str) -> Result<Vec<AgentState>, StoreError> {
        let items = self
            .query(&wf_pk(workflow_id), "AGENT#", true, usize::MAX)
            .await?;
        let mut agents = items
            .iter()
            .map(|item| doc::<AgentState>(item, "agent"))
            .collect::<Result<Vec<_>, _>>()?;
        agents.sort_by_key(|a| catalogue_position(a.agent));
        Ok(agents)
    }

    async fn get_results(&self, workflow_id: &str) -> Result<Vec<AgentResult>, StoreError> {
        let items = self
            .query(&wf_pk(workflow_id), "RESULT#", true, usize::MAX)
            .await?;
        // Parts sort after one another (`RESULT#<agent>#<part>`): gather per agent,
        // checking that each result has every part, in order.
        struct Parts {
            agent: String,
            expected: usize,
            seen: usize,
            deflated: Vec<u8>,
        }
        let mut parts: Vec<Parts> = Vec::new();
        for item in &items {
            let sk = attr_s(item, SK)?;
            let agent = sk.rsplit_once('#').map_or(sk, |(a, _)| a);
            let part: usize = attr_n(item, "part")?;
            let expected: usize = attr_n(item, "parts")?;
            let Some(AttributeValue::B(data)) = item.get("data") else {
                return Err(StoreError::Corrupt(format!("{sk}: no data")));
            };
            let current = match parts.last_mut() {
                Some(p) if p.agent == agent => p,
                _ => {
                    parts.push(Parts {
                        agent: agent.to_owned(),
                        expected,
                        seen: 0,
                        deflated: Vec::new(),
                    });
                    parts
                        .last_mut()
                        .ok_or_else(|| StoreError::Corrupt(sk.to_owned()))?
                }
            };
            if part != current.seen || expected != current.expected {
                return Err(StoreError::Corrupt(format!(
                    "{sk}: part {part} of {expected}, expected part {} of {}",
                    current.seen, current.expected
                )));
            }
            current.deflated.extend_from_slice(data.as_ref());
            current.seen += 1;
        }
        if let Some(p) = parts.iter().find(|p| p.seen != p.expected) {
            return Err(StoreError::Corrupt(format!(
                "{}: {} of {} parts",
                p.agent, p.seen, p.expected
            )));
        }
        let mut results = Vec::with_capacity(parts.len());
        for Parts {
            agent, deflated, ..
        } in parts
        {
            let json = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(
                &deflated,
                MAX_RESULT_INFLATED,
            )
            .map_err(|e| StoreError::Corrupt(format!("{agent}: inflating: {e:?}")))?;
            let result: AgentResult = serde_json::from_slice(&json)
                .map_err(|e| StoreError::Corrupt(format!("{agent}: {e}")))?;
            results.push(result);
        }
        results.sort_by_key(|r| catalogue_position(r.agent));
        Ok(results)
    }

    async fn record_event(
        &self,
        event: &AgentEvent,
        attempt: &Attempt,
    ) -> Result<EventOutcome, StoreError> {
        let shard = self.marker_shard(&event.event_id);
        let _local = self.local_lock(&event.workflow_id).await;
        for round in 0..self.settings.max_attempts {
            if round > 0 {
                backoff(round).await;
            }
            if let Some(outcome) = self.try_record(event, attempt, shard).await? {
                return Ok(outcome);
            }
        }
        Err(StoreError::Unavailable(format!(
            "workflow {} kept changing; gave up recording event {} after {} attempts",
            event.workflow_id, event.event_id, self.settings.max_attempts
        )))
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.put_audit(entry).await
    }

    async fn audit_for_workflow(
        &self,
        workflow_id: &str,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let items = self
            .query(&format!("AUDIT#{workflow_id}"), "", true, limit)
            .await?;
        items.iter().map(|item| doc(item, "audit entry")).collect()
    }

    async fn update_workflow(
        &self,
        id: &str,
        change: &(dyn for<'w> Fn(&'w mut Workflow) -> bool + Send + Sync),
    ) -> Result<Option<Workflow>, StoreError> {
        let _local = self.local_lock(id).await;
        for attempt in 0..self.settings.max_attempts {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let Some(item) = self.get_item(wf_pk(id), META.into()).await? else {
                return Ok(None);
            };
            let current: Workflow = doc(&item, "workflow")?;
            let stored_version: i64 = attr_n(&item, VERSION)?;
            let mut next = current.clone();
            if !change(&mut next) {
                return Ok(Some(current));
            }
            next.version = current.version.saturating_add(1);
            let sent = self
                .client
                .put_item()
                .table_name(self.table.as_ref())
                .set_item(Some(self.workflow_item(&next)?))
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_values(":v", n(stored_version))
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(Some(next)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable("PutItem", &e)),
            }
        }
        Err(StoreError::Unavailable(format!(
            "workflow {id} kept changing; gave up updating it after {} attempts",
            self.settings.max_attempts
        )))
    }

    async fn recent_workflows(&self, limit: usize) -> Result<Vec<Workflow>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Tomorrow first: a creation clock a little ahead of this one is no surprise.
        let mut date = (self.clock.now() + time::Duration::days(1))
            .to_offset(time::UtcOffset::UTC)
            .date();
        let mut keys = Vec::new();
        for _ in 0..self.settings.recent_days {
            let partition = format!("RECENT#{}", format_date(date));
            let found = self
                .query_index(
                    RECENT_INDEX,
                    RECENT_PK,
                    &partition,
                    false,
                    limit - keys.len(),
                )
                .await?;
            keys.extend(found);
            if keys.len() >= limit {
                break;
            }
            let Some(previous) = date.previous_day() else {
                break;
            };
            date = previous;
        }
        self.workflows_by_key(keys).await
    }

    async fn marker(&self, marker: Marker) -> Result<Option<OffsetDateTime>, StoreError> {
        let keys = (0..self.settings.marker_shards)
            .map(|shard| self.marker_key(marker, shard))
            .collect();
        let mut newest: Option<i64> = None;
        for item in self.batch_get(keys).await? {
            let at: i64 = attr_n(&item, "at")?;
            newest = Some(newest.map_or(at, |n| n.max(at)));
        }
        newest.map(from_ms).transpose()
    }

    async fn set_marker(&self, marker: Marker, at: OffsetDateTime) -> Result<(), StoreError> {
        let shard = rand::random_range(0..self.settings.marker_shards);
        let update = self.raise_marker(marker, shard, to_ms(at))?;
        let sent = self
            .client
            .update_item()
            .table_name(self.table.as_ref())
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            // Already at or past `at`: markers only move forward.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable("UpdateItem", &e)),
        }
    }

    async fn erase_workflow(&self, id: &str) -> Result<Option<u64>, StoreError> {
        let _local = self.local_lock(id).await;
        // Every item of a workflow shares its partition: one Query finds them all.
        let items = self.query(&wf_pk(id), "", true, usize::MAX).await?;
        if items.is_empty() {
            return Ok(None);
        }
        let keys: Vec<Item> = items
            .iter()
            .map(|item| {
                Ok(key(
                    attr_s(item, PK)?.to_owned(),
                    attr_s(item, SK)?.to_owned(),
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        for chunk in keys.chunks(25) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(|e| StoreError::Unavailable(format!("a delete request: {e}")))
                })
                .collect::<Result<_, _>>()?;
            for attempt in 0..self.settings.max_attempts {
                if pending.is_empty() {
                    break;
                }
                if attempt > 0 {
                    backoff(attempt).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(self.table.as_ref(), pending.clone())
                    .send()
                    .await
                    .map_err(|e| unavailable("BatchWriteItem", &e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(self.table.as_ref()))
                    .unwrap_or_default();
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable(format!(
                    "erasing workflow {id}: {} deletes left unprocessed",
                    pending.len()
                )));
            }
        }
        Ok(Some(keys.len() as u64))
    }

    async fn append_admin_audit(&self, entry: &AdminAuditEntry) -> Result<(), StoreError> {
        let sk = format!(
            "{:020}#{}",
            entry.at.unix_timestamp_nanos().max(0),
            uuid::Uuid::new_v4().simple()
        );
        let mut item = key(ADMIN_AUDIT.into(), sk);
        item.insert(DOC.into(), s(encode(entry)?));
        item.insert(
            EXPIRES_AT.into(),
            self.expiry(entry.at, self.settings.audit_retention),
        );
        self.client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await
            .map_err(|e| unavailable("PutItem", &e))?;
        Ok(())
    }

    async fn take_shared_rate_token(
        &self,
        client: &str,
        window_start: i64,
        limit: u32,
    ) -> Result<bool, StoreError> {
        self.take_rate_token(client, window_start, limit).await
    }

    async fn admin_audit(&self, limit: usize) -> Result<Vec<AdminAuditEntry>, StoreError> {
        let items = self.query(ADMIN_AUDIT, "", false, limit).await?;
        items
            .iter()
            .map(|item| doc(item, "admin audit entry"))
            .collect()
    }
}

impl DynamoStore {
    /// The shared rate limit: one counter item per client and minute (`ADD`, so
    /// one write a request and no read), refused by its condition at the limit.
    /// Each client has its own partition, so no key runs hot; the item expires
    /// by TTL after its minute.
    pub(crate) async fn take_rate_token(
        &self,
        client: &str,
        window_start: i64,
        limit: u32,
    ) -> Result<bool, StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(self.table.as_ref())
            .key(PK, s(format!("RATE#{client}")))
            .key(SK, s(window_start.to_string()))
            .update_expression("ADD #hits :one SET #exp = :exp")
            .condition_expression("attribute_not_exists(#hits) OR #hits < :limit")
            .expression_attribute_names("#hits", "hits")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":exp", n(window_start.saturating_add(180)))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable("UpdateItem", &e)),
        }
    }
}

/// The partition of the admin audit trail (admin actions are rare: one
/// partition is plenty).
const ADMIN_AUDIT: &str = "ADMIN_AUDIT";

// ---- helpers -----------------------------------------------------------------------

const CONDITION_FAILED: &str = "ConditionalCheckFailed";

/// Lost races (a condition on what was read, another transaction on the same
/// item, throttling) are retried; anything else (a request DynamoDB refuses) is not.
fn retry_or_fail(codes: &[String]) -> Result<(), StoreError> {
    const RETRYABLE: [&str; 5] = [
        "None",
        CONDITION_FAILED,
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    ];
    match codes.iter().find(|c| !RETRYABLE.contains(&c.as_str())) {
        None => Ok(()),
        Some(code) => Err(StoreError::Unavailable(format!(
            "dynamodb TransactWriteItems cancelled: {code}"
        ))),
    }
}

/// `expires_at` for an item dated `from_secs` kept for `retention`.
fn expiry_secs(from_secs: i64, retention: Duration) -> AttributeValue {
    let keep = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    n(from_secs.saturating_add(keep))
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

/// The per-item cancellation codes of a cancelled transaction (`None` for any other
/// failure). Items that did not fail carry `"None"`.
fn cancellation_codes<R>(
    e: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
) -> Option<Vec<String>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    match e.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(c) => Some(
            c.cancellation_reasons()
                .iter()
                .map(|r| r.code().unwrap_or("None").to_owned())
                .collect(),
        ),
        // Items another transaction held carry `TransactionConflict`: retried like a
        // lost race. Throttling is retried by the SDK itself.
        _ => None,
    }
}

/// Sleeps a random while, growing with `attempt` ("full jitter": uniform up to
/// 10 ms doubled per attempt, capped at 640 ms).
async fn backoff(attempt: u32) {
    let cap_ms = 10u64 << attempt.min(6);
    tokio::time::sleep(Duration::from_millis(rand::random_range(1..=cap_ms))).await;
}

fn unavailable<E, R>(operation: &str, e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(format!("dynamodb {}", describe(operation, e)))
}

fn build_error(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(format!("building a DynamoDB request: {e}"))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn attr_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(StoreError::Corrupt(format!("item without string {name}"))),
    }
}

fn attr_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("{name} is not a number: {v}"))),
        _ => Err(StoreError::Corrupt(format!("item without number {name}"))),
    }
}

fn doc<T: DeserializeOwned>(item: &Item, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(attr_s(item, DOC)?)
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("encoding: {e}")))
}

fn wf_pk(id: &str) -> String {
    format!("WF#{id}")
}

fn agent_sk(agent: AgentId) -> String {
    format!("AGENT#{}", agent.as_str())
}

fn result_sk(agent: AgentId, part: usize) -> String {
    format!("RESULT#{}#{part:02}", agent.as_str())
}

fn event_sk(event_id: &str) -> String {
    format!("EVENT#{event_id}")
}

fn query_limit(remaining: usize) -> i32 {
    i32::try_from(remaining.min(1000)).unwrap_or(1000)
}

fn to_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
}

/// `YYYY-MM-DD`, UTC.
fn day(t: OffsetDateTime) -> String {
    format_date(t.to_offset(time::UtcOffset::UTC).date())
}

fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn marker_name(marker: Marker) -> &'static str {
    match marker {
        Marker::LastWebhook => "last_webhook",
        Marker::LastAgentData => "last_agent_data",
        Marker::LastForceSync => "last_force_sync",
    }
}

fn catalogue_position(agent: AgentId) -> usize {
    AgentId::ALL
        .iter()
        .position(|a| *a == agent)
        .unwrap_or(usize::MAX)
}
