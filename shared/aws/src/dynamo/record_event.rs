//! `record_event` over DynamoDB: one `BatchGetItem` of what `domain::record`
//! needs, then one write of what it decides, with what the outcome counts
//! (`domain::metrics::of_recorded`) and the outbox items of the events it
//! raised in the same write. A transaction that loses
//! a race writes nothing, counts included, and is tried again from the read.

use super::metric_items::{print_emf, transact_updates};
use super::*;
use osa_domain::metrics::{EventMetrics, Observation, merged, of_recorded};

/// Operations DynamoDB takes in one transaction. An event's stays well under:
/// 4 items, at most 8 result parts and 8 stale parts, 2 markers and its counts
/// (the webhook, 2 per PII type, 3 for an agent's end: at most 18).
const MAX_TRANSACT_ITEMS: usize = 100;

impl DynamoStore {
    /// One attempt of `record_event`: `None` when it lost a race and must be retried.
    pub(super) async fn try_record(
        &self,
        event: &AgentEvent,
        attempt: &Attempt,
        shard: u16,
        metrics: Option<&EventMetrics>,
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
            let k = (
                read_string(&item, PK)?.to_owned(),
                read_string(&item, SK)?.to_owned(),
            );
            items.insert(k, item);
        }
        let get = |k: &Item| -> Option<&Item> {
            let pk = read_string(k, PK).ok()?;
            let sk = read_string(k, SK).ok()?;
            items.get(&(pk.to_owned(), sk.to_owned()))
        };

        let Some(meta) = items.get(&(pk.clone(), META.to_owned())) else {
            let (outcome, audit) = record::unknown_workflow(event, attempt);
            return self.audit_counted(event, outcome, &audit, metrics).await;
        };
        if get(&event_key).is_some() {
            let (outcome, audit) = record::duplicate(event, attempt);
            return self.audit_counted(event, outcome, &audit, metrics).await;
        }

        let mut workflow: Workflow = doc(meta, "workflow")?;
        let workflow_version: i64 = read_number(meta, VERSION)?;
        let mut agents = Vec::with_capacity(AgentId::ALL.len());
        let mut agent_version = None;
        for agent in AgentId::ALL {
            if let Some(item) = items.get(&(pk.clone(), agent_sk(agent))) {
                if agent == event.agent {
                    agent_version = Some(read_number::<i64>(item, VERSION)?);
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
            AgentResult::of(event, now, agents[recording.agent].run)
        } else {
            None
        };
        workflow.bump_version();
        // What the event raised, for the outbox, in the same transaction.
        let outbox = self.outbox_puts(&mut workflow)?;

        // The de-duplication item comes first: its cancellation reason is index 0.
        let mut seen = event_key;
        seen.insert("agent".into(), string(event.agent.as_str()));
        seen.insert("received_ms".into(), number(now_ms));
        seen.insert(
            EXPIRES_AT.into(),
            self.expiry(workflow.created_at(), self.settings.workflow_retention),
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
        let mut stale_parts = Vec::new();
        if let Some(result) = &result {
            let parts = self.result_items(&workflow, result)?;
            // A later run's result replaces an earlier one: parts the new one
            // does not have must not outlive it.
            if result.run > 0 {
                stale_parts = (parts.len()..MAX_RESULT_PARTS)
                    .map(|i| self.delete(key(wf_pk(workflow.id()), result_sk(result.agent, i))))
                    .collect::<Result<Vec<_>, _>>()?;
            }
            for part in parts {
                writes.push(self.put(part, Condition::Always)?);
            }
        }
        let mut transact: Vec<TransactWriteItem> = writes
            .into_iter()
            .map(|p| TransactWriteItem::builder().put(p).build())
            .chain(
                stale_parts
                    .into_iter()
                    .map(|d| TransactWriteItem::builder().delete(d).build()),
            )
            .collect();
        for &marker in &recording.markers {
            let stored = get(&self.marker_key(marker, shard))
                .map(|item| read_number::<i64>(item, "at"))
                .transpose()?;
            if stored.is_none_or(|at| at < now_ms) {
                let update = self.raise_marker(marker, shard, now_ms)?;
                transact.push(TransactWriteItem::builder().update(update).build());
            }
        }
        transact.extend(outbox);
        let counted = self.counted(event, &recording.outcome, metrics);
        transact.extend(self.count_updates(&counted)?);
        if transact.len() > MAX_TRANSACT_ITEMS {
            return Err(StoreError::Unavailable(format!(
                "event {} would be {} operations in one transaction; DynamoDB takes {MAX_TRANSACT_ITEMS}",
                event.event_id,
                transact.len()
            )));
        }

        match self.transact(transact).await? {
            None => {
                self.emf(&counted);
                Ok(Some(recording.outcome))
            }
            Some(codes) if codes.first().map(String::as_str) == Some(CONDITION_FAILED) => {
                let (outcome, audit) = record::duplicate(event, attempt);
                self.audit_counted(event, outcome, &audit, metrics).await
            }
            // A version or marker condition, or a conflicting transaction.
            Some(codes) => retry_or_fail(&codes).map(|()| None),
        }
    }

    /// What `outcome` counts, if counting.
    fn counted(
        &self,
        event: &AgentEvent,
        outcome: &EventOutcome,
        metrics: Option<&EventMetrics>,
    ) -> Vec<Observation> {
        metrics.map_or_else(Vec::new, |m| of_recorded(event, outcome, m))
    }

    /// One transaction update per series `counted` moves.
    fn count_updates(&self, counted: &[Observation]) -> Result<Vec<TransactWriteItem>, StoreError> {
        let updates = transact_updates(&merged(counted), &self.table, self.settings.metric_shards)?;
        Ok(updates
            .into_iter()
            .map(|u| TransactWriteItem::builder().update(u).build())
            .collect())
    }

    /// Writes the audit entry of an event that changed nothing but the audit
    /// trail (a duplicate, an unknown workflow) and what its outcome counts:
    /// a `PutItem` when it counts nothing, else one transaction of both.
    /// `None`: that transaction lost a race on a metric item; try again.
    async fn audit_counted(
        &self,
        event: &AgentEvent,
        outcome: EventOutcome,
        audit: &AuditEntry,
        metrics: Option<&EventMetrics>,
    ) -> Result<Option<EventOutcome>, StoreError> {
        let counted = self.counted(event, &outcome, metrics);
        if counted.is_empty() {
            self.put_audit(audit).await?;
            return Ok(Some(outcome));
        }
        let mut transact = vec![
            TransactWriteItem::builder()
                .put(self.put(self.audit_item(audit)?, Condition::Always)?)
                .build(),
        ];
        transact.extend(self.count_updates(&counted)?);
        match self.transact(transact).await? {
            None => {
                self.emf(&counted);
                Ok(Some(outcome))
            }
            Some(codes) => retry_or_fail(&codes).map(|()| None),
        }
    }

    /// In Lambda, what was counted is also printed for CloudWatch, as the
    /// metrics store does (`DynamoMetrics::with_emf`).
    fn emf(&self, counted: &[Observation]) {
        if self.emf && !counted.is_empty() {
            print_emf(counted, self.clock.now_ms());
        }
    }
}
