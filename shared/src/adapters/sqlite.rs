//! The embedded adapter: one SQLite file holds the workflow store and the job queue.
//!
//! Layout mirrors the DynamoDB items the AWS adapter uses: one row per item, the item
//! as a JSON `doc`, its key attributes in columns beside it, and an index for every
//! list view. Every statement on a request path is a key lookup or an index range.
//!
//! Writes: one dedicated writer thread owns the only read-write connection and does
//! group commit. It blocks for one request, drains whatever else is already queued
//! (up to [`MAX_BATCH`]), runs them all in one `BEGIN IMMEDIATE` transaction, each
//! inside its own `SAVEPOINT` (a failing request rolls back only itself), commits once
//! and only then answers every caller. So a write's future resolves only once the
//! write is durable (WAL, `synchronous=FULL`), and N concurrent writers cost one fsync.
//!
//! Reads: a small pool of read-only connections used through `spawn_blocking`; WAL
//! lets them run while the writer writes. No SQLite call ever runs on the async runtime.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tokio::sync::{Semaphore, oneshot};

use crate::domain::AgentId;
use crate::domain::event::AgentEvent;
use crate::domain::record;
use crate::domain::workflow::{AgentState, Workflow};
use crate::ports::{
    AdminAuditEntry, AgentResult, Attempt, AuditEntry, Clock, CreateOutcome, EventOutcome, Job,
    JobQueue, Marker, QueueError, ReceivedJob, StoreError, WorkflowStore,
};

/// The schema this build writes, kept in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 1;

/// Most write requests committed together in one transaction.
pub const MAX_BATCH: usize = 512;

/// Read-only connections kept open (and reads allowed at once).
const MAX_READERS: usize = 4;

