//! The workflow store over SQLite.

use super::metrics::write_cells;
use super::outbox::write_items;
use super::*;
use osa_app::ports::OutboxItem;
use osa_app::ports::{AuditLog, Page, PagePosition};
use osa_domain::metrics::{EventMetrics, of_recorded};
use osa_domain::record;
use osa_domain::run::NewRun;

// ---- statements (usable from the writer and from readers) --------------------

/// The unfinished workflows, oldest first, from their partial index.
pub(crate) const LIST_UNFINISHED: &str = "SELECT doc FROM workflows
     WHERE status IN ('pending', 'running', 'credentials_invalid')
     ORDER BY created_at_ms, id LIMIT ?1";

fn load_workflow(conn: &Connection, id: &str) -> Result<Option<Workflow>, StoreError> {
    let doc: Option<String> = conn
        .prepare_cached("SELECT doc FROM workflows WHERE id = ?1")
        .or_unavailable()?
        .query_row([id], |r| r.get(0))
        .optional()
        .or_unavailable()?;
    doc.map(|d| decode("workflow", &d)).transpose()
}

fn save_workflow(conn: &Connection, id: &str, wf: &Workflow) -> Result<(), StoreError> {
    save_workflow_doc(conn, id, wf.status().as_str(), &encode(wf)?)
}

fn save_workflow_doc(
    conn: &Connection,
    id: &str,
    status: &str,
    doc: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE workflows SET status = ?2, doc = ?3 WHERE id = ?1")
        .or_unavailable()?
        .execute(params![id, status, doc])
        .or_unavailable()?;
    Ok(())
}

fn load_agents(conn: &Connection, workflow_id: &str) -> Result<Vec<AgentState>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT doc FROM agents WHERE workflow_id = ?1")
        .or_unavailable()?;
    let docs = stmt
        .query_map([workflow_id], |r| r.get::<_, String>(0))
        .or_unavailable()?;
    let mut agents = Vec::with_capacity(AgentId::ALL.len());
    for doc in docs {
        agents.push(decode::<AgentState>("agent", &doc.or_unavailable()?)?);
    }
    agents.sort_by_key(|a| catalogue_position(a.agent));
    Ok(agents)
}

fn save_agent(conn: &Connection, workflow_id: &str, agent: &AgentState) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE agents SET doc = ?3 WHERE workflow_id = ?1 AND agent_id = ?2")
        .or_unavailable()?
        .execute(params![workflow_id, agent.agent.as_str(), encode(agent)?])
        .or_unavailable()?;
    Ok(())
}

fn load_results(conn: &Connection, workflow_id: &str) -> Result<Vec<AgentResult>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT doc, run FROM agent_results WHERE workflow_id = ?1")
        .or_unavailable()?;
    let rows = stmt
        .query_map([workflow_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?))
        })
        .or_unavailable()?;
    let mut results = Vec::new();
    for row in rows {
        let (doc, run) = row.or_unavailable()?;
        let mut result = decode::<AgentResult>("agent result", &doc)?;
        result.run = run;
        results.push(result);
    }
    results.sort_by_key(|r| catalogue_position(r.agent));
    Ok(results)
}

fn insert_audit(conn: &Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO audit (workflow_id, doc) VALUES (?1, ?2)")
        .or_unavailable()?
        .execute(params![entry.workflow_id, encode(entry)?])
        .or_unavailable()?;
    Ok(())
}

fn raise_marker(conn: &Connection, marker: Marker, at_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO markers (name, at_ms) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET at_ms = max(at_ms, excluded.at_ms)",
    )
    .or_unavailable()?
    .execute(params![marker_name(marker), at_ms])
    .or_unavailable()?;
    Ok(())
}

/// The body of `record_event`, run on the writer inside its savepoint: loads what
/// `domain::record` needs and writes what it decides, with what its outcome
/// counts (`metrics`) in the same savepoint.
fn record_event_tx(
    conn: &Connection,
    event: &AgentEvent,
    result_doc: Option<&str>,
    attempt: &Attempt,
    metrics: Option<&EventMetrics>,
) -> Result<(EventOutcome, Option<Workflow>), StoreError> {
    let (outcome, written) = decide_and_write(conn, event, result_doc, attempt)?;
    if let Some(metrics) = metrics {
        let counted = of_recorded(event, &outcome, metrics);
        let updates: Vec<_> = counted.iter().flat_map(|o| o.updates()).collect();
        write_cells(conn, &updates)?;
    }
    Ok((outcome, written))
}

