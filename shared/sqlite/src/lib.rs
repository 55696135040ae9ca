//! The embedded adapter: one SQLite file holds the workflow store, the job
//! queue, the deliveries and the operations state. This module owns the file:
//! its schema, the writer thread and the readers; each port's implementation is
//! a child module (`workflows`, `queue`, `deliveries`, `metrics`).
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
//! Checkpoints (copying the log back into the database file) run on a thread of
//! their own (`checkpoint`), not in the writer's commits.
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
use time::OffsetDateTime;
use tokio::sync::{Semaphore, broadcast, oneshot};

use osa_app::ports::{
    AdminAuditEntry, AgentResult, Attempt, AuditEntry, Clock, CreateOutcome, EventOutcome, Job,
    JobQueue, Marker, QueueError, ReceivedJob, StoreChange, StoreChanges, StoreError, WorkflowPage,
    WorkflowPosition, WorkflowQuery, WorkflowStore,
};
use osa_domain::AgentId;
use osa_domain::event::AgentEvent;
use osa_domain::workflow::{AgentState, Workflow};

/// The schema this build writes, kept in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 3;

/// Most write requests committed together in one transaction.
pub const MAX_BATCH: usize = 512;

/// Read-only connections kept open (and reads allowed at once).
const MAX_READERS: usize = 4;
/// Changes a slow stream may fall behind by before it re-reads (it loses none:
/// the workflow's history is in the store).
const CHANGE_FEED_CAPACITY: usize = 1024;

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
CREATE INDEX IF NOT EXISTS workflows_unfinished ON workflows (created_at_ms, id)
    WHERE status IN ('pending', 'running', 'credentials_invalid');

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
    run         INTEGER NOT NULL DEFAULT 0,
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

mod checkpoint;
mod deliveries;
pub mod log_bus;
mod metrics;
mod outbox;
mod queue;
mod workflows;

/// Every stateful port over one embedded store; domain events to `events`
/// (the local runtime's [`log_bus::LogBus`], or a fan-out of it).
pub fn adapters(
    store: std::sync::Arc<SqliteStore>,
    events: std::sync::Arc<dyn osa_app::ports::EventBus>,
) -> osa_app::bootstrap::Adapters {
    osa_app::bootstrap::Adapters {
        changes: Some(store.clone()),
        secrets: None,
        // One process owns the file: the in-process rate limiter is exact.
        leases: None,
        audit: store.clone(),
        activity: store.clone(),
        store: store.clone(),
        queue: store.clone(),
        metrics: store.clone(),
        deliveries: store.clone(),
        outbox: store.clone(),
        ops: store,
        events,
    }
}

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
    /// Workflow writes as they commit, for this process's live streams.
    changed: broadcast::Sender<StoreChange>,
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
        let mut conn = open_writer(path)?;
        checkpoint::hand_off(&mut conn, path)?;
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
                changed: broadcast::channel(CHANGE_FEED_CAPACITY).0,
            }),
        })
    }
    /// Tells this process's live streams of a write that committed.
    pub(crate) fn tell(&self, change: impl FnOnce() -> StoreChange) {
        // No receiver, no stream: nothing to tell (and nothing to copy).
        if self.inner.changed.receiver_count() > 0 {
            let _ = self.inner.changed.send(change());
        }
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
    let conn = Connection::open(path).or_unavailable()?;
    conn.busy_timeout(BUSY_TIMEOUT).or_unavailable()?;
    conn.set_prepared_statement_cache_capacity(64);
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))
        .or_unavailable()?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "could not switch {} to WAL (journal_mode is {mode})",
            path.display()
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .or_unavailable()?;
    migrate(&conn)?;
    Ok(conn)
}