/// How long a connection waits for a lock held by another process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Attempts of `update_workflow`'s compare-and-set before giving up.
const MAX_UPDATE_ATTEMPTS: usize = 64;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS workflows (
    id            TEXT    NOT NULL PRIMARY KEY,
    created_at_ms INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    doc           TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS workflows_by_created ON workflows (created_at_ms, id);

CREATE TABLE IF NOT EXISTS agents (
    workflow_id TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (workflow_id, agent_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS agent_results (
    workflow_id TEXT NOT NULL,
    agent_id    TEXT NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (workflow_id, agent_id)
);

CREATE TABLE IF NOT EXISTS events (
    workflow_id TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    PRIMARY KEY (workflow_id, event_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS audit (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id TEXT,
    doc         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_workflow ON audit (workflow_id, seq);

CREATE TABLE IF NOT EXISTS admin_audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS markers (
    name  TEXT    NOT NULL PRIMARY KEY,
    at_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS jobs (
    id            TEXT    NOT NULL PRIMARY KEY,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT,
    body          TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_visibility ON jobs (visible_at_ms);
";

// ---- the store ---------------------------------------------------------------

/// Workflow store and job queue over one SQLite file. Cheap to clone; every clone
/// shares the writer thread and the reader pool. The writer thread stops once the
/// last clone is dropped.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    writer: mpsc::Sender<Box<dyn WriteOp>>,
    readers: Mutex<Vec<Connection>>,
    read_slots: Arc<Semaphore>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path`, brings its schema up to
    /// date and starts the writer thread. Blocking: call it at startup, or from
    /// `spawn_blocking`.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<SqliteStore, StoreError> {
        let conn = open_writer(path)?;
        let (tx, rx) = mpsc::channel::<Box<dyn WriteOp>>();
        std::thread::Builder::new()
            .name("osa-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Unavailable(format!("could not start the writer: {e}")))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                clock,
                writer: tx,
                readers: Mutex::new(Vec::new()),
                read_slots: Arc::new(Semaphore::new(MAX_READERS)),
            }),
        })
    }

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
            let expected = current.version;
            next.version = expected.saturating_add(1);
            let status = next.status.as_str();
            let doc = encode(&next)?;
            let key = id.to_owned();
            let outcome = self
                .write(move |conn| match load_workflow(conn, &key)? {
                    None => Ok(Cas::Missing),
                    Some(stored) if stored.version != expected => {
                        Ok(Cas::Conflict(Box::new(stored)))
                    }
                    Some(_) => {
                        save_workflow_doc(conn, &key, status, &doc)?;
                        Ok(Cas::Saved(Box::new(next)))
                    }
                })
                .await?;
            match outcome {
                Cas::Missing => return Ok(None),
                Cas::Saved(saved) => return Ok(Some(*saved)),
                Cas::Conflict(stored) => current = *stored,
            }
        }
        Err(StoreError::Unavailable(format!(
            "workflow {id} kept changing; gave up after {MAX_UPDATE_ATTEMPTS} attempts"
        )))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the writer thread inside the current group-commit transaction (in
    /// its own savepoint). Resolves once the transaction has committed, with `f`'s
    /// result; an `Err` from `f` rolls back `f`'s changes only.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let op: Box<dyn WriteOp> = Box::new(Op {
            f: Some(f),
            result: None,
            reply,
        });
        self.inner
            .writer
            .send(op)
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the writer dropped the request".into()))?
    }

    /// Runs `f` on a pooled read-only connection, off the async runtime.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.inner.read_slots)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the reader pool is closed".into()))?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = match inner.take_reader() {
                Some(c) => c,
                None => open_reader(&inner.path)?,
            };
            let result = f(&conn);
            // A connection whose read failed may be broken: let it go.
            if result.is_ok() {
                inner.put_reader(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("read task failed: {e}")))?
    }
}

impl Inner {
    fn take_reader(&self) -> Option<Connection> {
        self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn put_reader(&self, conn: Connection) {
        let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < MAX_READERS {
            pool.push(conn);
        }
    }
}

// ---- connections -------------------------------------------------------------

fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    conn.set_prepared_statement_cache_capacity(64);
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))
        .db()?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "could not switch {} to WAL (journal_mode is {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL").db()?;
    migrate(&conn)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .db()?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Unavailable(format!(
            "the database has schema version {version}, newer than this build's {SCHEMA_VERSION}"
        )));
    }
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;\n{SCHEMA}\n{}\n{}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;",
        super::sqlite_metrics::SCHEMA,
        super::sqlite_deliveries::SCHEMA
    ))
    .map_err(|e| {
        rollback(conn);
        StoreError::Unavailable(format!("schema setup failed: {e}"))
    })
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn rollback(conn: &Connection) {
    if !conn.is_autocommit()
        && let Err(e) = conn.execute_batch("ROLLBACK")
    {
        tracing::error!(error = %e, "sqlite rollback failed");
    }
}

// ---- the writer thread -------------------------------------------------------

/// One queued write, type-erased so requests of any result type share the channel.
trait WriteOp: Send {
    /// Runs the request inside the open transaction. Returns whether it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch has committed (`Ok`) or failed (`Err`).
    fn answer(self: Box<Self>, batch: Result<(), &str>);
}

struct Op<T, F> {
    f: Option<F>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> WriteOp for Op<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        // A panicking request must not take the writer (and every later write) down.
        let result = catch_unwind(AssertUnwindSafe(|| f(conn)))
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the write request panicked".into())));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, batch: Result<(), &str>) {
        let Op { result, reply, .. } = *self;
        let answer = match batch {
            Err(e) => Err(StoreError::Unavailable(e.to_owned())),
            Ok(()) => {
                result.unwrap_or_else(|| Err(StoreError::Unavailable("the write never ran".into())))
            }
        };
        // The caller may have gone away; its write stands regardless.
        let _ = reply.send(answer);
    }
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Box<dyn WriteOp>>) {
    let mut batch: Vec<Box<dyn WriteOp>> = Vec::with_capacity(MAX_BATCH + 1);
    // Blocks for the first request; ends once every sender is gone.
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() <= MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let outcome = run_batch(&conn, &mut batch);
        if let Err(e) = &outcome {
            tracing::error!(error = %e, requests = batch.len(), "sqlite write batch failed");
        }
        for op in batch.drain(..) {
            op.answer(outcome.as_ref().map(|_| ()).map_err(String::as_str));
        }
    }
    tracing::debug!("sqlite writer stopped");
}

/// Runs a batch in one transaction, one savepoint per request, and commits once.
fn run_batch(conn: &Connection, batch: &mut [Box<dyn WriteOp>]) -> Result<(), String> {
    exec(conn, "BEGIN IMMEDIATE").map_err(|e| format!("could not begin a transaction: {e}"))?;
    for op in batch.iter_mut() {
        if let Err(e) = run_one(conn, op.as_mut()) {
            rollback(conn);
            return Err(format!("transaction aborted: {e}"));
        }
    }
    if conn.is_autocommit() {
        return Err("the transaction was rolled back by SQLite".into());
    }
    if let Err(e) = exec(conn, "COMMIT") {
        rollback(conn);
        return Err(format!("commit failed: {e}"));
    }
    Ok(())
}

fn run_one(conn: &Connection, op: &mut dyn WriteOp) -> rusqlite::Result<()> {
    exec(conn, "SAVEPOINT request")?;
    if !op.run(conn) {
        exec(conn, "ROLLBACK TO request")?;
    }
    exec(conn, "RELEASE request")
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

// ---- encoding ----------------------------------------------------------------

/// `rusqlite` failures become `StoreError::Unavailable`.
pub(crate) trait Db<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Unavailable(format!("sqlite: {e}")))
    }
}

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("encoding: {e}")))
}

fn decode<T: DeserializeOwned>(what: &str, doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn to_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
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

fn queue_error(e: StoreError) -> QueueError {
    match e {
        StoreError::Unavailable(m) => QueueError::Unavailable(m),
        StoreError::Corrupt(m) => QueueError::Corrupt(m),
    }
}

// ---- statements (usable from the writer and from readers) --------------------

fn load_workflow(conn: &Connection, id: &str) -> Result<Option<Workflow>, StoreError> {
    let doc: Option<String> = conn
        .prepare_cached("SELECT doc FROM workflows WHERE id = ?1")
        .db()?
        .query_row([id], |r| r.get(0))
        .optional()
        .db()?;
    doc.map(|d| decode("workflow", &d)).transpose()
}

fn save_workflow(conn: &Connection, id: &str, wf: &Workflow) -> Result<(), StoreError> {
    save_workflow_doc(conn, id, wf.status.as_str(), &encode(wf)?)
}

fn save_workflow_doc(
    conn: &Connection,
    id: &str,
    status: &str,
    doc: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE workflows SET status = ?2, doc = ?3 WHERE id = ?1")
        .db()?
        .execute(params![id, status, doc])
        .db()?;
    Ok(())
}

fn load_agents(conn: &Connection, workflow_id: &str) -> Result<Vec<AgentState>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT doc FROM agents WHERE workflow_id = ?1")
        .db()?;
    let docs = stmt
        .query_map([workflow_id], |r| r.get::<_, String>(0))
        .db()?;
    let mut agents = Vec::with_capacity(AgentId::ALL.len());
    for doc in docs {
        agents.push(decode::<AgentState>("agent", &doc.db()?)?);
    }
    agents.sort_by_key(|a| catalogue_position(a.agent));
    Ok(agents)
}

fn save_agent(conn: &Connection, workflow_id: &str, agent: &AgentState) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE agents SET doc = ?3 WHERE workflow_id = ?1 AND agent_id = ?2")
        .db()?
        .execute(params![workflow_id, agent.agent.as_str(), encode(agent)?])
        .db()?;
    Ok(())
}

fn load_results(conn: &Connection, workflow_id: &str) -> Result<Vec<AgentResult>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT doc FROM agent_results WHERE workflow_id = ?1")
        .db()?;
    let docs = stmt
        .query_map([workflow_id], |r| r.get::<_, String>(0))
        .db()?;
    let mut results = Vec::new();
    for doc in docs {
        results.push(decode::<AgentResult>("agent result", &doc.db()?)?);
    }
    results.sort_by_key(|r| catalogue_position(r.agent));
    Ok(results)
}

fn insert_audit(conn: &Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    conn.prepare_cached("INSERT INTO audit (workflow_id, doc) VALUES (?1, ?2)")
        .db()?
        .execute(params![entry.workflow_id, encode(entry)?])
        .db()?;
    Ok(())
}

fn raise_marker(conn: &Connection, marker: Marker, at_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO markers (name, at_ms) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET at_ms = max(at_ms, excluded.at_ms)",
    )
    .db()?
    .execute(params![marker_name(marker), at_ms])
    .db()?;
    Ok(())
}

/// The body of `record_event`, run on the writer inside its savepoint: loads what
/// `domain::record` needs and writes what it decides.
fn record_event_tx(
    conn: &Connection,
    event: &AgentEvent,
    result_doc: Option<&str>,
    attempt: &Attempt,
) -> Result<EventOutcome, StoreError> {
    let Some(mut workflow) = load_workflow(conn, &event.workflow_id)? else {
        let (outcome, audit) = record::unknown_workflow(event, attempt);
        insert_audit(conn, &audit)?;
        return Ok(outcome);
    };

    let fresh = conn
        .prepare_cached(
            "INSERT INTO events (workflow_id, event_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )
        .db()?
        .execute(params![event.workflow_id, event.event_id])
        .db()?;
    if fresh == 0 {
        let (outcome, audit) = record::duplicate(event, attempt);
        insert_audit(conn, &audit)?;
        return Ok(outcome);
    }

    let mut agents = load_agents(conn, &event.workflow_id)?;
    let recording = record::apply(event, attempt, &mut workflow, &mut agents)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    save_agent(conn, &event.workflow_id, &agents[recording.agent])?;
    if let (true, Some(doc)) = (recording.keep_result, result_doc) {
        conn.prepare_cached(
            "INSERT INTO agent_results (workflow_id, agent_id, doc) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
        )
        .db()?
        .execute(params![event.workflow_id, event.agent.as_str(), doc])
        .db()?;
    }
    workflow.version = workflow.version.saturating_add(1);
    save_workflow(conn, &event.workflow_id, &workflow)?;
    for marker in &recording.markers {
        raise_marker(conn, *marker, to_ms(attempt.received_at))?;
    }
    insert_audit(conn, &recording.audit)?;
    Ok(recording.outcome)
}

/// What `update_workflow`'s compare-and-set found.
enum Cas {
    Missing,
    Conflict(Box<Workflow>),
    Saved(Box<Workflow>),
}

// ---- WorkflowStore -------------------------------------------------------------

#[async_trait]
impl WorkflowStore for SqliteStore {
    async fn create_workflow(
        &self,
        workflow: &Workflow,
        agents: &[AgentState],
    ) -> Result<CreateOutcome, StoreError> {
        let id = workflow.id.clone();
        let created_at_ms = to_ms(workflow.created_at);
        let status = workflow.status.as_str();
        let doc = encode(workflow)?;
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
                .db()?
                .execute(params![id, created_at_ms, status, doc])
                .db()?;
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
                .db()?;
            for (agent_id, agent_doc) in &agent_docs {
                stmt.execute(params![id, agent_id, agent_doc]).db()?;
            }
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

    async fn record_event(
        &self,
        event: &AgentEvent,
        attempt: &Attempt,
    ) -> Result<EventOutcome, StoreError> {
        // Encode the (possibly large) result off the writer thread; the writer
        // stores it only if this event is what completes the agent.
        let result_doc = AgentResult::of(event, attempt.received_at)
            .map(|r| encode(&r))
            .transpose()?;
        let event = event.clone();
        let attempt = attempt.clone();
        self.write(move |conn| record_event_tx(conn, &event, result_doc.as_deref(), &attempt))
            .await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.write(move |conn| insert_audit(conn, &entry)).await
    }

    async fn audit_for_workflow(
        &self,
        workflow_id: &str,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let id = workflow_id.to_owned();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT doc FROM audit WHERE workflow_id = ?1 ORDER BY seq LIMIT ?2",
                )
                .db()?;
            let docs = stmt
                .query_map(params![id, sql_limit(limit)], |r| r.get::<_, String>(0))
                .db()?;
            let mut entries = Vec::new();
            for doc in docs {
                entries.push(decode("audit entry", &doc.db()?)?);
            }
            Ok(entries)
        })
        .await
    }

    async fn update_workflow(
        &self,
        id: &str,
        change: &(dyn for<'w> Fn(&'w mut Workflow) -> bool + Send + Sync),
    ) -> Result<Option<Workflow>, StoreError> {
        self.update_workflow_cas(id, change).await
    }

    async fn recent_workflows(&self, limit: usize) -> Result<Vec<Workflow>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT doc FROM workflows ORDER BY created_at_ms DESC, id DESC LIMIT ?1",
                )
                .db()?;
            let docs = stmt
                .query_map([sql_limit(limit)], |r| r.get::<_, String>(0))
                .db()?;
            let mut workflows = Vec::new();
            for doc in docs {
                workflows.push(decode("workflow", &doc.db()?)?);
            }
            Ok(workflows)
        })
        .await
    }

    async fn marker(&self, marker: Marker) -> Result<Option<OffsetDateTime>, StoreError> {
        self.read(move |conn| {
            let at: Option<i64> = conn
                .prepare_cached("SELECT at_ms FROM markers WHERE name = ?1")
                .db()?
                .query_row([marker_name(marker)], |r| r.get(0))
                .optional()
                .db()?;
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
        let id = id.to_owned();
        self.write(move |conn| {
            let mut erased = 0u64;
            for table in ["workflows", "agents", "agent_results", "events"] {
                let column = if table == "workflows" {
                    "id"
                } else {
                    "workflow_id"
                };
                let sql = format!("DELETE FROM {table} WHERE {column} = ?1");
                erased += conn.prepare_cached(&sql).db()?.execute(params![id]).db()? as u64;
            }
            Ok((erased > 0).then_some(erased))
        })
        .await
    }

    async fn append_admin_audit(&self, entry: &AdminAuditEntry) -> Result<(), StoreError> {
        let doc = encode(entry)?;
        self.write(move |conn| {
            conn.prepare_cached("INSERT INTO admin_audit (doc) VALUES (?1)")
                .db()?
                .execute(params![doc])
                .db()?;
            Ok(())
        })
        .await
    }

    async fn admin_audit(&self, limit: usize) -> Result<Vec<AdminAuditEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT doc FROM admin_audit ORDER BY seq DESC LIMIT ?1")
                .db()?;
            let docs = stmt
                .query_map(params![limit], |row| row.get::<_, String>(0))
                .db()?
                .collect::<Result<Vec<_>, _>>()
                .db()?;
            docs.iter()
                .map(|d| decode("admin audit entry", d))
                .collect()
        })
        .await
    }
}

// ---- JobQueue ------------------------------------------------------------------

#[async_trait]
impl JobQueue for SqliteStore {
    async fn enqueue(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        let body = serde_json::to_string(job)
            .map_err(|e| QueueError::Corrupt(format!("encoding a job: {e}")))?;
        let id = uuid::Uuid::new_v4().to_string();
        let visible_at = self.inner.clock.now_ms().saturating_add(duration_ms(delay));
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO jobs (id, visible_at_ms, receive_count, receipt, body)
                 VALUES (?1, ?2, 0, NULL, ?3)",
            )
            .db()?
            .execute(params![id, visible_at, body])
            .db()?;
            Ok(())
        })
        .await
        .map_err(queue_error)
    }

    async fn receive(
        &self,
        max: usize,
        visibility: Duration,
    ) -> Result<Vec<ReceivedJob>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let clock = Arc::clone(&self.inner.clock);
        let hide_for = duration_ms(visibility);
        self.write(move |conn| {
            let now = clock.now_ms();
            let due: Vec<(String, i64, String)> = {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id, receive_count, body FROM jobs WHERE visible_at_ms <= ?1
                         ORDER BY visible_at_ms, rowid LIMIT ?2",
                    )
                    .db()?;
                let rows = stmt
                    .query_map(params![now, sql_limit(max)], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .db()?;
                rows.collect::<rusqlite::Result<_>>().db()?
            };
            let mut update = conn
                .prepare_cached(
                    "UPDATE jobs SET receipt = ?2, receive_count = ?3, visible_at_ms = ?4
                     WHERE id = ?1",
                )
                .db()?;
            let mut received = Vec::with_capacity(due.len());
            for (id, count, body) in due {
                let receipt = format!("{id}.{}", uuid::Uuid::new_v4().simple());
                let receive_count = count.saturating_add(1);
                update
                    .execute(params![
                        id,
                        receipt,
                        receive_count,
                        now.saturating_add(hide_for)
                    ])
                    .db()?;
                match serde_json::from_str::<Job>(&body) {
                    Ok(job) => received.push(ReceivedJob {
                        receipt,
                        job,
                        receive_count: u32::try_from(receive_count).unwrap_or(u32::MAX),
                    }),
                    // An unreadable message must not wedge the queue: it stays hidden
                    // for the visibility timeout like any other, and is reported.
                    Err(e) => tracing::error!(job = %id, error = %e, "unreadable queued job"),
                }
            }
            Ok(received)
        })
        .await
        .map_err(queue_error)
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        // A receipt is `<job id>.<token>`: the delete is a key lookup, and a stale
        // receipt (the job was received again since) matches nothing.
        let Some((id, _)) = receipt.split_once('.') else {
            return Ok(());
        };
        let id = id.to_owned();
        let receipt = receipt.to_owned();
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM jobs WHERE id = ?1 AND receipt = ?2")
                .db()?
                .execute(params![id, receipt])
                .db()?;
            Ok(())
        })
        .await
        .map_err(queue_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::clock::manual::ManualClock;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "osa-sqlite-{name}-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn store(dir: &TempDir) -> SqliteStore {
        let clock = Arc::new(ManualClock::new(OffsetDateTime::UNIX_EPOCH));
        SqliteStore::open(&dir.0.join("osa.db"), clock).unwrap()
    }

    #[tokio::test]
    async fn a_failing_request_rolls_back_only_itself() {
        let dir = TempDir::new("savepoint");
        let store = store(&dir);
        let mut tasks = Vec::new();
        for i in 0..200i64 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                s.write(move |c| {
                    c.execute(
                        "INSERT INTO markers (name, at_ms) VALUES (?1, ?2)",
                        params![format!("m{i}"), i],
                    )
                    .db()?;
                    if i % 3 == 0 {
                        return Err(StoreError::Unavailable("refused".into()));
                    }
                    if i == 100 {
                        panic!("a request that panics");
                    }
                    Ok(i)
                })
                .await
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let r = t.await.unwrap();
            assert_eq!(r.is_ok(), i % 3 != 0 && i != 100, "request {i}: {r:?}");
        }
        let count: i64 = store
            .read(|c| {
                c.query_row("SELECT count(*) FROM markers", [], |r| r.get(0))
                    .db()
            })
            .await
            .unwrap();
        assert_eq!(
            count,
            (0..200).filter(|i| i % 3 != 0 && *i != 100).count() as i64
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn compare_and_set_updates_lose_nothing() {
        let dir = TempDir::new("cas");
        let store = store(&dir);
        let body = serde_json::json!({
            "business_context": {"company_name": "A", "industry": "retail", "goals": ["g"],
                                 "target_audience": "Everyone over eighteen"},
            "optimizely_config": {"project_id": "1",
                                  "workspace_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
            "analysis_preferences": {"analysis_depth": "basic", "focus_areas": ["content"],
                                     "timeline": "30d"}
        });
        let intake = crate::domain::intake::parse_intake(body.to_string().as_bytes()).unwrap();
        let (wf, agents) = Workflow::create(
            &intake,
            "wf-cas".into(),
            "c".into(),
            OffsetDateTime::UNIX_EPOCH,
            1.0,
        );
        store.create_workflow(&wf, &agents).await.unwrap();
        let unchanged = store
            .update_workflow_cas("wf-cas", &|_| false)
            .await
            .unwrap();
        assert_eq!(unchanged, Some(wf.clone()));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let s = store.clone();
                tokio::spawn(async move {
                    s.update_workflow_cas("wf-cas", &|w| {
                        w.trigger.attempts += 1;
                        true
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().unwrap().is_some());
        }
        let stored = store.get_workflow("wf-cas").await.unwrap().unwrap();
        assert_eq!(stored.trigger.attempts, 32);
        assert_eq!(stored.version, 32);
        assert_eq!(
            store.update_workflow_cas("nope", &|_| true).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn reopening_keeps_the_schema_and_its_version() {
        let dir = TempDir::new("reopen");
        let path = dir.0.join("osa.db");
        let clock = Arc::new(ManualClock::new(OffsetDateTime::UNIX_EPOCH));
        drop(SqliteStore::open(&path, clock.clone()).unwrap());
        let store = SqliteStore::open(&path, clock).unwrap();
        let version: i64 = store
            .read(|c| {
                c.pragma_query_value(None, "user_version", |r| r.get(0))
                    .db()
            })
            .await
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = store
            .read(|c| {
                c.pragma_query_value(None, "journal_mode", |r| r.get(0))
                    .db()
            })
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = TempDir::new("newer");
        let path = dir.0.join("osa.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        let clock = Arc::new(ManualClock::new(OffsetDateTime::UNIX_EPOCH));
        assert!(matches!(
            SqliteStore::open(&path, clock),
            Err(StoreError::Unavailable(_))
        ));
    }

    /// Every statement on a request path is a key lookup or an index range: no table
    /// scan and no sort.
    #[test]
    fn no_request_path_scans_a_table() {
        let dir = TempDir::new("plans");
        let conn = open_writer(&dir.0.join("osa.db")).unwrap();
        let statements = [
            "SELECT doc FROM workflows WHERE id = ?1",
            "UPDATE workflows SET status = ?2, doc = ?3 WHERE id = ?1",
            "SELECT doc FROM workflows ORDER BY created_at_ms DESC, id DESC LIMIT ?1",
            "SELECT doc FROM agents WHERE workflow_id = ?1",
            "UPDATE agents SET doc = ?3 WHERE workflow_id = ?1 AND agent_id = ?2",
            "SELECT doc FROM agent_results WHERE workflow_id = ?1",
            "INSERT INTO events (workflow_id, event_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            "SELECT doc FROM audit WHERE workflow_id = ?1 ORDER BY seq LIMIT ?2",
            "SELECT at_ms FROM markers WHERE name = ?1",
            "SELECT id, receive_count, body FROM jobs WHERE visible_at_ms <= ?1
             ORDER BY visible_at_ms, rowid LIMIT ?2",
            "UPDATE jobs SET receipt = ?2, receive_count = ?3, visible_at_ms = ?4 WHERE id = ?1",
            "DELETE FROM jobs WHERE id = ?1 AND receipt = ?2",
        ];
        for sql in statements {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let plan: Vec<String> = stmt
                .query_map(
                    rusqlite::params_from_iter(std::iter::repeat_n(
                        rusqlite::types::Null,
                        stmt_params(sql),
                    )),
                    |r| r.get::<_, String>(3),
                )
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for step in &plan {
                let bare_scan = step.starts_with("SCAN") && !step.contains(" USING ");
                assert!(
                    !bare_scan && !step.contains("TEMP B-TREE"),
                    "{sql}\n  plan: {plan:?}"
                );
            }
        }
    }

    fn stmt_params(sql: &str) -> usize {
        (1..=9).filter(|i| sql.contains(&format!("?{i}"))).count()
    }

    #[tokio::test]
    async fn an_unreadable_job_is_skipped_not_wedging_the_queue() {
        let dir = TempDir::new("poison");
        let store = store(&dir);
        store
            .write(|c| {
                c.execute(
                    "INSERT INTO jobs (id, visible_at_ms, body) VALUES ('bad', -1, 'not json')",
                    [],
                )
                .db()
            })
            .await
            .unwrap();
        let job = Job::TriggerOpal {
            workflow_id: "w".into(),
        };
        store.enqueue(&job, Duration::ZERO).await.unwrap();
        let got = store.receive(10, Duration::from_secs(30)).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].job, job);
    }
}
