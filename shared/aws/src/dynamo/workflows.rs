//! The workflow store over DynamoDB.

use super::*;
use osa_app::ports::{
    AuditLog, LISTING_READ_BUDGET, Page, PagePosition, RateLimitLeases, WorkflowPage,
    WorkflowPosition, WorkflowQuery,
};
use osa_domain::metrics::EventMetrics;
use osa_domain::run::NewRun;

// ---- WorkflowStore ---------------------------------------------------------------

#[async_trait]
impl WorkflowStore for DynamoStore {
    async fn create_workflow(
        &self,
        workflow: &Workflow,
        agents: &[AgentState],
    ) -> Result<CreateOutcome, StoreError> {
        let mut transact = self.workflow_with_agents(workflow, agents, Condition::New)?;
        transact.extend(self.outbox_puts_of(workflow, workflow.raised().to_vec())?);
        for attempt in 0..self.settings.max_attempts {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let Some(codes) = self.transact(transact.clone()).await? else {
                return Ok(CreateOutcome::Created);
            };
            if codes.first().map(String::as_str) == Some(CONDITION_FAILED) {
                if let Some(existing) = self.get_workflow(workflow.id()).await? {
                    return Ok(CreateOutcome::Existing(Box::new(existing)));
                }
            } else {
                retry_or_fail(&codes)?;
            }
        }
        Err(StoreError::Unavailable(format!(
            "creating workflow {} kept conflicting; gave up after {} attempts",
            workflow.id(),
            self.settings.max_attempts
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
            let sk = read_string(item, SK)?;
            let agent = sk.rsplit_once('#').map_or(sk, |(a, _)| a);
            let part: usize = read_number(item, "part")?;
            let expected: usize = read_number(item, "parts")?;
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

    async fn record_event_with(
        &self,
        event: &AgentEvent,
        attempt: &Attempt,
        metrics: Option<&EventMetrics>,
    ) -> Result<EventOutcome, StoreError> {
        let shard = self.marker_shard(&event.event_id);
        let _local = self.local_lock(&event.workflow_id).await;
        for round in 0..self.settings.max_attempts {
            if round > 0 {
                backoff(round).await;
            }
            if let Some(outcome) = self.try_record(event, attempt, shard, metrics).await? {
                return Ok(outcome);
            }
        }
        Err(StoreError::Unavailable(format!(
            "workflow {} kept changing; gave up recording event {} after {} attempts",
            event.workflow_id, event.event_id, self.settings.max_attempts
        )))
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
            let stored_version: i64 = read_number(&item, VERSION)?;
            let mut next = current.clone();
            if !change(&mut next) {
                return Ok(Some(current));
            }
            next.bump_version();
            let outbox = self.outbox_puts(&mut next)?;
            if outbox.is_empty() {
                if self
                    .put_if_version(self.workflow_item(&next)?, stored_version)
                    .await?
                {
                    return Ok(Some(next));
                }
                continue;
            }
            // What the change raised goes in the same transaction.
            let mut transact = vec![
                TransactWriteItem::builder()
                    .put(self.put(
                        self.workflow_item(&next)?,
                        Condition::Version(stored_version),
                    )?)
                    .build(),
            ];
            transact.extend(outbox);
            match self.transact(transact).await? {
                None => return Ok(Some(next)),
                Some(codes) => retry_or_fail(&codes)?,
            }
        }
        Err(StoreError::Unavailable(format!(
            "workflow {id} kept changing; gave up updating it after {} attempts",
            self.settings.max_attempts
        )))
    }

    // From the sparse `running` index.
    async fn running_workflows(&self, limit: usize) -> Result<Vec<Workflow>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let keys = self
            .query_index(RUNNING_INDEX, RUNNING_PK, RUNNING, true, limit)
            .await?;
        self.workflows_by_key(keys).await
    }

    async fn start_run(
        &self,
        workflow_id: &str,
        why: NewRun<'_>,
        now: OffsetDateTime,
        deadline_scale: f64,
    ) -> Result<Option<(Workflow, Vec<AgentState>)>, StoreError> {
        let _local = self.local_lock(workflow_id).await;
        for attempt in 0..self.settings.max_attempts {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let Some(item) = self.get_item(wf_pk(workflow_id), META.into()).await? else {
                return Ok(None);
            };
            let mut workflow: Workflow = doc(&item, "workflow")?;
            let stored_version: i64 = read_number(&item, VERSION)?;
            let mut agents = self.get_agents(workflow_id).await?;
            if !workflow.start_run(&mut agents, why, now, deadline_scale) {
                return Ok(None);
            }
            workflow.bump_version();
            // Conditioned on the workflow's version: every recorded event
            // changes it too, so no agent write is lost in between.
            let outbox = self.outbox_puts(&mut workflow)?;
            let mut transact =
                self.workflow_with_agents(&workflow, &agents, Condition::Version(stored_version))?;
            transact.extend(outbox);
            match self.transact(transact).await? {
                None => return Ok(Some((workflow, agents))),
                Some(codes) => retry_or_fail(&codes)?,
            }
        }
        Err(StoreError::Unavailable(format!(
            "workflow {workflow_id} kept changing; gave up starting its run"
        )))
    }

    async fn list_workflows(&self, query: &WorkflowQuery) -> Result<WorkflowPage, StoreError> {
        if query.limit == 0 {
            return Ok(WorkflowPage::default());
        }
        let utc_day = |t: OffsetDateTime| t.to_offset(time::UtcOffset::UTC).date();
        // Tomorrow first: a creation clock a little ahead of this one is no surprise.
        let newest = utc_day(self.clock.now() + time::Duration::days(1));
        let oldest = newest - time::Duration::days(i64::from(self.settings.recent_days) - 1);
        let oldest = match query.since {
            Some(since) => oldest.max(utc_day(since)),
            None => oldest,
        };
        // The index's sort key is `<creation ms, 15 digits>#<id>`: the range
        // runs from `since` up to the position (inclusive, so the workflow at
        // the position itself is skipped below); "A" sorts after every digit.
        let order = |p: &WorkflowPosition| format!("{:015}#{}", p.created_at_ms.max(0), p.id);
        let from = query
            .since
            .map_or_else(|| "0".to_owned(), |t| format!("{:015}", to_ms(t).max(0)));
        let mut upto = query.after.as_ref().map_or_else(|| "A".to_owned(), order);
        let mut date = match &query.after {
            Some(p) => newest.min(utc_day(from_ms(p.created_at_ms)?)),
            None => newest,
        };
        let budget = if query.status.is_some() {
            LISTING_READ_BUDGET
        } else {
            usize::MAX
        };
        let mut page = Vec::new();
        let mut seen: Option<WorkflowPosition> = query.after.clone();
        let mut read = 0;
        while date >= oldest {
            // One more than needed: the range may hold the position itself.
            let want = query.limit - page.len() + 1;
            let keys = self
                .query_index_range(
                    RECENT_INDEX,
                    RECENT_PK,
                    &format!("RECENT#{}", format_date(date)),
                    Some((RECENT_SK, from.clone(), upto.clone())),
                    false,
                    want,
                )
                .await?;
            let mut day_done = keys.len() < want;
            read += keys.len();
            let progress_from = seen.clone();
            for workflow in self.workflows_by_key(keys).await? {
                if seen.as_ref().is_some_and(|p| !p.is_followed_by(&workflow)) {
                    continue;
                }
                seen = Some(WorkflowPosition::of(&workflow));
                if query.status.is_none_or(|s| workflow.status() == s) {
                    page.push(workflow);
                    if page.len() == query.limit {
                        return Ok(WorkflowPage {
                            workflows: page,
                            next: seen,
                        });
                    }
                }
            }
            if read >= budget {
                return Ok(WorkflowPage {
                    workflows: page,
                    next: seen,
                });
            }
            // Entries whose workflow is gone (erased meanwhile) move nothing on.
            day_done |= seen == progress_from;
            if day_done {
                let Some(previous) = date.previous_day() else {
                    break;
                };
                date = previous;
                upto = query.after.as_ref().map_or_else(|| "A".to_owned(), order);
            } else if let Some(p) = &seen {
                upto = order(p);
            }
        }
        Ok(WorkflowPage {
            workflows: page,
            next: None,
        })
    }

    async fn marker(&self, marker: Marker) -> Result<Option<OffsetDateTime>, StoreError> {
        let keys = (0..self.settings.marker_shards)
            .map(|shard| self.marker_key(marker, shard))
            .collect();
        let mut newest: Option<i64> = None;
        for item in self.batch_get(keys).await? {
            let at: i64 = read_number(&item, "at")?;
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
        // Already at or past `at`: markers only move forward.
        condition_held("UpdateItem", sent).map(|_| ())
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
                    read_string(item, PK)?.to_owned(),
                    read_string(item, SK)?.to_owned(),
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
}

impl DynamoStore {
    /// The shared rate limit: one counter item per client and minute (`ADD`, so
    /// one write a lease and no read), refused by its condition when `n` more
    /// would pass the limit.
    /// Each client has its own partition, so no key runs hot; the item expires
    /// by TTL after its minute.
    pub(crate) async fn take_rate_tokens(
        &self,
        client: &str,
        window_start: i64,
        limit: u32,
        n: u32,
    ) -> Result<bool, StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(self.table.as_ref())
            .key(PK, string(format!("RATE#{client}")))
            .key(SK, string(window_start.to_string()))
            .update_expression("ADD #hits :n SET #exp = :exp")
            .condition_expression("attribute_not_exists(#hits) OR #hits <= :room")
            .expression_attribute_names("#hits", "hits")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":n", number(n))
            .expression_attribute_values(":room", number(limit.saturating_sub(n)))
            .expression_attribute_values(":exp", number(window_start.saturating_add(180)))
            .send()
            .await;
        condition_held("UpdateItem", sent)
    }
}

/// Each item's document with its sort key as its page position.
fn positioned<T: serde::de::DeserializeOwned>(
    items: &[Item],
    what: &str,
) -> Result<Vec<(PagePosition, T)>, StoreError> {
    items
        .iter()
        .map(|item| {
            let sk = read_string(item, SK)?;
            let position = PagePosition::new(sk)
                .map_err(|_| StoreError::Corrupt(format!("{what} sort key {sk}")))?;
            Ok((position, doc(item, what)?))
        })
        .collect()
}

#[async_trait]
impl AuditLog for DynamoStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.put_audit(entry).await
    }