/// The schema version the database was written with.
fn schema_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .or_unavailable()
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version = schema_version(conn)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Unavailable(format!(
            "the database has schema version {version}, newer than this build's {SCHEMA_VERSION}"
        )));
    }
    // Version 1 databases lack the deliveries' due column and the results'
    // run (version 2).
    let upgrade = if version == 1 {
        "ALTER TABLE deliveries ADD COLUMN due_at_ms INTEGER;
         ALTER TABLE agent_results ADD COLUMN run INTEGER NOT NULL DEFAULT 0;"
    } else {
        ""
    };
    // Version 2 databases lack the outbox and the once-keys (version 3),
    // which the schema's `IF NOT EXISTS` creates.
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;\n{SCHEMA}\n{}\n{}\n{}\n{upgrade}\n{}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;",
        metrics::SCHEMA,
        outbox::SCHEMA,
        deliveries::SCHEMA,
        deliveries::DUE_INDEX
    ))
    .map_err(|e| {
        rollback(conn);
        StoreError::Unavailable(format!("schema setup failed: {e}"))
    })
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).or_unavailable()?;
    conn.busy_timeout(BUSY_TIMEOUT).or_unavailable()?;
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
    /// Why the request failed, once it has.
    fn failure(&self) -> Option<String>;
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

    fn failure(&self) -> Option<String> {
        match &self.result {
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        }
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

fn run_one(conn: &Connection, op: &mut dyn WriteOp) -> Result<(), String> {
    let sql = |sql| exec(conn, sql).map_err(|e| e.to_string());
    sql("SAVEPOINT request")?;
    if !op.run(conn) {
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (it may on SQLITE_FULL or
            // SQLITE_IOERR): the request's own error says why.
            return Err(op
                .failure()
                .unwrap_or_else(|| "SQLite rolled the transaction back".into()));
        }
        sql("ROLLBACK TO request")?;
    }
    sql("RELEASE request")
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

use osa_app::codec::{catalogue_position, decode, encode, from_ms, marker_name, to_ms};

// ---- encoding ----------------------------------------------------------------

/// `rusqlite` failures become `StoreError::Unavailable`.
pub(crate) trait SqliteResult<T> {
    fn or_unavailable(self) -> Result<T, StoreError>;
}

impl<T> SqliteResult<T> for rusqlite::Result<T> {
    fn or_unavailable(self) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Unavailable(format!("sqlite: {e}")))
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The `doc` column of every row `sql` selects, in its order.
fn query_docs(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).or_unavailable()?;
    let docs = stmt
        .query_map(params, |r| r.get::<_, String>(0))
        .or_unavailable()?;
    docs.map(|doc| doc.or_unavailable()).collect()
}

fn queue_error(e: StoreError) -> QueueError {
    match e {
        StoreError::Unavailable(m) => QueueError::Unavailable(m),
        StoreError::Corrupt(m) => QueueError::Corrupt(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use osa_testkit::ManualClock;

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

    /// The writer only appends to the log; the checkpointer copies it into the
    /// database file. Below the writer's own threshold, only the checkpointer
    /// can have grown the file.
    #[tokio::test]
    async fn the_log_is_copied_back_by_the_checkpointer_not_the_writer() {
        let dir = TempDir::new("checkpoint");
        let store = store(&dir);
        let db = dir.0.join("osa.db");
        let before = std::fs::metadata(&db).unwrap().len();
        // ~2,450 pages of log: two wake-ups of the checkpointer, short of the
        // writer's bound.
        for _ in 0..10 {
            store
                .write(|c| {
                    c.execute_batch("CREATE TABLE IF NOT EXISTS filler (b BLOB)")
                        .or_unavailable()?;
                    c.execute("INSERT INTO filler (b) VALUES (zeroblob(1000000))", [])
                        .or_unavailable()
                })
                .await
                .unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        // At least the ~2,200 pages written by the second wake-up.
        while std::fs::metadata(&db).unwrap().len() < before + 8_000_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "the checkpointer never copied the log back"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_stopping_process_leaves_no_log_to_read() {
        let dir = TempDir::new("empty-log");
        let store = store(&dir);
        store
            .write(|c| {
                c.execute("INSERT INTO markers (name, at_ms) VALUES ('m', 1)", [])
                    .or_unavailable()
            })
            .await
            .unwrap();
        let log = dir.0.join("osa.db-wal");
        assert!(std::fs::metadata(&log).unwrap().len() > 0);
        SqliteStore::empty_log(store.path()).unwrap();
        assert_eq!(std::fs::metadata(&log).unwrap().len(), 0);
        let kept: i64 = store
            .read(|c| {
                c.query_row("SELECT at_ms FROM markers WHERE name = 'm'", [], |r| {
                    r.get(0)
                })
                .or_unavailable()
            })
            .await
            .unwrap();
        assert_eq!(kept, 1);
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
                    .or_unavailable()?;
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
                    .or_unavailable()
            })
            .await
            .unwrap();
        assert_eq!(
            count,
            (0..200).filter(|i| i % 3 != 0 && *i != 100).count() as i64
        );
    }

    /// `SQLITE_FULL` (the database may not grow: `max_page_count` on the writer's
    /// connection, as a full disk would): each write that needs room is refused
    /// as unavailable and stores nothing, the writer thread carries on, the file
    /// stays sound, and writes succeed again once there is room.
    #[tokio::test]
    async fn a_full_database_refuses_writes_and_recovers() {
        let dir = TempDir::new("full");
        let store = store(&dir);
        let limit = |pages: Option<i64>| {
            store.write(move |c| {
                let now: i64 = c
                    .pragma_query_value(None, "page_count", |r| r.get(0))
                    .or_unavailable()?;
                c.pragma_update(None, "max_page_count", pages.unwrap_or(now))
                    .or_unavailable()
            })
        };
        limit(None).await.unwrap();
        let insert = |i: usize| {
            store.write(move |c| {
                c.execute(
                    "INSERT INTO markers (name, at_ms) VALUES (?1, ?2)",
                    params![format!("{i:04}{}", "x".repeat(3000)), i as i64],
                )
                .or_unavailable()
            })
        };
        let (mut stored, mut refused) = (0, 0);
        for i in 0..50 {
            match insert(i).await {
                Ok(_) => stored += 1,
                Err(StoreError::Unavailable(e)) => {
                    assert!(e.contains("full"), "{e}");
                    refused += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(refused > 40, "{stored} stored, {refused} refused");
        let count = || {
            store.read(|c| {
                c.query_row("SELECT count(*) FROM markers", [], |r| r.get::<_, i64>(0))
                    .or_unavailable()
            })
        };
        assert_eq!(count().await.unwrap(), stored);

        limit(Some(1_000_000)).await.unwrap();
        insert(1000).await.expect("room again");
        assert_eq!(count().await.unwrap(), stored + 1);
        let check: String = store
            .read(|c| {
                c.query_row("PRAGMA integrity_check", [], |r| r.get(0))
                    .or_unavailable()
            })
            .await
            .unwrap();
        assert_eq!(check, "ok");
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
        let intake = osa_domain::intake::parse_intake(body.to_string().as_bytes()).unwrap();
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
                        let attempts = w.trigger().attempts + 1;
                        w.note_trigger_retry(attempts, "503", OffsetDateTime::UNIX_EPOCH)
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap().unwrap().is_some());
        }
        let stored = store.get_workflow("wf-cas").await.unwrap().unwrap();
        assert_eq!(stored.trigger().attempts, 32);
        assert_eq!(stored.version(), 32);
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
        let version = store.read(schema_version).await.unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = store
            .read(|c| {
                c.pragma_query_value(None, "journal_mode", |r| r.get(0))
                    .or_unavailable()
            })
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn a_version_1_database_is_upgraded_in_place() {
        let dir = TempDir::new("v1");
        let path = dir.0.join("osa.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE deliveries (
                id TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL,
                dead_lettered_at_ms INTEGER, doc TEXT NOT NULL);
             CREATE TABLE agent_results (
                workflow_id TEXT NOT NULL, agent_id TEXT NOT NULL, doc TEXT NOT NULL,
                PRIMARY KEY (workflow_id, agent_id));
             PRAGMA user_version = 1;",
        )
        .unwrap();
        drop(conn);
        let clock = Arc::new(ManualClock::new(OffsetDateTime::UNIX_EPOCH));
        let store = SqliteStore::open(&path, clock).unwrap();
        let version = store.read(schema_version).await.unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let overdue = osa_app::ports::DeliveryStore::overdue(
            &store,
            OffsetDateTime::UNIX_EPOCH + time::Duration::days(1),
            10,
        )
        .await;
        assert_eq!(
            overdue.map(|d| d.len()).ok(),
            Some(0),
            "the new column is there"
        );
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
            workflows::LIST_UNFINISHED,
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
                .or_unavailable()
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