fn decide_and_write(
    conn: &Connection,
    event: &AgentEvent,
    result_doc: Option<&str>,
    attempt: &Attempt,
) -> Result<(EventOutcome, Option<Workflow>), StoreError> {
    // A duplicate (most of a retrying sender's traffic) needs only to know the
    // workflow exists: its document is decoded once the event proves new.
    let known = conn
        .prepare_cached("SELECT 1 FROM workflows WHERE id = ?1")
        .or_unavailable()?
        .exists([&event.workflow_id])
        .or_unavailable()?;
    if !known {
        let (outcome, audit) = record::unknown_workflow(event, attempt);
        insert_audit(conn, &audit)?;
        return Ok((outcome, None));
    }

    let fresh = conn
        .prepare_cached(
            "INSERT INTO events (workflow_id, event_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )
        .or_unavailable()?
        .execute(params![event.workflow_id, event.event_id])
        .or_unavailable()?;
    if fresh == 0 {
        let (outcome, audit) = record::duplicate(event, attempt);
        insert_audit(conn, &audit)?;
        return Ok((outcome, None));
    }

    let mut workflow = load_workflow(conn, &event.workflow_id)?.ok_or_else(|| {
        StoreError::Corrupt(format!("workflow {} vanished mid-write", event.workflow_id))
    })?;
    let mut agents = load_agents(conn, &event.workflow_id)?;
    let recording = record::apply(event, attempt, &mut workflow, &mut agents)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    save_agent(conn, &event.workflow_id, &agents[recording.agent])?;
    if let (true, Some(doc)) = (recording.keep_result, result_doc) {
        conn.prepare_cached(
            "INSERT INTO agent_results (workflow_id, agent_id, doc, run) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (workflow_id, agent_id) DO UPDATE SET doc = excluded.doc, run = excluded.run",
        )
        .or_unavailable()?
        .execute(params![
            event.workflow_id,
            event.agent.as_str(),
            doc,
            agents[recording.agent].run
        ])
        .or_unavailable()?;
    }
    workflow.bump_version();
    save_workflow(conn, &event.workflow_id, &workflow)?;
    let raised = workflow.take_raised();
    write_items(conn, &OutboxItem::of_write(workflow.version(), raised))?;
    for marker in &recording.markers {
        raise_marker(conn, *marker, to_ms(attempt.received_at))?;
    }
    insert_audit(conn, &recording.audit)?;
    Ok((recording.outcome, Some(workflow)))
}

/// What a write of a workflow conditioned on its version found.
enum WorkflowWrite {
    Missing,
    /// Someone else saved first: what they saved.
    Stale(Box<Workflow>),
    Saved(Box<Workflow>),
}

impl SqliteStore {
    /// `WorkflowStore::update_workflow`: optimistic read-modify-write. `change` runs
    /// on the caller's task (never on the writer thread, where it would stall the
    /// batch), and the writer saves the result only if the stored version is still the
    /// one read; otherwise `change` is applied again to the newer version. So `change`
    /// may run more than once, as with a conditional put in DynamoDB.
    pub async fn update_workflow_cas(
        &self,
        id: &str,
        change: &(dyn Fn(&mut Workflow) -> bool + Send + Sync),
    ) -> Result<Option<Workflow>, StoreError> {
        let Some(mut current) = self.get_workflow(id).await? else {
            return Ok(None);
        };
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let mut next = current.clone();
            if !change(&mut next) {
                return Ok(Some(current));
            }
            let expected = current.version();
            next.bump_version();
            let items = OutboxItem::of_write(next.version(), next.take_raised());
            let status = next.status().as_str();
            let doc = encode(&next)?;
            let key = id.to_owned();
            let outcome = self
                .write(move |conn| match load_workflow(conn, &key)? {
                    None => Ok(WorkflowWrite::Missing),
                    Some(stored) if stored.version() != expected => {
                        Ok(WorkflowWrite::Stale(Box::new(stored)))
                    }
                    Some(_) => {
                        save_workflow_doc(conn, &key, status, &doc)?;
                        write_items(conn, &items)?;
                        Ok(WorkflowWrite::Saved(Box::new(next)))
                    }
                })
                .await?;
            match outcome {
                WorkflowWrite::Missing => return Ok(None),
                WorkflowWrite::Saved(saved) => {
                    self.tell(|| StoreChange::Written(Arc::new((*saved).clone())));
                    return Ok(Some(*saved));
                }
                WorkflowWrite::Stale(stored) => current = *stored,
            }
        }
        Err(StoreError::Unavailable(format!(
            "workflow {id} kept changing; gave up after {MAX_UPDATE_ATTEMPTS} attempts"
        )))
    }
}