    async fn audit_page(
        &self,
        workflow_id: &str,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let pk = format!("AUDIT#{workflow_id}");
        let after = after.map(PagePosition::as_str);
        let items = self.query_from(&pk, "", true, after, limit + 1).await?;
        Ok(Page::of(positioned(&items, "audit entry")?, limit))
    }

    async fn unattributed_audit_page(
        &self,
        day: time::Date,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        // The day's entries are spread over shards; sort keys begin with the
        // time received, so the shards' pages merge in order.
        let after = after.map(PagePosition::as_str);
        let mut entries = Vec::new();
        for pk in unattributed_audit_partitions(day) {
            let items = self.query_from(&pk, "", true, after, limit + 1).await?;
            entries.extend(positioned::<AuditEntry>(&items, "audit entry")?);
        }
        entries.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        Ok(Page::of(entries, limit))
    }

    async fn append_admin_audit(&self, entry: &AdminAuditEntry) -> Result<(), StoreError> {
        let sk = format!(
            "{:020}#{}",
            entry.at.unix_timestamp_nanos().max(0),
            uuid::Uuid::new_v4().simple()
        );
        let mut item = key(ADMIN_AUDIT.into(), sk);
        item.insert(DOC.into(), string(encode(entry)?));
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

    async fn admin_audit_page(
        &self,
        before: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AdminAuditEntry>, StoreError> {
        let before = before.map(PagePosition::as_str);
        let items = self
            .query_from(ADMIN_AUDIT, "", false, before, limit + 1)
            .await?;
        Ok(Page::of(positioned(&items, "admin audit entry")?, limit))
    }
}

#[async_trait]
impl RateLimitLeases for DynamoStore {
    async fn take_shared_rate_tokens(
        &self,
        client: &str,
        window_start: i64,
        limit: u32,
        wanted: u32,
    ) -> Result<u32, StoreError> {
        let wanted = wanted.clamp(1, limit.max(1));
        if self
            .take_rate_tokens(client, window_start, limit, wanted)
            .await?
        {
            return Ok(wanted);
        }
        // Near the limit: whatever is left, one at a time.
        let one = wanted > 1
            && self
                .take_rate_tokens(client, window_start, limit, 1)
                .await?;
        Ok(u32::from(one))
    }
}
