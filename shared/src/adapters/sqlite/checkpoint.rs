//! Checkpoints off the writer thread.
//!
//! SQLite's automatic checkpoint runs in the connection that commits: every
//! thousand log pages the writer would stop to copy the log into the database
//! file and fsync it, and every write queued behind it would wait (the tail of
//! the webhook latencies). Here the writer only notes how long the log has
//! grown; a thread of its own, on its own connection, copies the log back while
//! the writer goes on appending.

use std::ffi::c_int;
use std::path::Path;
use std::sync::mpsc;

use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;

use super::{BUSY_TIMEOUT, SqliteResult, SqliteStore};
use crate::ports::StoreError;

impl SqliteStore {
    /// Copies the whole log into the database file and empties it, after the
    /// writes in progress. A process that stops calls it last, so its next
    /// start has no log to read.
    pub fn empty_log(path: &Path) -> Result<(), StoreError> {
        let conn = open_checkpointer(path)?;
        let (pages_left, _) = conn
            .wal_checkpoint_v2(None::<&str>, CheckpointMode::TRUNCATE)
            .or_unavailable()?;
        match pages_left {
            0 => Ok(()),
            n => Err(StoreError::Unavailable(format!(
                "{n} log pages are still in use"
            ))),
        }
    }
}

/// Log pages after which the checkpointer is woken (SQLite's own automatic
/// threshold; 4,000 measured the same under load, with a log four times longer).
const WAKE_AT_PAGES: c_int = 1000;

/// Log pages after which the writer checkpoints the rest itself. The log
/// starts over only once all of it is in the database file, which a checkpoint
/// running beside a writer that never pauses never quite reaches; this bounds
/// the log (~32 MB), and leaves the writer little to copy.
const WRITER_CHECKPOINT_AT_PAGES: c_int = 8000;

/// Hands `writer`'s checkpoints to a thread of their own, which stops when
/// `writer` is closed.
pub(super) fn hand_off(writer: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let checkpointer = open_checkpointer(path)?;
    // One wake-up pending at most: a busy writer's notes fold into one.
    let (wake, woken) = mpsc::sync_channel::<()>(1);
    std::thread::Builder::new()
        .name("osa-sqlite-checkpoint".into())
        .spawn(move || checkpoint_loop(&checkpointer, &woken))
        .map_err(|e| StoreError::Unavailable(format!("could not start the checkpointer: {e}")))?;
    // Replaces SQLite's automatic checkpoint (itself a log hook).
    writer
        .wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
            if pages >= WRITER_CHECKPOINT_AT_PAGES {
                // The commit stands whatever this answers. Busy means the
                // checkpointer is at it: the next commit tries again.
                if let Err(e) = wal.checkpoint() {
                    tracing::debug!(error = %e, pages, "sqlite checkpoint on the writer deferred");
                }
            } else if pages >= WAKE_AT_PAGES {
                let _ = wake.try_send(());
            }
            Ok(())
        }))
        .or_unavailable()
}

fn open_checkpointer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).or_unavailable()?;
    conn.busy_timeout(BUSY_TIMEOUT).or_unavailable()?;
    // A connection learns that the file is in WAL mode when it first reads it;
    // until then a checkpoint does nothing.
    conn.pragma_query_value(None, "journal_mode", |r| r.get::<_, String>(0))
        .or_unavailable()?;
    Ok(conn)
}

fn checkpoint_loop(conn: &Connection, woken: &mpsc::Receiver<()>) {
    // Ends when the writer's connection, which holds the sender, is closed.
    while woken.recv().is_ok() {
        if let Err(e) = conn.wal_checkpoint_v2(None::<&str>, Default::default()) {
            tracing::warn!(error = %e, "sqlite checkpoint failed; the log is copied back later");
        }
    }
}