// ---- WorkflowStore -------------------------------------------------------------

impl StoreChanges for SqliteStore {
    fn subscribe(&self) -> broadcast::Receiver<StoreChange> {
        self.inner.changed.subscribe()
    }
}

#[async_trait]
impl WorkflowStore for SqliteStore {
    async fn create_workflow(
        &self,
        workflow: &Workflow,
        agents: &[AgentState],
    ) -> Result<CreateOutcome, StoreError> {
        let id = workflow.id().to_owned();
        let created_at_ms = to_ms(workflow.created_at());
        let status = workflow.status().as_str();
        let doc = encode(workflow)?;
        let items = OutboxItem::of_write(workflow.version(), workflow.raised().to_vec());
        let agent_docs = agents
            .iter()
            .map(|a| Ok((a.agent.as_str(), encode(a)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO workflows (id, created_at_ms, status, doc) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO NOTHING",
                )
                .or_unavailable()?
                .execute(params![id, created_at_ms, status, doc])
                .or_unavailable()?;
            if inserted == 0 {
                return match load_workflow(conn, &id)? {
                    Some(existing) => Ok(CreateOutcome::Existing(Box::new(existing))),
                    None => Err(StoreError::Corrupt(format!("workflow {id} vanished"))),
                };
            }
            let mut stmt = conn
                .prepare_cached(
                    "INSERT INTO agents (workflow_id, agent_id, doc) VALUES (?1, ?2, ?3)",
                )
                .or_unavailable()?;
            for (agent_id, agent_doc) in &agent_docs {
                stmt.execute(params![id, agent_id, agent_doc])
                    .or_unavailable()?;
            }
            write_items(conn, &items)?;
            Ok(CreateOutcome::Created)
        })
        .await
    }

    async fn get_workflow(&self, id: &str) -> Result<Option<Workflow>, StoreError> {
        let id = id.to_owned();
        self.read(move |conn| load_workflow(conn, &id)).await
    }

    async fn get_agents(&self, workflow_id: &str) -> Result<Vec<AgentState>, StoreError> {
        let id = workflow_id.to_owned();
        self.read(move |conn| load_agents(conn, &id)).await
    }

    async fn get_results(&self, workflow_id: &str) -> Result<Vec<AgentResult>, StoreError> {
        let id = workflow_id.to_owned();
        self.read(move |conn| load_results(conn, &id)).await
    }

    async fn record_event_with(
        &self,
        event: &AgentEvent,
        attempt: &Attempt,
        metrics: Option<&EventMetrics>,
    ) -> Result<EventOutcome, StoreError> {
        // Encode the (possibly large) result off the writer thread; the writer
        // stores it only if this event is what completes the agent, with the
        // run it belongs to in its own column.
        let result_doc = AgentResult::of(event, attempt.received_at, 0)
            .map(|r| encode(&r))
            .transpose()?;
        let event = event.clone();
        let attempt = attempt.clone();
        let metrics = metrics.cloned();
        let (outcome, written) = self
            .write(move |conn| {
                record_event_tx(
                    conn,
                    &event,
                    result_doc.as_deref(),
                    &attempt,
                    metrics.as_ref(),
                )
            })
            .await?;
        if let Some(workflow) = written {
            self.tell(|| StoreChange::Written(Arc::new(workflow)));
        }
        Ok(outcome)
    }

    async fn update_workflow(
        &self,
        id: &str,
        change: &(dyn for<'w> Fn(&'w mut Workflow) -> bool + Send + Sync),
    ) -> Result<Option<Workflow>, StoreError> {
        self.update_workflow_cas(id, change).await
    }

    async fn running_workflows(&self, limit: usize) -> Result<Vec<Workflow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(LIST_UNFINISHED).or_unavailable()?;
            let docs = stmt
                .query_map([limit], |r| r.get::<_, String>(0))
                .or_unavailable()?;
            let mut out = Vec::new();
            for doc in docs {
                out.push(decode("workflow", &doc.or_unavailable()?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn start_run(
        &self,
        workflow_id: &str,
        why: NewRun<'_>,
        now: OffsetDateTime,
        deadline_scale: f64,
    ) -> Result<Option<(Workflow, Vec<AgentState>)>, StoreError> {
        let id = workflow_id.to_owned();
        // Owned for the writer thread.
        let sync_id = match why {
            NewRun::ForceSync { sync_id } => Some(sync_id.to_owned()),
            NewRun::Resume => None,
        };
        let started = self
            .write(move |conn| {
                let Some(mut workflow) = load_workflow(conn, &id)? else {
                    return Ok(None);
                };
                let mut agents = load_agents(conn, &id)?;
                let why = match sync_id.as_deref() {
                    Some(sync_id) => NewRun::ForceSync { sync_id },
                    None => NewRun::Resume,
                };
                if !workflow.start_run(&mut agents, why, now, deadline_scale) {
                    return Ok(None);
                }
                workflow.bump_version();
                save_workflow(conn, &id, &workflow)?;
                let raised = workflow.take_raised();
                write_items(conn, &OutboxItem::of_write(workflow.version(), raised))?;
                for agent in &agents {
                    save_agent(conn, &id, agent)?;
                }
                Ok(Some((workflow, agents)))
            })
            .await?;
        if let Some((workflow, _)) = &started {
            self.tell(|| StoreChange::Written(Arc::new(workflow.clone())));
        }
        Ok(started)
    }

    async fn list_workflows(&self, query: &WorkflowQuery) -> Result<WorkflowPage, StoreError> {
        let status = query.status.map(|s| s.as_str());
        let since = query.since.map_or(i64::MIN, to_ms);
        // No position: before every workflow (ids are never empty).
        let (before_ms, before_id) = query.after.as_ref().map_or((i64::MAX, String::new()), |p| {
            (p.created_at_ms, p.id.clone())
        });
        let limit = query.limit;
        self.read(move |conn| {
            // One more than asked for says whether there is a next page.
            let docs = query_docs(
                conn,
                "SELECT doc FROM workflows
                 WHERE (?1 IS NULL OR status = ?1) AND created_at_ms >= ?2
                   AND (created_at_ms < ?3 OR (created_at_ms = ?3 AND id < ?4))
                 ORDER BY created_at_ms DESC, id DESC LIMIT ?5",
                params![
                    status,
                    since,
                    before_ms,
                    before_id,
                    sql_limit(limit.saturating_add(1))
                ],
            )?;
            let mut workflows = docs
                .iter()
                .map(|doc| decode::<Workflow>("workflow", doc))
                .collect::<Result<Vec<_>, _>>()?;
            let more = workflows.len() > limit;
            workflows.truncate(limit);
            let next = more
                .then(|| workflows.last().map(WorkflowPosition::of))
                .flatten();
            Ok(WorkflowPage { workflows, next })
        })
        .await
    }

    async fn marker(&self, marker: Marker) -> Result<Option<OffsetDateTime>, StoreError> {
        self.read(move |conn| {
            let at: Option<i64> = conn
                .prepare_cached("SELECT at_ms FROM markers WHERE name = ?1")
                .or_unavailable()?
                .query_row([marker_name(marker)], |r| r.get(0))
                .optional()
                .or_unavailable()?;
            at.map(from_ms).transpose()
        })
        .await
    }

    async fn set_marker(&self, marker: Marker, at: OffsetDateTime) -> Result<(), StoreError> {
        let at_ms = to_ms(at);
        self.write(move |conn| raise_marker(conn, marker, at_ms))
            .await
    }

    async fn erase_workflow(&self, id: &str) -> Result<Option<u64>, StoreError> {
        let key = id.to_owned();
        let erased = self
            .write(move |conn| {
                let mut erased = 0u64;
                for table in ["workflows", "agents", "agent_results", "events", "outbox"] {
                    let column = if table == "workflows" {
                        "id"
                    } else {
                        "workflow_id"
                    };
                    let sql = format!("DELETE FROM {table} WHERE {column} = ?1");
                    erased += conn
                        .prepare_cached(&sql)
                        .or_unavailable()?
                        .execute(params![key])
                        .or_unavailable()? as u64;
                }
                Ok((erased > 0).then_some(erased))
            })
            .await?;
        if erased.is_some() {
            self.tell(|| StoreChange::Erased(Arc::from(id)));
        }
        Ok(erased)
    }
}

/// A page position here is a row's sequence number. A position this store did
/// not write (another store's sort key) reads as its leading digits, which
/// pages past the end rather than failing.
fn seq_of(position: &PagePosition) -> i64 {
    let digits = position.as_str().split('#').next().unwrap_or_default();
    digits.parse().unwrap_or(i64::MAX)
}

fn position(seq: i64) -> Result<PagePosition, StoreError> {
    PagePosition::new(seq.to_string())
        .map_err(|_| StoreError::Corrupt(format!("audit sequence number {seq}")))
}

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.write(move |conn| insert_audit(conn, &entry)).await
    }

    async fn audit_page(
        &self,
        workflow_id: &str,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let id = workflow_id.to_owned();
        let after = after.map_or(0, seq_of);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, doc FROM audit WHERE workflow_id = ?1 AND seq > ?2
                     ORDER BY seq LIMIT ?3",
                )
                .or_unavailable()?;
            let rows = stmt
                .query_map(params![id, after, sql_limit(limit + 1)], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .or_unavailable()?;
            let mut entries = Vec::new();
            for row in rows {
                let (seq, doc) = row.or_unavailable()?;
                entries.push((position(seq)?, decode("audit entry", &doc)?));
            }
            Ok(Page::of(entries, limit))
        })
        .await
    }

    async fn unattributed_audit_page(
        &self,
        day: time::Date,
        after: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let after = after.map_or(0, seq_of);
        self.read(move |conn| {
            // In append order, which is time order: stop past the day.
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, doc FROM audit WHERE workflow_id IS NULL AND seq > ?1 ORDER BY seq",
                )
                .or_unavailable()?;
            let rows = stmt
                .query_map(params![after], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .or_unavailable()?;
            let mut entries = Vec::new();
            for row in rows {
                let (seq, doc) = row.or_unavailable()?;
                let entry: AuditEntry = decode("audit entry", &doc)?;
                let received = entry.received_at.to_offset(time::UtcOffset::UTC).date();
                if received > day || entries.len() > limit {
                    break;
                }
                if received == day {
                    entries.push((position(seq)?, entry));
                }
            }
            Ok(Page::of(entries, limit))
        })
        .await
    }

    async fn append_admin_audit(&self, entry: &AdminAuditEntry) -> Result<(), StoreError> {
        let doc = encode(entry)?;
        self.write(move |conn| {
            conn.prepare_cached("INSERT INTO admin_audit (doc) VALUES (?1)")
                .or_unavailable()?
                .execute(params![doc])
                .or_unavailable()?;
            Ok(())
        })
        .await
    }

    async fn admin_audit_page(
        &self,
        before: Option<&PagePosition>,
        limit: usize,
    ) -> Result<Page<AdminAuditEntry>, StoreError> {
        let before = before.map_or(i64::MAX, seq_of);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, doc FROM admin_audit WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
                )
                .or_unavailable()?;
            let rows = stmt
                .query_map(params![before, sql_limit(limit + 1)], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .or_unavailable()?;
            let mut entries = Vec::new();
            for row in rows {
                let (seq, doc) = row.or_unavailable()?;
                entries.push((position(seq)?, decode("admin audit entry", &doc)?));
            }
            Ok(Page::of(entries, limit))
        })
        .await
    }
}
